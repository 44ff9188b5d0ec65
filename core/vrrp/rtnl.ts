import * as fs from 'node:fs';
import * as net from 'node:net';
import * as util from 'node:util';
// the rtnetlink part of the package only: its index also loads nl80211, WireGuard and generic netlink,
// half a megabyte of source the VRRP process would hold and never use
import { createRtNetlink, type RtNetlinkSocket } from 'netlink/dist/rt/rt';
import * as rt from 'netlink/dist/rt/structs';
import { parseError, type NetlinkMessage } from 'netlink/dist/structs';
import { commitPoint } from './clock';

/**
 * rtnetlink for the VRRP engine: interfaces (list, look up, watch for
 * up/down), addresses (list, add, delete with keepalived's
 * virtual_ipaddress options) and routes (virtual_routes).
 *
 * The `netlink` package gives the socket, request/ACK matching and the
 * parsers of what the kernel sends; the requests alived sends are encoded
 * here, so every attribute is exactly the one keepalived sends
 * (vrrp_ipaddress.c netlink_ipaddress, vrrp_iproute.c netlink_route).
 *
 * A netlink socket acts in the network namespace of the process that opens
 * it: tests run this inside a lab namespace.
 */

// ---------------------------------------------------------------------------
// addresses as text and bytes

/** The address as network-order bytes (4 or 16), or undefined when it is not an IP address. */
export function ipToBytes(text: string): Buffer | undefined {
  const kind = net.isIP(text);
  if (kind === 4) return Buffer.from(text.split('.').map(Number));
  if (kind !== 6) return undefined;
  let s = text;
  const dot = s.lastIndexOf('.');
  if (dot >= 0) {
    // an embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups
    const colon = s.lastIndexOf(':');
    const v4 = s.slice(colon + 1).split('.').map(Number);
    s = `${s.slice(0, colon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Text of 4 or 16 address bytes; IPv6 in RFC 5952's form (lowercase, longest zero run as ::). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The canonical text of an address (so '2001:DB8::0:1' and '2001:db8::1' compare equal), or the text itself if it is not one. */
export function canonicalIp(text: string): string {
  const b = ipToBytes(text);
  return b ? bytesToIp(b) : text;
}

/** 4 or 6 for an address, else a thrown RtnlError naming `what` */
function familyOf(address: string, what: string): 4 | 6 {
  const k = net.isIP(address);
  if (k === 0) throw new RtnlError(`${what}: '${address}' is not an IP address`, 'EINVAL');
  return k as 4 | 6;
}

function bytesOf(address: string, what: string): Buffer {
  const b = ipToBytes(address);
  if (!b) throw new RtnlError(`${what}: '${address}' is not an IP address`, 'EINVAL');
  return b;
}

function macText(b: Uint8Array | undefined): string {
  return b ? Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':') : '';
}

// ---------------------------------------------------------------------------
// errors

/** What a failed request was, why, and the kernel's errno name in `code` (EEXIST, ENODEV, ESRCH, ...). */
export class RtnlError extends Error {
  readonly code: string;
  /** negated errno, as in Node's system errors; undefined for errors alived found itself */
  readonly errno: number | undefined;
  constructor(message: string, code: string, errno?: number) {
    super(message);
    this.name = 'RtnlError';
    this.code = code;
    this.errno = errno;
  }
}

function errnoReason(errno: number): { code: string; text: string } {
  const entry = util.getSystemErrorMap().get(errno);
  if (!entry) return { code: `E${-errno}`, text: `error ${-errno}` };
  return { code: entry[0], text: entry[1].charAt(0).toUpperCase() + entry[1].slice(1) };
}

function kernelError(what: string, errno: number): RtnlError {
  const { code, text } = errnoReason(errno);
  return new RtnlError(`${what}: ${text} (${code})`, code, errno);
}

// ---------------------------------------------------------------------------
// names of scopes, tables, protocols and route types

const BUILTIN_SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };
const BUILTIN_TABLES: Record<string, number> = { unspec: 0, default: 253, main: 254, local: 255 };
const BUILTIN_PROTOCOLS: Record<string, number> = {
  unspec: 0, none: 0, redirect: 1, kernel: 2, boot: 3, static: 4, gated: 8, ra: 9, mrt: 10, zebra: 11, bird: 12, dnrouted: 13,
  xorp: 14, ntk: 15, dhcp: 16, mrouted: 17, keepalived: 18, babel: 42, openr: 99, bgp: 186, isis: 187, ospf: 188, rip: 189, eigrp: 192,
};
const ROUTE_TYPES: Record<string, number> = {
  unspec: 0, unicast: 1, local: 2, broadcast: 3, brd: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8, throw: 9, nat: 10, xresolve: 11,
};

const nameTables = new Map<string, Map<string, number>>();

/**
 * iproute2's name table `file` (rt_tables, rt_protos, rt_scopes, rt_realms):
 * /etc/iproute2 with its .d directory, then the distribution's defaults.
 * Read once per process.
 */
function iproute2Names(file: string): Map<string, number> {
  const cached = nameTables.get(file);
  if (cached) return cached;
  const names = new Map<string, number>();
  const files: string[] = [];
  for (const dir of ['/usr/lib/iproute2', '/usr/share/iproute2', '/etc/iproute2']) {
    files.push(`${dir}/${file}`);
    try {
      for (const f of fs.readdirSync(`${dir}/${file}.d`).sort()) if (f.endsWith('.conf')) files.push(`${dir}/${file}.d/${f}`);
    } catch {
      // no such directory: nothing to add
    }
  }
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^\s*(0x[0-9a-fA-F]+|\d+)\s+(\S+)/.exec(line);
      if (m) names.set(m[2]!, m[1]!.startsWith('0x') ? parseInt(m[1]!, 16) : Number(m[1]));
    }
  }
  nameTables.set(file, names);
  return names;
}

function resolveName(value: string | number, builtin: Record<string, number>, file: string, what: string, max: number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new RtnlError(`${what} ${value} is out of range 0..${max}`, 'EINVAL');
    return value;
  }
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(value)) return resolveName(value.startsWith('0x') ? parseInt(value, 16) : Number(value), builtin, file, what, max);
  const n = builtin[value] ?? iproute2Names(file).get(value);
  if (n === undefined) throw new RtnlError(`${what} '${value}' is not known (not built in, nor in iproute2's ${file})`, 'EINVAL');
  return n;
}

/** a scope number as `ip` shows it (global, link, host, ...), else the number */
export function scopeName(scope: number): string {
  for (const [name, n] of Object.entries(BUILTIN_SCOPES)) if (n === scope && name !== 'universe') return name;
  for (const [name, n] of iproute2Names('rt_scopes')) if (n === scope) return name;
  return String(scope);
}

/** scope name (host, link, site, global, nowhere, or rt_scopes) or number -> number */
export function scopeNumber(scope: string | number): number {
  return resolveName(scope, BUILTIN_SCOPES, 'rt_scopes', 'scope', 255);
}

export function tableNumber(table: string | number): number {
  return resolveName(table, BUILTIN_TABLES, 'rt_tables', 'routing table', 0xffffffff);
}

export function protocolNumber(protocol: string | number): number {
  return resolveName(protocol, BUILTIN_PROTOCOLS, 'rt_protos', 'route protocol', 255);
}

// ---------------------------------------------------------------------------
// request encoding

const NLMSG_ERROR = 2;
const F_EXCL = 0x200;
const F_CREATE = 0x400;
const F_APPEND = 0x800;
const F_DUMP = 0x300;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWRULE = 32;
const RTM_DELRULE = 33;

const AF_INET = 2;
const AF_INET6 = 10;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_CACHEINFO = 6;
const IFA_FLAGS = 8;

const IFA_F_NODAD = 0x02;
const IFA_F_HOMEADDRESS = 0x10;
const IFA_F_MANAGETEMPADDR = 0x100;
const IFA_F_NOPREFIXROUTE = 0x200;
const IFA_F_MCAUTOJOIN = 0x400;

const RTA_DST = 1;
const RTA_SRC = 2;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_METRICS = 8;
const RTA_MULTIPATH = 9;
const RTA_FLOW = 11;
const RTA_TABLE = 15;
const RTA_PREF = 20;
const RTA_EXPIRES = 23;
const RTA_TTL_PROPAGATE = 26;

const RTNH_F_ONLINK = 4;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_NOWHERE = 255;
const RT_TABLE_MAIN = 254;
const RTPROT_KEEPALIVED = 18;
const INFINITY_LIFE_TIME = 0xffffffff;

/** RTAX_* of the metrics a route may carry, by the option that sets it */
const RTAX: Record<string, number> = {
  lock: 1, mtu: 2, window: 3, rtt: 4, rttvar: 5, ssthresh: 6, cwnd: 7, advmss: 8, reordering: 9, hoplimit: 10, initcwnd: 11,
  features: 12, rto_min: 13, initrwnd: 14, quickack: 15, congctl: 16, fastopen_no_cookie: 17,
};

/** A netlink attribute: header, payload, padding to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
}

// ---------------------------------------------------------------------------
// public shapes

/** One interface as the kernel reports it. */
export interface LinkInfo {
  index: number;
  name: string;
  /** lowercase colon-separated hardware address; '' for links without one */
  mac: string;
  /** IFF_UP and IFF_RUNNING, keepalived's test of a usable interface */
  up: boolean;
  /** IFF_UP: set up by the administrator */
  adminUp: boolean;
  /** RFC 2863 state: up, down, lowerlayerdown, dormant, unknown, ... */
  operstate: string;
  mtu: number;
  /** IFF_NOARP: keepalived sends no gratuitous ARP or NA on it */
  noarp: boolean;
  /** ARPHRD_* type (1: ethernet, 772: loopback) */
  type: number;
}

export type LinkEventType = 'added' | 'up' | 'down' | 'changed' | 'deleted';

export interface LinkEvent {
  type: LinkEventType;
  link: LinkInfo;
  /** what was known before this event ('changed', 'up', 'down', 'deleted') */
  previous?: LinkInfo;
}

export interface LinkWatch {
  /** the links as known now (updated by every event) */
  readonly current: ReadonlyMap<number, LinkInfo>;
  close(): void;
}

/** An address added to or removed from an interface, as the kernel reports it to a watch. */
export interface AddressEvent {
  type: 'added' | 'deleted';
  address: AddressInfo;
}

/** A route as the kernel reports it to a watch: what identifies it, enough to match a virtual route. */
export interface RouteInfo {
  family: 4 | 6;
  /** the destination address; '0.0.0.0' / '::' for a default route */
  dst: string;
  prefix: number;
  /** the table number (254: main) */
  table: number;
  /** RTN_* (1: unicast, 6: blackhole, ...) */
  type: number;
  /** RTA_PRIORITY, when the kernel sends it */
  metric?: number;
  tos: number;
}

export interface RouteEvent {
  type: 'added' | 'deleted';
  route: RouteInfo;
}

/** A watch of kernel notifications; close() ends it. */
export interface NetlinkWatch {
  close(): void;
}

/** One address on an interface, as the kernel reports it. */
export interface AddressInfo {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefix: number;
  /** the peer of a point-to-point address */
  peer?: string;
  broadcast?: string;
  label?: string;
  scope: number;
  /** kernel flag names: secondary, nodad, tentative, permanent, noprefixroute, ... */
  flags: string[];
  /** seconds; undefined when forever */
  preferredLft?: number;
  validLft?: number;
}

/**
 * An address to add or delete: keepalived's virtual_ipaddress options, with
 * the kernel's meaning (nodad: set IFA_F_NODAD; keepalived's config word
 * `-nodad` means the opposite, which vips.ts translates).
 */
export interface AddressSpec {
  address: string;
  /** default 32 (IPv4) or 128 (IPv6); with a peer, the peer's prefix */
  prefix?: number | undefined;
  /** IPv4: a broadcast address, '+' (host bits set) or '-' (host bits clear); none by default */
  broadcast?: string;
  label?: string;
  /** host, link, site, global, nowhere (or a name from rt_scopes) or 0..255; default global */
  scope?: string | number;
  peer?: { address: string; prefix?: number | undefined };
  home?: boolean;
  nodad?: boolean;
  mngtmpaddr?: boolean;
  noprefixroute?: boolean;
  autojoin?: boolean;
  /** seconds (0: deprecated at once) or 'forever' (the default) */
  preferredLft?: number | 'forever';
}

/** A route nexthop of a multipath route. */
export interface NexthopSpec {
  via?: { address: string };
  dev?: string;
  /** 1..256 */
  weight?: number;
  onlink?: boolean;
  /** `[FROM/]TO` realms of this path (IPv4) */
  realms?: string;
  /** not supported by alived: refused with a clear error */
  encap?: unknown;
}

/**
 * A route to add or delete: the fields of keepalived's virtual_routes that
 * alived sends (a RouteEntry of the config is one).
 */
export interface RouteSpec {
  /** default: the family of dst (or of via for 'default') */
  family?: 4 | 6;
  /** unicast (default), blackhole, unreachable, prohibit, local, broadcast, anycast, multicast, throw, nat */
  type?: string;
  dst: { address: string; prefix?: number | undefined } | 'default';
  /** preferred source address */
  src?: { address: string };
  /** source prefix (IPv6) */
  from?: { address: string; prefix?: number | undefined } | 'default';
  via?: { address: string };
  dev?: string;
  /** default main */
  table?: string | number;
  /** default keepalived (18), as keepalived marks its routes */
  protocol?: string | number;
  /** default global on add; any on delete */
  scope?: string | number;
  metric?: number;
  tos?: string | number;
  onlink?: boolean;
  /** prepend (default): create; add: fail if it exists; append: add another nexthop */
  mode?: 'prepend' | 'add' | 'append';
  nexthops?: NexthopSpec[];
  /** metrics and attributes as the config writes them (mtu, advmss, rtt, realms, pref, expires, ...) */
  attrs?: Record<string, string | number | true>;
  /** metrics given with `lock` */
  locked?: string[];
  /** not supported by alived: refused with a clear error */
  encap?: unknown;
  vrf?: string;
}

/**
 * A policy routing rule to add or delete: the fields of keepalived's
 * virtual_rules / static_rules (a RuleEntry of the config is one).
 */
export interface RuleSpec {
  family: 4 | 6;
  action: 'table' | 'l3mdev' | 'goto' | 'nop' | 'blackhole' | 'unreachable' | 'prohibit';
  table?: string | number;
  gotoTarget?: number;
  from?: { address: string; prefix?: number | undefined } | 'default';
  to?: { address: string; prefix?: number | undefined } | 'default';
  not?: true;
  preference?: number;
  tos?: string | number;
  fwmark?: number;
  fwmask?: number;
  realms?: string;
  suppressPrefixlength?: number;
  suppressIfgroup?: string | number;
  iif?: string;
  oif?: string;
  tunnelId?: string;
  uidrange?: { start: number; end: number };
  /** FRA_PROTOCOL; sent only when given */
  protocol?: number;
  ipproto?: string | number;
  sport?: { start: number; end: number };
  dport?: { start: number; end: number };
}

/** A rule added or removed, as the kernel reports it to a watch (only what a caller needs to look again). */
export interface RuleEvent {
  type: 'added' | 'deleted';
  family: 4 | 6;
}

/** An add-address request encoded by Rtnl.prepareAddress(), for that interface and spec only. */
export interface PreparedAddress {
  readonly ifindex: number;
  readonly spec: AddressSpec;
  readonly body: Buffer;
}

export interface RtnlOptions {
  /** bound on each request, ms; default 5000 */
  timeoutMs?: number;
}

/** `10.0.0.1/24`, or without /len for a host address */
export function addressText(a: { address: string; prefix?: number | undefined }): string {
  return a.prefix === undefined ? a.address : `${a.address}/${a.prefix}`;
}

/**
 * Whether a route the kernel reports is the virtual route `r`: the same
 * family, destination, table, type, and metric and TOS where `r` gives
 * them. Loose on purpose: what else differs is the kernel's to keep, and
 * putting a route back that is still there only answers EEXIST.
 */
export function routeMatches(r: RouteSpec, k: RouteInfo): boolean {
  let dst: { address: string; prefix: number };
  let family: 4 | 6;
  try {
    if (r.dst === 'default') {
      family = r.family ?? (r.via && net.isIP(r.via.address) === 6 ? 6 : 4);
      dst = { address: family === 4 ? '0.0.0.0' : '::', prefix: 0 };
    } else {
      family = net.isIP(r.dst.address) === 6 ? 6 : 4;
      dst = { address: canonicalIp(r.dst.address), prefix: r.dst.prefix ?? (family === 4 ? 32 : 128) };
    }
    if (k.family !== family || k.dst !== dst.address || k.prefix !== dst.prefix) return false;
    if (k.table !== tableNumber(r.table ?? RT_TABLE_MAIN)) return false;
    if (k.type !== ROUTE_TYPES[r.type ?? 'unicast']) return false;
    if (r.metric !== undefined && k.metric !== undefined && r.metric !== k.metric) return false;
    if (r.tos !== undefined && resolveName(r.tos, {}, 'rt_dsfield', 'tos', 255) !== k.tos) return false;
    return true;
  } catch {
    return false;
  }
}

export function routeText(r: RouteSpec): string {
  const parts = [r.type && r.type !== 'unicast' ? `${r.type} ` : '', r.dst === 'default' ? 'default' : addressText(r.dst)];
  if (r.via) parts.push(` via ${r.via.address}`);
  if (r.dev) parts.push(` dev ${r.dev}`);
  if (r.table !== undefined) parts.push(` table ${r.table}`);
  if (r.metric !== undefined) parts.push(` metric ${r.metric}`);
  return parts.join('');
}

const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

function linkInfo(m: rt.LinkMessage): LinkInfo {
  const f = m.data.flags ?? {};
  const type = typeof m.data.type === 'number' ? m.data.type : m.data.type !== undefined ? rt.LinkType[m.data.type] : 0;
  return {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    mac: macText(m.attrs.address),
    up: Boolean(f.up && f.running),
    adminUp: Boolean(f.up),
    operstate: OPERSTATES[m.attrs.operstate ?? 0] ?? String(m.attrs.operstate),
    mtu: m.attrs.mtu ?? 0,
    noarp: Boolean(f.noarp),
    type,
  };
}

/** A link with its kind, lower interface, macvlan mode and alias (Rtnl.linkDetail). */
export interface LinkDetail extends LinkInfo {
  /** IFLA_INFO_KIND: macvlan, veth, bridge, ...; undefined for a physical one */
  kind?: string;
  /** IFLA_LINK: the lower interface's index (a macvlan's base) */
  lowerIndex?: number;
  /** IFLA_MACVLAN_MODE of a macvlan (1 private, 2 vepa, 4 bridge, 8 passthru, 16 source) */
  macvlanMode?: number;
  /** IFLA_IFALIAS */
  alias?: string;
  /** IFLA_GROUP, when not 0 */
  group?: number;
}

/** the nested attributes of a buffer, by type (the first of each) */
function nested(b: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let at = 0; at + 4 <= b.length; ) {
    const len = b.readUInt16LE(at);
    const type = b.readUInt16LE(at + 2) & 0x3fff;
    if (len < 4 || at + len > b.length) break;
    if (!out.has(type)) out.set(type, b.subarray(at + 4, at + len));
    at += (len + 3) & ~3;
  }
  return out;
}

function linkDetail(m: rt.LinkMessage): LinkDetail {
  const out: LinkDetail = linkInfo(m);
  const raw = m.attrs as { link?: Buffer | number; linkinfo?: Buffer; ifalias?: string; group?: number };
  if (typeof raw.group === 'number' && raw.group > 0) out.group = raw.group;
  if (typeof raw.link === 'number') out.lowerIndex = raw.link;
  else if (raw.link && raw.link.length >= 4) out.lowerIndex = raw.link.readUInt32LE(0);
  if (raw.ifalias !== undefined) out.alias = raw.ifalias;
  if (raw.linkinfo) {
    const info = nested(raw.linkinfo);
    const kind = info.get(1 /* IFLA_INFO_KIND */);
    if (kind) out.kind = kind.toString('utf8').replace(/\0.*$/s, '');
    const data = info.get(2 /* IFLA_INFO_DATA */);
    const mode = data ? nested(data).get(1 /* IFLA_MACVLAN_MODE */) : undefined;
    if (out.kind === 'macvlan' && mode && mode.length >= 4) out.macvlanMode = mode.readUInt32LE(0);
  }
  return out;
}

const ADDRESS_FLAG_NAMES: [string, string][] = [
  ['secondary', 'secondary'], ['nodad', 'nodad'], ['optimistic', 'optimistic'], ['dadfailed', 'dadfailed'], ['homeaddress', 'home'],
  ['deprecated', 'deprecated'], ['tentative', 'tentative'], ['permanent', 'permanent'], ['managetempaddr', 'mngtmpaddr'],
  ['noprefixroute', 'noprefixroute'], ['mcautojoin', 'autojoin'], ['stablePrivacy', 'stable-privacy'],
];

function addressInfo(m: rt.AddressMessage): AddressInfo | undefined {
  const family = m.data.family === AF_INET ? 4 : m.data.family === AF_INET6 ? 6 : undefined;
  if (!family) return undefined;
  const local = m.attrs.local ?? m.attrs.address;
  if (!local) return undefined;
  const flags = (m.attrs.flags ?? m.data.flags ?? {}) as Record<string, unknown>;
  const out: AddressInfo = {
    ifindex: m.data.index ?? 0,
    family,
    address: bytesToIp(local),
    prefix: m.data.prefixlen ?? (family === 4 ? 32 : 128),
    scope: m.data.scope ?? 0,
    flags: ADDRESS_FLAG_NAMES.filter(([k]) => flags[k]).map(([, n]) => n),
  };
  if (m.attrs.local && m.attrs.address && !m.attrs.local.equals(m.attrs.address)) out.peer = bytesToIp(m.attrs.address);
  if (m.attrs.broadcast) out.broadcast = bytesToIp(m.attrs.broadcast);
  if (m.attrs.label !== undefined) out.label = m.attrs.label;
  const ci = m.attrs.cacheInfo;
  if (ci?.ifaPrefered !== undefined && ci.ifaPrefered !== INFINITY_LIFE_TIME) out.preferredLft = ci.ifaPrefered;
  if (ci?.ifaValid !== undefined && ci.ifaValid !== INFINITY_LIFE_TIME) out.validLft = ci.ifaValid;
  return out;
}

function routeInfo(m: rt.RouteMessage): RouteInfo | undefined {
  const family = m.data.family === AF_INET ? 4 : m.data.family === AF_INET6 ? 6 : undefined;
  if (!family) return undefined;
  const type = typeof m.data.type === 'number' ? m.data.type : m.data.type !== undefined ? rt.RouteType[m.data.type] : 0;
  return {
    family,
    dst: m.attrs.dst ? bytesToIp(m.attrs.dst) : family === 4 ? '0.0.0.0' : '::',
    prefix: m.data.dstLen ?? 0,
    table: m.attrs.table ?? m.data.table ?? 0,
    type,
    ...(m.attrs.priority !== undefined ? { metric: m.attrs.priority } : {}),
    tos: m.data.tos ?? 0,
  };
}

/** The prefix length of an address spec: keepalived's defaults, the peer's when there is one. */
function specPrefix(spec: AddressSpec, family: 4 | 6): number {
  const max = family === 4 ? 32 : 128;
  const p = spec.peer ? spec.peer.prefix ?? max : spec.prefix ?? max;
  if (!Number.isInteger(p) || p < 0 || p > max) throw new RtnlError(`${addressText(spec)}: prefix ${p} is out of range 0..${max}`, 'EINVAL');
  return p;
}

/** keepalived's 'brd +' / 'brd -': the address (or peer) with the host bits set or cleared */
function broadcastFor(spec: AddressSpec, prefix: number): Buffer | undefined {
  const b = spec.broadcast;
  if (b === undefined) return undefined;
  if (b !== '+' && b !== '-') return bytesOf(b, `broadcast of ${addressText(spec)}`);
  if (prefix > 30) throw new RtnlError(`${addressText(spec)}: 'brd ${b}' needs a prefix of /30 or shorter`, 'EINVAL');
  const base = bytesOf(spec.peer ? spec.peer.address : spec.address, addressText(spec)).readUInt32BE(0);
  const host = prefix === 0 ? 0xffffffff : 0xffffffff >>> prefix;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((b === '+' ? base | host : base & ~host) >>> 0, 0);
  return out;
}

/** RTA_METRICS payload from the route's metric options; undefined when there are none */
function routeMetrics(r: RouteSpec, what: string): Buffer | undefined {
  const parts: Buffer[] = [];
  let lock = 0;
  for (const [name, value] of Object.entries(r.attrs ?? {})) {
    const id = RTAX[name];
    if (id === undefined) continue;
    if (name === 'congctl') {
      parts.push(attr(id, cstring(String(value))));
    } else if (name === 'rtt' || name === 'rttvar' || name === 'rto_min') {
      parts.push(attr(id, u32(rttValue(name, String(value), what))));
    } else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new RtnlError(`${what}: ${name} '${value}' is not a number`, 'EINVAL');
      parts.push(attr(id, u32(n)));
    }
  }
  for (const name of r.locked ?? []) {
    const id = RTAX[name];
    if (id !== undefined) lock |= 1 << id;
  }
  if (lock) parts.push(attr(RTAX.lock!, u32(lock)));
  return parts.length ? Buffer.concat(parts) : undefined;
}

