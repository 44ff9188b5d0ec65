import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileFile, compileText, FIXTURES, permissiveHost, has, instance, noErrors } from '../helpers/config';
import { globalDefsSchema, globalRootFields } from '../../core/config/keywords/global-defs';
import { vrrpInstanceSchema, vrrpSyncGroupSchema, vrrpRootFields, type RouteEntry, type RuleEntry } from '../../core/config/keywords/vrrp';
import { resolveVrrp } from '../../core/vrrp/settings';

// ---------------------------------------------------------------------------
// the typed model

test('vrrp_instance gives a typed model', async () => {
  const r = await compileText(`global_defs {
  router_id edge 1
  notification_email {
    ops@example.com
    root
  }
  smtp_server mail.example.com
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.5
  nopreempt
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2 min_ttl 1
    10.0.0.3
  }
  virtual_ipaddress {
    10.0.0.100/24 dev eth1 label eth1:1 brd + scope link
    10.0.0.101 use_vmac no_track
  }
  track_interface {
    eth2 weight -20 reverse
    eth3
  }
  notify_master "/usr/local/bin/notify.sh master" root
  smtp_alert off
}
`);
  noErrors(r);
  const m = r.model!;
  const g = m.globalDefs!;
  assert.equal(g.routerId, 'edge 1');
  assert.deepEqual(g.notificationEmail, ['ops@example.com', 'root']);
  assert.deepEqual(g.smtpServer, { host: 'mail.example.com', port: 25 });
  assert.equal(g.smtpConnectTimeout, 30);
  assert.equal(g.vrrpVersion, 3);
  const vi = m.vrrpInstance[0]!;
  assert.equal(vi.name, 'VI_1');
  assert.equal(vi.state, 'BACKUP');
  assert.equal(vi.priority, 150);
  assert.equal(vi.advertInt, 0.5);
  assert.equal(typeof vi.advertInt, 'number');
  assert.equal(vi.nopreempt, true);
  assert.equal(vi.smtpAlert, false);
  assert.deepEqual(vi.unicastSrcIp, { family: 4, address: '10.0.0.1' });
  assert.deepEqual(
    vi.unicastPeer!.map((p) => [p.address, p.minTtl, p.maxTtl]),
    [
      ['10.0.0.2', 1, undefined],
      ['10.0.0.3', undefined, undefined],
    ],
  );
  const [a, b] = vi.virtualIpaddress!;
  assert.equal(a!.address, '10.0.0.100');
  assert.equal(a!.prefix, 24);
  assert.equal(a!.dev, 'eth1');
  assert.equal(a!.label, 'eth1:1');
  assert.equal(a!.broadcast, '+');
  assert.equal(a!.scope, 'link');
  assert.equal(b!.prefix, undefined);
  assert.equal(b!.useVmac, true);
  assert.equal(b!.noTrack, true);
  assert.deepEqual(
    vi.trackInterface!.map((t) => [t.interface, t.weight, t.reverse]),
    [
      ['eth2', -20, true],
      ['eth3', undefined, undefined],
    ],
  );
  assert.deepEqual(vi.notifyMaster!.argv, ['/usr/local/bin/notify.sh', 'master']);
  assert.equal(vi.notifyMaster!.user, 'root');
});

test('defaults: advert_int 1; priority is left to the engine (255 with state MASTER, else 100)', async () => {
  const r = await compileText(instance());
  noErrors(r);
  const vi = r.model!.vrrpInstance[0]!;
  assert.equal(vi.advertInt, 1);
  assert.equal(vi.priority, undefined);
  assert.equal(vi.trackInterface, undefined);
});

