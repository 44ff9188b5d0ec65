import type { GlobalDefs, VrrpInstanceConfig, VrrpSyncGroupConfig } from '../config/model';
import type { ExtensionValue } from '../config/schema';
import type { AddressEntry, RouteEntry } from '../config/keywords/vrrp';
import type { StaticNetSettings } from './static-net-settings';
import type { VrrpProcessSettings } from './process-settings';
import { assignVmacs, type VmacSettings } from './vmac-settings';
import { acceptMode } from '../config/keywords/accept-mode';
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
  /** auth_type PASS: the password (first 8 characters) */
  authPass?: string;
  /** auth_type AH (IPv4 VRRPv2): auth_pass, the HMAC-MD5 key of the IPsec AH header (its first 8 bytes count) */
  ahPass?: string;
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
  /** the trackers (vrrp_script, track_file, plugin trackers) that move its priority or put it in FAULT, its sync group's included */
  tracks: TrackSetting[];
  /** track_interface entries (the instance's and its sync group's) */
  trackInterfaces: TrackInterfaceSetting[];
  /** false with dont_track_primary: the instance's own interface going down is not a FAULT */
  trackPrimary: boolean;
  /** the vrrp_sync_group it belongs to */
  syncGroup?: string;
  /** notify_priority_changes (instance, else group, else global vrrp_notify_priority_changes) */
  notifyPriorityChanges: boolean;
  /** use_vmac: the macvlan it runs on (core/vrrp/vmac.ts); its VIPs name it as their `dev` */
  vmac?: VmacSettings;
  /** strict mode (strict_mode, else global vrrp_strict): the settings above already hold what it changes (core/config/keywords/vrrp-strict.ts) */
  strict: boolean;
  /**
   * accept mode as keepalived resolves it: false (no_accept) makes a master
   * that is not the address owner drop traffic to its VIPs (firewall.ts)
   */
  accept: boolean;
}

/** The nftables table a no_accept master's VIPs go in (keepalived's `nftables` options in global_defs). */
export interface FirewallSettings {
  /** `nftables [TABLE]`; alived's own default `alived`, so that a keepalived on the same host keeps its `keepalived` */
  table: string;
  /** nftables_priority: the base chains' priority; default -1 */
  priority: number;
  /** nftables_counters: a counter on each drop rule */
  counters: boolean;
  /** nftables_ifindex: IPv6 link-local VIPs keyed by interface index, also under dont_track_primary */
  ifindex: boolean;
}

/** alived's default nftables table (keepalived's is `keepalived`). */
export const DEFAULT_NFT_TABLE = 'alived';

/**
 * One tracked object as an instance follows it. Its state comes from the
 * main process, where the tracker plugins run (core/track), keyed by
 * `type` (the tracker block's keyword: vrrp_script, track_file, ...) and
 * `name`.
 */
export interface TrackSetting {
  type: string;
  name: string;
  /** the entry's weight, else the tracker block's; 0: a failure means FAULT */
  weight: number;
  reverse: boolean;
}

export interface TrackInterfaceSetting {
  ifname: string;
  /** 0 (no weight): down means FAULT */
  weight: number;
  reverse: boolean;
}

export interface SyncGroupSettings {
  name: string;
  /** member instance names, in the config's order */
  members: string[];
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
  /** garp_lower_prio_repeat: packets per address when a master hears a lower priority; 0: none */
  lowerPrioRepeat: number;
  /** garp_lower_prio_delay: seconds before a second such burst; 0: none */
  lowerPrioDelay: number;
  /** garp_extra_if (else global vrrp_garp_extra_if): seconds between gratuitous ARPs on VMACs that send no adverts (`all`: every VIP interface but the advert's); 0: none */
  extraIfInterval: number;
  extraIfAll: boolean;
}

export interface VrrpSettings {
  routerId?: string;
  instances: InstanceSettings[];
  /** seconds before the instances start (vrrp_startup_delay) */
  startupDelayMs: number;
  syncGroups: SyncGroupSettings[];
  /** static_ipaddress, static_routes, static_rules (core/vrrp/static-net.ts) */
  statics?: StaticNetSettings;
  /** vrrp_no_swap, max_auto_priority (core/vrrp/process-settings.ts) */
  vrrpProcess?: VrrpProcessSettings;
  /** disable_local_igmp: net.ipv4.igmp_link_local_mcast_reports 0 while the VRRP process runs */
  disableLocalIgmp?: boolean;
  /** the nftables settings; present when a no_accept instance needs them or the config names nftables / vrrp_iptables */
  firewall?: FirewallSettings;
}

