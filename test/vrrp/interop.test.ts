import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { tmpDir } from '../helpers/config';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { keepalivedMissing } from '../helpers/lab';

/**
 * alived and keepalived (Debian's, the real peer) in one virtual router, in a
 * lab of namespaces: failover both ways, VRRPv2 with PASS at advert_int 1 and
 * VRRPv3 at 0.1, multicast and unicast, crash and SIGTERM, preemption.
 */

const VIP = '10.99.0.99';
const HOSTS = [
  { name: 'n1', ip: '10.99.0.11' },
  { name: 'n2', ip: '10.99.0.12' },
  { name: 'n3', ip: '10.99.0.13' },
  { name: 'client', ip: '10.99.0.100' },
];

interface Inst {
  state?: 'MASTER' | 'BACKUP';
  priority: number;
  version?: 2 | 3;
  advert?: number;
  auth?: boolean;
  unicast?: { src: string; peers: string[] };
  nopreempt?: boolean;
  preemptDelay?: number;
}

function conf(name: string, i: Inst): string {
  return `global_defs {
  router_id ${name}
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state ${i.state ?? 'BACKUP'}
  interface eth0
  virtual_router_id 51
  priority ${i.priority}
  advert_int ${i.advert ?? 1}
${i.version ? `  version ${i.version}\n` : ''}${i.nopreempt ? '  nopreempt\n' : ''}${i.preemptDelay !== undefined ? `  preempt_delay ${i.preemptDelay}\n` : ''}${
    i.auth ? '  authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }\n' : ''
  }${i.unicast ? `  unicast_src_ip ${i.unicast.src}\n  unicast_peer {\n${i.unicast.peers.map((p) => `    ${p}\n`).join('')}  }\n` : ''}  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

let lab: Lab;
let skip: string | false = false;

before(async () => {
  skip = keepalivedMissing('the interop tests');
  if (skip) return;
  removeStaleLabs();
  lab = await Lab.create({ name: 'interop', hosts: HOSTS });
});
after(() => (lab ? lab.destroy() : undefined));

/** A fresh run: every daemon of the previous test gone, links up, VIPs removed, ARP caches flushed. */
async function fresh(): Promise<VrrpLab> {
  lab.killHostProcesses();
  for (const h of lab.hosts) {
    lab.setLink(h, true);
  }
  await new Promise((r) => setTimeout(r, 100));
  for (const h of lab.hosts) {
    await lab.exec(h, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    await lab.exec(h, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
  }
  const v = new VrrpLab(lab, tmpDir('alived-interop-'));
  await v.watch();
  return v;
}

function start(v: VrrpLab, kind: 'alived' | 'keepalived', host: string, i: Inst): LabDaemon {
  return kind === 'alived' ? v.startAlived(host, conf(host, i)) : v.startKeepalived(host, conf(host, i));
}

async function clientArp(): Promise<string | undefined> {
  await lab.exec('client', ['ping', '-c', '1', '-W', '1', VIP]);
  const r = await lab.exec('client', ['ip', 'neigh', 'show', VIP]);
  return /lladdr (\S+)/.exec(r.stdout)?.[1];
}

/** Samples the VIP holders every 50 ms for `ms`: exactly one, the expected host, every time. */
async function soleHolder(v: VrrpLab, host: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    assert.deepEqual(v.holders(VIP), [host], `exactly ${host} holds ${VIP}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ms = (ns: bigint): number => Number(ns) / 1e6;

for (const [masterKind, backupKind] of [
  ['alived', 'keepalived'],
  ['keepalived', 'alived'],
] as const) {
  test(`VRRPv2 PASS advert_int 1: ${masterKind} MASTER, ${backupKind} BACKUP; crash of the master, then it returns and preempts`, async (t) => {
    if (skip) return t.skip(skip);
    const v = await fresh();
    const m = start(v, masterKind, 'n1', { state: 'MASTER', priority: 101, auth: true });
    const b = start(v, backupKind, 'n2', { priority: 100, auth: true });
    await v.waitHolder(VIP, 'n1', 15_000);
    await soleHolder(v, 'n1', 2500);
    assert.equal(await clientArp(), lab.host('n1').mac, "the client's ARP entry names the master");

    const t0 = v.crash('n1', [VIP]);
    lab.setLink('n1', false);
    const took = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 10_000);
    const takeover = ms(took.t - t0);
    // Master_Down_Interval = 3 x 1 s + (256 - 100) / 256 s = 3609 ms; the crash lands anywhere in an advert interval
    assert.ok(takeover <= 3609 + 50, `takeover ${takeover.toFixed(1)} ms within Master_Down_Interval`);
    assert.ok(takeover >= 2600, `takeover ${takeover.toFixed(1)} ms is not early`);
    await soleHolder(v, 'n2', 500);
    assert.equal(await clientArp(), lab.host('n2').mac, "the client's ARP entry names the new master");

    // the old master comes back with its higher priority and preempts
    lab.setLink('n1', true);
    const back = start(v, masterKind, 'n1', { state: 'MASTER', priority: 101, auth: true });
    await v.waitHolder(VIP, 'n1', 10_000);
    await soleHolder(v, 'n1', 1500);
    assert.equal(await clientArp(), lab.host('n1').mac);
    assert.ok(b.proc.exitCode === null, `${backupKind} still runs`);
    void m;
    void back;
  });

  test(`VRRPv3 advert_int 0.1: ${masterKind} MASTER, ${backupKind} BACKUP; SIGTERM of the master hands over within skew time`, async (t) => {
    if (skip) return t.skip(skip);
    const v = await fresh();
    const m = start(v, masterKind, 'n1', { state: 'MASTER', priority: 101, version: 3, advert: 0.1 });
    start(v, backupKind, 'n2', { priority: 100, version: 3, advert: 0.1 });
    await v.waitHolder(VIP, 'n1', 10_000);
    await soleHolder(v, 'n1', 1000);
    const t0 = v.signal(m, 'SIGTERM');
    const took = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 5000);
    const released = await v.waitEvent((e) => e.host === 'n1' && e.kind === 'addr' && e.op === 'del' && e.address === VIP, t0, 5000);
    const takeover = ms(took.t - t0);
    // priority 0 received: the backup waits only skew time, (256 - 100) x 10 cs / 256 = 61 ms, plus the time the master takes to send it
    assert.ok(takeover < 61 + 150, `takeover after SIGTERM ${takeover.toFixed(1)} ms`);
    assert.ok(released.t <= took.t + 200_000_000n, 'the master released the VIP');
    await m.exited;
    await soleHolder(v, 'n2', 500);
    assert.equal(await clientArp(), lab.host('n2').mac);
  });
}

