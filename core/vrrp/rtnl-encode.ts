import * as net from 'node:net';
import { ipToBytes } from '../net/address';
import { attr, cstring, u32, u8 } from '../netlink/attrs';
import { protocolNumber, realmsValue, ROUTE_TYPES, scopeNumber, tableNumber, tosNumber, interfaceGroupNumber, ipProtocol } from './iproute2-names';
import { RtnlError } from './rtnl-error';
import { addressText, type AddressSpec, type NexthopSpec, type RouteSpec, type RuleSpec } from './rtnl-shapes';

/**
 * The bodies of the requests alived sends over rtnetlink, each attribute the
 * one keepalived sends (vrrp_ipaddress.c netlink_ipaddress, vrrp_iproute.c
 * netlink_route and netlink_rule).
 */

export const AF_INET = 2;
export const AF_INET6 = 10;

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
export const INFINITY_LIFE_TIME = 0xffffffff;

/** RTAX_* of the metrics a route may carry, by the option that sets it */
const RTAX: Record<string, number> = {
  lock: 1,
  mtu: 2,
  window: 3,
  rtt: 4,
  rttvar: 5,
  ssthresh: 6,
  cwnd: 7,
  advmss: 8,
  reordering: 9,
  hoplimit: 10,
  initcwnd: 11,
  features: 12,
  rto_min: 13,
  initrwnd: 14,
  quickack: 15,
  congctl: 16,
  fastopen_no_cookie: 17,
};

/** 4 or 6 for an address, else a thrown RtnlError naming `what` */
export function familyOf(address: string, what: string): 4 | 6 {
  const k = net.isIP(address);
  if (k === 0) throw new RtnlError(`${what}: '${address}' is not an IP address`, 'EINVAL');
  return k as 4 | 6;
}

export function bytesOf(address: string, what: string): Buffer {
  const b = ipToBytes(address);
  if (!b) throw new RtnlError(`${what}: '${address}' is not an IP address`, 'EINVAL');
  return b;
}