/**
 * Settings as a reload compares them (JSON): what an instance runs with,
 * without where the config said it (the `pos` of its VIPs and routes). An
 * instance whose lines only moved, because lines above it were added or
 * removed, is unchanged: not updated in place, its gratuitous ARPs not sent
 * again.
 */
export function settingsKey(settings: unknown): string {
  return JSON.stringify(settings, (key, value: unknown) => (key === 'pos' ? undefined : value));
}

/** What resolveVrrp needs beyond global_defs and the instances. */
export interface VrrpResolveExtra {
  syncGroups?: readonly VrrpSyncGroupConfig[];
  /** the tracker blocks by reference keyword (track_script) and name: core/track/plan.ts trackerBlocks() */
  trackerBlocks?: ReadonlyMap<string, ReadonlyMap<string, { type: string; config: unknown }>>;
  /** what keepalived ignores (weighted trackers of sync group members and address owners) is said here */
  warn?: (message: string) => void;
}

type Globals = Partial<GlobalDefs> & Record<string, unknown>;

/** keepalived's defaults applied to the validated model. */
export function resolveVrrp(globalDefs: Globals | undefined, instances: readonly VrrpInstanceConfig[], extra: VrrpResolveExtra = {}): VrrpSettings {
  const g: Globals = globalDefs ?? {};
  const groups = (extra.syncGroups ?? []).filter((sg) => sg.group.some((n) => instances.some((i) => i.name === n)));
  const resolved = instances.map((i) => {
    const inst = resolveInstance(g, i);
    const group = groups.find((sg) => sg.group.includes(inst.name));
    resolveTracking(inst, i, group, extra);
    return inst;
  });
  // strict mode clears use_vmac's MAC and vmac_xmit_base (config/keywords/vrrp-strict.ts warns)
  const vmacConfigs = instances.map((c, n) => {
    const v = (c as { useVmac?: { interface?: string; mac?: string } }).useVmac;
    return resolved[n]!.strict && v ? { ...c, useVmac: v.interface !== undefined ? { interface: v.interface } : {}, vmacXmitBase: false } : c;
  });
  assignVmacs(resolved, vmacConfigs as Parameters<typeof assignVmacs>[1], typeof g.vmacPrefix === 'string' ? g.vmacPrefix : undefined);
  const firewall = resolveFirewall(g, resolved);
  return {
    ...(typeof g.routerId === 'string' ? { routerId: g.routerId } : {}),
    ...(firewall ? { firewall } : {}),
    instances: resolved,
    startupDelayMs: typeof g.vrrpStartupDelay === 'number' ? Math.round(g.vrrpStartupDelay * 1000) : 0,
    syncGroups: groups.map((sg) => ({ name: sg.name, members: sg.group.filter((n) => instances.some((i) => i.name === n)) })),
    ...(g.disableLocalIgmp === true ? { disableLocalIgmp: true } : {}),
  };
}

/**
 * keepalived's firewall settings (global_parser.c, vrrp.c): `nftables
 * [TABLE]`, or `vrrp_iptables` / `vrrp_ipsets` (which Debian's keepalived,
 * built without iptables, maps to nftables, as alived does); without them a
 * no_accept instance turns nftables on with the default table.
 */
function resolveFirewall(g: Globals, instances: readonly InstanceSettings[]): FirewallSettings | undefined {
  const named = g.nftables;
  const configured = named !== undefined || g.vrrpIptables !== undefined || g.vrrpIpsets !== undefined;
  const needed = instances.some((i) => !i.accept && i.priority !== 255);
  if (!configured && !needed) return undefined;
  return {
    table: typeof named === 'string' ? named : DEFAULT_NFT_TABLE,
    priority: typeof g.nftablesPriority === 'number' ? g.nftablesPriority : -1,
    counters: g.nftablesCounters === true,
    ifindex: g.nftablesIfindex === true,
  };
}

type TrackRef = { name: string; weight?: number; reverse?: boolean };
type Blockish = { weight?: { value?: number; reverse?: boolean } };

/**
 * The instance's trackers and its sync group's, with the weights keepalived
 * applies (vrrp.c vrrp_complete_instance): an entry's weight overrides the
 * tracker block's; members of a sync group without
 * sync_group_tracking_weight, and address owners (priority 255), ignore
 * weighted trackers (a tracked file's default weight 1 becomes 0, a
 * weighted interface of a sync group member becomes unweighted).
 */
