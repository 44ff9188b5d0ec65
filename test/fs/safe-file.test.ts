import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { asNobody, boundedCall, NOBODY_UID, sharedDir, victimFile, type Outcome } from '../helpers/hostile';

/**
 * core/fs/safe-file.ts against a real hostile user: nobody plants FIFOs,
 * symlinks and files of its own in a sticky world-writable directory, and
 * root writes and reads there. Every call runs in a child process with a
 * time limit, so a call that blocks on a FIFO fails its test instead of
 * hanging the run (a thread blocked in open(2) would even keep this process
 * from exiting).
 */

const MODULE = path.join(PROJECT_ROOT, 'dist/core/fs/safe-file.js');

/** `body`: the body of an async function of `f` (the module), `fs` and `a` (the args) */
const bounded = (body: string, a: Record<string, unknown> = {}, opts: { umask?: number } = {}): Outcome => boundedCall(MODULE, body, a, opts);

function refused(o: Outcome, file: string, reason: RegExp): void {
  assert.equal(o.ok, false, `expected a refusal of ${file}, got ${JSON.stringify(o)}`);
  if (o.ok) return;
  assert.equal(o.error.name, 'AlivedError');
  assert.equal(o.error.code, 'ALIVED_FILE_UNSAFE', o.error.message);
  assert.equal(o.error.file, file);
  assert.match(o.error.reason!, reason);
  assert.ok(o.error.message.startsWith(`${file}: `), o.error.message);
}

/** entries a write left beside `file`: its temporary files would start with `.NAME.` */
function leftovers(file: string): string[] {
  return fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith(`.${path.basename(file)}.`));
}

const VICTIM_TEXT = 'root:secret:19000:0:99999:7:::\n';
let dir: string;
let victim: string;
before(() => {
  dir = sharedDir();
  victim = victimFile(dir);
});

function assertVictimUntouched(): void {
  const st = fs.statSync(victim);
  assert.equal(fs.readFileSync(victim, 'utf8'), VICTIM_TEXT, 'the symlink target is untouched');
  assert.equal(st.mode & 0o7777, 0o600);
  assert.equal(st.uid, 0);
}

let n = 0;
/** a fresh name in the shared directory */
function fresh(stem: string): string {
  return path.join(dir, `${stem}-${++n}`);
}

// what nobody leaves at a path before root writes or reads it
const PLANTS: Record<string, { plant: (p: string) => void; kind: string; reason: RegExp }> = {
  'a FIFO': { plant: (p) => asNobody(`mkfifo -m666 ${p}`), kind: 'FIFO', reason: /^it is a FIFO, not a regular file$/ },
  'a symlink to a root file': {
    plant: (p) => asNobody(`ln -s ${victim} ${p}`),
    kind: 'symbolic link',
    reason: /^it is a symbolic link to .*\/victim, not a regular file \(never followed\)$/,
  },
  'a dangling symlink': {
    plant: (p) => asNobody(`ln -s ${p}.created-through-link ${p}`),
    kind: 'symbolic link',
    reason: /^it is a symbolic link to .*created-through-link, not a regular file/,
  },
  'a directory': { plant: (p) => asNobody(`mkdir -m777 ${p}`), kind: 'directory', reason: /^it is a directory, not a regular file$/ },
};

