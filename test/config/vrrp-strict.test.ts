import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { compileFile, compileText, FIXTURES, permissiveHost, has, instance, noErrors, type Compiled } from '../helpers/config';
import { resolveVrrp, type InstanceSettings, type VrrpSettings } from '../../core/vrrp/settings';

// Strict mode as keepalived 2.2.7 applies it (vrrp.c vrrp_complete_instance): what it
// changes and runs with is a warning at the setting, and the VRRP settings hold
// keepalived's value; what it refuses is an error. Every message below was checked
// against `keepalived -t` on the same fixture (test/fixtures/strict/).

const strictFixture = (name: string) => compileFile(path.join(FIXTURES, 'strict', name), { host: permissiveHost, configId: 'node1' });

function settingsOf(r: Compiled): VrrpSettings {
  noErrors(r);
  return resolveVrrp(r.model!.globalDefs as Parameters<typeof resolveVrrp>[0], r.model!.vrrpInstance ?? []);
}

function inst(s: VrrpSettings, name: string): InstanceSettings {
  const i = s.instances.find((x) => x.name === name);
  assert.ok(i, `instance ${name}`);
  return i;
}

test("keepalived's packaged default keepalived.conf (vrrp_strict, state MASTER, priority 100, PASS auth) runs, with warnings", async () => {
  const r = await compileFile(path.join(FIXTURES, 'keepalived-samples', 'keepalived.conf'), { host: permissiveHost, configId: 'node1' });
  noErrors(r);
  has(
    r,
    'keepalived.conf:20:11: warning: vrrp_instance VI_1: strict mode (vrrp_strict): state MASTER is only for the address owner (priority 255): the instance starts as BACKUP',
  );
  has(
    r,
    'keepalived.conf:25:5: warning: vrrp_instance VI_1: strict mode (vrrp_strict): the authentication is dropped; the instance sends adverts without it, as keepalived does',
  );
  has(
    r,
    'keepalived.conf:19:1: warning: vrrp_instance VI_1: no_accept (strict mode default): while master without being the address owner (priority 255), this node drops traffic to its VIPs (nftables), as keepalived does: a VIP answers no ping',
  );
  has(r, 'keepalived issue #474); version 3 with accept lifts it');
  // strict mode and the firewall are acted on: not in the "not acted on yet" warning
  assert.ok(!r.lines.some((l) => /does not act on/.test(l) && /vrrp_strict|strict mode/.test(l)), r.lines.join('\n'));
  const vi = inst(settingsOf(r), 'VI_1');
  assert.equal(vi.strict, true);
  assert.equal(vi.initialState, 'BACKUP');
  assert.equal(vi.priority, 100);
  assert.equal(vi.authPass, undefined);
  assert.equal(vi.accept, false);
});

test('every strict rule keepalived applies: a warning at the setting, and the settings hold what keepalived runs with', async () => {
  const r = await strictFixture('every-rule.conf');
  noErrors(r);
  const w = (line: string) => has(r, `every-rule.conf:${line}`);
  w('9:11: warning: vrrp_instance STATE: strict mode (vrrp_strict): state MASTER is only for the address owner');
  w('13:5: warning: vrrp_instance STATE: strict mode (vrrp_strict): the authentication is dropped');
  w('17:24: warning: vrrp_instance STATE: strict mode (vrrp_strict): down_timer_adverts 5 is reset to 3');
  w('18:28: warning: vrrp_instance STATE: strict mode (vrrp_strict): garp_lower_prio_repeat is reset to 0');
  w('19:27: warning: vrrp_instance STATE: strict mode (vrrp_strict): garp_lower_prio_delay is reset to 0');
  w('20:26: warning: vrrp_instance STATE: strict mode (vrrp_strict): lower_prio_no_advert is set again');
  w('21:29: warning: vrrp_instance STATE: strict mode (vrrp_strict): higher_prio_send_advert is cleared');
  w('28:11: warning: vrrp_instance OWNER: strict mode (vrrp_strict): the address owner (priority 255) starts as MASTER whatever its state says');
  w('40:19: warning: vrrp_instance PREEMPT: strict mode (vrrp_strict): preempt_delay is reset to 0');
  w('49:13: warning: vrrp_instance V6: strict mode (vrrp_strict): VRRPv2 does not carry IPv6: the instance runs VRRPv3');
  w('51:9: warning: vrrp_instance V6: strict mode (vrrp_strict): the first IPv6 virtual_ipaddress should be link-local');
  w('59:9: warning: vrrp_instance UNICAST: strict mode (vrrp_strict): keepalived means to refuse unicast peers');
  w('69:5: warning: vrrp_instance ACCEPT2: strict mode: accept is reset for VRRPv2');
  // the global defaults strict mode replaces, once per keyword
  w('4:5: warning: vrrp_garp_lower_prio_repeat does not apply to the instances in strict mode (OWNER, PREEMPT, V6, UNICAST, ACCEPT2, ACCEPT3)');
  w('5:5: warning: vrrp_higher_prio_send_advert does not apply to the instances in strict mode');
  // no_accept: the cost, and what lifts it (version 3 with accept, in strict mode)
  w('8:1: warning: vrrp_instance STATE: no_accept (strict mode default)');
  assert.ok(!r.lines.some((l) => /ACCEPT3: no_accept/.test(l)), 'VRRPv3 with accept keeps accept');
  assert.ok(!r.lines.some((l) => /OWNER: no_accept/.test(l)), 'the address owner always accepts');
  assert.ok(!r.lines.some((l) => /LOOSE/.test(l)), `strict_mode off: nothing changes\n${r.lines.join('\n')}`);

  const s = settingsOf(r);
  const state = inst(s, 'STATE');
  assert.deepEqual(
    [
      state.initialState,
      state.authPass,
      state.downTimerAdverts,
      state.garp.lowerPrioRepeat,
      state.garp.lowerPrioDelay,
      state.lowerPrioNoAdvert,
      state.higherPrioSendAdvert,
      state.accept,
    ],
    ['BACKUP', undefined, 3, 0, 0, true, false, false],
  );
  assert.equal(inst(s, 'OWNER').initialState, 'MASTER');
  assert.equal(inst(s, 'OWNER').accept, true);
  assert.equal(inst(s, 'PREEMPT').preemptDelayMs, 0);
  assert.equal(inst(s, 'V6').version, 3);
  assert.equal(inst(s, 'UNICAST').unicastPeers.length, 1);
  assert.equal(inst(s, 'ACCEPT2').accept, false);
  assert.equal(inst(s, 'ACCEPT3').accept, true);
  const loose = inst(s, 'LOOSE');
  assert.deepEqual([loose.strict, loose.authPass, loose.accept, loose.higherPrioSendAdvert], [false, 'secret12', true, true]);
  // no_accept instances turn the firewall on, in alived's own table
  assert.deepEqual(s.firewall, { table: 'alived', priority: -1, counters: false, ifindex: false });
});

