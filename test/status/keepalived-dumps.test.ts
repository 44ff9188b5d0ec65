import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKeepalivedJson } from '../../core/status/keepalived-json';
import { formatKeepalivedCheckData, formatKeepalivedData } from '../../core/status/keepalived-data';
import { commandLine, formatAddress, formatRoute, type InstanceDumpConfig } from '../../core/status/keepalived-format';
import { STATUS_VERSION, type InstanceStatusDoc, type StatusDocument, type VirtualServerStatusDoc } from '../../core/status/types';
import type { InstanceSettings } from '../../core/vrrp/settings';
import type { AddressEntry } from '../../core/config/keywords/vrrp/addresses';
import type { RouteEntry } from '../../core/config/keywords/vrrp/routes';
import { dumpBase, dumpFiles } from '../../core/cli/dumps';

/**
 * keepalived's JSON and data dumps from literal status documents and
 * settings: the fields, their order and types as keepalived 2.2.8's
 * vrrp_json.c writes them, and the lines of its data files.
 */

const pos = { file: 'k.conf', line: 1, col: 1 };
const addr = (address: string, prefix: number | undefined, extra: Partial<AddressEntry> = {}): AddressEntry => ({
  family: address.includes(':') ? 6 : 4,
  address,
  prefix,
  pos,
  ...extra,
});

function settings(over: Partial<InstanceSettings> = {}): InstanceSettings {
  return {
    name: 'VI_1',
    vrid: 51,
    version: 2,
    family: 4,
    ifname: 'eth0',
    priority: 150,
    advertIntCs: 100,
    initialState: 'MASTER',
    preempt: true,
    preemptDelayMs: 0,
    downTimerAdverts: 3,
    group: '224.0.0.18',
    unicastPeers: [],
    ttl: 255,
    authPass: 'SECRETPW',
    checkUnicastSrc: false,
    skipCheckAdvAddr: false,
    advertAddresses: ['10.99.0.100'],
    vips: [addr('10.99.0.100', 24), addr('10.99.0.101', 24, { dev: 'eth0', label: 'eth0:1' })],
    excludedVips: [addr('10.99.1.5', 32)],
    routes: [],
    garp: {
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
    },
    lowerPrioNoAdvert: false,
    higherPrioSendAdvert: false,
    tracks: [{ type: 'vrrp_script', name: 'chk_a', weight: -20, reverse: false }],
    trackInterfaces: [{ ifname: 'eth1', weight: 5, reverse: false }],
    trackPrimary: true,
    syncGroup: 'G1',
    notifyPriorityChanges: false,
    strict: false,
    accept: true,
    ...over,
  };
}

const counters = {
  advert_rcvd: 1,
  advert_sent: 2,
  become_master: 1,
  release_master: 0,
  packet_len_err: 0,
  advert_interval_err: 0,
  ip_ttl_err: 0,
  invalid_type_rcvd: 0,
  addr_list_err: 0,
  invalid_authtype: 0,
  authtype_mismatch: 0,
  auth_failure: 0,
  pri_zero_rcvd: 0,
  pri_zero_sent: 0,
};

function instance(over: Partial<InstanceStatusDoc> = {}): InstanceStatusDoc {
  return {
    name: 'VI_1',
    state: 'MASTER',
    wantedState: 'MASTER',
    vrid: 51,
    version: 2,
    family: 'inet',
    interface: 'eth0',
    basePriority: 150,
    effectivePriority: 130,
    advertIntervalMs: 1000,
    master: { address: '10.99.0.1', priority: 130, self: true },
    syncGroup: 'G1',
    since: 1796650114532.395,
    cause: null,
    priorityCause: null,
    fault: null,
    waiting: [],
    vips: [
      { address: '10.99.0.100/24', dev: 'eth0', present: true },
      { address: '10.99.0.101/24', dev: 'eth0', present: false },
    ],
    trackers: [
      {
        type: 'vrrp_script',
        name: 'chk_a',
        weight: -20,
        reverse: false,
        state: 'down',
        value: null,
        lastResult: 'exit 1',
        since: null,
        effect: -20,
      },
    ],
    counters,
    extraCounters: { checksum_err: 0, version_err: 0, vrid_err: 0, vip_restored: 0, vip_lost: 0 },
    ...over,
  };
}

