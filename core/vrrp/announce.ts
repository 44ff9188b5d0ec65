import * as fs from 'node:fs';
import * as net from 'node:net';
import { commitPoint } from './clock';
import { PacketSocket } from './packet-socket';
import { ipToBytes } from '../net/address';
import type { Clock, TimerHandle } from './types';

/**
 * Telling the link that the virtual addresses moved: gratuitous ARPs for
 * IPv4 VIPs and unsolicited neighbour adverts for IPv6 ones, sent as whole
 * ethernet frames through an AF_PACKET socket, byte for byte as keepalived
 * 2.2.8 builds them (vrrp_arp.c, vrrp_ndisc.c), on the schedule it uses
 * (vrrp.c: a burst on becoming master, another after garp_master_delay,
 * then one every garp_master_refresh).
 */

const BROADCAST_MAC = Buffer.alloc(6, 0xff);
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;
const ARPHRD_ETHER = 1;
const ARPOP_REQUEST = 1;
const IPPROTO_ICMPV6 = 58;
const ND_NEIGHBOR_ADVERT = 136;
const ND_OPT_TARGET_LINKADDR = 2;
const ND_NA_FLAG_ROUTER = 0x80;
const ND_NA_FLAG_OVERRIDE = 0x20;
/** RFC 4861: neighbour discovery is sent with hop limit 255, and receivers drop anything else */
const NDISC_HOPLIMIT = 255;
/** ff02::1, all nodes */
const ALL_NODES = Buffer.from('ff020000000000000000000000000001', 'hex');
/** its ethernet mapping (RFC 2464): 33:33 and the last 32 bits */
const ALL_NODES_MAC = Buffer.from('333300000001', 'hex');

export function macBytes(mac: string): Buffer {
  const m = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(mac);
  if (!m) throw new TypeError(`'${mac}' is not an ethernet MAC address (six hex bytes separated by colons)`);
  return Buffer.from(m.slice(1).join(''), 'hex');
}

function ipv4(ip: string): Buffer {
  if (net.isIP(ip) !== 4) throw new TypeError(`'${ip}' is not an IPv4 address`);
  return ipToBytes(ip)!;
}

function ipv6(ip: string): Buffer {
  if (net.isIP(ip) !== 6) throw new TypeError(`'${ip}' is not an IPv6 address`);
  return ipToBytes(ip)!;
}

/**
 * A gratuitous ARP as keepalived sends it: an ARP request broadcast from the
 * interface's MAC, sender and target IP both the VIP, target MAC the
 * broadcast address. 42 bytes; the driver pads it on the wire if it must.
 */
export function garpFrame(mac: string, ip: string): Buffer {
  const src = macBytes(mac);
  const addr = ipv4(ip);
  const f = Buffer.alloc(42);
  BROADCAST_MAC.copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(ETHERTYPE_ARP, 12);
  f.writeUInt16BE(ARPHRD_ETHER, 14);
  f.writeUInt16BE(0x0800, 16);
  f.writeUInt8(6, 18);
  f.writeUInt8(4, 19);
  f.writeUInt16BE(ARPOP_REQUEST, 20);
  src.copy(f, 22);
  addr.copy(f, 28);
  BROADCAST_MAC.copy(f, 32);
  addr.copy(f, 38);
  return f;
}

/** The 16-bit one's complement sum of `b` added to `sum` (not yet folded). */
function onesSum(b: Buffer, sum = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  return sum;
}

