import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { ClientObserver, NeighbourView, neighbourNow } from '../../core/lab/client';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';
import { keepalivedMissing } from '../helpers/lab';

/**
 * use_vmac in a lab: the macvlan alived makes (name, MAC, mode, base, VIPs
 * on it), the sysctls it sets on the base and the VMAC and puts back at
 * stop, a VMAC left by a crash, what a client's ARP entry for the VIP names
 * (the virtual MAC with alived; keepalived's client learns the base's own
 * MAC once the master asks for the client), and alived and keepalived with
 * VMACs in one virtual router, failing over both ways.
 */

const VIP = '10.99.0.99';
const VIP6 = '2001:db8:99::99';
const VMAC = 'vrrp.51';
const VMAC6 = 'vrrp.52';
const MAC = '00:00:5e:00:01:33';
const MAC6 = '00:00:5e:00:02:34';
const HOSTS = [
  { name: 'n1', ip: '10.99.0.11', ip6: '2001:db8:99::11' },
  { name: 'n2', ip: '10.99.0.12', ip6: '2001:db8:99::12' },
  { name: 'client', ip: '10.99.0.100', ip6: '2001:db8:99::100' },
];

function conf(name: string, priority: number, extra = ''): string {
  return `global_defs {
  router_id ${name}
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  use_vmac
${extra}  virtual_router_id 51
  priority ${priority}
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

function conf6(name: string, priority: number): string {
  return `global_defs {
  router_id ${name}
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  use_vmac ${VMAC6}
  virtual_router_id 52
  priority ${priority}
  advert_int 0.1
  virtual_ipaddress {
    ${VIP6}/64
  }
}
`;
}

let lab: Lab;
let skip: string | false = false;

before(async () => {
  skip = keepalivedMissing('the VMAC interop tests');
  if (skip) return;
  removeStaleLabs();
  lab = await Lab.create({ name: 'vmac', hosts: HOSTS });
});
after(() => (lab ? lab.destroy() : undefined));

/** Every daemon of the previous test gone, links up, VMACs deleted, neighbour caches flushed, sysctls as a fresh host has them. */
async function fresh(): Promise<VrrpLab> {
  lab.killHostProcesses();
  for (const h of lab.hosts) {
    lab.setLink(h, true);
  }
  await new Promise((r) => setTimeout(r, 100));
  for (const h of lab.hosts) {
    for (const l of [VMAC, VMAC6]) await lab.exec(h, ['ip', 'link', 'del', l]);
    await lab.exec(h, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    await lab.exec(h, ['ip', '-6', 'neigh', 'flush', 'dev', 'eth0']);
    for (const k of ['arp_ignore', 'arp_filter', 'arp_announce', 'rp_filter']) await sysctlSet(h.name, `net.ipv4.conf.eth0.${k}`, '0');
    await sysctlSet(h.name, 'net.ipv4.conf.all.rp_filter', '0');
    await sysctlSet(h.name, 'net.ipv4.conf.default.rp_filter', '0');
  }
  const v = new VrrpLab(lab, tmpDir('alived-vmac-'));
  await v.watch();
  return v;
}

/** a sysctl read from /proc/sys (dotted names would split the VMAC's name) */
async function sysctl(host: string, key: string): Promise<string> {
  const path = key.replace(VMAC, '@').replace(VMAC6, '#').replace(/\./g, '/').replace('@', VMAC).replace('#', VMAC6);
  return (await lab.run(host, ['cat', `/proc/sys/${path}`])).trim();
}

async function sysctlSet(host: string, key: string, value: string): Promise<void> {
  await lab.run(host, ['sysctl', '-qw', `${key}=${value}`]);
}

interface LinkShow {
  ifname: string;
  address: string;
  link?: string;
  flags: string[];
  operstate: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
  addr_info?: Array<{ local: string; prefixlen: number; scope: string }>;
}

/** `ip -d addr show DEV` as JSON, or undefined when there is no such interface. */
async function link(host: string, dev: string): Promise<LinkShow | undefined> {
  const r = await lab.exec(host, ['ip', '-j', '-d', 'addr', 'show', 'dev', dev]);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as LinkShow[])[0];
}

const holds = (l: LinkShow | undefined, address: string): boolean => (l?.addr_info ?? []).some((a) => a.local === address);

/** Polls until the host's VMAC carries the VIP (or, with `want` false, does not), at most timeoutMs. */
async function waitVip(host: string, dev: string, address: string, want: boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (holds(await link(host, dev), address) === want) return;
    if (Date.now() > deadline) throw new Error(`${address} ${want ? 'not' : 'still'} on ${dev} of ${host} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The client pings once, after the master forgot the client's MAC (so it must ask for it): what the client's entry names then. */
async function clientEntryAfterMasterAsks(master: string, address = VIP): Promise<string | undefined> {
  await lab.exec(master, ['ip', 'neigh', 'flush', 'all']);
  await lab.exec('client', ['ping', '-c', '2', '-i', '0.2', '-W', '1', address]);
  await new Promise((r) => setTimeout(r, 100));
  return neighbourNow(lab, 'client', address);
}

async function stopDaemon(v: VrrpLab, d: LabDaemon): Promise<void> {
  v.signal(d, 'SIGTERM');
  const r = await Promise.race([d.exited, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 10_000))]);
  assert.notEqual(r, 'timeout', `${d.kind} on ${d.host.name} did not stop within 10 s`);
}