test('VRRPv3 unicast advert_int 0.1, alived and keepalived: crash both ways', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const uni = (src: string, peer: string): Inst['unicast'] => ({ src, peers: [peer] });
  start(v, 'alived', 'n1', { state: 'MASTER', priority: 101, version: 3, advert: 0.1, unicast: uni('10.99.0.11', '10.99.0.12') });
  start(v, 'keepalived', 'n2', { priority: 100, version: 3, advert: 0.1, unicast: uni('10.99.0.12', '10.99.0.11') });
  await v.waitHolder(VIP, 'n1', 10_000);
  await soleHolder(v, 'n1', 800);
  let t0 = v.crash('n1', [VIP]);
  lab.setLink('n1', false);
  let took = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 5000);
  assert.ok(ms(took.t - t0) <= 361 + 30, `keepalived took over in ${ms(took.t - t0).toFixed(1)} ms`);

  // now alived is the backup of keepalived (priority 100 < 150 to preempt on its return)
  lab.setLink('n1', true);
  start(v, 'alived', 'n1', { priority: 90, version: 3, advert: 0.1, unicast: uni('10.99.0.11', '10.99.0.12') });
  await soleHolder(v, 'n2', 1000);
  t0 = v.crash('n2', [VIP]);
  lab.setLink('n2', false);
  took = await v.waitEvent((e) => e.host === 'n1' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 5000);
  // alived at priority 90: 3 x 100 ms + (256 - 90) x 10 / 256 cs = 364.8 ms
  assert.ok(ms(took.t - t0) <= 365 + 30, `alived took over in ${ms(took.t - t0).toFixed(1)} ms`);
});