/**
 * iproute2's (and keepalived's) rtt units: a bare number is the kernel's raw
 * value; with a unit it is time, and the kernel keeps rtt in 1/8 ms and
 * rttvar in 1/4 ms.
 */
function rttValue(name: string, text: string, what: string): number {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(s|secs?|ms|msecs?)?$/i.exec(text);
  if (!m) throw new RtnlError(`${what}: ${name} '${text}' is not a time`, 'EINVAL');
  const n = Number(m[1]);
  if (!m[2]) return Math.floor(n);
  const ms = /^m/i.test(m[2]) ? n : n * 1000;
  return Math.floor(name === 'rtt' ? ms * 8 : name === 'rttvar' ? ms * 4 : ms);
}

/** RTA_FLOW from `realms [FROM/]TO` (numbers or rt_realms names) */
function realmsValue(text: string): number {
  const parts = String(text).split('/');
  const num = (p: string): number => resolveName(p, {}, 'rt_realms', 'realm', 0xffff);
  return parts.length === 2 ? ((num(parts[0]!) << 16) | num(parts[1]!)) >>> 0 : num(parts[0]!);
}

const PREF: Record<string, number> = { medium: 0, high: 1, low: 3 };
/** the route attributes other than metrics that alived sends */
const OTHER_ROUTE_ATTRS = new Set(['realms', 'pref', 'expires', 'ttl-propagate']);

