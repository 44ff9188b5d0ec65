import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText, has, noErrors, type Compiled } from '../helpers/config';
import { resolveVrrp } from '../../core/vrrp/settings';
import { extraIfAddresses, generatedVmacName, virtualMac } from '../../core/vrrp/vmac-settings';
import { decodeAlias, encodeAlias, linkLocalFromMac } from '../../core/vrrp/vmac';

/**
 * use_vmac in the config: the VMAC's name and MAC as keepalived resolves
 * them, where the VIPs go, what is refused, and which VMAC keywords are
 * still warned about as not acted on. The interface itself is tested in a
 * lab: test/vrrp/vmac-lab.test.ts.
 */

function settings(r: Compiled): ReturnType<typeof resolveVrrp> {
  noErrors(r);
  return resolveVrrp(r.model!.globalDefs as Parameters<typeof resolveVrrp>[0], r.model!.vrrpInstance ?? []);
}

const notActedOn = (r: Compiled): string[] => r.warnings.filter((l) => l.includes('does not act on'));

function inst(name: string, vrid: number, body: string, vips = '10.0.0.100/24'): string {
  return `vrrp_instance ${name} {
  interface eth0
  virtual_router_id ${vrid}
  priority 100
${body}  virtual_ipaddress {
    ${vips.split(',').join('\n    ')}
  }
}
`;
}

test('use_vmac: keepalived names and MACs, VIPs of the family moved onto the VMAC', async () => {
  const r = await compileText(
    inst('V4', 51, '  use_vmac\n', '10.0.0.100/24,10.0.0.101/32 dev eth0,10.0.1.1/24 dev eth1') +
      inst('V6', 51, '  use_vmac\n', 'fe80::51/64,2001:db8::51/64') +
      inst('NAMED', 7, '  use_vmac vmac7 02:11:22:33:44\n  vmac_xmit_base\n') +
      `vrrp_instance MIXED {
  interface eth0
  virtual_router_id 9
  use_vmac
  virtual_ipaddress {
    10.0.0.9/24
  }
  virtual_ipaddress_excluded {
    2001:db8::9/64
    10.0.0.10/32
  }
}
`,
  );
  assert.deepEqual(notActedOn(r), [], 'use_vmac, vmac_xmit_base are acted on');
  const s = settings(r);
  const by = (n: string) => s.instances.find((i) => i.name === n)!;
  assert.deepEqual(by('V4').vmac, { ifname: 'vrrp.51', mac: '00:00:5e:00:01:33', xmitBase: false, base: 'eth0' });
  // the IPv6 instance of the same VRID takes keepalived's second name
  assert.deepEqual(by('V6').vmac, { ifname: 'vrrp6.51', mac: '00:00:5e:00:02:33', xmitBase: false, base: 'eth0' });
  // a five-octet MAC takes the VRID as its sixth
  assert.deepEqual(by('NAMED').vmac, { ifname: 'vmac7', mac: '02:11:22:33:44:07', xmitBase: true, base: 'eth0' });
  assert.deepEqual(
    by('V4').vips.map((v) => `${v.address} ${v.dev}`),
    ['10.0.0.100 vrrp.51', '10.0.0.101 vrrp.51', '10.0.1.1 eth1'],
    'no dev or the base as dev: on the VMAC; another interface stays',
  );
  assert.deepEqual(
    by('V6').vips.map((v) => v.dev),
    ['vrrp6.51', 'vrrp6.51'],
  );
  // an excluded VIP of the other family stays on the base
  assert.deepEqual(
    by('MIXED').excludedVips.map((v) => `${v.address} ${v.dev}`),
    ['2001:db8::9 eth0', '10.0.0.10 vrrp.9'],
  );
  assert.equal(by('V4').advertAddresses[0], '10.0.0.100', 'the adverts still list the VIPs');
});

test('vmac_prefix names the generated VMACs; names fit in 15 characters', async () => {
  const r = await compileText(`global_defs {\n  vmac_prefix ha\n}\n${inst('A', 200, '  use_vmac\n')}`);
  assert.deepEqual(notActedOn(r), []);
  assert.equal(settings(r).instances[0]!.vmac!.ifname, 'ha.200');
  assert.equal(generatedVmacName('averylongprefix', 255, 4, new Set()), 'averylongpr.255');
  assert.equal(generatedVmacName('vrrp', 5, 4, new Set(['vrrp.5', 'vrrp1.5'])), 'vrrp2.5');
  assert.equal(generatedVmacName('vrrp', 5, 6, new Set(['vrrp.5', 'vrrp6.5', 'vrrp1.5'])), 'vrrp2.5');
  assert.equal(virtualMac(4, 255), '00:00:5e:00:01:ff');
  assert.equal(virtualMac(6, 1), '00:00:5e:00:02:01');
});

