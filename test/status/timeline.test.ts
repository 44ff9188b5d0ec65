import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Timeline, TIMELINE_FILE, parseLine } from '../../core/status/timeline';
import type { NewTimelineEvent } from '../../core/status/timeline';
import { memoryLogger } from '../helpers/log';
import { tmpDir } from '../helpers/config';

/**
 * The timeline: bounded in memory and on disk, read back after a restart,
 * and safe against what a crash, a full disk or a planted file leaves in the
 * state directory (the bad is set aside with one log line, the good kept).
 */

const mounts: string[] = [];
after(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // already gone
    }
  }
});

function ev(i: number): NewTimelineEvent {
  return {
    kind: 'vrrp-transition',
    subject: 'VI_1',
    before: i % 2 ? 'BACKUP' : 'MASTER',
    after: i % 2 ? 'MASTER' : 'BACKUP',
    cause: { kind: 'master-down', text: `event ${i}`, facts: { i }, because: { kind: 'tracker', text: 'tracker chk failed' } },
  };
}

async function settle(t: Timeline): Promise<void> {
  // close() waits for what is being written; a fresh one is opened by the caller when it needs one
  await t.close();
}

test('events are kept across a restart, numbered on, and the file stays bounded', async () => {
  const dir = tmpDir('alived-timeline-');
  const { log } = memoryLogger();
  const a = new Timeline({ log, stateDir: dir, capacity: 10 });
  a.open();
  for (let i = 1; i <= 35; i++) a.add(ev(i));
  assert.equal(a.size, 10);
  assert.deepEqual(
    a.query().map((e) => e.seq),
    [26, 27, 28, 29, 30, 31, 32, 33, 34, 35],
  );
  await settle(a);
  const lines = fs.readFileSync(path.join(dir, TIMELINE_FILE), 'utf8').trim().split('\n');
  assert.ok(lines.length <= 20, `the file holds at most twice the capacity, has ${lines.length}`);
  assert.equal((fs.statSync(path.join(dir, TIMELINE_FILE)).mode & 0o777).toString(8), '600');

  const b = new Timeline({ log, stateDir: dir, capacity: 10 });
  b.open();
  assert.deepEqual(
    b.query({ since: 30 }).map((e) => e.seq),
    [31, 32, 33, 34, 35],
  );
  assert.equal(b.add(ev(36)).seq, 36, 'numbering goes on after a restart');
  assert.equal(b.query({ limit: 2 }).length, 2);
  assert.equal(b.query({ since: 36 }).length, 0);
  const got = b.query({ since: 35 })[0]!;
  assert.equal(got.cause.because?.text, 'tracker chk failed');
  await settle(b);
});

test('a file with a bad line is set aside, its good events kept, and numbering goes on', async () => {
  const dir = tmpDir('alived-timeline-');
  const { log, records } = memoryLogger();
  const a = new Timeline({ log, stateDir: dir, capacity: 100 });
  a.open();
  for (let i = 1; i <= 5; i++) a.add(ev(i));
  await settle(a);
  const file = path.join(dir, TIMELINE_FILE);
  // a crash mid-line, then garbage, then a line with a cause of the wrong shape
  fs.appendFileSync(file, '{"seq":6,"time":1,"kind":"vrrp-tr\n\u0000\u0001binary\n');
  fs.appendFileSync(
    file,
    JSON.stringify({ seq: 7, time: 1, kind: 'reload', subject: 'daemon', before: null, after: 'applied', cause: { kind: 'x', text: 1 } }) + '\n',
  );
  const b = new Timeline({ log, stateDir: dir, capacity: 100 });
  b.open();
  assert.deepEqual(
    b.query().map((e) => e.seq),
    [1, 2, 3, 4, 5],
  );
  const warn = records.find((r) => r.fields.code === 'ALIVED_STATUS_TIMELINE');
  assert.ok(warn, 'one log line says the file was set aside');
  assert.match(warn!.msg, /line 6: not JSON/);
  assert.match(warn!.msg, /moved aside as timeline\.jsonl\.bad/);
  assert.ok(fs.existsSync(`${file}.bad`));
  assert.equal(records.filter((r) => r.fields.code === 'ALIVED_STATUS_TIMELINE').length, 1);
  assert.equal(b.add(ev(6)).seq, 6);
  await settle(b);
  // the good events and the new one are in the new file
  const c = new Timeline({ log, stateDir: dir, capacity: 100 });
  c.open();
  assert.deepEqual(
    c.query().map((e) => e.seq),
    [1, 2, 3, 4, 5, 6],
  );
  await settle(c);
});

