import * as rt from 'netlink/dist/rt/structs';
import { bytesToIp } from '../net/address';
import { parseAttrs } from '../netlink/attrs';
import { AF_INET, AF_INET6, INFINITY_LIFE_TIME } from './rtnl-encode';
import type { AddressInfo, LinkDetail, LinkInfo, RouteInfo } from './rtnl-shapes';

/** What the kernel sends, as rtnl.ts gives it: links, addresses and routes. */

function macText(b: Uint8Array | undefined): string {
  return b ? Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':') : '';
}

const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

export function linkInfo(m: rt.LinkMessage): LinkInfo {
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

export function linkDetail(m: rt.LinkMessage): LinkDetail {
  const out: LinkDetail = linkInfo(m);
  const raw = m.attrs as { link?: Buffer | number; linkinfo?: Buffer; ifalias?: string; group?: number };
  if (typeof raw.group === 'number' && raw.group > 0) out.group = raw.group;
  if (typeof raw.link === 'number') out.lowerIndex = raw.link;
  else if (raw.link && raw.link.length >= 4) out.lowerIndex = raw.link.readUInt32LE(0);
  if (raw.ifalias !== undefined) out.alias = raw.ifalias;
  if (raw.linkinfo) {
    const info = parseAttrs(raw.linkinfo);
    const kind = info.get(1 /* IFLA_INFO_KIND */);
    if (kind) out.kind = kind.toString('utf8').replace(/\0.*$/s, '');
    const data = info.get(2 /* IFLA_INFO_DATA */);
    const mode = data ? parseAttrs(data).get(1 /* IFLA_MACVLAN_MODE */) : undefined;
    if (out.kind === 'macvlan' && mode && mode.length >= 4) out.macvlanMode = mode.readUInt32LE(0);
  }
  return out;
}

const ADDRESS_FLAG_NAMES: [string, string][] = [
  ['secondary', 'secondary'],
  ['nodad', 'nodad'],
  ['optimistic', 'optimistic'],
  ['dadfailed', 'dadfailed'],
  ['homeaddress', 'home'],
  ['deprecated', 'deprecated'],
  ['tentative', 'tentative'],
  ['permanent', 'permanent'],
  ['managetempaddr', 'mngtmpaddr'],
  ['noprefixroute', 'noprefixroute'],
  ['mcautojoin', 'autojoin'],
  ['stablePrivacy', 'stable-privacy'],
];

export function addressInfo(m: rt.AddressMessage): AddressInfo | undefined {
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

export function routeInfo(m: rt.RouteMessage): RouteInfo | undefined {
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
