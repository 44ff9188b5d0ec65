import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, fileSink, redact, streamSink, syslogSink, FACILITIES, REDACTED } from '../../core/log/logger';
import { tmpDir } from '../helpers/config';
import type { FileError } from '../../core/fs/safe-file';

const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
});

function capture(format: 'text' | 'json') {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += d));
  return { sink: streamSink(s, format, 'alived[1]'), text: () => text };
}

test('text lines: level, the constant message, then key=value context; child bindings carry over', () => {
  const c = capture('text');
  const log = createLogger([c.sink], 'info').child({ vrrp: 'VI_1' });
  log.info({ from: 'BACKUP', to: 'MASTER', prio: 100 }, '(VI_1) Entering MASTER STATE');
  log.debug({}, 'not shown at info');
  const line = c.text().trim();
  assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z alived\[1\] INFO \(VI_1\) Entering MASTER STATE vrrp=VI_1 from=BACKUP to=MASTER prio=100$/);
  assert.equal(c.text().split('\n').filter(Boolean).length, 1);
});

test('JSON lines carry the same fields; errors are serialised with their code', () => {
  const c = capture('json');
  const log = createLogger([c.sink], 'debug');
  const err = Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
  log.error({ server: '192.0.2.1', err }, 'check failed');
  const rec = JSON.parse(c.text());
  assert.equal(rec.level, 'error');
  assert.equal(rec.msg, 'check failed');
  assert.equal(rec.server, '192.0.2.1');
  assert.equal(rec.err.message, 'connect refused');
  assert.equal(rec.err.code, 'ECONNREFUSED');
});

test('secrets are redacted by key wherever they are, on every output', () => {
  const c = capture('json');
  const t = capture('text');
  const log = createLogger([c.sink, t.sink], 'info');
  log.info(
    {
      auth_pass: 'p4ss',
      authPass: 'p4ss',
      ahPass: 'p4ss',
      smtp: { user: 'ops', password: 'hunter2' },
      webhooks: [{ url: 'https://x', token: 'tok3n', secret: 's3' }],
    },
    'config',
  );
  for (const out of [c.text(), t.text()]) {
    for (const secret of ['p4ss', 'hunter2', 'tok3n', 's3"']) assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
  }
  assert.deepEqual(redact({ a: { Authorization: 'Bearer x', keep: 1 } }), { a: { Authorization: REDACTED, keep: 1 } });
});

test('a sink that throws does not stop the others or the caller', () => {
  const c = capture('text');
  const log = createLogger(
    [
      {
        write: () => {
          throw new Error('disk full');
        },
      },
      c.sink,
    ],
    'info',
  );
  log.warn({}, 'still logged');
  assert.match(c.text(), /WARN still logged/);
});

test('the file sink appends and reopens (log rotation)', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'alived.log');
  const sink = fileSink(f, 'text', 'alived[2]');
  const log = createLogger([sink], 'info');
  log.info({}, 'one');
  fs.renameSync(f, f + '.1');
  sink.reopen();
  log.info({}, 'two');
  sink.close?.();
  assert.match(fs.readFileSync(f + '.1', 'utf8'), /INFO one/);
  assert.match(fs.readFileSync(f, 'utf8'), /INFO two/);
});

