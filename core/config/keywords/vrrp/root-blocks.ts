import type { Pos } from '../../diagnostics';
import { lines, sub, type CheckCtx } from '../../schema';
import { keywordPos, type Stmt } from '../../tree';
import type { Invalid } from '../../values';
import { addressEntry } from './addresses';
import { bfdInstanceSchema, garpGroupSchema, linkbeatEntry, trackGroupSchema, upDownDelayEntry } from './blocks';
import { instanceFamily, instanceVersion, vrrpInstanceSchema, type Instance } from './instance';
import { routeEntry } from './routes';
import { ruleEntry } from './rules';
import { vrrpSyncGroupSchema } from './sync-group';

/** The VRRP keywords of the root block, and the checks across their blocks. */

export const vrrpRootFields = {
  vrrp_instance: sub(vrrpInstanceSchema).repeatable(),
  vrrp_sync_group: sub(vrrpSyncGroupSchema).repeatable(),
  track_group: sub(trackGroupSchema).repeatable().feature('static-net'),
  static_ipaddress: lines(addressEntry('static_ipaddress'))
    .repeatable()
    .feature('static-net')
    .doc('addresses keepalived keeps configured, whatever the VRRP state'),
  static_routes: lines(routeEntry(true)).repeatable().feature('static-net'),
  static_rules: lines(ruleEntry(true)).repeatable().feature('static-net'),
  garp_group: sub(garpGroupSchema).repeatable().feature('vrrp-more'),
  linkbeat_interfaces: lines(linkbeatEntry)
    .repeatable()
    .feature('vrrp-more')
    .doc('interfaces whose link state is polled (MII, ETHTOOL or IOCTL) rather than read from netlink'),
  interface_up_down_delays: lines(upDownDelayEntry).repeatable().feature('vrrp-more'),
  bfd_instance: sub(bfdInstanceSchema).repeatable().feature('bfd'),
};

type SyncGroup = Exclude<ReturnType<typeof vrrpSyncGroupSchema.parseBlock>, Invalid>;
type TrackGroup = Exclude<ReturnType<typeof trackGroupSchema.parseBlock>, Invalid>;

/** VMAC names across instances: each its own, and none the interface of an instance (keepalived refuses a name in use). */
function checkVmacNames(instances: readonly Instance[], stmtOf: ReadonlyMap<Instance, Stmt>, ctx: CheckCtx): void {
  const named = new Map<string, Instance>();
  const interfaces = new Map<string, Instance>();
  for (const inst of instances) if (!interfaces.has(inst.interface)) interfaces.set(inst.interface, inst);
  for (const inst of instances) {
    const name = inst.useVmac?.interface;
    if (name === undefined) continue;
    const pos = keywordPos(stmtOf.get(inst), 'use_vmac', inst.pos, 0);
    const prev = named.get(name);
    const base = interfaces.get(name);
    if (prev) {
      // keepalived deletes the first instance's VMAC to make this one, and the first loses its interface: alived keeps both working
      ctx.diags.compat(
        'ALIVED_CONFIG_DUPLICATE',
        pos,
        `vrrp_instance ${inst.name}: VMAC ${name} is already the VMAC of vrrp_instance ${prev.name} at line ${prev.pos.line}; keepalived would delete that one to make this one, leaving ${prev.name} without its interface: alived gives this instance a VMAC of its own, named as keepalived names a VMAC without a name (vmac_prefix.VRID)`,
      );
    } else if (base && inst.interface !== name) {
      ctx.diags.error(
        'ALIVED_CONFIG_CONFLICT',
        pos,
        `vrrp_instance ${inst.name}: VMAC ${name} is the interface of vrrp_instance ${base.name} at line ${base.pos.line}`,
      );
    } else named.set(name, inst);
  }
}

