import type { AddressEntry, RouteEntry, RuleEntry } from '../config/keywords/vrrp';

/** keepalived's interface for a static address without `dev` when global_defs has no default_interface (DFLT_INT) */
export const DEFAULT_STATIC_INTERFACE = 'eth0';

/** keepalived numbers rules without a preference down from here, per family (RULE_START_PRIORITY in vrrp_iprule.c) */
const RULE_START_PREFERENCE = 16384;

/** keepalived's own route and rule protocol (RTPROT_KEEPALIVED) */
const RTPROT_KEEPALIVED = 18;

/**
 * static_ipaddress, static_routes and static_rules as the VRRP process
 * applies them: plain data that crosses to it as JSON, each address with
 * its interface, each rule with its preference.
 */
export interface StaticNetSettings {
  addresses: AddressEntry[];
  routes: RouteEntry[];
  rules: RuleEntry[];
}

/** What resolveStaticNet reads of the model. */
export interface StaticNetInput {
  staticIpaddress?: AddressEntry[][];
  staticRoutes?: RouteEntry[][];
  staticRules?: RuleEntry[][];
  trackGroup?: { name: string; group: string[] }[];
  globalDefs?: { defaultInterface?: string };
}

/**
 * The static entries of a config with keepalived's defaults: an address
 * without `dev` goes on default_interface (else eth0); a rule without a
 * preference gets 16384, 16383, ... in its family; a tracked route or rule
 * is keepalived's (protocol 18), which is how keepalived tells it from
 * others'. Undefined when the config has none.
 */
export function resolveStaticNet(model: StaticNetInput): StaticNetSettings | undefined {
  const dev = model.globalDefs?.defaultInterface ?? DEFAULT_STATIC_INTERFACE;
  const addresses = (model.staticIpaddress ?? []).flat().map((a) => (a.dev !== undefined ? a : { ...a, dev }));
  const routes = (model.staticRoutes ?? []).flat().map((r) => {
    if (r.noTrack || r.protocol === undefined) return r;
    const { protocol: _replaced, ...rest } = r;
    return rest as RouteEntry;
  });
  const next = { 4: RULE_START_PREFERENCE, 6: RULE_START_PREFERENCE };
  const rules = (model.staticRules ?? []).flat().map((r) => {
    const out: RuleEntry = { ...r };
    if (out.preference === undefined) out.preference = next[out.family]--;
    if (!out.noTrack) out.protocol = RTPROT_KEEPALIVED;
    return out;
  });
  if (addresses.length + routes.length + rules.length === 0) return undefined;
  return { addresses, routes, rules };
}

/**
 * track_group: each member instance of a group tracks the interface of
 * every static address (its dev), route (its dev) and rule (its iif) of
 * the group that is not no_track, with no weight: the interface going down
 * puts the instance in FAULT. An instance that tracks the interface with a
 * weight already loses the weight, as in keepalived (add_vrrp_to_interface,
 * vrrp_static_track.c).
 */
export function applyTrackGroups(
  instances: { name: string; trackInterfaces: { ifname: string; weight: number; reverse: boolean }[] }[],
  model: StaticNetInput,
): void {
  const groups = model.trackGroup ?? [];
  if (groups.length === 0) return;
  const byGroup = new Map<string, Set<string>>();
  const track = (group: string | undefined, noTrack: true | undefined, ifname: string | undefined): void => {
    if (group === undefined || noTrack || ifname === undefined) return;
    let set = byGroup.get(group);
    if (!set) byGroup.set(group, (set = new Set()));
    set.add(ifname);
  };
  for (const a of (model.staticIpaddress ?? []).flat()) track(a.trackGroup, a.noTrack, a.dev);
  for (const r of (model.staticRoutes ?? []).flat()) track(r.trackGroup, r.noTrack, r.dev);
  for (const r of (model.staticRules ?? []).flat()) track(r.trackGroup, r.noTrack, r.iif);
  for (const g of groups) {
    const ifnames = byGroup.get(g.name);
    if (!ifnames) continue;
    for (const inst of instances) {
      if (!g.group.includes(inst.name)) continue;
      for (const ifname of ifnames) {
        const t = inst.trackInterfaces.find((x) => x.ifname === ifname);
        if (t) {
          t.weight = 0;
          t.reverse = false;
        } else inst.trackInterfaces.push({ ifname, weight: 0, reverse: false });
      }
    }
  }
}
