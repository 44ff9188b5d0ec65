import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AddressEntry, RouteEntry } from '../../core/config/keywords/vrrp';
import { Lab, removeStaleLabs, type LabHost } from '../../core/lab/netns';
import { addressSpec } from '../../core/vrrp/vips';
import { compileText, noErrors } from '../helpers/config';

const DRIVER = path.join(__dirname, '..', 'fixtures', 'vrrp-drivers', 'driver.js');

/** One instance's VIPs, excluded VIPs and routes, read from keepalived.conf text by the config compiler. */
async function instanceEntries(body: string): Promise<{ vips: AddressEntry[]; excluded: AddressEntry[]; routes: RouteEntry[] }> {
  const r = await compileText(`vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n${body}}\n`);
  noErrors(r);
  const vi = r.model!.vrrpInstance[0]!;
  return { vips: vi.virtualIpaddress ?? [], excluded: (vi.virtualIpaddressExcluded ?? []) as AddressEntry[], routes: (vi.virtualRoutes ?? []) as RouteEntry[] };
}

const CONFIG = `  virtual_ipaddress {
    10.99.0.99/24 brd + label eth0:vip
    10.99.5.99/24 scope link
    10.99.0.98
    10.99.7.1/24 dev eth1
    10.99.1.1 peer 10.99.1.2/32
  }
  virtual_ipaddress_excluded {
    10.99.6.1/24 brd 10.99.6.200
    fd00:99::99/64
    fd00:99::98
    fd00:99::97/64 -nodad preferred_lft 100
  }
  virtual_routes {
    10.60.0.0/16 via 10.99.0.1 dev eth0 table 100
    blackhole 10.61.0.0/24
    fd00:60::/64 via fd00:99::1 metric 10
    10.62.0.0/24 dev eth1 src 10.99.7.1
  }
`;

describe("keepalived's address options in the kernel's terms", () => {
  test('IPv6 VIPs get nodad unless -nodad; a /128 is deprecated at once unless preferred_lft is given', async () => {
    const { excluded } = await instanceEntries(CONFIG);
    const [v4, v6net, v6host, v6dad] = excluded.map(addressSpec);
    assert.deepEqual(v4, { address: '10.99.6.1', prefix: 24, broadcast: '10.99.6.200' });
    assert.deepEqual(v6net, { address: 'fd00:99::99', prefix: 64, nodad: true });
    assert.deepEqual(v6host, { address: 'fd00:99::98', prefix: 128, nodad: true, preferredLft: 0 });
    assert.deepEqual(v6dad, { address: 'fd00:99::97', prefix: 64, preferredLft: 100 });
  });

  test('a peer address carries the prefix', async () => {
    const { vips } = await instanceEntries(CONFIG);
    assert.deepEqual(addressSpec(vips[4]!), { address: '10.99.1.1', prefix: undefined, peer: { address: '10.99.1.2', prefix: 32 } });
  });
});

// ---------------------------------------------------------------------------
// in a lab host

let lab: Lab;
let h: LabHost;

