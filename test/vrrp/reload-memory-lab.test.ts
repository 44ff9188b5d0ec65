import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { heapSnapshot, heapSnapshotOptions, openFds } from '../../core/lab/heap';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';

/**
 * The VRRP process after hundreds of reloads holds what the config has,
 * no more: its instances (each with its state machine, VIP manager and
 * announcer), its VRRP channels and its file descriptors are those of the
 * configured instances, whatever the reloads added, removed, replaced or
 * updated in place before. Counted in the process itself, from a heap
 * snapshot it writes (node's --heapsnapshot-signal), and from
 * /proc/PID/fd.
 *
 * n1 has a second interface (x0, one end of a veth pair inside n1) and an
 * IPv6 address: an instance on x0 and one of IPv6 come and go, so their
 * channels open and close. garp_master_refresh is an hour: a timer that
 * long, cleared by a removed or replaced master, once kept that master
 * (or its old announcer) alive for the hour.
 */

const RELOADS = 200;
let lab: Lab;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({ name: 'reloadmem', hosts: [{ name: 'n1', ip: '10.96.0.11', ip6: 'fd00:96::11' }] });
  await lab.run('n1', ['ip', 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1']);
  await lab.run('n1', ['ip', 'addr', 'add', '10.95.0.1/24', 'dev', 'x0']);
  await lab.run('n1', ['ip', 'link', 'set', 'x1', 'up']);
  await lab.run('n1', ['ip', 'link', 'set', 'x0', 'up']);
});
after(() => (lab ? lab.destroy() : undefined));

function block(name: string, lines: string[]): string {
  return [`vrrp_instance ${name} {`, ...lines.map((l) => `  ${l}`), '}'].join('\n') + '\n';
}

/**
 * The config after `n` reloads. Every reload updates VI_1 (its VIPs) and
 * VI_3 (its priority) in place, replaces VI_2 (its VRID), adds VI_ADD_n and
 * removes VI_ADD_(n-2); VI_X (on x0) and VI_6 (IPv6) are there after odd
 * reloads only. They come first: every other instance's lines move at each
 * reload, which alone changes nothing.
 */
function config(n: number): string {
  let out = 'global_defs {\n  router_id reload-mem\n  vrrp_garp_master_refresh 3600\n}\n';
  if (n % 2 === 1) {
    out += block('VI_X', [
      'state BACKUP',
      'interface x0',
      'virtual_router_id 1',
      'priority 100',
      'advert_int 0.1',
      'version 3',
      'virtual_ipaddress {',
      '  10.95.0.100/32',
      '}',
    ]);
    out += block('VI_6', [
      'state BACKUP',
      'interface eth0',
      'virtual_router_id 1',
      'priority 100',
      'advert_int 0.1',
      'virtual_ipaddress {',
      '  fd00:96::100/128',
      '}',
    ]);
  }
  out += block('VI_1', [
    'state MASTER',
    'interface eth0',
    'virtual_router_id 1',
    'priority 150',
    'advert_int 0.1',
    'version 3',
    'virtual_ipaddress {',
    '  10.96.1.1/32',
    `  10.96.2.${(n % 20) + 1}/32`,
    '}',
  ]);
  out += block('VI_2', [
    'state MASTER',
    'interface eth0',
    `virtual_router_id ${n % 2 === 0 ? 2 : 52}`,
    'priority 150',
    'advert_int 0.1',
    'version 3',
    'virtual_ipaddress {',
    '  10.96.1.2/32',
    '}',
  ]);
  out += block('VI_3', [
    'state BACKUP',
    'interface eth0',
    'virtual_router_id 3',
    `priority ${100 + (n % 2)}`,
    'advert_int 0.1',
    'version 3',
    'virtual_ipaddress {',
    '  10.96.1.3/32',
    '}',
  ]);
  for (let k = Math.max(1, n - 1); k <= n; k++) {
    out += block(`VI_ADD_${k}`, [
      'state BACKUP',
      'interface eth0',
      `virtual_router_id ${100 + (k % 100)}`,
      'priority 120',
      'advert_int 0.1',
      'version 3',
      'virtual_ipaddress {',
      `  10.96.3.${(k % 200) + 1}/32`,
      '}',
    ]);
  }
  return out;
}

