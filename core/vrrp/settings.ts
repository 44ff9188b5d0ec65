import type { GlobalDefs, VrrpInstanceConfig } from '../config/model';
import type { AddressEntry, RouteEntry } from '../config/keywords/vrrp';
import { VRRP_MCAST_V4, VRRP_MCAST_V6, VRRP_TTL, type IpFamily, type VrrpVersion } from './types';

/**
 * What one VRRP instance runs with, once keepalived's defaults and the
 * global_defs fallbacks are applied. Plain data: it crosses from the daemon
 * to the VRRP process as JSON.
 */
export interface InstanceSettings {
  name: string;
  vrid: number;
  version: VrrpVersion;
  family: IpFamily;
  ifname: string;
  /** configured (base) priority; 255 is the address owner */
  priority: number;
  advertIntCs: number;
  initialState: 'MASTER' | 'BACKUP';
  preempt: boolean;
  preemptDelayMs: number;
  downTimerAdverts: number;
  /** the source address, when the config fixes it (mcast_src_ip / unicast_src_ip); else the interface's */
  srcAddress?: string;
  /** the multicast group, or undefined for unicast */
  group?: string;
  unicastPeers: { address: string; minTtl?: number; maxTtl?: number }[];
  ttl: number;
  authPass?: string;
  checkUnicastSrc: boolean;
  skipCheckAdvAddr: boolean;
  /** the addresses put in adverts (virtual_ipaddress of the instance's family, first 255 for v2 count) */
  advertAddresses: string[];
  vips: AddressEntry[];
  excludedVips: AddressEntry[];
  routes: RouteEntry[];
  garp: GarpSettings;
  /** lower_prio_no_advert: a master does not answer lower-priority adverts */
  lowerPrioNoAdvert: boolean;
  /** higher_prio_send_advert: a master that yields to a higher priority sends one more advert first */
  higherPrioSendAdvert: boolean;
  /** kernel_rx_buf_size: the receive buffer of the instance's socket, bytes */
  rxBufSize?: number;
}

export interface GarpSettings {
  /** seconds before the second burst; 0: none */
  masterDelay: number;
  masterRepeat: number;
  /** seconds between refresh bursts while MASTER; 0: none */
  masterRefresh: number;
  masterRefreshRepeat: number;
  /** ms between packets of a burst (vrrp_garp_interval / vrrp_gna_interval) */
  garpIntervalMs: number;
  gnaIntervalMs: number;
}

export interface VrrpSettings {
  routerId?: string;
  instances: InstanceSettings[];
  /** seconds before the instances start (vrrp_startup_delay) */
  startupDelayMs: number;
}

type Globals = Partial<GlobalDefs> & Record<string, unknown>;

/** keepalived's defaults applied to the validated model. */
export function resolveVrrp(globalDefs: Globals | undefined, instances: readonly VrrpInstanceConfig[]): VrrpSettings {
  const g: Globals = globalDefs ?? {};
  return {
    ...(typeof g.routerId === 'string' ? { routerId: g.routerId } : {}),
    instances: instances.map((i) => resolveInstance(g, i)),
    startupDelayMs: typeof g.vrrpStartupDelay === 'number' ? Math.round(g.vrrpStartupDelay * 1000) : 0,
  };
}

function resolveInstance(g: Globals, i: VrrpInstanceConfig): InstanceSettings {
  const inst = i as VrrpInstanceConfig & Record<string, unknown>;
  const vips = (i.virtualIpaddress ?? []) as AddressEntry[];
  const src = (i.unicastSrcIp ?? i.mcastSrcIp) as { family: 4 | 6; address: string } | undefined;
  const peers = (i.unicastPeer ?? []) as { family: 4 | 6; address: string; minTtl?: number; maxTtl?: number }[];
  const family: IpFamily = vips[0]?.family ?? src?.family ?? peers[0]?.family ?? 4;
  const version: VrrpVersion = family === 6 ? 3 : ((i.version ?? (g.vrrpVersion as number | undefined) ?? 2) as VrrpVersion);
  const initialState = (i.state ?? 'BACKUP') as 'MASTER' | 'BACKUP';
  const priority = (i.priority as number | undefined) ?? (initialState === 'MASTER' ? 255 : 100);
  const advertInt = (i.advertInt as number | undefined) ?? 1;
  const unicast = peers.length > 0;
  const mcastDst = i.mcastDstIp as { address: string } | undefined;
  const group = unicast
    ? undefined
    : (mcastDst?.address ?? (family === 4 ? (g.vrrpMcastGroup4 ?? VRRP_MCAST_V4) : (g.vrrpMcastGroup6 ?? VRRP_MCAST_V6)));
  const auth = i.authentication as { authType?: string; authPass?: string } | undefined;
  const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);
  return {
    name: i.name as string,
    vrid: i.virtualRouterId as number,
    version,
    family,
    ifname: i.interface as string,
    priority,
    advertIntCs: Math.round(advertInt * 100),
    initialState,
    preempt: !i.nopreempt,
    preemptDelayMs: Math.round(num(i.preemptDelay, 0) * 1000),
    downTimerAdverts: num(inst.downTimerAdverts, num(g.vrrpDownTimerAdverts, 3)),
    ...(src ? { srcAddress: src.address } : {}),
    ...(group ? { group } : {}),
    unicastPeers: peers.map((p) => ({ address: p.address, ...(p.minTtl !== undefined ? { minTtl: p.minTtl } : {}), ...(p.maxTtl !== undefined ? { maxTtl: p.maxTtl } : {}) })),
    ttl: unicast ? num(i.unicastTtl, VRRP_TTL) : VRRP_TTL,
    ...(version === 2 && auth?.authType === 'PASS' && auth.authPass !== undefined ? { authPass: auth.authPass.slice(0, 8) } : {}),
    checkUnicastSrc: Boolean(i.checkUnicastSrc ?? g.vrrpCheckUnicastSrc),
    skipCheckAdvAddr: Boolean(i.skipCheckAdvAddr ?? g.vrrpSkipCheckAdvAddr),
    advertAddresses: vips.filter((v) => v.family === family).map((v) => v.address),
    vips,
    excludedVips: (i.virtualIpaddressExcluded ?? []) as AddressEntry[],
    routes: (i.virtualRoutes ?? []) as RouteEntry[],
    garp: {
      // vrrp_min_garp: one gratuitous ARP / NA on becoming master, nothing after
      masterDelay: g.vrrpMinGarp === true ? 0 : num(inst.garpMasterDelay, num(g.vrrpGarpMasterDelay, 5)),
      masterRepeat: g.vrrpMinGarp === true ? 1 : num(inst.garpMasterRepeat, num(g.vrrpGarpMasterRepeat, 5)),
      masterRefresh: g.vrrpMinGarp === true ? 0 : num(inst.garpMasterRefresh, num(g.vrrpGarpMasterRefresh, 0)),
      masterRefreshRepeat: num(inst.garpMasterRefreshRepeat, num(g.vrrpGarpMasterRefreshRepeat, 1)),
      garpIntervalMs: num(g.vrrpGarpInterval, 0) * 1000,
      gnaIntervalMs: num(g.vrrpGnaInterval, 0) * 1000,
    },
    lowerPrioNoAdvert: Boolean(inst.lowerPrioNoAdvert ?? g.vrrpLowerPrioNoAdvert),
    higherPrioSendAdvert: Boolean(inst.higherPrioSendAdvert ?? g.vrrpHigherPrioSendAdvert),
    ...(typeof inst.kernelRxBufSize === 'number' ? { rxBufSize: inst.kernelRxBufSize } : {}),
  };
}
