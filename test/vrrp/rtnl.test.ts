import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab, removeStaleLabs, type LabHost } from '../../core/lab/netns';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { bytesToIp, canonicalIp, ipToBytes } from '../../core/net/address';
import { protocolNumber, scopeNumber, tableNumber } from '../../core/vrrp/iproute2-names';
import { routeText, type AddressSpec, type RouteSpec, type RuleSpec } from '../../core/vrrp/rtnl-shapes';
import { waitFor } from '../helpers/lab';

const DRIVER = path.join(__dirname, '..', 'fixtures', 'vrrp-drivers', 'driver.js');

describe('addresses and names', () => {
  test('IPv4 and IPv6 text <-> bytes, IPv6 in its canonical form', () => {
    assert.equal(ipToBytes('10.99.0.1')!.toString('hex'), '0a630001');
    assert.equal(ipToBytes('fd00:99::1')!.toString('hex'), 'fd000099000000000000000000000001');
    assert.equal(ipToBytes('::ffff:10.0.0.1')!.toString('hex'), '00000000000000000000ffff0a000001');
    assert.equal(ipToBytes('::')!.toString('hex'), '0'.repeat(32));
    assert.equal(ipToBytes('10.0.0'), undefined);
    assert.equal(ipToBytes('fd00::1::2'), undefined);
    assert.equal(bytesToIp(Buffer.from('fd000099000000000000000000000001', 'hex')), 'fd00:99::1');
    assert.equal(bytesToIp(Buffer.from('20010db8000000010000000000000001', 'hex')), '2001:db8:0:1::1', 'the longest zero run is compressed');
    assert.equal(bytesToIp(Buffer.from('20010db8000100000000000100000000', 'hex')), '2001:db8:1::1:0:0', 'the first of equal runs');
    assert.equal(bytesToIp(Buffer.from('20010db8000100010001000100010001', 'hex')), '2001:db8:1:1:1:1:1:1', 'no run of one group');
    assert.equal(canonicalIp('FD00:0099:0:0::0001'), 'fd00:99::1');
    assert.equal(canonicalIp('2001:DB8::0:1'), canonicalIp('2001:db8::1'));
  });

  test('scope, table and protocol names as iproute2 and keepalived know them', () => {
    assert.deepEqual(['global', 'site', 'link', 'host', 'nowhere', 7, '0x10'].map(scopeNumber), [0, 200, 253, 254, 255, 7, 16]);
    assert.deepEqual(['main', 'local', 'default', 100].map(tableNumber), [254, 255, 253, 100]);
    assert.equal(tableNumber(4_000_000_000), 4_000_000_000);
    assert.deepEqual(['keepalived', 'static', 'kernel', 'boot', 42].map(protocolNumber), [18, 4, 2, 3, 42]);
    assert.throws(() => scopeNumber('galaxy'), /scope 'galaxy' is not known/);
    assert.throws(() => scopeNumber(256), /out of range/);
    assert.throws(() => tableNumber('no-such-table'), /routing table 'no-such-table' is not known/);
  });

  test('routes are named in messages as ip route shows them', () => {
    assert.equal(
      routeText({ dst: { address: '10.50.0.0', prefix: 16 }, via: { address: '10.99.0.1' }, dev: 'eth0', table: 100, metric: 7 }),
      '10.50.0.0/16 via 10.99.0.1 dev eth0 table 100 metric 7',
    );
    assert.equal(routeText({ type: 'blackhole', dst: 'default' }), 'blackhole default');
  });
});

// ---------------------------------------------------------------------------
// against the kernel, in a lab host

let lab: Lab;
let h: LabHost;

// node 20 runs an after() registered inside a before() hook as soon as that hook ends,
// so the cleanup is registered here
after(() => lab?.destroy());
process.once('exit', () => void lab?.destroy());
before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'rtnl',
    hosts: [
      { name: 'a', ip: '10.99.0.11', ip6: 'fd00:99::11' },
      { name: 'b', ip: '10.99.0.12' },
    ],
  });
  h = lab.host('a');
});