function doc(instances: InstanceStatusDoc[], virtualServers: VirtualServerStatusDoc[] = []): StatusDocument {
  return {
    version: STATUS_VERSION,
    generatedAt: 0,
    daemon: {
      version: '0',
      pid: 1,
      configFile: 'k.conf',
      configHash: '',
      configFiles: [],
      startedAt: 0,
      uptimeMs: 0,
      stateDir: null,
      instance: null,
      reloads: 0,
      reloadsRejected: 0,
      lastReload: null,
      vrrpProcess: null,
      eventLoopLag: { meanMs: 0, p99Ms: 0, maxMs: 0 },
    },
    vrrp: { running: true, instances, syncGroups: [{ name: 'G1', state: 'MASTER', members: ['VI_1'] }], otherVrids: 0 },
    virtualServers,
    notify: { outbox: null, published: 0, notifiers: [] },
  };
}

function config(s: InstanceSettings = settings(), over: Partial<InstanceDumpConfig> = {}): Map<string, InstanceDumpConfig> {
  return new Map([
    [
      s.name,
      {
        settings: s,
        scripts: { script_master: "'/usr/bin/echo' 'master'" },
        smtpAlert: false,
        promoteSecondaries: false,
        notifyDeleted: false,
        trackScripts: [{ name: 'chk_a', command: "'/usr/bin/true' 'arg1'" }],
        ...over,
      },
    ],
  ]);
}

/** keepalived 2.2.8 vrrp_json.c's fields of `data`, in its order (those a config without VMAC or track_process writes) */
const DATA_KEYS = [
  'iname',
  'dont_track_primary',
  'skip_check_adv_addr',
  'strict_mode',
  'vmac_ifname',
  'ifp_ifname',
  'master_priority',
  'last_transition',
  'garp_delay',
  'garp_refresh',
  'garp_rep',
  'garp_refresh_rep',
  'garp_lower_prio_delay',
  'garp_lower_prio_rep',
  'lower_prio_no_advert',
  'higher_prio_send_advert',
  'vrid',
  'base_priority',
  'effective_priority',
  'vipset',
  'promote_secondaries',
  'adver_int',
  'master_adver_int',
  'accept',
  'nopreempt',
  'preempt_delay',
  'state',
  'wantstate',
  'version',
  'smtp_alert',
  'notify_deleted',
  'script_master',
  'vips',
  'evips',
  'track_ifp',
  'track_script',
  'auth_type',
  'auth_data',
];

test("JSON: a top-level array of {data, stats}, keepalived's fields in its order, the password masked", () => {
  const text = formatKeepalivedJson(doc([instance()]), config());
  assert.ok(text.endsWith('\n'));
  const out = JSON.parse(text) as { data: Record<string, unknown>; stats: Record<string, unknown> }[];
  assert.equal(out.length, 1);
  assert.deepEqual(Object.keys(out[0]!), ['data', 'stats']);
  const d = out[0]!.data;
  assert.deepEqual(Object.keys(d), DATA_KEYS);
  assert.deepEqual(d, {
    iname: 'VI_1',
    dont_track_primary: 0,
    skip_check_adv_addr: 0,
    strict_mode: 0,
    vmac_ifname: '',
    ifp_ifname: 'eth0',
    master_priority: 0,
    last_transition: 1796650114.532395,
    garp_delay: 5,
    garp_refresh: 0,
    garp_rep: 5,
    garp_refresh_rep: 1,
    garp_lower_prio_delay: 5,
    garp_lower_prio_rep: 5,
    lower_prio_no_advert: 0,
    higher_prio_send_advert: 0,
    vrid: 51,
    base_priority: 150,
    effective_priority: 130,
    vipset: true,
    promote_secondaries: false,
    adver_int: 1,
    master_adver_int: 1,
    accept: 1,
    nopreempt: false,
    preempt_delay: 0,
    state: 2,
    wantstate: 2,
    version: 2,
    smtp_alert: false,
    notify_deleted: false,
    script_master: "'/usr/bin/echo' 'master'",
    vips: ['10.99.0.100/24 dev eth0 scope global set', '10.99.0.101/24 dev eth0 scope global label eth0:1'],
    evips: ['10.99.1.5 dev eth0 scope global set'],
    track_ifp: ['eth1'],
    track_script: ["'/usr/bin/true' 'arg1'"],
    auth_type: 1,
    auth_data: '********',
  });
  assert.deepEqual(out[0]!.stats, counters);
  assert.ok(!text.includes('SECRETPW'));
});

