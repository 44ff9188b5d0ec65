import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * static_ipaddress, static_routes, static_rules and track_group with real
 * daemons in a lab: n1 has a second interface st0 (one end of a veth pair
 * inside n1), its default_interface. What the kernel holds is read with
 * `ip -n`, and the lab's watcher time-stamps every address change.
 */

const VIP = '10.95.0.91';
let lab: Lab;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'static',
    hosts: [
      { name: 'n1', ip: '10.95.0.11' },
      { name: 'n2', ip: '10.95.0.12' },
    ],
  });
  await lab.run('n1', ['ip', 'link', 'add', 'st0', 'type', 'veth', 'peer', 'name', 'st1']);
  await lab.run('n1', ['ip', 'link', 'set', 'st1', 'up']);
  await lab.run('n1', ['ip', 'link', 'set', 'st0', 'up']);
});
after(() => (lab ? lab.destroy() : undefined));

function ip(args: string[]): string {
  const r = spawnSync('ip', ['-n', lab.host('n1').ns, ...args], { encoding: 'utf8', timeout: 5000 });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** n1's addresses as `10.95.1.1/24 eth0` */
function addresses(): string[] {
  const info = JSON.parse(ip(['-j', 'addr', 'show'])) as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number; label?: string }> }>;
  return info.flatMap((i) => (i.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen} ${i.ifname}`));
}

/** n1's IPv4 routes of the main table as `10.95.10.0/24 via 10.95.1.254 dev eth0 proto 18` (ip -N: numeric protocol) */
function routes(): string[] {
  return ip(['-N', 'route', 'show'])
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
}

/** n1's IPv4 rules as `100: from 10.95.1.0/24 lookup 100 proto 18` */
function rules(): string[] {
  return ip(['-N', 'rule', 'show'])
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
}

const has = (list: string[], re: RegExp): boolean => list.some((l) => re.test(l));

async function reset(): Promise<VrrpLab> {
  lab.killHostProcesses();
  await lab.run('n1', ['ip', 'link', 'set', 'st0', 'up']);
  const v = new VrrpLab(lab, tmpDir('alived-static-'));
  await v.watch();
  return v;
}

function instance(priority: number, extra = ''): string {
  return `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 81
  priority ${priority}
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
${extra}}
`;
}

const STATICS = {
  global: 'global_defs {\n  default_interface st0\n}\n',
  addresses: [
    '10.95.1.1/24 dev eth0',
    '10.95.2.1/24',
    '10.95.3.1/24 no_track',
    '10.95.7.1/24 dev st0',
    '10.95.8.1/24 dev st0 no_track',
    'fd00:95::1/64 dev st0',
  ],
  routes: ['10.95.10.0/24 via 10.95.1.254 dev eth0', '10.95.11.0/24 dev st0'],
  rules: ['from 10.95.1.0/24 table 100 preference 100', 'to 10.95.20.0/24 table 101 preference 101'],
};

function config(s: typeof STATICS, inst = instance(150)): string {
  const block = (kw: string, lines: string[]): string => (lines.length ? `${kw} {\n${lines.map((l) => `  ${l}\n`).join('')}}\n` : '');
  return s.global + block('static_ipaddress', s.addresses) + block('static_routes', s.routes) + block('static_rules', s.rules) + inst;
}

async function stop(v: VrrpLab, d: LabDaemon): Promise<void> {
  if (d.proc.exitCode === null && d.proc.signalCode === null) {
    v.signal(d, 'SIGTERM');
    await d.exited;
  }
}

test('static addresses, routes and rules: set at start, kept through a VRRP transition, a reload applies only the differences, put back when deleted, removed at stop', async () => {
  const v = await reset();
  const d1 = v.startAlived('n1', config(STATICS));
  await v.waitLine(d1, /10 static entries set/, 10_000);
  let a = addresses();
  assert.ok(a.includes('10.95.1.1/24 eth0'), `addresses: ${a.join(', ')}`);
  assert.ok(a.includes('10.95.2.1/24 st0'), `without dev, on default_interface st0: ${a.join(', ')}`);
  assert.ok(a.includes('10.95.3.1/24 st0'), a.join(', '));
  assert.ok(a.includes('fd00:95::1/64 st0'), `IPv6: ${a.join(', ')}`);
  const v6 = JSON.parse(ip(['-j', '-6', 'addr', 'show', 'dev', 'st0'])) as Array<{ addr_info: Array<{ local: string; nodad?: boolean }> }>;
  assert.equal(v6[0]!.addr_info.find((x) => x.local === 'fd00:95::1')?.nodad, true, 'IPv6 without DAD, as keepalived adds it');
  const r = routes();
  assert.ok(has(r, /^10\.95\.10\.0\/24 via 10\.95\.1\.254 dev eth0 proto 18\b/), `routes, keepalived's protocol: ${r.join(' | ')}`);
  assert.ok(has(r, /^10\.95\.11\.0\/24 dev st0 proto 18\b/), r.join(' | '));
  let ru = rules();
  assert.ok(has(ru, /^100: from 10\.95\.1\.0\/24 lookup 100 proto 18$/), `rules: ${ru.join(' | ')}`);
  assert.ok(has(ru, /^101: from all to 10\.95\.20\.0\/24 lookup 101 proto 18$/), ru.join(' | '));

  // a transition: BACKUP -> MASTER alone, then MASTER -> BACKUP when a higher priority comes
  await v.waitHolder(VIP, 'n1', 10_000);
  const d2 = v.startAlived('n2', instance(200));
  await v.waitHolder(VIP, 'n2', 10_000);
  await v.waitLine(d1, /\(VI_1\) Entering BACKUP STATE/, 3000);
  a = addresses();
  for (const x of ['10.95.1.1/24 eth0', '10.95.2.1/24 st0', '10.95.3.1/24 st0']) assert.ok(a.includes(x), `${x} stays through the transition: ${a.join(', ')}`);
  const statics = ['10.95.1.1', '10.95.2.1', '10.95.3.1', '10.95.4.1'];
  assert.equal(
    v.events.filter((e) => e.host === 'n1' && e.kind === 'addr' && e.op === 'del' && statics.includes(e.address)).length,
    0,
    'no static address was removed',
  );

  // a reload: 10.95.3.1 and the rule to 10.95.20.0/24 go, 10.95.4.1 and a rule to 10.95.21.0/24 come, the rest stays untouched
  const t0 = process.hrtime.bigint();
  fs.writeFileSync(
    d1.config,
    config({
      ...STATICS,
      addresses: [
        '10.95.1.1/24 dev eth0',
        '10.95.2.1/24',
        '10.95.4.1/24 dev st0',
        '10.95.7.1/24 dev st0 label st0:7',
        '10.95.8.1/24 dev st0 no_track',
        'fd00:95::1/64 dev st0',
      ],
      routes: ['10.95.10.0/24 via 10.95.1.254 dev eth0', '10.95.11.0/24 dev st0 src 10.95.2.1'],
      rules: ['from 10.95.1.0/24 table 100 preference 100', 'to 10.95.21.0/24 table 102 preference 102'],
    }),
  );
  v.signal(d1, 'SIGHUP');
  await v.waitLine(d1, /Reload complete/, 10_000);
  a = await waitFor(
    '10.95.4.1 after the reload',
    () => {
      const now = addresses();
      return now.includes('10.95.4.1/24 st0') ? now : undefined;
    },
    5000,
  );
  assert.ok(!a.includes('10.95.3.1/24 st0'), `removed by the reload: ${a.join(', ')}`);
  assert.ok(a.includes('10.95.1.1/24 eth0') && a.includes('10.95.2.1/24 st0'), a.join(', '));
  const touched = v.events.filter((e) => e.t >= t0 && e.host === 'n1' && e.kind === 'addr' && (e.address === '10.95.1.1' || e.address === '10.95.2.1'));
  assert.deepEqual(touched, [], 'the unchanged static addresses were not touched');
  // changed attributes under the same address or route: set again with them
  const labels = JSON.parse(ip(['-j', 'addr', 'show', 'dev', 'st0'])) as Array<{ addr_info: Array<{ local: string; label?: string }> }>;
  assert.equal(labels[0]!.addr_info.find((x) => x.local === '10.95.7.1')?.label, 'st0:7', 'the new label');
  assert.ok(has(routes(), /^10\.95\.11\.0\/24 dev st0 proto 18 .*src 10\.95\.2\.1/), `the new source: ${routes().join(' | ')}`);
  ru = rules();
  assert.ok(has(ru, /^100: from 10\.95\.1\.0\/24 lookup 100 proto 18$/), ru.join(' | '));
  assert.ok(!has(ru, /^101:/), `the removed rule is gone: ${ru.join(' | ')}`);
  assert.ok(has(ru, /^102: from all to 10\.95\.21\.0\/24 lookup 102 proto 18$/), ru.join(' | '));

  // someone else deletes a tracked address, route and rule: they are put back; the no_track one is not
  ip(['addr', 'del', '10.95.8.1/24', 'dev', 'st0']);
  ip(['addr', 'del', '10.95.1.1/24', 'dev', 'eth0']);
  await waitFor('10.95.1.1 put back', () => (addresses().includes('10.95.1.1/24 eth0') ? true : undefined), 5000);
  await v.waitLine(d1, /Restoring static address 10\.95\.1\.1\/24 on eth0/, 3000);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!addresses().includes('10.95.8.1/24 st0'), 'a no_track address deleted stays deleted');
  ip(['route', 'del', '10.95.11.0/24', 'dev', 'st0']);
  await waitFor('the route put back', () => (has(routes(), /^10\.95\.11\.0\/24 dev st0 proto 18\b/) ? true : undefined), 5000);
  ip(['rule', 'del', 'preference', '100']);
  await waitFor('the rule put back', () => (has(rules(), /^100: from 10\.95\.1\.0\/24 lookup 100 proto 18$/) ? true : undefined), 5000);
  await v.waitLine(d1, /Restoring deleted static rule from 10\.95\.1\.0\/24 lookup 100 pref 100/, 3000);

  // the interface goes down (the kernel drops its routes) and up: its routes are set again
  await lab.run('n1', ['ip', 'link', 'set', 'st0', 'down']);
  await waitFor('the route via st0 dropped', () => (has(routes(), /^10\.95\.11\.0\/24 dev st0/) ? undefined : true), 5000);
  await lab.run('n1', ['ip', 'link', 'set', 'st0', 'up']);
  await waitFor('the route via st0 set again', () => (has(routes(), /^10\.95\.11\.0\/24 dev st0 proto 18\b/) ? true : undefined), 5000);

  // stop: every static entry goes
  await stop(v, d1);
  a = addresses();
  for (const x of ['10.95.1.1/24 eth0', '10.95.2.1/24 st0', '10.95.4.1/24 st0', '10.95.7.1/24 st0', 'fd00:95::1/64 st0'])
    assert.ok(!a.includes(x), `${x} removed at stop: ${a.join(', ')}`);
  assert.ok(!has(routes(), /^10\.95\.1[01]\.0\/24/), `routes removed at stop: ${routes().join(' | ')}`);
  assert.ok(!has(rules(), /^10[012]:/), `rules removed at stop: ${rules().join(' | ')}`);
  await stop(v, d2);
});

