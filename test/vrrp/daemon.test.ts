import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { VRRP_PROCESS_FLAGS } from '../../core/vrrp/supervisor';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { capture, readPcap } from '../helpers/pcap';

/**
 * The VRRP engine inside the daemon, in a lab: interface faults, the
 * supervisor restarting a dead VRRP process, leftover VIPs cleaned at
 * start, SIGTERM.
 */

const VIP = '10.99.0.99';
let lab: Lab;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'daemon',
    hosts: [
      { name: 'n1', ip: '10.99.0.11' },
      { name: 'n2', ip: '10.99.0.12' },
    ],
  });
});
after(() => (lab ? lab.destroy() : undefined));

function conf(priority: number, iface = 'eth0', instanceExtra = ''): string {
  return `vrrp_instance VI_1 {
  state BACKUP
  interface ${iface}
  virtual_router_id 51
  priority ${priority}
  advert_int 0.1
  version 3${instanceExtra ? `\n  ${instanceExtra}` : ''}
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

/** The VRRP process runs with its own Node flags (a small young generation, one V8 helper thread, bytecode kept). */
function assertVrrpFlags(pid: number): void {
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const script = argv.findIndex((a) => a.endsWith(path.join('vrrp', 'child.js')));
  assert.ok(script > 0, argv.join(' '));
  assert.deepEqual(argv.slice(1, script), [...VRRP_PROCESS_FLAGS]);
  assert.deepEqual(VRRP_PROCESS_FLAGS, ['--max-semi-space-size=1', '--v8-pool-size=1', '--no-flush-bytecode']);
}

function childrenOf(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

async function reset(): Promise<VrrpLab> {
  lab.killHostProcesses();
  for (const h of lab.hosts) {
    lab.setLink(h, true);
    await lab.exec(h, ['ip', 'link', 'set', 'eth0', 'up']);
    await lab.exec(h, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
  }
  const v = new VrrpLab(lab, tmpDir('alived-daemon-'));
  await v.watch();
  return v;
}

test('the interface going down puts the instance in FAULT (VIP removed); back up, it is master again', async () => {
  const v = await reset();
  const d = v.startAlived('n1', conf(150));
  await v.waitHolder(VIP, 'n1', 10_000);
  await lab.run('n1', ['ip', 'link', 'set', 'eth0', 'down']);
  await v.waitLine(d, /Entering FAULT STATE/, 3000);
  await v.waitHolder(VIP, undefined, 3000);
  await lab.run('n1', ['ip', 'link', 'set', 'eth0', 'up']);
  await v.waitLine(d, /Entering BACKUP STATE \(interface eth0 up\)/, 3000);
  await v.waitHolder(VIP, 'n1', 5000);
  assert.equal(d.proc.exitCode, null, 'the daemon never stopped');
});

test('an interface that does not exist: the instance waits in FAULT, the daemon runs; when the interface appears, it works', async () => {
  const v = await reset();
  const d = v.startAlived('n1', conf(150, 'late0'));
  await v.waitLine(d, /\(VI_1\) Entering FAULT STATE/, 10_000);
  assert.equal(d.proc.exitCode, null);
  // a veth pair: both ends up make late0 usable (the lab kernel has no dummy module)
  await lab.run('n1', ['ip', 'link', 'add', 'late0', 'type', 'veth', 'peer', 'name', 'late1']);
  await lab.run('n1', ['ip', 'link', 'set', 'late1', 'up']);
  await lab.run('n1', ['ip', 'link', 'set', 'late0', 'up']);
  await lab.run('n1', ['ip', 'addr', 'add', '10.98.0.1/24', 'dev', 'late0']);
  await v.waitLine(d, /Entering MASTER STATE/, 5000);
  await waitFor(`${VIP} on late0`, async () => ((await lab.run('n1', ['ip', '-br', 'addr', 'show', 'dev', 'late0'])).includes(VIP) ? true : undefined), 3000);
  await lab.run('n1', ['ip', 'link', 'del', 'late0']);
  await v.waitLine(d, /Entering FAULT STATE \(interface late0 (down|deleted)/, 3000);
  await v.waitHolder(VIP, undefined, 2000);
  assert.equal(d.proc.exitCode, null, 'the daemon survives the interface being deleted');
});

test("a master's VRRP process that dies: the next one starts at once, with the same Node flags, and resumes as master; the VIP never leaves", async () => {
  const v = await reset();
  // the next process must run within (down_timer_adverts - 1) advert intervals: 200 ms at advert_int 0.1
  // with keepalived's 3, which a node process starting on a loaded machine can miss (docs/vrrp.md)
  const d = v.startAlived('n1', conf(150, 'eth0', 'down_timer_adverts 5'));
  await v.waitHolder(VIP, 'n1', 10_000);
  const [child] = childrenOf(d.proc.pid!);
  assert.ok(child, 'the VRRP process runs as a child of the daemon');
  assertVrrpFlags(child);
  const t0 = process.hrtime.bigint();
  process.kill(child, 'SIGKILL');
  await v.waitLine(d, /VRRP process \d+ died \(SIGKILL\); restarting it in 0 ms; it may resume VI_1 as master/, 3000);
  await v.waitLine(d, /\(VI_1\) Entering MASTER STATE \(resumed: the VRRP process was restarted while master\)/, 3000);
  assert.ok(!v.events.some((e) => e.t >= t0 && e.kind === 'addr' && e.address === VIP), 'the VIP stayed where it was');
  assert.ok(!d.lines.some((l) => /Entering BACKUP STATE/.test(l.split('died')[1] ?? '')), 'no detour through BACKUP');
  const [again] = childrenOf(d.proc.pid!);
  assert.ok(again && again !== child, 'a new VRRP process');
  assertVrrpFlags(again);
});

test("a VRRP process that dies: what it held and nobody resumes is removed by the main process at once (a backup's stale VIP; a master not resumed in time)", async () => {
  const v = await reset();
  // a backup (n2 is master) with a copy of the VIP on its interface, as a crash can leave one
  v.startAlived('n2', conf(200));
  await v.waitHolder(VIP, 'n2', 10_000);
  const d = v.startAlived('n1', conf(100));
  await v.waitLine(d, /\(VI_1\) Entering BACKUP STATE/, 10_000);
  await lab.run('n1', ['ip', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
  const [child] = childrenOf(d.proc.pid!);
  process.kill(child!, 'SIGKILL');
  await v.waitLine(
    d,
    new RegExp(`VRRP process ${child} died \\(SIGKILL\\); restarting it in 200 ms$|VRRP process ${child} died \\(SIGKILL\\); restarting it in 200 ms `),
    3000,
  );
  await v.waitLine(d, new RegExp(`removed what VRRP process ${child} left on the interfaces, [\\d.]+ ms after: 10\\.99\\.0\\.99/24 on eth0 \\(VI_1\\)`), 3000);
  await v.waitHolder(VIP, 'n2', 3000);

  // a master whose next VRRP processes die before they run, past its window: its VIP goes too
  const v2 = await reset();
  const m = v2.startAlived('n1', conf(150));
  await v2.waitHolder(VIP, 'n1', 10_000);
  const killed = new Set<number>();
  const first = childrenOf(m.proc.pid!)[0]!;
  process.kill(first, 'SIGKILL');
  killed.add(first);
  // every VRRP process that appears for 600 ms is killed before it can run (the window at advert_int 0.1 is 200 ms)
  const until = Date.now() + 600;
  while (Date.now() < until) {
    for (const c of childrenOf(m.proc.pid!)) {
      if (killed.has(c)) continue;
      killed.add(c);
      try {
        process.kill(c, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  // (by the window's own timer, or at the next death after it closed)
  await v2.waitLine(
    m,
    /removed what (the dead VRRP process \(not resumed in time\)|VRRP process \d+) left on the interfaces, [\d.]+ ms after: 10\.99\.0\.99\/24 on eth0 \(VI_1\)/,
    3000,
  );
  // the next one that runs starts as a backup, and becomes master the usual way
  await v2.waitLine(m, /\(VI_1\) Entering BACKUP STATE \(init\)/, 5000);
  await v2.waitHolder(VIP, 'n1', 5000);
  assert.ok(!m.lines.some((l) => /Entering MASTER STATE \(resumed/.test(l)), 'nothing was resumed after the window');
});

test('VIPs a crashed run left behind are removed at start; a backup never holds them', async () => {
  const v = await reset();
  v.startAlived('n2', conf(200));
  await v.waitHolder(VIP, 'n2', 10_000);
  await lab.run('n1', ['ip', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
  const d = v.startAlived('n1', conf(100));
  await v.waitLine(d, /removed 10\.99\.0\.99\/24 on eth0, left on the interface by an earlier run/, 5000);
  await v.waitHolder(VIP, 'n2', 3000);
});

test('SIGTERM during a reload that never finishes (a plugin hook that hangs): the VIP is released at once, no VRRP process starts again, and alived exits', async () => {
  const v = await reset();
  const d = v.startAlived('n1', conf(150));
  await v.waitHolder(VIP, 'n1', 10_000);
  // the new config's plugin never lets its configLoaded hook return
  const hang = path.join(v.dir, 'hang.js');
  const reached = path.join(v.dir, 'hang.reached');
  fs.writeFileSync(
    hang,
    `module.exports = { name: 'hang', version: '1.0.0', apply(api) { api.hooks.configLoaded.tapPromise('hang', () => { require('node:fs').writeFileSync(${JSON.stringify(reached)}, ''); return new Promise(() => {}); }); } };\n`,
  );
  fs.writeFileSync(d.config, `plugins {\n  ${JSON.stringify(hang)}\n}\n${conf(160)}`);
  v.signal(d, 'SIGHUP');
  await waitFor('the reload hanging in its hook', () => (fs.existsSync(reached) ? true : undefined), 10_000);
  const t0 = v.signal(d, 'SIGTERM');
  await waitFor('the VIP removed after the SIGTERM', () => v.events.find((e) => e.t >= t0 && e.kind === 'addr' && e.op === 'del' && e.address === VIP), 2000);
  const { code } = await d.exited;
  assert.equal(code, 0, d.lines.join('\n'));
  assert.ok(
    d.lines.some((l) => /the reload under way did not finish within 5 s of the stop; alived stops without it/.test(l)),
    d.lines.join('\n'),
  );
  assert.ok(d.lines.some((l) => /Stopped alived/.test(l)));
  assert.deepEqual(v.holders(VIP), [], 'no VRRP process took the VIP again');
});

test('SIGTERM: priority 0, VIPs removed, pid file removed, exit 0', async () => {
  const v = await reset();
  const d = v.startAlived('n1', conf(150));
  await v.waitHolder(VIP, 'n1', 10_000);
  const pidFile = d.proc.spawnargs[d.proc.spawnargs.indexOf('-p') + 1]!;
  assert.ok(fs.existsSync(pidFile));
  const dump = path.join(v.dir, 'term.pcap');
  const cap = await capture(lab, 'n2', dump, 'ip proto 112');
  v.signal(d, 'SIGTERM');
  const { code } = await d.exited;
  assert.equal(code, 0);
  assert.deepEqual(v.holders(VIP), []);
  assert.equal(fs.existsSync(pidFile), false);
  await new Promise((r) => setTimeout(r, 200));
  process.kill(cap.pid!, 'SIGTERM');
  await new Promise((r) => cap.once('exit', r));
  const adverts = readPcap(fs.readFileSync(dump)).map((p) => p.data.subarray(14 + 20));
  assert.ok(adverts.length > 0);
  assert.equal(adverts[adverts.length - 1]![2], 0, 'the last advert carries priority 0');
  assert.ok(d.lines.some((l) => /Stopped alived/.test(l)));
});

test('the VRRP process runs SCHED_RR 1 by default, with or without health checks in the daemon, and normally with vrrp_rt_priority 0', async () => {
  const checks = `virtual_server 10.99.0.50 80 {
  delay_loop 5
  protocol TCP
  real_server 10.99.0.12 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;
  const cases = [
    ['', '', /SCHED_RR[\s\S]*priority: 1\b/],
    ['', checks, /SCHED_RR[\s\S]*priority: 1\b/],
    ['global_defs {\n  vrrp_rt_priority 0\n}\n', checks, /SCHED_OTHER/],
  ] as const;
  for (const [extra, more, policy] of cases) {
    const v = await reset();
    const d = v.startAlived('n1', extra + conf(150) + more);
    await v.waitHolder(VIP, 'n1', 10_000);
    const [child] = childrenOf(d.proc.pid!);
    assert.ok(child, 'the VRRP process runs as a child of the daemon');
    // every thread: the VRRP process's V8 helper thread too, or its main thread may wait on it
    const tids = fs.readdirSync(`/proc/${child}/task`);
    assert.ok(tids.length > 1, `the VRRP process has threads ${tids}`);
    for (const tid of tids) {
      const chrt = spawnSync('chrt', ['-p', tid], { encoding: 'utf8' });
      assert.match(chrt.stdout, policy, `thread ${tid}: ${chrt.stdout}`);
    }
    v.signal(d, 'SIGTERM');
    assert.equal((await d.exited).code, 0);
  }
});