// ---------------------------------------------------------------------------
// rules (fib_rule_hdr and FRA_* attributes, linux/fib_rules.h)

const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_GOTO = 4;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_FLOW = 11;
const FRA_TUN_ID = 12;
const FRA_SUPPRESS_IFGROUP = 13;
const FRA_SUPPRESS_PREFIXLEN = 14;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_L3MDEV = 19;
const FRA_UID_RANGE = 20;
const FRA_PROTOCOL = 21;
const FRA_IP_PROTO = 22;
const FRA_SPORT_RANGE = 23;
const FRA_DPORT_RANGE = 24;
const FIB_RULE_INVERT = 2;
const RULE_ACTIONS: Record<RuleSpec['action'], number> = { table: 1, l3mdev: 1, goto: 2, nop: 3, blackhole: 6, unreachable: 7, prohibit: 8 };
const IP_PROTOCOLS: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, 'ipv6-icmp': 58, icmpv6: 58, sctp: 132, udplite: 136 };

function ipProtocol(p: string | number): number {
  if (typeof p === 'number' || /^\d+$/.test(p)) return resolveName(p, {}, 'rt_protos', 'IP protocol', 255);
  const n = IP_PROTOCOLS[p.toLowerCase()];
  if (n === undefined) throw new RtnlError(`IP protocol '${p}' is not known`, 'EINVAL');
  return n;
}