test('routes and rules are parsed into their parts', async () => {
  const r = await compileText(
    instance(`  virtual_routes {
    src 192.168.100.1 to 192.168.109.0/24 via 192.168.200.254 dev eth1 table 100 metric 5
    blackhole 192.168.114.0/24
    0.0.0.0/0 gw 192.168.0.1 table 100
    10.1.0.0/16 nexthop via 10.0.0.1 dev eth0 weight 1 nexthop via 10.0.0.2 dev eth1 weight 2
    10.2.0.0/16 via 10.0.0.1 or 10.0.0.2 mtu lock 1400 no_track
  }
  virtual_rules {
    from 192.168.2.0/24 table 1 preference 100
    to 2001:db8::/32 goto 200 preference 150
  }
`),
  );
  noErrors(r);
  const vi = r.model!.vrrpInstance[0]!;
  const [r1, r2, r3, r4, r5] = vi.virtualRoutes as RouteEntry[];
  assert.deepEqual(r1!.dst, { family: 4, address: '192.168.109.0', prefix: 24 });
  assert.equal(r1!.src!.address, '192.168.100.1');
  assert.equal(r1!.via!.address, '192.168.200.254');
  assert.equal(r1!.dev, 'eth1');
  assert.equal(r1!.table, 100);
  assert.equal(r1!.metric, 5);
  assert.equal(r1!.mode, 'prepend');
  assert.equal(r2!.type, 'blackhole');
  assert.equal(r3!.via!.address, '192.168.0.1');
  assert.deepEqual(
    r4!.nexthops.map((h) => [h.via!.address, h.dev, h.weight]),
    [
      ['10.0.0.1', 'eth0', 1],
      ['10.0.0.2', 'eth1', 2],
    ],
  );
  assert.deepEqual(
    r5!.nexthops.map((h) => h.via!.address),
    ['10.0.0.1', '10.0.0.2'],
  );
  assert.equal(r5!.attrs.mtu, 1400);
  assert.deepEqual(r5!.locked, ['mtu']);
  assert.equal(r5!.noTrack, true);
  const [q1, q2] = vi.virtualRules as RuleEntry[];
  assert.equal(q1!.action, 'table');
  assert.equal(q1!.table, 1);
  assert.equal(q1!.preference, 100);
  assert.equal(q2!.family, 6);
  assert.equal(q2!.action, 'goto');
  assert.equal(q2!.gotoTarget, 200);
  // the old spellings are accepted with a note
  has(r, "keepalived.conf:10:15: note: 'gw' is the old spelling of 'via' in routes; accepted");
  has(r, "keepalived.conf:12:30: note: 'or' in routes is deprecated");
});

// ---------------------------------------------------------------------------
// errors, at the word

test('a value out of range is an error at the value', async () => {
  const r = await compileText(instance('  priority 300\n  advert_int 0\n'));
  has(r, 'keepalived.conf:7:12: error: 300 is out of range: expected 1..255');
  has(r, 'keepalived.conf:8:14: error: 0 is out of range: expected 0.01..255 seconds');
  assert.equal(r.model, undefined);
});

test('an unknown keyword gets a did-you-mean', async () => {
  const r = await compileText(instance('  priorty 100\n  advert_intt 2\n'));
  has(r, "keepalived.conf:7:3: error: unknown keyword 'priorty' in vrrp_instance (did you mean 'priority'?)");
  has(r, "keepalived.conf:8:3: error: unknown keyword 'advert_intt' in vrrp_instance (did you mean 'advert_int'?)");
  const g = await compileText('global_defs {\n  vrrp_garp_master_delya 5\n}\n');
  has(g, "keepalived.conf:2:3: error: unknown keyword 'vrrp_garp_master_delya' in global_defs (did you mean 'vrrp_garp_master_delay'?)");
});

test('a missing virtual_router_id is an error at the instance', async () => {
  const r = await compileText('vrrp_instance VI_1 {\n  interface eth0\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n');
  has(r, "keepalived.conf:1:1: error: 'vrrp_instance VI_1' lacks required 'virtual_router_id'");
});

test('auth_type AH is accepted for IPv4 VRRPv2, with the key kept secret; refused where keepalived refuses it', async () => {
  const r = await compileText(instance('  authentication {\n    auth_type AH\n    auth_pass s3cr3tpw\n  }\n'));
  noErrors(r);
  assert.deepEqual(r.warnings, []);
  const auth = r.model!.vrrpInstance[0]!.authentication as { authType: string; authPass: string };
  assert.equal(auth.authType, 'AH');
  assert.equal(auth.authPass, 's3cr3tpw');
  assert.ok(!r.lines.some((l) => l.includes('s3cr3tpw')));
  // VRRPv3 has no authentication, AH included
  const v3 = await compileText(instance('  version 3\n  authentication {\n    auth_type AH\n    auth_pass s3cr3tpw\n  }\n'));
  has(
    v3,
    'keepalived.conf:8:3: warning: vrrp_instance VI_1: VRRPv3 has no authentication: the authentication block is ignored and adverts carry none, as keepalived does',
  );
  noErrors(v3);
  // IPv6 instances are VRRPv3: AH is IPv4 only
  const v6 = await compileText(
    'vrrp_instance VI_6 {\n  interface eth0\n  virtual_router_id 61\n  virtual_ipaddress {\n    fd00::1/64\n  }\n  authentication {\n    auth_type AH\n    auth_pass s3cr3tpw\n  }\n}\n',
  );
  has(
    v6,
    'keepalived.conf:7:3: warning: vrrp_instance VI_6: auth_type AH is IPv4 only (IPv6 instances use VRRPv3, which has no authentication): the authentication block is ignored, as keepalived ignores it',
  );
  noErrors(v6);
  // strict mode drops the authentication, AH too, and runs (test/config/vrrp-strict.test.ts)
  const strict = await compileText(instance('  strict_mode\n  authentication {\n    auth_type AH\n    auth_pass s3cr3tpw\n  }\n'));
  noErrors(strict);
  has(
    strict,
    'keepalived.conf:8:3: warning: vrrp_instance VI_1: strict mode (strict_mode): the authentication is dropped; the instance sends adverts without it, as keepalived does (and drops adverts that carry one: a peer that still sends auth_type AH is not heard)',
  );
  // AH without a key, an unknown type
  has(
    await compileText(instance('  authentication {\n    auth_type AH\n  }\n')),
    'keepalived.conf:7:3: warning: authentication with auth_type AH and no auth_pass is ignored, as keepalived ignores it',
  );
  has(await compileText(instance('  authentication {\n    auth_type MD5\n    auth_pass x\n  }\n')), 'keepalived.conf:8:15: error:');
});