test('a VMAC name given twice: the later instance gets a generated name, with a warning; the name of an interface is refused', async () => {
  const twice = await compileText(inst('A', 1, '  use_vmac vm0\n') + inst('B', 2, '  use_vmac vm0\n'));
  has(
    twice,
    'keepalived.conf:14:12: warning: vrrp_instance B: VMAC vm0 is already the VMAC of vrrp_instance A at line 1; keepalived would delete that one to make this one',
  );
  assert.deepEqual(
    settings(twice).instances.map((i) => i.vmac!.ifname),
    ['vm0', 'vrrp.2'],
  );
  const r = await compileText(inst('A', 1, '  use_vmac vm0\n') + inst('B', 2, '  use_vmac vm0\n') + inst('C', 3, '  use_vmac eth0\n'));
  has(r, "keepalived.conf:23:12: error: vrrp_instance C: the VMAC cannot have the name of the instance's interface eth0");
  const r2 = await compileText(
    inst('A', 1, '  use_vmac\n') + inst('B', 2, '  use_vmac\n').replace('interface eth0', 'interface eth1') + inst('D', 3, '  use_vmac eth1\n'),
  );
  has(r2, 'keepalived.conf:23:12: error: vrrp_instance D: VMAC eth1 is the interface of vrrp_instance B at line 10');
  assert.equal(r.errors.length, 1, r.errors.join('\n'));
});

test('vmac_xmit_base without use_vmac does nothing, and says so', async () => {
  const r = await compileText(inst('A', 1, '  vmac_xmit_base\n'));
  has(r, 'keepalived.conf:5:3: warning: vrrp_instance A: vmac_xmit_base has no effect without use_vmac');
});

test('what is not made yet stays warned, each under its own name; garp_extra_if and disable_local_igmp are acted on', async () => {
  const r = await compileText(
    `global_defs {\n  vmac_addr_prefix va\n  vrrp_garp_extra_if 10\n  disable_local_igmp\n}\n` +
      inst('A', 1, '  use_vmac_addr\n  garp_extra_if all 5\n', '10.0.0.100/24,10.0.1.1/24 dev eth1 use_vmac') +
      inst('B', 2, '  use_ipvlan ipv1 10.0.0.50/24 bridge\n'),
  );
  const lines = notActedOn(r).join('\n');
  assert.match(
    lines,
    /does not act on VMACs for addresses on other interfaces \(use_vmac_addr, the use_vmac address option\) yet; keywords checked and not applied: (vmac_addr_prefix|use_vmac_addr|use_vmac \(address option\))/,
  );
  for (const k of ['vmac_addr_prefix', 'use_vmac_addr', 'use_vmac (address option)', 'use_ipvlan'])
    assert.ok(lines.includes(k), `${k} is warned about:\n${lines}`);
  assert.match(lines, /ipvlan interfaces \(use_ipvlan\)/);
  for (const k of ['disable_local_igmp', 'garp_extra_if']) assert.ok(!lines.includes(k), `${k} is acted on`);
  const s = settings(r);
  assert.equal(s.disableLocalIgmp, true);
  // the instance's garp_extra_if, else the global one
  assert.deepEqual([s.instances[0]!.garp.extraIfInterval, s.instances[0]!.garp.extraIfAll], [5, true]);
  assert.deepEqual([s.instances[1]!.garp.extraIfInterval, s.instances[1]!.garp.extraIfAll], [10, false]);
});

test("the VMAC's alias carries the base's original sysctls; the link-local address from a MAC", () => {
  const originals = new Map([
    ['net/ipv4/conf/eth0/arp_ignore', '0'],
    ['net/ipv4/conf/all/rp_filter', '2'],
    ['net/ipv4/igmp_link_local_mcast_reports', '1'],
  ]);
  const alias = encodeAlias(originals);
  assert.equal(alias, 'alived-vmac eth0/arp_ignore=0 all/rp_filter=2');
  assert.deepEqual([...decodeAlias(alias)!], [...originals].slice(0, 2));
  assert.equal(decodeAlias('some admin note'), undefined, 'a macvlan alived did not make is not taken for one');
  // at most 255 characters: what does not fit is left out
  const many = new Map(Array.from({ length: 40 }, (_, i) => [`net/ipv4/conf/veth${i}/rp_filter`, '0'] as [string, string]));
  assert.ok(encodeAlias(many).length <= 255);
  assert.equal(linkLocalFromMac('02:00:00:99:01:0b'), 'fe80::ff:fe99:10b');
});

test('garp_extra_if picks one VIP per interface the adverts do not leave from', async () => {
  const text = (body: string) => inst('A', 1, body, '10.0.0.100/24,10.0.0.101/24,10.0.1.1/24 dev eth1,10.0.1.2/24 dev eth1,10.0.2.1/24 dev eth2');
  const pick = async (body: string) => extraIfAddresses(settings(await compileText(text(body))).instances[0]!);
  assert.deepEqual(await pick('  use_vmac\n  garp_extra_if 5\n'), [], 'the adverts leave from the VMAC: nothing extra');
  assert.deepEqual(await pick('  use_vmac\n  vmac_xmit_base\n  garp_extra_if 5\n'), ['10.0.0.100'], 'with vmac_xmit_base: the VMAC');
  assert.deepEqual(await pick('  use_vmac\n  vmac_xmit_base\n  garp_extra_if all 5\n'), ['10.0.0.100', '10.0.1.1', '10.0.2.1']);
  assert.deepEqual(await pick('  garp_extra_if all 5\n'), ['10.0.1.1', '10.0.2.1'], 'without a VMAC, with all: the other interfaces');
  assert.deepEqual(await pick('  use_vmac\n  vmac_xmit_base\n  garp_extra_if 0\n'), [], '0: off');
});
