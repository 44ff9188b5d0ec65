import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';

/**
 * packaging/systemd/alived.service, checked by systemd's own parser:
 * `systemd-analyze verify` in a root of its own (--root), which holds the
 * unit where the package installs it, an executable /usr/sbin/alived, the
 * /bin/kill of ExecReload and Debian's units (the targets it orders
 * against). The man pages are the Debian package's to install: --man=no.
 * Any message (an unknown key, a bad value, a missing target) fails the
 * test, not only a non-zero exit: systemd-analyze exits 0 on warnings.
 */

const UNIT = path.join(PROJECT_ROOT, 'packaging/systemd/alived.service');
const SYSTEM_UNITS = '/usr/lib/systemd/system';

function analyzeMissing(): string | undefined {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  return r.error ? 'systemd-analyze is not installed (apt-get install systemd; scripts/setup-debian.sh does)' : undefined;
}

function unitRoot(): string {
  const root = tmpDir('alived-unit-root-');
  fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true });
  fs.symlinkSync('usr/bin', path.join(root, 'bin'));
  fs.cpSync(SYSTEM_UNITS, path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  fs.copyFileSync(UNIT, path.join(root, 'etc/systemd/system/alived.service'));
  fs.writeFileSync(path.join(root, 'usr/sbin/alived'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  fs.copyFileSync('/usr/bin/kill', path.join(root, 'usr/bin/kill'));
  fs.chmodSync(path.join(root, 'usr/bin/kill'), 0o755);
  return root;
}

function verify(root: string): { code: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', 'alived.service'], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** the unit's settings as KEY -> values, per section */
function parseUnit(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

test('systemd-analyze verify passes on the unit, without a single message', { skip: !process.env.CI && analyzeMissing() }, () => {
  const missing = analyzeMissing();
  if (missing) throw new Error(missing);
  const root = unitRoot();
  try {
    const r = verify(root);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output, '', 'systemd-analyze said something about the unit');
    // the check is real: a mistake in the unit is caught
    fs.appendFileSync(path.join(root, 'etc/systemd/system/alived.service'), 'ProtectSystem=stirct\n');
    const bad = verify(root);
    assert.match(bad.output, /ProtectSystem/, 'a bad value is reported');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the unit: Type=notify from the main process, the daemon in the foreground, a watchdog, the writable directories', () => {
  const u = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  assert.deepEqual(u.get('Service.Type'), ['notify']);
  // alived sends every message from its main process; the VRRP process and scripts have no socket
  assert.deepEqual(u.get('Service.NotifyAccess'), ['main']);
  const execStart = u.get('Service.ExecStart')![0]!;
  assert.match(execStart, /^\/usr\/sbin\/alived .*--dont-fork/);
  assert.match(execStart, /--log-console/, 'stderr is the journal');
  assert.match(execStart, /--pid \/run\/alived\//, 'the pid file in the runtime directory ProtectSystem=strict leaves writable');
  assert.match(u.get('Service.WatchdogSec')![0]!, /^[1-9][0-9]*s$/);
  assert.deepEqual(u.get('Service.ProtectSystem'), ['strict']);
  assert.deepEqual(u.get('Service.RuntimeDirectory'), ['alived']);
  assert.deepEqual(u.get('Service.StateDirectory'), ['alived'], '/var/lib/alived, the default --state-dir');
  assert.ok(u.get('Service.ReadWritePaths')!.join(' ').split(/\s+/).includes('/tmp'), "keepalived's dumps go to /tmp");
  assert.deepEqual(u.get('Service.KillMode'), ['mixed']);
  assert.deepEqual(u.get('Service.RestrictRealtime'), ['no'], 'SCHED_RR for the VRRP process');
  const caps = u.get('Service.CapabilityBoundingSet')!.join(' ').split(/\s+/);
  for (const c of ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_NICE', 'CAP_IPC_LOCK', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SYS_MODULE'])
    assert.ok(caps.includes(c), c);
  assert.ok(!caps.includes('CAP_SYS_ADMIN'));
  const families = u.get('Service.RestrictAddressFamilies')![0]!.split(/\s+/);
  for (const f of ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET']) assert.ok(families.includes(f), f);
});