test('state MASTER below priority 255 with auth_type AH: a warning, and the instance starts as BACKUP as keepalived clears it', async () => {
  const body = (prio: string) => `  state MASTER\n${prio}  authentication {\n    auth_type AH\n    auth_pass 1234\n  }\n`;
  const r = await compileText(instance(body('  priority 150\n')));
  noErrors(r);
  has(r, 'keepalived.conf:7:9: warning: vrrp_instance VI_1: state MASTER does not go with auth_type AH below priority 255');
  const s = resolveVrrp(r.model!.globalDefs as Parameters<typeof resolveVrrp>[0], r.model!.vrrpInstance).instances[0]!;
  assert.equal(s.initialState, 'BACKUP');
  assert.equal(s.ahPass, '1234');
  assert.equal(s.authPass, undefined);
  // the address owner (state MASTER's default priority is 255) keeps its state, without a warning
  const owner = await compileText(instance(body('')));
  noErrors(owner);
  assert.deepEqual(owner.warnings, []);
  const o = resolveVrrp(owner.model!.globalDefs as Parameters<typeof resolveVrrp>[0], owner.model!.vrrpInstance).instances[0]!;
  assert.equal(o.initialState, 'MASTER');
  assert.equal(o.priority, 255);
  // PASS with state MASTER stays MASTER
  const pass = await compileText(instance('  state MASTER\n  priority 150\n  authentication {\n    auth_type PASS\n    auth_pass 1234\n  }\n'));
  const p = resolveVrrp(pass.model!.globalDefs as Parameters<typeof resolveVrrp>[0], pass.model!.vrrpInstance).instances[0]!;
  assert.equal(p.initialState, 'MASTER');
  assert.equal(p.authPass, '1234');
  assert.equal(p.ahPass, undefined);
});

test('auth_pass longer than 8 characters: one warning, and the secret never appears', async () => {
  const text =
    instance('  authentication {\n    auth_type PASS\n    auth_pass verylongsecret1\n  }\n') +
    instance('  authentication {\n    auth_type PASS\n    auth_pass verylongsecret2\n  }\n', 'VI_2', 'interface eth1\n  virtual_router_id 52');
  const r = await compileText(text);
  noErrors(r);
  const w = r.warnings.filter((l) => l.includes('longer than 8'));
  assert.equal(w.length, 1);
  assert.match(w[0]!, /^keepalived\.conf:9:15: warning: auth_pass is longer than 8 characters/);
  assert.ok(!r.lines.some((l) => l.includes('verylongsecret')), r.lines.join('\n'));
  // two words: an error that does not echo them
  const two = await compileText(instance('  authentication {\n    auth_type PASS\n    auth_pass my secret\n  }\n'));
  has(two, "keepalived.conf:9:18: error: 'auth_pass' takes one word; quote a password that has blanks");
  assert.ok(!two.lines.some((l) => l.includes('secret')));
  // PASS without a password
  const none = await compileText(instance('  authentication {\n    auth_type PASS\n  }\n'));
  has(none, 'keepalived.conf:7:3: warning: authentication with auth_type PASS and no auth_pass is ignored, as keepalived ignores it');
  noErrors(none);
});

test('virtual_ipaddress mixing IPv4 and IPv6 is an error at the odd address', async () => {
  const r = await compileText(
    'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.0.0.1/24\n    2001:db8::1/64\n  }\n}\n',
  );
  has(r, 'keepalived.conf:6:5: error: vrrp_instance VI_1: virtual_ipaddress mixes IPv4 and IPv6 (10.0.0.1 and 2001:db8::1)');
  // the other family belongs in virtual_ipaddress_excluded
  const ok = await compileText(instance('  virtual_ipaddress_excluded {\n    2001:db8::1/64\n  }\n'));
  noErrors(ok);
});

