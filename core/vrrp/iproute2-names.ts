import * as fs from 'node:fs';
import { RtnlError } from './rtnl-error';

/**
 * Names of scopes, routing tables, route protocols, route types, realms and
 * IP protocols, as iproute2 (and keepalived's config) writes them: the
 * built-in ones, then iproute2's name tables.
 */

export const BUILTIN_SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };
const BUILTIN_TABLES: Record<string, number> = { unspec: 0, default: 253, main: 254, local: 255 };
const BUILTIN_PROTOCOLS: Record<string, number> = {
  unspec: 0,
  none: 0,
  redirect: 1,
  kernel: 2,
  boot: 3,
  static: 4,
  gated: 8,
  ra: 9,
  mrt: 10,
  zebra: 11,
  bird: 12,
  dnrouted: 13,
  xorp: 14,
  ntk: 15,
  dhcp: 16,
  mrouted: 17,
  keepalived: 18,
  babel: 42,
  openr: 99,
  bgp: 186,
  isis: 187,
  ospf: 188,
  rip: 189,
  eigrp: 192,
};
export const ROUTE_TYPES: Record<string, number> = {
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  brd: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
  nat: 10,
  xresolve: 11,
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

/** `value` as a number: itself (checked against 0..max), a decimal or 0x number, a built-in name or one of iproute2's `file`. */
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

/** a TOS / DS field: a number, or a name of iproute2's rt_dsfield */
export function tosNumber(tos: string | number): number {
  return resolveName(tos, {}, 'rt_dsfield', 'tos', 255);
}

/** an interface group: a number, default, or a name of iproute2's group file */
export function interfaceGroupNumber(group: string | number): number {
  return resolveName(group, { default: 0 }, 'group', 'interface group', 0x7fffffff);
}

/** RTA_FLOW from `realms [FROM/]TO` (numbers or rt_realms names) */
export function realmsValue(text: string): number {
  const parts = String(text).split('/');
  const num = (p: string): number => resolveName(p, {}, 'rt_realms', 'realm', 0xffff);
  return parts.length === 2 ? ((num(parts[0]!) << 16) | num(parts[1]!)) >>> 0 : num(parts[0]!);
}

const IP_PROTOCOLS: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  'ipv6-icmp': 58,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

/** an IP protocol (tcp, udp, ...) for a rule's ipproto */
export function ipProtocol(p: string | number): number {
  if (typeof p === 'number' || /^\d+$/.test(p)) return resolveName(p, {}, 'rt_protos', 'IP protocol', 255);
  const n = IP_PROTOCOLS[p.toLowerCase()];
  if (n === undefined) throw new RtnlError(`IP protocol '${p}' is not known`, 'EINVAL');
  return n;
}
