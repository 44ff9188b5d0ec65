import * as net from 'node:net';
import type { VirtualServerPool } from '../check/pool';
import type { ConfigModel, RealServerConfig, VirtualServerConfig, VirtualServerGroupConfig } from '../config/model';
import type { LvsMethod, VirtualServerGroupEntry, VirtualServerKey } from '../config/keywords/lvs';
import { bytesToIp, canonicalIp, ipToBytes } from '../net/address';
import {
  destinationId,
  serviceId,
  SERVICE_FLAG,
  type DestinationSpec,
  type ServiceKey,
  type ServiceSettings,
  type ServiceSpec,
  type TunnelSettings,
} from './client';

/**
 * What the kernel's IPVS table should hold: the config's virtual servers
 * (a virtual_server_group expanded into one kernel service per address,
 * range entry and fwmark) with their settings, and, from the health
 * checks' pools, the destinations each should have now. Pure: no socket.
 */

export interface DesiredService {
  readonly spec: ServiceSpec;
  /** the virtual server it comes from, as the checks name it: `[10.0.0.1]:tcp:80` */
  readonly virtualServer: string;
  readonly destinations: ReadonlyMap<string, DestinationSpec>;
}

/** serviceId -> service */
export type DesiredTable = Map<string, DesiredService>;

/** A range of a virtual_server_group may not expand beyond this many services (keepalived has no bound; 65,536 is a /16). */
export const MAX_GROUP_SERVICES = 65536;

type Family = 4 | 6;

