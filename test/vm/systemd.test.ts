import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { prepareVmImage, type VmImage } from './image';
import { runInVm } from './machine';

/**
 * The unit under a real systemd: the IPVS VM's kernel and root (the host's,
 * read-only, with a tmpfs overlay), but its init hands over to Debian's
 * systemd (252) instead of running a command. The guest's root gets
 * packaging/systemd/alived.service as the package installs it, an
 * /usr/sbin/alived that runs this checkout, a config with one VRRP instance
 * on a dummy interface, and a driver unit that starts after alived and
 * writes what systemd says (systemctl show, journalctl) to the shared
 * directory: READY (active), STATUS, a good and a rejected reload, the
 * journal's priorities, the VRRP process stopped (SIGSTOP) until the
 * watchdog restarts the service, and stop. Nothing is skipped: without
 * QEMU or the kernel this fails and says what to install.
 */

const ROOT = path.join(__dirname, '..', '..', '..');
/** where the IPVS VM's init goes on to run its command: from here on it boots systemd instead */
const MARK = 'RUN=$(param run)';

function systemdInitramfs(image: VmImage, dir: string): string {
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(tree);
  execFileSync('/bin/sh', ['-c', `zcat '${image.initramfs}' | /bin/busybox cpio -i -d 2>/dev/null`], { cwd: tree });
  const init = fs.readFileSync(path.join(tree, 'init'), 'utf8');
  const at = init.indexOf(MARK);
  assert.ok(at > 0, `test/vm/image.ts's init has no '${MARK}' line: this test must follow it`);
  fs.writeFileSync(
    path.join(tree, 'init'),
    `${init.slice(0, at)}RUN=$(param run)
mkdir -p /newroot$RUN && mount -t 9p -o $P9 runshare /newroot$RUN || fail "cannot mount the run directory"
modprobe dummy || fail "modprobe dummy failed"
sh /newroot$RUN/cmd.sh || fail "preparing the root for systemd failed"
echo "ALIVED-VM-READY $(cut -d' ' -f1 /proc/uptime)"
exec switch_root /newroot /lib/systemd/systemd systemd.unit=alived-vm.target systemd.show_status=0
`,
    { mode: 0o755 },
  );
  const out = path.join(dir, 'initramfs-systemd.cpio.gz');
  execFileSync('/bin/sh', ['-c', `find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 > '${out}'`], { cwd: tree });
  fs.rmSync(tree, { recursive: true, force: true });
  return out;
}

/** run in the initramfs, the guest's root at /newroot, the host's at /mnt/host */
function prepareRoot(runDir: string): string {
  return `set -e
R=/newroot
mkdir -p $R/etc/alived $R/etc/systemd/system $R/usr/sbin
cp /newroot${runDir}/alived.conf $R/etc/alived/alived.conf
cp /mnt/host${ROOT}/packaging/systemd/alived.service $R/etc/systemd/system/alived.service
printf '#!/bin/sh\\nexec ${process.execPath} ${ROOT}/dist/core/cli/main.js "$@"\\n' > $R/usr/sbin/alived
chmod 755 $R/usr/sbin/alived
cat > $R/etc/systemd/system/vm-dummy.service <<'U'
[Unit]
Before=alived.service
DefaultDependencies=no
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip link add d0 type dummy
ExecStart=/usr/sbin/ip addr add 10.95.0.1/24 dev d0
ExecStart=/usr/sbin/ip link set d0 up
U
cat > $R/etc/systemd/system/alived-vmtest.service <<'U'
[Unit]
After=alived.service
[Service]
ExecStart=/bin/sh ${runDir}/driver.sh
U
cat > $R/etc/systemd/system/alived-vm.target <<'U'
[Unit]
Requires=basic.target
After=basic.target
Wants=vm-dummy.service alived.service alived-vmtest.service
U
# the overlay's /tmp holds the host's: no clean-up at boot (it takes a minute over 9p)
ln -sf /dev/null $R/etc/systemd/system/systemd-tmpfiles-setup.service
`;
}

const CONFIG = `vrrp_instance VI_1 {
  state BACKUP
  interface d0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    10.95.0.100/24
  }
}
`;

