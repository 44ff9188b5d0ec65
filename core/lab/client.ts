/**
 * What a client of a VIP sees, inside a lab: the judge of every fault is not
 * what the daemons say but whether a client on the same link still gets
 * answers, and which machine its neighbour (ARP) entry for the VIP names.
 *
 *   ClientObserver  echo requests to the VIP at a steady interval from a lab
 *                   host, each request and reply stamped: sent, received,
 *                   lost, the longest gap between replies in a window;
 *   NeighbourView   the client's neighbour entry for the VIP over time, from
 *                   the lab watcher's RTM_NEWNEIGH/RTM_DELNEIGH events
 *                   (VrrpLab.watch()): the MAC it named at an instant, how
 *                   long it named a MAC other than the right master's;
 *   ArpCapture      ARP packets on a host's interface (tcpdump), for the
 *                   gratuitous ARPs a master sends.
 *
 * Every time here is monotonic ns (process.hrtime.bigint(), one clock for
 * every namespace of the machine), the clock of the lab watchers and of
 * core/lab/faults.ts. The pinger is this file run as a script inside the
 * client's namespace (`node client.js --pinger VIP INTERVAL_MS`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { pcapRecords, startTcpdump } from './capture';
import { eachLine, type Lab } from './netns';
import type { WatchEvent } from './vrrp-lab';
import { RawSocket } from '../vrrp/raw-socket';

const now = (): bigint => process.hrtime.bigint();
const NS_PER_MS = 1_000_000n;

// --- echo requests -----------------------------------------------------------

export interface ClientOptions {
  vip: string;
  /** the lab host that pings (default 'client') */
  host?: string;
  /** one echo request every intervalMs (default 100) */
  intervalMs?: number;
  /** a reply later than this after its request counts as lost (default 1000, as `ping -W 1`) */
  replyTimeoutMs?: number;
}

export interface PingStats {
  /** echo requests sent in the window */
  sent: number;
  /** of those, the ones answered within the reply timeout */
  received: number;
  lost: number;
  /** the longest time in the window without a reply, the window's edges included (ms) */
  longestGapMs: number;
}

/**
 * A client pinging a VIP: one echo request every intervalMs for as long as it
 * runs, request and reply times in monotonic ns. Figures for a window are
 * final once replyTimeoutMs has passed after the window's end.
 */
export class ClientObserver {
  /** send time of request n (its index) */
  readonly sends: bigint[] = [];
  /** reply time by request number (the first reply, if duplicated) */
  readonly replies = new Map<number, bigint>();
  /** reply times in arrival order */
  readonly replyTimes: bigint[] = [];

  private constructor(
    readonly proc: ChildProcess,
    readonly vip: string,
    readonly replyTimeoutMs: number,
  ) {}

  /** Starts the pinger in the client's namespace; resolves once its socket is open (at most 10 s). */
  static start(lab: Lab, o: ClientOptions): Promise<ClientObserver> {
    const intervalMs = o.intervalMs ?? 100;
    const proc = lab.spawn(o.host ?? 'client', [process.execPath, __filename, '--pinger', o.vip, String(intervalMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const c = new ClientObserver(proc, o.vip, o.replyTimeoutMs ?? 1000);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the pinger did not start within 10 s')), 10_000);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the pinger exited (${signal ?? code})`));
      });
      eachLine(proc.stdout!, (line) => {
        const [k, t, n] = line.split(' ');
        if (k === 'ready') {
          clearTimeout(timer);
          resolve(c);
        } else if (k === 's') c.sends[Number(n)] = BigInt(t!);
        else if (k === 'r' && !c.replies.has(Number(n))) {
          c.replies.set(Number(n), BigInt(t!));
          c.replyTimes.push(BigInt(t!));
        }
      });
    });
  }

  /** Requests sent in [from, to) and what became of them; replies in [from, to] for the gaps. */
  pings(from: bigint, to: bigint): PingStats {
    const timeout = BigInt(this.replyTimeoutMs) * NS_PER_MS;
    let sent = 0;
    let received = 0;
    this.sends.forEach((t, n) => {
      if (t < from || t >= to) return;
      sent++;
      const r = this.replies.get(n);
      if (r !== undefined && r - t <= timeout) received++;
    });
    let last = from;
    let gap = 0n;
    for (const r of this.replyTimes) {
      if (r < from || r > to) continue;
      if (r - last > gap) gap = r - last;
      last = r;
    }
    if (to - last > gap) gap = to - last;
    return { sent, received, lost: sent - received, longestGapMs: Number(gap) / 1e6 };
  }

  /** The first reply at or after `since` (monotonic ns), if any came yet. */
  firstReply(since: bigint): bigint | undefined {
    return this.replyTimes.find((t) => t >= since);
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
  }
}