/** ICMPv6 checksum over the IPv6 pseudo-header (RFC 8200 8.1) and the message. */
export function icmp6Checksum(src: Buffer, dst: Buffer, message: Buffer): number {
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(message.length, 32);
  pseudo.writeUInt8(IPPROTO_ICMPV6, 39);
  let sum = onesSum(message, onesSum(pseudo));
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * An unsolicited neighbour advertisement as keepalived sends it: from the
 * VIP itself to all nodes (ff02::1, 33:33:00:00:00:01), hop limit 255,
 * override flag set, router flag when the interface forwards IPv6, not
 * solicited, and a target link-layer address option with our MAC.
 * 86 bytes: ethernet 14, IPv6 40, advert 24, option 8.
 */
export function naFrame(mac: string, ip: string, router = false): Buffer {
  const src = macBytes(mac);
  const addr = ipv6(ip);
  const icmp = Buffer.alloc(32);
  icmp.writeUInt8(ND_NEIGHBOR_ADVERT, 0);
  icmp.writeUInt8(ND_NA_FLAG_OVERRIDE | (router ? ND_NA_FLAG_ROUTER : 0), 4);
  addr.copy(icmp, 8);
  icmp.writeUInt8(ND_OPT_TARGET_LINKADDR, 24);
  icmp.writeUInt8(1, 25); // option length in units of 8 bytes
  src.copy(icmp, 26);
  icmp.writeUInt16BE(icmp6Checksum(addr, ALL_NODES, icmp), 2);
  const f = Buffer.alloc(14 + 40 + icmp.length);
  ALL_NODES_MAC.copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(ETHERTYPE_IPV6, 12);
  f.writeUInt32BE(0x60000000, 14); // version 6, traffic class 0, flow label 0
  f.writeUInt16BE(icmp.length, 18);
  f.writeUInt8(IPPROTO_ICMPV6, 20);
  f.writeUInt8(NDISC_HOPLIMIT, 21);
  addr.copy(f, 22);
  ALL_NODES.copy(f, 38);
  icmp.copy(f, 54);
  return f;
}

// ---------------------------------------------------------------------------
// the announcer

/** An interface to announce on. */
export interface AnnounceLink {
  ifname: string;
  ifindex: number;
  mac: string;
  /** IFF_NOARP: keepalived sends neither ARP nor NA on such an interface */
  noarp?: boolean;
}

/** A VIP on an interface other than the announcer's own (`dev` in virtual_ipaddress). */
export interface AnnounceAddress extends AnnounceLink {
  address: string;
}

/** keepalived's garp settings, with its defaults. */
export interface AnnounceTiming {
  /** garp_master_delay: seconds from becoming master to the second burst; 0: none. Default 5 */
  masterDelay?: number;
  /** garp_master_repeat: packets per address in the first and the delayed burst. Default 5 */
  masterRepeat?: number;
  /** garp_master_refresh: seconds between refresh bursts while master; 0 (default): none */
  masterRefresh?: number;
  /** garp_master_refresh_repeat: packets per address in a refresh burst. Default 1 */
  masterRefreshRepeat?: number;
  /** vrrp_garp_interval: ms between two gratuitous ARPs on one interface. Default 0 */
  garpIntervalMs?: number;
  /** vrrp_gna_interval: ms between two neighbour adverts on one interface. Default 0 */
  gnaIntervalMs?: number;
  /** garp_lower_prio_repeat: packets per address when a master hears a lower priority; 0: none. Default 5 */
  lowerPrioRepeat?: number;
  /** garp_lower_prio_delay: seconds from then to a second such burst; 0: none. Default 5 */
  lowerPrioDelay?: number;
  /**
   * garp_extra_if / vrrp_garp_extra_if: seconds between the periodic
   * gratuitous ARP / NA on each of `extraIfAddresses`' interfaces while
   * master, the first masterDelay + this after becoming master; 0 (default): none
   */
  extraIfInterval?: number;
}

/** Sends one frame on one interface; the default opens the interface's packet socket. */
export interface FrameSender {
  send(frame: Buffer, what: string): void;
  close(): void;
}

export interface AnnouncerOptions extends AnnounceLink, AnnounceTiming {
  /** the VIPs: an address (on this interface) or an address with an interface of its own; IPv4 and IPv6 */
  addresses: Array<string | AnnounceAddress>;
  clock: Clock;
  /** a packet that could not be sent, or a socket that could not be opened; never thrown from a timer */
  onError?: (err: Error) => void;
  /** opens the sender of an interface (tests and the daemon's process model may replace it) */
  openSender?: (link: AnnounceLink) => FrameSender;
  /** whether the interface forwards IPv6 (the NA router flag); default /proc/sys/net/ipv6/conf/IF/forwarding */
  isRouter?: (ifname: string) => boolean;
  /** the addresses (one per interface) the extraIfInterval announcements are for */
  extraIfAddresses?: readonly string[];
}

export type AnnounceKind = 'garp' | 'na';

interface Target {
  address: string;
  kind: AnnounceKind;
  link: AnnounceLink;
  /** built when the announcer is made, so sending is only a system call: the ARP, or the NA without and with the router flag */
  frame: Buffer;
  routerFrame?: Buffer;
}

interface Pacer {
  queue: { target: Target; burst: number }[];
  /** clock time before which this interface sends no packet of this kind */
  nextAt: number;
  timer: TimerHandle | undefined;
}

/** keepalived re-reads the forwarding sysctl at most every 5 s */
const ROUTER_CHECK_MS = 5000;

const DEFAULTS: Required<AnnounceTiming> = {
  masterDelay: 5,
  masterRepeat: 5,
  masterRefresh: 0,
  masterRefreshRepeat: 1,
  garpIntervalMs: 0,
  gnaIntervalMs: 0,
  lowerPrioRepeat: 5,
  lowerPrioDelay: 5,
  extraIfInterval: 0,
};

function defaultSender(link: AnnounceLink): FrameSender {
  const sock = PacketSocket.open(link.ifindex, link.ifname);
  return { send: (frame, what) => void sock.send(frame, what), close: () => sock.close() };
}

function procForwarding(ifname: string): boolean {
  try {
    return fs.readFileSync(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, 'utf8').trim() !== '0';
  } catch {
    return false;
  }
}

/**
 * Announces one VRRP instance's VIPs while it is master. `announce()` on
 * entering MASTER (after the addresses are on the interface): masterRepeat
 * packets per address at once, masterRepeat more after masterDelay seconds,
 * then masterRefreshRepeat every masterRefresh seconds. `stop()` on leaving
 * MASTER cancels whatever is scheduled and closes the sockets.
 *
 * Packets of one kind on one interface are spaced by garpIntervalMs /
 * gnaIntervalMs when those are set (keepalived's vrrp_garp_interval): the
 * rest wait in order. Without an interval a burst goes out at once.
 */
export class Announcer {
  private readonly timing: Required<AnnounceTiming>;
  private readonly targets: Target[];
  private readonly clock: Clock;
  private readonly onError: (err: Error) => void;
  private readonly openSender: (link: AnnounceLink) => FrameSender;
  private readonly isRouter: (ifname: string) => boolean;
  private readonly senders = new Map<number, FrameSender>();
  private readonly pacers = new Map<string, Pacer>();
  private readonly routerCache = new Map<string, { at: number; router: boolean }>();
  private delayTimer: TimerHandle | undefined;
  private refreshTimer: TimerHandle | undefined;
  private lowerPrioTimer: TimerHandle | undefined;
  private extraIfTimer: TimerHandle | undefined;
  private readonly extraIf: ReadonlySet<string>;
  /** delayed bursts for addresses put back after someone removed them, by address */
  private readonly restoreTimers = new Map<string, TimerHandle>();
  private burstSeq = 0;
  /** errors already reported in a burst: one report per burst, interface, kind and cause */
  private readonly reported = new Map<number, Set<string>>();
  private running = false;
  /** packets sent and failed since creation */
  readonly counters = { garp: 0, na: 0, errors: 0, skippedNoarp: 0 };

  constructor(opts: AnnouncerOptions) {
    this.timing = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as (keyof AnnounceTiming)[]) {
      const v = opts[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`announcer: ${k} must be a number >= 0, not ${String(v)}`);
      this.timing[k] = v;
    }
    for (const k of ['masterRepeat', 'masterRefreshRepeat', 'lowerPrioRepeat'] as const) {
      if (!Number.isInteger(this.timing[k])) throw new RangeError(`announcer: ${k} must be a whole number, not ${this.timing[k]}`);
    }
    const own: AnnounceLink = { ifname: opts.ifname, ifindex: opts.ifindex, mac: opts.mac, ...(opts.noarp ? { noarp: true } : {}) };
    this.targets = opts.addresses.map((a) => {
      const address = typeof a === 'string' ? a : a.address;
      const link = typeof a === 'string' ? own : { ifname: a.ifname, ifindex: a.ifindex, mac: a.mac, ...(a.noarp ? { noarp: true } : {}) };
      const family = net.isIP(address);
      if (family === 0) throw new TypeError(`announcer: '${address}' is not an IP address`);
      if (family === 4) return { address, kind: 'garp', link, frame: garpFrame(link.mac, address) };
      return { address, kind: 'na', link, frame: naFrame(link.mac, address, false), routerFrame: naFrame(link.mac, address, true) };
    });
    this.clock = opts.clock;
    this.onError = opts.onError ?? (() => {});
    this.openSender = opts.openSender ?? defaultSender;
    this.isRouter = opts.isRouter ?? procForwarding;
    this.extraIf = new Set(opts.extraIfAddresses ?? []);
  }

  /** True between announce() and stop(). */
  get active(): boolean {
    return this.running;
  }

  /** On becoming master: the first burst now, the delayed one and the refreshes scheduled. Restarts if already active. */
  announce(): void {
    this.cancel();
    this.running = true;
    const t = this.timing;
    this.burst(t.masterRepeat);
    if (t.masterDelay > 0 && t.masterRepeat > 0) {
      this.delayTimer = this.clock.setTimer(t.masterDelay * 1000, () => {
        this.delayTimer = undefined;
        this.burst(t.masterRepeat);
      });
    }
    if (t.masterRefresh > 0 && t.masterRefreshRepeat > 0) this.scheduleRefresh();
    if (t.extraIfInterval > 0 && this.extraIf.size > 0) this.scheduleExtraIf((t.masterDelay + t.extraIfInterval) * 1000);
  }

  /**
   * keepalived's vrrp_gratuitous_arp_vmac_update_thread: one gratuitous ARP
   * or NA per extra interface every extraIfInterval seconds, so a switch
   * keeps the VMAC's port in its MAC table when the adverts leave from
   * another interface (vmac_xmit_base) or another MAC.
   */
  private scheduleExtraIf(ms: number): void {
    this.extraIfTimer = this.clock.setTimer(ms, () => {
      this.extraIfTimer = undefined;
      this.burst(1, this.extraIf);
      if (this.running) this.scheduleExtraIf(this.timing.extraIfInterval * 1000);
    });
  }

  /**
   * One extra burst of `repeat` packets per address now, without touching
   * the schedule; only for the addresses in `only` when given. Works
   * whether or not announce() ran.
   */
  burst(repeat: number, only?: ReadonlySet<string>): void {
    if (!Number.isInteger(repeat) || repeat < 0) throw new RangeError(`announcer: repeat must be a whole number >= 0, not ${repeat}`);
    const id = ++this.burstSeq;
    this.reported.set(id, new Set());
    const targets = only ? this.targets.filter((t) => only.has(t.address)) : this.targets;
    // as keepalived: round after round, every address in each round
    for (let i = 0; i < repeat; i++) for (const target of targets) this.enqueue(target, id);
    this.forgetBurst(id);
  }

  /**
   * A master heard a lower-priority advert (keepalived's
   * garp_lower_prio_repeat / garp_lower_prio_delay): clients that followed
   * the other router come back. A burst now, and another lowerPrioDelay
   * seconds after the last such advert.
   */
  lowerPriority(): void {
    const t = this.timing;
    if (t.lowerPrioRepeat === 0) return;
    this.burst(t.lowerPrioRepeat);
    if (t.lowerPrioDelay <= 0) return;
    if (this.lowerPrioTimer) this.clock.clearTimer(this.lowerPrioTimer);
    this.lowerPrioTimer = this.clock.setTimer(t.lowerPrioDelay * 1000, () => {
      this.lowerPrioTimer = undefined;
      this.burst(t.lowerPrioRepeat);
    });
  }

  /**
   * Addresses someone else removed and the master put back: announced as on
   * becoming master (masterRepeat now and again after masterDelay), these
   * addresses only.
   */
  restored(addresses: readonly string[]): void {
    const t = this.timing;
    const only = new Set(addresses);
    this.burst(t.masterRepeat, only);
    if (t.masterDelay <= 0 || t.masterRepeat === 0) return;
    for (const a of only) {
      const old = this.restoreTimers.get(a);
      if (old) this.clock.clearTimer(old);
      this.restoreTimers.set(
        a,
        this.clock.setTimer(t.masterDelay * 1000, () => {
          this.restoreTimers.delete(a);
          this.burst(t.masterRepeat, new Set([a]));
        }),
      );
    }
  }

  /** On leaving master: nothing more is sent; sockets are closed (reopened by the next announce). */
  stop(): void {
    this.cancel();
    for (const s of this.senders.values()) {
      try {
        s.close();
      } catch (err) {
        this.report(err as Error);
      }
    }
    this.senders.clear();
  }

  private cancel(): void {
    this.running = false;
    if (this.delayTimer) this.clock.clearTimer(this.delayTimer);
    if (this.refreshTimer) this.clock.clearTimer(this.refreshTimer);
    if (this.lowerPrioTimer) this.clock.clearTimer(this.lowerPrioTimer);
    if (this.extraIfTimer) this.clock.clearTimer(this.extraIfTimer);
    this.extraIfTimer = undefined;
    for (const t of this.restoreTimers.values()) this.clock.clearTimer(t);
    this.restoreTimers.clear();
    this.delayTimer = undefined;
    this.refreshTimer = undefined;
    this.lowerPrioTimer = undefined;
    for (const p of this.pacers.values()) {
      if (p.timer) this.clock.clearTimer(p.timer);
      p.timer = undefined;
      p.queue.length = 0;
    }
    this.reported.clear();
  }

  private scheduleRefresh(): void {
    this.refreshTimer = this.clock.setTimer(this.timing.masterRefresh * 1000, () => {
      this.refreshTimer = undefined;
      this.burst(this.timing.masterRefreshRepeat);
      if (this.running) this.scheduleRefresh();
    });
  }

  private enqueue(target: Target, burst: number): void {
    const interval = target.kind === 'garp' ? this.timing.garpIntervalMs : this.timing.gnaIntervalMs;
    if (interval <= 0) {
      this.send(target, burst);
      return;
    }
    const key = `${target.kind}/${target.link.ifindex}`;
    let p = this.pacers.get(key);
    if (!p) {
      p = { queue: [], nextAt: -Infinity, timer: undefined };
      this.pacers.set(key, p);
    }
    const now = this.clock.now();
    if (p.queue.length === 0 && now >= p.nextAt) {
      p.nextAt = now + interval;
      this.send(target, burst);
      return;
    }
    p.queue.push({ target, burst });
    this.armPacer(p, interval);
  }

  private armPacer(p: Pacer, interval: number): void {
    if (p.timer || p.queue.length === 0) return;
    p.timer = this.clock.setTimer(Math.max(0, p.nextAt - this.clock.now()), () => {
      p.timer = undefined;
      const next = p.queue.shift();
      if (!next) return;
      p.nextAt = this.clock.now() + interval;
      this.send(next.target, next.burst);
      this.forgetBurst(next.burst);
      this.armPacer(p, interval);
    });
  }

  /** drops a burst's error memory once none of its packets waits any more */
  private forgetBurst(id: number): void {
    for (const p of this.pacers.values()) if (p.queue.some((q) => q.burst === id)) return;
    this.reported.delete(id);
  }

  private send(target: Target, burst: number): void {
    const link = target.link;
    if (link.noarp) {
      this.counters.skippedNoarp++;
      return;
    }
    const what = `${target.kind === 'garp' ? 'gratuitous ARP' : 'unsolicited neighbour advert'} for ${target.address}`;
    try {
      let sender = this.senders.get(link.ifindex);
      if (!sender) {
        sender = this.openSender(link);
        this.senders.set(link.ifindex, sender);
      }
      const frame = target.routerFrame && this.router(link.ifname) ? target.routerFrame : target.frame;
      commitPoint();
      sender.send(frame, `sending ${what}`);
      this.counters[target.kind]++;
    } catch (err) {
      this.counters.errors++;
      const e = err as Error & { errno?: unknown };
      const errno = typeof e.errno === 'string' ? e.errno : undefined;
      // a vanished interface: the next burst opens a fresh socket (and fails clearly if it is still gone)
      if (errno === 'ENODEV' || errno === 'ENXIO' || errno === 'EBADF') this.dropSender(link.ifindex);
      const key = `${link.ifindex}/${target.kind}/${errno ?? e.message}`;
      const seen = this.reported.get(burst);
      if (seen?.has(key)) return;
      seen?.add(key);
      this.report(e);
    }
  }

  private dropSender(ifindex: number): void {
    const s = this.senders.get(ifindex);
    this.senders.delete(ifindex);
    try {
      s?.close();
    } catch {
      // the socket is being discarded after an error already reported
    }
  }

  private router(ifname: string): boolean {
    const now = this.clock.now();
    const c = this.routerCache.get(ifname);
    if (c && now - c.at < ROUTER_CHECK_MS) return c.router;
    const router = this.isRouter(ifname);
    this.routerCache.set(ifname, { at: now, router });
    return router;
  }

  private report(err: Error): void {
    try {
      this.onError(err);
    } catch {
      // the error callback's own failure must not break the schedule
    }
  }
}

let rehearsed = false;

/**
 * Runs a throwaway announcer, whose sender sends nothing and whose timers
 * never fire, through one announce() and stop(): V8 compiles a function at
 * its first call, and a backup's first takeover would otherwise compile the
 * gratuitous ARP path between its VIP and the client's ARP entry. Once per
 * process.
 */
export function warmUpAnnouncer(): void {
  if (rehearsed) return;
  rehearsed = true;
  let seq = 0;
  const clock: Clock = { now: () => 0, setTimer: () => ({ id: ++seq }), clearTimer: () => {} };
  const a = new Announcer({
    ifname: 'rehearsal',
    ifindex: 1,
    mac: '02:00:00:00:00:01',
    addresses: ['192.0.2.10', '2001:db8::10'],
    clock,
    openSender: () => ({ send: () => {}, close: () => {} }),
    isRouter: () => false,
  });
  a.announce();
  a.lowerPriority();
  a.restored(['192.0.2.10']);
  a.stop();
}
