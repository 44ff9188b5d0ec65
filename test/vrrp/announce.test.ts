import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Announcer, garpFrame, icmp6Checksum, naFrame, type AnnounceLink, type FrameSender } from '../../core/vrrp/announce';
import { nativeAddon, PacketSocket, PacketSocketError } from '../../core/vrrp/packet-socket';
import type { Clock, TimerHandle } from '../../core/vrrp/types';
import { Lab, removeStaleLabs, type LabHost } from '../../core/lab/netns';
import { waitFor } from '../helpers/lab';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/garp-vectors');
const DRIVER = path.join(__dirname, '..', 'fixtures', 'vrrp-drivers', 'driver.js');

// ---------------------------------------------------------------------------
// frames

/** keepalived's gratuitous ARPs from the shared vectors: [mac, vip, frame] */
function goldenGarps(): [string, string, Buffer][] {
  return fs
    .readFileSync(path.join(FIXTURES, 'golden-garp.txt'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [mac, vip, hex] = l.split(' ') as [string, string, string];
      return [mac, vip, Buffer.from(hex, 'hex')];
    });
}

/** keepalived's frame for `mac`: the golden one with the MAC put in its two places */
function keepalivedGarp(mac: string): Buffer {
  const f = Buffer.from(goldenGarps()[0]![2]);
  const m = Buffer.from(mac.replace(/:/g, ''), 'hex');
  m.copy(f, 6);
  m.copy(f, 22);
  return f;
}

describe('frames', () => {
  test('garpFrame is byte for byte the gratuitous ARP keepalived sent', () => {
    const golden = goldenGarps();
    assert.equal(golden.length, 2);
    for (const [mac, vip, frame] of golden) assert.equal(garpFrame(mac, vip).toString('hex'), frame.toString('hex'), `${mac} ${vip}`);
  });

  test('naFrame: all-nodes from the VIP, hop limit 255, override flag, our MAC as target link-layer address, valid checksum', () => {
    const f = naFrame('02:00:00:99:00:11', 'fd00:99::99');
    assert.equal(f.length, 86);
    assert.equal(f.subarray(0, 6).toString('hex'), '333300000001');
    assert.equal(f.subarray(6, 12).toString('hex'), '020000990011');
    assert.equal(f.readUInt16BE(12), 0x86dd);
    assert.equal(f[14]! >> 4, 6);
    assert.equal(f.readUInt16BE(18), 32, 'payload length');
    assert.equal(f[20], 58, 'next header ICMPv6');
    assert.equal(f[21], 255, 'hop limit');
    assert.equal(f.subarray(22, 38).toString('hex'), 'fd000099000000000000000000000099', 'source: the VIP');
    assert.equal(f.subarray(38, 54).toString('hex'), 'ff020000000000000000000000000001');
    const icmp = f.subarray(54);
    assert.equal(icmp[0], 136);
    assert.equal(icmp[1], 0);
    assert.equal(icmp[4], 0x20, 'override only: not solicited, not a router');
    assert.equal(icmp.subarray(8, 24).toString('hex'), 'fd000099000000000000000000000099', 'target');
    assert.deepEqual([icmp[24], icmp[25]], [2, 1], 'target link-layer address option, 8 bytes');
    assert.equal(icmp.subarray(26, 32).toString('hex'), '020000990011');
    // a message carrying its checksum sums to zero
    assert.equal(icmp6Checksum(f.subarray(22, 38), f.subarray(38, 54), Buffer.from(icmp)), 0);
    assert.equal(naFrame('02:00:00:99:00:11', 'fd00:99::99', true)[54 + 4], 0xa0, 'router flag when forwarding');
  });

  test('bad MACs and addresses are refused', () => {
    assert.throws(() => garpFrame('02:00:00:99:00', '10.0.0.1'), TypeError);
    assert.throws(() => garpFrame('02:00:00:99:00:11', 'fd00::1'), TypeError);
    assert.throws(() => naFrame('02:00:00:99:00:11', '10.0.0.1'), TypeError);
  });
});