// --- the neighbour entry -------------------------------------------------------

/** Who should hold the VIP: one MAC throughout, or a schedule of MACs each from a time on (sorted by `from`). */
export type Expected = string | ReadonlyArray<{ from: bigint; mac: string }>;

/**
 * The client's neighbour entry for one address, over time, from the lab
 * watcher's events (VrrpLab.events, which keeps growing: every query reads
 * it as it is then). An entry in INCOMPLETE or FAILED state names no MAC
 * (the kernel sends no lladdr then): macAt() gives undefined.
 */
export class NeighbourView {
  constructor(
    private readonly events: readonly WatchEvent[],
    readonly host: string,
    readonly address: string,
  ) {}

  /** the entry's changes, in order */
  changes(from = 0n, to?: bigint): Array<{ t: bigint; mac: string | undefined }> {
    const out: Array<{ t: bigint; mac: string | undefined }> = [];
    for (const e of this.events) {
      if (e.host !== this.host || e.kind !== 'neigh' || e.address !== this.address) continue;
      if (e.t < from || (to !== undefined && e.t > to)) continue;
      out.push({ t: e.t, mac: e.op === 'new' && e.mac ? e.mac : undefined });
    }
    return out;
  }

  /** The MAC the entry named at instant t; undefined when there was no usable entry. */
  macAt(t: bigint): string | undefined {
    let mac: string | undefined;
    for (const c of this.changes(0n, t)) mac = c.mac;
    return mac;
  }

  /** ms in [from, to) during which the entry named a MAC, and one other than the expected master's. */
  wrongMs(from: bigint, to: bigint, expected: Expected): number {
    const sched = typeof expected === 'string' ? [{ from: 0n, mac: expected }] : expected;
    const expectedAt = (t: bigint): string | undefined => {
      let m: string | undefined;
      for (const s of sched) if (s.from <= t) m = s.mac;
      return m;
    };
    const cuts = new Set<bigint>([from, to]);
    for (const c of this.changes(from, to)) cuts.add(c.t);
    for (const s of sched) if (s.from > from && s.from < to) cuts.add(s.from);
    const points = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let wrong = 0n;
    for (let i = 0; i + 1 < points.length; i++) {
      const mac = this.macAt(points[i]!);
      if (mac !== undefined && mac !== expectedAt(points[i]!)) wrong += points[i + 1]! - points[i]!;
    }
    return Number(wrong) / 1e6;
  }

  /** The first instant in [since, until] at which the entry names `mac` (since itself, if it already did). */
  firstNaming(mac: string, since: bigint, until?: bigint): bigint | undefined {
    if (this.macAt(since) === mac) return since;
    return this.changes(since, until).find((c) => c.mac === mac)?.t;
  }
}