test('alived with use_vmac: the macvlan, the VIP on it, the sysctls, the client names the virtual MAC through a failover, all put back at stop', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  // a host whose all.rp_filter is 2 (systemd's default): keepalived's clear_rp_filter dance
  await sysctlSet('n1', 'net.ipv4.conf.all.rp_filter', '2');
  await sysctlSet('n1', 'net.ipv4.conf.default.rp_filter', '1');
  const n1 = v.startAlived('n1', conf('n1', 200));
  const n2 = v.startAlived('n2', conf('n2', 100));
  await v.waitLine(n1, /\(VI_1\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC, VIP, true);

  // the interface
  for (const h of ['n1', 'n2']) {
    const l = await link(h, VMAC);
    assert.ok(l, `${h} has ${VMAC}`);
    assert.equal(l.address, MAC, `${h}: the VMAC has the virtual MAC`);
    assert.equal(l.link, 'eth0', `${h}: the VMAC is on eth0`);
    assert.equal(l.linkinfo?.info_kind, 'macvlan');
    assert.equal(l.linkinfo?.info_data?.mode, 'private');
    assert.ok(l.flags.includes('UP'), `${h}: the VMAC is up`);
    assert.ok(!(l.addr_info ?? []).some((a) => a.local.startsWith('fe80:')), `${h}: no link-local address on an IPv4 VMAC`);
    assert.equal(await sysctl(h, `net.ipv6.conf.${VMAC}.disable_ipv6`), '1');
    assert.match(l.ifalias ?? '', /^alived-vmac /, 'the alias records the originals');
  }
  assert.ok(holds(await link('n1', VMAC), VIP), 'the master holds the VIP on its VMAC');
  assert.ok(!holds(await link('n1', 'eth0'), VIP), 'and not on eth0');
  assert.ok(!holds(await link('n2', VMAC), VIP), 'the backup holds no VIP');

  // the sysctls: keepalived's on the VMAC and the base, alived's arp_announce, the rp_filter dance
  for (const h of ['n1', 'n2']) {
    assert.equal(await sysctl(h, 'net.ipv4.conf.eth0.arp_ignore'), '1');
    assert.equal(await sysctl(h, 'net.ipv4.conf.eth0.arp_filter'), '1');
    assert.equal(await sysctl(h, 'net.ipv4.conf.eth0.arp_announce'), '2');
    assert.equal(await sysctl(h, `net.ipv4.conf.${VMAC}.arp_ignore`), '1');
    assert.equal(await sysctl(h, `net.ipv4.conf.${VMAC}.accept_local`), '1');
    assert.equal(await sysctl(h, `net.ipv4.conf.${VMAC}.rp_filter`), '0');
  }
  assert.equal(await sysctl('n1', 'net.ipv4.conf.all.rp_filter'), '0', 'all.rp_filter 0, else the VMAC rp_filter 0 does not count');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.default.rp_filter'), '2', 'default raised to the old all');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.eth0.rp_filter'), '2', 'eth0 raised to the old all: it filters as before');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.lo.rp_filter'), '2');

  // the client: its entry names the virtual MAC, also once the master asked for the client's MAC
  assert.equal(await clientEntryAfterMasterAsks('n1'), MAC, "the client's entry for the VIP names the virtual MAC");

  // failover: the client's entry keeps naming the virtual MAC, the pings get answers from n2
  const client = await ClientObserver.start(lab, { vip: VIP, host: 'client' });
  t.after(() => client.stop());
  await new Promise((r) => setTimeout(r, 500));
  const t0 = v.crash('n1', []);
  lab.setLink('n1', false);
  await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 10_000);
  await waitVip('n2', VMAC, VIP, true);
  await new Promise((r) => setTimeout(r, 1500));
  const t1 = process.hrtime.bigint();
  const view = new NeighbourView(v.events, 'client', VIP);
  assert.equal(
    view.wrongMs(t0 - 500_000_000n, t1, MAC),
    0,
    `the client's entry named only the virtual MAC: ${JSON.stringify(view.changes().map((c) => c.mac))}`,
  );
  const after = client.pings(t1 - 1_000_000_000n, t1 - 500_000_000n);
  assert.ok(after.sent > 0 && after.received === after.sent, `the new master answers: ${JSON.stringify(after)}`);
  assert.ok(client.firstReply(t0) !== undefined);
  assert.equal(await clientEntryAfterMasterAsks('n2'), MAC, 'and still after the new master asked for the client');
  client.stop();

  // stop: the VMAC goes, every sysctl comes back
  await stopDaemon(v, n2);
  assert.equal(await link('n2', VMAC), undefined, 'the VMAC is removed at stop');
  for (const k of ['arp_ignore', 'arp_filter', 'arp_announce']) assert.equal(await sysctl('n2', `net.ipv4.conf.eth0.${k}`), '0', `n2: ${k} put back`);
  assert.ok(
    n2.lines.some((l) => /removed VMAC vrrp\.51/.test(l)),
    n2.lines.slice(-10).join('\n'),
  );
});