for (const variant of ['writeFileAtomic', 'writeFileAtomicSync'] as const) {
  for (const [what, p] of Object.entries(PLANTS)) {
    if (p.kind === 'directory') continue;
    test(`${variant} replaces ${what} planted by nobody, never opening or following it: root's file, mode 0600, the content`, () => {
      const file = fresh('dump');
      p.plant(file);
      const o = bounded(`return await f.${variant}(a.file, 'the dump\\n')`, { file });
      assert.deepEqual(o, { ok: true, value: { replaced: p.kind } });
      const st = fs.lstatSync(file);
      assert.ok(st.isFile());
      assert.equal(st.mode & 0o7777, 0o600);
      assert.equal(st.uid, 0);
      assert.equal(fs.readFileSync(file, 'utf8'), 'the dump\n');
      assertVictimUntouched();
      assert.equal(fs.existsSync(`${file}.created-through-link`), false, 'nothing created through the link');
      assert.deepEqual(leftovers(file), []);
    });
  }

  test(`${variant} replaces nobody's own regular file (mode 0666) with root's, and says nothing was replaced`, () => {
    const file = fresh('dump');
    asNobody(`echo planted > ${file}; chmod 666 ${file}`);
    assert.deepEqual(bounded(`return await f.${variant}(a.file, 'x')`, { file }), { ok: true, value: {} });
    const st = fs.statSync(file);
    assert.deepEqual([st.uid, st.mode & 0o7777, fs.readFileSync(file, 'utf8')], [0, 0o600, 'x']);
  });

  test(`${variant}: the mode asked for, exactly, whatever the umask; fsync works`, () => {
    const file = fresh('mode');
    assert.equal(bounded(`return await f.${variant}(a.file, 'x', { mode: 0o644, fsync: true })`, { file }, { umask: 0o077 }).ok, true);
    assert.equal(fs.statSync(file).mode & 0o7777, 0o644);
    assert.deepEqual(leftovers(file), []);
  });

  test(`${variant} onto a directory fails naming the file and the step, and leaves no temporary file`, () => {
    const file = fresh('dir');
    PLANTS['a directory']!.plant(file);
    const o = bounded(`return await f.${variant}(a.file, 'x')`, { file });
    assert.equal(o.ok, false);
    if (o.ok) return;
    assert.equal(o.error.code, 'ALIVED_FILE_FAILED');
    assert.equal(o.error.errno, 'EISDIR');
    assert.match(o.error.message, new RegExp(`^${file}: cannot rename \\.dir-\\d+\\.[0-9a-f]{16} to it: EISDIR: illegal operation on a directory$`));
    assert.deepEqual(leftovers(file), []);
    assert.ok(fs.statSync(file).isDirectory());
  });
}

