import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, writeFiles } from '../helpers/config';
import { httpReceiver, type HttpReceiver } from '../notify/receivers';

/**
 * Secrets in URLs and credentials in clear, through the alived command:
 * `-t` quotes a mistyped URL with its secrets masked, `-d` masks them, SMTP
 * AUTH without TLS is refused unless allowed, and a daemon (checks only, no
 * VRRP: loopback only) sends a URL's credentials as basic auth to a real
 * HTTP receiver and keeps a mistyped URL's secrets out of its log file at a
 * rejected reload.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const SECRETS = ['pw-typo', 'tok-typo', 'pw-port', 'tok-port', 'pw-dump', 'tok-dump', 'pw-script', 'tok-script', 'sig-dump'];

const children: ChildProcess[] = [];
const receivers: HttpReceiver[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of receivers) await r.close();
});

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function assertNoSecret(text: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${s} in:\n${text}`);
}

const MISTYPED = `webhook typo {
  url htps://ops:pw-typo@hooks.example.com/alived?token=tok-typo
}
webhook port {
  url https://ops:pw-port@hooks.example.com:99999/alived?access_token=tok-port
}
`;

test('-t: a mistyped URL is quoted with its password and token masked', () => {
  const dir = writeFiles({ 'a.conf': MISTYPED });
  const r = cli(['-t', '-f', 'a.conf'], dir);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /^a\.conf:2:7: error: 'htps:\/\/ops:\[redacted\]@hooks\.example\.com\/alived\?token=\[redacted\]': a webhook URL is http:\/\/ or https:\/\/, not htps:$/m,
  );
  // clipped at 64 characters, after the masking
  assert.match(r.err, /^a\.conf:5:7: error: 'https:\/\/ops:\[redacted\]@hooks\.example\.com:99999\/alived\?access_\.\.\.' is not a URL$/m);
  assertNoSecret(r.out + r.err);
});

test('-d: the secrets of URLs are masked wherever a URL stands, the rest is printed as written', () => {
  const dir = writeFiles({
    'a.conf': `global_defs {
  router_id LB1
}
webhook ops {
  url https://ops:pw-dump@hooks.example.com/alived?token=tok-dump&format=x&sig=sig-dump
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    192.0.2.10/24
  }
  notify_master "/usr/bin/curl -s https://hooks.example.com/m?api_key=tok-script -u ops:pw-script"
}
`,
  });
  const r = cli(['-t', '-d', '-f', 'a.conf'], dir);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^ {4}url https:\/\/ops:\*{8}@hooks\.example\.com\/alived\?token=\*{8}&format=x&sig=\*{8}$/m);
  assert.match(
    r.out,
    /^ {4}notify_master "\/usr\/bin\/curl -s https:\/\/hooks\.example\.com\/m\?api_key=\*{8} -u ops:pw-script"$/m,
    'a curl -u is no URL: not masked',
  );
  assertNoSecret((r.out + r.err).replace('ops:pw-script', ''));
});

test('-t: SMTP AUTH without TLS exits 1; with smtp_auth_cleartext it is valid and warned about', () => {
  const conf = (extra: string): string => `global_defs {
  notification_email {
    ops@example.com
  }
  smtp_server 192.0.2.25 587
  smtp_auth_user alived
  smtp_auth_password_env SMTP_PW
${extra}}
`;
  const dir = writeFiles({ 'plain.conf': conf(''), 'allowed.conf': conf('  smtp_auth_cleartext\n'), 'tls.conf': conf('  smtp_tls starttls\n') });
  const plain = cli(['-t', '-f', 'plain.conf'], dir);
  assert.equal(plain.code, 1);
  assert.match(
    plain.err,
    /^plain\.conf:6:3: error: smtp_auth_user: with smtp_tls no, SMTP AUTH would send user 'alived' and its password to smtp_server 192\.0\.2\.25:587 in clear; set smtp_tls starttls or tls, or allow it with smtp_auth_cleartext$/m,
  );
  const allowed = cli(['-t', '-f', 'allowed.conf'], dir);
  assert.equal(allowed.code, 0, allowed.err);
  assert.match(
    allowed.err,
    /^allowed\.conf:8:3: warning: smtp_auth_cleartext: SMTP AUTH to smtp_server 192\.0\.2\.25:587 goes over plain TCP: user 'alived' and its password \(base64, not encrypted\) can be read by anyone on the path$/m,
  );
  const tls = cli(['-t', '-f', 'tls.conf'], dir);
  assert.equal(tls.code, 0, tls.err);
  assert.doesNotMatch(tls.err, /clear|plain TCP/);
});

function waitFor(what: string, fn: () => boolean, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (fn()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

test('the daemon sends the URL credentials as basic auth, and a reload with a mistyped URL keeps its secrets out of the log file', async () => {
  const hook = await httpReceiver();
  receivers.push(hook);
  const good = `webhook ops {
  url ${hook.url.replace('http://', 'http://ops:pw-daemon@')}?token=tok-daemon
  events daemon
}
`;
  const dir = writeFiles({ 'a.conf': good });
  fs.mkdirSync(path.join(dir, 'state'));
  const log = path.join(dir, 'alived.log');
  // checks only (-C), no vrrp_instance: no VRRP, so it may run outside a lab; its only traffic goes to loopback
  const child = spawn(
    process.execPath,
    [BIN, '-n', '-l', '-G', '-C', '-f', 'a.conf', `--log-file=${log}`, '-p', path.join(dir, 'a.pid'), '--state-dir', path.join(dir, 'state')],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logText = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
  try {
    await waitFor('the start event at the webhook', () => hook.requests.length >= 1);
    assert.equal(hook.requests[0]!.headers.authorization, `Basic ${Buffer.from('ops:pw-daemon').toString('base64')}`);
    assert.equal(hook.requests[0]!.url, '/hook?token=tok-daemon');
    assert.equal(JSON.parse(hook.requests[0]!.body).new_state, 'start');

    fs.writeFileSync(path.join(dir, 'a.conf'), MISTYPED);
    child.kill('SIGHUP');
    await waitFor('the rejected reload in the log file', () => logText().includes('Reload rejected'));
    assert.match(logText(), /ERROR \S*\/a\.conf:2:7: error: 'htps:\/\/ops:\[redacted\]@hooks\.example\.com\/alived\?token=\[redacted\]': a webhook URL is/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out);
  for (const text of [logText(), out]) {
    assertNoSecret(text);
    for (const s of ['pw-daemon', 'tok-daemon']) assert.ok(!text.includes(s), `${s} in:\n${text}`);
  }
  assert.match(
    logText(),
    /warning: webhook ops: the URL's user and password \(Authorization: Basic\), the query parameter token cross the network to 127\.0\.0\.1:\d+ in clear over http:\/\//,
  );
});
