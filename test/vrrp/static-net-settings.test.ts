import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText, instance } from '../helpers/config';
import { resolveVrrp } from '../../core/vrrp/settings';
import { applyTrackGroups, resolveStaticNet } from '../../core/vrrp/static-net-settings';
import { AutoPriority, autoPrioritySettings, type SchedulerAddon } from '../../core/vrrp/auto-priority';
import { silentLogger, createLogger, type LogRecord } from '../../core/log/logger';

async function model(text: string): Promise<NonNullable<Awaited<ReturnType<typeof compileText>>['model']>> {
  const r = await compileText(text);
  assert.deepEqual(r.errors, [], r.errors.join('\n'));
  return r.model!;
}

test("static entries with keepalived's defaults: dev default_interface (else eth0), rule preferences 16384 down per family, keepalived's protocol on tracked routes and rules", async () => {
  const m = await model(`
global_defs {
  default_interface st0
}
static_ipaddress {
  10.1.1.1/24 dev eth1
  10.1.1.2/24
}
static_routes {
  10.2.0.0/16 via 10.1.1.254 protocol static no_track
  10.3.0.0/16 via 10.1.1.254 protocol static
}
static_rules {
  from 10.1.1.0/24 table 100
  to 10.4.0.0/16 table 101
  from fd00::/64 table 102
  from 10.5.0.0/16 table 103 preference 7 no_track
}
`);
  const s = resolveStaticNet(m)!;
  assert.deepEqual(
    s.addresses.map((a) => `${a.address} ${a.dev}`),
    ['10.1.1.1 eth1', '10.1.1.2 st0'],
  );
  assert.deepEqual(
    s.routes.map((r) => r.protocol),
    ['static', undefined],
    "a tracked route is keepalived's (protocol 18, rtnl's default)",
  );
  assert.deepEqual(
    s.rules.map((r) => [r.preference, r.protocol]),
    [
      [16384, 18],
      [16383, 18],
      [16384, 18],
      [7, undefined],
    ],
  );
  const none = await model(instance());
  assert.equal(resolveStaticNet(none), undefined);
  const eth0 = await model('static_ipaddress {\n  10.9.9.9/32\n}\n');
  assert.equal(resolveStaticNet(eth0)!.addresses[0]!.dev, 'eth0', "keepalived's DFLT_INT");
});

test("track_group: the members track the interfaces of the group's addresses, routes and rules with no weight (a weight they had is dropped); no_track entries and other groups do not count", async () => {
  const m = await model(`
track_group TG {
  group {
    VI_1
  }
}
track_group OTHER {
  group {
    VI_2
  }
}
static_ipaddress {
  10.1.1.1/24 dev st0 track_group TG
  10.1.1.2/24 dev st9 track_group TG no_track
}
static_routes {
  10.2.0.0/16 dev st1 track_group TG
}
static_rules {
  from 10.1.1.0/24 table 100 preference 100 dev st2 track_group TG
}
${instance('  track_interface {\n    st1 weight 10\n  }\n', 'VI_1')}
${instance('', 'VI_2', 'interface eth0\n  virtual_router_id 52')}
`);
  const settings = resolveVrrp(m.globalDefs as Parameters<typeof resolveVrrp>[0], m.vrrpInstance ?? []);
  applyTrackGroups(settings.instances, m);
  const [vi1, vi2] = settings.instances;
  assert.deepEqual(vi1!.trackInterfaces.map((t) => [t.ifname, t.weight]).sort(), [
    ['st0', 0],
    ['st1', 0],
    ['st2', 0],
  ]);
  assert.deepEqual(vi2!.trackInterfaces, []);
});

test('max_auto_priority: alone 99, 0 and -1 off, min_auto_priority_delay 1 s by default', () => {
  assert.deepEqual(autoPrioritySettings({ maxAutoPriority: true }), { max: 99, minDelayUs: 1_000_000 });
  assert.deepEqual(autoPrioritySettings({ maxAutoPriority: 5, minAutoPriorityDelay: 2000 }), { max: 5, minDelayUs: 2000 });
  assert.equal(autoPrioritySettings({ maxAutoPriority: 0 }), undefined);
  assert.equal(autoPrioritySettings({ maxAutoPriority: -1 }), undefined);
  assert.equal(autoPrioritySettings({}), undefined);
});

test('automatic priority: late past the delay goes to SCHED_RR 1, one step per stall (the timers it delayed together count once), never past the maximum', () => {
  const calls: string[] = [];
  let policy = 0;
  let prio = 0;
  const lib: SchedulerAddon = {
    getScheduler: () => [policy, prio],
    setScheduler: (tid, p, n) => {
      if (tid === process.pid) {
        policy = p;
        prio = n;
      }
      calls.push(`${tid === process.pid ? 'main' : 'thread'} ${p} ${n}`);
    },
  };
  const lines: string[] = [];
  const log = createLogger([{ write: (r: LogRecord) => lines.push(r.msg) }], 'info');
  const auto = new AutoPriority({ max: 2, minDelayUs: 100_000 }, log, lib);
  auto.late(1000, 1050); // 50 ms: within the delay
  assert.equal(calls.length, 0);
  auto.late(1000, 1500); // a stall of 0.5 s
  assert.deepEqual([policy, prio], [2, 1]);
  assert.ok(calls.every((c) => / 2 1$/.test(c)) && calls.some((c) => c.startsWith('thread')), calls.join());
  auto.late(1100, 1501); // another timer of the same stall
  assert.equal(prio, 1);
  auto.late(2000, 2300); // the next stall
  assert.equal(prio, 2);
  auto.late(3000, 3300); // at the maximum
  assert.equal(prio, 2);
  assert.deepEqual(
    lines.filter((l) => l.startsWith('Set')),
    ['Set realtime priority 1', 'Set realtime priority 2'],
  );
  assert.ok(lines.includes('A timer expired 0.500000 seconds ago'), lines.join('\n'));
  // a process already real time steps up from its own priority
  policy = 2;
  prio = 1;
  new AutoPriority({ max: 99, minDelayUs: 1 }, silentLogger, lib).late(0, 10);
  assert.equal(prio, 2);
});