test('nopreempt: a returning higher priority waits; preempt_delay: it takes over only after the delay', async (t) => {
  if (skip) return t.skip(skip);
  let v = await fresh();
  start(v, 'keepalived', 'n2', { priority: 100, version: 3, advert: 0.1 });
  await v.waitHolder(VIP, 'n2', 10_000);
  start(v, 'alived', 'n1', { priority: 150, version: 3, advert: 0.1, nopreempt: true });
  await soleHolder(v, 'n2', 1500);

  v = await fresh();
  start(v, 'keepalived', 'n2', { priority: 100, version: 3, advert: 0.1 });
  await v.waitHolder(VIP, 'n2', 10_000);
  const t0 = process.hrtime.bigint();
  start(v, 'alived', 'n1', { priority: 150, version: 3, advert: 0.1, preemptDelay: 2 });
  await soleHolder(v, 'n2', 1500);
  const took = await v.waitEvent((e) => e.host === 'n1' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 5000);
  assert.ok(ms(took.t - t0) >= 2000, `preempted after ${ms(took.t - t0).toFixed(0)} ms, not before preempt_delay`);
  await soleHolder(v, 'n1', 500);
});

test('three nodes with different priorities: the highest holds the VIP, then the next, then the last', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  start(v, 'alived', 'n1', { priority: 150, version: 3, advert: 0.1 });
  start(v, 'keepalived', 'n2', { priority: 120, version: 3, advert: 0.1 });
  start(v, 'alived', 'n3', { priority: 100, version: 3, advert: 0.1 });
  await v.waitHolder(VIP, 'n1', 10_000);
  await soleHolder(v, 'n1', 1000);
  v.crash('n1', [VIP]);
  lab.setLink('n1', false);
  await v.waitHolder(VIP, 'n2', 3000);
  await soleHolder(v, 'n2', 1000);
  v.crash('n2', [VIP]);
  lab.setLink('n2', false);
  await v.waitHolder(VIP, 'n3', 3000);
  await soleHolder(v, 'n3', 500);
  assert.equal(await clientArp(), lab.host('n3').mac);
});

test('IPv6 (VRRPv3, ff02::12, link-local sources) advert_int 0.1: alived and keepalived hand fd99::99 over both ways; the client follows through unsolicited NAs', async (t) => {
  if (skip) return t.skip(skip);
  const VIP6 = 'fd99::99';
  const conf6 = (name: string, priority: number): string => `global_defs {
  router_id ${name}
  vrrp_garp_master_delay 1
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority ${priority}
  advert_int 0.1
  virtual_ipaddress {
    ${VIP6}/64
  }
}
`;
  const v = await fresh();
  for (const h of lab.hosts) await lab.exec(h, ['ip', '-6', 'addr', 'del', `${VIP6}/64`, 'dev', 'eth0']);
  await lab.run('client', ['ip', '-6', 'addr', 'replace', 'fd99::100/64', 'dev', 'eth0', 'nodad']);
  const a = v.startAlived('n1', conf6('n1', 150));
  v.startKeepalived('n2', conf6('n2', 100));
  await v.waitHolder(VIP6, 'n1', 10_000);
  const holders = async (ms: number, host: string): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      assert.deepEqual(v.holders(VIP6), [host]);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await holders(800, 'n1');
  const neigh6 = async (): Promise<string | undefined> => {
    await lab.exec('client', ['ping', '-6', '-c', '1', '-W', '1', VIP6]);
    return /lladdr (\S+)/.exec((await lab.exec('client', ['ip', '-6', 'neigh', 'show', VIP6])).stdout)?.[1];
  };
  assert.equal(await neigh6(), lab.host('n1').mac);

  const t0 = v.signal(a, 'SIGTERM');
  const took = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP6, t0, 5000);
  assert.ok(ms(took.t - t0) < 61 + 150, `keepalived took ${VIP6} ${ms(took.t - t0).toFixed(1)} ms after alived's SIGTERM`);
  await a.exited;
  await holders(500, 'n2');
  const na = await v
    .waitEvent((e) => e.host === 'client' && e.kind === 'neigh' && e.address === VIP6 && e.mac === lab.host('n2').mac, t0, 3000)
    .catch(() => undefined);
  assert.ok(na, "keepalived's NA updated the client");

  // alived as the backup of keepalived this time, taking over after a crash
  v.startAlived('n1', conf6('n1', 90));
  await holders(800, 'n2');
  const t1 = v.crash('n2', [VIP6]);
  lab.setLink('n2', false);
  const took2 = await v.waitEvent((e) => e.host === 'n1' && e.kind === 'addr' && e.op === 'new' && e.address === VIP6, t1, 5000);
  assert.ok(ms(took2.t - t1) <= 365 + 30, `alived took ${VIP6} ${ms(took2.t - t1).toFixed(1)} ms after the crash`);
  await holders(500, 'n1');
  assert.equal(await neigh6(), lab.host('n1').mac, "alived's NA updated the client's neighbour entry");
});