function portRange(r: { start: number; end: number }): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(r.start, 0);
  b.writeUInt16LE(r.end, 2);
  return b;
}

/** fib_rule_hdr + attributes of a rule request, as keepalived's netlink_rule() builds it */
function ruleBody(r: RuleSpec, what: string): Buffer {
  const family = r.family;
  const max = family === 4 ? 32 : 128;
  const head = Buffer.alloc(12);
  head.writeUInt8(family === 4 ? AF_INET : AF_INET6, 0);
  const attrs: Buffer[] = [];
  const prefixOf = (a: RuleSpec['from']): number => (a === undefined || a === 'default' ? 0 : a.prefix ?? max);
  for (const [a, type, at] of [[r.to, FRA_DST, 1], [r.from, FRA_SRC, 2]] as const) {
    if (a === undefined) continue;
    head.writeUInt8(prefixOf(a), at);
    if (a !== 'default') {
      if (familyOf(a.address, what) !== family) throw new RtnlError(`${what}: ${a.address} is not IPv${family}`, 'EINVAL');
      attrs.push(attr(type, bytesOf(a.address, what)));
    }
  }
  head.writeUInt8(r.tos === undefined ? 0 : resolveName(r.tos, {}, 'rt_dsfield', 'tos', 255), 3);
  if (r.action === 'table') {
    const table = tableNumber(r.table ?? RT_TABLE_MAIN);
    if (table < 256) head.writeUInt8(table, 4);
    else attrs.push(attr(FRA_TABLE, u32(table)));
  }
  head.writeUInt8(RULE_ACTIONS[r.action], 7);
  head.writeUInt32LE(r.not ? FIB_RULE_INVERT : 0, 8);
  if (r.preference !== undefined) attrs.push(attr(FRA_PRIORITY, u32(r.preference)));
  if (r.fwmark !== undefined) attrs.push(attr(FRA_FWMARK, u32(r.fwmark)));
  if (r.fwmask !== undefined) attrs.push(attr(FRA_FWMASK, u32(r.fwmask)));
  if (r.realms !== undefined) attrs.push(attr(FRA_FLOW, u32(realmsValue(r.realms))));
  if (r.suppressPrefixlength !== undefined) attrs.push(attr(FRA_SUPPRESS_PREFIXLEN, u32(r.suppressPrefixlength)));
  if (r.suppressIfgroup !== undefined) attrs.push(attr(FRA_SUPPRESS_IFGROUP, u32(resolveName(r.suppressIfgroup, { default: 0 }, 'group', 'interface group', 0x7fffffff))));
  if (r.iif !== undefined) attrs.push(attr(FRA_IIFNAME, cstring(r.iif)));
  if (r.oif !== undefined) attrs.push(attr(FRA_OIFNAME, cstring(r.oif)));
  if (r.tunnelId !== undefined) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(r.tunnelId), 0);
    attrs.push(attr(FRA_TUN_ID, b));
  }
  if (r.uidrange) attrs.push(attr(FRA_UID_RANGE, Buffer.concat([u32(r.uidrange.start), u32(r.uidrange.end)])));
  if (r.action === 'l3mdev') attrs.push(attr(FRA_L3MDEV, u8(1)));
  if (r.protocol !== undefined) attrs.push(attr(FRA_PROTOCOL, u8(r.protocol)));
  if (r.ipproto !== undefined) attrs.push(attr(FRA_IP_PROTO, u8(ipProtocol(r.ipproto))));
  if (r.sport) attrs.push(attr(FRA_SPORT_RANGE, portRange(r.sport)));
  if (r.dport) attrs.push(attr(FRA_DPORT_RANGE, portRange(r.dport)));
  if (r.action === 'goto') attrs.push(attr(FRA_GOTO, u32(r.gotoTarget ?? 0)));
  return Buffer.concat([head, ...attrs]);
}