test('a VMAC left by a crashed alived is taken over; the sysctls still go back to what they were before the first run', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  await sysctlSet('n1', 'net.ipv4.conf.all.rp_filter', '1');
  const first = v.startAlived('n1', conf('n1', 200));
  await v.waitLine(first, /\(VI_1\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC, VIP, true);
  // the whole daemon dies (every process stopped, then killed): nothing is put back, the VMAC stays with the VIP
  v.crash('n1', []);
  await first.exited;
  assert.ok(await link('n1', VMAC), 'the VMAC outlived the crash');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.eth0.arp_ignore'), '1');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.all.rp_filter'), '0');

  const second = v.startAlived('n1', conf('n1', 200));
  await v.waitLine(second, /taking over VMAC vrrp\.51, left by an earlier run/, 15_000);
  await v.waitLine(second, /\(VI_1\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC, VIP, true);
  assert.equal(await clientEntryAfterMasterAsks('n1'), MAC);
  await stopDaemon(v, second);
  assert.equal(await link('n1', VMAC), undefined, 'removed at stop');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.eth0.arp_ignore'), '0', 'the value from before the crashed run, read from the alias');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.eth0.arp_announce'), '0');
  assert.equal(await sysctl('n1', 'net.ipv4.conf.all.rp_filter'), '1');
});

