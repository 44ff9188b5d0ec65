import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { NftFirewall, nftRunner, firewallAddressesOf, type FirewallAddress } from '../../core/vrrp/firewall';
import type { FirewallSettings } from '../../core/vrrp/settings';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { memoryLogger } from '../helpers/log';

/**
 * The no_accept firewall against real nftables, in a lab namespace: the
 * tables keepalived's vrrp_nftables.c lays out, made when the first address
 * of a family comes, elements shared between instances, IPv6 link-local
 * VIPs by interface index or name, a failed batch that leaves the next
 * change to make the tables again, and the tables gone at close.
 */

let lab: Lab;
let skip: string | false = false;

before(async () => {
  if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status !== 0) {
    if (process.env.CI) throw new Error('nft is not installed (apt-get install nftables)');
    skip = 'nft is not installed (apt-get install nftables)';
    return;
  }
  removeStaleLabs();
  lab = await Lab.create({ name: 'nftfw', hosts: [{ name: 'h', ip: '10.99.0.1' }] });
});
after(() => (lab ? lab.destroy() : undefined));

function firewall(settings: Partial<FirewallSettings> = {}) {
  const { log, records } = memoryLogger('info');
  const fw = new NftFirewall(
    { table: 'alived', priority: -1, counters: false, ifindex: false, ...settings },
    { log, run: nftRunner(['ip', 'netns', 'exec', lab.host('h').ns]) },
  );
  return { fw, records };
}

const list = (family: 'ip' | 'ip6', table = 'alived') => lab.exec('h', ['nft', 'list', 'table', family, table]);
const v4 = (address: string): FirewallAddress => ({ address, family: 4, ifname: 'eth0' });

test('IPv4: the table is made with the first address, shared addresses stay until the last instance lets go, close deletes it', async (t) => {
  if (skip) return t.skip(skip);
  await lab.exec('h', ['nft', 'flush', 'ruleset']);
  const { fw, records } = firewall({ counters: true, priority: -5 });
  await fw.clearLeftover();
  assert.notEqual((await list('ip')).code, 0, 'no table before the first address');

  await fw.set('VI_1', [v4('10.99.0.50'), v4('10.99.0.51')]);
  await fw.set('VI_2', [v4('10.99.0.51')]);
  let out = (await list('ip')).stdout;
  assert.match(out, /elements = \{ 10\.99\.0\.50, 10\.99\.0\.51 \}/, out);
  assert.match(out, /type filter hook input priority filter - 5; policy accept;/, out);
  assert.match(out, /ip daddr @vips counter packets 0 bytes 0 drop/, out);
  assert.match(out, /ip saddr @vips counter packets 0 bytes 0 drop/, out);
  assert.notEqual((await list('ip6')).code, 0, 'no IPv6 table without an IPv6 address');

  await fw.set('VI_1', []);
  out = (await list('ip')).stdout;
  assert.match(out, /elements = \{ 10\.99\.0\.51 \}/, `VI_2 still holds .51\n${out}`);
  await fw.set('VI_2', []);
  out = (await list('ip')).stdout;
  assert.doesNotMatch(out, /elements/, out);

  await fw.set('VI_1', [v4('10.99.0.52')]);
  await fw.close();
  assert.notEqual((await list('ip')).code, 0, 'the table is gone after close');
  // close is the end: later changes do nothing
  await fw.set('VI_1', [v4('10.99.0.53')]);
  assert.notEqual((await list('ip')).code, 0);
  assert.ok(
    records.some((r) => r.msg === '(VI_1) setting firewall drop rule'),
    JSON.stringify(records),
  );
});

test('a table an earlier run left is removed at start, whatever it holds', async (t) => {
  if (skip) return t.skip(skip);
  await lab.exec('h', ['nft', 'flush', 'ruleset']);
  await lab.run('h', ['nft', 'add table ip alived; add chain ip alived in { type filter hook input priority 0; policy drop; }; add table ip6 alived']);
  const { fw } = firewall();
  await fw.clearLeftover();
  assert.notEqual((await list('ip')).code, 0);
  assert.notEqual((await list('ip6')).code, 0);
  await fw.close();
});

