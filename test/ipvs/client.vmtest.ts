import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, beforeEach, test } from 'node:test';
import { LVS_SCHEDULERS } from '../../core/config/keywords/lvs';
import { IpvsClient, SERVICE_FLAG, type DestinationSpec, type ServiceKey, type ServiceSpec } from '../../core/ipvs/client';

/**
 * The IPVS client against the VM's kernel (runs inside test/vm/ipvs.test.ts's
 * VM, in its root namespace: no traffic, only the table). ipvsadm, which
 * reads the table through its own library, is the independent witness.
 */

let ipvs: IpvsClient;

before(async () => {
  ipvs = await IpvsClient.open();
});
after(() => ipvs.close());
beforeEach(async () => {
  await ipvs.flush();
});

const ipvsadm = (...args: string[]): string => execFileSync('ipvsadm', args, { encoding: 'utf8' });

function svc(key: ServiceKey, scheduler = 'wlc', extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return { key, scheduler, flags: 0, timeout: 0, netmask: key.family === 6 ? 128 : '255.255.255.255', ...extra };
}

function dest(address: string, port: number, extra: Partial<DestinationSpec> = {}): DestinationSpec {
  return { family: address.includes(':') ? 6 : 4, address, port, method: 'NAT', weight: 1, upperThreshold: 0, lowerThreshold: 0, ...extra };
}

const kernelSchedulers = LVS_SCHEDULERS.filter(
  (s) =>
    fs.existsSync(`/lib/modules/${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}/kernel/net/netfilter/ipvs/ip_vs_${s}.ko`) ||
    fs.existsSync(`/sys/module/ip_vs_${s}`),
);

