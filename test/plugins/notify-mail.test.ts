import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NotifyPipeline } from '../../core/notify/pipeline';
import { createNotifiers } from '../../core/notify/notifiers';
import type { NotifyEvent } from '../../core/plugin/events';
import type { ConfigModel } from '../../core/config/model';
import { makeCertificate } from '../../core/testing';
import { compileFile, compileText, FIXTURES, noErrors, permissiveHost, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import { waitFor } from '../helpers/lab';
import { freePort, smtpReceiver, type SmtpReceiver } from '../notify/receivers';

/**
 * notify-mail against a real SMTP server (smtp-server on loopback), the
 * mails going through nodemailer and the delivery pipeline as in the daemon:
 * keepalived's subjects, bodies and headers, its smtp_alert rules, and what
 * alived adds (STARTTLS, TLS, AUTH with a password file, templates,
 * recipients per kind); a server down for 30 s during a failover.
 */

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

const FAST = `notify_delivery {
  retry_initial_delay 0.05
  retry_max_delay 0.5
  coalesce_limit 0
}
`;

function globalDefs(port: number, extra = ''): string {
  return `global_defs {
  router_id LB1
  notification_email {
    oncall@example.com
    netops@example.org
  }
  notification_email_from keepalived@lb1.example.com
  smtp_server 127.0.0.1 ${port}
  smtp_helo_name lb1.example.com
  smtp_connect_timeout 5
${extra}}
`;
}

let vrid = 50;
function instance(name: string, extra = ''): string {
  return `vrrp_instance ${name} {
  interface eth0
  virtual_router_id ${++vrid}
  priority 150
  virtual_ipaddress {
    192.0.2.10/24
  }
${extra}}
`;
}

async function mailer(conf: string, opts: { stateDir?: string } = {}) {
  const r = await compileText(conf);
  noErrors(r);
  const { log, records } = memoryLogger('info');
  const p = new NotifyPipeline({ log, stateDir: opts.stateDir });
  const model = r.model as ConfigModel;
  const { deliveryDefaultsOf } = await import('../../core/notify/delivery-keywords');
  p.setDefaults(deliveryDefaultsOf(model.extensions));
  p.setSinks(createNotifiers(model, r.pluginHost, log));
  closers.push(async () => {
    await p.stop({ drainMs: 0 });
    await r.pluginHost.close();
  });
  return { p, records, model, warnings: r.warnings };
}

async function receiver(opts: Parameters<typeof smtpReceiver>[0] = {}): Promise<SmtpReceiver> {
  const s = await smtpReceiver(opts);
  closers.push(() => s.close());
  return s;
}

const now = Date.now();
const vrrp = (name: string, from: string, to: string, kind: 'instance' | 'group' = 'instance'): NotifyEvent =>
  ({ type: 'vrrp', kind, name, from, to, priority: kind === 'group' ? 0 : 150, reason: 'test', time: now }) as NotifyEvent;

test("keepalived's mails: subjects, bodies, From, To, Date, X-Mailer, HELO, envelope; instance, group, real server, quorum and shutdown", async () => {
  const smtp = await receiver();
  const { p, warnings } = await mailer(
    FAST +
      globalDefs(smtp.port) +
      instance('VI_1', '  smtp_alert\n') +
      `vrrp_sync_group G1 {
  group {
    VI_1
  }
  smtp_alert
}
`,
  );
  assert.deepEqual(
    warnings.filter((w) => /not act on/.test(w)),
    [],
    'every mail keyword is acted on',
  );
  p.publish(vrrp('VI_1', 'BACKUP', 'MASTER'));
  p.publish(vrrp('G1', 'BACKUP', 'MASTER', 'group'));
  p.publish({
    type: 'check-alert',
    kind: 'real-server',
    virtualServer: '[192.0.2.10]:tcp:80',
    service: '[192.0.2.21]:tcp:80',
    realServer: { address: '192.0.2.21', port: 80, protocol: 'tcp' },
    checker: 'TCP_CHECK',
    state: 'DOWN',
    message: '=> CHECK failed on service <=',
    time: now,
  });
  p.publish({
    type: 'check-alert',
    kind: 'virtual-server',
    virtualServer: '[192.0.2.10]:tcp:80',
    state: 'DOWN',
    message: '=> Lost quorum 1+0=1 > 0 <=',
    time: now,
  });
  p.publish({
    type: 'check-alert',
    kind: 'real-server',
    virtualServer: '[192.0.2.10]:tcp:80',
    service: '[192.0.2.22]:tcp:80',
    state: 'DOWN',
    message: '=> Shutting down <=',
    time: now,
  });
  p.publish(vrrp('VI_1', 'MASTER', 'STOP'));
  p.publish(vrrp('G1', 'MASTER', 'STOP', 'group'));
  // the checks' real-server and quorum hook events are not mail's (smtp_alert decides through check-alert)
  p.publish({
    type: 'real-server',
    virtualServer: '[192.0.2.10]:tcp:80',
    realServer: { address: '192.0.2.21', port: 80, protocol: 'tcp' },
    up: false,
    weight: 1,
    reason: 'x',
    time: now,
  });
  await waitFor('7 mails', () => (smtp.mails.length === 7 ? true : undefined), 10_000);
  assert.ok(await p.drained(2000));
  const bySubject = new Map(smtp.mails.map((m) => [m.headers.subject, m]));
  const expected: Array<[string, string]> = [
    ['[LB1] VRRP Instance VI_1 - Entering MASTER state', '=> VRRP Instance is now owning VRRP VIPs <='],
    ['[LB1] VRRP Group G1 - Entering MASTER state', '=> All VRRP group instances are now in MASTER state <='],
    ['[LB1] Realserver [192.0.2.21]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN', '=> CHECK failed on service <='],
    ['[LB1] Virtualserver [192.0.2.10]:tcp:80 - DOWN', '=> Lost quorum 1+0=1 > 0 <='],
    ['[LB1] Realserver [192.0.2.22]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN', '=> Shutting down <='],
    ['[LB1] VRRP Instance VI_1 - Stopping', '=> VRRP Instance stopping <='],
    ['[LB1] VRRP Group G1 - Stopping', '=> All VRRP group instances are now stopping <='],
  ];
  for (const [subject, body] of expected) {
    const m = bySubject.get(subject);
    assert.ok(m, `a mail '${subject}'; got ${[...bySubject.keys()].join(' | ')}`);
    assert.equal(m!.body.replace(/\r\n$/, ''), body);
    assert.equal(m!.headers.from, 'keepalived@lb1.example.com');
    assert.equal(m!.headers.to, 'oncall@example.com, netops@example.org');
    assert.equal(m!.headers['x-mailer'], 'Keepalived');
    assert.equal(new Date(m!.headers.date!).getTime(), Math.floor(now / 1000) * 1000, 'Date: the time of the event');
    assert.equal(m!.helo, 'lb1.example.com');
    assert.equal(m!.from, 'keepalived@lb1.example.com');
    assert.deepEqual(m!.to, ['oncall@example.com', 'netops@example.org']);
    assert.match(m!.headers['message-id']!, /^<[0-9a-f-]{36}@lb1\.example\.com>$/);
    assert.equal(m!.secure, false, 'plain SMTP, as keepalived');
  }
  // in order per source: VI_1 MASTER before VI_1 Stopping
  const order = smtp.mails.map((m) => m.headers.subject);
  assert.ok(order.indexOf('[LB1] VRRP Instance VI_1 - Entering MASTER state') < order.indexOf('[LB1] VRRP Instance VI_1 - Stopping'));
});

test('smtp_alert rules: instance, sync group and global defaults; no_email_faults; a state is mailed once; DELETED without notify_deleted is a FAULT', async () => {
  const smtp = await receiver();
  const { p } = await mailer(
    FAST +
      globalDefs(smtp.port, '  smtp_alert_vrrp\n  no_email_faults\n') +
      instance('VI_1') +
      instance('VI_2', '  smtp_alert no\n') +
      instance('VI_3', '  notify_deleted\n'),
  );
  p.publish(vrrp('VI_1', 'BACKUP', 'MASTER'));
  p.publish(vrrp('VI_1', 'MASTER', 'MASTER'));
  p.publish(vrrp('VI_2', 'BACKUP', 'MASTER'));
  p.publish(vrrp('VI_1', 'MASTER', 'FAULT'));
  p.publish(vrrp('VI_1', 'FAULT', 'BACKUP'));
  p.publish(vrrp('VI_3', 'BACKUP', 'DELETED'));
  await waitFor('3 mails', () => (smtp.mails.length >= 3 ? true : undefined), 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(smtp.mails.map((m) => m.headers.subject).sort(), [
    '[LB1] VRRP Instance VI_1 - Entering BACKUP state',
    '[LB1] VRRP Instance VI_1 - Entering MASTER state',
    '[LB1] VRRP Instance VI_3 - Deleted',
  ]);
});

test('no smtp_server or no recipient: no mail notifier, as keepalived sends none', async () => {
  const { p } = await mailer(`global_defs {\n  notification_email {\n    a@example.com\n  }\n}\n` + instance('VI_1', '  smtp_alert\n'));
  assert.deepEqual(
    p.status().notifiers.map((n) => n.id),
    [],
  );
});

test('templates and recipient lists per kind of event', async () => {
  const smtp = await receiver();
  const { p, records } = await mailer(
    FAST +
      globalDefs(
        smtp.port,
        `  smtp_alert
  smtp_subject vrrp "{router_id}: {name} {from} -> {to} (prio {priority}) {{ok}}"
  smtp_body vrrp "host {host}, reason {reason}; keepalived says {body}"
  smtp_subject checker "RS {real_server} of {virtual_server} is {state} ({checker}), was {from}"
  notification_email_checker {
    web-team@example.com
  }
`,
      ) +
      instance('VI_1'),
  );
  p.publish(vrrp('VI_1', 'BACKUP', 'MASTER'));
  p.publish({
    type: 'check-alert',
    kind: 'real-server',
    virtualServer: '[192.0.2.10]:tcp:80',
    service: '[192.0.2.21]:tcp:80',
    checker: 'HTTP_GET',
    state: 'UP',
    checkerState: 'UP',
    message: '=> CHECK succeed on service <=',
    time: now,
  });
  // a checker back while another checker of the server still fails: the server was and stays DOWN
  p.publish({
    type: 'check-alert',
    kind: 'real-server',
    virtualServer: '[192.0.2.10]:tcp:80',
    service: '[192.0.2.22]:tcp:80',
    checker: 'TCP_CHECK',
    state: 'DOWN',
    checkerState: 'UP',
    message: '=> TCP CHECK succeed on service <=',
    time: now,
  });
  await waitFor('3 mails', () => (smtp.mails.length === 3 ? true : undefined), 10_000).catch((err) => {
    throw new Error(`${err.message}: ${records.map((r) => r.msg).join('\n')}`);
  });
  const v = smtp.mails.find((m) => m.headers.subject!.startsWith('LB1:'))!;
  assert.equal(v.headers.subject, 'LB1: VI_1 BACKUP -> MASTER (prio 150) {ok}');
  assert.equal(v.body.replace(/\r\n$/, ''), `host ${os.hostname()}, reason test; keepalived says => VRRP Instance is now owning VRRP VIPs <=`);
  assert.deepEqual(v.to, ['oncall@example.com', 'netops@example.org']);
  const c = smtp.mails.find((m) => m.headers.subject!.startsWith('RS [192.0.2.21]'))!;
  assert.equal(c.headers.subject, 'RS [192.0.2.21]:tcp:80 of [192.0.2.10]:tcp:80 is UP (HTTP_GET), was DOWN');
  const still = smtp.mails.find((m) => m.headers.subject!.startsWith('RS [192.0.2.22]'))!;
  assert.equal(still.headers.subject, 'RS [192.0.2.22]:tcp:80 of [192.0.2.10]:tcp:80 is DOWN (TCP_CHECK), was DOWN');
  assert.equal(c.body.replace(/\r\n$/, ''), '=> CHECK succeed on service <=', 'no body template for checker: keepalived body');
  assert.deepEqual(c.to, ['web-team@example.com']);
});

test('STARTTLS required, with AUTH and the password from a file; the password is in no log record', async () => {
  const cert = await makeCertificate();
  const smtp = await receiver({ options: { key: cert.key, cert: cert.cert }, users: { alived: 's3cret-pw' } });
  const dir = tmpDir('alived-mail-');
  const pwFile = path.join(dir, 'smtp.pass');
  fs.writeFileSync(pwFile, 's3cret-pw\n', { mode: 0o600 });
  const { p, records } = await mailer(
    FAST +
      globalDefs(
        smtp.port,
        `  smtp_tls starttls
  smtp_tls_ca ${cert.certFile}
  smtp_auth_user alived
  smtp_auth_password_file ${pwFile}
  smtp_alert
`,
      ).replace('smtp_server 127.0.0.1', 'smtp_server localhost') +
      instance('VI_1'),
  );
  p.publish(vrrp('VI_1', 'BACKUP', 'MASTER'));
  await waitFor('the mail', () => (smtp.mails.length === 1 ? true : undefined), 10_000);
  assert.equal(smtp.mails[0]!.secure, true, 'upgraded with STARTTLS');
  assert.equal(smtp.mails[0]!.user, 'alived');
  assert.ok(!JSON.stringify(records).includes('s3cret-pw'), 'the password never reaches the log');
});

test('TLS from the start (smtp_tls tls); a wrong password is a permanent failure, logged without the password', async () => {
  const cert = await makeCertificate();
  const smtp = await receiver({ options: { secure: true, key: cert.key, cert: cert.cert }, users: { alived: 'right' } });
  process.env.ALIVED_TEST_SMTP_PW = 'wrong-pw';
  const { p, records } = await mailer(
    FAST +
      globalDefs(smtp.port, `  smtp_tls tls\n  smtp_tls_verify no\n  smtp_auth_user alived\n  smtp_auth_password_env ALIVED_TEST_SMTP_PW\n  smtp_alert\n`) +
      instance('VI_1'),
  );
  p.publish(vrrp('VI_1', 'BACKUP', 'MASTER'));
  await waitFor('the failure', () => records.find((r) => r.fields.code === 'ALIVED_NOTIFY_FAILED'), 10_000);
  assert.match(
    records.find((r) => r.fields.code === 'ALIVED_NOTIFY_FAILED')!.msg,
    /failed for good: SMTP server 127\.0\.0\.1:\d+ refused the mail: Invalid login/,
  );
  assert.ok(!JSON.stringify(records).includes('wrong-pw'));
  process.env.ALIVED_TEST_SMTP_PW = 'right';
  p.publish(vrrp('VI_1', 'MASTER', 'BACKUP'));
  // the password is read once at create: the next mail still uses the wrong one (a reload reads it again)
  await waitFor('two failures', () => (records.filter((r) => r.fields.code === 'ALIVED_NOTIFY_FAILED').length === 2 ? true : undefined), 10_000);
  assert.equal(smtp.mails.length, 0);
  delete process.env.ALIVED_TEST_SMTP_PW;
});

test('config errors at FILE:LINE:COL: an unknown template variable, a bad kind, smtp_tls, an empty recipient list', async () => {
  const r = await compileText(`global_defs {
  smtp_subject vrrp "{nmae} is {state}"
  smtp_body vrrrp "x"
  smtp_tls maybe
  notification_email_quorum {
  }
}
`);
  assert.deepEqual(r.errors, [
    "keepalived.conf:2:21: error: 'smtp_subject': unknown variable '{nmae}' (did you mean '{name}'?); known: {router_id} {host} {kind} {type} {name} {from} {to} {state} {priority} {reason} {virtual_server} {real_server} {checker} {message} {time} {count} {subject} {body}",
    "keepalived.conf:3:13: error: 'vrrrp' is not one of vrrp, checker, quorum (did you mean 'vrrp'?)",
    "keepalived.conf:4:12: error: 'maybe' is not one of no, starttls, tls",
    r.errors[3]!,
  ]);
  assert.match(r.errors[3]!, /^keepalived\.conf:5:3: error: .*notification_email_quorum/);
});

test('the SMTP server is down during a failover and comes back 30 s later: every mail arrives, in order, none twice', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const { p, records } = await mailer(
    FAST.replace('retry_max_delay 0.5', 'retry_max_delay 2') + globalDefs(port, '  smtp_alert\n') + instance('VI_1') + instance('VI_2'),
  );
  // a failover with nobody listening: VI_1 and VI_2 go MASTER -> BACKUP -> MASTER on this node
  const t0 = Date.now();
  const seq: Array<[string, string, string]> = [
    ['VI_1', 'MASTER', 'BACKUP'],
    ['VI_2', 'MASTER', 'BACKUP'],
    ['VI_1', 'BACKUP', 'MASTER'],
    ['VI_2', 'BACKUP', 'FAULT'],
    ['VI_2', 'FAULT', 'BACKUP'],
  ];
  for (const [n, f, t] of seq) p.publish({ ...vrrp(n, f, t), time: Date.now() } as NotifyEvent);
  await new Promise((r) => setTimeout(r, 30_000));
  const retrying = p.status().notifiers[0]!;
  assert.equal(retrying.sent, 0);
  assert.equal(retrying.pending, 5);
  assert.ok(retrying.retrying >= 1);
  assert.ok(records.filter((r) => r.fields.code === 'ALIVED_NOTIFY_RETRY').length >= 10, 'retried all along');
  const smtp = await receiver({ port });
  await waitFor('5 mails', () => (smtp.mails.length === 5 ? true : undefined), 10_000);
  assert.ok(await p.drained(3000));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(smtp.mails.length, 5, 'none twice');
  const subjects = (name: string): string[] =>
    smtp.mails.filter((m) => m.headers.subject!.includes(` ${name} `)).map((m) => m.headers.subject!.replace(/.* - /, ''));
  assert.deepEqual(subjects('VI_1'), ['Entering BACKUP state', 'Entering MASTER state']);
  assert.deepEqual(subjects('VI_2'), ['Entering BACKUP state', 'Entering FAULT state', 'Entering BACKUP state']);
  assert.equal(new Set(smtp.mails.map((m) => m.headers['message-id'])).size, 5);
  const s = p.status().notifiers[0]!;
  assert.deepEqual([s.sent, s.failed, s.expired, s.pending], [5, 0, 0, 0]);
  assert.ok(Date.now() - t0 < 45_000);
});

test('SMTP AUTH without TLS is a config error at smtp_auth_user, unless smtp_auth_cleartext allows it (then a warning); STARTTLS and TLS count as TLS', async () => {
  const auth = '  smtp_auth_user alived\n  smtp_auth_password_env ALIVED_TEST_SMTP_PW\n';
  const clearError =
    "keepalived.conf:11:3: error: smtp_auth_user: with smtp_tls no, SMTP AUTH would send user 'alived' and its password to smtp_server 127.0.0.1:2525 in clear; set smtp_tls starttls or tls, or allow it with smtp_auth_cleartext";
  const lines = async (extra: string): Promise<string[]> => (await compileText(globalDefs(2525, extra))).lines.filter((l) => !l.includes('not act on'));
  // smtp_tls no is the default (keepalived's plain SMTP)
  assert.deepEqual(await lines(auth), [clearError]);
  assert.deepEqual(await lines(auth + '  smtp_tls no\n'), [clearError]);
  assert.deepEqual(await lines(auth + '  smtp_auth_cleartext no\n'), [clearError]);
  assert.deepEqual(await lines(auth + '  smtp_auth_cleartext\n'), [
    "keepalived.conf:13:3: warning: smtp_auth_cleartext: SMTP AUTH to smtp_server 127.0.0.1:2525 goes over plain TCP: user 'alived' and its password (base64, not encrypted) can be read by anyone on the path",
  ]);
  assert.deepEqual(await lines(auth + '  smtp_tls starttls\n'), []);
  assert.deepEqual(await lines(auth + '  smtp_tls tls\n'), []);
  assert.deepEqual(await lines('  smtp_auth_cleartext yes\n'), [], 'without AUTH nothing is sent in clear but the mail, as keepalived sends it');
});

test('smtp_auth_cleartext: AUTH over plain TCP reaches a real SMTP server; the password is in no log record', async () => {
  const smtp = await receiver({ options: { allowInsecureAuth: true }, users: { alived: 'cl34r-pw' } });
  process.env.ALIVED_TEST_SMTP_PW = 'cl34r-pw';
  try {
    const { p, records, warnings } = await mailer(
      FAST +
        globalDefs(smtp.port, '  smtp_auth_user alived\n  smtp_auth_password_env ALIVED_TEST_SMTP_PW\n  smtp_auth_cleartext\n  smtp_alert\n') +
        instance('VI_1'),
    );
    assert.ok(
      warnings.some((w) => /warning: smtp_auth_cleartext: SMTP AUTH to smtp_server 127\.0\.0\.1:\d+ goes over plain TCP/.test(w)),
      warnings.join('\n'),
    );
    p.publish(vrrp('VI_1', 'BACKUP', 'MASTER'));
    await waitFor('the mail', () => (smtp.mails.length === 1 ? true : undefined), 10_000);
    assert.equal(smtp.mails[0]!.secure, false, 'no TLS');
    assert.equal(smtp.mails[0]!.user, 'alived', 'authenticated');
    assert.ok(!JSON.stringify(records).includes('cl34r-pw'));
  } finally {
    delete process.env.ALIVED_TEST_SMTP_PW;
  }
});

test('keepalived has no SMTP AUTH: none of its sample configs meets the clear-text rule, those that mail included', async () => {
  const dir = path.join(FIXTURES, 'keepalived-samples');
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('keepalived.conf'));
  let mailing = 0;
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    if (/^\s*smtp_server\s/m.test(text)) mailing++;
    assert.doesNotMatch(text, /smtp_auth|smtp_tls/, `${f}: keepalived has no such keyword`);
    const r = await compileFile(path.join(dir, f), { host: permissiveHost, configId: f.endsWith('conditional_conf') ? 'high' : 'node1' });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.code === 'ALIVED_CONFIG_CLEARTEXT'),
      [],
      f,
    );
  }
  assert.ok(mailing >= 10, `${mailing} samples set smtp_server`);
});