test('static entries without any vrrp_instance run in the VRRP process; leftovers of a killed run are replaced at the next start', async () => {
  const v = await reset();
  const d1 = v.startAlived('n1', config(STATICS, ''));
  await v.waitLine(d1, /10 static entries set/, 10_000);
  assert.ok(addresses().includes('10.95.2.1/24 st0'));
  // killed (every process of the daemon stopped, then killed): nothing removes them
  v.crash('n1', []);
  await d1.exited;
  assert.ok(addresses().includes('10.95.2.1/24 st0'), 'a killed run leaves its static entries');
  const d2 = v.startAlived('n1', config(STATICS, ''));
  await v.waitLine(d2, /removed static entries left by an earlier run/, 10_000);
  await v.waitLine(d2, /10 static entries set/, 10_000);
  assert.ok(addresses().includes('10.95.2.1/24 st0'));
  assert.ok(has(rules(), /^100: from 10\.95\.1\.0\/24 lookup 100 proto 18$/));
  assert.equal(rules().filter((l) => /^100:/.test(l)).length, 1, `one rule, not two: ${rules().join(' | ')}`);
  await stop(v, d2);
  assert.ok(!addresses().includes('10.95.2.1/24 st0'));
});

test("track_group: the interface of a static address going down puts the group's instances in FAULT; back up, they recover", async () => {
  const v = await reset();
  const conf =
    'track_group TG {\n  group {\n    VI_1\n  }\n}\n' + config({ ...STATICS, addresses: ['10.95.2.1/24 dev st0 track_group TG'], routes: [], rules: [] });
  const d1 = v.startAlived('n1', conf);
  await v.waitHolder(VIP, 'n1', 10_000);
  await lab.run('n1', ['ip', 'link', 'set', 'st0', 'down']);
  await v.waitLine(d1, /\(VI_1\) Entering FAULT STATE/, 3000);
  await v.waitHolder(VIP, undefined, 3000);
  await lab.run('n1', ['ip', 'link', 'set', 'st0', 'up']);
  await v.waitHolder(VIP, 'n1', 5000);
  await stop(v, d1);
});
