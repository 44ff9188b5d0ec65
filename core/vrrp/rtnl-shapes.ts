import * as net from 'node:net';
import { canonicalIp } from '../net/address';
import { ROUTE_TYPES, tableNumber, tosNumber } from './iproute2-names';

/**
 * What rtnetlink (rtnl.ts) takes and gives: interfaces, addresses, routes
 * and rules as the kernel reports them, the specs of what alived adds and
 * deletes, and their text in messages (ip's words).
 */

const RT_TABLE_MAIN = 254;

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
    if (r.tos !== undefined && tosNumber(r.tos) !== k.tos) return false;
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