test('IPv6: global VIPs in vips, link-local ones keyed by interface index, or by name under dont_track_primary without nftables_ifindex', async (t) => {
  if (skip) return t.skip(skip);
  await lab.exec('h', ['nft', 'flush', 'ruleset']);
  const settings = { ifname: 'eth0', priority: 100, accept: false, trackPrimary: true, excludedVips: [] };
  const vips = [
    { address: 'fe80::99', family: 6 as const },
    { address: '2001:db8::99', family: 6 as const },
  ];
  const { fw } = firewall();
  await fw.set('VI_6', firewallAddressesOf({ ...settings, vips }, true));
  let out = (await list('ip6')).stdout;
  assert.match(out, /set vips \{\n\s+type ipv6_addr\n\s+elements = \{ 2001:db8::99 \}/, out);
  assert.match(out, /set vips_link_local \{\n\s+type ipv6_addr \. iface_index\n\s+elements = \{ fe80::99 \. "eth0" \}/, out);
  assert.match(out, /icmpv6 type @neighbor-discovery accept/, out);
  assert.match(out, /ip6 daddr fe80::\/10 goto in_link_local/, out);
  assert.match(out, /ip6 daddr \. iif @vips_link_local drop/, out);

  await fw.set('VI_7', firewallAddressesOf({ ...settings, trackPrimary: false, vips: [{ address: 'fe80::98', family: 6 }] }, true));
  out = (await list('ip6')).stdout;
  assert.match(out, /set vips_link_local_name \{\n\s+type ipv6_addr \. ifname\n\s+elements = \{ fe80::98 \. "eth0" \}/, out);
  await fw.close();

  // nftables_ifindex keeps the index also under dont_track_primary
  const idx = firewall({ ifindex: true });
  await idx.fw.set('VI_7', firewallAddressesOf({ ...settings, trackPrimary: false, vips: [{ address: 'fe80::98', family: 6 }] }, true));
  out = (await list('ip6')).stdout;
  assert.match(out, /vips_link_local \{\n\s+type ipv6_addr \. iface_index\n\s+elements = \{ fe80::98 \. "eth0" \}/, out);
  assert.doesNotMatch(out, /vips_link_local_name/);
  await idx.fw.close();
});

test('what an instance holds: nothing unless it is a no_accept master that does not own its addresses', () => {
  const s = {
    ifname: 'eth0',
    priority: 100,
    accept: false,
    trackPrimary: true,
    vips: [{ address: '10.0.0.1', family: 4 as const }],
    excludedVips: [{ address: '10.0.1.1', family: 4 as const, dev: 'eth1' }],
  };
  assert.deepEqual(
    firewallAddressesOf(s, true).map((a) => `${a.address}@${a.ifname}`),
    ['10.0.0.1@eth0', '10.0.1.1@eth1'],
  );
  assert.deepEqual(firewallAddressesOf(s, false), []);
  assert.deepEqual(firewallAddressesOf({ ...s, accept: true }, true), []);
  assert.deepEqual(firewallAddressesOf({ ...s, priority: 255 }, true), []);
});

test('a batch nft refuses is logged; the next change makes the tables again with everything held', async (t) => {
  if (skip) return t.skip(skip);
  await lab.exec('h', ['nft', 'flush', 'ruleset']);
  const { fw, records } = firewall();
  await fw.set('VI_1', [v4('10.99.0.60')]);
  // someone deletes the table under it; then an element for an interface that does not exist fails the batch
  await lab.run('h', ['nft', 'delete', 'table', 'ip', 'alived']);
  await fw.set('VI_2', [{ address: 'fe80::1', family: 6, ifname: 'nosuchif0' }]);
  assert.ok(
    records.some((r) => r.level === 'error' && /firewall \(nftables table alived\)/.test(String(r.msg))),
    JSON.stringify(records.map((r) => r.msg)),
  );
  await fw.set('VI_2', []);
  await fw.set('VI_3', [v4('10.99.0.61')]);
  const out = (await list('ip')).stdout;
  assert.match(out, /elements = \{ 10\.99\.0\.60, 10\.99\.0\.61 \}/, out);
  await fw.close();
});