// ---------------------------------------------------------------------------
// schedule, on a fake clock

class FakeClock implements Clock {
  t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    this.timers.delete(h.id);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** runs every timer due up to now + ms, in time order */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

interface Sent {
  t: number;
  ifindex: number;
  frame: Buffer;
}

function recorder(clock: FakeClock): { sent: Sent[]; opened: number[]; closed: number[]; open: (l: AnnounceLink) => FrameSender } {
  const sent: Sent[] = [];
  const opened: number[] = [];
  const closed: number[] = [];
  return {
    sent,
    opened,
    closed,
    open: (l) => {
      opened.push(l.ifindex);
      return { send: (frame) => void sent.push({ t: clock.t, ifindex: l.ifindex, frame }), close: () => void closed.push(l.ifindex) };
    },
  };
}

const LINK = { ifname: 'eth0', ifindex: 2, mac: '02:00:00:99:00:11' };

/** send times, in ms, grouped as "time x count" */
function bursts(sent: Sent[]): string[] {
  const out: [number, number][] = [];
  for (const s of sent) {
    const last = out[out.length - 1];
    if (last && last[0] === s.t) last[1]++;
    else out.push([s.t, 1]);
  }
  return out.map(([t, n]) => `${t}x${n}`);
}

describe('Announcer schedule', () => {
  test("defaults are keepalived's: 5 at once, 5 more after 5 s, nothing after; as in keepalived's capture", () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const a = new Announcer({ ...LINK, addresses: ['10.99.0.99'], clock, openSender: r.open });
    a.announce();
    clock.advance(60_000);
    assert.deepEqual(bursts(r.sent), ['0x5', '5000x5']);
    for (const s of r.sent) assert.equal(s.frame.toString('hex'), keepalivedGarp(LINK.mac).toString('hex'));
    // keepalived's own schedule, from its capture, to the 10 ms
    const golden = fs
      .readFileSync(path.join(FIXTURES, 'golden-garp-times.txt'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => Math.round(Number(l.split(' ')[0]) * 100) * 10);
    assert.deepEqual(
      r.sent.map((s) => s.t),
      golden,
    );
    assert.equal(clock.pending, 0);
    assert.equal(a.counters.garp, 10);
  });

  test('each round covers every address in order, IPv4 and IPv6; the NA router flag follows forwarding', () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const a = new Announcer({
      ...LINK,
      addresses: ['10.99.0.99', 'fd00:99::99', '10.99.0.98'],
      clock,
      masterRepeat: 2,
      masterDelay: 0,
      openSender: r.open,
      isRouter: () => true,
    });
    a.announce();
    const kinds = r.sent.map((s) => (s.frame.readUInt16BE(12) === 0x0806 ? `arp ${s.frame.subarray(38, 42).join('.')}` : `na router=${s.frame[58] === 0xa0}`));
    assert.deepEqual(kinds, ['arp 10.99.0.99', 'na router=true', 'arp 10.99.0.98', 'arp 10.99.0.99', 'na router=true', 'arp 10.99.0.98']);
    assert.deepEqual(a.counters, { garp: 4, na: 2, errors: 0, skippedNoarp: 0 });
  });

  test('addresses on another interface go out of that interface, with its MAC', () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const other = { ifname: 'eth1', ifindex: 3, mac: '02:00:00:99:01:11' };
    const a = new Announcer({
      ...LINK,
      addresses: ['10.99.0.99', { address: '10.98.0.99', ...other }],
      clock,
      masterRepeat: 1,
      masterDelay: 0,
      openSender: r.open,
    });
    a.announce();
    assert.deepEqual(
      r.sent.map((s) => [s.ifindex, s.frame.subarray(6, 12).toString('hex')]),
      [
        [2, '020000990011'],
        [3, '020000990111'],
      ],
    );
    assert.deepEqual(r.opened, [2, 3]);
  });