/** `from 10.0.0.0/24 lookup 100 pref 100`, in ip rule's words */
export function ruleText(r: RuleSpec): string {
  const a = (x: RuleSpec['from']): string => (x === undefined || x === 'default' ? 'all' : addressText(x));
  const parts = [r.not ? 'not ' : '', `from ${a(r.from)}`];
  if (r.to !== undefined) parts.push(` to ${a(r.to)}`);
  if (r.iif !== undefined) parts.push(` iif ${r.iif}`);
  if (r.oif !== undefined) parts.push(` oif ${r.oif}`);
  if (r.fwmark !== undefined) parts.push(` fwmark ${r.fwmark}${r.fwmask !== undefined ? `/${r.fwmask}` : ''}`);
  parts.push(r.action === 'table' ? ` lookup ${r.table ?? 'main'}` : r.action === 'goto' ? ` goto ${r.gotoTarget}` : ` ${r.action}`);
  if (r.preference !== undefined) parts.push(` pref ${r.preference}`);
  return parts.join('');
}

// ---------------------------------------------------------------------------
// the socket

export class Rtnl {
  private readonly sock: RtNetlinkSocket;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(opts: RtnlOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    // unreferenced: the socket keeps the process alive only while a request is pending
    this.sock = createRtNetlink({ ref: false } as Parameters<typeof createRtNetlink>[0]);
    this.sock.socket.on('error', () => {
      // errors of a pending request reach its promise; nothing else is sent on this socket
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }

  /** the request in flight: one at a time on this socket */
  private inFlight: Promise<unknown> = Promise.resolve();
  /** requests asked for and not yet answered */
  private waiting = 0;
  private sentAtOnce = false;

  /**
   * Whether the last request was handed to the kernel before the call that
   * made it returned (none was waiting). rtnetlink carries out a request
   * inside sendmsg(): an address added so is on its interface already.
   */
  get sentNow(): boolean {
    return this.sentAtOnce;
  }

  /**
   * Sends one request and waits for its answer; a kernel error becomes an
   * RtnlError naming `what`. Requests take turns: the kernel answers EBUSY to
   * a second dump on the socket, and an ACK arriving between the datagrams of
   * a dump makes the netlink package end that dump early. When none is
   * waiting, the request goes to the kernel before this call returns: a
   * takeover's address is added in the timer's own turn of the event loop.
   */
  private async talk(type: number, body: Buffer, flags: number, describe: string | (() => Promise<string>)): Promise<NetlinkMessage[]> {
    const exchange = (): ReturnType<Rtnl['exchange']> => this.exchange(type, body, flags);
    this.sentAtOnce = this.waiting === 0 && !this.closed;
    const turn = (this.waiting++ === 0 ? exchange() : this.inFlight.then(exchange)).finally(() => this.waiting--);
    this.inFlight = turn.catch(() => undefined);
    const r = await turn;
    if ('msgs' in r) return r.msgs;
    // the description may need a lookup (an interface's name), itself a request:
    // made only when there is an error to report, and after this request's turn
    const what = typeof describe === 'string' ? describe : await describe().catch(() => 'an rtnetlink request');
    if (r.errno !== undefined) throw kernelError(what, r.errno);
    throw new RtnlError(`${what}: ${r.message}`, r.code);
  }

  /** One request and its answer; failures come back as values so that talk() can name them outside the queue. */
  private async exchange(type: number, body: Buffer, flags: number): Promise<{ msgs: NetlinkMessage[] } | { errno?: number; message: string; code: string }> {
    if (this.closed) return { message: 'the rtnetlink socket is closed', code: 'EBADF' };
    let msgs: NetlinkMessage[];
    try {
      // a takeover's address request: not before its deadline (the timer's callback started early)
      commitPoint();
      [msgs] = await this.sock.socket.request(type, [body], { flags, checkError: false, timeout: this.timeoutMs });
    } catch (err) {
      const e = err as { errno?: number; message?: string };
      if (typeof e.errno === 'number') return { errno: e.errno < 0 ? e.errno : -e.errno, message: '', code: '' };
      return { message: e.message ?? String(err), code: /timeout/i.test(e.message ?? '') ? 'ETIMEDOUT' : 'EIO' };
    }
    for (const m of msgs) {
      if (m.type !== NLMSG_ERROR) continue;
      const { errno } = parseError(m.data, m.flags);
      if (errno !== 0) return { errno, message: '', code: '' };
    }
    return { msgs };
  }

  // links ---------------------------------------------------------------

  async links(): Promise<LinkInfo[]> {
    const body = Buffer.alloc(16); // ifinfomsg, all zero: every link
    const msgs = await this.talk(RTM_GETLINK, body, F_DUMP, 'listing interfaces');
    return msgs.filter((m) => m.type === RTM_NEWLINK).map((m) => linkInfo(rt.parseLinkMessage(m.data)));
  }

  /** The interface of that name, or undefined when there is none. */
  async linkByName(name: string): Promise<LinkInfo | undefined> {
    if (name.length === 0 || name.length > 15) return undefined;
    const body = Buffer.concat([Buffer.alloc(16), attr(3 /* IFLA_IFNAME */, cstring(name))]);
    try {
      const msgs = await this.talk(RTM_GETLINK, body, 0, `looking up interface ${name}`);
      const m = msgs.find((x) => x.type === RTM_NEWLINK);
      return m ? linkInfo(rt.parseLinkMessage(m.data)) : undefined;
    } catch (err) {
      if ((err as RtnlError).code === 'ENODEV') return undefined;
      throw err;
    }
  }

  async linkByIndex(index: number): Promise<LinkInfo | undefined> {
    const body = Buffer.alloc(16);
    body.writeInt32LE(index, 4);
    try {
      const msgs = await this.talk(RTM_GETLINK, body, 0, `looking up interface ${index}`);
      const m = msgs.find((x) => x.type === RTM_NEWLINK);
      return m ? linkInfo(rt.parseLinkMessage(m.data)) : undefined;
    } catch (err) {
      if ((err as RtnlError).code === 'ENODEV') return undefined;
      throw err;
    }
  }

  /**
   * The interface of that name with what a VMAC manager needs beyond
   * LinkInfo: its kind (IFLA_INFO_KIND), its lower interface (IFLA_LINK),
   * its macvlan mode and its alias. Undefined when there is none.
   */
  async linkDetail(name: string): Promise<LinkDetail | undefined> {
    if (name.length === 0 || name.length > 15) return undefined;
    const body = Buffer.concat([Buffer.alloc(16), attr(3 /* IFLA_IFNAME */, cstring(name))]);
    try {
      const msgs = await this.talk(RTM_GETLINK, body, 0, `looking up interface ${name}`);
      const m = msgs.find((x) => x.type === RTM_NEWLINK);
      return m ? linkDetail(rt.parseLinkMessage(m.data)) : undefined;
    } catch (err) {
      if ((err as RtnlError).code === 'ENODEV') return undefined;
      throw err;
    }
  }

  /**
   * A link request encoded by the caller (an ifinfomsg and its attributes):
   * `new` creates (NLM_F_CREATE | NLM_F_EXCL), `set` changes an existing
   * link, `del` deletes one. Errors are RtnlErrors naming `what`.
   */
  async linkRequest(kind: 'new' | 'set' | 'del', body: Buffer, what: string): Promise<void> {
    const type = kind === 'del' ? RTM_DELLINK : RTM_NEWLINK;
    await this.talk(type, body, kind === 'new' ? F_CREATE | F_EXCL : 0, what);
  }

  /** a name for messages: the interface's, or `ifindex N` when it is gone */
  private async ifname(index: number): Promise<string> {
    try {
      return (await this.linkByIndex(index))?.name ?? `ifindex ${index}`;
    } catch {
      return `ifindex ${index}`;
    }
  }

  /**
   * Watches the links: `cb` gets 'added' for a new interface, 'up'/'down'
   * when it becomes usable (IFF_UP and IFF_RUNNING) or stops being so,
   * 'changed' for a new name, MAC, MTU or state that is not an up/down,
   * and 'deleted'. Resolves once the current links are known (they are not
   * reported as added). If the kernel drops notifications (ENOBUFS), the
   * links are read again and the differences reported. `onError` gets
   * errors of the watch socket; `cb` throwing is reported there too. The
   * watch has a socket of its own, which keeps the process alive until
   * close().
   */
  async watchLinks(cb: (ev: LinkEvent) => void, onError: (err: Error) => void = () => {}): Promise<LinkWatch> {
    const current = new Map<number, LinkInfo>();
    // a socket of its own, so notifications never meet this socket's request sequence numbers
    const watcher = createRtNetlink({ ref: true } as Parameters<typeof createRtNetlink>[0]);
    let ready = false;
    let closed = false;
    const early: NetlinkMessage[][] = [];
    const deliver = (ev: LinkEvent): void => {
      try {
        cb(ev);
      } catch (err) {
        onError(err as Error);
      }
    };
    const apply = (type: number, link: LinkInfo): void => {
      const prev = current.get(link.index);
      if (type === RTM_DELLINK) {
        current.delete(link.index);
        deliver({ type: 'deleted', link, ...(prev ? { previous: prev } : {}) });
        return;
      }
      current.set(link.index, link);
      if (!prev) return deliver({ type: 'added', link });
      if (prev.up !== link.up) return deliver({ type: link.up ? 'up' : 'down', link, previous: prev });
      if (prev.name !== link.name || prev.mac !== link.mac || prev.mtu !== link.mtu || prev.adminUp !== link.adminUp || prev.operstate !== link.operstate || prev.noarp !== link.noarp) {
        deliver({ type: 'changed', link, previous: prev });
      }
    };
    const handle = (msgs: NetlinkMessage[]): void => {
      for (const m of msgs) {
        if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) continue;
        let link: LinkInfo;
        try {
          link = linkInfo(rt.parseLinkMessage(m.data));
        } catch (err) {
          onError(new RtnlError(`watching interfaces: cannot parse a link message: ${(err as Error).message}`, 'EPROTO'));
          continue;
        }
        apply(m.type, link);
      }
    };
    /** reads every link again and reports the differences with what is known */
    const resync = async (): Promise<void> => {
      const now = await this.links();
      const seen = new Set<number>();
      for (const l of now) {
        seen.add(l.index);
        apply(RTM_NEWLINK, l);
      }
      for (const [index, l] of [...current]) if (!seen.has(index)) apply(RTM_DELLINK, l);
    };
    watcher.socket.on('message', (msgs) => {
      if (closed) return;
      if (!ready) early.push(msgs);
      else handle(msgs);
    });
    watcher.socket.on('error', (err) => {
      if (closed) return;
      if (err.code === 'ENOBUFS') {
        resync().catch((e: Error) => onError(e));
        return;
      }
      onError(new RtnlError(`watching interfaces: ${err.message}`, err.code ?? 'EIO', err.errno));
    });
    try {
      watcher.addMembership('LINK');
      for (const l of await this.links()) current.set(l.index, l);
    } catch (err) {
      closed = true;
      watcher.socket.close();
      throw err;
    }
    // notifications that came in while the dump ran: compared with it, so only real changes are reported
    ready = true;
    for (const msgs of early.splice(0)) handle(msgs);
    return {
      current,
      close: () => {
        if (closed) return;
        closed = true;
        watcher.socket.close();
      },
    };
  }

  /**
   * Watches the addresses of every interface: `cb` gets each one added or
   * removed, by anyone (this process included). When the kernel dropped
   * notifications (ENOBUFS: the socket's buffer overflowed) `onOverrun` is
   * called, since what changed meanwhile is unknown: the caller reads the
   * addresses again. Resolves once subscribed.
   */
  watchAddresses(cb: (ev: AddressEvent) => void, onOverrun: () => void, onError: (err: Error) => void = () => {}): Promise<NetlinkWatch> {
    return this.watchGroups(['IPV4_IFADDR', 'IPV6_IFADDR'], 'addresses', onOverrun, onError, (m) => {
      if (m.type !== RTM_NEWADDR && m.type !== RTM_DELADDR) return;
      const a = addressInfo(rt.parseAddressMessage(m.data));
      if (a) cb({ type: m.type === RTM_NEWADDR ? 'added' : 'deleted', address: a });
    });
  }

  /** Watches the routes of every table, as watchAddresses() watches addresses. */
  watchRoutes(cb: (ev: RouteEvent) => void, onOverrun: () => void, onError: (err: Error) => void = () => {}): Promise<NetlinkWatch> {
    return this.watchGroups(['IPV4_ROUTE', 'IPV6_ROUTE'], 'routes', onOverrun, onError, (m) => {
      if (m.type !== RTM_NEWROUTE && m.type !== RTM_DELROUTE) return;
      const r = routeInfo(rt.parseRouteMessage(m.data));
      if (r) cb({ type: m.type === RTM_NEWROUTE ? 'added' : 'deleted', route: r });
    });
  }

  /** Watches the policy routing rules of both families, as watchAddresses() watches addresses. */
  watchRules(cb: (ev: RuleEvent) => void, onOverrun: () => void, onError: (err: Error) => void = () => {}): Promise<NetlinkWatch> {
    return this.watchGroups(['IPV4_RULE', 'IPV6_RULE'], 'rules', onOverrun, onError, (m) => {
      if (m.type !== RTM_NEWRULE && m.type !== RTM_DELRULE) return;
      const family = m.data[0] === AF_INET ? 4 : m.data[0] === AF_INET6 ? 6 : undefined;
      if (family) cb({ type: m.type === RTM_NEWRULE ? 'added' : 'deleted', family });
    });
  }

  /** A socket of its own subscribed to `groups`; each message goes to `handle`, a throw from it to onError. */
  private async watchGroups(
    groups: Array<'IPV4_IFADDR' | 'IPV6_IFADDR' | 'IPV4_ROUTE' | 'IPV6_ROUTE' | 'IPV4_RULE' | 'IPV6_RULE'>,
    what: string,
    onOverrun: () => void,
    onError: (err: Error) => void,
    handle: (m: NetlinkMessage) => void,
  ): Promise<NetlinkWatch> {
    const watcher = createRtNetlink({ ref: true } as Parameters<typeof createRtNetlink>[0]);
    let closed = false;
    watcher.socket.on('message', (msgs) => {
      if (closed) return;
      for (const m of msgs) {
        try {
          handle(m);
        } catch (err) {
          onError(new RtnlError(`watching ${what}: ${(err as Error).message}`, 'EPROTO'));
        }
      }
    });
    watcher.socket.on('error', (err) => {
      if (closed) return;
      if (err.code === 'ENOBUFS') {
        onOverrun();
        return;
      }
      onError(new RtnlError(`watching ${what}: ${err.message}`, err.code ?? 'EIO', err.errno));
    });
    try {
      for (const g of groups) watcher.addMembership(g);
    } catch (err) {
      closed = true;
      watcher.socket.close();
      throw err;
    }
    return {
      close: () => {
        if (closed) return;
        closed = true;
        watcher.socket.close();
      },
    };
  }

  // addresses -----------------------------------------------------------

  /** Addresses of every interface, or of one; IPv4 and IPv6, or one family. */
  async addresses(ifindex?: number, family?: 4 | 6): Promise<AddressInfo[]> {
    const body = Buffer.alloc(8);
    body.writeUInt8(family === 4 ? AF_INET : family === 6 ? AF_INET6 : 0, 0);
    const msgs = await this.talk(RTM_GETADDR, body, F_DUMP, 'listing addresses');
    const out: AddressInfo[] = [];
    for (const m of msgs) {
      if (m.type !== RTM_NEWADDR) continue;
      const a = addressInfo(rt.parseAddressMessage(m.data));
      if (a && (ifindex === undefined || a.ifindex === ifindex)) out.push(a);
    }
    return out;
  }

  /** ifaddrmsg + attributes of an address request */
  private addressBody(ifindex: number, spec: AddressSpec, add: boolean): Buffer {
    const what = addressText(spec);
    const family = familyOf(spec.address, what);
    if (!Number.isInteger(ifindex) || ifindex <= 0) throw new RtnlError(`${what}: interface index ${ifindex} is not valid`, 'EINVAL');
    const prefix = specPrefix(spec, family);
    const local = bytesOf(spec.address, what);
    const head = Buffer.alloc(8);
    head.writeUInt8(family === 4 ? AF_INET : AF_INET6, 0);
    head.writeUInt8(prefix, 1);
    head.writeUInt8(spec.scope === undefined ? 0 : scopeNumber(spec.scope), 3);
    head.writeUInt32LE(ifindex, 4);
    const attrs: Buffer[] = [attr(IFA_LOCAL, local)];
    if (spec.peer) {
      if (familyOf(spec.peer.address, what) !== family) throw new RtnlError(`${what}: peer ${spec.peer.address} is of another family`, 'EINVAL');
      attrs.push(attr(IFA_ADDRESS, bytesOf(spec.peer.address, what)));
    } else if (family === 4) {
      attrs.push(attr(IFA_ADDRESS, local));
    }
    if (!add) return Buffer.concat([head, ...attrs]);
    if (family === 4) {
      const brd = broadcastFor(spec, prefix);
      if (brd) attrs.push(attr(IFA_BROADCAST, brd));
    } else if (spec.broadcast !== undefined) {
      throw new RtnlError(`${what}: an IPv6 address has no broadcast address`, 'EINVAL');
    }
    if (spec.label !== undefined) {
      if (family === 6) throw new RtnlError(`${what}: an IPv6 address cannot have a label`, 'EINVAL');
      if (spec.label.length > 15) throw new RtnlError(`${what}: label '${spec.label}' is longer than 15 characters`, 'EINVAL');
      attrs.push(attr(IFA_LABEL, cstring(spec.label)));
    }
    let flags = 0;
    if (spec.home) flags |= IFA_F_HOMEADDRESS;
    if (spec.nodad) flags |= IFA_F_NODAD;
    if (spec.mngtmpaddr) flags |= IFA_F_MANAGETEMPADDR;
    if (spec.noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
    if (spec.autojoin) flags |= IFA_F_MCAUTOJOIN;
    if (flags) attrs.push(attr(IFA_FLAGS, u32(flags)));
    if (spec.preferredLft !== undefined && spec.preferredLft !== 'forever') {
      const ci = Buffer.alloc(16);
      ci.writeUInt32LE(spec.preferredLft >>> 0, 0);
      ci.writeUInt32LE(INFINITY_LIFE_TIME, 4);
      attrs.push(attr(IFA_CACHEINFO, ci));
    }
    return Buffer.concat([head, ...attrs]);
  }

  /**
   * The request that adds `spec` to interface `ifindex`, encoded ahead of
   * time (addAddress takes it): a backup prepares its VIPs so that taking
   * over only sends them. Throws what addAddress would for a bad spec.
   */
  prepareAddress(ifindex: number, spec: AddressSpec): PreparedAddress {
    return { ifindex, spec, body: this.addressBody(ifindex, spec, true) };
  }

  /** Adds an address; EEXIST when it is already there (the VIP manager takes that as done). */
  async addAddress(ifindex: number, spec: AddressSpec, prepared?: PreparedAddress): Promise<void> {
    const body = prepared && prepared.ifindex === ifindex && prepared.spec === spec ? prepared.body : this.addressBody(ifindex, spec, true);
    // named only for an error: nothing but the request itself comes before the send
    const prefix = (): number => specPrefix(spec, familyOf(spec.address, addressText(spec)));
    try {
      await this.talk(RTM_NEWADDR, body, F_CREATE | F_EXCL, async () => `adding ${addressText({ address: spec.address, prefix: prefix() })} to ${await this.ifname(ifindex)}`);
    } catch (err) {
      if ((err as RtnlError).code === 'EINVAL' && familyOf(spec.address, addressText(spec)) === 4 && !spec.peer) throw await this.scopeHint(err as RtnlError, ifindex, spec, prefix());
      throw err;
    }
  }

  /**
   * Linux 6.x refuses an IPv4 address whose scope differs from the primary
   * address of the same subnet on the interface ("ipv4: Invalid scope
   * value" in the extended ACK, which this socket does not receive): say so
   * when that is the cause.
   */
  private async scopeHint(err: RtnlError, ifindex: number, spec: AddressSpec, prefix: number): Promise<RtnlError> {
    try {
      const scope = spec.scope === undefined ? 0 : scopeNumber(spec.scope);
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      const subnet = (a: string): number => (bytesOf(a, a).readUInt32BE(0) & mask) >>> 0;
      const primary = (await this.addresses(ifindex, 4)).find((a) => a.prefix === prefix && !a.flags.includes('secondary') && subnet(a.address) === subnet(spec.address));
      if (!primary || primary.scope === scope) return err;
      const name = (n: number): string => Object.keys(BUILTIN_SCOPES).find((k) => BUILTIN_SCOPES[k] === n) ?? String(n);
      return new RtnlError(
        `${err.message}: ${primary.address}/${prefix} on that interface has scope ${name(primary.scope)}, and the kernel wants the addresses of one subnet to share its scope (asked: ${name(scope)})`,
        err.code,
        err.errno,
      );
    } catch {
      return err;
    }
  }

  /** Deletes an address (matched by address and prefix); EADDRNOTAVAIL when it is not there. */
  async delAddress(ifindex: number, spec: AddressSpec): Promise<void> {
    const family = familyOf(spec.address, addressText(spec));
    const shown = addressText({ address: spec.address, prefix: specPrefix(spec, family) });
    const body = this.addressBody(ifindex, spec, false);
    await this.talk(RTM_DELADDR, body, 0, async () => `deleting ${shown} from ${await this.ifname(ifindex)}`);
  }

  // routes --------------------------------------------------------------

  private async ifindexOf(name: string, what: string): Promise<number> {
    const l = await this.linkByName(name);
    if (!l) throw new RtnlError(`${what}: no interface ${name}`, 'ENODEV');
    return l.index;
  }

  /** rtmsg + attributes of a route request */
  private async routeBody(r: RouteSpec, add: boolean, what: string): Promise<Buffer> {
    if (r.encap !== undefined) throw new RtnlError(`${what}: encap is not supported by alived`, 'EOPNOTSUPP');
    if (r.vrf !== undefined) throw new RtnlError(`${what}: vrf is not supported by alived (give the VRF's table instead)`, 'EOPNOTSUPP');
    const dstFamily = r.dst === 'default' ? undefined : familyOf(r.dst.address, what);
    const family = r.family ?? dstFamily ?? (r.via ? familyOf(r.via.address, what) : 4);
    if (dstFamily !== undefined && dstFamily !== family) throw new RtnlError(`${what}: destination ${r.dst === 'default' ? '' : r.dst.address} is not IPv${family}`, 'EINVAL');
    const max = family === 4 ? 32 : 128;
    const type = ROUTE_TYPES[r.type ?? 'unicast'];
    if (type === undefined) throw new RtnlError(`${what}: route type '${r.type}' is not known`, 'EINVAL');
    const table = tableNumber(r.table ?? RT_TABLE_MAIN);
    const head = Buffer.alloc(12);
    head.writeUInt8(family === 4 ? AF_INET : AF_INET6, 0);
    head.writeUInt8(r.dst === 'default' ? 0 : r.dst.prefix ?? max, 1);
    head.writeUInt8(r.from === undefined || r.from === 'default' ? 0 : r.from.prefix ?? max, 2);
    head.writeUInt8(r.tos === undefined ? 0 : resolveName(r.tos, {}, 'rt_dsfield', 'tos', 255), 3);
    head.writeUInt8(table < 256 ? table : 0, 4);
    head.writeUInt8(r.protocol === undefined ? RTPROT_KEEPALIVED : protocolNumber(r.protocol), 5);
    // a delete matches any scope unless one is given, as keepalived and ip route do
    head.writeUInt8(r.scope !== undefined ? scopeNumber(r.scope) : add ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE, 6);
    head.writeUInt8(type, 7);
    head.writeUInt32LE(r.onlink ? RTNH_F_ONLINK : 0, 8);
    const attrs: Buffer[] = [];
    if (table >= 256) attrs.push(attr(RTA_TABLE, u32(table)));
    if (r.dst !== 'default') attrs.push(attr(RTA_DST, bytesOf(r.dst.address, what)));
    if (r.from !== undefined && r.from !== 'default') attrs.push(attr(RTA_SRC, bytesOf(r.from.address, what)));
    if (r.src) attrs.push(attr(RTA_PREFSRC, bytesOf(r.src.address, what)));
    if (r.via) {
      if (familyOf(r.via.address, what) !== family) throw new RtnlError(`${what}: a gateway of another family (via ${r.via.address}) is not supported by alived`, 'EOPNOTSUPP');
      attrs.push(attr(RTA_GATEWAY, bytesOf(r.via.address, what)));
    }
    if (r.dev !== undefined) attrs.push(attr(RTA_OIF, u32(await this.ifindexOf(r.dev, what))));
    if (r.metric !== undefined) attrs.push(attr(RTA_PRIORITY, u32(r.metric)));
    const metrics = routeMetrics(r, what);
    if (metrics) attrs.push(attr(RTA_METRICS, metrics));
    const a = r.attrs ?? {};
    for (const k of Object.keys(a)) {
      if (RTAX[k] === undefined && !OTHER_ROUTE_ATTRS.has(k)) throw new RtnlError(`${what}: route option '${k}' is not supported by alived`, 'EOPNOTSUPP');
    }
    if (a.realms !== undefined) attrs.push(attr(RTA_FLOW, u32(realmsValue(String(a.realms)))));
    if (a.pref !== undefined) attrs.push(attr(RTA_PREF, u8(typeof a.pref === 'number' ? a.pref : PREF[String(a.pref)] ?? 0)));
    if (a.expires !== undefined) attrs.push(attr(RTA_EXPIRES, u32(Number(a.expires))));
    if (a['ttl-propagate'] !== undefined) attrs.push(attr(RTA_TTL_PROPAGATE, u8(a['ttl-propagate'] === 'enabled' ? 1 : 0)));
    if (r.nexthops && r.nexthops.length) attrs.push(attr(RTA_MULTIPATH, await this.multipath(r.nexthops, family, what)));
    return Buffer.concat([head, ...attrs]);
  }

  /** RTA_MULTIPATH: one rtnexthop (len, flags, hops = weight - 1, ifindex) and its gateway per hop */
  private async multipath(hops: NexthopSpec[], family: 4 | 6, what: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const h of hops) {
      if (h.encap !== undefined) throw new RtnlError(`${what}: encap is not supported by alived`, 'EOPNOTSUPP');
      const nested: Buffer[] = [];
      if (h.via) {
        if (familyOf(h.via.address, what) !== family) throw new RtnlError(`${what}: nexthop via ${h.via.address} is of another family`, 'EOPNOTSUPP');
        nested.push(attr(RTA_GATEWAY, bytesOf(h.via.address, what)));
      }
      if (h.realms !== undefined) nested.push(attr(RTA_FLOW, u32(realmsValue(h.realms))));
      const body = Buffer.concat(nested);
      const head = Buffer.alloc(8);
      head.writeUInt16LE(8 + body.length, 0);
      head.writeUInt8(h.onlink ? RTNH_F_ONLINK : 0, 2);
      head.writeUInt8(Math.max(0, (h.weight ?? 1) - 1), 3);
      head.writeInt32LE(h.dev !== undefined ? await this.ifindexOf(h.dev, what) : 0, 4);
      parts.push(head, body);
    }
    return Buffer.concat(parts);
  }

  /** Adds a route: created (prepend, the default), exclusively (add) or as another path (append). EEXIST when it is there. */
  async addRoute(r: RouteSpec): Promise<void> {
    const what = `adding route ${routeText(r)}`;
    const body = await this.routeBody(r, true, what);
    const mode = r.mode ?? 'prepend';
    const flags = F_CREATE | (mode === 'add' ? F_EXCL : mode === 'append' ? F_APPEND : 0);
    await this.talk(RTM_NEWROUTE, body, flags, what);
  }

  /** Deletes a route; ESRCH when there is no such route. */
  async delRoute(r: RouteSpec): Promise<void> {
    const what = `deleting route ${routeText(r)}`;
    const body = await this.routeBody(r, false, what);
    await this.talk(RTM_DELROUTE, body, 0, what);
  }

  // rules ---------------------------------------------------------------

  /** Adds a rule; EEXIST when the same rule is there (the kernel compares every attribute given). */
  async addRule(r: RuleSpec): Promise<void> {
    const what = `adding rule ${ruleText(r)}`;
    await this.talk(RTM_NEWRULE, ruleBody(r, what), F_CREATE | F_EXCL, what);
  }

  /** Deletes a rule; ENOENT when there is no such rule. */
  async delRule(r: RuleSpec): Promise<void> {
    const what = `deleting rule ${ruleText(r)}`;
    await this.talk(RTM_DELRULE, ruleBody(r, what), 0, what);
  }
}
