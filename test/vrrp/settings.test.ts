import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText } from '../helpers/config';
import { resolveVrrp, settingsKey, type VrrpSettings } from '../../core/vrrp/settings';
import { trackerBlocks } from '../../core/track/plan';

async function settings(text: string): Promise<VrrpSettings> {
  const r = await compileText(text);
  assert.equal(r.errors.length, 0, r.errors.join('\n'));
  return resolveVrrp(r.model!.globalDefs as Parameters<typeof resolveVrrp>[0], r.model!.vrrpInstance ?? []);
}

test("keepalived's defaults: priority 100, or 255 with state MASTER; v2; advert 1 s; multicast 224.0.0.18; TTL 255; GARP 5 + 5 after 5 s, and 5 + 5 after 5 s on a lower-priority advert", async () => {
  const s = await settings(`
vrrp_instance A {
interface eth0
virtual_router_id 1
virtual_ipaddress {
10.0.0.1/24
}
}
vrrp_instance B {
state MASTER
interface eth0
virtual_router_id 2
virtual_ipaddress {
10.0.0.2
}
}
`);
  const [a, b] = s.instances;
  assert.equal(a!.priority, 100);
  assert.equal(a!.initialState, 'BACKUP');
  assert.equal(b!.priority, 255);
  assert.equal(a!.version, 2);
  assert.equal(a!.advertIntCs, 100);
  assert.equal(a!.group, '224.0.0.18');
  assert.equal(a!.ttl, 255);
  assert.equal(a!.preempt, true);
  assert.equal(a!.downTimerAdverts, 3);
  assert.deepEqual(a!.advertAddresses, ['10.0.0.1']);
  assert.deepEqual(a!.garp, {
    masterDelay: 5,
    masterRepeat: 5,
    masterRefresh: 0,
    masterRefreshRepeat: 1,
    garpIntervalMs: 0,
    gnaIntervalMs: 0,
    lowerPrioRepeat: 5,
    lowerPrioDelay: 5,
    extraIfInterval: 0,
    extraIfAll: false,
  });
  // alived's default, unlike keepalived's: a master that yields advertises once more, so the winner re-announces
  assert.equal(a!.higherPrioSendAdvert, true);
});

test('lower-priority gratuitous ARPs: the globals default to vrrp_garp_master_repeat / _delay (not the instance garp_master_*), vrrp_min_garp makes them 1 and 0, strict mode none; higher_prio_send_advert can be turned off', async () => {
  const one = async (globals: string, inst = ''): Promise<VrrpSettings['instances'][number]> =>
    (
      await settings(
        `global_defs {\n${globals}\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n${inst}\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n`,
      )
    ).instances[0]!;
  const lp = (i: VrrpSettings['instances'][number]): [number, number] => [i.garp.lowerPrioRepeat, i.garp.lowerPrioDelay];
  assert.deepEqual(lp(await one('vrrp_garp_master_repeat 3\n vrrp_garp_master_delay 7', ' garp_master_repeat 9\n garp_master_delay 1')), [3, 7]);
  assert.deepEqual(lp(await one('vrrp_garp_lower_prio_repeat 2\n vrrp_garp_lower_prio_delay 0')), [2, 0]);
  assert.deepEqual(lp(await one('vrrp_garp_lower_prio_repeat 2', ' garp_lower_prio_repeat 0')), [0, 5]);
  assert.deepEqual(lp(await one('vrrp_min_garp')), [1, 0]);
  const strict = await one('vrrp_strict');
  assert.deepEqual(lp(strict), [0, 0]);
  assert.equal(strict.higherPrioSendAdvert, false);
  assert.equal((await one('', ' higher_prio_send_advert off')).higherPrioSendAdvert, false);
  assert.equal((await one('vrrp_higher_prio_send_advert false')).higherPrioSendAdvert, false);
  assert.equal((await one('vrrp_higher_prio_send_advert false', ' higher_prio_send_advert')).higherPrioSendAdvert, true);
});

test('globals feed the instances: vrrp_version, groups, garp settings, vrrp_min_garp, down timer adverts', async () => {
  const s = await settings(`
global_defs {
  vrrp_version 3
  vrrp_mcast_group4 224.0.0.19
  vrrp_garp_master_delay 2
  vrrp_garp_interval 0.01
  vrrp_down_timer_adverts 4
}
vrrp_instance A {
interface eth0
virtual_router_id 1
advert_int 0.5
virtual_ipaddress {
10.0.0.1
}
}
`);
  const a = s.instances[0]!;
  assert.equal(a.version, 3);
  assert.equal(a.advertIntCs, 50);
  assert.equal(a.group, '224.0.0.19');
  assert.equal(a.garp.masterDelay, 2);
  assert.equal(a.garp.garpIntervalMs, 10);
  assert.equal(a.downTimerAdverts, 4);
  const m = await settings(
    `global_defs {\n vrrp_min_garp\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n`,
  );
  assert.deepEqual([m.instances[0]!.garp.masterRepeat, m.instances[0]!.garp.masterDelay, m.instances[0]!.garp.masterRefresh], [1, 0, 0]);
});