test('a VMAC someone deletes is made again; a reload that drops use_vmac deletes it and puts the sysctls back', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const n1 = v.startAlived('n1', conf('n1', 200));
  await v.waitLine(n1, /\(VI_1\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC, VIP, true);
  await lab.run('n1', ['ip', 'link', 'del', VMAC]);
  await v.waitLine(n1, /VMAC vrrp\.51 was deleted: making it again/, 10_000);
  await waitVip('n1', VMAC, VIP, true);
  assert.equal((await link('n1', VMAC))!.address, MAC);
  assert.equal(await clientEntryAfterMasterAsks('n1'), MAC);

  // the same instance without use_vmac: replaced, its VMAC deleted, the VIP on eth0
  fs.writeFileSync(n1.config, conf('n1', 200).replace('  use_vmac\n', ''));
  v.signal(n1, 'SIGHUP');
  await v.waitLine(n1, /Reload complete/, 15_000);
  await waitVip('n1', 'eth0', VIP, true);
  assert.equal(await link('n1', VMAC), undefined, 'the VMAC is deleted');
  for (const k of ['arp_ignore', 'arp_filter', 'arp_announce']) assert.equal(await sysctl('n1', `net.ipv4.conf.eth0.${k}`), '0', `${k} put back`);
  await stopDaemon(v, n1);
});

test('vmac_xmit_base: adverts leave from the base with its MAC, the VIP still on the VMAC, the backup hears them (alived and keepalived)', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const n1 = v.startAlived('n1', conf('n1', 200, '  vmac_xmit_base\n'));
  const n2 = v.startKeepalived('n2', conf('n2', 100, '  vmac_xmit_base\n'));
  await v.waitLine(n1, /\(VI_1\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC, VIP, true);
  // keepalived may have been master before alived started: it yields, and stays backup from then on
  await waitVip('n2', VMAC, VIP, false);
  const n2From = n2.lines.length;
  // the adverts on the client's wire: from n1's own MAC (tcpdump -e prints the link-layer source)
  const cap = await lab.exec('client', ['timeout', '3', 'tcpdump', '-c', '3', '-e', '-n', '-i', 'eth0', 'ip proto 112'], 5000);
  const sources = [...cap.stdout.matchAll(/^\S+ (\S+) > 01:00:5e:00:00:12/gm)].map((m) => m[1]);
  assert.ok(sources.length > 0, `adverts captured: ${cap.stdout}${cap.stderr}`);
  assert.deepEqual([...new Set(sources)], [lab.host('n1').mac], "alived's adverts leave from eth0's MAC");
  assert.equal(await clientEntryAfterMasterAsks('n1'), MAC, "the client's entry still names the virtual MAC");
  // keepalived (n2, also xmit_base) hears alived on its base: it stays backup, and takes over when alived stops
  assert.ok(!n2.lines.slice(n2From).some((l) => /Entering MASTER STATE/.test(l)), n2.lines.slice(-5).join('\n'));
  assert.ok(!holds(await link('n2', VMAC), VIP));
  await stopDaemon(v, n1);
  await waitVip('n2', VMAC, VIP, true);
  await stopDaemon(v, n2);
});

test('unicast with use_vmac and vmac_xmit_base: the VIP on the VMAC, the adverts between the base addresses, failover on SIGTERM', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const uni = (self: string, peer: string) => `  vmac_xmit_base\n  unicast_src_ip ${self}\n  unicast_peer {\n    ${peer}\n  }\n`;
  const n1 = v.startAlived('n1', conf('n1', 200, uni('10.99.0.11', '10.99.0.12')));
  const n2 = v.startAlived('n2', conf('n2', 100, uni('10.99.0.12', '10.99.0.11')));
  await v.waitLine(n1, /\(VI_1\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC, VIP, true);
  await waitVip('n2', VMAC, VIP, false);
  assert.equal(await clientEntryAfterMasterAsks('n1'), MAC);
  await stopDaemon(v, n1);
  await waitVip('n2', VMAC, VIP, true);
  assert.equal(await clientEntryAfterMasterAsks('n2'), MAC);
  await stopDaemon(v, n2);
});

