import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { notifyActions } from '../../core/notify/actions';
import { NotifyPipeline } from '../../core/notify/pipeline';
import { createNotifiers } from '../../core/notify/notifiers';
import { deliveryDefaultsOf } from '../../core/notify/delivery-keywords';
import { isAlivedError } from '../../core/errors';
import type { ConfigModel } from '../../core/config/model';
import type { NotifyEvent } from '../../core/plugin/events';
import { spawn } from 'node:child_process';
import { compileText, noErrors, PROJECT_ROOT, tmpDir } from '../helpers/config';
import { startApiStub } from '../cli/api-stub';
import { memoryLogger } from '../helpers/log';
import { waitFor } from '../helpers/services';
import { freePort, httpReceiver, smtpReceiver, type HttpReceiver, type SmtpReceiver } from './receivers';

/**
 * The daemon's notification actions (DaemonActions: `alived notify test`,
 * `alived outbox`) on a real pipeline built from a config, with the
 * built-in notifiers delivering to a real SMTP server and real HTTP
 * endpoints on loopback.
 */

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function smtp(): Promise<SmtpReceiver> {
  const r = await smtpReceiver();
  closers.push(() => r.close());
  return r;
}

async function http(answer: HttpReceiver['answer'] = 200): Promise<HttpReceiver> {
  const r = await httpReceiver(answer);
  closers.push(() => r.close());
  return r;
}

function mailDefs(port: number): string {
  return `global_defs {
  router_id LB1
  notification_email {
    oncall@example.com
  }
  notification_email_vrrp {
    netops@example.org
  }
  notification_email_from keepalived@lb1.example.com
  smtp_server 127.0.0.1 ${port}
  smtp_connect_timeout 3
}
`;
}

const INSTANCE = `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 150
  virtual_ipaddress {
    192.0.2.10/24
  }
  notify_master "/bin/true"
}
`;

async function pipeline(conf: string, opts: { stateDir?: string; delivery?: string } = {}) {
  const r = await compileText(`notify_delivery {\n${opts.delivery ?? '  retry_initial_delay 0.05\n  retry_max_delay 0.2\n'}  coalesce_limit 0\n}\n${conf}`);
  noErrors(r);
  const { log, records } = memoryLogger('info');
  const p = new NotifyPipeline({ log, ...(opts.stateDir ? { stateDir: opts.stateDir } : {}) });
  const model = r.model as ConfigModel;
  p.setDefaults(deliveryDefaultsOf(model.extensions));
  p.setSinks(createNotifiers(model, r.pluginHost, log));
  closers.push(async () => {
    await p.stop({ drainMs: 0 });
    await r.pluginHost.close();
  });
  return { p, records, actions: notifyActions(p, { host: 'lb1.test' }) };
}

const master = (to: 'MASTER' | 'BACKUP' = 'MASTER', time = Date.now()): NotifyEvent => ({
  type: 'vrrp',
  kind: 'instance',
  name: 'VI_1',
  from: to === 'MASTER' ? 'BACKUP' : 'MASTER',
  to,
  priority: 150,
  reason: 'master down timer',
  time,
});

function outboxFiles(stateDir: string): string[] {
  const box = path.join(stateDir, 'notify', 'outbox');
  if (!fs.existsSync(box)) return [];
  return fs.readdirSync(box).flatMap((d) => fs.readdirSync(path.join(box, d)).map((f) => `${d}/${f}`));
}

