import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir, PROJECT_ROOT } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { freePort, smtpReceiver, type SmtpReceiver } from './receivers';

/**
 * The outbox end to end, with the real daemon: alived is killed (SIGKILL)
 * while a mail is still undelivered (the SMTP server is down); after a
 * restart with the same --state-dir the mail is delivered, with the
 * Message-ID (idempotency key) it was accepted with. The event is a real
 * server going down (a TCP_CHECK against a closed loopback port), so no VRRP
 * runs and no lab is needed.
 */

const BIN = path.join(PROJECT_ROOT, 'dist', 'core', 'cli', 'main.js');
const procs = new Set<ChildProcess>();
let smtp: SmtpReceiver | undefined;
after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await smtp?.close();
});

function start(conf: string, dir: string, tag: string): { proc: ChildProcess; lines: string[] } {
  const lines: string[] = [];
  const proc = spawn(process.execPath, [BIN, '-n', '-l', '-G', '-f', conf, '-p', path.join(dir, `${tag}.pid`), '--state-dir', path.join(dir, 'state')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.add(proc);
  const take = (d: Buffer): void => {
    for (const l of d.toString().split('\n')) if (l) lines.push(l);
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  return { proc, lines };
}

test('alived killed with a mail undelivered: the mail goes out after the restart, once, with the id it was accepted with', { timeout: 60_000 }, async () => {
  const dir = tmpDir('alived-outbox-daemon-');
  const smtpPort = await freePort();
  const deadPort = await freePort();
  const conf = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(
    conf,
    `global_defs {
  router_id OUTBOX
  notification_email {
    ops@example.com
  }
  notification_email_from alived@example.com
  smtp_server 127.0.0.1 ${smtpPort}
  smtp_connect_timeout 2
}
notify_delivery {
  retry_initial_delay 0.2
  retry_max_delay 1
}
virtual_server 127.0.0.1 ${deadPort} {
  delay_loop 1
  lvs_sched rr
  protocol TCP
  real_server 127.0.0.1 ${deadPort} {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`,
  );
  const box = path.join(dir, 'state', 'notify', 'outbox', 'mail%3Akeepalived');
  const first = start(conf, dir, 'a');
  const file = await waitFor(
    'the alert in the outbox',
    () => (fs.existsSync(box) ? fs.readdirSync(box).find((f) => f.endsWith('.json')) : undefined),
    20_000,
    20,
  );
  await waitFor('a failed attempt', () => (first.lines.some((l) => /ALIVED_NOTIFY_RETRY|not delivered \(attempt/.test(l)) ? true : undefined), 10_000);
  const entry = JSON.parse(fs.readFileSync(path.join(box, file), 'utf8')) as { id: string; event: { type: string; message: string } };
  assert.equal(entry.event.type, 'check-alert');
  first.proc.kill('SIGKILL');
  await new Promise((r) => first.proc.once('close', r));

  smtp = await smtpReceiver({ port: smtpPort });
  const second = start(conf, dir, 'b');
  await waitFor(
    `the mail accepted before the kill (${entry.id})`,
    () => smtp!.mails.find((m) => m.headers['message-id']?.startsWith(`<${entry.id}@`)),
    20_000,
  ).catch((err) => {
    throw new Error(`${err.message}\n${second.lines.slice(-20).join('\n')}`);
  });
  const m = smtp.mails.find((x) => x.headers['message-id']!.startsWith(`<${entry.id}@`))!;
  assert.equal(m.headers.subject, `[OUTBOX] Realserver [127.0.0.1]:tcp:${deadPort} of virtual server [127.0.0.1]:tcp:${deadPort} - DOWN`);
  assert.equal(m.body.replace(/\r\n$/, ''), '=> TCP CHECK failed on service <=');
  assert.ok(second.lines.some((l) => /accepted before the last stop will be delivered/.test(l)));
  second.proc.kill('SIGTERM');
  const code = await new Promise((r) => second.proc.once('close', (c) => r(c)));
  assert.equal(code, 0);
  assert.equal(smtp.mails.filter((x) => x.headers['message-id'] === m.headers['message-id']).length, 1, 'once');
});
