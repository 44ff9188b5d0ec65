import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { isSecretParam, redactUrlSecrets, URL_SECRET_MASK } from '../../core/log/url-secrets';
import { createLogger, fileSink, redact, streamSink, syslogSink, FACILITIES } from '../../core/log/logger';
import { boundMessage } from '../../core/config/diagnostics';
import { clip } from '../../core/config/values';
import { tmpDir } from '../helpers/config';

/**
 * Secrets inside URLs (core/log/url-secrets.ts): the rule as a table of
 * cases, and the logger applying it to every string and message on every
 * sink (text, JSON, a file, syslog through logger(1) to a real socket).
 */

const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
});

const M = URL_SECRET_MASK;

const CASES: ReadonlyArray<readonly [string, string, string]> = [
  ['a token in the query', 'https://hooks.example.com/x?token=abc123&format=json', `https://hooks.example.com/x?token=${M}&format=json`],
  ['user:password@', 'https://alived:hunter2@hooks.example.com/x', `https://alived:${M}@hooks.example.com/x`],
  ['a user name alone is a token', 'https://TOKEN123@sentry.example.com/1', `https://${M}@sentry.example.com/1`],
  ["an '@' in the password: the last one ends the userinfo", 'https://u:p@ss@h.example/x', `https://u:${M}@h.example/x`],
  ["a '/' in the password breaks the URL", 'https://u:pa/ss@h.example/x', `https://u:${M}@h.example/x`],
  ["a '?' in the password breaks the URL", 'https://u:pa?ss@h.example/x', `https://u:${M}@h.example/x`],
  ["a port, then an '@' in the path: no userinfo", 'http://127.0.0.1:8080/@scope/pkg?page=2', 'http://127.0.0.1:8080/@scope/pkg?page=2'],
  ["an '@' in the path of a host without port", 'https://registry.example/@scope', 'https://registry.example/@scope'],
  ['an IPv6 host', 'http://[::1]:8080/x?api_key=K', `http://[::1]:8080/x?api_key=${M}`],
  ['a query without a scheme', '/status?access_token=abc&b=2', `/status?access_token=${M}&b=2`],
  ['a mistyped scheme', 'htps://u:pw@hooks.example.com/x?token=abc', `htps://u:${M}@hooks.example.com/x?token=${M}`],
  ['a fragment', 'https://x.example/cb#access_token=abc&state=1', `https://x.example/cb#access_token=${M}&state=1`],
  [
    'names that look secret, and names that do not',
    '?X-Amz-Signature=a&X-Amz-Credential=b&sig=c&hub.secret=d&password=e&pass=f&apikey=g&api-key=h&%74oken=i&client_secret=j&authorization=k&page=2&author=bob&sv=2020&format=json',
    `?X-Amz-Signature=${M}&X-Amz-Credential=${M}&sig=${M}&hub.secret=${M}&password=${M}&pass=${M}&apikey=${M}&api-key=${M}&%74oken=${M}&client_secret=${M}&authorization=${M}&page=2&author=bob&sv=2020&format=json`,
  ],
  ['an empty value reveals nothing and stays', 'https://h.example/x?token=&a=1', 'https://h.example/x?token=&a=1'],
  [
    'in a sentence, in quotes',
    "'https://u:p@h.example/x?token=t': a webhook URL is http:// or https://",
    `'https://u:${M}@h.example/x?token=${M}': a webhook URL is http:// or https://`,
  ],
  ['in parentheses, the closing one stays', 'POST (https://h.example/x?key=abc) failed.', `POST (https://h.example/x?key=${M}) failed.`],
  ['before a colon, the colon stays', 'POST https://h.example/x?token=abc: HTTP 403', `POST https://h.example/x?token=${M}: HTTP 403`],
  ['two URLs', 'from https://a:1@x.example to https://b:2@y.example', `from https://a:${M}@x.example to https://b:${M}@y.example`],
  [
    'text without a URL',
    'notifier #12: VRRP instance VI_1: BACKUP -> MASTER (priority 150), what? a:b@c',
    'notifier #12: VRRP instance VI_1: BACKUP -> MASTER (priority 150), what? a:b@c',
  ],
];

test('the rule, case by case', () => {
  for (const [name, input, expected] of CASES) {
    assert.equal(redactUrlSecrets(input), expected, name);
    assert.equal(redactUrlSecrets(expected), expected, `${name}: masking twice changes nothing`);
  }
  assert.equal(redactUrlSecrets('https://u:pw@h.example/?token=t', '********'), 'https://u:********@h.example/?token=********', 'another mask');
  for (const n of ['token', 'access_token', 'key', 'api_key', 'apikey', 'secret', 'sig', 'signature', 'password', 'pass', 'auth', 'X-Api-Key', 'Authorization'])
    assert.ok(isSecretParam(n), n);
  for (const n of ['page', 'format', 'author', 'state', 'sv', 'id', 'q']) assert.ok(!isSecretParam(n), n);
});