test('IPv6 instances are VRRPv3 on ff02::12; unicast takes its source, peers and TTL; PASS keeps 8 characters; nopreempt and preempt_delay', async () => {
  const s = await settings(`
vrrp_instance V6 {
interface eth0
virtual_router_id 1
virtual_ipaddress {
fd00::1/64
}
}
vrrp_instance U {
  interface eth0
  virtual_router_id 2
  unicast_src_ip 10.0.0.11
  unicast_peer { 10.0.0.12 min_ttl 250 }
  unicast_ttl 64
  nopreempt
  authentication {
    auth_type PASS
    auth_pass longer-than-8
  }
  virtual_ipaddress { 10.0.0.2 }
}
vrrp_instance D {
interface eth0
virtual_router_id 3
preempt_delay 2.5
virtual_ipaddress {
10.0.0.3
}
}
`);
  const [v6, u, d] = s.instances;
  assert.equal(v6!.family, 6);
  assert.equal(v6!.version, 3);
  assert.equal(v6!.group, 'ff02::12');
  assert.equal(u!.group, undefined);
  assert.equal(u!.srcAddress, '10.0.0.11');
  assert.deepEqual(u!.unicastPeers, [{ address: '10.0.0.12', minTtl: 250 }]);
  assert.equal(u!.ttl, 64);
  assert.equal(u!.authPass, 'longer-t');
  assert.equal(u!.preempt, false);
  assert.equal(d!.preemptDelayMs, 2500);
});

test('the settings cross to the VRRP process as JSON unchanged', async () => {
  const s = await settings(`vrrp_instance A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    10.0.0.1/24 dev eth1 label eth1:vip
  }
  virtual_routes {
    10.1.0.0/16 via 10.0.0.254
  }
}
`);
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});

test('a reload compares settings without positions: an instance whose lines only moved is unchanged, one whose VIP or route changed is not', async () => {
  const b = (vip: string, route: string): string => `vrrp_instance B {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    ${vip}
  }
  virtual_ipaddress_excluded {
    10.0.9.2/24
  }
  virtual_routes {
    ${route}
  }
}
`;
  const a = 'vrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    10.0.0.1/24\n  }\n}\n';
  const before = (await settings(b('10.0.0.2/24', '10.1.0.0/16 via 10.0.0.254'))).instances[0]!;
  // instance A above it: every line of B moves down
  const moved = (await settings(a + '\n\n' + b('10.0.0.2/24', '10.1.0.0/16 via 10.0.0.254'))).instances[1]!;
  assert.notDeepEqual(moved.vips[0]!.pos, before.vips[0]!.pos);
  assert.equal(settingsKey(moved), settingsKey(before));
  assert.notEqual(settingsKey((await settings(b('10.0.0.3/24', '10.1.0.0/16 via 10.0.0.254'))).instances[0]!), settingsKey(before));
  assert.notEqual(settingsKey((await settings(b('10.0.0.2/24', '10.2.0.0/16 via 10.0.0.254'))).instances[0]!), settingsKey(before));
});

test('tracking: entry weights override the block, sync group trackers reach every member, weighted ones are dropped in a sync group (file weight 1 becomes 0), vrrp_track_file is keyed as track_file', async () => {
  const r = await compileText(`
vrrp_script chk {
  script /bin/true
  weight -20
}
vrrp_track_file old {
  file /tmp/alived-old
}
track_file f2 {
  file /tmp/alived-f2
  weight 5
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    10.0.0.1/24
  }
  track_script {
    chk weight 10 reverse
  }
  track_file {
    old
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    10.0.0.2/24
  }
  track_file {
    f2
  }
}
vrrp_instance C {
  interface eth0
  virtual_router_id 3
  virtual_ipaddress {
    10.0.0.3/24
  }
}
vrrp_sync_group G {
  group {
    B
    C
  }
  track_script {
    chk weight 0
  }
  track_file {
    old
  }
}
`);
  assert.equal(r.errors.length, 0, r.errors.join('\n'));
  const warnings: string[] = [];
  const s = resolveVrrp(r.model!.globalDefs as Parameters<typeof resolveVrrp>[0], r.model!.vrrpInstance ?? [], {
    syncGroups: r.model!.vrrpSyncGroup,
    trackerBlocks: trackerBlocks(r.model!, r.pluginHost),
    warn: (m) => warnings.push(m),
  });
  const [a, b, c] = s.instances;
  assert.deepEqual(a!.tracks, [
    { type: 'vrrp_script', name: 'chk', weight: 10, reverse: true },
    { type: 'track_file', name: 'old', weight: 1, reverse: false },
  ]);
  // B: its own weighted file is dropped (sync group without sync_group_tracking_weight); the group's trackers apply
  assert.deepEqual(b!.tracks, [
    { type: 'vrrp_script', name: 'chk', weight: 0, reverse: false },
    { type: 'track_file', name: 'old', weight: 0, reverse: false },
  ]);
  assert.deepEqual(c!.tracks, b!.tracks);
  assert.equal(b!.syncGroup, 'G');
  assert.deepEqual(s.syncGroups, [{ name: 'G', members: ['B', 'C'] }]);
  assert.ok(
    warnings.some((w) => /\(B\) ignoring track_file f2 with weight 5/.test(w)),
    warnings.join('\n'),
  );
  assert.ok(
    warnings.some((w) => /\(B\) ignoring the weight of tracked file old/.test(w)),
    warnings.join('\n'),
  );
});