/** the driver: KEY=VALUE lines to out.txt, then the exit status on the console for runInVm */
function driver(runDir: string): string {
  return `OUT=${runDir}/out.txt
exec > $OUT 2>&1
p() { systemctl show alived -p "$1" --value; }
say() { echo "$1=$(p "$2")"; }
waitfor() { for i in $(seq 1 240); do [ "$(p "$1")" = "$2" ] && return 0; sleep 0.5; done; return 1; }
waitfor ActiveState active
say type Type
say notify_access NotifyAccess
say watchdog WatchdogUSec
say status_ready StatusText
for i in $(seq 1 60); do p StatusText | grep -q '1 master' && break; sleep 0.5; done
say status_master StatusText
systemctl reload alived
for i in $(seq 1 60); do journalctl -u alived -o cat | grep -q 'Reload complete' && break; sleep 0.5; done
sleep 1
say state_reload ActiveState
say status_reload StatusText
printf 'vrrp_instance VI_2 {\\n  prioirty 3\\n}\\n' >> /etc/alived/alived.conf
systemctl reload alived
for i in $(seq 1 60); do p StatusText | grep -q 'reload rejected' && break; sleep 0.5; done
say status_rejected StatusText
say state_rejected ActiveState
cp ${runDir}/alived.conf /etc/alived/alived.conf
MAIN=$(p MainPID)
for c in $(cat /proc/$MAIN/task/$MAIN/children); do grep -q child.js /proc/$c/cmdline && VRRP=$c; done
echo "vrrp_notify_env=$(tr '\\0' '\\n' < /proc/$VRRP/environ | grep -c -E '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=')"
echo "journal_warning_has_rejected=$(journalctl -u alived -p warning -o cat | grep -c 'Reload rejected')"
echo "journal_warning_has_master=$(journalctl -u alived -p warning -o cat | grep -c 'Entering MASTER STATE')"
echo "journal_notice_has_master=$(journalctl -u alived -p notice -o cat | grep -c 'Entering MASTER STATE')"
echo "journal_notice_has_loaded=$(journalctl -u alived -p notice -o cat | grep -c 'Configuration loaded')"
echo "journal_all_has_loaded=$(journalctl -u alived -o cat | grep -c 'Configuration loaded')"
T0=$(cut -d' ' -f1 /proc/uptime)
kill -STOP $VRRP
for i in $(seq 1 120); do [ "$(p NRestarts)" != 0 ] && break; sleep 0.5; done
echo "watchdog_restart_after_s=$(echo "$(cut -d' ' -f1 /proc/uptime) $T0" | awk '{print $1 - $2}')"
say restarts NRestarts
echo "journal_watchdog=$(journalctl -u alived -o cat | grep -c 'Watchdog timeout')"
echo "journal_not_answered=$(journalctl -u alived -o cat | grep -c 'the VRRP process has not answered')"
waitfor ActiveState active
say state_back ActiveState
systemctl stop alived
say state_stopped ActiveState
say result_stopped Result
say status_stopped StatusText
echo END=1
sync
echo "ALIVED-VM-EXIT=0" > /dev/console
systemctl poweroff -ff
`;
}

test('the unit under a real systemd: ready, status, reloads, journal levels, the watchdog, stop', { timeout: 15 * 60_000 }, async (t) => {
  const image = prepareVmImage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-vm-systemd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, 'alived.conf'), CONFIG);
  fs.writeFileSync(path.join(runDir, 'driver.sh'), driver(runDir));
  const consoleTail: string[] = [];
  const r = await runInVm({
    command: prepareRoot(runDir),
    cwd: '/',
    image: { ...image, initramfs: systemdInitramfs(image, dir) },
    runDir,
    timeoutMs: 12 * 60_000,
    onLine: (l) => {
      consoleTail.push(l);
      if (consoleTail.length > 200) consoleTail.shift();
      if (process.env.ALIVED_VM_VERBOSE) process.stdout.write(`  vm| ${l}\n`);
    },
  });
  const outFile = path.join(runDir, 'out.txt');
  const out = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
  const why = `${r.timedOut ? 'the VM timed out; ' : ''}driver output:\n${out}\nconsole:\n${consoleTail.slice(-60).join('\n')}`;
  assert.equal(r.exitCode, 0, why);
  t.diagnostic(`kernel ${image.release}, ${r.accel}: whole run ${r.totalMs} ms`);
  const v: Record<string, string> = {};
  for (const l of out.split('\n')) {
    const eq = l.indexOf('=');
    if (eq > 0) v[l.slice(0, eq)] = l.slice(eq + 1);
  }
  assert.equal(v.END, '1', why);
  assert.equal(v.type, 'notify');
  assert.equal(v.notify_access, 'main');
  assert.equal(v.watchdog, '10s');
  assert.match(v.status_ready!, /^VRRP: /, why);
  assert.match(v.status_master!, /^VRRP: 1 master, 0 backup, 0 fault$/, why);
  assert.equal(v.state_reload, 'active');
  assert.match(v.status_reload!, /^VRRP: 1 master/, why);
  assert.match(v.status_rejected!, /^reload rejected: \d+ errors? in the new config, the running config goes on; VRRP: 1 master/, why);
  assert.equal(v.state_rejected, 'active');
  assert.equal(v.vrrp_notify_env, '0', 'the VRRP process has no notify variable');
  // journald kept each line's level
  assert.equal(v.journal_warning_has_rejected, '1', why);
  assert.equal(v.journal_warning_has_master, '0', why);
  assert.equal(v.journal_notice_has_master, '1', why);
  assert.equal(v.journal_notice_has_loaded, '0', why);
  assert.equal(v.journal_all_has_loaded, '1', why);
  // the VRRP process stopped: no more WATCHDOG=1, and systemd restarted the service
  assert.equal(v.restarts, '1', why);
  assert.equal(v.journal_watchdog, '1', why);
  assert.ok(Number(v.journal_not_answered) >= 1, why);
  t.diagnostic(`VRRP process stopped to the service restarted: ${v.watchdog_restart_after_s} s (WatchdogSec=10s)`);
  assert.equal(v.state_back, 'active');
  assert.equal(v.state_stopped, 'inactive');
  assert.equal(v.result_stopped, 'success');
  assert.equal(v.status_stopped, 'Stopping');
});
