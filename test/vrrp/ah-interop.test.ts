import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { startTcpdump, pcapRecords } from '../../core/lab/capture';
import { tmpDir } from '../helpers/config';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { keepalivedMissing } from '../helpers/lab';

/**
 * auth_type AH between alived and keepalived (Debian's 2.2.7) in one virtual
 * router, in a lab of namespaces: failover both ways, multicast and unicast;
 * every advert of one accepted by the other (no IPSEC-AH complaint on either
 * side, the sequence numbers carried over at each takeover); and a wrong
 * auth_pass on one side: each rejects the other's adverts (counted), both
 * stay master, nothing flaps, exactly as two keepalived nodes behave.
 */

const VIP = '10.99.0.99';
const HOSTS = [
  { name: 'n1', ip: '10.99.0.11' },
  { name: 'n2', ip: '10.99.0.12' },
  { name: 'client', ip: '10.99.0.100' },
];

interface Inst {
  priority: number;
  pass?: string;
  /** unicast_src_ip and one unicast_peer */
  unicast?: [string, string];
}

function conf(name: string, i: Inst): string {
  return `global_defs {
  router_id ${name}
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${i.priority}
  advert_int 1
  authentication {
    auth_type AH
    auth_pass ${i.pass ?? 's3cret'}
  }
${i.unicast ? `  unicast_src_ip ${i.unicast[0]}\n  unicast_peer {\n    ${i.unicast[1]}\n  }\n` : ''}  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

let lab: Lab;
let skip: string | false = false;

before(async () => {
  skip = keepalivedMissing('the AH interop tests');
  if (skip) return;
  removeStaleLabs();
  lab = await Lab.create({ name: 'ahinterop', hosts: HOSTS });
});
after(() => (lab ? lab.destroy() : undefined));

/** A fresh run: every daemon of the previous test gone, links up, VIPs removed, ARP caches flushed. */
async function fresh(): Promise<VrrpLab> {
  lab.killHostProcesses();
  for (const h of lab.hosts) {
    lab.setLink(h, true);
  }
  await sleep(100);
  for (const h of lab.hosts) {
    await lab.exec(h, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    await lab.exec(h, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
  }
  // a directory per run: keepalived refuses to start over another run's pid files
  const v = new VrrpLab(lab, tmpDir('alived-ah-interop-'));
  await v.watch();
  return v;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (ns: bigint): number => Number(ns) / 1e6;
let instanceSeq = 0;

function start(v: VrrpLab, kind: 'alived' | 'keepalived', host: string, i: Inst): LabDaemon {
  // --instance: alived's SIGUSR2 statistics go to /tmp/alived_<instance>.stats
  return kind === 'alived'
    ? v.startAlived(host, conf(host, i), ['--instance', `ahlab${process.pid}-${++instanceSeq}`])
    : v.startKeepalived(host, conf(host, i));
}

/** Samples the VIP holders every 50 ms for `ms`: exactly these hosts, every time. */
async function holdersStay(v: VrrpLab, hosts: string[], ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    assert.deepEqual(v.holders(VIP), hosts, `exactly ${hosts.join(' and ')} hold ${VIP}`);
    await sleep(50);
  }
}

async function clientArp(): Promise<string | undefined> {
  await lab.exec('client', ['ping', '-c', '1', '-W', '1', VIP]);
  const r = await lab.exec('client', ['ip', 'neigh', 'show', VIP]);
  return /lladdr (\S+)/.exec(r.stdout)?.[1];
}

/** alived's counters (SIGUSR2, keepalived's stats layout): `Section/Key` -> number. */
async function alivedStats(d: LabDaemon): Promise<Record<string, number>> {
  const instance = d.proc.spawnargs[d.proc.spawnargs.indexOf('--instance') + 1]!;
  const file = `/tmp/alived_${instance}.stats`;
  fs.rmSync(file, { force: true });
  process.kill(d.proc.pid!, 'SIGUSR2');
  for (let i = 0; i < 100 && !/Priority Zero/.test(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''); i++) await sleep(50);
  const text = fs.readFileSync(file, 'utf8');
  fs.rmSync(file, { force: true });
  const out: Record<string, number> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const m = /^(\s*)([^:]+):\s*(\d+)?\s*$/.exec(line);
    if (!m) continue;
    if (m[3] === undefined) section = m[2]!.trim();
    else out[`${m[1]!.length > 2 ? `${section}/` : ''}${m[2]!.trim()}`] = Number(m[3]);
  }
  return out;
}

/** the AH rejections a daemon logged (keepalived's wording, which alived keeps); `Syncing seq_num` is not one */
const ipsecLines = (d: LabDaemon): string[] => d.lines.filter((l) => /IPSEC.*(invalid|already processed)/.test(l));
/** the transitions a daemon logged, for messages */
const story = (...ds: LabDaemon[]): string =>
  ds.map((d) => `${d.kind} on ${d.host.name}:\n${d.lines.filter((l) => /STATE|IPSEC|priority/.test(l)).join('\n')}`).join('\n');
const entered = (d: LabDaemon, state: string): number => d.lines.filter((l) => new RegExp(`\\(VI_1\\) Entering ${state} STATE`).test(l)).length;

test('AH multicast: alived master, keepalived backup; alived stops and keepalived takes over; alived returns and takes over again', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const pcap = `${v.dir}/ah-mcast.pcap`;
  const td = await startTcpdump(lab, 'client', 'eth0', pcap, 'ip proto 51 or ip proto 112');
  const a = start(v, 'alived', 'n1', { priority: 101 });
  const k = start(v, 'keepalived', 'n2', { priority: 100 });
  await v.waitHolder(VIP, 'n1', 15_000);
  await holdersStay(v, ['n1'], 3000);
  assert.equal(await clientArp(), lab.host('n1').mac, "the client's ARP entry names alived's node");
  const s1 = await alivedStats(a);
  assert.ok(s1['Advertisements/Sent']! >= 2, `alived advertised: ${JSON.stringify(s1)}`);

  // a reload that updates the instance in place keeps its sequence counter: keepalived goes on accepting
  fs.writeFileSync(a.config, conf('n1', { priority: 101 }).replace('vrrp_garp_master_delay 1', 'vrrp_garp_master_delay 2'));
  v.signal(a, 'SIGHUP');
  await v.waitLine(a, /VRRP reloaded in [\d.]+ ms: 0 instances unchanged, 1 updated in place/, 5000);
  await holdersStay(v, ['n1'], 2500);

  // SIGTERM: alived's priority-0 advert (AH, next sequence number) makes keepalived take over after Skew_Time
  const t0 = v.signal(a, 'SIGTERM');
  const took = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 5000);
  // priority 0 received: keepalived waits Skew_Time, (256 - 100) / 256 s = 609 ms (not Master_Down_Interval, 3.6 s)
  assert.ok(ms(took.t - t0) < 609 + 300, `keepalived took over ${ms(took.t - t0).toFixed(1)} ms after alived's SIGTERM`);
  t.diagnostic(`keepalived took the VIP ${ms(took.t - t0).toFixed(1)} ms after alived's SIGTERM`);
  await a.exited;
  await holdersStay(v, ['n2'], 1500);
  assert.equal(await clientArp(), lab.host('n2').mac);

  // alived returns (its counter starts at 0), hears keepalived's numbers, and preempts above them
  const back = start(v, 'alived', 'n1', { priority: 101 });
  await v.waitHolder(VIP, 'n1', 15_000);
  await holdersStay(v, ['n1'], 2500);
  assert.equal(await clientArp(), lab.host('n1').mac);
  await v.waitLine(k, /\(VI_1\) Master received advert from 10\.99\.0\.11 with higher priority 101, ours 100/, 2000);
  const s2 = await alivedStats(back);
  assert.equal(s2['Authentication Errors/Failure'], 0, JSON.stringify(s2));
  assert.equal(s2['Authentication Errors/Type Mismatch'], 0);
  assert.ok(s2['Advertisements/Received']! >= 1, `alived heard keepalived: ${JSON.stringify(s2)}`);
  assert.deepEqual(ipsecLines(k), [], 'keepalived accepted every advert of alived');
  assert.deepEqual(ipsecLines(back), [], 'alived accepted every advert of keepalived');
  assert.deepEqual(ipsecLines(a), []);

  // on the wire: protocol 51 only, each sender's sequence numbers rising, and each takeover continuing above the last number heard
  td.kill('SIGTERM');
  await new Promise((r) => td.once('exit', r));
  const adverts = pcapRecords(fs.readFileSync(pcap)).map((r) => r.frame.subarray(14));
  assert.ok(adverts.length >= 8, `captured ${adverts.length} adverts`);
  assert.ok(
    adverts.every((p) => p[9] === 51),
    'every advert is IPsec AH',
  );
  const seqs = adverts.map((p) => p.readUInt32BE(28));
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `sequence numbers rise across senders: ${seqs.join(' ')}`);
  // SPI = the sender's address
  for (const p of adverts) assert.equal(p.readUInt32BE(24), p.readUInt32BE(12));
});

