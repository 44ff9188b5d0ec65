import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NotifyPipeline } from '../../core/notify/pipeline';
import { createNotifiers } from '../../core/notify/notifiers';
import { deliveryDefaultsOf } from '../../core/notify/delivery-keywords';
import type { NotifyEvent } from '../../core/plugin/events';
import type { ConfigModel } from '../../core/config/model';
import { compileText, noErrors, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import { waitFor } from '../helpers/lab';
import { freePort, httpReceiver, smtpReceiver, type HttpReceiver } from '../notify/receivers';

/**
 * notify-webhook against real HTTP receivers (node:http on loopback): the
 * JSON schema with a valid HMAC-SHA256 signature, Slack and Teams bodies,
 * event filters, retries on 5xx and none on 4xx, and a receiver that hangs
 * delaying neither mail nor another webhook.
 */

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function receiver(answer: HttpReceiver['answer'] = 200): Promise<HttpReceiver> {
  const r = await httpReceiver(answer);
  closers.push(() => r.close());
  return r;
}

async function pipeline(conf: string) {
  const r = await compileText(`notify_delivery {\n  retry_initial_delay 0.05\n  retry_max_delay 0.2\n  coalesce_limit 0\n}\n${conf}`);
  noErrors(r);
  const { log, records } = memoryLogger('info');
  const p = new NotifyPipeline({ log });
  const model = r.model as ConfigModel;
  p.setDefaults(deliveryDefaultsOf(model.extensions));
  p.setSinks(createNotifiers(model, r.pluginHost, log));
  closers.push(async () => {
    await p.stop({ drainMs: 0 });
    await r.pluginHost.close();
  });
  return { p, records, compiled: r };
}

const t = Date.UTC(2024, 4, 1, 12, 0, 0);
const master: NotifyEvent = { type: 'vrrp', kind: 'instance', name: 'VI_1', from: 'BACKUP', to: 'MASTER', priority: 150, reason: 'master down timer', time: t };
const rsDown: NotifyEvent = {
  type: 'real-server',
  virtualServer: '[192.0.2.10]:tcp:80',
  realServer: { address: '192.0.2.21', port: 80, protocol: 'tcp' },
  up: false,
  weight: 1,
  reason: 'TCP_CHECK failed',
  time: t,
};
const quorum: NotifyEvent = { type: 'quorum', virtualServer: '[192.0.2.10]:tcp:80', up: false, alive: 0, quorum: 1, time: t };

test('JSON: the documented schema, with Idempotency-Key and a valid HMAC-SHA256 signature of the body', async () => {
  const hook = await receiver();
  const dir = tmpDir('alived-webhook-');
  fs.writeFileSync(path.join(dir, 'secret'), 'k3y-for-hmac\n', { mode: 0o600 });
  const { p, records } = await pipeline(
    `global_defs {\n  router_id LB1\n}\nwebhook ops {\n  url ${hook.url}?token=abc\n  secret_file ${dir}/secret\n  header Authorization "Bearer tok-123"\n}\n`,
  );
  p.publish(master);
  p.publish(rsDown);
  await waitFor('2 requests', () => (hook.requests.length === 2 ? true : undefined), 5000);
  const req = hook.requests.find((r) => r.headers['x-alived-event'] === 'vrrp')!;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/hook?token=abc');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers.authorization, 'Bearer tok-123');
  const expected = `sha256=${createHmac('sha256', 'k3y-for-hmac').update(req.body).digest('hex')}`;
  assert.equal(req.headers['x-alived-signature'], expected);
  const body = JSON.parse(req.body);
  assert.equal(req.headers['idempotency-key'], body.id);
  assert.equal(req.headers['x-alived-sequence'], String(body.sequence));
  assert.deepEqual(
    { ...body, id: '<id>', sequence: 0, accepted_at: '<t>' },
    {
      schema: 'alived.notify/v1',
      id: '<id>',
      sequence: 0,
      kind: 'vrrp',
      time: '2024-05-01T12:00:00.000Z',
      accepted_at: '<t>',
      attempt: 1,
      host: os.hostname(),
      router_id: 'LB1',
      source: 'vrrp:instance:VI_1',
      subject: { type: 'instance', name: 'VI_1' },
      old_state: 'BACKUP',
      new_state: 'MASTER',
      priority: 150,
      reason: 'master down timer',
      summary: '[LB1] VRRP instance VI_1: BACKUP -> MASTER (priority 150)',
      details: {},
    },
  );
  assert.match(body.id, /^[0-9a-f-]{36}$/);
  const rs = JSON.parse(hook.requests.find((r) => r.headers['x-alived-event'] === 'real-server')!.body);
  assert.deepEqual(rs.subject, { type: 'real_server', name: '[192.0.2.21]:tcp:80', virtual_server: '[192.0.2.10]:tcp:80', real_server: '[192.0.2.21]:tcp:80' });
  assert.equal(rs.new_state, 'DOWN');
  assert.equal(rs.old_state, 'UP');
  assert.deepEqual(rs.details, { weight: 1, address: '192.0.2.21', port: 80, protocol: 'tcp' });
  const logged = JSON.stringify(records);
  assert.ok(
    !logged.includes('tok-123') && !logged.includes('k3y-for-hmac') && !logged.includes('token=abc') && !logged.includes('/hook'),
    'no secret in the log, nor the path of the URL',
  );
});

test('events filter; Slack and Teams render a readable message', async () => {
  const slack = await receiver();
  const teams = await receiver();
  const { p } = await pipeline(
    `webhook chat {\n  url ${slack.url}\n  format slack\n  events vrrp quorum\n}\nwebhook teams {\n  url ${teams.url}\n  format teams\n  events checker\n}\n`,
  );
  p.publish(master);
  p.publish(rsDown);
  p.publish(quorum);
  await waitFor('3 requests', () => (slack.requests.length === 2 && teams.requests.length === 1 ? true : undefined), 5000);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(slack.requests.length, 2);
  const s = JSON.parse(slack.requests[0]!.body);
  assert.equal(s.text, `[${os.hostname()}] VRRP instance VI_1: BACKUP -> MASTER (priority 150)`);
  assert.equal(s.blocks[0].text.text, `:large_green_circle: *[${os.hostname()}] VRRP instance VI_1*: BACKUP → *MASTER* (priority 150)`);
  const q = JSON.parse(slack.requests[1]!.body);
  assert.match(q.blocks[0].text.text, /^:red_circle: \*\[.*\] Virtual server \[192\.0\.2\.10\]:tcp:80\*: UP → \*DOWN\*$/);
  const m = JSON.parse(teams.requests[0]!.body);
  assert.equal(m['@type'], 'MessageCard');
  assert.equal(m.title, `[${os.hostname()}] Real server [192.0.2.21]:tcp:80 of [192.0.2.10]:tcp:80`);
  assert.equal(m.themeColor, 'D00000');
  assert.deepEqual(m.sections[0].facts.slice(0, 2), [
    { name: 'State', value: 'UP → DOWN' },
    { name: 'Reason', value: 'TCP_CHECK failed' },
  ]);
});

test('503 is retried with the same idempotency key; 404 fails for good', async () => {
  const flaky = await receiver((n) => (n < 3 ? 503 : 200));
  const gone = await receiver(404);
  const { p, records } = await pipeline(`webhook flaky {\n  url ${flaky.url}\n}\nwebhook gone {\n  url ${gone.url}\n}\n`);
  p.publish(master);
  await waitFor('3 attempts', () => (flaky.requests.length === 3 ? true : undefined), 5000);
  assert.ok(await p.drained(2000));
  assert.equal(new Set(flaky.requests.map((r) => r.headers['idempotency-key'])).size, 1);
  assert.deepEqual(
    flaky.requests.map((r) => r.headers['x-alived-delivery-attempt']),
    ['1', '2', '3'],
  );
  assert.equal(gone.requests.length, 1);
  assert.match(
    records.find((r) => r.fields.code === 'ALIVED_NOTIFY_FAILED')!.msg,
    /webhook:gone': VRRP instance VI_1: BACKUP -> MASTER \(priority 150\) failed for good: POST webhook gone \(http:\/\/127\.0\.0\.1:\d+\): HTTP 404/,
  );
  const st = p.status().notifiers;
  assert.deepEqual(
    st.map((n) => [n.id, n.sent, n.failed]),
    [
      ['webhook:flaky', 1, 0],
      ['webhook:gone', 0, 1],
    ],
  );
});

test('a receiver that hangs delays neither the mail nor another webhook', async () => {
  const hang = await receiver('hang');
  const fine = await receiver();
  const smtp = await smtpReceiver();
  closers.push(() => smtp.close());
  const { p } = await pipeline(`global_defs {
  notification_email {
    ops@example.com
  }
  smtp_server 127.0.0.1 ${smtp.port}
  smtp_alert
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    192.0.2.10/24
  }
}
webhook stuck {
  url ${hang.url}
  timeout 30
}
webhook fine {
  url ${fine.url}
}
`);
  const t0 = Date.now();
  p.publish({ ...master, time: Date.now() });
  await waitFor('the mail', () => (smtp.mails.length === 1 ? true : undefined), 5000, 5);
  const mailMs = Date.now() - t0;
  await waitFor('the other webhook', () => (fine.requests.length === 1 ? true : undefined), 5000, 5);
  const hookMs = Date.now() - t0;
  assert.equal(hang.requests.length, 1, 'the stuck receiver got the request and never answers');
  assert.ok(mailMs < 1000, `mail after ${mailMs} ms`);
  assert.ok(hookMs < 1000, `webhook after ${hookMs} ms`);
  assert.equal(smtp.mails[0]!.headers.subject, `[${os.hostname()}] VRRP Instance VI_1 - Entering MASTER state`);
  const stuck = p.status().notifiers.find((n) => n.id === 'webhook:stuck')!;
  assert.deepEqual([stuck.inFlight, stuck.sent], [1, 0]);
});

test('config errors at FILE:LINE:COL', async () => {
  const r = await compileText(`webhook ops {
  url ftp://example.com/x
  format xml
  events vrrp checkers
  timeout 0
}
webhook {
  url http://x
}
`);
  assert.deepEqual(r.errors, [
    "keepalived.conf:2:7: error: 'ftp://example.com/x': a webhook URL is http:// or https://, not ftp:",
    "keepalived.conf:3:10: error: 'xml' is not one of json, slack, teams",
    r.errors[2]!,
    r.errors[3]!,
    "keepalived.conf:7:1: error: 'webhook' needs a name: webhook <NAME> { ... }",
  ]);
  assert.match(r.errors[2]!, /^keepalived\.conf:4:15: error: 'checkers' is not one of vrrp, checker, quorum, daemon \(did you mean 'checker'\?\)/);
  assert.match(r.errors[3]!, /^keepalived\.conf:5:11: error: .*0/);
});

test("a URL's user:password@ goes as Authorization: Basic, the URL requested has no userinfo, and no part of it is logged", async () => {
  const hook = await receiver();
  const other = await receiver();
  const dead = await freePort();
  const { p, records, compiled } = await pipeline(`webhook basic {
  url ${hook.url.replace('http://', 'http://alice:p%40ss%20w%C3%B6rd@')}?token=tok-9&format=x
}
webhook tokenonly {
  url ${other.url.replace('http://', 'http://TOKEN-ONLY-7@')}
}
webhook dead {
  url http://bob:pw-dead@127.0.0.1:${dead}/hook?access_token=tok-dead
  retry_initial_delay 5
}
`);
  p.publish(master);
  await waitFor('both requests', () => (hook.requests.length === 1 && other.requests.length === 1 ? true : undefined), 5000);
  const req = hook.requests[0]!;
  assert.equal(req.headers.authorization, `Basic ${Buffer.from('alice:p@ss wörd', 'utf8').toString('base64')}`, 'decoded, UTF-8');
  assert.equal(req.url, '/hook?token=tok-9&format=x');
  assert.equal(req.headers.host, `127.0.0.1:${hook.port}`);
  assert.equal(other.requests[0]!.headers.authorization, `Basic ${Buffer.from('TOKEN-ONLY-7:').toString('base64')}`, 'a user alone: an empty password');

  await waitFor('the dead one retried', () => records.find((r) => r.fields.code === 'ALIVED_NOTIFY_RETRY' && r.fields.notifier === 'webhook:dead'), 5000);
  const dying = p.status().notifiers.find((n) => n.id === 'webhook:dead')!;
  assert.match(dying.lastError!, new RegExp(`^POST webhook dead \\(http://127\\.0\\.0\\.1:${dead}\\): connect ECONNREFUSED`));
  const logged = JSON.stringify(records) + JSON.stringify(p.status());
  for (const secret of ['p%40ss', 'p@ss', 'tok-9', 'TOKEN-ONLY-7', 'pw-dead', 'tok-dead', Buffer.from('alice:p@ss wörd').toString('base64')]) {
    assert.ok(!logged.includes(secret), `${secret} in the log or the status`);
  }
  // over http:// the credentials are readable on the way: -t and the daemon's log say so
  assert.deepEqual(
    compiled.warnings.filter((w) => w.includes('in clear')),
    [
      "keepalived.conf:7:3: warning: webhook basic: the URL's user and password (Authorization: Basic), the query parameter token cross the network to 127.0.0.1:" +
        hook.port +
        ' in clear over http://; use https://',
      "keepalived.conf:10:3: warning: webhook tokenonly: the URL's user and password (Authorization: Basic) cross the network to 127.0.0.1:" +
        other.port +
        ' in clear over http://; use https://',
      "keepalived.conf:13:3: warning: webhook dead: the URL's user and password (Authorization: Basic), the query parameter access_token cross the network to 127.0.0.1:" +
        dead +
        ' in clear over http://; use https://',
    ],
  );
});

test('config: URL credentials beside a header Authorization are refused; credentials over http:// are a warning; a mistyped URL is quoted with its secrets masked', async () => {
  const r = await compileText(`webhook both {
  url https://alice:pw-b@hooks.example.com/x
  header Authorization "Bearer b"
}
webhook clear {
  url http://hooks.example.com/x?api_key=k-c
  header X-Api-Key "k"
  header X-Other "v"
}
webhook fine {
  url https://alice:pw-f@hooks.example.com/x?token=t-f
  header X-Api-Key "k"
}
webhook typo {
  url htps://alice:pw-t@hooks.example.com/x?token=t-t
}
webhook port {
  url https://alice:pw-p@hooks.example.com:99999/x?token=t-p
}
webhook escape {
  url https://alice:%zz@hooks.example.com/x
}
`);
  assert.deepEqual(r.lines, [
    "keepalived.conf:3:3: error: webhook both: the URL's user:password@ is sent as 'Authorization: Basic', and 'header Authorization' sets it too: give one of them",
    'keepalived.conf:6:3: warning: webhook clear: the header X-Api-Key, the query parameter api_key cross the network to hooks.example.com in clear over http://; use https://',
    "keepalived.conf:15:7: error: 'htps://alice:[redacted]@hooks.example.com/x?token=[redacted]': a webhook URL is http:// or https://, not htps:",
    "keepalived.conf:18:7: error: 'https://alice:[redacted]@hooks.example.com:99999/x?token=[redacted]...' is not a URL",
    "keepalived.conf:21:7: error: 'https://alice:[redacted]@hooks.example.com/x': the user or password before '@' has a malformed %-escape",
  ]);
});
