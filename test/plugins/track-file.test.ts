import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createFileTracker, fileUp, parseTrackedNumber, strtol, type TrackFileConfig } from '../../plugins/track-file';
import type { Tracker, TrackerContext, TrackerState } from '../../core/sdk';
import { compileText, instance, noErrors, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * track_file against real files in a temp dir: the number as keepalived's
 * strtol() reads it, a file written, replaced by a rename, deleted, holding
 * something that is not a number; init_file with and without overwrite,
 * never at a reload; a symbolic link; a missing directory.
 */

const root = tmpDir('alived-track-file-');
let seq = 0;
const newDir = (): string => {
  const d = path.join(root, String(++seq));
  fs.mkdirSync(d);
  return d;
};

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function fileConfig(body: string): Promise<TrackFileConfig> {
  const r = await compileText(`track_file tf {\n${body}\n}\n${instance('  track_file {\n    tf\n  }\n')}`);
  noErrors(r);
  return r.model!.extensions.find((e) => e.keyword === 'track_file')!.value as TrackFileConfig;
}

const trackers: Tracker[] = [];
after(async () => {
  for (const t of trackers) await t.stop();
});

function start(config: TrackFileConfig, reload = false) {
  const { log, records } = memoryLogger('debug');
  const disabled: string[] = [];
  const ctx: TrackerContext = { log, name: config.name, reload, disable: (why) => disabled.push(why) };
  const tracker = createFileTracker(config, ctx, { settleMs: 20 });
  trackers.push(tracker);
  const reports: TrackerState[] = [];
  tracker.start((s) => reports.push(s));
  const last = () => reports[reports.length - 1];
  /** waits for the next report to carry `value` */
  const until = async (value: number) => {
    assert.ok(await waitUntil(() => last()?.value === value, 3000), `waiting for ${value}; reports ${JSON.stringify(reports)}`);
  };
  return { tracker, reports, disabled, records, last, until };
}

test('strtol(buf, NULL, 0) as glibc: blanks, sign, 0x hex, leading-0 octal, stops at the first stranger, nothing is 0', () => {
  const cases: Array<[string, bigint | 'range']> = [
    ['5\n', 5n],
    ['  -12 apples', -12n],
    ['+7', 7n],
    ['0x1F', 31n],
    ['-0x10', -16n],
    ['010', 8n],
    ['08', 0n],
    ['0x', 0n],
    ['0xg', 0n],
    ['1.5', 1n],
    ['abc', 0n],
    ['', 0n],
    ['\t\n 42', 42n],
    ['9223372036854775807', 9223372036854775807n],
    ['9223372036854775808', 'range'],
    ['-9223372036854775809', 'range'],
  ];
  for (const [text, want] of cases) assert.equal(strtol(text), want, JSON.stringify(text));
});

test('the numbers keepalived takes: up to INT32_MAX + 1; beyond, or beyond a long, is ignored', () => {
  assert.deepEqual(parseTrackedNumber('2147483648'), { value: 2147483648 });
  assert.deepEqual(parseTrackedNumber('-2147483648'), { value: -2147483648 });
  assert.ok('invalid' in parseTrackedNumber('2147483649'));
  assert.ok('invalid' in parseTrackedNumber('-2147483649'));
  assert.ok('invalid' in parseTrackedNumber('99999999999999999999'));
  assert.deepEqual(parseTrackedNumber('junk'), { value: 0 });
});

test('up as the block weight decides it: weight 0 is FAULT on a non-zero number (zero with reverse); else FAULT at value x weight <= -254', () => {
  assert.equal(fileUp(0, { value: 0, reverse: false }), true);
  assert.equal(fileUp(3, { value: 0, reverse: false }), false);
  assert.equal(fileUp(0, { value: 0, reverse: true }), false);
  assert.equal(fileUp(3, { value: 0, reverse: true }), true);
  assert.equal(fileUp(-253, { value: 1, reverse: false }), true);
  assert.equal(fileUp(-254, { value: 1, reverse: false }), false);
  assert.equal(fileUp(127, { value: -2, reverse: false }), false);
  assert.equal(fileUp(127, { value: 2, reverse: true }), false);
  assert.equal(fileUp(1000, { value: 1, reverse: false }), true);
});

test('a file missing at start is 0; written, it is read; replaced by a rename, read; deleted, 0 again', async () => {
  const d = newDir();
  const f = path.join(d, 'prio');
  const t = start(await fileConfig(`  file ${f}\n  weight 10`));
  assert.deepEqual(t.reports, [{ up: true, value: 0 }], 'reported at start');
  fs.writeFileSync(f, '5\n');
  await t.until(5);
  assert.deepEqual(t.last(), { up: true, value: 5 });
  const tmp = path.join(d, '.prio.tmp');
  fs.writeFileSync(tmp, '-30\n');
  fs.renameSync(tmp, f);
  await t.until(-30);
  assert.deepEqual(t.last(), { up: false, value: -30 }, '-30 x 10 = -300: FAULT');
  fs.rmSync(f);
  await t.until(0);
  assert.deepEqual(
    t.reports.map((r) => r.value),
    [0, 5, -30, 0],
  );
  await t.tracker.stop();
});

test('a file that is moved away counts as 0; other files of the directory are not read', async () => {
  const d = newDir();
  const f = path.join(d, 'flag');
  fs.writeFileSync(f, '1\n');
  const t = start(await fileConfig(`  file ${f}\n  weight 0`));
  assert.deepEqual(t.reports, [{ up: false, value: 1 }], 'weight 0: a non-zero number is FAULT');
  fs.writeFileSync(path.join(d, 'other'), '7\n');
  await sleep(150);
  assert.equal(t.reports.length, 1);
  fs.renameSync(f, path.join(d, 'flag.old'));
  await t.until(0);
  assert.deepEqual(t.last(), { up: true, value: 0 });
  await t.tracker.stop();
});

test('something that is not a number is 0; a number out of range is ignored and the last value stays', async () => {
  const d = newDir();
  const f = path.join(d, 'n');
  fs.writeFileSync(f, '12\n');
  const t = start(await fileConfig(`  file ${f}`));
  assert.deepEqual(t.last(), { up: true, value: 12 });
  fs.writeFileSync(f, 'maintenance\n');
  await t.until(0);
  fs.writeFileSync(f, '0x20\n');
  await t.until(32);
  fs.writeFileSync(f, '99999999999\n');
  await sleep(200);
  assert.deepEqual(t.last(), { up: true, value: 32 });
  assert.ok(
    t.records.some((r) => r.msg === `Invalid number 99999999999 read from ${fs.realpathSync(f)} - ignoring`),
    JSON.stringify(t.records.map((r) => r.msg)),
  );
  fs.writeFileSync(f, '');
  await t.until(0);
  await t.tracker.stop();
});

test('a write that truncates first is read once the file is quiet, not in between (no flap through 0)', async () => {
  const d = newDir();
  const f = path.join(d, 'w');
  fs.writeFileSync(f, '4\n');
  const t = start(await fileConfig(`  file ${f}`));
  // truncate, then write 10 ms later: two inotify events, one settled read
  const fd = fs.openSync(f, 'w');
  await sleep(5);
  fs.writeSync(fd, '9\n');
  fs.closeSync(fd);
  await t.until(9);
  await sleep(100);
  assert.deepEqual(
    t.reports.map((r) => r.value),
    [4, 9],
  );
  await t.tracker.stop();
});

test('init_file: creates a missing file with its value; leaves an existing one without overwrite; overwrites it with overwrite; never at a reload', async () => {
  const d = newDir();
  const missing = path.join(d, 'missing');
  const a = start(await fileConfig(`  file ${missing}\n  init_file 3`));
  assert.equal(fs.readFileSync(missing, 'utf8'), '3\n');
  assert.deepEqual(a.reports, [{ up: true, value: 3 }]);
  await a.tracker.stop();

  const kept = path.join(d, 'kept');
  fs.writeFileSync(kept, '9\n');
  const b = start(await fileConfig(`  file ${kept}\n  init_file 3`));
  assert.equal(fs.readFileSync(kept, 'utf8'), '9\n');
  assert.deepEqual(b.reports, [{ up: true, value: 9 }]);
  await b.tracker.stop();

  const over = path.join(d, 'over');
  fs.writeFileSync(over, '9\n');
  const c = start(await fileConfig(`  file ${over}\n  init_file overwrite -2`));
  assert.equal(fs.readFileSync(over, 'utf8'), '-2\n');
  assert.deepEqual(c.reports, [{ up: true, value: -2 }]);
  await c.tracker.stop();

  const reloaded = path.join(d, 'reloaded');
  fs.writeFileSync(reloaded, '9\n');
  const r = start(await fileConfig(`  file ${reloaded}\n  init_file 1 overwrite`), true);
  assert.equal(fs.readFileSync(reloaded, 'utf8'), '9\n', 'a reload does not initialise');
  assert.deepEqual(r.reports, [{ up: true, value: 9 }]);
  await r.tracker.stop();
});

test('init_file overwrite on something that is not a regular file disables the tracker', async () => {
  const d = newDir();
  const sub = path.join(d, 'adir');
  fs.mkdirSync(sub);
  const t = start(await fileConfig(`  file ${sub}\n  init_file overwrite`));
  assert.deepEqual(t.disabled, [`Cannot initialise track file ${sub} - it is not a regular file`]);
  assert.deepEqual(t.reports, []);
  await t.tracker.stop();
});

test('a symbolic link is resolved at start: the real file is watched', async () => {
  const real = newDir();
  const links = newDir();
  const target = path.join(real, 'value');
  fs.writeFileSync(target, '2\n');
  const link = path.join(links, 'value');
  fs.symlinkSync(target, link);
  const t = start(await fileConfig(`  file ${link}`));
  assert.deepEqual(t.last(), { up: true, value: 2 });
  fs.writeFileSync(target, '6\n');
  await t.until(6);
  await t.tracker.stop();
});

test('a directory that does not exist disables the tracker', async () => {
  const f = path.join(root, 'no-such-dir', 'x');
  const t = start(await fileConfig(`  file ${f}`));
  assert.equal(t.disabled.length, 1);
  assert.match(t.disabled[0]!, /no-such-dir does not exist - removing/);
  assert.deepEqual(t.reports, []);
  await t.tracker.stop();
});

test('nothing is reported after stop()', async () => {
  const d = newDir();
  const f = path.join(d, 's');
  const t = start(await fileConfig(`  file ${f}`));
  await t.tracker.stop();
  fs.writeFileSync(f, '8\n');
  await sleep(150);
  assert.deepEqual(t.reports, [{ up: true, value: 0 }]);
});