test('AH unicast: keepalived master, alived backup; keepalived crashes and alived takes over; keepalived returns and preempts', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  start(v, 'keepalived', 'n1', { priority: 101, unicast: ['10.99.0.11', '10.99.0.12'] });
  await v.waitHolder(VIP, 'n1', 15_000);
  // alived joins the running master as its backup
  const a = start(v, 'alived', 'n2', { priority: 100, unicast: ['10.99.0.12', '10.99.0.11'] });
  await v.waitLine(a, /\(VI_1\) Entering BACKUP STATE/, 10_000);
  await holdersStay(v, ['n1'], 2500);
  const heard = await alivedStats(a);
  assert.ok(heard['Advertisements/Received']! >= 2, `alived accepted keepalived's unicast AH adverts: ${JSON.stringify(heard)}`);
  assert.equal(heard['Authentication Errors/Failure'], 0, ipsecLines(a).join('\n'));

  const t0 = v.crash('n1', [VIP]);
  lab.setLink('n1', false);
  const took = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 10_000);
  // Master_Down_Interval = 3 x 1 s + (256 - 100) / 256 s = 3609 ms; the crash lands anywhere in an advert interval
  assert.ok(ms(took.t - t0) <= 3609 + 100, `alived took over ${ms(took.t - t0).toFixed(1)} ms after the crash`);
  assert.ok(ms(took.t - t0) >= 2500, `not early: ${ms(took.t - t0).toFixed(1)} ms`);
  t.diagnostic(`alived took the VIP ${ms(took.t - t0).toFixed(1)} ms after keepalived's crash`);
  await holdersStay(v, ['n2'], 1000);
  assert.equal(await clientArp(), lab.host('n2').mac);

  // keepalived returns (its counter at 0), accepts alived's numbers and preempts above them
  lab.setLink('n1', true);
  const k2 = start(v, 'keepalived', 'n1', { priority: 101, unicast: ['10.99.0.11', '10.99.0.12'] });
  await v.waitHolder(VIP, 'n1', 15_000);
  await holdersStay(v, ['n1'], 2500);
  assert.equal(await clientArp(), lab.host('n1').mac);
  await v.waitLine(a, /\(VI_1\) Entering BACKUP STATE/, 2000);
  const s = await alivedStats(a);
  assert.equal(s['Authentication Errors/Failure'], 0, JSON.stringify(s));
  assert.equal(s['Became master'], 1, story(a, k2));
  assert.equal(s['Released master'], 1, story(a, k2));
  assert.deepEqual(ipsecLines(k2), [], "keepalived accepted alived's unicast AH adverts");
  assert.deepEqual(ipsecLines(a), []);
});