test('notify test: the mail arrives, each webhook gets a test payload, scripts are skipped and say why; nothing is kept or counted', async () => {
  const mail = await smtp();
  const json = await http();
  const slack = await http();
  const stateDir = tmpDir('alived-actions-');
  const { p, actions } = await pipeline(
    `${mailDefs(mail.port)}
webhook ops {
  url ${json.url}
}
webhook chat {
  url ${slack.url}
  format slack
  events quorum
}
${INSTANCE}`,
    { stateDir },
  );
  const results = await actions.notifyTest();
  const byId = Object.fromEntries(results.map((r) => [r.id, r]));
  assert.deepEqual(Object.keys(byId).sort(), ['mail:keepalived', 'script:notify', 'webhook:chat', 'webhook:ops']);
  assert.equal(byId['mail:keepalived']!.ok, true, byId['mail:keepalived']!.error);
  assert.equal(byId['webhook:ops']!.ok, true, byId['webhook:ops']!.error);
  assert.equal(byId['webhook:chat']!.ok, true, 'a test goes to a webhook whatever its events');
  assert.deepEqual(
    { ...byId['script:notify'], ms: 0 },
    {
      id: 'script:notify',
      ok: false,
      ms: 0,
      skipped: true,
      error: "not delivered: notify scripts and FIFOs get keepalived's arguments only, and there is no test notification among them",
    },
  );
  for (const r of results) assert.ok(r.ms >= 0 && r.ms < 5000, `${r.id}: ${r.ms} ms`);

  await waitFor(() => mail.mails.length === 1, 5000, 'the test mail');
  const m = mail.mails[0]!;
  assert.equal(m.headers.subject, `[alived] test notification from ${os.hostname()}`);
  assert.deepEqual(m.to.sort(), ['netops@example.org', 'oncall@example.com'], 'every recipient of every kind, once');
  assert.match(m.body, /^test notification from alived \d+\.\d+\.\d+ on lb1\.test, sent with 'alived notify test'/);

  assert.equal(json.requests.length, 1);
  const body = JSON.parse(json.requests[0]!.body) as Record<string, unknown>;
  assert.equal(body.kind, 'test');
  assert.equal(body.sequence, 0);
  assert.equal(body.new_state, 'test');
  assert.deepEqual(body.subject, { type: 'daemon', name: 'alived' });
  assert.match(String(body.summary), /^\[LB1\] test notification from alived/);
  assert.equal(json.requests[0]!.headers['x-alived-event'], 'test');
  const s = JSON.parse(slack.requests[0]!.body) as { text: string; blocks: Array<{ text?: { text: string } }> };
  assert.match(s.text, /test notification/);
  assert.match(s.blocks[0]!.text!.text, /^:white_check_mark: \*\[LB1\] alived\*: test notification from alived/);

  // not an event: no counter moved, nothing in the outbox
  for (const n of p.status().notifiers) assert.deepEqual([n.id, n.accepted, n.sent, n.failed, n.pending], [n.id, 0, 0, 0, 0]);
  assert.deepEqual(outboxFiles(stateDir), []);
  assert.deepEqual(actions.outbox(), []);
});

test('notify test NAME: an id, a name or a kind picks the notifiers; an unknown one is ALIVED_API_NOT_FOUND naming those there are', async () => {
  const mail = await smtp();
  const json = await http();
  const { actions } = await pipeline(`${mailDefs(mail.port)}\nwebhook ops {\n  url ${json.url}\n}\n`);
  assert.deepEqual(
    (await actions.notifyTest('mail')).map((r) => [r.id, r.ok]),
    [['mail:keepalived', true]],
  );
  assert.deepEqual(
    (await actions.notifyTest('ops')).map((r) => r.id),
    ['webhook:ops'],
  );
  assert.deepEqual(
    (await actions.notifyTest('webhook:ops')).map((r) => r.id),
    ['webhook:ops'],
  );
  await assert.rejects(
    actions.notifyTest('pager'),
    (e) => isAlivedError(e, 'ALIVED_API_NOT_FOUND') && /no notifier 'pager'; the notifiers are: mail:keepalived, webhook:ops/.test(e.message),
  );
  assert.equal(json.requests.length, 2);
});