test('a VRID may be used once per interface and address family', async () => {
  const r = await compileText(instance('', 'VI_1') + instance('', 'VI_2'));
  has(r, 'keepalived.conf:10:21: error: vrrp_instance VI_2: virtual_router_id 51 is already used on eth0 (IPv4) by vrrp_instance VI_1 at line 1');
  // another interface, another family, another multicast group, or unicast with other peers: no conflict
  const v6 = 'vrrp_instance VI_6 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    fe80::51\n  }\n}\n';
  noErrors(await compileText(instance('', 'VI_1') + v6));
  noErrors(await compileText(instance('', 'VI_1') + instance('', 'VI_2', 'interface eth1\n  virtual_router_id 51')));
  noErrors(await compileText(instance('', 'VI_1') + instance('  mcast_dst_ip 224.0.0.19\n', 'VI_2')));
  const peers = (p: string) => `  unicast_peer {\n    ${p}\n  }\n`;
  noErrors(await compileText(instance(peers('10.0.0.2'), 'VI_1') + instance(peers('10.0.0.3'), 'VI_2')));
  has(await compileText(instance(peers('10.0.0.2'), 'VI_1') + instance(peers('10.0.0.2'), 'VI_2')), 'same unicast peers');
});

test('authentication with VRRPv3 is ignored with a warning, as keepalived ignores it, also when version 3 comes from global_defs or IPv6', async () => {
  const auth = '  authentication {\n    auth_type PASS\n    auth_pass 1111\n  }\n';
  has(await compileText(instance('  version 3\n' + auth)), 'keepalived.conf:8:3: warning: vrrp_instance VI_1: VRRPv3 has no authentication');
  has(
    await compileText('global_defs {\n  vrrp_version 3\n}\n' + instance(auth)),
    'keepalived.conf:10:3: warning: vrrp_instance VI_1: VRRPv3 has no authentication',
  );
  noErrors(await compileText(instance(auth)));
});

test('advert_int: whole seconds with VRRPv2, centiseconds up to 40.95 with VRRPv3', async () => {
  has(
    await compileText(instance('  advert_int 0.5\n')),
    'keepalived.conf:7:14: error: vrrp_instance VI_1: advert_int 0.5: VRRPv2 advertises in whole seconds (1..255)',
  );
  has(await compileText(instance('  version 2\n  advert_int 1.5\n')), 'keepalived.conf:8:14: error: vrrp_instance VI_1: advert_int 1.5: VRRPv2');
  noErrors(await compileText(instance('  version 3\n  advert_int 0.5\n')));
  noErrors(await compileText('global_defs {\n  vrrp_version 3\n}\n' + instance('  advert_int 0.05\n')));
  has(
    await compileText(instance('  version 3\n  advert_int 41\n')),
    'keepalived.conf:8:14: error: vrrp_instance VI_1: advert_int 41 is out of range for VRRPv3: expected 0.01..40.95 seconds',
  );
  has(await compileText(instance('  version 3\n  advert_int 0.015\n')), 'VRRPv3 advertises in units of 10 ms');
  noErrors(await compileText(instance('  advert_int 255\n')));
});

test('IPv6 instances are VRRPv3', async () => {
  const v6 = 'vrrp_instance VI_6 {\n  interface eth0\n  virtual_router_id 51\n  version 2\n  virtual_ipaddress {\n    fe80::51\n  }\n}\n';
  has(await compileText(v6), 'keepalived.conf:4:11: error: vrrp_instance VI_6: VRRPv2 is IPv4 only (RFC 3768)');
});