test('services by address and port for TCP, UDP and SCTP over IPv4 and IPv6, and by fwmark, come back from a dump as added', async () => {
  const keys: ServiceKey[] = [
    { family: 4, protocol: 'tcp', address: '10.1.0.1', port: 80 },
    { family: 4, protocol: 'udp', address: '10.1.0.1', port: 53 },
    { family: 4, protocol: 'sctp', address: '10.1.0.1', port: 3868 },
    { family: 6, protocol: 'tcp', address: '2001:db8::1', port: 443 },
    { family: 6, protocol: 'udp', address: '2001:db8::1', port: 53 },
    { family: 6, protocol: 'sctp', address: '2001:db8::1', port: 3868 },
    { family: 4, fwmark: 7 },
    { family: 6, fwmark: 8 },
  ];
  for (const k of keys) await ipvs.addService(svc(k, 'rr'));
  const got = await ipvs.services();
  assert.deepEqual(
    got.map((s) => s.key).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    keys.map((k) => ({ ...k })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  );
  const out = ipvsadm('-Ln');
  for (const re of [
    /TCP {2}10\.1\.0\.1:80 rr/,
    /UDP {2}10\.1\.0\.1:53 rr/,
    /SCTP 10\.1\.0\.1:3868 rr/,
    /TCP {2}\[2001:db8::1\]:443 rr/,
    /SCTP \[2001:db8::1\]:3868 rr/,
    /FWM {2}7 rr/,
    /FWM {2}8 IPv6 rr/,
  ]) {
    assert.match(out, re);
  }
});

test(`every scheduler the kernel has (${LVS_SCHEDULERS.join(', ')}), with sh/mh flags, one-packet scheduling and persistence`, async () => {
  assert.ok(kernelSchedulers.length >= 13, `the VM's kernel has the IPVS schedulers: ${kernelSchedulers.join(',')}`);
  let port = 1000;
  for (const s of kernelSchedulers) await ipvs.addService(svc({ family: 4, protocol: 'tcp', address: '10.2.0.1', port: port++ }, s));
  const flagged: Array<[ServiceSpec, RegExp]> = [
    [
      svc({ family: 4, protocol: 'tcp', address: '10.2.0.2', port: 80 }, 'sh', { flags: SERVICE_FLAG.SCHED1 | SERVICE_FLAG.SCHED2 }),
      /TCP {2}10\.2\.0\.2:80 sh \(sh-fallback,sh-port\)/,
    ],
    [svc({ family: 4, protocol: 'tcp', address: '10.2.0.2', port: 81 }, 'mh', { flags: SERVICE_FLAG.SCHED1 }), /TCP {2}10\.2\.0\.2:81 mh \(mh-fallback\)/],
    [svc({ family: 4, protocol: 'udp', address: '10.2.0.2', port: 53 }, 'rr', { flags: SERVICE_FLAG.ONEPACKET }), /UDP {2}10\.2\.0\.2:53 rr ops/],
    [
      svc({ family: 4, protocol: 'tcp', address: '10.2.0.2', port: 82 }, 'wlc', { timeout: 300, netmask: '255.255.255.0' }),
      /TCP {2}10\.2\.0\.2:82 wlc persistent 300 mask 255\.255\.255\.0/,
    ],
    [
      svc({ family: 6, protocol: 'tcp', address: '2001:db8::2', port: 82 }, 'wlc', { timeout: 60, netmask: 64 }),
      /TCP {2}\[2001:db8::2\]:82 wlc persistent 60 mask 64/,
    ],
    [
      svc({ family: 4, protocol: 'udp', address: '10.2.0.2', port: 5060 }, 'rr', { timeout: 360, persistenceEngine: 'sip' }),
      /UDP {2}10\.2\.0\.2:5060 rr persistent 360 pe sip/,
    ],
  ];
  for (const [s] of flagged) await ipvs.addService(s);
  const out = ipvsadm('-Ln');
  for (const s of kernelSchedulers) assert.match(out, new RegExp(`10\\.2\\.0\\.1:\\d+ ${s}\\b`), s);
  for (const [, re] of flagged) assert.match(out, re);
  const dumped = await ipvs.services();
  const sh = dumped.find((s) => s.key.port === 80 && s.key.address === '10.2.0.2')!;
  assert.equal(sh.flags & (SERVICE_FLAG.SCHED1 | SERVICE_FLAG.SCHED2), SERVICE_FLAG.SCHED1 | SERVICE_FLAG.SCHED2);
  const persistent = dumped.find((s) => s.key.port === 82 && s.key.family === 4)!;
  assert.equal(persistent.timeout, 300);
  assert.equal(persistent.netmask, '255.255.255.0');
  assert.ok(persistent.flags & SERVICE_FLAG.PERSISTENT);
  assert.equal(dumped.find((s) => s.key.port === 82 && s.key.family === 6)!.netmask, 64);
  assert.equal(dumped.find((s) => s.key.port === 5060)!.persistenceEngine, 'sip');
});

test('destinations: NAT, DR, TUN (ipip, gue with its port, gre) with checksum options, weights and thresholds; changed in place and removed', async () => {
  const k: ServiceKey = { family: 4, protocol: 'tcp', address: '10.3.0.1', port: 80 };
  await ipvs.addService(svc(k, 'wrr'));
  const ds: DestinationSpec[] = [
    dest('10.3.0.2', 8080, { weight: 3, upperThreshold: 100, lowerThreshold: 10 }),
    dest('10.3.0.3', 80, { method: 'DR', weight: 2 }),
    dest('10.3.0.4', 80, { method: 'TUN', tunnel: { type: 'ipip' } }),
    dest('10.3.0.5', 80, { method: 'TUN', tunnel: { type: 'gue', port: 6080, checksum: 'csum' } }),
    dest('10.3.0.6', 80, { method: 'TUN', tunnel: { type: 'gre', checksum: 'remcsum' } }),
    dest('10.3.0.7', 80, { method: 'TUN', weight: 0, tunnel: { type: 'gre', checksum: 'nocsum' } }),
  ];
  for (const d of ds) await ipvs.addDestination(k, d);
  const got = await ipvs.destinations(k);
  const strip = (d: DestinationSpec): DestinationSpec => ({
    family: d.family,
    address: d.address,
    port: d.port,
    method: d.method,
    weight: d.weight,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    ...(d.tunnel ? { tunnel: d.tunnel } : {}),
  });
  const byAddr = (a: DestinationSpec, b: DestinationSpec): number => a.address.localeCompare(b.address);
  assert.deepEqual(
    got.map(strip).sort(byAddr),
    ds.map((d): DestinationSpec => (d.tunnel?.type === 'gre' ? { ...d, tunnel: { type: 'gre', checksum: d.tunnel.checksum ?? 'nocsum' } } : d)).sort(byAddr),
  );
  let out = ipvsadm('-Ln', '--tun-info');
  assert.match(out, /10\.3\.0\.2:8080 +Masq +n\/a +3 /);
  assert.match(out, /10\.3\.0\.3:80 +Route +n\/a +2 /);
  assert.match(out, /10\.3\.0\.4:80 +Tunnel +ipip +1 /);
  assert.match(out, /10\.3\.0\.5:80 +Tunnel +gue:6080:\+c +1 /);
  assert.match(out, /10\.3\.0\.6:80 +Tunnel +gre:r\+c +1 /);
  assert.match(out, /10\.3\.0\.7:80 +Tunnel +gre:-c +0 /);
  out = ipvsadm('-Ln', '--thresholds');
  assert.match(out, /10\.3\.0\.2:8080 +100 +10/);

  await ipvs.updateDestination(k, { ...ds[0]!, weight: 7, upperThreshold: 0, lowerThreshold: 0 });
  await ipvs.deleteDestination(k, ds[1]!);
  const after2 = await ipvs.destinations(k);
  assert.equal(after2.find((d) => d.address === '10.3.0.2')!.weight, 7);
  assert.equal(
    after2.some((d) => d.address === '10.3.0.3'),
    false,
  );
  const v6: ServiceKey = { family: 6, protocol: 'udp', address: '2001:db8::10', port: 53 };
  await ipvs.addService(svc(v6, 'rr'));
  await ipvs.addDestination(v6, dest('2001:db8::11', 53, { method: 'DR', weight: 4 }));
  // a tunnelled IPv4 real server behind an IPv6 service
  await ipvs.addDestination(v6, dest('10.3.0.9', 53, { method: 'TUN', tunnel: { type: 'ipip' } }));
  const d6 = await ipvs.destinations(v6);
  assert.deepEqual(d6.map((d) => `${d.family} ${d.address} ${d.method} ${d.weight}`).sort(), ['4 10.3.0.9 TUN 1', '6 2001:db8::11 DR 4']);
});

test('a service changes in place: scheduler, flags, persistence', async () => {
  const k: ServiceKey = { family: 4, protocol: 'tcp', address: '10.4.0.1', port: 80 };
  await ipvs.addService(svc(k, 'rr'));
  await ipvs.addDestination(k, dest('10.4.0.2', 80));
  await ipvs.updateService(svc(k, 'sh', { flags: SERVICE_FLAG.SCHED2, timeout: 120, netmask: '255.255.0.0' }));
  const [s] = await ipvs.services();
  assert.equal(s!.scheduler, 'sh');
  assert.equal(s!.timeout, 120);
  assert.equal(s!.netmask, '255.255.0.0');
  assert.ok(s!.flags & SERVICE_FLAG.SCHED2);
  assert.equal((await ipvs.destinations(k)).length, 1, 'its destination stayed');
});

test('kernel refusals say what was asked and why, with the errno name in errno', async () => {
  const k: ServiceKey = { family: 4, protocol: 'tcp', address: '10.5.0.1', port: 80 };
  await ipvs.addService(svc(k, 'rr'));
  await assert.rejects(ipvs.addService(svc(k, 'rr')), {
    errno: 'EEXIST',
    message: 'adding virtual service TCP 10.5.0.1:80 (rr): the service already exists (EEXIST)',
  });
  await assert.rejects(ipvs.addService(svc({ ...k, port: 81 }, 'nosuch')), {
    errno: 'ENOENT',
    message:
      'adding virtual service TCP 10.5.0.1:81 (nosuch): the kernel has no such scheduler or persistence engine (module not loaded or not built) (ENOENT)',
  });
  await assert.rejects(ipvs.deleteService({ ...k, port: 82 }), {
    errno: 'ESRCH',
    message: 'removing virtual service TCP 10.5.0.1:82: no such service (ESRCH)',
  });
  await assert.rejects(ipvs.addDestination({ ...k, port: 83 }, dest('10.5.0.2', 80)), {
    errno: 'ESRCH',
    message: 'adding real server 10.5.0.2:80 (NAT, weight 1) to TCP 10.5.0.1:83: the service does not exist (ESRCH)',
  });
  await ipvs.addDestination(k, dest('10.5.0.2', 80));
  await assert.rejects(ipvs.addDestination(k, dest('10.5.0.2', 80)), {
    errno: 'EEXIST',
    message: 'adding real server 10.5.0.2:80 (NAT, weight 1) to TCP 10.5.0.1:80: the destination already exists (EEXIST)',
  });
  await assert.rejects(ipvs.deleteDestination(k, { address: '10.5.0.9', port: 80 }), {
    errno: 'ENOENT',
    message: 'removing real server 10.5.0.9:80 from TCP 10.5.0.1:80: no such destination (ENOENT)',
  });
  await assert.rejects(ipvs.addService(svc({ family: 4, protocol: 'tcp', address: 'not-an-ip', port: 1 })), { errno: 'EINVAL' });
});

test('connection timeouts are read and set (ipvsadm --set)', async () => {
  const before0 = await ipvs.timeouts();
  assert.ok(before0.tcp > 0 && before0.udp > 0);
  await ipvs.setTimeouts({ tcp: 1800, tcpFin: 60, udp: 90 });
  assert.deepEqual(await ipvs.timeouts(), { tcp: 1800, tcpFin: 60, udp: 90 });
  assert.match(ipvsadm('-Ln', '--timeout'), /Timeout \(tcp tcpfin udp\): 1800 60 90/);
  await ipvs.setTimeouts({ tcp: 0, tcpFin: 0, udp: 45 });
  assert.deepEqual(await ipvs.timeouts(), { tcp: 1800, tcpFin: 60, udp: 45 }, 'a 0 leaves that timeout as it is');
  await ipvs.setTimeouts(before0);
});

test('info and message counts; a dump of 300 destinations comes back whole', async () => {
  const info = await ipvs.info();
  assert.match(info.version, /^1\.2\.\d+$/);
  assert.ok(info.connectionTableSize > 0);
  const k: ServiceKey = { family: 4, protocol: 'tcp', address: '10.6.0.1', port: 80 };
  await ipvs.addService(svc(k, 'rr'));
  const req0 = ipvs.counts.requests;
  await Promise.all(Array.from({ length: 300 }, (_, i) => ipvs.addDestination(k, dest(`10.7.${i >> 8}.${i & 255}`, 80))));
  assert.equal(ipvs.counts.requests - req0, 300, 'one request per destination');
  const got = await ipvs.destinations(k);
  assert.equal(got.length, 300);
  assert.equal(new Set(got.map((d) => d.address)).size, 300);
});