// a full file system: a tmpfs of 64 KiB
let small: string | undefined;
before(() => {
  const d = tmpDir('alived-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=1777', 'tmpfs', d], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount a tmpfs (root needed): ${r.stderr}`);
  small = d;
});
after(() => {
  if (small) spawnSync('umount', [small]);
});

for (const variant of ['writeFileAtomic', 'writeFileAtomicSync'] as const) {
  test(`${variant} on a full file system (ENOSPC): the old file stays as it was, no temporary file is left`, () => {
    const file = path.join(small!, `${variant}.data`);
    fs.writeFileSync(file, 'old\n');
    const o = bounded(`return await f.${variant}(a.file, Buffer.alloc(256 * 1024, 120))`, { file });
    assert.equal(o.ok, false);
    if (o.ok) return;
    assert.equal(o.error.code, 'ALIVED_FILE_FAILED');
    assert.equal(o.error.errno, 'ENOSPC');
    assert.equal(o.error.message, `${file}: cannot write: ENOSPC: no space left on device`);
    assert.equal(fs.readFileSync(file, 'utf8'), 'old\n');
    assert.deepEqual(fs.readdirSync(small!).sort(), [`${variant}.data`]);
    // and the space is back: a small write goes through
    assert.equal(bounded(`return await f.${variant}(a.file, 'new\\n')`, { file }).ok, true);
    assert.equal(fs.readFileSync(file, 'utf8'), 'new\n');
    fs.rmSync(file);
  });
}

test('createFileExclusiveSync creates a whole file once; anything already there (a FIFO, a symlink, a file) makes it return false, untouched', () => {
  const file = fresh('pid');
  assert.deepEqual(bounded(`return f.createFileExclusiveSync(a.file, '42\\n', { mode: 0o644 })`, { file }), { ok: true, value: true });
  assert.equal(fs.readFileSync(file, 'utf8'), '42\n');
  assert.equal(fs.statSync(file).mode & 0o7777, 0o644);
  assert.deepEqual(bounded(`return f.createFileExclusiveSync(a.file, '43\\n')`, { file }), { ok: true, value: false });
  assert.equal(fs.readFileSync(file, 'utf8'), '42\n');
  for (const [what, p] of Object.entries(PLANTS)) {
    const other = fresh('pid');
    p.plant(other);
    assert.deepEqual(bounded(`return f.createFileExclusiveSync(a.file, '44\\n')`, { file: other }), { ok: true, value: false }, what);
    assert.deepEqual(leftovers(other), [], what);
  }
  assertVictimUntouched();
});

test('openAppendSync creates the file 0640 and appends; an existing file of root is appended to', () => {
  const file = fresh('log');
  const o = bounded(
    `const fd = f.openAppendSync(a.file); fs.writeSync(fd, 'one\\n'); fs.closeSync(fd);
    const fd2 = f.openAppendSync(a.file); fs.writeSync(fd2, 'two\\n'); fs.closeSync(fd2);`,
    { file },
    { umask: 0o022 },
  );
  assert.equal(o.ok, true, JSON.stringify(o));
  assert.equal(fs.readFileSync(file, 'utf8'), 'one\ntwo\n');
  assert.equal(fs.statSync(file).mode & 0o7777, 0o640);
});

for (const [what, p] of Object.entries(PLANTS)) {
  test(`openAppendSync refuses ${what} planted by nobody, at once, naming it`, () => {
    const file = fresh('log');
    p.plant(file);
    refused(bounded(`return f.openAppendSync(a.file)`, { file }), file, p.reason);
    assertVictimUntouched();
    assert.equal(fs.existsSync(`${file}.created-through-link`), false);
  });
}

test('openAppendSync refuses a FIFO that has a reader (open succeeds, fstat says FIFO)', () => {
  const file = fresh('log');
  asNobody(`mkfifo -m666 ${file}`);
  const reader = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    refused(bounded(`return f.openAppendSync(a.file)`, { file }), file, /^it is a FIFO, not a regular file$/);
  } finally {
    fs.closeSync(reader);
  }
});

test("openAppendSync refuses nobody's regular file, a hard link to root's file, and a device", () => {
  const theirs = fresh('log');
  asNobody(`touch ${theirs}; chmod 666 ${theirs}`);
  refused(bounded(`return f.openAppendSync(a.file)`, { file: theirs }), theirs, new RegExp(`^it belongs to uid ${NOBODY_UID}, not to this process's uid 0$`));
  assert.equal(fs.statSync(theirs).size, 0);
  const link = fresh('log');
  fs.linkSync(victim, link);
  refused(bounded(`return f.openAppendSync(a.file)`, { file: link }), link, /^it has 2 hard links \(another name for the same file\)$/);
  assertVictimUntouched();
  refused(bounded(`return f.openAppendSync(a.file)`, { file: '/dev/null' }), '/dev/null', /^it is a character device, not a regular file$/);
});

for (const variant of ['readFileSafe', 'readFileSafeSync'] as const) {
  test(`${variant} reads a regular file, and a file of nobody unless ownedBySelf`, () => {
    const file = fresh('pid');
    asNobody(`echo 1234 > ${file}`);
    assert.deepEqual(bounded(`return await f.${variant}(a.file)`, { file }), { ok: true, value: '1234\n' });
    refused(bounded(`return await f.${variant}(a.file, { ownedBySelf: true })`, { file }), file, /^it belongs to uid 65534/);
  });

  for (const [what, p] of Object.entries(PLANTS)) {
    test(`${variant} refuses ${what} planted by nobody, at once`, () => {
      const file = fresh('pid');
      p.plant(file);
      refused(bounded(`return await f.${variant}(a.file)`, { file }), file, p.reason);
    });
  }

  test(`${variant} refuses a file larger than maxBytes; a missing file is ALIVED_FILE_FAILED with errno ENOENT`, () => {
    const file = fresh('pid');
    fs.writeFileSync(file, 'x'.repeat(100));
    refused(bounded(`return await f.${variant}(a.file, { maxBytes: 64 })`, { file }), file, /^it is larger than 64 bytes$/);
    assert.equal((bounded(`return await f.${variant}(a.file, { maxBytes: 100 })`, { file }) as { value: string }).value.length, 100);
    const o = bounded(`return await f.${variant}(a.file)`, { file: `${file}.missing` });
    assert.equal(o.ok, false);
    if (o.ok) return;
    assert.deepEqual(
      [o.error.code, o.error.errno, o.error.message],
      ['ALIVED_FILE_FAILED', 'ENOENT', `${file}.missing: cannot open: ENOENT: no such file or directory`],
    );
  });
}