test('preemption settings that keepalived resets are reset, with a warning', async () => {
  const master = await compileText(instance('  state MASTER\n  nopreempt\n'));
  noErrors(master);
  has(master, 'keepalived.conf:8:3: warning: vrrp_instance VI_1: nopreempt does not work with state MASTER: it is cleared and the instance preempts');
  assert.equal(master.model!.vrrpInstance![0]!.nopreempt, undefined);
  const owner = await compileText(instance('  priority 255\n  nopreempt\n'));
  has(owner, 'keepalived.conf:8:3: warning: vrrp_instance VI_1: nopreempt has no effect with priority 255 (the address owner always preempts); it is cleared');
  assert.equal(owner.model!.vrrpInstance![0]!.nopreempt, undefined);
  const delay = await compileText(instance('  nopreempt\n  preempt_delay 10\n'));
  has(delay, 'keepalived.conf:8:17: warning: vrrp_instance VI_1: preempt_delay has no effect with nopreempt (the instance never preempts); it is reset');
  assert.equal(delay.model!.vrrpInstance![0]!.preemptDelay, undefined);
  assert.equal(delay.model!.vrrpInstance![0]!.nopreempt, true);
  const masterDelay = await compileText(instance('  state MASTER\n  preempt_delay 10\n'));
  has(masterDelay, 'keepalived.conf:8:17: warning: vrrp_instance VI_1: preempt_delay does not work with state MASTER: it is cleared');
  assert.equal(masterDelay.model!.vrrpInstance![0]!.preemptDelay, undefined);
  has(
    await compileText(instance('  timer_expired_backup\n')),
    'keepalived.conf:7:3: warning: vrrp_instance VI_1: timer_expired_backup needs nopreempt; it is reset',
  );
  const both = await compileText(instance('  nopreempt\n  preempt\n'));
  noErrors(both);
  has(both, 'keepalived.conf:8:3: warning: vrrp_instance VI_1: both nopreempt and preempt are set; the later one (preempt) counts');
  assert.equal(both.model!.vrrpInstance![0]!.nopreempt, undefined);
  const later = await compileText(instance('  preempt\n  nopreempt\n'));
  assert.equal(later.model!.vrrpInstance![0]!.nopreempt, true);
});

// strict mode: test/config/vrrp-strict.test.ts

test('address, route and rule entries are checked word by word', async () => {
  const r = await compileText(
    instance(`  virtual_ipaddress_excluded {
    10.0.0.1/24 devv eth0
    10.0.0.2/24 track_group G
    2001:db8::1 brd 10.0.0.255
    10.0.0.3/31 brd +
  }
  virtual_routes {
    10.1.0.0/16 vai 10.0.0.1
    10.2.0.0/16 via 2001:db8::1
    from 10.0.0.0/8 10.3.0.0/16
    via 10.0.0.1
  }
  virtual_rules {
    from 10.0.0.0/8 preference 10
    from 10.0.0.0/8 table 1 goto 30 preference 20
    from 10.0.0.0/8 goto 30 preference 40
    to 10.0.0.0/8 table 1 lookp 2 preference 5
  }
`),
  );
  has(r, "keepalived.conf:8:17: error: unknown address option 'devv' (did you mean 'dev'?)");
  has(r, "keepalived.conf:9:17: error: 'track_group' is not allowed in virtual_ipaddress_excluded");
  has(r, 'keepalived.conf:10:17: error: an IPv6 address has no broadcast address (2001:db8::1)');
  has(r, "keepalived.conf:11:17: error: 10.0.0.3: 'brd +' needs a prefix of /30 or shorter");
  has(r, "keepalived.conf:14:17: error: unknown route option 'vai' (did you mean 'via'?)");
  has(r, 'keepalived.conf:15:21: error: a route in virtual_routes mixes IPv4 and IPv6 (via 2001:db8::1)');
  has(r, "keepalived.conf:16:10: error: 'from' in a route is for IPv6 source routing only");
  has(r, 'keepalived.conf:17:5: error: a route needs a destination (an address, or default)');
  has(r, 'keepalived.conf:20:5: error: a rule needs an action: table <TABLE>, goto <N>, nop, blackhole, unreachable, prohibit or l3mdev');
  has(r, "keepalived.conf:21:29: error: a rule takes one action (table, goto, nop, blackhole, prohibit, unreachable or l3mdev); 'table' is already given");
  has(r, 'keepalived.conf:22:21: error: goto 30 must jump forward: it is not after preference 40');
  has(r, "keepalived.conf:23:27: error: unknown rule option 'lookp' (did you mean 'lookup'?)");
});

test('a rule without a preference draws a warning, as keepalived warns', async () => {
  const r = await compileText(instance('  virtual_rules {\n    from 10.0.0.0/8 table 1\n  }\n'));
  noErrors(r);
  has(r, 'keepalived.conf:8:5: warning: this rule has no preference');
});

