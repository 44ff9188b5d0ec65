import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { tmpDir, PROJECT_ROOT } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { freePort } from './receivers';

/**
 * keepalived's real-server mails, end to end: the daemon (a real process)
 * checks one real server with two checkers, TCP_CHECK and HTTP_GET, against
 * real servers on loopback, and mails through the real SMTP sink
 * (test/notify/smtp-sink.ts, a process of its own). As keepalived's
 * smtp_alert(SMTP_MSG_RS) the subject says the real server's state and the
 * body the checker's own text: when the TCP check comes back while HTTP_GET
 * still fails, the server stays down, and the mail says `- DOWN` with
 * `=> TCP CHECK succeed on service <=`. No VRRP runs, so no lab is needed.
 */

const BIN = path.join(PROJECT_ROOT, 'dist', 'core', 'cli', 'main.js');
const SINK = path.join(PROJECT_ROOT, 'dist', 'test', 'notify', 'smtp-sink.js');
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Mail {
  readonly subject: string;
  readonly body: string;
  readonly to: string[];
}

/** the SMTP sink as a process: resolves once it listens; `mails` fills as it prints them */
async function smtpSink(port: number): Promise<{ mails: Mail[]; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [SINK, '127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => void (proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL')));
  const mails: Mail[] = [];
  let ready = false;
  readline.createInterface({ input: proc.stdout! }).on('line', (l) => {
    const m = JSON.parse(l) as Mail & { ready?: boolean };
    if (m.ready) ready = true;
    else mails.push({ subject: m.subject, body: m.body.replace(/\r\n$/, ''), to: m.to });
  });
  await waitFor('the SMTP sink to listen', () => (ready ? true : undefined), 10_000);
  return { mails, proc };
}

async function listen(server: net.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

async function close(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

test("real-server mails: the subject says the real server's state, the body the checker's text (keepalived's smtp_alert)", { timeout: 60_000 }, async () => {
  const dir = tmpDir('alived-checker-mail-');
  const smtpPort = await freePort();
  const sink = await smtpSink(smtpPort);

  // the real server's TCP port, which can die and come back
  let tcp = net.createServer((s) => s.resume());
  const tcpPort = await listen(tcp);
  cleanups.push(() => close(tcp));
  // its health URL, whose status the test sets
  let status = 200;
  const web = http.createServer((_req, res) => res.writeHead(status).end('ok\n'));
  const webPort = await listen(web);
  cleanups.push(() => close(web));
  const vport = await freePort();

  const conf = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(
    conf,
    `global_defs {
  router_id MAILRS
  notification_email {
    ops@example.com
  }
  notification_email_from alived@example.com
  smtp_server 127.0.0.1 ${smtpPort}
  smtp_connect_timeout 5
}
notify_delivery {
  retry_initial_delay 0.1
  retry_max_delay 0.5
  coalesce_limit 0
}
virtual_server 127.0.0.1 ${vport} {
  delay_loop 0.3
  lvs_sched rr
  protocol TCP
  omega
  real_server 127.0.0.1 ${tcpPort} {
    TCP_CHECK {
      connect_timeout 1
      retry 0
      warmup 0
    }
    HTTP_GET {
      url {
        path /health
        status_code 200
      }
      connect_port ${webPort}
      connect_timeout 1
      retry 0
      warmup 0
    }
  }
}
`,
  );
  const lines: string[] = [];
  const daemon = spawn(process.execPath, [BIN, '-n', '-l', '-G', '-f', conf, '-p', path.join(dir, 'alived.pid'), '--state-dir', path.join(dir, 'state')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => void (daemon.exitCode === null && daemon.signalCode === null && daemon.kill('SIGKILL')));
  for (const s of [daemon.stdout!, daemon.stderr!]) readline.createInterface({ input: s }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((resolve) => daemon.once('close', (code) => resolve(code)));

  const vs = `[127.0.0.1]:tcp:${vport}`;
  const subject = (state: string) => `[MAILRS] Realserver [127.0.0.1]:tcp:${tcpPort} of virtual server ${vs} - ${state}`;
  const mails = async (n: number, what: string): Promise<Array<[string, string]>> => {
    await waitFor(what, () => (sink.mails.length >= n ? true : undefined), 10_000).catch((err: Error) => {
      throw new Error(`${err.message}; mails: ${JSON.stringify(sink.mails)}\n${lines.slice(-30).join('\n')}`);
    });
    return sink.mails.map((m) => [m.subject, m.body]);
  };
  await waitFor('both checks to pass', () => (lines.filter((l) => /Activating healthchecker/.test(l)).length === 2 ? true : undefined), 10_000);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(sink.mails.length, 0, 'nothing to say while everything is up');

  // the TCP port dies: the server goes down
  await close(tcp);
  assert.deepEqual((await mails(1, 'the TCP_CHECK failure'))[0], [subject('DOWN'), '=> TCP CHECK failed on service <=']);
  // the URL fails too: that checker's own mail, the server still down
  status = 500;
  assert.deepEqual((await mails(2, 'the HTTP_GET failure'))[1], [subject('DOWN'), '=> CHECK failed on service : HTTP/SSL request failed <=']);
  // the TCP port comes back, the URL still fails: the server stays DOWN, whatever the TCP check says
  tcp = net.createServer((s) => s.resume());
  await listen(tcp, tcpPort);
  assert.deepEqual((await mails(3, 'the TCP_CHECK success'))[2], [subject('DOWN'), '=> TCP CHECK succeed on service <=']);
  // the URL answers 200 again: now the server is UP
  status = 200;
  assert.deepEqual((await mails(4, 'the HTTP_GET success'))[3], [subject('UP'), '=> CHECK succeed on service <=']);
  // omega: the shutdown is mailed too
  daemon.kill('SIGTERM');
  assert.deepEqual((await mails(5, 'the shutdown mail'))[4], [subject('DOWN'), '=> Shutting down <=']);
  assert.equal(await exited, 0, lines.join('\n'));
  assert.equal(sink.mails.length, 5, JSON.stringify(sink.mails));
  assert.ok(sink.mails.every((m) => m.to.join() === 'ops@example.com'));
});