/** The instances, sockets and timers the VRRP process's heap holds. */
const COUNTED = ['InstanceRuntime', 'VrrpMachine', 'VipManager', 'Announcer', 'VrrpChannel'] as const;

async function reload(v: VrrpLab, d: LabDaemon, n: number): Promise<string> {
  fs.writeFileSync(d.config, config(n));
  d.lines.length = 0;
  v.signal(d, 'SIGHUP');
  const done = await v.waitLine(d, /Reload complete|Reload rejected|restarting the VRRP process/, 10_000);
  assert.match(done, /Reload complete/, `reload ${n}: ${d.lines.join('\n')}`);
  return d.lines.find((l) => /VRRP reloaded in/.test(l)) ?? '(no VRRP reload line)';
}

test(`after ${RELOADS} reloads that add, remove, replace and update instances, the VRRP process holds the configured instances' objects and file descriptors, no more`, async () => {
  const dir = tmpDir('alived-reload-mem-');
  const snapshots = path.join(dir, 'snapshots');
  fs.mkdirSync(snapshots);
  const v = new VrrpLab(lab, dir);
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} ${heapSnapshotOptions(snapshots)}`.trim();
  let d: LabDaemon;
  try {
    d = v.startAlived('n1', config(0));
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  try {
    const started = await v.waitLine(d, /VRRP process started \(pid \d+\)/, 10_000);
    const pid = Number(/pid (\d+)\)/.exec(started)![1]);
    await v.waitLine(d, /VRRP engine started/, 10_000);
    await v.waitLine(d, /\(VI_1\) Entering MASTER STATE/, 5000);

    // reloads 1 and 2: x0's and IPv6's instances came and went once (x0's packet socket stays for the engine's life)
    await reload(v, d, 1);
    await reload(v, d, 2);
    const fdsBefore = openFds(pid);

    for (let n = 3; n <= RELOADS; n++) {
      const line = await reload(v, d, n);
      // VI_ADD_(n-1) is unchanged though its lines moved; VI_X and VI_6 come (odd n) and go (even n)
      const expected =
        n % 2 === 1
          ? '1 instance unchanged, 2 updated in place, 3 added, 1 replaced, 1 removed'
          : '1 instance unchanged, 2 updated in place, 1 added, 1 replaced, 3 removed';
      assert.ok(line.includes(`: ${expected}`), `reload ${n}: expected "${expected}", got: ${line}`);
      // VI_1, master, has its VIPs changed at each reload: its announcer is replaced, its new one re-announces
      if (n % 50 === 0) await new Promise((r) => setTimeout(r, 500));
    }
    // config(RELOADS), RELOADS even: VI_1, VI_2, VI_3, VI_ADD_(RELOADS-1), VI_ADD_RELOADS, all on eth0 over IPv4
    const configured = 5;
    assert.equal(openFds(pid), fdsBefore, 'the VRRP process has more file descriptors open than before the reloads');
    const heap = await heapSnapshot(pid, snapshots, { timeoutMs: 30_000 });
    const counts = Object.fromEntries(COUNTED.map((c) => [c, heap.objects.get(c) ?? 0]));
    assert.deepEqual(
      counts,
      { InstanceRuntime: configured, VrrpMachine: configured, VipManager: configured, Announcer: configured, VrrpChannel: 1 },
      `objects in the VRRP process's heap after ${RELOADS} reloads`,
    );
    assert.ok(fs.existsSync(`/proc/${pid}`), 'the VRRP process is the one that started');
  } finally {
    if (d.proc.exitCode === null && d.proc.signalCode === null) v.signal(d, 'SIGTERM');
    await Promise.race([d.exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
});