  test('refresh: masterRefreshRepeat every masterRefresh seconds while master, besides the delayed burst', () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const a = new Announcer({ ...LINK, addresses: ['10.99.0.99'], clock, masterDelay: 3, masterRefresh: 2, masterRefreshRepeat: 2, openSender: r.open });
    a.announce();
    clock.advance(6_500);
    assert.deepEqual(bursts(r.sent), ['0x5', '2000x2', '3000x5', '4000x2', '6000x2']);
    a.stop();
    clock.advance(10_000);
    assert.equal(r.sent.length, 16);
    assert.equal(clock.pending, 0);
  });

  test("a lower-priority advert heard as master: keepalived's garp_lower_prio_repeat now and again garp_lower_prio_delay after the last one; stop() cancels it", () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const a = new Announcer({
      ...LINK,
      addresses: ['10.99.0.99', 'fd00:99::99'],
      clock,
      masterDelay: 0,
      masterRepeat: 1,
      lowerPrioRepeat: 3,
      lowerPrioDelay: 2,
      openSender: r.open,
    });
    a.announce();
    clock.advance(1000);
    a.lowerPriority();
    clock.advance(500);
    // a second one re-arms the delayed burst: it comes 2 s after the last, not once per advert
    a.lowerPriority();
    clock.advance(5000);
    assert.deepEqual(bursts(r.sent), ['0x2', '1000x6', '1500x6', '3500x6']);
    assert.equal(clock.pending, 0);
    a.lowerPriority();
    a.stop();
    clock.advance(5000);
    assert.deepEqual(bursts(r.sent), ['0x2', '1000x6', '1500x6', '3500x6', '6500x6']);
    assert.equal(clock.pending, 0);
    // garp_lower_prio_repeat 0: nothing, no timer
    const quiet = new Announcer({ ...LINK, addresses: ['10.99.0.99'], clock, lowerPrioRepeat: 0, openSender: r.open });
    quiet.lowerPriority();
    assert.equal(r.sent.length, 26);
    assert.equal(clock.pending, 0);
  });

  test('restored(): an address put back is announced as on becoming master, that address only', () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const a = new Announcer({ ...LINK, addresses: ['10.99.0.99', '10.99.0.98'], clock, masterDelay: 1, masterRepeat: 2, openSender: r.open });
    a.restored(['10.99.0.98']);
    clock.advance(3000);
    assert.deepEqual(bursts(r.sent), ['0x2', '1000x2']);
    for (const sent of r.sent) assert.equal(sent.frame.subarray(38, 42).join('.'), '10.99.0.98');
    a.restored(['10.99.0.99']);
    a.stop();
    clock.advance(3000);
    assert.equal(r.sent.length, 6, 'the delayed burst is cancelled with the rest');
    assert.equal(clock.pending, 0);
  });

  test('garp_interval and gna_interval space the packets of each kind on an interface', () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const a = new Announcer({
      ...LINK,
      addresses: ['10.99.0.99', 'fd00:99::99'],
      clock,
      masterRepeat: 3,
      masterDelay: 1,
      garpIntervalMs: 100,
      gnaIntervalMs: 250,
      openSender: r.open,
    });
    a.announce();
    clock.advance(2_000);
    const at = (type: number): number[] => r.sent.filter((s) => s.frame.readUInt16BE(12) === type).map((s) => s.t);
    assert.deepEqual(at(0x0806), [0, 100, 200, 1000, 1100, 1200]);
    assert.deepEqual(at(0x86dd), [0, 250, 500, 1000, 1250, 1500]);
  });

  test('stop() cancels the delayed burst, queued packets and refreshes, and closes the sockets; announce() starts over', () => {
    const clock = new FakeClock();
    const r = recorder(clock);
    const a = new Announcer({ ...LINK, addresses: ['10.99.0.99'], clock, garpIntervalMs: 100, masterRefresh: 1, openSender: r.open });
    a.announce();
    clock.advance(150);
    assert.equal(r.sent.length, 2);
    assert.equal(a.active, true);
    a.stop();
    assert.equal(a.active, false);
    assert.deepEqual(r.closed, [2]);
    clock.advance(30_000);
    assert.equal(r.sent.length, 2);
    assert.equal(clock.pending, 0);
    a.announce();
    clock.advance(450);
    assert.equal(r.sent.length, 7);
    assert.deepEqual(r.opened, [2, 2], 'a fresh socket after stop');
    a.stop();
  });

  test('send errors go to onError once per burst and cause, never out of a timer; the socket is reopened after ENODEV', () => {
    const clock = new FakeClock();
    const errors: Error[] = [];
    let opens = 0;
    const gone = new PacketSocketError('sending gratuitous ARP for 10.99.0.99 on eth0: No such device (ENODEV)', { errno: 'ENODEV' });
    const a = new Announcer({
      ...LINK,
      addresses: ['10.99.0.99', '10.99.0.98'],
      clock,
      onError: (e) => {
        errors.push(e);
        throw new Error('a broken logger must not break the announcer');
      },
      openSender: () => {
        opens++;
        return {
          send: () => {
            throw gone;
          },
          close: () => {},
        };
      },
    });
    assert.doesNotThrow(() => a.announce());
    assert.doesNotThrow(() => clock.advance(10_000));
    assert.equal(errors.length, 2, 'one report per burst');
    assert.equal(a.counters.errors, 20);
    assert.ok(opens >= 2, 'a new socket is tried after ENODEV');
    a.stop();
  });

  test('an interface that cannot be opened is reported; NOARP interfaces are skipped as keepalived does', () => {
    const clock = new FakeClock();
    const errors: string[] = [];
    const a = new Announcer({
      ...LINK,
      addresses: ['10.99.0.99'],
      clock,
      masterDelay: 0,
      onError: (e) => errors.push(e.message),
      openSender: (l) => {
        throw new PacketSocketError(`opening a packet socket (ifindex ${l.ifindex}) on ${l.ifname}: No such device (ENODEV)`, { errno: 'ENODEV' });
      },
    });
    a.announce();
    assert.deepEqual(errors, ['opening a packet socket (ifindex 2) on eth0: No such device (ENODEV)']);
    const r = recorder(clock);
    const b = new Announcer({ ...LINK, noarp: true, addresses: ['10.99.0.99', 'fd00::1'], clock, masterDelay: 0, openSender: r.open });
    b.announce();
    assert.equal(r.sent.length, 0);
    assert.equal(b.counters.skippedNoarp, 10);
  });

  test('bad settings are refused when the announcer is made, not at the first timer', () => {
    const clock = new FakeClock();
    assert.throws(() => new Announcer({ ...LINK, addresses: ['10.0.0.1'], clock, masterDelay: -1 }), RangeError);
    assert.throws(() => new Announcer({ ...LINK, addresses: ['10.0.0.1'], clock, masterRepeat: 1.5 }), RangeError);
    assert.throws(() => new Announcer({ ...LINK, addresses: ['not-an-ip'], clock }), TypeError);
    assert.throws(() => new Announcer({ ...LINK, mac: 'zz', addresses: ['10.0.0.1'], clock }), TypeError);
  });

  test('the addon checks its arguments before any socket exists', () => {
    assert.throws(() => PacketSocket.open(0, 'eth0'), /ifindex must be an integer/);
    assert.throws(() => PacketSocket.open(1.5, 'eth0'), /ifindex must be an integer/);

    const addon = nativeAddon() as {
      send(h: unknown, f: unknown): number;
      close(h: unknown): void;
    };
    assert.throws(() => addon.send({}, Buffer.alloc(42)), TypeError);
    assert.throws(() => addon.send(Object.create(null), Buffer.alloc(42)), TypeError);
    assert.throws(() => addon.close(42), TypeError);
  });
});