/** Checks that depend on the VRRP version (explicit, deduced or from global vrrp_version); strict mode's changes are vrrp-strict.ts's. */
function checkVersion(v: Instance, version: number, ctx: CheckCtx, stmt: Stmt | undefined, strict: boolean): void {
  const where = `vrrp_instance ${v.name}`;
  const fam = instanceFamily(v);
  if (version === 2 && fam === 6 && !strict) {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', keywordPos(stmt, 'version', v.pos, 0), `${where}: VRRPv2 is IPv4 only (RFC 3768); IPv6 instances use version 3`);
  }
  if (version === 3 && v.authentication && !strict) {
    // keepalived drops it ("does not support authentication. Ignoring.") and runs; the settings carry none for VRRPv3
    ctx.diags.compat(
      'ALIVED_CONFIG_CONFLICT',
      v.authentication.pos,
      fam === 6 && v.authentication.authType === 'AH'
        ? `${where}: auth_type AH is IPv4 only (IPv6 instances use VRRPv3, which has no authentication): the authentication block is ignored, as keepalived ignores it`
        : `${where}: VRRPv3 has no authentication: the authentication block is ignored and adverts carry none, as keepalived does; remove it, or use version 2`,
    );
  }
  if (version === 2 && v.authentication?.authType === 'AH' && v.state === 'MASTER' && (v.priority ?? 255) !== 255) {
    ctx.diags.compat(
      'ALIVED_CONFIG_CONFLICT',
      keywordPos(stmt, 'state', v.pos, 0),
      `${where}: state MASTER does not go with auth_type AH below priority 255 (a node must hear the master's AH sequence number before it takes over): it starts as BACKUP, as keepalived does`,
    );
  }
  const adv = v.advertInt;
  const advPos = keywordPos(stmt, 'advert_int', v.pos, 0);
  if (version === 2) {
    if (!Number.isInteger(adv)) {
      ctx.diags.error(
        'ALIVED_CONFIG_BAD_VALUE',
        advPos,
        `${where}: advert_int ${adv}: VRRPv2 advertises in whole seconds (1..255); use an integer, or version 3 for intervals down to 0.01`,
      );
    }
  } else {
    if (adv > 40.95) {
      ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', advPos, `${where}: advert_int ${adv} is out of range for VRRPv3: expected 0.01..40.95 seconds`);
    } else if (Math.abs(Math.round(adv * 100) - adv * 100) > 1e-6) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', advPos, `${where}: advert_int ${adv}: VRRPv3 advertises in units of 10 ms (centiseconds)`);
    }
  }
  const hasVips = (v.virtualIpaddress?.length ?? 0) > 0;
  if (!hasVips && !v.noVirtualIpaddress) {
    if (version === 3) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', v.pos, `${where}: VRRPv3 needs at least one virtual_ipaddress (or no_virtual_ipaddress)`);
    } else if (!strict) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, `${where}: no virtual_ipaddress; add no_virtual_ipaddress if that is intended`);
    }
  }
}

interface RootModel {
  globalDefs?: { vrrpVersion?: number; vrrpStrict?: true; vrrpMcastGroup4?: string; vrrpMcastGroup6?: string; pos: Pos };
  vrrpInstance?: Instance[];
  vrrpSyncGroup?: SyncGroup[];
  trackGroup?: TrackGroup[];
}

/**
 * Checks across blocks: versions and strict mode from global_defs, VRIDs
 * unique per interface and family (and multicast group, or overlapping
 * unicast peers), one sync group per instance, trackers in sync groups.
 */
export function checkVrrpRoot(model: RootModel, ctx: CheckCtx, rootStmt?: Stmt): void {
  const instances = model.vrrpInstance ?? [];
  // by position, not by search: a config may have thousands of instances
  const stmtAt = new Map<Pos, Stmt>();
  for (const s of rootStmt?.block ?? []) stmtAt.set(s.name.pos, s);
  const stmtOf = new Map<Instance, Stmt>();
  for (const inst of instances) {
    const s = stmtAt.get(inst.pos);
    if (s) stmtOf.set(inst, s);
  }
  const globalVersion = model.globalDefs?.vrrpVersion;
  for (const inst of instances) {
    const stmt = stmtOf.get(inst);
    // strict mode runs an IPv6 instance as VRRPv3 whatever its version says (vrrp-strict.ts warns)
    const strict = inst.strictMode ?? model.globalDefs?.vrrpStrict === true;
    checkVersion(inst, strict && instanceFamily(inst) === 6 ? 3 : instanceVersion(inst, globalVersion), ctx, stmt, strict);
  }
  checkVrids(model, instances, stmtOf, ctx);
  checkVmacNames(instances, stmtOf, ctx);
  checkSyncGroups(model, instances, ctx);
}