/** Asks the kernel directly (not the watcher) which MAC a host's neighbour entry for `address` names now. */
export function neighbourNow(lab: Lab, host: string, address: string): Promise<string | undefined> {
  const h = lab.host(host);
  return new Promise((resolve) => {
    const child = spawn('ip', ['-n', h.ns, '-j', 'neigh', 'show', address, 'dev', h.ifname], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    child.stdout!.on('data', (d: Buffer) => (s += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('close', () => {
      clearTimeout(timer);
      try {
        const e = (JSON.parse(s || '[]') as Array<{ lladdr?: string; state?: string[] }>)[0];
        resolve(e?.lladdr && !(e.state ?? []).some((x) => x === 'FAILED' || x === 'INCOMPLETE') ? e.lladdr : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}

// --- ARP on the wire -----------------------------------------------------------

export interface ArpPacket {
  /** monotonic ns (the capture's kernel stamp, moved from CLOCK_REALTIME) */
  t: bigint;
  op: 'request' | 'reply' | number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
  /** sender and target address are the same: an announcement (gratuitous ARP) */
  gratuitous: boolean;
}

/**
 * ARP packets on a lab host's interface, captured by tcpdump into a pcap
 * file (nanosecond kernel stamps). tcpdump stamps with CLOCK_REALTIME; read()
 * moves them to the monotonic clock with the offset between the two clocks
 * measured in this process at that moment (to within tens of µs, as long as
 * nobody steps the wall clock during the capture).
 */
export class ArpCapture {
  private constructor(
    readonly proc: ChildProcess,
    readonly file: string,
  ) {}

  /** Starts tcpdump on the host's eth0; resolves once it listens (at most 10 s). */
  static async start(lab: Lab, host: string, file: string): Promise<ArpCapture> {
    const proc = await startTcpdump(lab, host, lab.host(host).ifname, file, 'arp');
    return new ArpCapture(proc, file);
  }

  /** Every ARP packet captured so far. */
  read(): ArpPacket[] {
    let b: Buffer;
    try {
      b = fs.readFileSync(this.file);
    } catch {
      return [];
    }
    return readPcapArp(b, realtimeToMonotonicNs());
  }

  /** Gratuitous ARPs for `ip` stamped in [from, to]. */
  gratuitous(ip: string, from: bigint, to?: bigint): ArpPacket[] {
    return this.read().filter((p) => p.gratuitous && p.senderIp === ip && p.t >= from && (to === undefined || p.t <= to));
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
  }
}

/**
 * CLOCK_REALTIME minus CLOCK_MONOTONIC in ns, measured now: the moment
 * Date.now() moves to its next millisecond is read against hrtime, which
 * takes away Date.now()'s millisecond rounding (at most 2 ms of spinning).
 */
export function realtimeToMonotonicNs(): bigint {
  const first = Date.now();
  const deadline = now() + 3n * NS_PER_MS;
  let ms = first;
  let mono = now();
  while (ms === first && mono < deadline) {
    ms = Date.now();
    mono = now();
  }
  return BigInt(ms) * NS_PER_MS - mono;
}

/** ARP packets of a pcap (Ethernet, either byte order, µs or ns stamps); offsetNs = realtime - monotonic. */
export function readPcapArp(b: Buffer, offsetNs: bigint): ArpPacket[] {
  const mac = (f: Buffer, at: number): string => [...f.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  const ip4 = (f: Buffer, at: number): string => [...f.subarray(at, at + 4)].join('.');
  const out: ArpPacket[] = [];
  for (const { tNs, frame: f } of pcapRecords(b, 'the ARP capture')) {
    let off = 12;
    if (f.length >= 18 && f.readUInt16BE(off) === 0x8100) off += 4;
    if (f.length < off + 2 + 28 || f.readUInt16BE(off) !== 0x0806) continue;
    const a = off + 2;
    // Ethernet / IPv4 ARP only
    if (f.readUInt16BE(a) !== 1 || f.readUInt16BE(a + 2) !== 0x0800) continue;
    const opcode = f.readUInt16BE(a + 6);
    const senderIp = ip4(f, a + 14);
    const targetIp = ip4(f, a + 24);
    out.push({
      t: tNs - offsetNs,
      op: opcode === 1 ? 'request' : opcode === 2 ? 'reply' : opcode,
      senderMac: mac(f, a + 8),
      senderIp,
      targetMac: mac(f, a + 18),
      targetIp,
      gratuitous: senderIp === targetIp,
    });
  }
  return out;
}

// --- the pinger (runs inside the client's namespace) ------------------------------

/**
 * Sends an ICMP echo request to `vip` every intervalMs and prints
 * `s <t> <n>` per request and `r <t> <n>` per reply, t in monotonic ns taken
 * first thing, n the request's number (the 16-bit sequence on the wire is
 * mapped back to it). Requests the kernel cannot send yet (no neighbour
 * answers for the VIP) are still counted as sent: the client tried.
 */
function pinger(vip: string, intervalMs: number): void {
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  const id = process.pid & 0xffff;
  let n = -1;
  // opened here: a process that imports this module for its classes opens no raw socket
  const icmp = RawSocket.open({
    family: 4,
    protocol: 1 /* ICMP */,
    onPacket: (b) => {
      const t = now();
      const ihl = (b[0]! & 0x0f) * 4;
      if (b.length < ihl + 8 || b[ihl] !== 0 || b.readUInt16BE(ihl + 4) !== id) return;
      // the latest request with that 16-bit sequence number
      const seq = b.readUInt16BE(ihl + 6);
      const k = n - ((n - seq) & 0xffff);
      if (k >= 0) out(`r ${t} ${k}`);
    },
    onError: (err) => process.stderr.write(`pinger: ${err.message}\n`),
  });
  const send = (): void => {
    n++;
    // a buffer of its own: a send the socket cannot take yet waits with it
    const req = Buffer.alloc(16);
    req[0] = 8;
    req.writeUInt16BE(id, 4);
    req.writeUInt16BE(n & 0xffff, 6);
    req.writeUInt16BE(icmpChecksum(req), 2);
    out(`s ${now()} ${n}`);
    icmp.send(req, vip);
  };
  setInterval(send, intervalMs);
  out('ready');
  process.on('SIGTERM', () => process.exit(0));
}

function icmpChecksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

if (require.main === module && process.argv[2] === '--pinger') pinger(process.argv[3]!, Number(process.argv[4] ?? 100));
