import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { asNobody, boundedCall, sharedDir, victimFile } from '../helpers/hostile';

/**
 * The pid file (-p) in a directory others can write: nobody plants a FIFO,
 * a symlink or a file of its own at the name. Each call runs in a child
 * process with a time limit (helpers/hostile.ts boundedCall), so a read that
 * blocked on a FIFO would fail here rather than hang.
 */

const MODULE = path.join(PROJECT_ROOT, 'dist/core/daemon/pid-file.js');

/** acquires the pid file in a child; returns what it warned, the file's text, stat and whether release() removed it */
const ACQUIRE = `
const warns = [];
const release = f.acquirePidFile(a.file, { warn: (m) => warns.push(m) });
const st = fs.lstatSync(a.file);
const text = fs.readFileSync(a.file, 'utf8');
release();
return { warns, text, pid: process.pid, regular: st.isFile(), uid: st.uid, mode: st.mode & 0o7777, removed: !fs.existsSync(a.file) };
`;

interface Acquired {
  warns: string[];
  text: string;
  pid: number;
  regular: boolean;
  uid: number;
  mode: number;
  removed: boolean;
}

function acquire(file: string): Acquired {
  const o = boundedCall(MODULE, ACQUIRE, { file });
  assert.ok(o.ok, JSON.stringify(o));
  return o.value as Acquired;
}

function failure(file: string): { code: string; message: string } {
  const o = boundedCall(MODULE, ACQUIRE, { file });
  assert.equal(o.ok, false, JSON.stringify(o));
  return (o as { error: { code: string; message: string } }).error;
}

const VICTIM_TEXT = 'root:secret:19000:0:99999:7:::\n';
const dir = sharedDir();
const victim = victimFile(dir);

test('the pid file holds the pid, mode 0644, and release() removes it', () => {
  const a = acquire(path.join(dir, 'plain.pid'));
  assert.deepEqual({ ...a, pid: 0 }, { warns: [], text: `${a.pid}\n`, pid: 0, regular: true, uid: 0, mode: 0o644, removed: true });
});

test('a pid file left by a dead process is taken over without a word', () => {
  const file = path.join(dir, 'stale.pid');
  fs.writeFileSync(file, '999999\n');
  const a = acquire(file);
  assert.deepEqual([a.warns, a.text, a.removed], [[], `${a.pid}\n`, true]);
});

const PLANTS: Record<string, { plant: (p: string) => void; reason: (p: string) => string }> = {
  'a FIFO': { plant: (p) => asNobody(`mkfifo -m666 ${p}`), reason: () => 'it is a FIFO, not a regular file' },
  'a symlink to a root file': {
    plant: (p) => asNobody(`ln -s ${victim} ${p}`),
    reason: () => `it is a symbolic link to ${victim}, not a regular file (never followed)`,
  },
  'a dangling symlink': {
    plant: (p) => asNobody(`ln -s ${p}.through ${p}`),
    reason: (p) => `it is a symbolic link to ${p}.through, not a regular file (never followed)`,
  },
  "nobody's own file naming a live pid (1)": { plant: (p) => asNobody(`echo 1 > ${p}`), reason: () => "it belongs to uid 65534, not to this process's uid 0" },
};

for (const [what, p] of Object.entries(PLANTS)) {
  test(`${what} planted by nobody at the pid file is removed with a warning naming it, never read through or blocked on`, () => {
    const file = path.join(dir, `${what.replace(/\W+/g, '-')}.pid`);
    p.plant(file);
    const a = acquire(file);
    assert.deepEqual(a.warns, [`pid file ${file}: ${p.reason(file)}; not a pid file alived wrote: removed`]);
    assert.deepEqual([a.text, a.regular, a.uid, a.removed], [`${a.pid}\n`, true, 0, true]);
    assert.equal(fs.readFileSync(victim, 'utf8'), VICTIM_TEXT);
    assert.equal(fs.existsSync(`${file}.through`), false);
  });
}

test('a live alived holding the pid file is refused, naming the pid and the file', () => {
  const file = path.join(dir, 'held.pid');
  fs.writeFileSync(file, `${process.pid}\n`);
  const e = failure(file);
  assert.equal(e.code, 'ALIVED_DAEMON_PID_FILE');
  assert.equal(e.message, `another alived (pid ${process.pid}) holds ${file}; stop it or use -p for another pid file`);
  assert.equal(fs.readFileSync(file, 'utf8'), `${process.pid}\n`);
});

test('release() leaves alone what replaced the pid file (a FIFO), without blocking', () => {
  const file = path.join(dir, 'replaced.pid');
  const o = boundedCall(
    MODULE,
    `const release = f.acquirePidFile(a.file); fs.unlinkSync(a.file); require('node:child_process').execFileSync('mkfifo', [a.file]); release(); return fs.lstatSync(a.file).isFIFO();`,
    { file },
  );
  assert.deepEqual(o, { ok: true, value: true });
});

test('errors name the pid file, the step and the system error: a directory in the way, a file as its directory', () => {
  const d = path.join(dir, 'a-dir.pid');
  fs.mkdirSync(d);
  const e = failure(d);
  assert.equal(e.code, 'ALIVED_DAEMON_PID_FILE');
  assert.equal(e.message, `cannot write pid file ${d}: cannot remove the stale one: EISDIR: illegal operation on a directory`);
  const notDir = path.join(dir, 'plain-file');
  fs.writeFileSync(notDir, '');
  const e2 = failure(path.join(notDir, 'sub', 'x.pid'));
  assert.equal(e2.message, `cannot write pid file ${notDir}/sub/x.pid: cannot create its directory ${notDir}/sub: ENOTDIR: not a directory`);
});

let small: string | undefined;
after(() => {
  if (small) spawnSync('umount', [small]);
});

test('a full file system: the error names the pid file and ENOSPC, and no temporary file is left', () => {
  const d = tmpDir('alived-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount a tmpfs (root needed): ${r.stderr}`);
  small = d;
  // fill it: what is left is less than a page
  spawnSync('sh', ['-c', `cat /dev/zero > ${d}/fill`]);
  const e = failure(path.join(d, 'alived.pid'));
  assert.equal(e.code, 'ALIVED_DAEMON_PID_FILE');
  assert.equal(e.message, `cannot write pid file ${d}/alived.pid: cannot write: ENOSPC: no space left on device`);
  assert.deepEqual(fs.readdirSync(d), ['fill']);
});