test('a wrong auth_pass on one side: each rejects the other (counted), both are master, nothing flaps; two keepalived nodes do the same', async (t) => {
  if (skip) return t.skip(skip);
  // the first node starts alone and is master; the second, with the wrong key and the higher priority, cannot verify
  // the master's adverts, so its down timer runs out and it is master too
  for (const [firstKind, wrongKind] of [
    ['keepalived', 'keepalived'],
    ['keepalived', 'alived'],
    ['alived', 'keepalived'],
  ] as const) {
    const what = `${firstKind} with the key, ${wrongKind} with a wrong one`;
    const v = await fresh();
    const first = start(v, firstKind, 'n2', { priority: 100 });
    await v.waitHolder(VIP, 'n2', 15_000);
    const wrong = start(v, wrongKind, 'n1', { priority: 101, pass: 'wrongkey' });
    const deadline = Date.now() + 15_000;
    while (v.holders(VIP).length < 2 && Date.now() < deadline) await sleep(50);
    assert.deepEqual(v.holders(VIP), ['n1', 'n2'], `${what}: both masters`);
    // (the VIP is added before the transition is logged)
    await v.waitLine(wrong, /\(VI_1\) Entering MASTER STATE/, 3000);
    // settled: no transition on either side for 4 s, and both keep the VIP throughout
    const before = [entered(first, 'MASTER'), entered(first, 'BACKUP'), entered(wrong, 'MASTER'), entered(wrong, 'BACKUP')];
    await holdersStay(v, ['n1', 'n2'], 4000);
    assert.deepEqual(
      [entered(first, 'MASTER'), entered(first, 'BACKUP'), entered(wrong, 'MASTER'), entered(wrong, 'BACKUP')],
      before,
      `${what}: no flapping\n${story(first, wrong)}`,
    );
    assert.equal(entered(first, 'MASTER'), 1, what);
    assert.equal(entered(wrong, 'MASTER'), 1, what);
    // each side: the other's ICV fails with the key it has, in keepalived's words
    const invalid = /\(VI_1\) IPSEC-AH : invalid IPSEC HMAC-MD5 value\. Due to fields mutation or bad password !/;
    await v.waitLine(first, invalid, 3000);
    await v.waitLine(wrong, invalid, 3000);
    for (const d of [first, wrong]) {
      if (d.kind !== 'alived') continue;
      const s = await alivedStats(d);
      assert.ok(s['Authentication Errors/Failure']! >= 1, `${what}: counted: ${JSON.stringify(s)}`);
      assert.equal(s['Advertisements/Received'], 0, `${what}: none accepted`);
      // log lines are limited to one per kind per second, and never more than the count
      assert.ok(d.lines.filter((l) => invalid.test(l)).length <= s['Authentication Errors/Failure']!);
    }
  }
});
