import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { keepalivedAvailable, VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { pcapRecords, startTcpdump } from '../../core/lab/capture';
import { killVrrpProcess } from '../../core/lab/faults';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * Strict mode end to end, beside keepalived: keepalived's packaged default
 * config (vrrp_strict, state MASTER, priority 100, PASS authentication)
 * starts, the instance starts as BACKUP and becomes master only when its
 * down timer expires, its adverts carry no authentication; as a master that
 * is not the address owner, in no_accept mode, it drops a client's pings to
 * the VIP, with the VIP in its nftables table, gone at stop; `accept`
 * (VRRPv3) answers them. keepalived in the same lab, with the same config,
 * drops them too.
 */

const VIP = '10.99.0.99';
const HOSTS = [
  { name: 'n1', ip: '10.99.0.11' },
  { name: 'n2', ip: '10.99.0.12' },
  { name: 'client', ip: '10.99.0.100' },
];

/** keepalived's packaged default instance (keepalived/etc/keepalived/keepalived.conf), on the lab's eth0 */
function packagedDefault(extraGlobal = '', extraInstance = ''): string {
  return `global_defs {
   router_id LVS_DEVEL
   vrrp_skip_check_adv_addr
   vrrp_strict
   vrrp_garp_interval 0
   vrrp_gna_interval 0
${extraGlobal}}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
${extraInstance}    virtual_ipaddress {
        ${VIP}/24
    }
}
`;
}

let lab: Lab;
let skip: string | false = false;

before(async () => {
  for (const [cmd, pkg] of [
    ['keepalived', 'keepalived'],
    ['nft', 'nftables'],
    ['tcpdump', 'tcpdump'],
  ] as const) {
    const ok = cmd === 'keepalived' ? keepalivedAvailable() : spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
    if (!ok) {
      if (process.env.CI) throw new Error(`${cmd} is not installed: the strict-mode lab cannot run (apt-get install ${pkg})`);
      skip = `${cmd} is not installed (apt-get install ${pkg})`;
      return;
    }
  }
  removeStaleLabs();
  lab = await Lab.create({ name: 'strict', hosts: HOSTS });
});
after(() => (lab ? lab.destroy() : undefined));

async function fresh(): Promise<VrrpLab> {
  for (const h of lab.hosts) {
    await lab.exec(h, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    await lab.exec(h, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    await lab.exec(h, ['nft', 'flush', 'ruleset']);
  }
  const v = new VrrpLab(lab, tmpDir('alived-strict-'));
  await v.watch();
  return v;
}

/** Replies to `count` pings from the client to the VIP, 0.2 s apart. */
async function pingReplies(count = 5): Promise<number> {
  const r = await lab.exec('client', ['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', VIP], 20_000);
  const m = /(\d+) received/.exec(r.stdout);
  assert.ok(m, `ping output: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

/** The nftables tables of a host, as `family name`. */
async function tables(host: string): Promise<string[]> {
  const out = await lab.run(host, ['nft', 'list', 'tables']);
  return out
    .split('\n')
    .map((l) => l.trim().replace(/^table /, ''))
    .filter(Boolean);
}

async function stop(v: VrrpLab, d: LabDaemon): Promise<void> {
  v.signal(d, 'SIGTERM');
  const r = await Promise.race([d.exited, new Promise<undefined>((res) => setTimeout(() => res(undefined), 15_000))]);
  assert.ok(r, `${d.kind} on ${d.host.name} stopped within 15 s`);
}

/** The VRRP payloads (after the IP header) n1 sent, from a capture on the client. */
function vrrpFrom(file: string, src: string): Buffer[] {
  const out: Buffer[] = [];
  for (const { frame } of pcapRecords(fs.readFileSync(file))) {
    if (frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    if (ip[9] !== 112 || ip.subarray(12, 16).join('.') !== src) continue;
    out.push(ip.subarray((ip[0]! & 0x0f) * 4));
  }
  return out;
}

test("keepalived's packaged default config: starts as BACKUP, master after the down timer, adverts without authentication; a non-owner master drops the client's pings (nftables), the table is gone at stop", async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const n1 = lab.host('n1');
  // a table a crashed run left, with an address in it: replaced when the firewall starts
  await lab.run('n1', ['nft', 'add table ip alived; add set ip alived vips { type ipv4_addr; }; add element ip alived vips { 10.99.0.200 }']);
  const cap = path.join(v.dir, 'adverts.pcap');
  const dump = await startTcpdump(lab, 'client', 'eth0', cap, 'ip proto 112', 1024);
  try {
    const a = v.startAlived('n1', packagedDefault());
    const backup = await v.waitLine(a, /\(VI_1\) Entering BACKUP STATE/, 15_000);
    const master = await v.waitLine(a, /\(VI_1\) Entering MASTER STATE/, 15_000);
    assert.ok(a.lines.indexOf(backup) < a.lines.indexOf(master), 'BACKUP first, then MASTER');
    // state MASTER at priority 100 does not make it master at once: its down timer expired first
    assert.match(master, /no advert for Master_Down_Interval/, master);
    assert.ok(!a.lines.some((l) => /Entering MASTER STATE.*address owner/.test(l)), a.lines.join('\n'));
    await v.waitHolder(VIP, 'n1', 5000);

    // its adverts: VRRPv2, auth type 0 and no password bytes
    const adverts = await waitFor('two adverts from n1', () => {
      const got = vrrpFrom(cap, n1.ip);
      return got.length >= 2 ? got : undefined;
    });
    for (const p of adverts) {
      assert.equal(p[0], 0x21, 'VRRPv2 advertisement');
      assert.equal(p[4], 0, 'auth type 0 (none)');
      const count = p[3]!;
      assert.deepEqual([...p.subarray(8 + 4 * count, 16 + 4 * count)], [0, 0, 0, 0, 0, 0, 0, 0], 'no password in the auth data');
    }

    // no_accept (strict mode's default): the VIP is in alived's table, the client's pings are dropped
    const listing = await lab.run('n1', ['nft', 'list', 'table', 'ip', 'alived']);
    assert.match(listing, new RegExp(`elements = \\{ ${VIP.replace(/\./g, '\\.')} \\}`), listing);
    assert.ok(!listing.includes('10.99.0.200'), `the leftover table was replaced:\n${listing}`);
    assert.match(listing, /ip daddr @vips drop/);
    assert.equal(await pingReplies(), 0, 'the pings to the VIP are dropped');
    // n1's own address still answers: only the VIPs are dropped
    const own = await lab.exec('client', ['ping', '-n', '-c', '1', '-W', '2', n1.ip]);
    assert.equal(own.code, 0, own.stdout);

    // a figure, not an assertion: how long after the takeover's VIP request the drop rule was in place
    const set = a.lines.find((l) => /\(VI_1\) setting firewall drop rule/.test(l));
    t.diagnostic(`drop rule in place ${/ms=([\d.]+)/.exec(set ?? '')?.[1] ?? '?'} ms after the takeover`);
    await stop(v, a);
    assert.deepEqual(
      (await tables('n1')).filter((x) => x.endsWith(' alived')),
      [],
      'the table is gone after stop',
    );
  } finally {
    dump.kill('SIGTERM');
  }
});

test('keepalived with the same config in the same lab drops the pings the same way (its table: keepalived)', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const k = v.startKeepalived('n2', packagedDefault());
  await v.waitHolder(VIP, 'n2', 15_000);
  await waitFor('the keepalived table', async () => ((await tables('n2')).includes('ip keepalived') ? true : undefined));
  const listing = await lab.run('n2', ['nft', 'list', 'table', 'ip', 'keepalived']);
  assert.match(listing, new RegExp(VIP.replace(/\./g, '\\.')), listing);
  assert.equal(await pingReplies(), 0, "keepalived's master drops the pings to the VIP too");
  await stop(v, k);
});

test('accept (VRRPv3: strict mode resets it for VRRPv2) lifts it: the VIP answers, no table is made', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const a = v.startAlived(
    'n1',
    packagedDefault('', '    version 3\n    accept\n').replace('    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }\n', ''),
  );
  await v.waitHolder(VIP, 'n1', 15_000);
  assert.equal(await pingReplies(), 5, 'every ping to the VIP is answered');
  assert.deepEqual(
    (await tables('n1')).filter((x) => x.endsWith(' alived')),
    [],
  );
  await stop(v, a);

  // the same with VRRPv2: accept is reset, the pings are dropped again
  const v2 = await fresh();
  const b = v2.startAlived('n1', packagedDefault('', '    accept\n'));
  await v2.waitHolder(VIP, 'n1', 15_000);
  await waitFor('the alived table', async () => ((await tables('n1')).includes('ip alived') ? true : undefined));
  assert.equal(await pingReplies(), 0, 'VRRPv2 in strict mode: accept reset, pings dropped');
  await stop(v2, b);
});

test('the drop rule follows the master through a VRRP process that dies (resumed) and a reload that sets accept', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  const strictV3 = (accept: boolean) =>
    packagedDefault('', `    version 3\n${accept ? '    accept\n' : ''}`).replace(
      '    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }\n',
      '',
    );
  const a = v.startAlived('n1', strictV3(false));
  await v.waitHolder(VIP, 'n1', 15_000);
  const inTable = async () => (await lab.exec('n1', ['nft', 'list', 'set', 'ip', 'alived', 'vips'])).stdout.includes(VIP);
  await waitFor('the VIP in the table', async () => ((await inTable()) ? true : undefined));

  // the VRRP process dies: the next one clears the table at start, resumes as master and puts the VIP back in it
  const killed = killVrrpProcess(a);
  assert.ok(killed, 'a VRRP process to kill');
  await v.waitLine(a, /Entering MASTER STATE \(resumed/, 10_000);
  await waitFor('the VIP in the table again', async () => ((await inTable()) ? true : undefined), 5000);
  assert.equal(await pingReplies(3), 0, 'still dropped after the restart');

  // a reload that sets accept: the VIP leaves the table, the pings are answered, the instance stays master
  fs.writeFileSync(a.config, strictV3(true));
  v.signal(a, 'SIGHUP');
  await v.waitLine(a, /Reload complete/, 10_000);
  await waitFor('the VIP out of the table', async () => ((await inTable()) ? undefined : true), 5000);
  assert.equal(await pingReplies(3), 3, 'answered after the reload');
  assert.deepEqual(v.holders(VIP), ['n1']);
  await stop(v, a);
  assert.deepEqual(
    (await tables('n1')).filter((x) => x.endsWith(' alived')),
    [],
  );
});

test('alived and keepalived, both with the packaged strict config, in one virtual router: they hear each other (no authentication on either side), one master', async (t) => {
  if (skip) return t.skip(skip);
  const v = await fresh();
  // keepalived first; then alived, at the same priority: a backup accepts a master of equal priority (keepalived's rule)
  const k = v.startKeepalived('n2', packagedDefault());
  await v.waitHolder(VIP, 'n2', 15_000);
  const a = v.startAlived('n1', packagedDefault());
  await v.waitLine(a, /\(VI_1\) Entering BACKUP STATE/, 10_000);
  // alone, alived would take the VIP after its down timer (3.6 s): only keepalived's adverts, heard without authentication, keep it a backup
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    assert.deepEqual(v.holders(VIP), ['n2'], 'exactly keepalived holds the VIP');
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop(v, k);
  // keepalived leaves with priority 0: alived takes over
  await v.waitHolder(VIP, 'n1', 10_000);
  await stop(v, a);
});

test('unicast peers in strict mode: keepalived 2.2.7 runs the instance unicast (its check comes before it knows the peers), and so does alived', async (t) => {
  if (skip) return t.skip(skip);
  const uni = (peer: string) => packagedDefault('', `    unicast_peer {\n        ${peer}\n    }\n`);
  for (const [kind, host, peer] of [
    ['keepalived', 'n2', '10.99.0.11'],
    ['alived', 'n1', '10.99.0.12'],
  ] as const) {
    const v = await fresh();
    const d = kind === 'alived' ? v.startAlived(host, uni(peer)) : v.startKeepalived(host, uni(peer));
    await v.waitHolder(VIP, host, 15_000);
    // its adverts go to the peer, unicast: captured on the peer
    const seen = await lab.exec(peer === '10.99.0.11' ? 'n1' : 'n2', [
      'timeout',
      '4',
      'tcpdump',
      '-n',
      '-c',
      '1',
      '-i',
      'eth0',
      `ip proto 112 and dst host ${peer}`,
    ]);
    assert.match(seen.stdout + seen.stderr, /1 packet captured/, `${kind} sends its adverts unicast to ${peer}`);
    await stop(v, d);
  }
});