test('vrrp_sync_group: members must exist and belong to one group', async () => {
  const sg = (n: string, members: string) => `vrrp_sync_group ${n} {\n  group {\n${members}  }\n}\n`;
  const r = await compileText(
    sg('G1', '    VI_1\n    VI_2\n') + sg('G2', '    VI_2\n    VI_3\n') + instance('', 'VI_1') + instance('', 'VI_2', 'interface eth1\n  virtual_router_id 52'),
  );
  has(r, "keepalived.conf:10:5: error: vrrp_sync_group refers to vrrp_instance 'VI_3', which is not defined (did you mean 'VI_1'?)");
  const two = await compileText(
    sg('G1', '    VI_1\n    VI_2\n') + sg('G2', '    VI_2\n') + instance('', 'VI_1') + instance('', 'VI_2', 'interface eth1\n  virtual_router_id 52'),
  );
  has(two, 'keepalived.conf:7:1: error: vrrp_sync_group G2: vrrp_instance VI_2 is already in vrrp_sync_group G1 (line 1)');
  has(two, 'keepalived.conf:7:1: warning: vrrp_sync_group G2 has only one member');
  // a weighted track_interface is ignored in a sync group unless sync_group_tracking_weight
  const w = await compileText(
    sg('G1', '    VI_1\n    VI_2\n') +
      instance('  track_interface {\n    eth3 weight 10\n  }\n', 'VI_1') +
      instance('', 'VI_2', 'interface eth1\n  virtual_router_id 52'),
  );
  has(
    w,
    'keepalived.conf:14:5: error: vrrp_instance VI_1: track_interface eth3 has weight 10, which vrrp_sync_group G1 ignores unless it sets sync_group_tracking_weight',
  );
  const ok = await compileText(
    'vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n  sync_group_tracking_weight\n}\n' +
      instance('  track_interface {\n    eth3 weight 10\n  }\n', 'VI_1') +
      instance('', 'VI_2', 'interface eth1\n  virtual_router_id 52'),
  );
  noErrors(ok);
});

test('deprecated spellings are accepted with a note', async () => {
  const r = await compileText(
    `global_defs {
  lvs_process_name lvs
  lvs_flush_onstop
  vrrp_rlimit_rtime 10000
  enable_snmp_keepalived
  vrrp_vmac_garp_intvl 60
}
vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
  global_tracking
}
` +
      instance(
        '  vmac_garp_intvl 30\n  linkbeat_use_polling\n  lvs_sync_daemon_interface eth1\n  native_ipv6\n',
        'VI_1',
        'interface eth0\n  virtual_router_id 51\n  version 3',
      ) +
      instance('', 'VI_2', 'interface eth1\n  virtual_router_id 52'),
  );
  has(r, "keepalived.conf:2:3: note: 'lvs_process_name' is the old spelling of 'checker_process_name'; accepted");
  has(r, "keepalived.conf:3:3: note: 'lvs_flush_onstop' is the old spelling of 'lvs_flush_on_stop'; accepted");
  has(r, "keepalived.conf:4:3: note: 'vrrp_rlimit_rtime' is the old spelling of 'vrrp_rlimit_rttime'");
  has(r, "keepalived.conf:5:3: note: 'enable_snmp_keepalived' is the old spelling of 'enable_snmp_vrrp'; accepted");
  has(r, "keepalived.conf:6:3: note: 'vrrp_vmac_garp_intvl' is the old spelling of 'vrrp_garp_extra_if'; accepted");
  has(
    r,
    "keepalived.conf:13:3: note: 'global_tracking' is the old spelling of 'sync_group_tracking_weight': use track_interface, track_script and track_file on the sync group; accepted",
  );
  has(r, "keepalived.conf:22:3: note: 'vmac_garp_intvl' is the old spelling of 'garp_extra_if'; accepted");
  has(r, "keepalived.conf:23:3: note: 'linkbeat_use_polling' is deprecated: use a linkbeat_interfaces block");
  has(r, "keepalived.conf:24:3: note: 'lvs_sync_daemon_interface' is deprecated: use 'lvs_sync_daemon <INTERFACE> inst <VRRP_INSTANCE>' in global_defs");
  has(r, "keepalived.conf:25:3: note: 'native_ipv6' is deprecated: the virtual addresses determine the address family");
});