/** VRIDs: an instance is compared with the earlier ones of its VRID, family and interface */
function checkVrids(model: RootModel, instances: readonly Instance[], stmtOf: ReadonlyMap<Instance, Stmt>, ctx: CheckCtx): void {
  const seenBy = new Map<string, Instance[]>();
  for (const inst of instances) {
    const fam = instanceFamily(inst);
    const key = `${inst.virtualRouterId}|${fam}|${inst.interface}`;
    let seen = seenBy.get(key);
    if (!seen) seenBy.set(key, (seen = []));
    const unicast = (inst.unicastPeer?.length ?? 0) > 0;
    const mcast = (i: Instance): string =>
      i.mcastDstIp?.address ?? (fam === 4 ? (model.globalDefs?.vrrpMcastGroup4 ?? '224.0.0.18') : (model.globalDefs?.vrrpMcastGroup6 ?? 'ff02::12'));
    const prev = seen.find((p) => {
      if (p.virtualRouterId !== inst.virtualRouterId || instanceFamily(p) !== fam || p.interface !== inst.interface) return false;
      const pUnicast = (p.unicastPeer?.length ?? 0) > 0;
      if (pUnicast !== unicast) return false;
      if (!unicast) return mcast(p) === mcast(inst);
      const src = (i: Instance) => i.unicastSrcIp?.address ?? i.mcastSrcIp?.address;
      if (src(p) && src(inst) && src(p) !== src(inst)) return false;
      return (p.unicastPeer ?? []).some((a) => (inst.unicastPeer ?? []).some((b) => a.address === b.address));
    });
    if (prev) {
      ctx.diags.error(
        'ALIVED_CONFIG_CONFLICT',
        keywordPos(stmtOf.get(inst), 'virtual_router_id', inst.pos, 0),
        `vrrp_instance ${inst.name}: virtual_router_id ${inst.virtualRouterId} is already used on ${inst.interface} (IPv${fam}${unicast ? ', same unicast peers' : ''}) by vrrp_instance ${prev.name} at line ${prev.pos.line}`,
      );
    } else seen.push(inst);
  }
}

/** One sync group per instance; the track_interface weights a sync group or the address owner ignores. */
function checkSyncGroups(model: RootModel, instances: readonly Instance[], ctx: CheckCtx): void {
  const memberOf = new Map<string, SyncGroup>();
  for (const g of model.vrrpSyncGroup ?? []) {
    for (const n of g.group) {
      const other = memberOf.get(n);
      if (other && other !== g) {
        ctx.diags.error(
          'ALIVED_CONFIG_CONFLICT',
          g.pos,
          `vrrp_sync_group ${g.name}: vrrp_instance ${n} is already in vrrp_sync_group ${other.name} (line ${other.pos.line}); an instance belongs to one sync group`,
        );
      } else memberOf.set(n, g);
    }
    if (new Set(g.group).size === 1) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', g.pos, `vrrp_sync_group ${g.name} has only one member, which is probably not what you want`);
    }
  }
  for (const inst of instances) {
    const g = memberOf.get(inst.name);
    const owner = inst.priority === 255;
    if (!(g && !g.syncGroupTrackingWeight) && !owner) continue;
    for (const t of inst.trackInterface ?? []) {
      if (t.weight) {
        ctx.diags.error(
          'ALIVED_CONFIG_CONFLICT',
          t.pos,
          `vrrp_instance ${inst.name}: track_interface ${t.interface} has weight ${t.weight}, which ${owner ? 'the address owner (priority 255) ignores' : `vrrp_sync_group ${g!.name} ignores unless it sets sync_group_tracking_weight`}`,
        );
      }
    }
  }
}