test('a FIFO or a symlink at the file name is set aside, never opened or followed', async () => {
  for (const plant of ['fifo', 'symlink'] as const) {
    const dir = tmpDir('alived-timeline-');
    const file = path.join(dir, TIMELINE_FILE);
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'root secret\n', { mode: 0o600 });
    if (plant === 'fifo') execFileSync('mkfifo', [file]);
    else fs.symlinkSync(victim, file);
    const { log, records } = memoryLogger();
    const t = new Timeline({ log, stateDir: dir, capacity: 10 });
    // a FIFO opened for reading would block here: open() returns
    t.open();
    t.add(ev(1));
    await settle(t);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'root secret\n', `${plant}: the victim is untouched`);
    assert.ok(fs.lstatSync(file).isFile(), `${plant}: a regular file replaces it`);
    assert.ok(
      records.some((r) => r.fields.code === 'ALIVED_STATUS_TIMELINE' && /moved aside/.test(r.msg)),
      `${plant}: said in the log`,
    );
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8').trim()).seq, 1);
  }
});

test('a full disk: the write failure is logged once, events stay in memory and are written once there is room', async () => {
  const dir = tmpDir('alived-timeline-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir]);
  mounts.push(dir);
  const filler = path.join(dir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k', 'count=100'], { stdio: 'ignore' });
  } catch {
    // ENOSPC: full, as wanted
  }
  const { log, records } = memoryLogger();
  const t = new Timeline({ log, stateDir: dir, capacity: 50 });
  t.open();
  for (let i = 1; i <= 20; i++) t.add(ev(i));
  // let the background writes fail
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(t.size, 20, 'kept in memory');
  const failures = records.filter((r) => r.fields.code === 'ALIVED_STATUS_TIMELINE' && r.level === 'error');
  assert.equal(failures.length, 1, 'logged once');
  assert.match(failures[0]!.msg, /ENOSPC|no space/i);
  fs.rmSync(filler);
  t.add(ev(21));
  await settle(t);
  assert.ok(records.some((r) => /works again/.test(r.msg)));
  const back = new Timeline({ log, stateDir: dir, capacity: 50 });
  back.open();
  assert.deepEqual(
    back.query().map((e) => e.seq),
    Array.from({ length: 21 }, (_, i) => i + 1),
    'every event reached the file once there was room',
  );
  await settle(back);
});

test('parseLine refuses what alived does not write', () => {
  const good = { seq: 1, time: 5, kind: 'tracker', subject: 'vrrp_script chk', before: 'up', after: 'down', cause: { kind: 'tracker', text: 'x' } };
  assert.equal(typeof parseLine(JSON.stringify(good)), 'object');
  for (const [bad, why] of [
    [{ ...good, seq: 0 }, /seq/],
    [{ ...good, seq: 1.5 }, /seq/],
    [{ ...good, time: 'now' }, /time/],
    [{ ...good, kind: 'rm -rf' }, /kind/],
    [{ ...good, before: { a: 1 } }, /plain value/],
    [{ ...good, cause: { kind: 'tracker', text: 'x', facts: { a: [1] } } }, /facts/],
    [{ ...good, cause: { kind: 'tracker', text: 'x', because: { kind: 'nope', text: 'y' } } }, /cause kind/],
  ] as const) {
    const r = parseLine(JSON.stringify(bad));
    assert.equal(typeof r, 'string', JSON.stringify(bad));
    assert.match(r as string, why);
  }
  assert.match(parseLine('x'.repeat(9000)) as string, /characters/);
});