// node 20 runs an after() registered inside a before() hook as soon as that hook ends,
// so the cleanup is registered here
after(() => lab?.destroy());
process.once('exit', () => void lab?.destroy());
before(async () => {
  removeStaleLabs();
  lab = await Lab.create({ name: 'vips', hosts: [{ name: 'a', ip: '10.99.0.11', ip6: 'fd00:99::11' }] });
  h = lab.host('a');
  // a second interface for the entries with `dev eth1`
  await lab.run(h, ['ip', 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p']);
  await lab.run(h, ['ip', 'link', 'set', 'eth1', 'up']);
  await lab.run(h, ['ip', 'link', 'set', 'eth1p', 'up']);
});

interface IpAddr {
  local: string;
  address?: string;
  prefixlen: number;
  broadcast?: string;
  scope: string;
  label?: string;
  nodad?: true;
  deprecated?: true;
  preferred_life_time: number;
}
interface Shown {
  step: 'show';
  addresses: { ifname: string; addr_info: IpAddr[] }[];
  routes: { dst: string; type?: string; table?: string; gateway?: string; dev?: string; protocol?: string; prefsrc?: string; metric?: number }[];
}
type Step =
  | Shown
  | { step: 'prepare' }
  | { step: 'upNow'; atReturn: string[]; failures: { message: string; errno: string }[]; held: string[] }
  | { step: 'up' | 'down'; failures: { message: string; errno: string }[]; held: string[] }
  | { step: 'cleanStale'; removed: string[] }
  | { step: 'upDownUp'; failures: string[][]; held: string[] }
  | { step: 'run'; status: number };

async function vips(
  entries: { vips: AddressEntry[]; excluded: AddressEntry[]; routes: RouteEntry[] },
  steps: unknown[],
  opts: { knownLinks?: boolean } = {},
): Promise<{ steps: Step[]; failures: string[] }> {
  const r = await lab.exec(h, [process.execPath, DRIVER, JSON.stringify({ op: 'vips', ifname: 'eth0', ...entries, steps, ...opts })], 20_000);
  assert.equal(r.code, 0, `driver: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { steps: Step[]; failures: string[] };
}

/** every VIP-like address (10.99.x outside the lab's own, fd00:99:: outside ::11) with its interface */
function vipsOn(s: Shown): Map<string, IpAddr & { dev: string }> {
  const out = new Map<string, IpAddr & { dev: string }>();
  for (const l of s.addresses)
    for (const a of l.addr_info)
      if (/^(10\.99\.|fd00:99::)/.test(a.local) && a.local !== '10.99.0.11' && a.local !== 'fd00:99::11') out.set(a.local, { ...a, dev: l.ifname });
  return out;
}

function ourRoutes(s: Shown): string[] {
  return s.routes
    .filter((r) => /^(10\.6\d\.|fd00:60:)/.test(r.dst))
    .map(
      (r) =>
        `${r.type && r.type !== 'unicast' ? `${r.type} ` : ''}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.table && r.table !== 'main' ? ` table ${r.table}` : ''}${r.prefsrc ? ` src ${r.prefsrc}` : ''} proto ${r.protocol}`,
    )
    .sort();
}

const ROUTES = [
  '10.60.0.0/16 via 10.99.0.1 dev eth0 table 100 proto keepalived',
  '10.62.0.0/24 dev eth1 src 10.99.7.1 proto keepalived',
  'blackhole 10.61.0.0/24 proto keepalived',
  'fd00:60::/64 via fd00:99::1 dev eth0 proto keepalived',
];

describe('VipManager in a lab host', () => {
  test('up adds every address with its attributes, then the routes; up again changes nothing; down removes them all; down again is fine', async () => {
    const entries = await instanceEntries(CONFIG);
    const { steps, failures } = await vips(entries, ['up', 'show', 'up', 'show', 'down', 'show', 'down']);
    assert.deepEqual(failures, []);
    const [up1, shown1, up2, shown2, down1, shown3, down2] = steps as [Step, Shown, Step, Shown, Step, Shown, Step];
    const first = up1 as { failures: unknown[]; held: string[] };
    assert.deepEqual(first.failures, []);
    assert.equal(first.held.length, 13, 'nine addresses and four routes');

    const on = vipsOn(shown1);
    const get = (a: string): IpAddr & { dev: string } => on.get(a) ?? assert.fail(`${a} is not set: ${[...on.keys()].join(' ')}`);
    assert.deepEqual(
      [get('10.99.0.99').prefixlen, get('10.99.0.99').broadcast, get('10.99.0.99').label, get('10.99.0.99').dev],
      [24, '10.99.0.255', 'eth0:vip', 'eth0'],
    );
    assert.deepEqual([get('10.99.5.99').scope, get('10.99.5.99').prefixlen], ['link', 24]);
    assert.deepEqual([get('10.99.0.98').prefixlen, get('10.99.0.98').broadcast], [32, undefined]);
    assert.equal(get('10.99.7.1').dev, 'eth1', 'an entry with dev goes on that interface');
    assert.deepEqual([get('10.99.1.1').address, get('10.99.1.1').prefixlen], ['10.99.1.2', 32]);
    assert.deepEqual([get('10.99.6.1').broadcast, get('10.99.6.1').prefixlen], ['10.99.6.200', 24], 'virtual_ipaddress_excluded too');
    assert.deepEqual([get('fd00:99::99').nodad, get('fd00:99::99').preferred_life_time], [true, 4294967295]);
    assert.deepEqual([get('fd00:99::98').nodad, get('fd00:99::98').prefixlen, get('fd00:99::98').preferred_life_time], [true, 128, 0]);
    assert.deepEqual([get('fd00:99::97').nodad, get('fd00:99::97').preferred_life_time], [undefined, 100], '-nodad keeps DAD on');
    assert.equal(on.size, 9);
    assert.deepEqual(ourRoutes(shown1), ROUTES);

    assert.deepEqual((up2 as { failures: unknown[] }).failures, [], 'up is idempotent');
    assert.deepEqual([...vipsOn(shown2).keys()].sort(), [...on.keys()].sort());
    assert.deepEqual(ourRoutes(shown2), ROUTES);

    assert.deepEqual(down1, { step: 'down', failures: [], held: [] });
    assert.deepEqual([...vipsOn(shown3).keys()], []);
    assert.deepEqual(ourRoutes(shown3), []);
    assert.deepEqual(down2, { step: 'down', failures: [], held: [] });
  });

  test('up, down and up started together run one after the other and end up', async () => {
    const entries = await instanceEntries(CONFIG);
    const { steps } = await vips(entries, ['upDownUp', 'show', 'down', 'show']);
    const [together, shown, , gone] = steps as [{ failures: string[][]; held: string[] }, Shown, Step, Shown];
    assert.deepEqual(together.failures, [[], [], []]);
    assert.equal(together.held.length, 13);
    assert.equal(vipsOn(shown).size, 9);
    assert.deepEqual(ourRoutes(shown), ROUTES);
    assert.equal(vipsOn(gone).size, 0);
  });

  test('cleanStale removes what a crashed run left (and only that), and says what it removed', async () => {
    const entries = await instanceEntries(CONFIG);
    // a run that put everything up and died without down: the driver exits holding them
    await vips(entries, ['up']);
    // an address of the host's own in the same subnet must stay
    await lab.run(h, ['ip', 'addr', 'add', '10.99.0.50/24', 'dev', 'eth0']);
    const { steps, failures } = await vips(entries, ['cleanStale', 'show', 'cleanStale']);
    assert.deepEqual(failures, []);
    const [clean1, shown, clean2] = steps as [{ removed: string[] }, Shown, { removed: string[] }];
    assert.deepEqual([...clean1.removed].sort(), [
      '10.99.0.98/32 on eth0',
      '10.99.0.99/24 on eth0',
      '10.99.1.1/32 on eth0',
      '10.99.5.99/24 on eth0',
      '10.99.6.1/24 on eth0',
      '10.99.7.1/24 on eth1',
      'fd00:99::97/64 on eth0',
      'fd00:99::98/128 on eth0',
      'fd00:99::99/64 on eth0',
      'route 10.60.0.0/16 via 10.99.0.1 dev eth0 table 100',
      'route 10.62.0.0/24 dev eth1',
      'route blackhole 10.61.0.0/24',
      'route fd00:60::/64 via fd00:99::1 metric 10',
    ]);
    assert.deepEqual([...vipsOn(shown).keys()], ['10.99.0.50']);
    assert.deepEqual(ourRoutes(shown), []);
    assert.deepEqual(clean2.removed, [], 'nothing left the second time');
    await lab.run(h, ['ip', 'addr', 'del', '10.99.0.50/24', 'dev', 'eth0']);
  });

  test('removed by someone else: told from its own removals, put back (addresses and routes); what the kernel lacks after lost notifications is found, with the routes it flushed with an address', async () => {
    const entries = await instanceEntries(`  virtual_ipaddress {
    10.99.0.99/24
    10.99.0.98/24
  }
  virtual_routes {
    10.64.0.0/24 dev eth0
    10.65.0.0/24 via 10.99.0.254
    10.66.0.0/24 dev eth0 src 10.99.0.98
  }
`);
    const { steps, failures } = await vips(entries, [
      'watch',
      'up',
      'seen',
      'down',
      'seen',
      'up',
      { run: ['addr', 'del', '10.99.0.99/24', 'dev', 'eth0'] },
      { run: ['route', 'del', '10.64.0.0/24'] },
      'seen',
      'restoreSeen',
      'show',
      { run: ['addr', 'del', '10.99.0.98/24', 'dev', 'eth0'] },
      'restoreMissing',
      'show',
      'down',
    ]);
    assert.deepEqual(failures, []);
    const [, , afterUp, , afterDown, , , , afterDel, put, shown, , missing, shown2] = steps as unknown as [
      Step,
      Step,
      { addresses: string[]; routes: string[] },
      Step,
      { addresses: string[]; routes: string[] },
      Step,
      Step,
      Step,
      { addresses: string[]; routes: string[] },
      { restored: string[]; lost: string[]; held: string[] },
      Shown,
      Step,
      { restored: string[]; lost: string[] },
      Shown,
    ];
    assert.deepEqual([afterUp.addresses, afterUp.routes], [[], []], "adding is nobody's removal");
    assert.deepEqual([afterDown.addresses, afterDown.routes], [[], []], "its own removals are not taken for someone else's");
    assert.deepEqual(afterDel.addresses, ['10.99.0.99/24 on eth0']);
    assert.deepEqual(afterDel.routes, ['10.64.0.0/24 dev eth0']);
    assert.deepEqual(put.lost, []);
    assert.deepEqual([...put.restored].sort(), ['10.99.0.99/24 on eth0', 'route 10.64.0.0/24 dev eth0']);
    assert.deepEqual([...vipsOn(shown).keys()].sort(), ['10.99.0.98', '10.99.0.99']);
    const all = [
      '10.64.0.0/24 dev eth0 proto keepalived',
      '10.65.0.0/24 via 10.99.0.254 dev eth0 proto keepalived',
      '10.66.0.0/24 dev eth0 src 10.99.0.98 proto keepalived',
    ];
    assert.deepEqual(ourRoutes(shown), all, 'the route is back');
    // the kernel flushed the route whose source was 10.99.0.98 with it: it comes back too
    assert.deepEqual([missing.restored, missing.lost], [['10.99.0.98/24 on eth0', 'route 10.66.0.0/24 dev eth0'], []]);
    assert.deepEqual([...vipsOn(shown2).keys()].sort(), ['10.99.0.98', '10.99.0.99']);
    assert.deepEqual(ourRoutes(shown2), all);
  });

  test('a failure is reported with what and why and does not stop the rest; what vanished meanwhile is not a failure', async () => {
    const entries = await instanceEntries(`  virtual_ipaddress {
    10.99.0.99/24
    10.99.8.1/24 dev eth9
    10.99.0.97/24 scope link
    10.99.0.96/24
  }
  virtual_routes {
    10.63.0.0/24 via 10.200.0.1
    10.64.0.0/24 dev eth0
  }
`);
    const { steps, failures } = await vips(entries, [
      'up',
      'show',
      { run: ['addr', 'del', '10.99.0.96/24', 'dev', 'eth0'] },
      { run: ['route', 'del', '10.64.0.0/24'] },
      'down',
      'show',
    ]);
    const [up, shown, , , down, gone] = steps as [
      { failures: { message: string; errno: string }[]; held: string[] },
      Shown,
      Step,
      Step,
      { failures: unknown[]; held: string[] },
      Shown,
    ];
    assert.deepEqual(up.failures, [
      { message: 'adding 10.99.8.1/24 to eth9: no interface eth9', errno: 'ENODEV' },
      {
        message:
          'adding 10.99.0.97/24 to eth0: Invalid argument (EINVAL): 10.99.0.11/24 on that interface has scope global, and the kernel wants the addresses of one subnet to share its scope (asked: link)',
        errno: 'EINVAL',
      },
      { message: 'adding route 10.63.0.0/24 via 10.200.0.1: Network is unreachable (ENETUNREACH)', errno: 'ENETUNREACH' },
    ]);
    assert.deepEqual(
      failures,
      up.failures.map((f) => f.message),
      'the same failures reach onFailure as they happen',
    );
    assert.deepEqual([...vipsOn(shown).keys()].sort(), ['10.99.0.96', '10.99.0.99'], 'the others were added');
    assert.deepEqual(ourRoutes(shown), ['10.64.0.0/24 dev eth0 proto keepalived']);
    assert.deepEqual(down, { step: 'down', failures: [], held: [] }, 'an address or route removed by someone else is simply gone');
    assert.equal(vipsOn(gone).size, 0);
  });

  test("a takeover: with the link watch's interfaces and nothing pending, the first VIP is in the kernel when up() returns, sent as prepared; a prepared request that fails says why", async () => {
    const entries = await instanceEntries(`  virtual_ipaddress {
    10.99.0.99/24 label eth0:vip
    10.99.0.97/24 scope link
  }
  virtual_ipaddress_excluded {
    fd00:99::99/64
  }
`);
    const { steps, failures } = await vips(entries, ['prepare', 'upNow', 'show', 'down', 'show'], { knownLinks: true });
    const [, upNow, shown, down, gone] = steps as [
      Step,
      { atReturn: string[]; inPlaceNow: boolean; failures: { message: string; errno: string }[]; held: string[] },
      Shown,
      { failures: unknown[] },
      Shown,
    ];
    assert.ok(upNow.atReturn.includes('10.99.0.99'), `the first VIP was not in the kernel when up() returned: ${upNow.atReturn.join(' ')}`);
    // three addresses: only the first went out at once, so they are not all in place yet
    assert.equal(upNow.inPlaceNow, false);
    assert.deepEqual(upNow.failures, [
      {
        message:
          'adding 10.99.0.97/24 to eth0: Invalid argument (EINVAL): 10.99.0.11/24 on that interface has scope global, and the kernel wants the addresses of one subnet to share its scope (asked: link)',
        errno: 'EINVAL',
      },
    ]);
    assert.deepEqual(
      failures,
      upNow.failures.map((f) => f.message),
    );
    const on = vipsOn(shown);
    assert.deepEqual([...on.keys()].sort(), ['10.99.0.99', 'fd00:99::99']);
    assert.deepEqual([on.get('10.99.0.99')!.label, on.get('10.99.0.99')!.broadcast], ['eth0:vip', undefined], 'the prepared request carries the options');
    assert.deepEqual(down.failures, []);
    assert.equal(vipsOn(gone).size, 0);
  });

  test('a takeover with one VIP (no routes, nothing pending): up() says it is in place when it returns, and it is; with a route to follow it does not', async () => {
    const one = await instanceEntries(`  virtual_ipaddress {
    10.99.0.99/24
  }
`);
    const r1 = await vips(one, ['prepare', 'upNow', 'down'], { knownLinks: true });
    const up1 = r1.steps[1] as unknown as { atReturn: string[]; inPlaceNow: boolean; failures: unknown[] };
    assert.equal(up1.inPlaceNow, true);
    assert.ok(up1.atReturn.includes('10.99.0.99'), `not in the kernel when up() returned: ${up1.atReturn.join(' ')}`);
    assert.deepEqual(up1.failures, []);
    // without the link watch, up() must first ask the kernel for the interfaces: nothing goes out at once
    const r2 = await vips(one, ['upNow', 'down']);
    assert.equal((r2.steps[0] as unknown as { inPlaceNow: boolean }).inPlaceNow, false);
    const routed = await instanceEntries(`  virtual_ipaddress {
    10.99.0.99/24
  }
  virtual_routes {
    10.98.0.0/24 via 10.99.0.1
  }
`);
    const r3 = await vips(routed, ['prepare', 'upNow', 'down'], { knownLinks: true });
    assert.equal((r3.steps[1] as unknown as { inPlaceNow: boolean }).inPlaceNow, false);
  });
});