test('garp_extra_if with vmac_xmit_base: one gratuitous ARP from the VMAC every interval, after garp_master_delay', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const n1 = v.startAlived('n1', conf('n1', 200, '  vmac_xmit_base\n  garp_extra_if 1\n'));
  await v.waitLine(n1, /\(VI_1\) Entering MASTER STATE/, 15_000);
  // the bursts of becoming master (now and after garp_master_delay 1 s) are over by 1.5 s; then one a second
  await new Promise((r) => setTimeout(r, 1500));
  const cap = await lab.exec('client', ['timeout', '3.2', 'tcpdump', '-e', '-n', '-l', '-i', 'eth0', 'arp'], 6000);
  const garps = cap.stdout.split('\n').filter((l) => l.includes(`${MAC} > ff:ff:ff:ff:ff:ff`) && l.includes(VIP));
  assert.ok(garps.length >= 2 && garps.length <= 4, `gratuitous ARPs from the VMAC in 3.2 s: ${garps.length}\n${cap.stdout}`);
  await stopDaemon(v, n1);
});

test('disable_local_igmp: no IGMP reports for 224.0.0.0/24 while alived runs, put back at stop', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const key = 'net.ipv4.igmp_link_local_mcast_reports';
  await sysctlSet('n1', key, '1');
  const n1 = v.startAlived('n1', conf('n1', 200).replace('  vrrp_garp_master_delay 1\n', '  vrrp_garp_master_delay 1\n  disable_local_igmp\n'));
  await v.waitLine(n1, /\(VI_1\) Entering MASTER STATE/, 15_000);
  assert.equal(await sysctl('n1', key), '0');
  await stopDaemon(v, n1);
  assert.equal(await sysctl('n1', key), '1', 'put back');
});

test('IPv6: the VMAC has 00:00:5e:00:02:VRID, the base link-local address, no EUI-64 one; the client names the virtual MAC', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const n1 = v.startAlived('n1', conf6('n1', 200));
  const n2 = v.startAlived('n2', conf6('n2', 100));
  await v.waitLine(n1, /\(VI_6\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC6, VIP6, true);
  const l = (await link('n1', VMAC6))!;
  assert.equal(l.address, MAC6);
  const baseLl = (await link('n1', 'eth0'))!.addr_info!.find((a) => a.scope === 'link')!.local;
  assert.deepEqual(
    (l.addr_info ?? []).filter((a) => a.scope === 'link').map((a) => a.local),
    [baseLl],
    "the base's link-local address, and no address made from the virtual MAC",
  );
  await lab.exec('client', ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', VIP6]);
  const r = await lab.run('client', ['ip', '-6', 'neigh', 'show', VIP6]);
  assert.match(r, new RegExp(`lladdr ${MAC6}`), r);
  await stopDaemon(v, n1);
  await stopDaemon(v, n2);
  assert.equal(await link('n1', VMAC6), undefined);
});

test('keepalived with use_vmac, for comparison: its client learns the base MAC once the master asks for the client', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const k = v.startKeepalived('n1', conf('n1', 200));
  await v.waitLine(k, /\(VI_1\) Entering MASTER STATE/, 15_000);
  await waitVip('n1', VMAC, VIP, true);
  const entry = await clientEntryAfterMasterAsks('n1');
  t.diagnostic(
    `keepalived ${spawnSync('keepalived', ['--version'], { encoding: 'utf8' }).stderr.split('\n')[0]}: the client's entry for the VIP names ${entry} (virtual MAC ${MAC}, n1's eth0 ${lab.host('n1').mac}); arp_announce on eth0 ${await sysctl('n1', 'net.ipv4.conf.eth0.arp_announce')}`,
  );
  assert.equal(
    entry,
    lab.host('n1').mac,
    "keepalived: the master's ARP request from eth0 with the VIP as sender names eth0's MAC (alived sets arp_announce 2)",
  );
  await stopDaemon(v, k);
  t.diagnostic(
    `after keepalived stopped, n1's eth0 arp_ignore ${await sysctl('n1', 'net.ipv4.conf.eth0.arp_ignore')}, arp_filter ${await sysctl('n1', 'net.ipv4.conf.eth0.arp_filter')} (0 and 0 before it ran)`,
  );
});