test('what keepalived refuses in strict mode is an error: an instance without a VIP', async () => {
  const r = await strictFixture('no-vip.conf');
  assert.deepEqual(r.errors, [
    'no-vip.conf:5:1: error: vrrp_instance NOVIP: strict mode (vrrp_strict): at least one virtual_ipaddress is required (keepalived does not start the VRRP process without one)',
  ]);
});

test('unicast peers in strict mode on an interface without multicast draw no warning (keepalived allows them there)', async () => {
  const text = 'global_defs {\n  vrrp_strict\n}\n' + instance('  unicast_peer {\n    192.168.1.2\n  }\n');
  const multicast = await compileText(text, {}, { host: { ...permissiveHost, interfaceMulticast: () => true } });
  has(multicast, 'keepalived.conf:11:5: warning: vrrp_instance VI_1: strict mode (vrrp_strict): keepalived means to refuse unicast peers');
  const none = await compileText(text, {}, { host: { ...permissiveHost, interfaceMulticast: () => false } });
  noErrors(none);
  assert.ok(!none.lines.some((l) => /unicast peers/.test(l)), none.lines.join('\n'));
});

test('strict_mode in an instance overrides vrrp_strict both ways', async () => {
  const off = await compileText('global_defs {\n  vrrp_strict\n}\n' + instance('  strict_mode off\n  state MASTER\n  priority 100\n'));
  noErrors(off);
  assert.ok(!off.lines.some((l) => /strict mode/.test(l)), off.lines.join('\n'));
  assert.equal(inst(settingsOf(off), 'VI_1').initialState, 'MASTER');
  const on = await compileText(instance('  strict_mode\n  state MASTER\n  priority 100\n'));
  has(on, 'keepalived.conf:8:9: warning: vrrp_instance VI_1: strict mode (strict_mode): state MASTER is only for the address owner');
  assert.equal(inst(settingsOf(on), 'VI_1').initialState, 'BACKUP');
});

test('the firewall keywords: vrrp_iptables and vrrp_ipsets are mapped to nftables with a note; accept / no_accept, the later counts', async () => {
  const r = await strictFixture('firewall.conf');
  noErrors(r);
  has(r, "firewall.conf:2:5: note: vrrp_iptables: alived has no iptables; no_accept's drop rules go in nftables");
  has(r, 'firewall.conf:3:5: note: vrrp_ipsets: alived has no iptables or ipsets');
  has(r, 'firewall.conf:10:5: warning: vrrp_instance NOACCEPT: no_accept: while master without being the address owner');
  has(r, 'firewall.conf:20:5: warning: vrrp_instance LATER: both accept and no_accept are set; the later one (accept) counts');
  assert.ok(!r.lines.some((l) => /does not act on/.test(l)), r.lines.join('\n'));
  const s = settingsOf(r);
  assert.equal(inst(s, 'NOACCEPT').accept, false);
  assert.equal(inst(s, 'LATER').accept, true);
  assert.deepEqual(s.firewall, { table: 'alived', priority: -1, counters: true, ifindex: false });

  const named = await compileText('global_defs {\n  nftables mytable\n  nftables_priority -5\n  nftables_ifindex\n}\n' + instance());
  assert.deepEqual(settingsOf(named).firewall, { table: 'mytable', priority: -5, counters: false, ifindex: true });
  // no firewall when nothing needs one and nothing names it
  assert.equal(settingsOf(await compileText(instance())).firewall, undefined);
});