function resolveTracking(inst: InstanceSettings, i: VrrpInstanceConfig, group: VrrpSyncGroupConfig | undefined, extra: VrrpResolveExtra): void {
  const owner = inst.priority === 255;
  const noWeights = owner || (group !== undefined && !group.syncGroupTrackingWeight);
  const why = owner ? 'the address owner (priority 255)' : `sync group ${group?.name ?? ''} (no sync_group_tracking_weight)`;
  const warn = extra.warn ?? (() => undefined);
  const lists: { keyword: string; refs: TrackRef[] }[] = [];
  for (const source of [i, group]) {
    for (const e of (source?.extensions ?? []) as ExtensionValue[]) {
      if (extra.trackerBlocks?.has(e.keyword) && Array.isArray(e.value)) lists.push({ keyword: e.keyword, refs: e.value as TrackRef[] });
    }
  }
  for (const { keyword, refs } of lists) {
    const blocks = extra.trackerBlocks!.get(keyword)!;
    for (const ref of refs) {
      // references are resolved by the config check: a block is always there
      const block = blocks.get(ref.name);
      if (!block) continue;
      const type = block.type;
      const own = (block.config as Blockish).weight;
      let weight = ref.weight ?? own?.value ?? 0;
      const reverse = ref.reverse ?? own?.reverse ?? false;
      if (noWeights && weight !== 0) {
        if (type === 'track_file' && weight === 1) {
          warn(`(${inst.name}) ignoring the weight of tracked file ${ref.name} because of ${why}: it is tracked unweighted (specify weight 0)`);
          weight = 0;
        } else {
          warn(`(${inst.name}) ignoring ${keyword} ${ref.name} with weight ${weight} because of ${why}`);
          continue;
        }
      }
      if (inst.tracks.some((t) => t.type === type && t.name === ref.name)) continue;
      inst.tracks.push({ type, name: ref.name, weight, reverse });
    }
  }
  for (const source of [i, group]) {
    for (const t of (source?.trackInterface ?? []) as { interface: string; weight?: number; reverse?: boolean }[]) {
      let weight = t.weight ?? 0;
      if (noWeights && weight !== 0) {
        if (owner) {
          warn(`(${inst.name}) ignoring tracked interface ${t.interface} because of ${why}`);
          continue;
        }
        warn(`(${inst.name}) ignoring the weight of tracked interface ${t.interface} because of ${why}`);
        weight = 0;
      }
      if (inst.trackInterfaces.some((x) => x.ifname === t.interface)) continue;
      inst.trackInterfaces.push({ ifname: t.interface, weight, reverse: t.reverse === true });
    }
  }
  if (group) inst.syncGroup = group.name;
  const np = (i as unknown as Record<string, unknown>).notifyPriorityChanges ?? group?.notifyPriorityChanges;
  if (typeof np === 'boolean') inst.notifyPriorityChanges = np;
}