test('global_defs values are checked as keepalived checks them', async () => {
  const r = await compileText(`global_defs {
  vrrp_garp_interval 0
  vrrp_mcast_group4 10.0.0.1
  smtp_connect_timeout 0
  process_name a_name_longer_than_15
  vrrp_priority 20
  lvs_sync_daemon eth1 inst VI_9 id 300
  include_check readable +bogus
  umask IWGRP|IRWXX
  vrrp_rx_bufs_policy MTU 1000
}
`);
  has(
    r,
    'keepalived.conf:2:22: note: vrrp_garp_interval 0 is an old spelling of the default, no delay; accepted (keepalived 2.2 reports it as invalid); leave the line out',
  );
  has(r, "keepalived.conf:3:21: error: '10.0.0.1' is not a multicast address");
  has(r, 'keepalived.conf:4:24: error: 0 is out of range: expected 1..4294');
  has(r, "keepalived.conf:5:16: error: 'a_name_longer_than_15' is too long: at most 15 characters");
  has(r, 'keepalived.conf:6:17: error: 20 is out of range: expected -20..19');
  has(r, 'keepalived.conf:7:37: error: 300 is out of range: expected 0..255');
  has(r, "keepalived.conf:7:29: error: lvs_sync_daemon refers to vrrp_instance 'VI_9', which is not defined");
  has(r, "keepalived.conf:8:26: error: 'bogus' is not an include check");
  has(r, "keepalived.conf:9:9: error: 'IRWXX' is not a umask bit");
  has(r, 'keepalived.conf:10:23: error: vrrp_rx_bufs_policy: give either a size or a policy (MTU, ADVERT), not both');
  const ok = await compileText('global_defs {\n  umask 0027\n  smtp_server 10.0.0.1 2525\n  max_auto_priority\n  nftables\n  dynamic_interfaces\n}\n');
  noErrors(ok);
  assert.equal(ok.model!.globalDefs!.umask, 0o27);
  assert.deepEqual(ok.model!.globalDefs!.smtpServer, { host: '10.0.0.1', port: 2525 });
  assert.equal(ok.model!.globalDefs!.maxAutoPriority, true);
  assert.equal(ok.model!.globalDefs!.nftables, true);
});

test('top-level global keywords and the other VRRP blocks', async () => {
  const r = await compileText(
    `net_namespace blue
instance ka1
child_wait_time 10
track_group TG {
  group {
    VI_1
  }
}
static_ipaddress {
  192.168.5.1/24 dev eth0 track_group TG
}
static_routes {
  192.168.6.0/24 via 192.168.5.254 dev eth0 track_group TG
}
static_rules {
  from 192.168.6.0/24 table 7 dev eth0 track_group TG preference 1000
}
garp_group {
  garp_interval 0.001
  interfaces {
    eth0
    eth1
  }
}
linkbeat_interfaces {
  eth0 ETHTOOL
}
interface_up_down_delays {
  eth0 1 0.5
}
bfd_instance B1 {
  neighbor_ip 10.0.0.2
  min_rx 20
  weight 10 reverse
}
` + instance('  track_bfd {\n    B1 weight -5\n  }\n'),
  );
  noErrors(r);
  const m = r.model!;
  assert.equal(m.netNamespace, 'blue');
  assert.equal(m.instance, 'ka1');
  assert.equal(m.childWaitTime, 10);
  assert.deepEqual(m.trackGroup[0]!.group, ['VI_1']);
  assert.equal(m.staticIpaddress[0]![0]!.trackGroup, 'TG');
  assert.equal(m.staticRoutes[0]![0]!.dev, 'eth0');
  assert.equal(m.staticRules[0]![0]!.table, 7);
  assert.deepEqual(m.garpGroup[0]!.interfaces, ['eth0', 'eth1']);
  assert.deepEqual(m.linkbeatInterfaces[0]![0], { interface: 'eth0', type: 'ETHTOOL' });
  assert.equal(m.interfaceUpDownDelays[0]![0]!.up, 0.5);
  assert.deepEqual(m.bfdInstance[0]!.weight, { weight: 10, reverse: true });
  assert.equal(m.vrrpInstance[0]!.trackBfd![0]!.weight, -5);

  const bad = await compileText(
    'static_routes {\n  10.0.0.0/8 via 10.0.0.1 track_group NOPE\n}\ngarp_group {\n  interface eth0\n}\n' + instance('  track_bfd {\n    B2\n  }\n'),
  );
  has(bad, 'keepalived.conf:2:3: error: a static route with track_group needs dev <INTERFACE>');
  has(bad, 'keepalived.conf:4:1: error: garp_group needs garp_interval or gna_interval');
  has(bad, "keepalived.conf:14:5: error: track_bfd refers to bfd_instance 'B2', which is not defined");
});

test('keyword counts: every keepalived 2.2.8 keyword of these blocks is declared', () => {
  const count = (s: { keywordNames(): string[] }) => s.keywordNames().length;
  // global_defs: 121 keywords + 7 old spellings
  assert.equal(Object.keys(globalDefsSchema.fields).length, 121);
  assert.equal(count(globalDefsSchema), 128);
  assert.equal(Object.keys(globalRootFields).length, 7);
  // vrrp_instance: 63 in core (track_script, track_file, track_process come from plugins) + vmac_garp_intvl
  assert.equal(Object.keys(vrrpInstanceSchema.fields).length, 63);
  assert.equal(count(vrrpInstanceSchema), 64);
  // vrrp_sync_group: 11 in core + global_tracking
  assert.equal(Object.keys(vrrpSyncGroupSchema.fields).length, 11);
  assert.equal(Object.keys(vrrpRootFields).length, 10);
});

