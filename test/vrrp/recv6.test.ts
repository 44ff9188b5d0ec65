import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab, removeStaleLabs, type LabHost } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';
import type { SendSpec } from '../fixtures/vrrp-recv6/driver';

/**
 * The IPv6 VRRP receiver of the addon (native/vrrp_recv.c, core/vrrp/receiver.ts)
 * in a lab: host a sends IPv6 VRRP packets with a raw IPV6_HDRINCL socket,
 * host b receives them through the receiver (in its own namespace, run by
 * test/fixtures/vrrp-recv6/driver.js), host c runs alived.
 */

const DRIVER = path.join(__dirname, '..', 'fixtures', 'vrrp-recv6', 'driver.js');
const A6 = 'fd00:99::11';
const B6 = 'fd00:99::12';
const VIP6 = 'fd99::62';

let lab: Lab;
let a: LabHost;
let b: LabHost;
let llA: string;
let llB: string;

// node 20 runs an after() registered inside a before() hook as soon as that hook ends,
// so the cleanup is registered here
after(() => lab?.destroy());
process.once('exit', () => void lab?.destroy());
before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'recv6',
    hosts: [
      { name: 'a', ip: '10.99.0.11', ip6: A6 },
      { name: 'b', ip: '10.99.0.12', ip6: B6 },
      { name: 'c', ip: '10.99.0.13', ip6: 'fd00:99::13' },
    ],
  });
  a = lab.host('a');
  b = lab.host('b');
  llA = await linkLocal(a);
  llB = await linkLocal(b);
});