async function drive(cmd: object): Promise<unknown> {
  const r = await lab.exec(h, [process.execPath, DRIVER, JSON.stringify(cmd)], 15_000);
  assert.equal(r.code, 0, `driver: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as unknown;
}

type Result = { ok: true } | { error: string; errno: string };

function calls(...c: object[]): Promise<Result[]> {
  return drive({ op: 'rtnl', calls: c }) as Promise<Result[]>;
}

interface IpAddr {
  family: string;
  local: string;
  address?: string;
  prefixlen: number;
  broadcast?: string;
  scope: string;
  label?: string;
  nodad?: true;
  noprefixroute?: true;
  deprecated?: true;
  home?: true;
  preferred_life_time: number;
}

async function ipAddrs(): Promise<IpAddr[]> {
  const out = JSON.parse(await lab.run(h, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: IpAddr[] }[];
  return out[0]!.addr_info;
}

async function ipRoutes(args: string[]): Promise<Record<string, unknown>[]> {
  return JSON.parse(await lab.run(h, ['ip', '-j', '-d', ...args])) as Record<string, unknown>[];
}

describe('rtnetlink in a lab host', () => {
  test('links: index, name, MAC, up, MTU; a name that is not there', async () => {
    const links = (await drive({ op: 'links' })) as { index: number; name: string; mac: string; up: boolean; mtu: number; type: number; operstate: string }[];
    const eth0 = links.find((l) => l.name === 'eth0')!;
    assert.equal(eth0.mac, h.mac);
    assert.equal(eth0.up, true);
    assert.equal(eth0.operstate, 'up');
    assert.equal(eth0.mtu, 1500);
    assert.equal(eth0.type, 1);
    const lo = links.find((l) => l.name === 'lo')!;
    assert.equal(lo.index, 1);
    assert.equal(lo.type, 772);
    const ipIndex = (JSON.parse(await lab.run(h, ['ip', '-j', 'link', 'show', 'eth0'])) as { ifindex: number }[])[0]!.ifindex;
    assert.equal(eth0.index, ipIndex);
    assert.deepEqual(await drive({ op: 'link', name: 'eth0' }), eth0);
    assert.equal(await drive({ op: 'link', name: 'eth9' }), null);
  });

  test("addresses with keepalived's options appear with those attributes, and go", async () => {
    const specs: AddressSpec[] = [
      // a subnet of its own: the kernel wants the addresses of one subnet to share a scope
      { address: '10.99.5.99', prefix: 24, broadcast: '+', label: 'eth0:vip', scope: 'link' },
      { address: '10.99.0.98', prefix: 24, broadcast: '10.99.0.200' },
      { address: '10.99.0.97', prefix: 28, broadcast: '-', scope: 254 },
      { address: '10.99.1.1', peer: { address: '10.99.1.2', prefix: 32 } },
      { address: '10.99.0.96' },
      { address: 'fd00:99::99', prefix: 64, nodad: true, noprefixroute: true, preferredLft: 0 },
      { address: 'fd00:99::98', nodad: true, home: true },
    ];
    const added = await calls(...specs.map((spec) => ({ method: 'addAddress', ifname: 'eth0', spec })));
    assert.deepEqual(
      added,
      specs.map(() => ({ ok: true })),
    );
    const got = await ipAddrs();
    const find = (a: string): IpAddr => got.find((x) => x.local === a) ?? assert.fail(`${a} is not on eth0: ${JSON.stringify(got)}`);
    let a = find('10.99.5.99');
    assert.deepEqual([a.prefixlen, a.broadcast, a.label, a.scope], [24, '10.99.5.255', 'eth0:vip', 'link']);
    a = find('10.99.0.98');
    assert.deepEqual([a.prefixlen, a.broadcast], [24, '10.99.0.200']);
    a = find('10.99.0.97');
    assert.deepEqual([a.prefixlen, a.broadcast, a.scope], [28, '10.99.0.96', 'host']);
    a = find('10.99.1.1');
    assert.deepEqual([a.address, a.prefixlen], ['10.99.1.2', 32]);
    a = find('10.99.0.96');
    assert.deepEqual([a.prefixlen, a.broadcast, a.scope], [32, undefined, 'global'], 'a bare address is /32 without broadcast, as keepalived adds it');
    a = find('fd00:99::99');
    assert.deepEqual([a.prefixlen, a.nodad, a.noprefixroute, a.preferred_life_time, a.deprecated], [64, true, true, 0, true]);
    a = find('fd00:99::98');
    assert.deepEqual([a.prefixlen, a.nodad, a.home], [128, true, true]);

    const listed = (await drive({ op: 'addresses', ifname: 'eth0' })) as {
      address: string;
      prefix: number;
      label?: string;
      broadcast?: string;
      peer?: string;
      flags: string[];
      preferredLft?: number;
    }[];
    const l99 = listed.find((x) => x.address === '10.99.5.99')!;
    assert.deepEqual([l99.prefix, l99.label, l99.broadcast], [24, 'eth0:vip', '10.99.5.255']);
    assert.equal(listed.find((x) => x.address === '10.99.1.1')!.peer, '10.99.1.2');
    const v6 = listed.find((x) => x.address === 'fd00:99::99')!;
    assert.ok(v6.flags.includes('nodad') && v6.flags.includes('noprefixroute'), v6.flags.join());
    assert.equal(v6.preferredLft, 0);

    const removed = await calls(...specs.map((spec) => ({ method: 'delAddress', ifname: 'eth0', spec })));
    assert.deepEqual(
      removed,
      specs.map(() => ({ ok: true })),
    );
    const left = (await ipAddrs()).map((x) => x.local);
    for (const s of specs) assert.ok(!left.includes(s.address), `${s.address} is still there`);
  });

  test("a takeover's address request waits for the deadline: the timer's callback starts ahead, the kernel adds the address no earlier", async () => {
    const v = new VrrpLab(lab, fs.mkdtempSync(path.join(os.tmpdir(), 'alived-rtnl-')));
    await v.watch();
    try {
      const since = process.hrtime.bigint();
      for (const [i, address] of ['10.99.0.71', '10.99.0.72', '10.99.0.73'].entries()) {
        const r = (await drive({ op: 'takeover', ifname: h.ifname, spec: { address, prefix: 32 }, ms: 50 + i })) as {
          deadline: string;
          entered: string;
          result: Result;
        };
        assert.deepEqual(r.result, { ok: true });
        const added = await v.waitEvent((e) => e.host === 'a' && e.kind === 'addr' && e.op === 'new' && e.address === address, since, 5000);
        const deadline = BigInt(r.deadline);
        // the watcher stamps the event when it reads it: after the kernel added the address
        assert.ok(BigInt(r.entered) < deadline, `the callback started ${Number(BigInt(r.entered) - deadline) / 1e6} ms after the deadline, not ahead`);
        assert.ok(added.t >= deadline, `the address was in place ${Number(deadline - added.t) / 1e6} ms before the deadline`);
      }
    } finally {
      await calls(...['10.99.0.71', '10.99.0.72', '10.99.0.73'].map((address) => ({ method: 'delAddress', ifname: h.ifname, spec: { address, prefix: 32 } })));
    }
  });

  test('kernel errors say what was asked and why', async () => {
    const r = await calls(
      { method: 'addAddress', ifname: 'eth0', spec: { address: '10.99.0.99', prefix: 24 } },
      { method: 'addAddress', ifname: 'eth0', spec: { address: '10.99.0.99', prefix: 24 } },
      { method: 'delAddress', ifname: 'eth0', spec: { address: '10.99.0.99', prefix: 24 } },
      { method: 'delAddress', ifname: 'eth0', spec: { address: '10.99.0.99', prefix: 24 } },
      { method: 'addAddress', ifname: 'eth9', spec: { address: '10.99.0.99', prefix: 24 } },
      { method: 'addAddress', ifname: 'eth0', spec: { address: 'fd00:99::97', label: 'eth0:x' } },
      { method: 'addAddress', ifname: 'eth0', spec: { address: '10.99.0.95', prefix: 31, broadcast: '+' } },
      { method: 'addAddress', ifname: 'eth0', spec: { address: '10.99.0.94', prefix: 24, scope: 'link' } },
    );
    assert.deepEqual(r, [
      { ok: true },
      { error: 'adding 10.99.0.99/24 to eth0: File already exists (EEXIST)', errno: 'EEXIST' },
      { ok: true },
      { error: 'deleting 10.99.0.99/24 from eth0: Address not available (EADDRNOTAVAIL)', errno: 'EADDRNOTAVAIL' },
      { error: 'adding 10.99.0.99/24 to ifindex 999999: No such device (ENODEV)', errno: 'ENODEV' },
      { error: 'fd00:99::97: an IPv6 address cannot have a label', errno: 'EINVAL' },
      { error: "10.99.0.95/31: 'brd +' needs a prefix of /30 or shorter", errno: 'EINVAL' },
      {
        error:
          'adding 10.99.0.94/24 to eth0: Invalid argument (EINVAL): 10.99.0.11/24 on that interface has scope global, and the kernel wants the addresses of one subnet to share its scope (asked: link)',
        errno: 'EINVAL',
      },
    ]);
  });

  test('routes: gateway, device, table, metric, protocol, scope, source, type, metrics, multipath; then gone', async () => {
    const routes: RouteSpec[] = [
      { dst: { address: '10.50.0.0', prefix: 16 }, via: { address: '10.99.0.1' }, dev: 'eth0', table: 100, metric: 7, protocol: 'static' },
      { dst: 'default', family: 4, via: { address: '10.99.0.1' }, table: 101 },
      {
        dst: { address: '10.51.0.0', prefix: 24 },
        dev: 'eth0',
        scope: 'link',
        src: { address: '10.99.0.11' },
        attrs: { mtu: 1400, advmss: 1360 },
        locked: ['mtu'],
      },
      { type: 'blackhole', dst: { address: '10.52.0.0', prefix: 24 } },
      {
        dst: { address: '10.53.0.0', prefix: 24 },
        nexthops: [
          { via: { address: '10.99.0.1' }, dev: 'eth0', weight: 1 },
          { via: { address: '10.99.0.2' }, dev: 'eth0', weight: 3 },
        ],
      },
      { dst: { address: 'fd00:50::', prefix: 64 }, via: { address: 'fd00:99::1' }, dev: 'eth0', metric: 50 },
      { dst: { address: '10.54.0.0', prefix: 24 }, dev: 'eth0', table: 3_000_000 },
    ];
    const added = await calls(...routes.map((spec) => ({ method: 'addRoute', spec })));
    assert.deepEqual(
      added,
      routes.map(() => ({ ok: true })),
    );

    const [r1] = await ipRoutes(['route', 'show', 'table', '100']);
    assert.deepEqual([r1!.dst, r1!.gateway, r1!.dev, r1!.metric, r1!.protocol], ['10.50.0.0/16', '10.99.0.1', 'eth0', 7, 'static']);
    const [r2] = await ipRoutes(['route', 'show', 'table', '101']);
    assert.deepEqual([r2!.dst, r2!.gateway, r2!.protocol], ['default', '10.99.0.1', 'keepalived'], "keepalived's protocol by default");
    const main = await ipRoutes(['route', 'show']);
    const r3 = main.find((r) => r.dst === '10.51.0.0/24')!;
    assert.deepEqual([r3.scope, r3.prefsrc], ['link', '10.99.0.11']);
    assert.match(await lab.run(h, ['ip', 'route', 'show', '10.51.0.0/24']), /mtu lock 1400 advmss 1360/);
    assert.equal(main.find((r) => r.dst === '10.52.0.0/24')!.type, 'blackhole');
    const r5 = main.find((r) => r.dst === '10.53.0.0/24')! as { nexthops: { gateway: string; weight: number }[] };
    assert.deepEqual(
      r5.nexthops.map((n) => [n.gateway, n.weight]),
      [
        ['10.99.0.1', 1],
        ['10.99.0.2', 3],
      ],
    );
    const v6 = (await ipRoutes(['-6', 'route', 'show'])).find((r) => r.dst === 'fd00:50::/64')!;
    assert.deepEqual([v6.gateway, v6.metric], ['fd00:99::1', 50]);
    assert.equal((await ipRoutes(['route', 'show', 'table', '3000000']))[0]!.dst, '10.54.0.0/24', 'a table beyond 255 goes as RTA_TABLE');

    const again = await calls({ method: 'addRoute', spec: routes[0] });
    assert.deepEqual(again, [{ error: 'adding route 10.50.0.0/16 via 10.99.0.1 dev eth0 table 100 metric 7: File already exists (EEXIST)', errno: 'EEXIST' }]);

    const removed = await calls(...routes.map((spec) => ({ method: 'delRoute', spec })));
    assert.deepEqual(
      removed,
      routes.map(() => ({ ok: true })),
    );
    assert.deepEqual(await ipRoutes(['route', 'show', 'table', '100']), []);
    assert.ok(!(await ipRoutes(['route', 'show'])).some((r) => String(r.dst).startsWith('10.5')));

    const errs = await calls(
      { method: 'delRoute', spec: routes[0] },
      { method: 'addRoute', spec: { dst: { address: '10.55.0.0', prefix: 24 }, dev: 'eth9' } },
      { method: 'addRoute', spec: { dst: { address: '10.55.0.0', prefix: 24 }, via: { address: '10.200.0.1' } } },
      { method: 'addRoute', spec: { dst: { address: '10.55.0.0', prefix: 24 }, encap: { type: 'mpls', address: '100' } } },
    );
    assert.deepEqual(errs, [
      { error: 'deleting route 10.50.0.0/16 via 10.99.0.1 dev eth0 table 100 metric 7: No such process (ESRCH)', errno: 'ESRCH' },
      { error: 'adding route 10.55.0.0/24 dev eth9: no interface eth9', errno: 'ENODEV' },
      { error: 'adding route 10.55.0.0/24 via 10.200.0.1: Network is unreachable (ENETUNREACH)', errno: 'ENETUNREACH' },
      { error: 'adding route 10.55.0.0/24: encap is not supported by alived', errno: 'EOPNOTSUPP' },
    ]);
  });

  test('rules: selectors, actions, preference, protocol; EEXIST for the same rule twice; then gone', async () => {
    const rules: RuleSpec[] = [
      { family: 4, action: 'table', table: 100, from: { address: '10.60.0.0', prefix: 24 }, preference: 1000, protocol: 18 },
      { family: 4, action: 'table', table: 3_000_000, to: { address: '10.61.0.0', prefix: 16 }, preference: 1001, tos: 16 },
      { family: 4, action: 'blackhole', from: { address: '10.62.0.1' }, preference: 1002, not: true },
      { family: 4, action: 'goto', gotoTarget: 1010, fwmark: 7, fwmask: 0xff, preference: 1003, iif: 'eth0' },
      {
        family: 4,
        action: 'table',
        table: 'main',
        preference: 1004,
        oif: 'eth0',
        uidrange: { start: 100, end: 200 },
        ipproto: 'tcp',
        sport: { start: 1000, end: 2000 },
        dport: { start: 80, end: 80 },
      },
      { family: 4, action: 'prohibit', preference: 1005, suppressPrefixlength: undefined, realms: undefined },
      { family: 4, action: 'nop', preference: 1010 },
      { family: 6, action: 'table', table: 100, from: { address: 'fd00:60::', prefix: 64 }, preference: 1000, protocol: 18 },
    ];
    const added = await calls(...rules.map((spec) => ({ method: 'addRule', spec })));
    assert.deepEqual(
      added,
      rules.map(() => ({ ok: true })),
    );
    const shown = (await lab.run(h, ['ip', 'rule', 'show'])).split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    const line = (pref: number): string => shown.find((l) => l.startsWith(`${pref}:`)) ?? `(no rule ${pref} in: ${shown.join(' | ')})`;
    assert.equal(line(1000), '1000: from 10.60.0.0/24 lookup 100 proto keepalived');
    assert.equal(line(1001), '1001: from all to 10.61.0.0/16 tos 0x10 lookup 3000000');
    assert.equal(line(1002), '1002: not from 10.62.0.1 blackhole');
    assert.equal(line(1003), '1003: from all fwmark 0x7/0xff iif eth0 goto 1010');
    assert.equal(line(1004), '1004: from all oif eth0 uidrange 100-200 ipproto tcp sport 1000-2000 dport 80 lookup main');
    assert.equal(line(1005), '1005: from all prohibit');
    assert.equal(line(1010), '1010: from all nop');
    assert.match(await lab.run(h, ['ip', '-6', 'rule', 'show', 'pref', '1000']), /^1000:\s+from fd00:60::\/64 lookup 100 proto keepalived/);

    assert.deepEqual(await calls({ method: 'addRule', spec: rules[0] }), [
      { error: 'adding rule from 10.60.0.0/24 lookup 100 pref 1000: File already exists (EEXIST)', errno: 'EEXIST' },
    ]);
    const removed = await calls(...rules.map((spec) => ({ method: 'delRule', spec })));
    assert.deepEqual(
      removed,
      rules.map(() => ({ ok: true })),
    );
    assert.ok(!/^10(0\d|10):/m.test(await lab.run(h, ['ip', 'rule', 'show'])), 'every rule is gone');
    assert.deepEqual(await calls({ method: 'delRule', spec: rules[0] }), [
      { error: 'deleting rule from 10.60.0.0/24 lookup 100 pref 1000: No such file or directory (ENOENT)', errno: 'ENOENT' },
    ]);
  });

  test('watchLinks: a link going down and up, a link added and deleted', async () => {
    const child = lab.spawn(h, [process.execPath, DRIVER, JSON.stringify({ op: 'watch', ms: 20_000 })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = once(child, 'exit');
    const events = (): { event?: string; name?: string; up?: boolean; ready?: string[] }[] =>
      out
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { event?: string; name?: string; up?: boolean });
    try {
      const ready = await waitFor('the watch to start', () => events().find((e) => e.ready), 10_000);
      assert.deepEqual([...ready.ready!].sort(), ['eth0', 'lo'], 'the links present at start are known, not reported');
      await lab.run(h, ['ip', 'link', 'set', 'eth0', 'down']);
      await waitFor('eth0 down', () => events().find((e) => e.event === 'down' && e.name === 'eth0'), 5000);
      await lab.run(h, ['ip', 'link', 'set', 'eth0', 'up']);
      await waitFor('eth0 up', () => events().find((e) => e.event === 'up' && e.name === 'eth0'), 5000);
      await lab.run(h, ['ip', 'link', 'add', 'v1', 'type', 'veth', 'peer', 'name', 'v2']);
      await waitFor('v1 added', () => events().find((e) => e.event === 'added' && e.name === 'v1'), 5000);
      await lab.run(h, ['ip', 'link', 'set', 'v1', 'up']);
      await lab.run(h, ['ip', 'link', 'set', 'v2', 'up']);
      await waitFor('v1 up', () => events().find((e) => e.event === 'up' && e.name === 'v1'), 5000);
      await lab.run(h, ['ip', 'link', 'del', 'v1']);
      await waitFor(
        'v1 and v2 deleted',
        () =>
          events().some((e) => e.event === 'deleted' && e.name === 'v1') && events().some((e) => e.event === 'deleted' && e.name === 'v2') ? true : undefined,
        5000,
      );
      const seq = events()
        .filter((e) => e.event && e.name === 'eth0')
        .map((e) => e.event);
      assert.equal(seq.indexOf('down') < seq.indexOf('up'), true, seq.join());
    } finally {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    assert.deepEqual(
      events().find((e) => 'done' in e),
      { done: events().filter((e) => e.event).length },
      'the watch closes cleanly on SIGTERM',
    );
  });
});