test('notify test with the SMTP server down: ok false with the error, within the attempt timeout; no retry follows', async () => {
  const port = await freePort();
  const { actions, p } = await pipeline(mailDefs(port));
  const t0 = Date.now();
  const [r] = await actions.notifyTest();
  assert.equal(r!.id, 'mail:keepalived');
  assert.equal(r!.ok, false);
  assert.match(r!.error!, new RegExp(`SMTP server 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  assert.ok(Date.now() - t0 < 7000);
  assert.equal(p.status().notifiers[0]!.pending, 0);
});

test("outbox: a failing webhook's event is listed with its attempts and last error; retry now delivers it at once; drop removes one for good, from disk too", async () => {
  const hook = await http(503);
  const stateDir = tmpDir('alived-actions-');
  // a long backoff: only a retry on request can deliver within the test
  const { p, actions, records } = await pipeline(`webhook ops {\n  url ${hook.url}\n}\n`, {
    stateDir,
    delivery: '  retry_initial_delay 60\n  retry_max_delay 60\n',
  });
  p.publish(master());
  await waitFor(() => actions.outbox()[0]?.attempts === 1 && actions.outbox()[0]?.lastError !== null, 5000, 'a failed first attempt');
  const [item] = actions.outbox();
  assert.equal(item!.notifier, 'webhook:ops');
  assert.match(item!.id, /^[0-9a-f-]{36}:webhook:ops$/);
  assert.equal(item!.summary, 'VRRP instance VI_1: BACKUP -> MASTER (priority 150)');
  assert.match(item!.lastError!, /HTTP 503/);
  assert.equal(outboxFiles(stateDir).length, 1);

  hook.answer = 200;
  assert.equal(actions.outboxRetry(item!.id.slice(0, 8)), 1);
  await waitFor(() => hook.requests.length === 2, 5000, 'the retry on request');
  await waitFor(() => actions.outbox().length === 0 && outboxFiles(stateDir).length === 0, 5000, 'the outbox empty');
  assert.equal(actions.outboxRetry(), 0, 'nothing left to retry');
  assert.throws(
    () => actions.outboxRetry('ffffffff'),
    (e) => isAlivedError(e, 'ALIVED_API_NOT_FOUND'),
  );

  hook.answer = 503;
  p.publish(master('BACKUP'));
  p.publish(master('MASTER', Date.now() + 1));
  await waitFor(() => actions.outbox().length === 2 && actions.outbox()[0]!.attempts === 1, 5000, 'two waiting, the first tried');
  const [first, second] = actions.outbox();
  assert.equal(await actions.outboxDrop('nope'), false);
  // the first, waiting for its next attempt: dropped, and the second goes now
  assert.equal(await actions.outboxDrop(first!.id), true);
  await waitFor(() => actions.outbox().length === 1 && actions.outbox()[0]!.attempts === 1, 5000, 'the second tried');
  assert.equal(actions.outbox()[0]!.id, second!.id);
  assert.equal(outboxFiles(stateDir).length, 1);
  assert.ok(records.some((r) => /notification #\d+ dropped on request after 1 attempt: VRRP instance VI_1: MASTER -> BACKUP/.test(r.msg)));
  assert.equal(await actions.outboxDrop(second!.id), true);
  assert.deepEqual(actions.outbox(), []);
  assert.deepEqual(outboxFiles(stateDir), []);
  const seen = hook.requests.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(hook.requests.length, seen, 'a dropped event is not tried again');
});

test('drop of an event being delivered aborts its attempt; the source goes on with its next event', async () => {
  const hook = await http((n) => (n === 1 ? 'hang' : 200));
  const { p, actions } = await pipeline(`webhook ops {\n  url ${hook.url}\n  timeout 30\n}\n`);
  p.publish(master());
  p.publish(master('BACKUP', Date.now() + 1));
  await waitFor(() => hook.requests.length === 1, 5000, 'the first POST (it hangs)');
  const [first] = actions.outbox();
  assert.equal(await actions.outboxDrop(first!.id), true);
  await waitFor(() => hook.requests.length === 2, 5000, 'the next event');
  await waitFor(() => actions.outbox().length === 0, 5000, 'all done');
  assert.equal(JSON.parse(hook.requests[1]!.body).new_state, 'BACKUP');
});

test("through the alived command: notify test mail delivers a real mail; outbox lists, and drop --yes removes, the daemon's entries", async () => {
  const mail = await smtp();
  const hook = await http(503);
  const stateDir = tmpDir('alived-actions-');
  const { p, actions } = await pipeline(`${mailDefs(mail.port)}\nwebhook ops {\n  url ${hook.url}\n}\n`, {
    stateDir,
    delivery: '  retry_initial_delay 60\n  retry_max_delay 60\n',
  });
  const api = await startApiStub({ actions });
  closers.push(() => api.close());
  const bin = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
  // the CLI is a process of its own, run asynchronously: this process's event loop answers it
  const alived = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const c = spawn(process.execPath, [bin, ...args, '--socket', api.socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const t = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Error(`alived ${args.join(' ')}: no exit within 15 s`));
      }, 15_000);
      c.on('close', (code) => {
        clearTimeout(t);
        resolve({ code, stdout, stderr });
      });
    });
  const t = await alived('notify', 'test', 'mail');
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^ok +mail:keepalived: delivered in \d+ms$/m);
  await waitFor(() => mail.mails.length === 1, 5000, 'the mail');
  assert.equal(mail.mails[0]!.headers.subject, `[alived] test notification from ${os.hostname()}`);

  p.publish(master());
  await waitFor(() => actions.outbox()[0]?.attempts === 1 && actions.outbox()[0]?.lastError !== null, 5000, 'a failed attempt');
  const list = await alived('outbox');
  assert.equal(list.code, 0, list.stderr);
  const id = actions.outbox()[0]!.id;
  assert.ok(list.stdout.includes(id), list.stdout);
  assert.match(list.stdout, /VRRP instance VI_1: BACKUP -> MASTER \(priority 150\) +last error: POST webhook ops .*HTTP 503/);
  const drop = await alived('outbox', 'drop', id.slice(0, 8), '--yes');
  assert.equal(drop.code, 0, drop.stderr);
  assert.equal(drop.stdout, `dropped ${id}\n`);
  assert.deepEqual(actions.outbox(), []);
  assert.deepEqual(outboxFiles(stateDir), []);
});