// ---------------------------------------------------------------------------
// keepalived's own sample configs

/** Errors expected in keepalived's samples: each is also an error for keepalived 2.2.8 itself. */
const KNOWN_BROKEN: Record<string, RegExp[]> = {
  // vrrp_sync_group without its group { } block
  'keepalived.conf.vrrp.lvs_syncd': [
    /:3:1: error: 'vrrp_sync_group VG1' lacks required 'group'/,
    /:4:3: error: unknown keyword 'VI_2'/,
    /:5:3: error: unknown keyword 'VI_3'/,
  ],
  // '192.168.100./24' in static_rules and '192.168.200./24' in virtual_rules
  'keepalived.conf.vrrp.rules': [/:11:8: error: '192\.168\.100\.\/24' is not an IP address/, /:26:12: error: '192\.168\.200\.\/24' is not an IP address/],
};

test("keepalived's sample configs compile without errors (except the known broken ones)", async () => {
  const dir = path.join(FIXTURES, 'keepalived-samples');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('keepalived.conf'))
    .sort();
  assert.ok(files.length >= 20, `samples in ${dir}`);
  for (const f of files) {
    const r = await compileFile(path.join(dir, f), { host: permissiveHost, configId: f.endsWith('conditional_conf') ? 'high' : 'node1' });
    const expected = KNOWN_BROKEN[f] ?? [];
    const unexpected = r.errors.filter((e) => !expected.some((re) => re.test(e)));
    assert.deepEqual(unexpected, [], `${f}:\n${unexpected.join('\n')}`);
    for (const re of expected)
      assert.ok(
        r.errors.some((e) => re.test(e)),
        `${f}: expected an error matching ${re}\n${r.errors.join('\n')}`,
      );
  }
});

test('conditional_conf compiles for both of its config ids', async () => {
  for (const id of ['high', 'low']) {
    const r = await compileFile(path.join(FIXTURES, 'keepalived-samples', 'keepalived.conf.conditional_conf'), { host: permissiveHost, configId: id });
    noErrors(r);
    assert.equal(r.model!.netNamespace, id);
    assert.equal(r.model!.vrrpInstance[0]!.priority, id === 'high' ? 170 : 85);
  }
});

test('word lists (group, notification_email, interfaces) take several words per line, as keepalived reads them', async () => {
  const r = await compileText(
    'global_defs {\n  notification_email { ops@example.com root }\n}\nvrrp_sync_group G { group { VI_1\n  VI_2 } }\n' +
      instance('', 'VI_1') +
      instance('', 'VI_2', 'interface eth1\n  virtual_router_id 52'),
  );
  noErrors(r);
  assert.deepEqual(r.model!.globalDefs!.notificationEmail, ['ops@example.com', 'root']);
  assert.deepEqual(r.model!.vrrpSyncGroup[0]!.group, ['VI_1', 'VI_2']);
  const empty = await compileText('vrrp_sync_group G {\n  group {\n  }\n}\n');
  has(empty, "keepalived.conf:2:3: error: 'group' block is empty");
});

test('a word list of 300,000 words compiles (it was flattened through 300,000 arguments, past the stack)', async () => {
  const words = Array.from({ length: 100_000 }, (_, i) => `a${i}@example.com b${i}@example.com c${i}@example.com`);
  const r = await compileText(`global_defs {\n  notification_email {\n${words.join('\n')}\n  }\n}\n`);
  noErrors(r);
  const list = r.model!.globalDefs!.notificationEmail!;
  assert.equal(list.length, 300_000);
  assert.deepEqual(list.slice(0, 4), ['a0@example.com', 'b0@example.com', 'c0@example.com', 'a1@example.com']);
});

test('an interface tracked twice in one list is an error', async () => {
  const r = await compileText(instance('  track_interface {\n    eth1\n    eth1 weight 5\n  }\n'));
  has(r, 'keepalived.conf:9:5: error: vrrp_instance VI_1: track_interface lists eth1 twice (first at line 8)');
});

test('state may be given once: a second one is an error and the first counts, as keepalived', async () => {
  const r = await compileText(
    'vrrp_instance VI_1 {\n  state MASTER\n  state BACKUP\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n',
  );
  assert.deepEqual(r.errors, ["keepalived.conf:3:3: error: 'state' is already set in this vrrp_instance (at line 2); it may be given once"]);
});

test("include_check takes keepalived's parser spelling read as well as the manual's readable", async () => {
  const r = await compileText('global_defs {\n  include_check read +match\n}\n');
  assert.deepEqual(r.errors, []);
});