test('JSON: a backup that heard a master, with VMAC, IPv6, no auth and no lists: keepalived leaves empty lists and auth_data out', () => {
  const s = settings({
    name: 'VI_6',
    family: 6,
    version: 3,
    authPass: undefined,
    vips: [addr('fe80::1234', 64)],
    excludedVips: [],
    tracks: [],
    trackInterfaces: [],
    syncGroup: undefined,
    preempt: false,
    preemptDelayMs: 2500,
    vmac: { ifname: 'vrrp6.52', mac: '00:00:5e:00:02:34', xmitBase: false, base: 'eth0' } as InstanceSettings['vmac'],
  });
  const i = instance({
    name: 'VI_6',
    state: 'BACKUP',
    wantedState: 'BACKUP',
    version: 3,
    family: 'inet6',
    advertIntervalMs: 250,
    master: { address: 'fe80::9', priority: 200, self: false },
    syncGroup: null,
    since: null,
    vips: [{ address: 'fe80::1234/64', dev: 'vrrp6.52', present: false }],
    trackers: [],
  });
  const d = (JSON.parse(formatKeepalivedJson(doc([i]), config(s, { scripts: {}, trackScripts: [] }))) as { data: Record<string, unknown> }[])[0]!.data;
  assert.equal(d.vmac_ifname, 'vrrp6.52');
  assert.equal(d.ifp_ifname, 'vrrp6.52');
  assert.equal(d.master_priority, 200);
  assert.equal(d.last_transition, 0);
  assert.equal(d.state, 1);
  assert.equal(d.wantstate, 1);
  assert.equal(d.vipset, false);
  assert.equal(d.adver_int, 0.25);
  assert.equal(d.nopreempt, true);
  assert.equal(d.preempt_delay, 2);
  assert.deepEqual(d.vips, ['fe80::1234/64 dev vrrp6.52@eth0 scope global preferred_lft forever']);
  for (const k of ['evips', 'vroutes', 'track_ifp', 'track_script', 'auth_data', 'script_master']) assert.ok(!(k in d), k);
  assert.equal(d.auth_type, 0);
});

test('JSON: an instance the config part does not know is left out; no instance: an empty array', () => {
  assert.equal(formatKeepalivedJson(doc([instance({ name: 'VI_X' })]), config()), '[]\n');
  assert.equal(formatKeepalivedJson(doc([]), new Map()), '[]\n');
});

test('addresses and routes as keepalived writes them', () => {
  assert.equal(formatAddress(addr('10.0.0.1', 24, { broadcast: '+', scope: 'link' }), 'eth0', false), '10.0.0.1/24 brd 10.0.0.255 dev eth0 scope link');
  assert.equal(formatAddress(addr('10.0.0.1', undefined, { noTrack: true }), 'eth0', true), '10.0.0.1 dev eth0 scope global no_track set');
  assert.equal(formatAddress(addr('2001:db8::1', 64, { preferredLft: 0 }), 'eth0', false), '2001:db8::1/64 dev eth0 scope global deprecated');
  const route: RouteEntry = {
    family: 4,
    type: 'unicast',
    dst: { family: 4, address: '10.99.5.0', prefix: 24 },
    via: { family: 4, address: '10.99.0.254' },
    dev: 'eth0',
    mode: 'prepend',
    nexthops: [],
    attrs: {},
    locked: [],
    pos,
  };
  // what keepalived 2.2.7 writes for `10.99.5.0/24 via 10.99.0.254 dev eth0`
  assert.equal(formatRoute(route, 'eth0'), 'prepend 10.99.5.0/24 via inet 10.99.0.254 dev eth0 proto 18');
  assert.equal(
    formatRoute({ ...route, type: 'blackhole', via: undefined, dev: undefined, dst: 'default', metric: 7 }, 'eth0'),
    'prepend blackhole default proto 18 metric 7',
  );
  assert.equal(commandLine(['/usr/bin/echo', 'it is', 'master']), "'/usr/bin/echo' 'it is' 'master'");
});