for (const [firstKind, secondKind] of [
  ['alived', 'keepalived'],
  ['keepalived', 'alived'],
] as const) {
  test(`interop with VMACs: ${firstKind} master, ${secondKind} backup; crash, takeover, return and preemption; the client names the virtual MAC throughout`, async (t) => {
    if (skip) return t.skip(skip);
    const v = await fresh();
    // keepalived does not set arp_announce 2 on the base as alived does: its node gets it by hand, else the
    // client learns that node's own MAC once it asks for the client (the comparison test above)
    for (const [kind, host] of [
      [firstKind, 'n1'],
      [secondKind, 'n2'],
    ] as const)
      if (kind === 'keepalived') await sysctlSet(host, 'net.ipv4.conf.eth0.arp_announce', '2');
    const start = (kind: 'alived' | 'keepalived', host: string, prio: number): LabDaemon =>
      kind === 'alived' ? v.startAlived(host, conf(host, prio)) : v.startKeepalived(host, conf(host, prio));
    const m = start(firstKind, 'n1', 200);
    start(secondKind, 'n2', 100);
    await v.waitLine(m, /\(VI_1\) Entering MASTER STATE/, 15_000);
    await waitVip('n1', VMAC, VIP, true);
    const client = await ClientObserver.start(lab, { vip: VIP, host: 'client' });
    t.after(() => client.stop());
    await new Promise((r) => setTimeout(r, 1000));
    const tStart = process.hrtime.bigint();
    assert.equal(await neighbourNow(lab, 'client', VIP), MAC);
    // n2 may have been master before n1 started: it yields to n1's higher priority
    await waitVip('n2', VMAC, VIP, false);

    // the master dies: the backup takes over
    const t0 = v.crash('n1', []);
    lab.setLink('n1', false);
    await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    const t1 = process.hrtime.bigint();
    const onN2 = client.pings(t1 - 1_000_000_000n, t1 - 500_000_000n);
    assert.ok(onN2.sent > 0 && onN2.received === onN2.sent, `${secondKind} answers for the VIP: ${JSON.stringify(onN2)}`);

    // it comes back as a rebooted machine would (no VMAC left), and preempts
    await lab.exec('n1', ['ip', 'link', 'del', VMAC]);
    lab.setLink('n1', true);
    const back = start(firstKind, 'n1', 200);
    const t2 = process.hrtime.bigint();
    await v.waitEvent((e) => e.host === 'n1' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t2, 15_000);
    await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'del' && e.address === VIP, t2, 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    const t3 = process.hrtime.bigint();
    assert.ok(holds(await link('n1', VMAC), VIP) && !holds(await link('n2', VMAC), VIP), `${firstKind} is master again, alone`);
    const onN1 = client.pings(t3 - 1_000_000_000n, t3 - 500_000_000n);
    assert.ok(onN1.sent > 0 && onN1.received === onN1.sent, `${firstKind} answers again: ${JSON.stringify(onN1)}`);
    const view = new NeighbourView(v.events, 'client', VIP);
    assert.equal(
      view.wrongMs(tStart, t3, MAC),
      0,
      `the client's entry named only the virtual MAC: ${JSON.stringify(view.changes(tStart, t3).map((c) => c.mac))}`,
    );
    const all = client.pings(tStart, t3 - 500_000_000n);
    t.diagnostic(`pings over both failovers: ${all.received} of ${all.sent} answered, longest gap ${all.longestGapMs.toFixed(0)} ms`);
    client.stop();
    await stopDaemon(v, back);
  });
}
