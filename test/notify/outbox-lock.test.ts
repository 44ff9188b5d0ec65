import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT } from '../../core/cli/options';
import { isAlivedError } from '../../core/errors';
import { Outbox } from '../../core/notify/outbox';
import { formatOwner, parseOwner, processStartTime, selfOwner } from '../../core/notify/outbox-lock';
import { tmpDir, PROJECT_ROOT } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { memoryLogger } from '../helpers/log';

/**
 * The notify outbox has one owner: a second daemon started with the same
 * --state-dir refuses to start, naming the directory and the first one's
 * pid, and leaves the first one's lock and outbox alone; a lock left by a
 * daemon that was killed is taken over by the next one; a lock that names
 * a live process started at another time (a reused pid) is stale too. Real
 * daemon processes, no VRRP (no lab needed).
 */

const BIN = path.join(PROJECT_ROOT, 'dist', 'core', 'cli', 'main.js');
const procs = new Set<ChildProcess>();
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

interface Run {
  readonly proc: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

function start(dir: string, tag: string): Run {
  const lines: string[] = [];
  const proc = spawn(
    process.execPath,
    [BIN, '-n', '-l', '-G', '-f', path.join(dir, 'keepalived.conf'), '-p', path.join(dir, `${tag}.pid`), '--state-dir', path.join(dir, 'state')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  procs.add(proc);
  const take = (d: Buffer): void => {
    for (const l of d.toString().split('\n')) if (l) lines.push(l);
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return { proc, lines, exited };
}

/** resolves with the exit code, or rejects after `ms` */
async function exitWithin(r: Run, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      r.exited,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`pid ${r.proc.pid} did not exit within ${ms} ms:\n${r.lines.join('\n')}`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const lockOwner = (dir: string): number | undefined => {
  const f = path.join(dir, 'state', 'notify', 'lock');
  return fs.existsSync(f) ? parseOwner(fs.readFileSync(f, 'utf8'))?.pid : undefined;
};

test(
  "two daemons with one --state-dir: the second refuses to start, naming the directory and the pid; a killed owner's lock is taken over",
  { timeout: 60_000 },
  async () => {
    const dir = tmpDir('alived-outbox-lock-');
    // a daemon with nothing to do but hold its outbox: no VRRP, no checks
    fs.writeFileSync(path.join(dir, 'keepalived.conf'), 'global_defs {\n  router_id LOCK\n}\n');
    const outbox = path.join(dir, 'state', 'notify');

    const first = start(dir, 'first');
    await waitFor('the first daemon to hold the lock', () => (lockOwner(dir) === first.proc.pid ? true : undefined), 15_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${first.lines.join('\n')}`);
    });
    const lockText = fs.readFileSync(path.join(outbox, 'lock'), 'utf8');

    const second = start(dir, 'second');
    const code = await exitWithin(second, 15_000);
    assert.equal(code, EXIT.RUNTIME, second.lines.join('\n'));
    const said = second.lines.find((l) => l.startsWith('alived: start failed:'));
    assert.equal(
      said,
      `alived: start failed: the notify outbox ${outbox} is in use by another alived (pid ${first.proc.pid}, lock ${path.join(outbox, 'lock')}): two daemons sharing a --state-dir would both deliver the same alerts; stop that one, or give this one another --state-dir`,
      second.lines.join('\n'),
    );
    // the first one still runs, and its lock is as it was
    assert.equal(first.proc.exitCode, null);
    assert.equal(fs.readFileSync(path.join(outbox, 'lock'), 'utf8'), lockText);

    // killed: its lock stays behind, naming a dead pid; the next daemon takes it over
    first.proc.kill('SIGKILL');
    await exitWithin(first, 10_000);
    assert.equal(lockOwner(dir), first.proc.pid);
    const third = start(dir, 'third');
    await waitFor('the third daemon to take the lock over', () => (lockOwner(dir) === third.proc.pid ? true : undefined), 15_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${third.lines.join('\n')}`);
    });
    await waitFor(
      'the takeover in the log',
      () => third.lines.find((l) => l.includes(`took over the lock left by pid ${first.proc.pid}, which is not running any more`)),
      5000,
    );
    third.proc.kill('SIGTERM');
    assert.equal(await exitWithin(third, 15_000), EXIT.OK, third.lines.join('\n'));
    assert.ok(!fs.existsSync(path.join(outbox, 'lock')), 'the lock is given back at stop');
    assert.deepEqual(
      fs.readdirSync(outbox).filter((f) => f.startsWith('lock')),
      [],
      'no temporary or stale lock file left',
    );
  },
);

test('a lock naming a live process is stale when that process started at another time (a reused pid); it holds when it is the same process', () => {
  const dir = tmpDir('alived-outbox-lock-pid-');
  const notify = path.join(dir, 'notify');
  fs.mkdirSync(notify, { recursive: true });
  const init = { ...selfOwner(), pid: 1, start: processStartTime(1) };
  assert.ok(init.start, 'pid 1 has a start time');

  // pid 1 as it is: a live owner
  fs.writeFileSync(path.join(notify, 'lock'), formatOwner(init));
  const { log, records } = memoryLogger('debug');
  const held = new Outbox({ stateDir: dir, log });
  assert.throws(
    () => held.open(),
    (err: unknown) =>
      isAlivedError(err, 'ALIVED_NOTIFY_OUTBOX_LOCKED') && err.message.includes(`the notify outbox ${notify} is in use by another alived (pid 1,`),
  );
  assert.equal(held.durable, false, 'a refused outbox writes nothing');
  assert.equal(parseOwner(fs.readFileSync(path.join(notify, 'lock'), 'utf8'))?.pid, 1, 'the lock is left alone');

  // pid 1 started at another time: someone else's pid now, the lock is stale
  fs.writeFileSync(path.join(notify, 'lock'), formatOwner({ ...init, start: String(Number(init.start) + 12345) }));
  const taken = new Outbox({ stateDir: dir, log });
  taken.open();
  assert.equal(taken.durable, true);
  assert.equal(parseOwner(fs.readFileSync(path.join(notify, 'lock'), 'utf8'))?.pid, process.pid);
  assert.ok(records.some((r) => r.msg === `notify outbox ${notify}: took over the lock left by pid 1, which is not running any more`));
  taken.close();
  assert.ok(!fs.existsSync(path.join(notify, 'lock')));
});