// ---------------------------------------------------------------------------
// on the wire, in a lab

interface PcapRecord {
  /** seconds since the epoch, with microseconds */
  ts: number;
  data: Buffer;
}

/** Waits for `p`, at most `ms`; the timer is cleared so it never holds the process open. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}

/** The records of a classic pcap file (what tcpdump -w writes), microsecond or nanosecond stamps. */
function readPcap(file: string): PcapRecord[] {
  const b = fs.readFileSync(file);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file} is not a pcap file`);
  const nano = (le ? magic : b.readUInt32BE(0)) === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const out: PcapRecord[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const len = u32(o + 8);
    if (o + 16 + len > b.length) break; // a record still being written
    out.push({ ts: u32(o) + u32(o + 4) / (nano ? 1e9 : 1e6), data: b.subarray(o + 16, o + 16 + len) });
    o += 16 + len;
  }
  return out;
}

/**
 * A tcpdump on a host's eth0, writing `file` as packets come (immediate mode: without it
 * libpcap holds packets up to a second, and a quick SIGINT loses them); `stop()` ends it
 * and returns what it caught (idempotent).
 */
async function capture(lab: Lab, host: LabHost, filter: string): Promise<{ file: string; stop: () => Promise<PcapRecord[]> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-garp-'));
  const file = path.join(dir, 'c.pcap');
  const child = lab.spawn(host, ['tcpdump', '-i', 'eth0', '-n', '--immediate-mode', '-U', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor('tcpdump to listen', () => (/listening on/.test(err) ? true : undefined), 10_000);
  let records: PcapRecord[] | undefined;
  return {
    file,
    stop: async () => {
      if (records) return records;
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGINT');
        await within(exited, 5000);
      }
      records = fs.existsSync(file) ? readPcap(file) : [];
      fs.rmSync(dir, { recursive: true, force: true });
      return records;
    },
  };
}

/** `ip -ts monitor neigh` on a host: the time each neighbour first took `mac` */
async function watchNeighbours(lab: Lab, host: LabHost): Promise<{ firstAt: (ip: string, mac: string) => number | undefined; stop: () => void }> {
  const child = lab.spawn(host, ['ip', '-ts', 'monitor', 'neigh'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  // ip monitor subscribes at once; a short pause makes sure it has before anything is sent
  await new Promise((r) => setTimeout(r, 200));
  return {
    firstAt: (ip, mac) => {
      for (const line of text.split('\n')) {
        const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\]\s+(\S+) dev \S+ lladdr (\S+)/.exec(line);
        if (m && m[3] === ip && m[4] === mac) return new Date(m[1]!).getTime() + Number(m[2]) / 1000;
      }
      return undefined;
    },
    stop: () => void child.kill('SIGTERM'),
  };
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function neighbour(lab: Lab, host: LabHost, ip: string): Promise<{ lladdr?: string; state?: string[]; router?: null }> {
  const out = await lab.run(host, ['ip', '-j', ip.includes(':') ? '-6' : '-4', 'neigh', 'show', ip, 'dev', 'eth0']);
  return (JSON.parse(out) as { lladdr?: string; state?: string[]; router?: null }[])[0] ?? {};
}

const VIP4 = '10.99.0.99';
const VIP6 = 'fd00:99::99';
const STALE_MAC = '02:de:ad:be:ef:01';

let lab: Lab;
let m: LabHost;
let c: LabHost;

// node 20 runs an after() registered inside a before() hook as soon as that hook ends,
// so this file registers its own cleanup here and does not use useLab's
after(() => lab?.destroy());
process.once('exit', () => void lab?.destroy());
before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'garp',
    hosts: [
      { name: 'm', ip: '10.99.0.11', ip6: 'fd00:99::11' },
      { name: 'c', ip: '10.99.0.12', ip6: 'fd00:99::12' },
    ],
  });
  m = lab.host('m');
  c = lab.host('c');
  await lab.run(m, ['ip', 'addr', 'add', `${VIP4}/24`, 'dev', 'eth0']);
  await lab.run(m, ['ip', 'addr', 'add', `${VIP6}/64`, 'dev', 'eth0', 'nodad']);
});

describe('on the wire (lab)', () => {
  test('GARPs and NAs point the client at the new master: 5 now and 5 after garp_master_delay, in keepalived format', async (t) => {
    // the client still believes the VIPs are at an old master's MAC
    await lab.run(c, ['ip', 'neigh', 'replace', VIP4, 'lladdr', STALE_MAC, 'dev', 'eth0', 'nud', 'stale']);
    await lab.run(c, ['ip', '-6', 'neigh', 'replace', VIP6, 'lladdr', STALE_MAC, 'dev', 'eth0', 'nud', 'stale']);
    assert.equal((await neighbour(lab, c, VIP4)).lladdr, STALE_MAC);
    const cap = await capture(lab, c, 'arp or (icmp6 and ip6[40] == 136)');
    const mon = await watchNeighbours(lab, c);
    try {
      const run = await lab.exec(
        m,
        [
          process.execPath,
          DRIVER,
          JSON.stringify({ op: 'announce', ifname: 'eth0', addresses: [VIP4, VIP6], timing: { masterDelay: 1, masterRepeat: 5 }, ms: 1500 }),
        ],
        15_000,
      );
      assert.equal(run.code, 0, run.stderr + run.stdout);
      const lines = jsonLines(run.stdout);
      const announcedAt = lines.find((l) => l.ready)!.announcedAt as number;
      const done = lines.find((l) => l.done)!;
      assert.deepEqual(done.counters, { garp: 10, na: 10, errors: 0, skippedNoarp: 0 });
      assert.deepEqual(done.errors, []);

      const n4 = await waitFor(
        'the client to learn the new MAC of the IPv4 VIP',
        async () => ((await neighbour(lab, c, VIP4)).lladdr === m.mac ? true : undefined),
        5000,
      );
      const n6 = await waitFor(
        'the client to learn the new MAC of the IPv6 VIP',
        async () => ((await neighbour(lab, c, VIP6)).lladdr === m.mac ? true : undefined),
        5000,
      );
      assert.ok(n4 && n6);

      // -U writes each packet as it comes: wait until all are in the file, then stop tcpdump
      await waitFor('the capture of 20 frames', () => (readPcap(cap.file).length >= 20 ? true : undefined), 5000);
      const records = await cap.stop();
      const arps = records.filter((r) => r.data.readUInt16BE(12) === 0x0806 && r.data.subarray(28, 32).join('.') === VIP4);
      const nas = records.filter((r) => r.data.readUInt16BE(12) === 0x86dd && r.data[54] === 136);
      assert.equal(arps.length, 10, 'ARPs captured');
      assert.equal(nas.length, 10, 'NAs captured');
      for (const r of arps) assert.equal(r.data.toString('hex'), keepalivedGarp(m.mac).toString('hex'), 'byte for byte the frame keepalived sends');
      for (const r of nas) {
        assert.equal(r.data.toString('hex'), naFrame(m.mac, VIP6).toString('hex'));
        assert.equal(icmp6Checksum(r.data.subarray(22, 38), r.data.subarray(38, 54), Buffer.from(r.data.subarray(54))), 0, 'the checksum holds on the wire');
      }
      const first = arps.slice(0, 5);
      const second = arps.slice(5);
      assert.ok(first[4]!.ts - first[0]!.ts < 0.5, 'the first five together');
      const gap = second[0]!.ts - first[0]!.ts;
      assert.ok(gap > 0.9 && gap < 2.5, `the second burst garp_master_delay (1 s) later, not ${gap.toFixed(3)} s`);

      const updated = mon.firstAt(VIP4, m.mac);
      const updated6 = mon.firstAt(VIP6, m.mac);
      if (updated !== undefined && updated6 !== undefined) {
        t.diagnostic(
          `announce() -> client's entry updated: ARP ${(updated - announcedAt).toFixed(2)} ms, NA ${(updated6 - announcedAt).toFixed(2)} ms; ` +
            `first packet on the wire -> entry updated: ARP ${(updated - first[0]!.ts * 1000).toFixed(3)} ms, NA ${(updated6 - nas[0]!.ts * 1000).toFixed(3)} ms`,
        );
      }
    } finally {
      mon.stop();
      await cap.stop();
    }
  });

  test('with IPv6 forwarding on, the NA carries the router flag and the client marks the VIP as a router', async () => {
    await lab.run(m, ['sysctl', '-qw', 'net.ipv6.conf.eth0.forwarding=1']);
    await lab.run(c, ['ip', '-6', 'neigh', 'replace', VIP6, 'lladdr', STALE_MAC, 'dev', 'eth0', 'nud', 'stale']);
    const cap = await capture(lab, c, 'icmp6 and ip6[40] == 136');
    try {
      const run = await lab.exec(m, [
        process.execPath,
        DRIVER,
        JSON.stringify({ op: 'announce', ifname: 'eth0', addresses: [VIP6], timing: { masterDelay: 0, masterRepeat: 2 }, ms: 300 }),
      ]);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      const n = await waitFor(
        'the client to learn the router',
        async () => {
          const e = await neighbour(lab, c, VIP6);
          return e.lladdr === m.mac && 'router' in e ? e : undefined;
        },
        5000,
      );
      assert.ok(n);
      await waitFor('the capture of 2 frames', () => (readPcap(cap.file).length >= 2 ? true : undefined), 5000);
      const nas = (await cap.stop()).filter((r) => r.data[54] === 136);
      assert.equal(nas.length, 2);
      for (const r of nas) assert.equal(r.data.toString('hex'), naFrame(m.mac, VIP6, true).toString('hex'));
    } finally {
      await cap.stop();
      await lab.run(m, ['sysctl', '-qw', 'net.ipv6.conf.eth0.forwarding=0']);
    }
  });

  test('a missing interface and a link that goes down are reported with the interface and the cause', async () => {
    const missing = await lab.exec(m, [
      process.execPath,
      DRIVER,
      JSON.stringify({ op: 'announce', ifname: 'eth9', ifindex: 999_999, addresses: [VIP4], timing: { masterDelay: 0 }, ms: 100 }),
    ]);
    assert.equal(missing.code, 0, missing.stderr + missing.stdout);
    const done = jsonLines(missing.stdout).find((l) => l.done)!;
    assert.deepEqual(done.errors, ['opening a packet socket (ifindex 999999) on eth9: No such device (ENODEV)']);

    // the delayed burst finds eth0 down: ENETDOWN, reported once for the burst
    const child = lab.spawn(
      m,
      [process.execPath, DRIVER, JSON.stringify({ op: 'announce', ifname: 'eth0', addresses: [VIP4], timing: { masterDelay: 0.5 }, ms: 1500 })],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = once(child, 'exit');
    try {
      await waitFor('the announcer to start', () => (/"ready"/.test(out) ? true : undefined), 10_000);
      await lab.run(m, ['ip', 'link', 'set', 'eth0', 'down']);
      await within(exited, 10_000);
      const lines = jsonLines(out);
      const d = lines.find((l) => l.done)!;
      assert.deepEqual(d.errors, ['sending gratuitous ARP for 10.99.0.99 on eth0: Network is down (ENETDOWN)']);
      assert.deepEqual(d.counters, { garp: 5, na: 0, errors: 5, skippedNoarp: 0 });
    } finally {
      await lab.run(m, ['ip', 'link', 'set', 'eth0', 'up']);
    }
  });
});