/** The prefix length of an address spec: keepalived's defaults, the peer's when there is one. */
export function specPrefix(spec: AddressSpec, family: 4 | 6): number {
  const max = family === 4 ? 32 : 128;
  const p = spec.peer ? (spec.peer.prefix ?? max) : (spec.prefix ?? max);
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

const PREF: Record<string, number> = { medium: 0, high: 1, low: 3 };
/** the route attributes other than metrics that alived sends */
const OTHER_ROUTE_ATTRS = new Set(['realms', 'pref', 'expires', 'ttl-propagate']);

// ---------------------------------------------------------------------------
// addresses

/** ifaddrmsg + attributes of an address request */
export function addressBody(ifindex: number, spec: AddressSpec, add: boolean): Buffer {
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

// ---------------------------------------------------------------------------
// routes

/** rtmsg + attributes of a route request */
/** `ifindexOf` resolves the interfaces it names (a request of its own). */
export async function routeBody(r: RouteSpec, add: boolean, what: string, ifindexOf: (name: string, what: string) => Promise<number>): Promise<Buffer> {
  if (r.encap !== undefined) throw new RtnlError(`${what}: encap is not supported by alived`, 'EOPNOTSUPP');
  if (r.vrf !== undefined) throw new RtnlError(`${what}: vrf is not supported by alived (give the VRF's table instead)`, 'EOPNOTSUPP');
  const dstFamily = r.dst === 'default' ? undefined : familyOf(r.dst.address, what);
  const family = r.family ?? dstFamily ?? (r.via ? familyOf(r.via.address, what) : 4);
  if (dstFamily !== undefined && dstFamily !== family)
    throw new RtnlError(`${what}: destination ${r.dst === 'default' ? '' : r.dst.address} is not IPv${family}`, 'EINVAL');
  const max = family === 4 ? 32 : 128;
  const type = ROUTE_TYPES[r.type ?? 'unicast'];
  if (type === undefined) throw new RtnlError(`${what}: route type '${r.type}' is not known`, 'EINVAL');
  const table = tableNumber(r.table ?? RT_TABLE_MAIN);
  const head = Buffer.alloc(12);
  head.writeUInt8(family === 4 ? AF_INET : AF_INET6, 0);
  head.writeUInt8(r.dst === 'default' ? 0 : (r.dst.prefix ?? max), 1);
  head.writeUInt8(r.from === undefined || r.from === 'default' ? 0 : (r.from.prefix ?? max), 2);
  head.writeUInt8(r.tos === undefined ? 0 : tosNumber(r.tos), 3);
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
    if (familyOf(r.via.address, what) !== family)
      throw new RtnlError(`${what}: a gateway of another family (via ${r.via.address}) is not supported by alived`, 'EOPNOTSUPP');
    attrs.push(attr(RTA_GATEWAY, bytesOf(r.via.address, what)));
  }
  if (r.dev !== undefined) attrs.push(attr(RTA_OIF, u32(await ifindexOf(r.dev, what))));
  if (r.metric !== undefined) attrs.push(attr(RTA_PRIORITY, u32(r.metric)));
  const metrics = routeMetrics(r, what);
  if (metrics) attrs.push(attr(RTA_METRICS, metrics));
  const a = r.attrs ?? {};
  for (const k of Object.keys(a)) {
    if (RTAX[k] === undefined && !OTHER_ROUTE_ATTRS.has(k)) throw new RtnlError(`${what}: route option '${k}' is not supported by alived`, 'EOPNOTSUPP');
  }
  if (a.realms !== undefined) attrs.push(attr(RTA_FLOW, u32(realmsValue(String(a.realms)))));
  if (a.pref !== undefined) attrs.push(attr(RTA_PREF, u8(typeof a.pref === 'number' ? a.pref : (PREF[String(a.pref)] ?? 0))));
  if (a.expires !== undefined) attrs.push(attr(RTA_EXPIRES, u32(Number(a.expires))));
  if (a['ttl-propagate'] !== undefined) attrs.push(attr(RTA_TTL_PROPAGATE, u8(a['ttl-propagate'] === 'enabled' ? 1 : 0)));
  if (r.nexthops && r.nexthops.length) attrs.push(attr(RTA_MULTIPATH, await multipath(r.nexthops, family, what, ifindexOf)));
  return Buffer.concat([head, ...attrs]);
}

/** RTA_MULTIPATH: one rtnexthop (len, flags, hops = weight - 1, ifindex) and its gateway per hop */
async function multipath(hops: NexthopSpec[], family: 4 | 6, what: string, ifindexOf: (name: string, what: string) => Promise<number>): Promise<Buffer> {
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
    head.writeInt32LE(h.dev !== undefined ? await ifindexOf(h.dev, what) : 0, 4);
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

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

function portRange(r: { start: number; end: number }): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(r.start, 0);
  b.writeUInt16LE(r.end, 2);
  return b;
}

/** fib_rule_hdr + attributes of a rule request, as keepalived's netlink_rule() builds it */
export function ruleBody(r: RuleSpec, what: string): Buffer {
  const family = r.family;
  const max = family === 4 ? 32 : 128;
  const head = Buffer.alloc(12);
  head.writeUInt8(family === 4 ? AF_INET : AF_INET6, 0);
  const attrs: Buffer[] = [];
  const prefixOf = (a: RuleSpec['from']): number => (a === undefined || a === 'default' ? 0 : (a.prefix ?? max));
  for (const [a, type, at] of [
    [r.to, FRA_DST, 1],
    [r.from, FRA_SRC, 2],
  ] as const) {
    if (a === undefined) continue;
    head.writeUInt8(prefixOf(a), at);
    if (a !== 'default') {
      if (familyOf(a.address, what) !== family) throw new RtnlError(`${what}: ${a.address} is not IPv${family}`, 'EINVAL');
      attrs.push(attr(type, bytesOf(a.address, what)));
    }
  }
  head.writeUInt8(r.tos === undefined ? 0 : tosNumber(r.tos), 3);
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
  if (r.suppressIfgroup !== undefined) attrs.push(attr(FRA_SUPPRESS_IFGROUP, u32(interfaceGroupNumber(r.suppressIfgroup))));
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
