import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab, daemonPid, type LabDaemon } from '../../core/lab/vrrp-lab';
import { vrrpProcessPid } from '../../core/lab/faults';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * What global_defs does to alived's own processes, read from the kernel:
 * vrrp_no_swap / checker_no_swap (VmLck in /proc/PID/status),
 * max_auto_priority (the VRRP process made late by SIGSTOP / SIGCONT, its
 * scheduling read with chrt), umask (the mode of a notify FIFO the config
 * makes alived create, and of a dump that must stay private).
 */

let lab: Lab;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({ name: 'proc', hosts: [{ name: 'n1', ip: '10.95.5.11' }] });
});
after(() => (lab ? lab.destroy() : undefined));

function config(globals: string): string {
  return `global_defs {
${globals}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 82
  priority 150
  advert_int 0.1
  version 3
  virtual_ipaddress {
    10.95.5.91/24
  }
}
`;
}

function vmLckKb(pid: number): number {
  const m = /^VmLck:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmLck in /proc/${pid}/status`);
  return Number(m[1]);
}

/** `SCHED_RR 3` / `SCHED_OTHER 0` for one thread, from chrt -p */
function scheduling(tid: number): string {
  const r = spawnSync('chrt', ['-p', String(tid)], { encoding: 'utf8' });
  const policy = /policy: (SCHED_\w+)/.exec(r.stdout)?.[1];
  const prio = /priority: (\d+)/.exec(r.stdout)?.[1];
  return `${policy} ${prio}`;
}

async function start(v: VrrpLab, conf: string, args: string[] = []): Promise<{ d: LabDaemon; vrrp: number }> {
  const d = v.startAlived('n1', conf, args);
  await v.waitLine(d, /VRRP engine started/, 15_000);
  const vrrp = await waitFor('the VRRP process', () => vrrpProcessPid(d), 5000);
  return { d, vrrp };
}

async function stop(v: VrrpLab, d: LabDaemon): Promise<void> {
  if (d.proc.exitCode === null && d.proc.signalCode === null) {
    v.signal(d, 'SIGTERM');
    await d.exited;
  }
}

test('vrrp_no_swap locks the VRRP process in memory, checker_no_swap the main process (where the checks run); without them nothing is locked', async () => {
  const v = new VrrpLab(lab, tmpDir('alived-proc-'));
  let { d, vrrp } = await start(v, config('  vrrp_rt_priority 0'));
  assert.equal(vmLckKb(vrrp), 0, 'no lock without vrrp_no_swap');
  assert.equal(vmLckKb(daemonPid(d)), 0, 'no lock without checker_no_swap');
  await stop(v, d);

  ({ d, vrrp } = await start(v, config('  vrrp_rt_priority 0\n  vrrp_no_swap\n  checker_no_swap')));
  await v.waitLine(d, /the VRRP process \(pid \d+\) is locked in memory/, 5000);
  const lockedVrrp = vmLckKb(vrrp);
  const lockedMain = vmLckKb(daemonPid(d));
  const rss = (pid: number): string => /^VmRSS:\s+(\d+ kB)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
  console.log(
    `VmLck (locked ranges, MCL_ONFAULT): VRRP process ${lockedVrrp} kB (VmRSS ${rss(vrrp)}), main process ${lockedMain} kB (VmRSS ${rss(daemonPid(d))})`,
  );
  assert.ok(lockedVrrp > 1000, `VmLck of the VRRP process: ${lockedVrrp} kB`);
  assert.ok(lockedMain > 1000, `VmLck of the main process: ${lockedMain} kB`);

  // a reload without vrrp_no_swap unlocks the VRRP process
  fs.writeFileSync(d.config, config('  vrrp_rt_priority 0\n  checker_no_swap'));
  v.signal(d, 'SIGHUP');
  await v.waitLine(d, /the VRRP process \(pid \d+\) is no longer locked in memory/, 5000);
  assert.equal(vmLckKb(vrrp), 0);
  assert.ok(vmLckKb(daemonPid(d)) > 1000, 'checker_no_swap stays');
  // and one without checker_no_swap unlocks the main process
  fs.writeFileSync(d.config, config('  vrrp_rt_priority 0'));
  v.signal(d, 'SIGHUP');
  await v.waitLine(d, /the checker process \(pid \d+\) is no longer locked in memory/, 5000);
  assert.equal(vmLckKb(daemonPid(d)), 0);
  await stop(v, d);
});

test('max_auto_priority: a VRRP process made late (SIGSTOP, SIGCONT) goes to SCHED_RR 1, then one step per stall, every thread, up to the maximum', async () => {
  const v = new VrrpLab(lab, tmpDir('alived-proc-'));
  const { d, vrrp } = await start(v, config('  vrrp_rt_priority 0\n  max_auto_priority 2\n  min_auto_priority_delay 200000'));
  assert.equal(scheduling(vrrp), 'SCHED_OTHER 0');
  const stall = async (): Promise<void> => {
    process.kill(vrrp, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 600));
    process.kill(vrrp, 'SIGCONT');
  };
  const steps = (): number => d.lines.filter((l) => /Set realtime priority \d+/.test(l)).length;
  for (const expected of [1, 2]) {
    await stall();
    await v.waitLine(d, new RegExp(`Set realtime priority ${expected}\\b`), 5000);
    assert.equal(scheduling(vrrp), `SCHED_RR ${expected}`);
    const threads = fs.readdirSync(`/proc/${vrrp}/task`).map(Number);
    assert.ok(threads.length > 1);
    for (const tid of threads) assert.equal(scheduling(tid), `SCHED_RR ${expected}`, `thread ${tid}`);
  }
  assert.ok(
    d.lines.some((l) => /A timer expired 0\.[2-9]\d* seconds ago/.test(l)),
    'the lateness is logged',
  );
  // at the maximum: late again, no step further
  await stall();
  await v.waitLine(d, /A timer expired [\d.]+ seconds ago/, 5000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(steps(), 2);
  assert.equal(scheduling(vrrp), 'SCHED_RR 2');
  await stop(v, d);
});

test('umask: the notify FIFO the config makes alived create gets its mode less the mask; a signal dump stays 0600 with umask 0', async () => {
  const v = new VrrpLab(lab, tmpDir('alived-proc-'));
  const dir = tmpDir('alived-umask-');
  const fifo1 = path.join(dir, 'a.fifo');
  const fifo2 = path.join(dir, 'b.fifo');
  const name = `umask${process.pid}`;
  const dump = `/tmp/alived_${name}.data`;
  fs.rmSync(dump, { force: true });
  const { d } = await start(v, config(`  vrrp_rt_priority 0\n  umask 0077\n  notify_fifo ${fifo1}`), ['--instance', name]);
  const mode = (f: string): string => (fs.statSync(f).mode & 0o777).toString(8);
  await waitFor('the FIFO', () => (fs.existsSync(fifo1) ? true : undefined), 5000);
  assert.ok(fs.statSync(fifo1).isFIFO());
  assert.equal(mode(fifo1), '600', 'umask 0077: 0644 less the mask');
  // a reload with another mask: the next FIFO gets it; umask 0 never widens alived's own modes
  fs.writeFileSync(d.config, config(`  vrrp_rt_priority 0\n  umask IWGRP|IRWXO\n  notify_fifo ${fifo2}`));
  v.signal(d, 'SIGHUP');
  await waitFor('the second FIFO', () => (fs.existsSync(fifo2) ? true : undefined), 5000);
  assert.equal(mode(fifo2), '640');
  fs.writeFileSync(d.config, config(`  vrrp_rt_priority 0\n  umask 0\n  notify_fifo ${fifo2}`));
  v.signal(d, 'SIGHUP');
  await v.waitLine(d, /umask 0000/, 5000);
  v.signal(d, 'SIGUSR1');
  await waitFor('the dump', () => (fs.existsSync(dump) ? true : undefined), 5000);
  assert.equal(mode(dump), '600', 'the dump is private whatever the umask');
  fs.rmSync(dump, { force: true });
  await stop(v, d);
});
