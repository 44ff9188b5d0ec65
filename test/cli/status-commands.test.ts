import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { CLIENT_EXIT, runClientCommand, socketOf } from '../../core/cli/status-commands';
import { defaultSocketPath, SseParser, UnixStatusClient } from '../../core/cli/status-client';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { startApiStub, type ApiStub } from './api-stub';
import { EVENTS, OUTBOX, PLUGINS, STATUS, STREAMED } from './status-fixtures';

/**
 * The API subcommands end to end: the alived command (a real process) asks
 * a real HTTP server on a unix socket that serves the API's documents, and
 * its output, exit code and requests are checked. The confirmation of
 * `outbox drop` on a terminal is driven in-process with a stdin that says
 * it is one.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
let api: ApiStub;
const children = new Set<ChildProcess>();

before(async () => {
  api = await startApiStub();
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  await api.close();
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; out: () => string; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '', ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`alived ${args.join(' ')} did not finish within 15 s; stdout: ${stdout}; stderr: ${stderr}`));
    }, 15_000);
    child.on('close', (code) => {
      clearTimeout(t);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, out: () => stdout, done };
}

function alived(...args: string[]): Promise<Run> {
  const r = start(args);
  r.child.stdin!.end();
  return r.done;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the socket: --socket, else DIR/alived.sock for --state-dir, /run/alived/alived_NAME.sock for --instance, else /run/alived/alived.sock', () => {
  assert.equal(defaultSocketPath(), '/run/alived/alived.sock');
  assert.equal(defaultSocketPath({ instance: 'lb1' }), '/run/alived/alived_lb1.sock');
  assert.equal(defaultSocketPath({ stateDir: '/srv/a' }), '/srv/a/alived.sock');
  assert.equal(socketOf({ socket: '/x.sock', stateDir: '/srv/a' }).path, '/x.sock');
  assert.equal(socketOf({ stateDir: '/srv/a', instance: 'lb1' }).path, '/srv/a/alived.sock');
  // the state directories the daemon uses without --state-dir count as not given, as the daemon counts them
  assert.equal(defaultSocketPath({ stateDir: '/var/lib/alived' }), '/run/alived/alived.sock');
  assert.equal(defaultSocketPath({ stateDir: '/var/lib/alived/instance/lb1', instance: 'lb1' }), '/run/alived/alived_lb1.sock');
});

test('alived status: the human summary over the unix socket, found from --state-dir; no colour when stdout is not a terminal', async () => {
  const r = await alived('status', '--state-dir', api.dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^alived 0\.1\.0 {2}pid 4242 {2}up 2h03m/);
  assert.match(r.stdout, /VI_1 {2}BACKUP {2}for 3m12s {2}priority 90 \(base 150\)/);
  assert.ok(r.stdout.includes(`why: BACKUP because tracker chk_nginx failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < 10.0.0.12's 100`));
  assert.match(r.stdout, /TCP {2}10\.0\.0\.100:80/);
  assert.match(r.stdout, /-> 10\.0\.0\.6:80 +DOWN/);
  assert.ok(!r.stdout.includes('\x1b['), 'no ANSI escape');
  assert.deepEqual(api.seen.at(-1), { method: 'GET', url: '/v1/status', body: undefined });
});

test('alived status --json prints the document as the API gave it', async () => {
  const r = await alived('status', '--json', '--socket', api.socketPath);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), STATUS);
});

test('alived status --watch 0.2 redraws until SIGINT, then exits 0; no screen clearing when stdout is not a terminal', async () => {
  const r = start(['status', '--watch', '0.2', '--socket', api.socketPath]);
  await until(() => (r.out().match(/^alived 0\.1\.0/gm) ?? []).length >= 2, 10_000, 'two redraws');
  r.child.kill('SIGINT');
  const done = await r.done;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(!done.stdout.includes('\x1b[2J'), 'no screen clearing');
});

test('an unreachable daemon: exit 3, the message names the socket and the flags that choose it', async () => {
  const dir = tmpDir('alived-cli-none-');
  const r = await alived('status', '--state-dir', dir);
  assert.equal(r.code, CLIENT_EXIT.UNREACHABLE);
  assert.ok(r.stderr.includes('ALIVED_API_UNREACHABLE'), r.stderr);
  assert.ok(r.stderr.includes(path.join(dir, 'alived.sock')), r.stderr);
  assert.match(r.stderr, /from --state-dir/);
  assert.match(r.stderr, /--state-dir DIR .*--instance NAME .*--socket PATH/);
  assert.equal(r.stdout, '');
  const i = await alived('events', '--instance', 'no_such_alived_test');
  assert.equal(i.code, CLIENT_EXIT.UNREACHABLE);
  assert.ok(i.stderr.includes('/run/alived/alived_no_such_alived_test.sock'), i.stderr);
});

test('a bad command line: exit 2 with the usage', async () => {
  const r = await alived('status', '--bogus');
  assert.equal(r.code, CLIENT_EXIT.USAGE);
  assert.match(r.stderr, /unknown option '--bogus'/);
  assert.match(r.stderr, /Usage: alived status/);
  const n = await alived('events', '-n', 'many', '--socket', api.socketPath);
  assert.equal(n.code, CLIENT_EXIT.USAGE);
  const h = await alived('outbox', '--help');
  assert.equal(h.code, 0);
  assert.match(h.stdout, /drop ID/);
});

test('alived events: one line per event; --json one object per line; --since and -n reach the API', async () => {
  const r = await alived('events', '--socket', api.socketPath);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, EVENTS.length);
  assert.match(lines[1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d {2}vrrp-transition {2}VI_1 {2}MASTER -> BACKUP {2}tracker chk_nginx failed/);
  const j = await alived('events', '--json', '--since', '41', '-n', '5', '--socket', api.socketPath);
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(
    j.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [EVENTS[1]],
  );
  assert.equal(api.seen.at(-1)!.url, '/v1/timeline?since=41&limit=5');
});

test('alived events -f: the timeline, then each streamed event once, until SIGINT (exit 0)', async () => {
  const r = start(['events', '-f', '--json', '--socket', api.socketPath]);
  await api.streamClients(1);
  await until(() => r.out().split('\n').length > EVENTS.length, 5000, 'the timeline');
  api.push(STREAMED);
  await until(() => r.out().includes('"seq":43'), 5000, 'the streamed event');
  r.child.kill('SIGINT');
  const done = await r.done;
  assert.equal(done.code, 0, done.stderr);
  const seqs = done.stdout
    .trimEnd()
    .split('\n')
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
  // the stream repeats the kept events after `since`: none is printed twice
  assert.deepEqual(seqs, [41, 42, 43]);
  assert.ok(api.seen.some((s) => s.url === '/v1/events?since=42'));
});

test('alived plugins: a table; --json the API document', async () => {
  const r = await alived('plugins', '--socket', api.socketPath);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAME +VERSION +ORIGIN +REGISTERS$/m);
  assert.match(r.stdout, /^acme-check +1\.2\.3 +\/etc\/keepalived\/keepalived\.conf:3:1 +checkers ACME_CHECK; keywords real_server\.ACME_CHECK$/m);
  const j = await alived('plugins', '--json', '--socket', api.socketPath);
  assert.deepEqual(JSON.parse(j.stdout), { plugins: PLUGINS });
});

test("alived notify test [NAME]: POST /v1/notify/test; exit 1 when a delivery failed, 0 when every one tried worked; an unknown name is the daemon's error", async () => {
  const all = await alived('notify', 'test', '--socket', api.socketPath);
  assert.equal(all.code, CLIENT_EXIT.FAILED);
  assert.match(all.stdout, /^ok +mail:keepalived: delivered in 23ms$/m);
  assert.match(all.stdout, /^failed +webhook:ops: POST webhook ops .*HTTP 503/m);
  assert.match(all.stdout, /^skipped +script:notify: not delivered/m);
  assert.deepEqual(api.seen.at(-1), { method: 'POST', url: '/v1/notify/test', body: {} });
  const mail = await alived('notify', 'test', 'mail', '--socket', api.socketPath);
  assert.equal(mail.code, 0, mail.stderr);
  assert.deepEqual(api.seen.at(-1)!.body, { notifier: 'mail' });
  const none = await alived('notify', 'test', 'pager', '--socket', api.socketPath);
  assert.equal(none.code, CLIENT_EXIT.FAILED);
  assert.match(none.stderr, /ALIVED_API_NOT_FOUND: no notifier 'pager'/);
  const bad = await alived('notify', '--socket', api.socketPath);
  assert.equal(bad.code, CLIENT_EXIT.USAGE);
});

test('alived outbox: list, retry, and drop refused without a terminal unless --yes', async () => {
  const list = await alived('outbox', '--socket', api.socketPath);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(OUTBOX[0]!.id));
  assert.match(list.stdout, /#1042 .*VRRP instance VI_1: MASTER -> BACKUP/);
  const retry = await alived('outbox', 'retry', '4a0c', '--socket', api.socketPath);
  assert.equal(retry.code, 0, retry.stderr);
  // a prefix is resolved to the whole id from the list
  assert.deepEqual(api.seen.at(-1), { method: 'POST', url: '/v1/outbox/retry', body: { id: OUTBOX[0]!.id } });
  const refused = await alived('outbox', 'drop', '4a0c', '--socket', api.socketPath);
  assert.equal(refused.code, CLIENT_EXIT.USAGE);
  assert.match(refused.stderr, /refused without a terminal to confirm on; give --yes/);
  assert.ok(!api.seen.some((s) => s.method === 'DELETE'), 'nothing was dropped');
  const missing = await alived('outbox', 'drop', 'ffff', '--yes', '--socket', api.socketPath);
  assert.equal(missing.code, CLIENT_EXIT.FAILED);
  assert.match(missing.stderr, /ALIVED_API_NOT_FOUND: no outbox entry 'ffff'/);
});

function ttyIo(answer: string) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: Object.assign(new PassThrough(), { isTTY: false }),
    stderr: new PassThrough(),
    stdin,
    env: {},
  };
  io.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  io.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (stderr.endsWith('[y/N] ')) stdin.write(answer);
  });
  return { io, out: () => stdout, err: () => stderr };
}

test('alived outbox drop on a terminal asks first: no keeps it, y drops it', async () => {
  const no = ttyIo('n\n');
  assert.equal(await runClientCommand(['outbox', 'drop', '4a0c', '--socket', api.socketPath], no.io), 0);
  assert.match(
    no.err(),
    /^drop 4a0c0e0e-3f7c-4bf5-9d0a-2b1f7c3e9a11:mail:keepalived \(#1042 for mail:keepalived: VRRP instance VI_1: MASTER -> BACKUP \(priority 90\)\)\? \[y\/N\] $/,
  );
  assert.equal(no.out(), 'not dropped\n');
  assert.ok(!api.seen.some((s) => s.method === 'DELETE' && s.url.startsWith('/v1/outbox/4a0c')));
  const yes = ttyIo('y\n');
  assert.equal(await runClientCommand(['outbox', 'drop', '4a0c', '--socket', api.socketPath], yes.io), 0);
  assert.equal(yes.out(), `dropped ${OUTBOX[0]!.id}\n`);
  assert.deepEqual(api.seen.at(-1), { method: 'DELETE', url: `/v1/outbox/${encodeURIComponent(OUTBOX[0]!.id)}`, body: undefined });
});

test('--watch on a terminal: the screen is cleared before each redraw, states are coloured; Ctrl-C ends it with 0', async () => {
  let out = '';
  const stdout = Object.assign(new PassThrough(), { isTTY: true });
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const ac = new AbortController();
  const run = runClientCommand(['status', '--watch', '0.2', '--socket', api.socketPath], {
    stdout,
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: {},
    signal: ac.signal,
  });
  await until(() => out.split('\x1b[H\x1b[2J').length >= 3, 10_000, 'two redraws');
  ac.abort();
  assert.equal(await run, 0);
  assert.ok(out.startsWith('\x1b[H\x1b[2J\x1b[1malived 0.1.0'), out.slice(0, 40));
  assert.ok(out.includes('\x1b[34mBACKUP\x1b[39m'));
  assert.ok(out.includes('every 0.2s; Ctrl-C to stop'));
});

test('a daemon that does not answer: the request times out, exit 3 naming the socket', async () => {
  const dir = tmpDir('alived-cli-hang-');
  const sock = path.join(dir, 'hang.sock');
  const server = net.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  try {
    let err = '';
    const stderr = new PassThrough();
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const t0 = Date.now();
    const code = await runClientCommand(['plugins', '--socket', sock], {
      stdout: new PassThrough(),
      stderr,
      stdin: new PassThrough(),
      env: {},
      client: (p, chosenBy) => new UnixStatusClient({ socketPath: p, chosenBy, timeoutMs: 300 }),
    });
    assert.equal(code, CLIENT_EXIT.UNREACHABLE);
    assert.ok(Date.now() - t0 < 3000);
    assert.ok(err.includes(`cannot reach alived's API at ${sock} (given with --socket): no answer within 0.3 s`), err);
    // Ctrl-C while waiting: 130 at once
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t1 = Date.now();
    const interrupted = await runClientCommand(['status', '--socket', sock], {
      stdout: new PassThrough(),
      stderr,
      stdin: new PassThrough(),
      env: {},
      signal: ac.signal,
    });
    assert.equal(interrupted, CLIENT_EXIT.INTERRUPTED);
    assert.ok(Date.now() - t1 < 2000);
  } finally {
    server.close();
  }
});

test('the SSE parser: fields, comments, multi-line data, CRLF, events split across chunks', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(': hello\n\nid: 1\nevent: timeline\nda'), []);
  assert.deepEqual(p.push('ta: {"a":1}\r\n\r\ndata: x\ndata: y\n'), [{ id: '1', event: 'timeline', data: '{"a":1}' }]);
  assert.deepEqual(p.push('\n'), [{ id: '1', event: 'message', data: 'x\ny' }]);
});