function resolveInstance(g: Globals, i: VrrpInstanceConfig): InstanceSettings {
  const inst = i as VrrpInstanceConfig & Record<string, unknown>;
  const vips = (i.virtualIpaddress ?? []) as AddressEntry[];
  const src = (i.unicastSrcIp ?? i.mcastSrcIp) as { family: 4 | 6; address: string } | undefined;
  const peers = (i.unicastPeer ?? []) as { family: 4 | 6; address: string; minTtl?: number; maxTtl?: number }[];
  const family: IpFamily = vips[0]?.family ?? src?.family ?? peers[0]?.family ?? 4;
  const version: VrrpVersion = family === 6 ? 3 : ((i.version ?? (g.vrrpVersion as number | undefined) ?? 2) as VrrpVersion);
  // keepalived's strict mode (strict_mode, else vrrp_strict): RFC behaviour only, no extra packets;
  // what it changes is warned about by core/config/keywords/vrrp-strict.ts, rule by rule
  const strict = typeof inst.strictMode === 'boolean' ? inst.strictMode : g.vrrpStrict === true;
  const auth = i.authentication as { authType?: string; authPass?: string } | undefined;
  // strict mode drops the authentication, AH too
  const ah = !strict && version === 2 && family === 4 && auth?.authType === 'AH' && auth.authPass !== undefined;
  let initialState = (i.state ?? 'BACKUP') as 'MASTER' | 'BACKUP';
  const priority = (i.priority as number | undefined) ?? (initialState === 'MASTER' ? 255 : 100);
  // strict: state MASTER is the address owner's; anyone else starts as BACKUP (and the owner as MASTER)
  if (strict) initialState = priority === 255 ? 'MASTER' : 'BACKUP';
  // keepalived: an AH instance must hear an advert's sequence number before it takes over, so `state MASTER`
  // below 255 is cleared to BACKUP (`alived -t` warns)
  if (ah && initialState === 'MASTER' && priority !== 255) initialState = 'BACKUP';
  const advertInt = (i.advertInt as number | undefined) ?? 1;
  const unicast = peers.length > 0;
  const mcastDst = i.mcastDstIp as { address: string } | undefined;
  const group = unicast ? undefined : (mcastDst?.address ?? (family === 4 ? (g.vrrpMcastGroup4 ?? VRRP_MCAST_V4) : (g.vrrpMcastGroup6 ?? VRRP_MCAST_V6)));
  const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);
  const minGarp = g.vrrpMinGarp === true;
  const extraIf = (inst.garpExtraIf ?? g.vrrpGarpExtraIf) as { all: boolean; interval: number } | undefined;
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
    preemptDelayMs: strict ? 0 : Math.round(num(i.preemptDelay, 0) * 1000),
    downTimerAdverts: strict ? 3 : num(inst.downTimerAdverts, num(g.vrrpDownTimerAdverts, 3)),
    ...(src ? { srcAddress: src.address } : {}),
    ...(group ? { group } : {}),
    unicastPeers: peers.map((p) => ({
      address: p.address,
      ...(p.minTtl !== undefined ? { minTtl: p.minTtl } : {}),
      ...(p.maxTtl !== undefined ? { maxTtl: p.maxTtl } : {}),
    })),
    ttl: unicast ? num(i.unicastTtl, VRRP_TTL) : VRRP_TTL,
    // strict mode drops the authentication
    ...(!strict && version === 2 && auth?.authType === 'PASS' && auth.authPass !== undefined ? { authPass: auth.authPass.slice(0, 8) } : {}),
    ...(ah ? { ahPass: auth.authPass!.slice(0, 8) } : {}),
    checkUnicastSrc: Boolean(i.checkUnicastSrc ?? g.vrrpCheckUnicastSrc),
    skipCheckAdvAddr: Boolean(i.skipCheckAdvAddr ?? g.vrrpSkipCheckAdvAddr),
    advertAddresses: vips.filter((v) => v.family === family).map((v) => v.address),
    vips,
    excludedVips: (i.virtualIpaddressExcluded ?? []) as AddressEntry[],
    routes: (i.virtualRoutes ?? []) as RouteEntry[],
    garp: {
      // vrrp_min_garp: one gratuitous ARP / NA on becoming master, nothing after
      masterDelay: minGarp ? 0 : num(inst.garpMasterDelay, num(g.vrrpGarpMasterDelay, 5)),
      masterRepeat: minGarp ? 1 : num(inst.garpMasterRepeat, num(g.vrrpGarpMasterRepeat, 5)),
      masterRefresh: minGarp ? 0 : num(inst.garpMasterRefresh, num(g.vrrpGarpMasterRefresh, 0)),
      masterRefreshRepeat: num(inst.garpMasterRefreshRepeat, num(g.vrrpGarpMasterRefreshRepeat, 1)),
      garpIntervalMs: num(g.vrrpGarpInterval, 0) * 1000,
      gnaIntervalMs: num(g.vrrpGnaInterval, 0) * 1000,
      // keepalived (vrrp_complete_init): the globals default to vrrp_garp_master_repeat / _delay, the
      // instance's own garp_master_* do not count; strict mode sends none, whatever the instance says
      lowerPrioRepeat: strict ? 0 : num(inst.garpLowerPrioRepeat, num(g.vrrpGarpLowerPrioRepeat, minGarp ? 1 : num(g.vrrpGarpMasterRepeat, 5))),
      lowerPrioDelay: strict ? 0 : num(inst.garpLowerPrioDelay, num(g.vrrpGarpLowerPrioDelay, minGarp ? 0 : num(g.vrrpGarpMasterDelay, 5))),
      extraIfInterval: extraIf?.interval ?? 0,
      extraIfAll: extraIf?.all === true,
    },
    // strict: a master never answers a lower priority
    lowerPrioNoAdvert: strict || Boolean(inst.lowerPrioNoAdvert ?? g.vrrpLowerPrioNoAdvert),
    // on unless turned off (keepalived: off) and outside strict mode: a master that yields tells the winner,
    // which then re-announces the VIPs (docs/vrrp.md, "After two masters met")
    higherPrioSendAdvert: !strict && (inst.higherPrioSendAdvert ?? g.vrrpHigherPrioSendAdvert ?? true) !== false,
    ...(typeof inst.kernelRxBufSize === 'number' ? { rxBufSize: inst.kernelRxBufSize } : {}),
    tracks: [],
    trackInterfaces: [],
    trackPrimary: !inst.dontTrackPrimary,
    notifyPriorityChanges: g.vrrpNotifyPriorityChanges === true,
    strict,
    accept: acceptMode({ ...(inst.accept ? { accept: true } : {}), ...(inst.noAccept ? { noAccept: true } : {}), priority }, strict, version),
  };
}