test("data: the VRRP topology in keepalived's lines, the sync groups and the scripts; the password masked", () => {
  const text = formatKeepalivedData(doc([instance()]), config());
  const lines = text.split('\n');
  const at = (l: string): number => {
    const n = lines.indexOf(l);
    assert.ok(n >= 0, `no line '${l}' in:\n${text}`);
    return n;
  };
  const order = [
    '------< VRRP Topology >------',
    ' VRRP Instance = VI_1',
    '   VRRP Version = 2',
    '   Sync group = G1',
    '   State = MASTER',
    '   Wantstate = MASTER',
    '   Interface = eth0',
    '   Using src_ip = 10.99.0.1',
    '   Multicast address 224.0.0.18',
    '   Gratuitous ARP delay = 5',
    '   Down timer adverts = 3',
    '   Virtual Router ID = 51',
    '   Priority = 150',
    '   Effective priority = 130',
    '   Advert interval = 1 sec',
    '   Accept = enabled',
    '   Preempt = enabled',
    '   Authentication type = SIMPLE_PASSWORD',
    '   Password = ********',
    '   Virtual IP (2):',
    '     10.99.0.100/24 dev eth0 scope global set',
    '     10.99.0.101/24 dev eth0 scope global label eth0:1',
    '   Virtual IP Excluded :',
    '     10.99.1.5 dev eth0 scope global set',
    '   Tracked interfaces :',
    '     eth1 weight 5',
    '   Tracked scripts :',
    '     chk_a weight -20',
    '   Using smtp notification = no',
    '   Notify deleted = Fault',
    "   Master state transition script = '/usr/bin/echo' 'master'",
    '   Notify priority changes = false',
    '------< VRRP Sync groups >------',
    ' VRRP Sync Group = G1, MASTER',
    '   Num member fault 0, num member init 0',
    '   VRRP member instances :',
    '     VI_1',
    '------< VRRP Scripts >------',
    ' VRRP Script = chk_a',
    "   Command = '/usr/bin/true' 'arg1'",
    '   Status = BAD',
    '   Tracking instances :',
    '     VI_1, weight -20',
  ].map(at);
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    "in keepalived's order",
  );
  assert.match(text, /^ {3}Last transition = 1796650114\.532395 \(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d\.532395 \d{4}\)$/m);
  assert.ok(!text.includes('SECRETPW'));
  // VRRPv3: the interval in milliseconds, as keepalived
  assert.match(formatKeepalivedData(doc([instance({ version: 3, advertIntervalMs: 250 })]), config()), /^ {3}Advert interval = 250 milli-sec$/m);
});

test("data: with the tracker blocks' config, the scripts' settings, the track files and the sync groups' smtp_alert", () => {
  const tf = { type: 'track_file', name: 'tf1', weight: 3, reverse: false, state: 'up' as const, value: 0, lastResult: null, since: null, effect: 0 };
  const i = instance({ trackers: [{ ...instance().trackers[0]!, state: 'up' }, tf] });
  const globals = {
    scripts: new Map([['chk_a', { command: "'/usr/bin/true' 'arg1'", interval: 1, timeout: 0, weight: -20, reverse: false, rise: 1, fall: 1 }]]),
    files: new Map([['tf1', { file: '/run/tf1', weight: 1, reverse: true }]]),
    syncGroupSmtp: new Map([['G1', false]]),
  };
  const text = formatKeepalivedData(doc([i]), config(), globals);
  const tail = text.slice(text.indexOf('------< VRRP Sync groups >------'));
  assert.equal(
    tail,
    [
      '------< VRRP Sync groups >------',
      ' VRRP Sync Group = G1, MASTER',
      '   Num member fault 0, num member init 0',
      '   VRRP member instances :',
      '     VI_1',
      '   Using smtp notification = no',
      '------< VRRP Scripts >------',
      ' VRRP Script = chk_a',
      "   Command = '/usr/bin/true' 'arg1'",
      '   Interval = 1 sec',
      '   Timeout = 0 sec',
      '   Weight = -20',
      '   Rise = 1',
      '   Fall = 1',
      '   Status = GOOD',
      '   Tracking instances :',
      '     VI_1, weight -20',
      '------< VRRP Track files >------',
      ' Track file = tf1',
      '   File = /run/tf1',
      '   Status = 0',
      '   Weight = 1 reverse',
      '   Tracking instances :',
      '     VI_1, weight 3',
      '',
    ].join('\n'),
  );
});

