import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkScript, prepareScript, scriptIdentity, isExecutableBy } from '../../core/script/security';
import { ScriptLauncher } from '../../core/script/launcher';
import { tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * keepalived's script security (check_script_secure()) against real files,
 * directories, owners and modes: a script that runs as root is refused
 * (enable_script_security) or warned about when a non-root user could change
 * it or a directory on its path; the message names the path and why.
 */

const isRoot = process.getuid?.() === 0;
if (!isRoot) throw new Error('test/script/security needs root: it makes files owned by other users (run the tests as root, as CI does)');

const ROOT = { uid: 0, gid: 0 };
const NOBODY = { uid: 65534, gid: 65534 };

// mkdtemp's 0700 root directory under /tmp (root, sticky): a safe place; 0755 so nobody reaches it
const base = tmpDir('alived-security-');
fs.chmodSync(base, 0o755);

function dir(name: string, mode = 0o755, owner?: { uid: number; gid: number }): string {
  const d = path.join(base, name);
  fs.mkdirSync(d, { recursive: true });
  if (owner) fs.chownSync(d, owner.uid, owner.gid);
  fs.chmodSync(d, mode);
  return d;
}

function script(d: string, name: string, body = 'exit 0', mode = 0o755, owner?: { uid: number; gid: number }): string {
  const f = path.join(d, name);
  fs.writeFileSync(f, `#!/bin/sh\n${body}\n`);
  if (owner) fs.chownSync(f, owner.uid, owner.gid);
  fs.chmodSync(f, mode);
  return f;
}

test('a root-owned script in root-owned directories is safe to run as root', async () => {
  const d = dir('safe');
  const s = script(d, 'ok.sh');
  const c = await checkScript([s, 'arg'], ROOT, { enforce: true });
  assert.equal(c.refused, undefined);
  assert.equal(c.unsafe, undefined);
  assert.equal(c.asRoot, true);
  assert.deepEqual(c.argv, [s, 'arg']);
});

test('a world-writable directory on the path: refused with enable_script_security, the message names the directory', async () => {
  const d = dir('world', 0o777);
  const s = script(d, 'w.sh');
  const c = await checkScript([s], ROOT, { enforce: true });
  assert.equal(c.refused?.code, 'EINSECURE');
  assert.equal(c.refused?.path, d);
  assert.equal(c.refused?.reason, `${d} is writable by every user (mode 0777), and the script would run as root (uid 0)`);
  // without it, keepalived runs the script and says it is unsafe
  const w = await checkScript([s], ROOT, { enforce: false });
  assert.equal(w.refused, undefined);
  assert.deepEqual(w.unsafe, { path: d, why: 'is writable by every user (mode 0777)' });
});

test('a directory group-writable by a non-root group is unsafe; by group root it is not', async () => {
  const g = dir('groupw', 0o775, { uid: 0, gid: 65534 });
  const s = script(g, 'g.sh');
  const c = await checkScript([s], ROOT, { enforce: true });
  assert.equal(c.refused?.code, 'EINSECURE');
  assert.match(c.refused!.reason, new RegExp(`^${g} is writable by group 65534 \\(mode 0775\\)`));
  const r = dir('groupw-root', 0o775, { uid: 0, gid: 0 });
  assert.equal((await checkScript([script(r, 'r.sh')], ROOT, { enforce: true })).refused, undefined);
});

test('a script owned by a non-root user, or a group-writable script, is unsafe', async () => {
  const d = dir('owners');
  const owned = script(d, 'nobody-owns.sh', 'exit 0', 0o755, NOBODY);
  const c = await checkScript([owned], ROOT, { enforce: true });
  assert.equal(c.refused?.path, owned);
  assert.match(c.refused!.reason, /is owned by uid 65534, not root/);
  const gw = script(d, 'group-writable.sh', 'exit 0', 0o775, { uid: 0, gid: 65534 });
  assert.match((await checkScript([gw], ROOT, { enforce: true })).refused!.reason, /is writable by group 65534 \(mode 0775\)/);
  const ww = script(d, 'world-writable.sh', 'exit 0', 0o757);
  assert.match((await checkScript([ww], ROOT, { enforce: true })).refused!.reason, /is writable by every user \(mode 0757\)/);
});

test('a directory owned by a non-root user is unsafe even when not writable by others', async () => {
  const d = dir('nobody-dir', 0o755, NOBODY);
  const c = await checkScript([script(d, 'x.sh')], ROOT, { enforce: true });
  assert.equal(c.refused?.path, d);
  assert.match(c.refused!.reason, /is owned by uid 65534, not root/);
});

test('a world-writable directory with the sticky bit owned by root (such as /tmp) is safe', async () => {
  const d = dir('sticky', 0o1777);
  assert.equal((await checkScript([script(d, 's.sh')], ROOT, { enforce: true })).refused, undefined);
});

test('symbolic links are resolved: the real path is checked and is what runs', async () => {
  const unsafeDir = dir('link-unsafe', 0o777);
  const real = script(unsafeDir, 'real.sh');
  const safeDir = dir('link-safe');
  const link = path.join(safeDir, 'real.sh');
  fs.symlinkSync(real, link);
  const c = await checkScript([link], ROOT, { enforce: true });
  assert.equal(c.refused?.path, unsafeDir, 'a safe-looking link to a file in an unsafe directory is refused');

  // a link in an unsafe directory to a safe file: the safe file runs, so nobody can swap it
  const safeReal = script(safeDir, 'target.sh');
  const link2 = path.join(unsafeDir, 'target.sh');
  fs.symlinkSync(safeReal, link2);
  const c2 = await checkScript([link2, 'a'], ROOT, { enforce: true });
  assert.equal(c2.refused, undefined);
  assert.deepEqual(c2.argv, [safeReal, 'a']);
});

test('a script run as a non-root user is not checked for safety, but must be executable by it and reachable', async () => {
  const d = dir('for-nobody', 0o777);
  const s = script(d, 'n.sh');
  const c = await checkScript([s], NOBODY, { enforce: true });
  assert.equal(c.refused, undefined);
  assert.equal(c.asRoot, false);

  const rootOnly = script(dir('exec'), 'root-only.sh', 'exit 0', 0o744);
  const r = await checkScript([rootOnly], NOBODY, { enforce: true });
  assert.equal(r.refused?.code, 'EACCES');
  assert.equal(r.refused?.reason, 'not executable for uid:gid 65534:65534 (mode 0744, owner 0:0) (EACCES)');

  const hidden = dir('hidden', 0o700);
  const h = await checkScript([script(hidden, 'h.sh')], NOBODY, { enforce: false });
  assert.equal(h.refused?.path, hidden);
  assert.match(h.refused!.reason, /is not searchable by uid:gid 65534:65534 \(mode 0700, owner 0:0\)/);
});

test('a setuid-root script run by a non-root user is checked as a root script', async () => {
  const d = dir('suid', 0o777);
  const s = script(d, 'suid.sh', 'exit 0', 0o4755);
  const c = await checkScript([s], NOBODY, { enforce: true });
  assert.equal(c.asRoot, true);
  assert.match(c.refused!.reason, /would run as root \(setuid root file\)$/);
});

test('not found, not executable, bare names found by a search of PATH', async () => {
  const missing = await checkScript(['/nonexistent/dir/notify.sh'], ROOT, { enforce: false });
  assert.deepEqual(missing.refused, { code: 'ENOENT', path: '/nonexistent/dir/notify.sh', reason: 'no such file (ENOENT)' });
  const noExec = script(dir('noexec'), 'plain.sh', 'exit 0', 0o644);
  assert.equal((await checkScript([noExec], ROOT, { enforce: false })).refused?.reason, 'not executable for uid:gid 0:0 (mode 0644, owner 0:0) (EACCES)');
  assert.equal((await checkScript([dir('adir')], ROOT, { enforce: false })).refused?.reason, 'not a regular file (EACCES)');

  const bin = dir('bin');
  const tool = script(bin, 'alived-test-tool');
  const found = await checkScript(['alived-test-tool', 'x'], ROOT, { enforce: true, searchPath: `/nonexistent:${bin}` });
  assert.equal(found.refused, undefined);
  assert.equal(found.searched, tool);
  assert.deepEqual(found.argv, [tool, 'x']);
  const none = await checkScript(['alived-no-such-tool'], ROOT, { enforce: false, searchPath: bin });
  assert.deepEqual(none.refused, { code: 'ENOENT', path: 'alived-no-such-tool', reason: `no such command in PATH (${bin}) (ENOENT)` });
  // keepalived's `</path` file test runs through the shell and is not checked
  assert.equal((await checkScript(['</etc/hostname'], ROOT, { enforce: true })).redirectionOnly, true);
});

test("is_executable(): root needs any x bit, others their class's", () => {
  assert.equal(isExecutableBy({ mode: 0o001, uid: 5, gid: 5 }, ROOT), true);
  assert.equal(isExecutableBy({ mode: 0o644, uid: 0, gid: 0 }, ROOT), false);
  assert.equal(isExecutableBy({ mode: 0o701, uid: 7, gid: 7 }, { uid: 7, gid: 9 }), true);
  assert.equal(isExecutableBy({ mode: 0o071, uid: 7, gid: 7 }, { uid: 7, gid: 7 }), false, 'the owner is judged by the owner bits only');
  assert.equal(isExecutableBy({ mode: 0o010, uid: 7, gid: 9 }, { uid: 8, gid: 9 }), true);
  assert.equal(isExecutableBy({ mode: 0o001, uid: 7, gid: 9 }, { uid: 8, gid: 9 }), false);
});

test('the default user: script_user, else keepalived_script, else root, which enable_script_security refuses', async () => {
  assert.deepEqual(await scriptIdentity({ user: 'nobody' }, { user: 'root' }, true), NOBODY);
  assert.deepEqual(await scriptIdentity(undefined, { user: 'nobody', group: 'root' }, true), { uid: 65534, gid: 0 });
  if (!existsKeepalivedScript()) {
    assert.match((await scriptIdentity(undefined, undefined, true)) as string, /default user keepalived_script does not exist/);
    assert.deepEqual(await scriptIdentity(undefined, undefined, false), ROOT);
  }
  assert.equal(await scriptIdentity({ user: 'no-such-user-alived' }, undefined, false), "user 'no-such-user-alived' does not exist");
});

function existsKeepalivedScript(): boolean {
  return fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .some((l) => l.startsWith('keepalived_script:'));
}

test('prepareScript(): what a plugin hands to ScriptRunner, with the warnings to log', async () => {
  const d = dir('prep', 0o777);
  const s = script(d, 'p.sh');
  const p = await prepareScript({ argv: [s, 'a'] }, { scriptUser: { user: 'root' }, scriptSecurity: false });
  assert.ok(p.ok);
  assert.deepEqual(p.argv, [s, 'a']);
  assert.equal(p.uid, undefined, 'alived runs as root: no change of ids');
  assert.deepEqual(p.warnings, [
    `Unsafe permissions found for script '${s}': ${d} is writable by every user (mode 0777); it runs as root all the same because enable_script_security is not set`,
  ]);
  const refused = await prepareScript({ argv: [s] }, { scriptUser: { user: 'root' }, scriptSecurity: true });
  assert.deepEqual(refused, {
    ok: false,
    code: 'EINSECURE',
    path: d,
    reason: `${d} is writable by every user (mode 0777), and the script would run as root (uid 0)`,
  });
  const asNobody = await prepareScript({ argv: [s], user: 'nobody' }, { scriptSecurity: true });
  assert.ok(asNobody.ok);
  assert.equal(asNobody.uid, 65534);
  assert.equal(asNobody.gid, 65534);
});

const launchers: ScriptLauncher[] = [];
after(async () => {
  for (const l of launchers) l.close();
  for (const l of launchers) await l.idle();
});

test('ScriptLauncher with enable_script_security: an unsafe script does not run and the log names the path; a safe one runs as its user', async () => {
  const d = dir('launch-unsafe', 0o777);
  const marker = path.join(base, 'unsafe-ran');
  const s = script(d, 'unsafe.sh', `touch ${marker}`);
  const { log, records } = memoryLogger('debug');
  const l = new ScriptLauncher({ log, scriptUser: () => ({ user: 'root' }), scriptSecurity: () => true });
  launchers.push(l);
  const o = await l.run({ argv: [s] }, 'notify_up for a test');
  assert.equal(o.kind, 'error');
  assert.ok(!fs.existsSync(marker), 'the unsafe script did not run');
  const r = records.find((x) => x.fields.code === 'ALIVED_SCRIPT_INSECURE')!;
  assert.equal(r.level, 'error');
  assert.equal(
    r.msg,
    `Unsafe permissions found for script '${s}' (notify_up for a test) - disabling: ${d} is writable by every user (mode 0777), and the script would run as root (uid 0)`,
  );
  assert.equal(r.fields.path, d);

  const safe = dir('launch-safe');
  const out = path.join(dir('launch-out', 0o777), 'id.out');
  const ok = script(safe, 'id.sh', `id -u > ${out}; id -g >> ${out}`);
  assert.deepEqual(await l.run({ argv: [ok], user: 'nobody' }, 'test'), { kind: 'exit', code: 0, stderr: '' });
  assert.equal(fs.readFileSync(out, 'utf8'), '65534\n65534\n');
  const asRoot = script(safe, 'root.sh', `id -u > ${out}`);
  assert.deepEqual(await l.run({ argv: [asRoot] }, 'test'), { kind: 'exit', code: 0, stderr: '' });
  assert.equal(fs.readFileSync(out, 'utf8'), '0\n', 'a safe script runs as root when script_user is root');
});

test('ScriptLauncher without enable_script_security: the unsafe script runs, warned about once; audit() gives the SECURITY VIOLATION warning', async () => {
  const d = dir('launch-warn', 0o777);
  const marker = path.join(base, 'warn-ran');
  const s = script(d, 'warn.sh', `echo x >> ${marker}`);
  const { log, records } = memoryLogger('debug');
  const l = new ScriptLauncher({ log, scriptUser: () => ({ user: 'root' }) });
  launchers.push(l);
  await l.run({ argv: [s] }, 'first');
  await l.run({ argv: [s] }, 'second');
  assert.equal(fs.readFileSync(marker, 'utf8'), 'x\nx\n');
  const warnings = records.filter((x) => x.fields.code === 'ALIVED_SCRIPT_INSECURE');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.level, 'warn');
  assert.match(warnings[0]!.msg, new RegExp(`^Unsafe permissions found for script '${s}': ${d} is writable by every user`));

  l.forgetUsers();
  await l.audit([{ script: { argv: [s] }, what: 'notify_master of VRRP instance VI_1' }], '');
  const v = records.filter((x) => x.fields.code === 'ALIVED_SCRIPT_SECURITY_OFF');
  assert.deepEqual(
    v.map((x) => x.msg),
    ['SECURITY VIOLATION - scripts are being executed but script_security not enabled. There are insecure scripts.'],
  );
});

test('a command that is not there, or not executable, is reported with its path before anything runs', async () => {
  const { log, records } = memoryLogger('debug');
  const l = new ScriptLauncher({ log, scriptUser: () => ({ user: 'nobody' }) });
  launchers.push(l);
  const s = script(dir('nx'), 'root-only.sh', 'exit 0', 0o700);
  assert.equal((await l.run({ argv: [s] }, 'notify_down of X')).kind, 'error');
  assert.equal((await l.run({ argv: ['alived-no-such-command'] }, 'notify_up of X')).kind, 'error');
  const msgs = records.filter((x) => x.fields.code === 'ALIVED_SCRIPT_FAILED').map((x) => x.msg);
  assert.equal(msgs[0], `Cannot run script '${s}' (notify_down of X): not executable for uid:gid 65534:65534 (mode 0700, owner 0:0) (EACCES)`);
  assert.match(msgs[1]!, /^Cannot run script 'alived-no-such-command' \(notify_up of X\): no such command in PATH \(.*\) \(ENOENT\)$/);
});