test('the IPVS nftables keywords stay warned as not acted on, under their own feature', async () => {
  const r = await compileText('global_defs {\n  nftables_ipvs\n  nftables_ipvs_start_fwmark 2000\n}\n' + instance());
  has(
    r,
    'warning: alived accepts but does not act on nftables for IPVS virtual server groups (nftables_ipvs, nftables_ipvs_priority, nftables_ipvs_start_fwmark) yet',
  );
});

test('strict mode makes state MASTER a backup before nopreempt is looked at: nopreempt stays, as in keepalived', async () => {
  const r = await compileText('global_defs {\n  vrrp_strict\n}\n' + instance('  state MASTER\n  priority 100\n  nopreempt\n'));
  noErrors(r);
  has(r, 'keepalived.conf:12:3: warning: vrrp_instance VI_1: strict mode (vrrp_strict): nopreempt is kept after all');
  const vi = inst(settingsOf(r), 'VI_1');
  assert.deepEqual([vi.initialState, vi.preempt], ['BACKUP', false]);
});

test('-t --strict refuses what strict mode changes (keepalived changes it silently), not the no_accept warning', async () => {
  const r = await compileFile(path.join(FIXTURES, 'keepalived-samples', 'keepalived.conf'), { host: permissiveHost, configId: 'node1', strict: true });
  assert.deepEqual(
    r.errors.map((l) =>
      /^(keepalived\.conf:\d+:\d+): error: vrrp_instance VI_1: strict mode \(vrrp_strict\): (state MASTER|the authentication)/.exec(l)?.slice(1, 3).join(' '),
    ),
    ['keepalived.conf:20:11 state MASTER', 'keepalived.conf:25:5 the authentication'],
  );
  has(r, 'keepalived.conf:19:1: warning: vrrp_instance VI_1: no_accept (strict mode default)');
});

test('a host without nft is told that the drop rules cannot be set there (a fact of this host: a warning)', async () => {
  const text = 'global_defs {\n  vrrp_strict\n}\n' + instance();
  const without = await compileText(text, {}, { host: { ...permissiveHost, fileExists: (p) => !/\/nft$/.test(p) } });
  noErrors(without);
  has(without, 'keepalived.conf:4:1: warning: nft is not installed on this host (/usr/sbin/nft, /sbin/nft, /usr/bin/nft, /usr/local/sbin/nft)');
  const withNft = await compileText(text);
  assert.ok(!withNft.lines.some((l) => /nft is not installed/.test(l)), withNft.lines.join('\n'));
  // nothing needs nft: no word about it
  const loose = await compileText(instance(), {}, { host: { ...permissiveHost, fileExists: (p) => !/\/nft$/.test(p) } });
  assert.ok(!loose.lines.some((l) => /nft is not installed/.test(l)), loose.lines.join('\n'));
});

test('strict mode clears the MAC of use_vmac and vmac_xmit_base: the VMAC gets the virtual router MAC, adverts leave through it', async () => {
  const r = await compileText('global_defs {\n  vrrp_strict\n}\n' + instance('  use_vmac vrrp.9 02:11:22:33:44:55\n  vmac_xmit_base\n'));
  noErrors(r);
  has(r, 'keepalived.conf:10:3: warning: vrrp_instance VI_1: strict mode (vrrp_strict): the MAC address of use_vmac is cleared');
  has(r, 'keepalived.conf:11:3: warning: vrrp_instance VI_1: strict mode (vrrp_strict): vmac_xmit_base is reset');
  const vi = inst(settingsOf(r), 'VI_1');
  assert.deepEqual([vi.vmac?.ifname, vi.vmac?.mac, vi.vmac?.xmitBase], ['vrrp.9', '00:00:5e:00:01:33', false]);
  // without strict mode both stay
  const loose = inst(settingsOf(await compileText(instance('  use_vmac vrrp.9 02:11:22:33:44:55\n  vmac_xmit_base\n'))), 'VI_1');
  assert.deepEqual([loose.vmac?.mac, loose.vmac?.xmitBase], ['02:11:22:33:44:55', true]);
});

test('strict mode drops auth_type AH as it drops PASS: no AH key in the settings, and state MASTER is BACKUP for strict mode, not for AH', async () => {
  const r = await compileText('global_defs {\n  vrrp_strict\n}\n' + instance('  authentication {\n    auth_type AH\n    auth_pass s3cr3tpw\n  }\n'));
  noErrors(r);
  has(r, 'keepalived.conf:10:3: warning: vrrp_instance VI_1: strict mode (vrrp_strict): the authentication is dropped');
  const vi = inst(settingsOf(r), 'VI_1') as InstanceSettings & { ahPass?: string };
  assert.deepEqual([vi.authPass, vi.ahPass], [undefined, undefined]);
});