test('check data: virtual servers, real servers and their checkers', () => {
  const vs: VirtualServerStatusDoc = {
    name: '[10.0.0.1]:tcp:80',
    address: '10.0.0.1',
    port: 80,
    fwmark: null,
    group: null,
    protocol: 'TCP',
    scheduler: 'wlc',
    quorum: 1,
    hysteresis: 0,
    quorumUp: true,
    aliveWeight: 1,
    sorryServer: { name: '10.0.0.9:80', inUse: false },
    realServers: [
      {
        name: '10.0.0.5:80',
        address: '10.0.0.5',
        port: 80,
        up: false,
        weight: 0,
        configuredWeight: 3,
        inhibit: true,
        since: null,
        cause: null,
        checkers: [
          {
            keyword: 'TCP_CHECK',
            plugin: 'tcp-check',
            target: '10.0.0.5:80',
            up: false,
            last: { ok: false, message: 'connection refused', latencyMs: 1.5, at: 0 },
            checks: 4,
            failures: 3,
            consecutiveFailures: 3,
            error: null,
          },
        ],
      },
    ],
  };
  const text = formatKeepalivedCheckData(doc([], [vs]));
  assert.equal(
    text,
    [
      '------< LVS Topology >------',
      ' ------< Virtual server >------',
      ' VS VIP = 10.0.0.1, VPORT = 80',
      '   protocol = TCP',
      '   quorum = 1, hysteresis = 0',
      '   sorry server = 10.0.0.9:80',
      '   alive = 1',
      '   quorum_state_up = 1',
      '   ------< Real server >------',
      '   RIP = 10.0.0.5, RPORT = 80, WEIGHT = 3 EFF WEIGHT = 0',
      '   Inhibit on failure is ON',
      '   initial weight = 3',
      '   effective weight = 0',
      '   alive = 0',
      '   num failed checkers = 1',
      '------< Health checkers >------',
      ' [10.0.0.1]:tcp:80 -> 10.0.0.5:80',
      '   Keepalive method = TCP_CHECK',
      '   Target = 10.0.0.5:80',
      '   Status = DOWN, checks 4, failures 3',
      '   Last result = FAILED in 1.5 ms: connection refused',
      '',
    ].join('\n'),
  );
});

test('the files each signal writes: names with --instance, no JSON without instances, the check data with virtual servers', () => {
  const vs: VirtualServerStatusDoc = {
    name: 'FWM 7',
    address: null,
    port: null,
    fwmark: 7,
    group: null,
    protocol: null,
    scheduler: 'wlc',
    quorum: 1,
    hysteresis: 0,
    quorumUp: false,
    aliveWeight: 0,
    sorryServer: null,
    realServers: [],
  };
  const inputs = { doc: doc([instance()]), config: config() };
  assert.deepEqual(
    dumpFiles('json', inputs, dumpBase({ instance: undefined, dumpNames: 'alived' })).map((f) => f.file),
    ['/tmp/alived.json'],
  );
  assert.deepEqual(
    dumpFiles('data', inputs, dumpBase({ instance: 'web', dumpNames: 'alived' })).map((f) => f.file),
    ['/tmp/alived_web.data'],
  );
  assert.deepEqual(dumpFiles('json', { doc: doc([]), config: new Map() }, '/tmp/alived'), []);
  const withVs = dumpFiles('data', { doc: doc([], [vs]), config: new Map() }, dumpBase({ instance: 'web', dumpNames: 'alived' }));
  assert.deepEqual(
    withVs.map((f) => f.file),
    ['/tmp/alived_web.data', '/tmp/alived_web_check.data'],
  );
  assert.match(withVs[1]!.text, /^ VS FWMARK = 7$/m);
  // run as keepalived: keepalived's names
  assert.equal(dumpBase({ instance: undefined, dumpNames: 'keepalived' }), '/tmp/keepalived');
});