test('syslog: records reach a real syslog socket through logger(1), with facility and severity', async () => {
  const dir = tmpDir();
  const sock = path.join(dir, 'log.sock');
  // a syslog listener on a unix datagram socket, like /dev/log
  const receiver = spawn(
    'python3',
    [
      '-c',
      `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(${JSON.stringify(sock)})
print('ready', flush=True)
s.settimeout(10)
for _ in range(2):
    print(s.recv(65536).decode(), flush=True)
`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  procs.push(receiver);
  let out = '';
  receiver.stdout!.on('data', (d) => (out += d));
  await waitFor(() => out.includes('ready'));
  const warnings: string[] = [];
  const sink = syslogSink({ facility: FACILITIES.local3!, ident: 'alived', socket: sock, warn: (l) => warnings.push(l) });
  const log = createLogger([sink], 'info');
  log.notice({ instance: 'VI_1', auth_pass: 'zzsecretzz' }, '(VI_1) Entering MASTER STATE');
  log.error({}, 'second');
  await waitFor(() => out.split('\n').filter((l) => l.startsWith('<')).length >= 2);
  sink.close?.();
  const lines = out.split('\n').filter((l) => l.startsWith('<'));
  // local3 = 19; notice = 5 -> 157; error = 3 -> 155
  assert.match(lines[0]!, /^<157>\w{3} [ \d]\d \d\d:\d\d:\d\d alived: \(VI_1\) Entering MASTER STATE instance=VI_1 auth_pass=\[redacted\]$/);
  assert.match(lines[1]!, /^<155>.* alived: second$/);
  assert.ok(!out.includes('zzsecretzz'));
  // closed on purpose: logger(1) ends, and that is no reason to warn
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(warnings, []);
});

for (const [what, socket] of [
  ['a path that does not exist', () => path.join(tmpDir(), 'no-such-socket')],
  [
    'a path that is not a socket (a regular file)',
    () => {
      const f = path.join(tmpDir(), 'not-a-socket');
      fs.writeFileSync(f, '');
      return f;
    },
  ],
] as const) {
  test(`syslog at ${what}: one warning naming the socket, however many records came before logger(1) gave up`, async () => {
    // several sinks, each with a burst: logger exits on the first line, and our writes fail with EPIPE,
    // often before its stderr arrives; that race once swallowed the warning
    for (let round = 0; round < 5; round++) {
      const sock = socket();
      const warnings: string[] = [];
      const sink = syslogSink({ facility: FACILITIES.daemon!, ident: 'alived', socket: sock, warn: (l) => warnings.push(l) });
      const log = createLogger([sink], 'info');
      for (let i = 0; i < 200; i++) log.info({ i }, 'a record');
      await waitFor(() => warnings.length > 0);
      for (let i = 0; i < 50; i++) log.info({ i }, 'after');
      await new Promise((r) => setTimeout(r, 100));
      sink.close?.();
      assert.equal(warnings.length, 1, warnings.join(''));
      assert.match(warnings[0]!, new RegExp(`^alived: syslog disabled: logger: socket ${sock}: (No such file or directory|Connection refused)\n$`));
    }
  });
}

test('the file sink refuses a FIFO or a symlink at its path (FileError naming it); a refused reopen leaves it closed', () => {
  const dir = tmpDir();
  const fifo = path.join(dir, 'fifo.log');
  spawnSync('mkfifo', [fifo]);
  assert.throws(
    () => fileSink(fifo, 'text', 'alived[3]'),
    (e: FileError) => e.code === 'ALIVED_FILE_UNSAFE' && e.message === `${fifo}: it is a FIFO, not a regular file`,
  );
  const target = path.join(dir, 'target');
  fs.writeFileSync(target, 'keep\n');
  const link = path.join(dir, 'link.log');
  fs.symlinkSync(target, link);
  assert.throws(
    () => fileSink(link, 'text', 'alived[3]'),
    (e: FileError) => e.code === 'ALIVED_FILE_UNSAFE' && e.reason === `it is a symbolic link to ${target}, not a regular file (never followed)`,
  );
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep\n');

  // rotation, then someone puts a symlink where the log was
  const f = path.join(dir, 'rotated.log');
  const sink = fileSink(f, 'text', 'alived[3]');
  const log = createLogger([sink], 'info');
  log.info({}, 'one');
  fs.renameSync(f, `${f}.1`);
  fs.symlinkSync(target, f);
  assert.throws(
    () => sink.reopen(),
    (e: FileError) => e.code === 'ALIVED_FILE_UNSAFE',
  );
  log.info({}, 'two');
  sink.close?.();
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep\n');
  assert.match(fs.readFileSync(`${f}.1`, 'utf8'), /INFO one\n$/);
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