function toBig(address: string): bigint {
  const b = ipToBytes(address)!;
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

function fromBig(n: bigint, family: Family): string {
  const len = family === 4 ? 4 : 16;
  const b = Buffer.alloc(len);
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return bytesToIp(b);
}

/** The scheduler flags of a virtual server (keepalived's ipvs_set_srule()). */
export function serviceFlags(vs: VirtualServerConfig): number {
  let f = 0;
  if (vs.ops) f |= SERVICE_FLAG.ONEPACKET;
  // sh-fallback / mh-fallback are IP_VS_SVC_F_SCHED1, sh-port / mh-port SCHED2
  if (vs['flag-1'] || vs['sh-fallback'] || vs['mh-fallback']) f |= SERVICE_FLAG.SCHED1;
  if (vs['flag-2'] || vs['sh-port'] || vs['mh-port']) f |= SERVICE_FLAG.SCHED2;
  if (vs['flag-3']) f |= SERVICE_FLAG.SCHED3;
  return f;
}

/** The address family of a fwmark service: ip_family, else its first real or sorry server that is not tunnelled, else IPv4. */
function fwmarkFamily(vs: VirtualServerConfig, entryFamily?: Family): Family {
  if (entryFamily) return entryFamily;
  if (vs.ipFamily) return vs.ipFamily === 'inet6' ? 6 : 4;
  const vsMethod = vs.lvsMethod?.method ?? 'NAT';
  for (const rs of vs.realServer) if ((rs.lvsMethod?.method ?? vsMethod) !== 'TUN') return rs.family;
  if (vs.sorryServer) return vs.sorryServer.family;
  return 4;
}

export function serviceSettings(vs: VirtualServerConfig, family: Family): ServiceSettings {
  const pg = vs.persistenceGranularity;
  let netmask: string | number = family === 6 ? 128 : '255.255.255.255';
  if (pg) {
    if (family === 6) netmask = pg.family === 6 ? pg.prefix : 128;
    // an IPv4 service given a prefix: keepalived reads the number as the netmask 0.0.0.N (the config warned)
    else netmask = pg.family === 4 ? pg.netmask : `0.0.0.${pg.prefix}`;
  }
  return {
    scheduler: vs.lvsSched ?? 'wlc',
    flags: serviceFlags(vs),
    timeout: vs.persistenceTimeout ?? 0,
    netmask,
    ...(vs.persistenceEngine ? { persistenceEngine: vs.persistenceEngine } : {}),
  };
}

/** The kernel services one virtual server stands for: one, or one per address and fwmark of its group. */
export function serviceKeys(vs: VirtualServerConfig, groups: ReadonlyMap<string, VirtualServerGroupConfig>): ServiceKey[] {
  const key = vs as unknown as VirtualServerKey;
  const protocol = ((vs.protocol as string | undefined) ?? 'UDP').toLowerCase() as 'tcp' | 'udp' | 'sctp';
  if (key.kind === 'address') return [{ family: key.family, protocol, address: key.address, port: key.port }];
  if (key.kind === 'fwmark') return [{ family: fwmarkFamily(vs), fwmark: key.fwmark }];
  const group = groups.get(key.group);
  if (!group) return [];
  const out: ServiceKey[] = [];
  for (const e of group.entries) out.push(...groupEntryKeys(vs, e, protocol));
  return out;
}

function groupEntryKeys(vs: VirtualServerConfig, e: VirtualServerGroupEntry, protocol: 'tcp' | 'udp' | 'sctp'): ServiceKey[] {
  if (e.kind === 'fwmark') return [{ family: fwmarkFamily(vs, e.family), fwmark: e.fwmark }];
  const first = toBig(e.address);
  const last = toBig(e.last);
  const n = last - first + 1n;
  if (n > BigInt(MAX_GROUP_SERVICES))
    throw new RangeError(`virtual_server_group entry ${e.address}-${e.last} has ${n} addresses; alived programs at most ${MAX_GROUP_SERVICES}`);
  const out: ServiceKey[] = [];
  for (let a = first; a <= last; a++) out.push({ family: e.family, protocol, address: fromBig(a, e.family), port: e.port });
  return out;
}

function tunnelOf(m: LvsMethod | undefined): TunnelSettings | undefined {
  if (!m || m.method !== 'TUN') return undefined;
  return { type: m.tunnelType ?? 'ipip', ...(m.tunnelPort !== undefined ? { port: m.tunnelPort } : {}), ...(m.checksum ? { checksum: m.checksum } : {}) };
}

/**
 * The port a destination gets in one kernel service: NAT keeps its own
 * (none: the service's); DR and TUN take the service's, none for fwmark
 * (ipvsadm and keepalived do the same). Pools of address virtual servers
 * are already corrected; groups are corrected here, per entry.
 */
function destPort(key: ServiceKey, method: string, port: number): number {
  if (key.fwmark !== undefined) return method === 'NAT' ? port : 0;
  return method === 'NAT' ? port || key.port : key.port;
}

export interface DesiredOptions {
  /** true when the virtual server (ha_suspend) must not be programmed now */
  readonly suspended?: (vs: VirtualServerConfig) => boolean;
}

/**
 * The desired table: every virtual server of `model` that is not
 * suspended, with the destinations of its pool (matched by the checks'
 * name of the virtual server).
 */
export function desiredTable(model: ConfigModel, pools: readonly VirtualServerPool[], opts: DesiredOptions = {}): DesiredTable {
  const groups = new Map<string, VirtualServerGroupConfig>();
  for (const g of (model.virtualServerGroup ?? []) as VirtualServerGroupConfig[]) if (!groups.has(g.name)) groups.set(g.name, g);
  const vss = (model.virtualServer ?? []) as VirtualServerConfig[];
  const out: DesiredTable = new Map();
  // by identity, not by position: during a reload the pools may already be the new config's
  const byKey = new Map<string, VirtualServerPool>();
  for (const pool of pools) byKey.set(poolKey(pool.key, pool.protocol), pool);
  const seen = new Set<string>();
  for (const vs of vss) {
    const pool = byKey.get(poolKey(vs as unknown as VirtualServerKey, protocolOf(vs)));
    // a virtual server without a pool: new in a reload whose checks are not there yet
    if (!pool) continue;
    const keys = serviceKeys(vs, groups);
    if (pool.removed || opts.suspended?.(vs)) continue;
    for (const key of keys) {
      const id = serviceId(key);
      if (seen.has(id)) continue;
      seen.add(id);
      const destinations = new Map<string, DestinationSpec>();
      for (const d of pool.destinations) {
        const family: Family = net.isIPv6(d.address) ? 6 : 4;
        const rs = d.role === 'real' ? findRealServer(vs, d.address, d.port, key) : undefined;
        const methodCfg = d.role === 'sorry' ? (vs.sorryServerLvsMethod ?? vs.lvsMethod) : (rs?.lvsMethod ?? vs.lvsMethod);
        const spec: DestinationSpec = {
          family,
          address: d.address,
          port: destPort(key, d.lvsMethod, d.port),
          method: d.lvsMethod,
          weight: d.weight,
          upperThreshold: rs?.uthreshold ?? 0,
          lowerThreshold: rs?.lthreshold ?? 0,
          ...(d.lvsMethod === 'TUN' ? { tunnel: tunnelOf(methodCfg) } : {}),
        };
        destinations.set(destinationId(spec), spec);
      }
      out.set(id, { spec: { key, ...serviceSettings(vs, key.family) }, virtualServer: pool.virtualServer, destinations });
    }
  }
  return out;
}

function protocolOf(vs: VirtualServerConfig): string {
  return ((vs.protocol as string | undefined) ?? 'UDP').toLowerCase();
}

function poolKey(k: VirtualServerKey, protocol: string | undefined): string {
  if (k.kind === 'address') return `${protocol ?? 'udp'}|${canonicalIp(k.address)}|${k.port}`;
  return k.kind === 'fwmark' ? `fwmark|${k.fwmark}` : `group|${k.group}`;
}

function findRealServer(vs: VirtualServerConfig, address: string, port: number, key: ServiceKey): RealServerConfig | undefined {
  const vsMethod = vs.lvsMethod?.method ?? 'NAT';
  let byAddress: RealServerConfig | undefined;
  for (const rs of vs.realServer) {
    if (rs.address !== address) continue;
    byAddress ??= rs;
    const m = rs.lvsMethod?.method ?? vsMethod;
    if (rs.port === port || destPort(key, m, rs.port) === port) return rs;
  }
  return byAddress;
}