test('a real fetch() error that names the URL, masked', async () => {
  const err = await fetch('http://alice:pw-in-url@127.0.0.1:1/x?token=tok-in-url').then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err, 'fetch refuses a URL with credentials');
  assert.ok(err.message.includes('pw-in-url'), `Node's message names the URL: ${err.message}`);
  const shown = redactUrlSecrets(err.message);
  assert.ok(!shown.includes('pw-in-url') && !shown.includes('tok-in-url'), shown);
  assert.ok(shown.includes(`http://alice:${M}@127.0.0.1:1/x?token=${M}`), shown);
});

test('config messages: clip() and every diagnostic mask before they cut', () => {
  const long = `https://alived:${'p'.repeat(80)}@hooks.example.com/x?token=${'t'.repeat(80)}`;
  assert.equal(clip(long), `https://alived:${M}@hooks.example.com/x?token=${M}`);
  const cut = clip(`https://a-very-long-user-name-for-this-webhook:${'p'.repeat(40)}@h.example`);
  assert.ok(!cut.includes('ppp'), cut);
  assert.ok(!boundMessage(`'${long}' is not a URL`).includes('pppp'));
});

function capture(format: 'text' | 'json') {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += d));
  return { sink: streamSink(s, format, 'alived[1]'), text: () => text };
}

const SECRETS = ['pw-one', 'tok-two', 'pw-three', 'key-four', 'tok-five'];

function logEverywhere(log: ReturnType<typeof createLogger>): void {
  const err = Object.assign(new Error('Request cannot be constructed from a URL that includes credentials: http://u:pw-three@h.example/'), { code: 'ERR_X' });
  log.error(
    { url: 'https://ops:pw-one@hooks.example.com/a?token=tok-two', nested: { list: ['/status?api_key=key-four'] }, err },
    'POST https://hooks.example.com/a?access_token=tok-five failed',
  );
}

test('the logger masks URL secrets in every string field, nested ones, errors and the message, on text, JSON and file sinks', () => {
  const text = capture('text');
  const json = capture('json');
  const dir = tmpDir();
  const file = path.join(dir, 'alived.log');
  const fsink = fileSink(file, 'text', 'alived[1]');
  logEverywhere(createLogger([text.sink, json.sink, fsink], 'info'));
  fsink.close?.();
  for (const out of [text.text(), json.text(), fs.readFileSync(file, 'utf8')]) {
    for (const s of SECRETS) assert.ok(!out.includes(s), `${s} leaked: ${out}`);
    assert.ok(out.includes('hooks.example.com'), 'the host stays');
  }
  const rec = JSON.parse(json.text());
  assert.equal(rec.msg, `POST https://hooks.example.com/a?access_token=${M} failed`);
  assert.equal(rec.url, `https://ops:${M}@hooks.example.com/a?token=${M}`);
  assert.deepEqual(rec.nested, { list: [`/status?api_key=${M}`] });
  assert.equal(rec.err.code, 'ERR_X');
  assert.equal(rec.err.message, `Request cannot be constructed from a URL that includes credentials: http://u:${M}@h.example/`);
  assert.ok(!String(rec.err.stack).includes('pw-three'));
  assert.deepEqual(redact({ where: 'https://u:p@h.example', n: 1 }), { where: `https://u:${M}@h.example`, n: 1 });
});

test('syslog: the record reaches a real syslog socket through logger(1) already masked', async () => {
  const dir = tmpDir();
  const sock = path.join(dir, 'log.sock');
  const receiver = spawn(
    'python3',
    [
      '-c',
      `
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(${JSON.stringify(sock)})
print('ready', flush=True)
s.settimeout(10)
print(s.recv(65536).decode(), flush=True)
`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  procs.push(receiver);
  let out = '';
  receiver.stdout!.on('data', (d) => (out += d));
  await waitFor(() => out.includes('ready'));
  const sink = syslogSink({ facility: FACILITIES.daemon!, ident: 'alived', socket: sock });
  logEverywhere(createLogger([sink], 'info'));
  await waitFor(() => out.split('\n').some((l) => l.startsWith('<')));
  sink.close?.();
  const line = out.split('\n').find((l) => l.startsWith('<'))!;
  assert.match(line, new RegExp(`alived: POST https://hooks\\.example\\.com/a\\?access_token=\\[redacted\\] failed url=`));
  for (const s of SECRETS) assert.ok(!out.includes(s), `${s} leaked: ${out}`);
});

function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error('timed out'));
      setTimeout(tick, 20);
    };
    tick();
  });
}
