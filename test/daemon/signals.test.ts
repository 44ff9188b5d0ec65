import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { keepalivedAvailable } from '../../core/lab/vrrp-lab';
import { oneRunAtATime, realtimeSignals, signalNumber, SIGNAL_FUNCTIONS } from '../../core/daemon/signals';
import { PROJECT_ROOT } from '../helpers/config';

/**
 * `alived --signum=NAME` prints what `keepalived --signum=NAME` prints, and
 * the addon catches a real-time signal Node's process.on() cannot: a
 * process that watches SIGRTMIN+2 gets it and lives on; after the watch is
 * closed the signal's default action ends it again.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');

function run(cmd: string, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("--signum: the numbers of keepalived's signal functions, from this libc", () => {
  const { min, max } = realtimeSignals();
  // glibc keeps two real-time signals for its threads
  assert.deepEqual({ min, max }, { min: 34, max: 64 });
  const want: Record<string, number> = { STOP: 15, RELOAD: 1, DATA: 10, STATS: 12, STATS_CLEAR: max - 1, JSON: min + 2 };
  for (const name of SIGNAL_FUNCTIONS) {
    assert.equal(signalNumber(name), want[name], name);
    const r = run(process.execPath, [BIN, `--signum=${name}`]);
    assert.deepEqual(r, { code: 0, out: `${want[name]}\n`, err: '' }, name);
  }
  // the option takes its value as the next word too
  assert.equal(run(process.execPath, [BIN, '--signum', 'JSON']).out, '36\n');
});

test("--signum: an unknown name (TDUMP is only in keepalived's debug builds, names are case-sensitive) exits 1", () => {
  for (const name of ['TDUMP', 'json', 'FOO']) {
    assert.deepEqual(run(process.execPath, [BIN, `--signum=${name}`]), { code: 1, out: '', err: `Unknown sigfunc ${name}\n` });
  }
});

test("--signum: the same numbers and messages as keepalived's", { skip: keepalivedAvailable() ? false : 'keepalived is not installed' }, () => {
  for (const name of [...SIGNAL_FUNCTIONS, 'TDUMP', 'FOO']) {
    assert.deepEqual(run(process.execPath, [BIN, `--signum=${name}`]), run('keepalived', [`--signum=${name}`]), name);
  }
});

const CATCHER = `
const { watchRealtimeSignal, signalNumber } = require(${JSON.stringify(path.join(PROJECT_ROOT, 'dist/core/daemon/signals.js'))});
const n = signalNumber('JSON');
let got = 0;
const close = watchRealtimeSignal(n, () => {
  got++;
  if (got < 3) return process.kill(process.pid, n);
  close();
  close();
  console.log('caught ' + got);
  // the default action is back: this ends the process
  process.kill(process.pid, n);
  setTimeout(() => console.log('still alive'), 1000);
});
process.kill(process.pid, n);
// the watch does not keep the process alive by itself
setTimeout(() => {}, 5000);
`;

test('a real-time signal is caught on the event loop, each time; closed, its default action ends the process', () => {
  // Node names no real-time signal (its `signal` is ''): the shell reports 128 + the number
  const r = spawnSync('sh', ['-c', '"$0" -e "$1"; echo "exit $?"', process.execPath, CATCHER], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.stdout, `caught 3\nexit ${128 + signalNumber('JSON')!}\n`, r.stderr);
});

test('watchRealtimeSignal refuses a signal that is not real-time', () => {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `const { watchRealtimeSignal } = require(${JSON.stringify(path.join(PROJECT_ROOT, 'dist/core/daemon/signals.js'))});
       try { watchRealtimeSignal(15, () => {}); } catch (e) { console.log(e.code); }`,
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  assert.equal(r.stdout, 'ERR_OUT_OF_RANGE\n', r.stderr);
});

test('oneRunAtATime: signals while the job runs make exactly one more run, after it; a failing job does not stop the next', async () => {
  let runs = 0;
  let active = 0;
  let maxActive = 0;
  let release: () => void = () => undefined;
  const trigger = oneRunAtATime(async () => {
    runs++;
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((r) => (release = r));
    active--;
    if (runs === 2) throw new Error('the second run fails');
  });
  trigger();
  for (let i = 0; i < 100; i++) trigger();
  assert.equal(runs, 1);
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(runs, 2, 'the signals during the first run make one more');
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(runs, 2, 'no signal came during the second run');
  trigger();
  assert.equal(runs, 3, 'after a failed run the next signal runs at once');
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(maxActive, 1);
});
