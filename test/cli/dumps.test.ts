import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { signalNumber } from '../../core/daemon/signals';
import { PROJECT_ROOT, writeFiles } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * A real daemon (checks only, no VRRP: loopback only) answers keepalived's
 * signals: SIGUSR1 writes the checker data file with its virtual server,
 * both real servers and their checkers' results; the JSON signal without a
 * VRRP instance writes nothing (as keepalived) and STATS_CLEAR is logged,
 * and neither real-time signal ends the daemon, as their default action
 * would. Run under the name keepalived, the dumps take keepalived's names.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const NAME = `dumps${process.pid}`;
const children: ChildProcess[] = [];
const servers: net.Server[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of servers) s.close();
  for (const base of [`/tmp/alived_${NAME}`, `/tmp/keepalived_${NAME}`]) {
    for (const f of ['.data', '.stats', '.json', '_check.data']) fs.rmSync(`${base}${f}`, { force: true });
  }
});

/** throws, with what the daemon printed, once it has ended: a wait for its files ends there, not at its timeout */
function running(child: ChildProcess, out: () => string): void {
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the daemon ended (${child.signalCode ?? child.exitCode}):\n${out()}`);
}

/** one real server on a port nothing listens on (the discard port): the daemon runs its checker and has a virtual server to dump */
const ONE_SERVER = `virtual_server 127.0.0.1 8080 {
  delay_loop 1
  protocol TCP
  real_server 127.0.0.1 9 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;

interface Started {
  readonly child: ChildProcess;
  /** what it printed so far */
  readonly out: () => string;
  /** its exit code, or the signal that ended it */
  readonly exited: Promise<string | number | null>;
  readonly pidFile: string;
}

/** A checks-only daemon on `dir`/a.conf, its pid file and state directory in `dir`, named `name`; `bin` is the path it is run by. */
function startDaemon(dir: string, name: string, bin = BIN): Started {
  fs.mkdirSync(path.join(dir, 'state'));
  const pidFile = path.join(dir, 'a.pid');
  const child = spawn(
    process.execPath,
    [bin, '-n', '-l', '-G', '-C', '-f', 'a.conf', '-p', pidFile, '--state-dir', path.join(dir, 'state'), '--instance', name],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<string | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  return { child, out: () => out, exited, pidFile };
}

function listen(): Promise<net.Server> {
  const s = net.createServer((c) => c.destroy());
  servers.push(s);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

test('SIGUSR1 writes the checker data; the JSON and STATS_CLEAR signals are answered and the daemon lives on', async () => {
  const up = (await listen()).address() as net.AddressInfo;
  // a port nothing listens on: bound, then closed
  const gone = await listen();
  const downPort = (gone.address() as net.AddressInfo).port;
  await new Promise((r) => gone.close(r));
  const dir = writeFiles({
    'a.conf': `virtual_server 127.0.0.1 8080 {
  delay_loop 1
  protocol TCP
  real_server 127.0.0.1 ${up.port} {
    weight 3
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 127.0.0.1 ${downPort} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`,
  });
  const { child, out, exited, pidFile } = startDaemon(dir, NAME);
  const checkFile = `/tmp/alived_${NAME}_check.data`;
  try {
    await waitFor('the daemon to start', () => (out().includes('Starting') || fs.existsSync(pidFile) ? true : undefined));
    // until both checkers have a result
    const text = await waitFor(
      'both checkers in the check data',
      () => {
        child.kill('SIGUSR1');
        const t = fs.existsSync(checkFile) ? fs.readFileSync(checkFile, 'utf8') : '';
        return /Status = UP/.test(t) && /Status = DOWN/.test(t) ? t : undefined;
      },
      15_000,
      300,
    );
    assert.match(text, /^------< LVS Topology >------\n ------< Virtual server >------\n VS VIP = 127\.0\.0\.1, VPORT = 8080\n {3}protocol = TCP\n/);
    assert.match(
      text,
      new RegExp(
        `^ {3}RIP = 127\\.0\\.0\\.1, RPORT = ${up.port}, WEIGHT = 3 EFF WEIGHT = 3\\n {3}Inhibit on failure is OFF\\n {3}initial weight = 3\\n {3}effective weight = 3\\n {3}alive = 1\\n`,
        'm',
      ),
    );
    assert.match(text, new RegExp(`^ {3}RIP = 127\\.0\\.0\\.1, RPORT = ${downPort}, .*\\n(.*\\n){3} {3}alive = 0\\n {3}num failed checkers = 1$`, 'm'));
    assert.match(text, new RegExp(`^ \\[127\\.0\\.0\\.1\\]:tcp:8080 -> 127\\.0\\.0\\.1:${downPort}\\n {3}Keepalive method = TCP_CHECK\\n`, 'm'));
    assert.match(text, /^ {3}Last result = FAILED in [\d.]+ ms: .*connection refused/m);
    assert.equal(fs.statSync(checkFile).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(`/tmp/alived_${NAME}.data`, 'utf8'), /^------< VRRP Topology >------\n$/);

    // ChildProcess.kill() takes named signals only; process.kill() any number
    process.kill(child.pid!, signalNumber('STATS_CLEAR')!);
    process.kill(child.pid!, signalNumber('JSON')!);
    await waitFor(
      'the STATS_CLEAR line',
      () => (out().includes("keepalived's STATS_CLEAR signal: alived does not clear its counters; ignored") ? true : undefined),
      5000,
    );
    // pending real-time signals are delivered lowest first: JSON (36) was handled before the STATS_CLEAR line;
    // a SIGUSR2 after both shows the daemon answering still
    fs.rmSync(`/tmp/alived_${NAME}.stats`, { force: true });
    child.kill('SIGUSR2');
    await waitFor('the stats file', () => (fs.existsSync(`/tmp/alived_${NAME}.stats`) ? true : undefined), 5000);
    assert.equal(child.exitCode, null, out());
    assert.ok(!fs.existsSync(`/tmp/alived_${NAME}.json`), 'no JSON without VRRP instances');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out());
});

test("run as keepalived (a symlink in its place), the dumps take keepalived's names", async () => {
  const dir = writeFiles({ 'a.conf': ONE_SERVER });
  fs.symlinkSync(BIN, path.join(dir, 'keepalived'));
  // the first test's dumps
  for (const f of ['.data', '.stats', '.json', '_check.data']) fs.rmSync(`/tmp/alived_${NAME}${f}`, { force: true });
  const { child, out, exited, pidFile } = startDaemon(dir, NAME, path.join(dir, 'keepalived'));
  try {
    await waitFor('the pid file', () => (fs.existsSync(pidFile) ? true : undefined));
    const want = [`/tmp/keepalived_${NAME}.data`, `/tmp/keepalived_${NAME}_check.data`, `/tmp/keepalived_${NAME}.stats`];
    await waitFor(
      "keepalived's file names",
      () => {
        running(child, out);
        child.kill('SIGUSR1');
        child.kill('SIGUSR2');
        return want.every((f) => fs.existsSync(f)) ? true : undefined;
      },
      10_000,
      300,
    );
    assert.match(fs.readFileSync(want[1]!, 'utf8'), /^ VS VIP = 127\.0\.0\.1, VPORT = 8080$/m);
    for (const f of ['.data', '.stats', '_check.data']) assert.ok(!fs.existsSync(`/tmp/alived_${NAME}${f}`), f);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out());
});

test('signals sent the moment the pid file appears are caught: SIGUSR2, SIGHUP and SIGUSR1 do not meet their default action', async () => {
  const dir = writeFiles({ 'a.conf': ONE_SERVER });
  const name = `${NAME}sig`;
  const stats = `/tmp/alived_${name}.stats`;
  fs.rmSync(stats, { force: true });
  const { child, out, exited, pidFile } = startDaemon(dir, name);
  try {
    // as a script would: the signals go as soon as the file is there (polled every millisecond)
    await waitFor('the pid file', () => (fs.existsSync(pidFile) ? true : undefined), 10_000, 1);
    child.kill('SIGUSR2');
    child.kill('SIGHUP');
    child.kill('SIGUSR1');
    await waitFor('the stats file', () => (running(child, out), fs.existsSync(stats) ? true : undefined), 10_000);
    await waitFor('the reload', () => (running(child, out), out().includes('Reload complete') ? true : undefined), 10_000);
    assert.equal(child.exitCode, null, out());
    assert.equal(child.signalCode, null, out());
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(stats, { force: true });
    for (const f of ['.data', '_check.data']) fs.rmSync(`/tmp/alived_${name}${f}`, { force: true });
  }
  assert.equal(await exited, 0, out());
});

test('signals while the daemon is being built (a plugin still loading) do not end it: it starts and answers them', async () => {
  const dir = writeFiles({
    // a plugin that takes its time to load: it says it is loading, then holds the thread for 1.5 s
    'slow.js': `require('node:fs').writeFileSync(__dirname + '/loading', '');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
module.exports = { name: 'slow', version: '1.0.0', apply() {} };
`,
    'a.conf': `plugins {
  "./slow.js"
}
${ONE_SERVER}`,
  });
  const name = `${NAME}early`;
  const { child, out, exited, pidFile } = startDaemon(dir, name);
  try {
    await waitFor('the plugin to load', () => (running(child, out), fs.existsSync(path.join(dir, 'loading')) ? true : undefined), 10_000, 5);
    assert.ok(!fs.existsSync(pidFile), 'no pid file while the daemon is built');
    child.kill('SIGUSR2');
    child.kill('SIGHUP');
    child.kill('SIGUSR1');
    await waitFor('the pid file', () => (running(child, out), fs.existsSync(pidFile) ? true : undefined), 10_000);
    await waitFor('the daemon to start', () => (running(child, out), out().includes('Starting alived') ? true : undefined), 10_000);
    // handled by whichever handler holds them when the event loop reads them: here the daemon's own
    await waitFor('the reload', () => (running(child, out), out().includes('Reload complete') ? true : undefined), 10_000);
    await waitFor('the stats file', () => (running(child, out), fs.existsSync(`/tmp/alived_${name}.stats`) ? true : undefined), 10_000);
  } finally {
    child.kill('SIGTERM');
    for (const f of ['.data', '.stats', '_check.data']) fs.rmSync(`/tmp/alived_${name}${f}`, { force: true });
  }
  assert.equal(await exited, 0, out());
});