async function linkLocal(h: LabHost): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const shown = JSON.parse(await lab.run(h, ['ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])) as Array<{
      addr_info?: Array<{ local?: string }>;
    }>;
    const ll = shown.flatMap((i) => i.addr_info ?? []).find((x) => x.local?.startsWith('fe80:'))?.local;
    if (ll) return ll;
    if (Date.now() > deadline) throw new Error(`no link-local address on ${h.name}'s eth0`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Packet {
  src: string;
  dst: string;
  ttl: number | undefined;
  ifindex: number;
  payload: string;
}

/** A driver process in a host, its JSON lines as they come. */
class Driver {
  readonly lines: Record<string, unknown>[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly proc: ChildProcess;
  private stderr = '';

  constructor(host: LabHost, cmd: unknown, nodeArgs: string[] = []) {
    const proc = lab.spawn(host, [process.execPath, ...nodeArgs, DRIVER, JSON.stringify(cmd)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  }

  /** the first line with this key, waiting at most timeoutMs */
  async line<T>(key: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = this.lines.find((x) => key in x);
      if (l) return l[key] as T;
      const fatal = this.lines.find((x) => 'fatal' in x);
      if (fatal) throw new Error(`driver failed: ${JSON.stringify(fatal)} ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`driver: no '${key}' line within ${timeoutMs} ms: ${JSON.stringify(this.lines)} ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  packets(): Packet[] {
    return this.lines.filter((l) => 'packet' in l).map((l) => l.packet as Packet);
  }

  async waitPackets(n: number, timeoutMs = 5000): Promise<Packet[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.packets();
  }

  /** SIGTERM (unless it ends by itself), then its exit, which must come by itself (no handle left open) within timeoutMs */
  async finish(timeoutMs = 5000, terminate = true): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (terminate && !this.lines.some((l) => 'done' in l) && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    const t = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`driver did not exit within ${timeoutMs} ms: ${JSON.stringify(this.lines.slice(-5))} ${this.stderr}`)),
        timeoutMs,
      ).unref(),
    );
    const r = await Promise.race([this.exited, t]);
    assert.equal(r.code, 0, `driver exit ${r.code ?? r.signal}: ${this.stderr} ${JSON.stringify(this.lines.slice(-5))}`);
    return r;
  }
}

async function send(packets: SendSpec[], family: 4 | 6 = 6): Promise<string[]> {
  const r = await lab.exec(a, [process.execPath, DRIVER, JSON.stringify({ op: 'send', ifname: 'eth0', packets, family })], 30_000);
  assert.equal(r.code, 0, `sender: ${r.stderr}${r.stdout}`);
  const last = r.stdout.trim().split('\n').pop()!;
  assert.ok(last?.startsWith('{'), `sender printed no result: ${r.stdout} ${r.stderr}`);
  const res = JSON.parse(last) as { sent: number; payloads: string[] };
  return res.payloads;
}

const advert = (o: Partial<SendSpec> & Pick<SendSpec, 'src' | 'dst' | 'hop' | 'vrid'>): SendSpec => ({ priority: 100, addresses: ['fd99::99'], ...o });

describe('the IPv6 VRRP receiver in a lab host', () => {
  test('reports hop limit, source, destination, payload and interface of multicast and unicast adverts; a group it did not join stays out', async () => {
    const rx = new Driver(b, { op: 'receive', ifname: 'eth0', groups: ['ff02::12'], ms: 20_000 });
    const ready = await rx.line<{ ifindex: number; sockets: number }>('ready');
    const specs = [
      advert({ src: llA, dst: 'ff02::12', hop: 255, vrid: 51 }),
      advert({ src: llA, dst: 'ff02::12', hop: 64, vrid: 52, priority: 200 }),
      advert({ src: A6, dst: B6, hop: 255, vrid: 53, addresses: ['fd99::1', 'fd99::2'] }),
      advert({ src: A6, dst: B6, hop: 1, vrid: 54 }),
      advert({ src: llA, dst: 'ff02::13', hop: 255, vrid: 55 }),
      advert({ src: llA, dst: llB, hop: 128, vrid: 56 }),
      advert({ src: llA, dst: 'ff02::12', hop: 255, vrid: 57, addresses: [] }),
    ];
    const payloads = await send(specs);
    const got = await rx.waitPackets(6);
    await new Promise((r) => setTimeout(r, 300));
    await rx.finish();
    const want = specs
      .map((s, i) => ({ src: s.src, dst: s.dst, ttl: s.hop, ifindex: ready.ifindex, payload: payloads[i]! }))
      .filter((p) => p.dst !== 'ff02::13');
    assert.deepEqual(rx.packets(), want, `received ${JSON.stringify(got, null, 1)}`);
    assert.deepEqual(await rx.line('done'), { count: 6, late: 0, sockets: ready.sockets - 1 });
  });

  test('close() inside the callback of a burst: no packet after it, the socket is released, the process ends by itself', async () => {
    // the receiver's event loop is busy while the 20 packets arrive: its first wakeup reads a burst
    const rx = new Driver(b, { op: 'receive', ifname: 'eth0', groups: ['ff02::12'], ms: 2000, closeAfter: 1, stallMs: 1500 });
    const ready = await rx.line<{ sockets: number }>('ready');
    await send([advert({ src: llA, dst: 'ff02::12', hop: 255, vrid: 51, count: 20 })]);
    assert.equal(
      rx.lines.some((l) => 'packet' in l),
      false,
      'all 20 were sent while the receiver was busy',
    );
    await rx.line('stalled', 5000);
    assert.deepEqual(await rx.line('closedInCallback'), 1);
    assert.deepEqual(
      rx.lines.find((l) => 'closedInCallback' in l),
      { closedInCallback: 1, isOpen: false },
    );
    await rx.line('done', 5000);
    await rx.finish();
    assert.equal(rx.packets().length, 1);
    assert.deepEqual(await rx.line('done'), { count: 1, late: 0, sockets: ready.sockets - 1 });
  });

  test('a burst longer than one wakeup reads (64) arrives whole and in order', async () => {
    const rx = new Driver(b, { op: 'receive', ifname: 'eth0', groups: ['ff02::12'], ms: 20_000, stallMs: 1500 });
    await rx.line('ready');
    const specs = Array.from({ length: 150 }, (_, i) => advert({ src: llA, dst: 'ff02::12', hop: 255, vrid: i + 1 }));
    const payloads = await send(specs);
    await rx.line('stalled', 5000);
    await rx.waitPackets(150);
    await rx.finish();
    assert.deepEqual(
      rx.packets().map((p) => p.payload),
      payloads,
    );
  });

  test('an exception thrown by the callback is an uncaught exception; receiving goes on', async () => {
    const rx = new Driver(b, { op: 'receive', ifname: 'eth0', groups: ['ff02::12'], ms: 20_000, throwOn: [1, 2] });
    await rx.line('ready');
    await send([advert({ src: llA, dst: 'ff02::12', hop: 255, vrid: 51, count: 3, gapMs: 30 })]);
    await rx.waitPackets(3);
    await rx.finish();
    assert.equal(rx.packets().length, 3);
    assert.deepEqual(
      rx.lines.filter((l) => 'uncaught' in l),
      [{ uncaught: 'thrown by onPacket at packet 1' }, { uncaught: 'thrown by onPacket at packet 2' }],
    );
  });

  test('errors: a system call failing names the interface and the step, with errno and code; bad arguments are TypeErrors and RangeErrors; nothing leaks', async () => {
    const r = await lab.exec(b, [process.execPath, DRIVER, JSON.stringify({ op: 'errors', ifname: 'eth0' })], 20_000);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const { results, socketsBefore, socketsAfter } = JSON.parse(r.stdout) as {
      results: Record<string, Record<string, unknown>>;
      socketsBefore: number;
      socketsAfter: number;
    };
    const nodev = results.noSuchInterface!;
    assert.equal(nodev.type, 'RecvError');
    assert.equal(nodev.errno, 'ENODEV');
    assert.equal(nodev.errnoNumber, -19);
    assert.equal(nodev.syscall, 'setsockopt');
    assert.equal(nodev.ifname, 'nosuch0');
    assert.equal(nodev.step, 'binding to the interface (SO_BINDTODEVICE)');
    assert.equal(nodev.message, 'IPv6 VRRP receiver on nosuch0: binding to the interface (SO_BINDTODEVICE) (setsockopt): No such device (ENODEV)');
    const join = results.wrongIfindex!;
    assert.deepEqual([join.type, join.errno, join.step], ['RecvError', 'ENODEV', 'joining ff02::12 (IPV6_ADD_MEMBERSHIP)']);
    assert.match(String(join.message), /^IPv6 VRRP receiver on eth0: joining ff02::12/);
    for (const k of [
      'unicastGroup',
      'notAnAddress',
      'ipv4Group',
      'tooManyGroups',
      'emptyName',
      'longName',
      'nulInName',
      'slashInName',
      'ifindexZero',
      'ifindexFraction',
      'rcvBufNegative',
      'rcvBufHuge',
    ]) {
      assert.equal(results[k]!.type, 'RangeError', `${k}: ${JSON.stringify(results[k])}`);
      assert.equal(results[k]!.code, 'ERR_OUT_OF_RANGE', k);
    }
    for (const k of [
      'groupNotString',
      'groupsNotArray',
      'nameNotString',
      'ifindexString',
      'onPacketMissing',
      'onErrorNotFunction',
      'closeForeignObject',
      'closeNumber',
      'closePacketHandle',
    ]) {
      assert.equal(results[k]!.type, 'TypeError', `${k}: ${JSON.stringify(results[k])}`);
      assert.equal(results[k]!.code, 'ERR_INVALID_ARG_TYPE', k);
    }
    assert.match(String(results.unicastGroup!.message), /multicast/);
    assert.equal(socketsAfter, socketsBefore, 'a failed open closes its socket');
  });

  test('2000 receivers opened, closed and collected: no socket left, memory flat, the process ends by itself', async () => {
    const d = new Driver(b, { op: 'churn', ifname: 'eth0', times: 2000 }, ['--expose-gc']);
    const open = await d.line<number>('socketsOpen', 20_000);
    await d.line<number>('sockets0', 60_000);
    const res = d.lines.find((l) => 'sockets0' in l) as {
      sockets0: number;
      sockets1: number;
      rssGrowthKiB: number;
      closedCollected: number;
      openCollected: number;
    };
    await d.finish(10_000, false);
    assert.equal(open, res.sockets0 + 1, 'an open receiver holds one descriptor');
    assert.equal(res.sockets1, res.sockets0);
    // each receiver has a 64 KiB buffer: 2000 leaked ones would be 125 MiB
    assert.ok(res.rssGrowthKiB < 32 * 1024, `RSS grew ${res.rssGrowthKiB} KiB`);
    assert.ok(res.closedCollected >= 45, `closed handles are collected: ${res.closedCollected} of 50`);
    assert.equal(res.openCollected, 0, 'an open receiver is never collected under its user');
  });
});

describe("VrrpChannel's IPv6 side", () => {
  test('delivers adverts with their destination and hop limit; its sending socket queues nothing; close() releases both sockets', async () => {
    const ch = new Driver(b, { op: 'channel', ifname: 'eth0', groups: ['ff02::12'], ms: 20_000 });
    const ready = await ch.line<{ raw6: unknown[]; channel: number[]; control: number }>('ready');
    assert.equal(ready.channel.length, 2, `a sending and a receiving socket: ${JSON.stringify(ready)}`);
    assert.equal(ready.raw6.length, 3, `the channel's two sockets and the control: ${JSON.stringify(ready)}`);
    await send([
      advert({ src: llA, dst: 'ff02::12', hop: 255, vrid: 51, count: 20 }),
      advert({ src: llA, dst: 'ff02::12', hop: 64, vrid: 51, count: 3 }),
      advert({ src: A6, dst: B6, hop: 255, vrid: 51 }),
    ]);
    const got = await ch.waitPackets(24);
    await new Promise((r) => setTimeout(r, 200));
    await ch.finish();
    assert.equal(got.length, 24);
    // each with how long ago the kernel received it: read at once here, so well under a second
    const ages = ch.lines.filter((l) => 'packet' in l).map((l) => l.ageMs);
    assert.ok(
      ages.every((x) => typeof x === 'number' && x >= 0 && x < 1000),
      `ages ${JSON.stringify(ages)}`,
    );
    assert.deepEqual(
      got.map((p) => `${p.src}>${p.dst}/${p.ttl}`),
      [...Array<string>(20).fill(`${llA}>ff02::12/255`), ...Array<string>(3).fill(`${llA}>ff02::12/64`), `${A6}>${B6}/255`],
    );
    const done = await ch.line<{ count: number; raw6: { rxQueue: number; drops: number; inode: number }[]; after: { inode: number }[] }>('done');
    const of = (inode: number): { rxQueue: number; drops: number } =>
      done.raw6.find((x) => x.inode === inode) ?? assert.fail(`socket ${inode} not in ${JSON.stringify(done.raw6)}`);
    for (const inode of ready.channel)
      assert.deepEqual(of(inode), { rxQueue: 0, drops: 0, inode }, `nothing waits in the channel's receive queues: ${JSON.stringify(done.raw6)}`);
    // the control, a raw socket that never reads, with the same buffer but without the filter, holds packets
    assert.ok(of(ready.control).rxQueue > 0, `the control socket queued packets: ${JSON.stringify(done.raw6)}`);
    assert.deepEqual(
      done.after.map((x) => x.inode),
      [ready.control],
      "the channel's sockets are closed",
    );
  });
});

describe("VrrpChannel's IPv4 side", () => {
  test("receives through the addon: source, destination and TTL from the header, and each packet's age since the kernel received it, however late it is read; its sending socket queues nothing", async () => {
    const go = path.join(tmpDir('recv4-'), 'go');
    const ch = new Driver(b, { op: 'channel', family: 4, ifname: 'eth0', groups: ['224.0.0.18'], ms: 20_000, stallUntilFile: go });
    const ready = await ch.line<{ raw6: unknown[]; channel: number[]; control: number }>('ready');
    assert.equal(ready.channel.length, 2, `a sending and a receiving socket: ${JSON.stringify(ready)}`);
    const A4 = a.ip;
    const B4 = b.ip;
    const v4 = (o: Partial<SendSpec> & Pick<SendSpec, 'src' | 'dst' | 'hop' | 'vrid'>): SendSpec => ({ priority: 100, addresses: ['10.99.9.9'], ...o });
    // sent while the channel's event loop is held busy: everything waits in its socket
    const sentFrom = Date.now();
    await send(
      [
        v4({ src: A4, dst: '224.0.0.18', hop: 255, vrid: 41, count: 3, gapMs: 150 }),
        v4({ src: A4, dst: '224.0.0.18', hop: 64, vrid: 42 }),
        v4({ src: A4, dst: B4, hop: 255, vrid: 43, addresses: ['10.99.9.1', '10.99.9.2'] }),
        v4({ src: A4, dst: '224.0.0.19', hop: 255, vrid: 44 }),
      ],
      4,
    );
    await new Promise((r) => setTimeout(r, 200));
    const waited = Date.now() - sentFrom;
    fs.writeFileSync(go, '');
    assert.equal(await ch.line('stalled'), true);
    const got = await ch.waitPackets(5);
    await new Promise((r) => setTimeout(r, 200));
    await ch.finish();
    assert.deepEqual(
      got.map((p) => `${p.src}>${p.dst}/${p.ttl}`),
      [...Array<string>(3).fill(`${A4}>224.0.0.18/255`), `${A4}>224.0.0.18/64`, `${A4}>${B4}/255`],
      'the group it did not join (224.0.0.19) stays out',
    );
    const ages = ch.lines.filter((l) => 'packet' in l).map((l) => l.ageMs as number);
    assert.ok(
      ages.every((x) => typeof x === 'number'),
      `ages ${JSON.stringify(ages)}`,
    );
    // read only once the loop was free: the first waited at least the 2 gaps after it and the 200 ms above
    assert.ok(ages[0]! >= 500, `the first packet's age ${ages[0]} ms (held ${waited} ms)`);
    assert.ok(ages[0]! <= waited + 5000, `the first packet's age ${ages[0]} ms, more than it can have waited (${waited} ms)`);
    // ...and each later one less, by about the gap it was sent after
    assert.ok(ages[0]! - ages[2]! >= 250, `ages ${JSON.stringify(ages)}: the third was sent 300 ms after the first`);
    for (let i = 1; i < ages.length; i++) assert.ok(ages[i]! <= ages[i - 1]!, `ages ${JSON.stringify(ages)} must fall`);
    const done = await ch.line<{ count: number; raw6: { rxQueue: number; drops: number; inode: number }[]; after: { inode: number }[] }>('done');
    const of = (inode: number): { rxQueue: number; drops: number } =>
      done.raw6.find((x) => x.inode === inode) ?? assert.fail(`socket ${inode} not in ${JSON.stringify(done.raw6)}`);
    for (const inode of ready.channel) assert.equal(of(inode).rxQueue, 0, `nothing waits in the channel's receive queues: ${JSON.stringify(done.raw6)}`);
    assert.ok(of(ready.control).rxQueue > 0, `the control socket queued packets: ${JSON.stringify(done.raw6)}`);
    assert.deepEqual(
      done.after.map((x) => x.inode),
      [ready.control],
      "the channel's sockets are closed",
    );
  });
});

// ---------------------------------------------------------------------------
// a real alived

/** `Key: N` lines of keepalived's stats layout, by section */
function parseStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const m = /^(\s*)([^:]+):\s*(\d+)?\s*$/.exec(line);
    if (!m) continue;
    if (m[3] === undefined) section = m[2]!.trim();
    else out[`${m[1]!.length > 2 ? `${section}/` : ''}${m[2]!.trim()}`] = Number(m[3]);
  }
  return out;
}

/** keepalived's SIGUSR2: the daemon writes its counters to /tmp/alived_INSTANCE.stats */
async function readStats(d: LabDaemon, instance: string): Promise<Record<string, number>> {
  const file = `/tmp/alived_${instance}.stats`;
  fs.rmSync(file, { force: true });
  process.kill(d.proc.pid!, 'SIGUSR2');
  for (let i = 0; i < 100 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 50));
  const stats = parseStats(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file, { force: true });
  return stats;
}

describe('alived as an IPv6 VRRPv3 backup', () => {
  test('adverts with a hop limit other than 255 are TTL errors (and do not hold it in BACKUP); adverts with 255 are received', async () => {
    const v = new VrrpLab(lab, tmpDir('alived-recv6-'));
    const instance = `recv6${process.pid}`;
    const d = v.startAlived(
      'c',
      `global_defs {
  router_id c
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id 62
  priority 100
  advert_int 1
  virtual_ipaddress {
    ${VIP6}/64
  }
}
`,
      ['--instance', instance],
    );
    try {
      await v.waitLine(d, /\(VI_6\) Entering BACKUP STATE/, 15_000);
      const valid = (count: number): SendSpec => advert({ src: llA, dst: 'ff02::12', hop: 255, vrid: 62, priority: 200, addresses: [VIP6], count, gapMs: 250 });
      const states = (): string[] => d.lines.filter((l) => /Entering \w+ STATE/.test(l)).map((l) => /Entering (\w+) STATE/.exec(l)![1]!);

      // a master with priority 200 on the link: alived stays BACKUP and counts its adverts
      await send([valid(8)]);
      const s1 = await readStats(d, instance);
      assert.equal(s1['Advertisements/Received'], 8, JSON.stringify(s1));
      assert.equal(s1['Packet Errors/TTL'], 0);
      assert.deepEqual(states(), ['BACKUP']);

      // the same adverts with hop limit 64 (they could have crossed a router): dropped, so the master is gone for alived
      await send([advert({ src: llA, dst: 'ff02::12', hop: 64, vrid: 62, priority: 200, addresses: [VIP6], count: 14, gapMs: 400 })]);
      const s2 = await readStats(d, instance);
      assert.equal(s2['Packet Errors/TTL'], 14, JSON.stringify(s2));
      assert.equal(s2['Advertisements/Received'], 8, 'none of them was taken for an advert');
      assert.deepEqual(states(), ['BACKUP', 'MASTER'], 'with only wrong-hop-limit adverts on the link, the master down timer fired');
      await v.waitHolder(VIP6, 'c', 5000);

      // valid adverts of the higher priority again: received, and alived steps back
      await send([valid(5)]);
      const s3 = await readStats(d, instance);
      assert.equal(s3['Advertisements/Received'], 13, JSON.stringify(s3));
      assert.equal(s3['Packet Errors/TTL'], 14);
      assert.deepEqual(states(), ['BACKUP', 'MASTER', 'BACKUP']);
      await v.waitHolder(VIP6, undefined, 5000);

      // its sending socket only sends: the drop-all filter keeps its receive queue empty
      const r = await lab.run('c', ['cat', '/proc/net/raw6']);
      const socks = r
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[1]?.endsWith(':0070'));
      assert.equal(socks.length, 2, r);
      for (const f of socks) assert.equal(parseInt(f[4]!.split(':')[1]!, 16), 0, `receive queue of ${f.join(' ')}`);
    } finally {
      d.proc.kill('SIGTERM');
      await Promise.race([d.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
  });
});
