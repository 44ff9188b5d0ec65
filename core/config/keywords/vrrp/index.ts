/**
 * The VRRP part of keepalived.conf, as keepalived 2.2.8 reads it
 * (keepalived/vrrp/vrrp_parser.c and the address, route and rule parsers):
 * vrrp_instance, vrrp_sync_group, static addresses/routes/rules and their
 * track groups, garp_group, linkbeat_interfaces, interface_up_down_delays
 * and bfd_instance. track_script, track_file and track_process come from
 * the tracker plugins through the vrrp_instance and vrrp_sync_group slots.
 *
 * One file per part: addresses.ts, routes.ts, rules.ts (with
 * entry-options.ts, what routes and rules share), entries.ts (tracking
 * entries, unicast peers, VMAC), authentication.ts, instance.ts,
 * sync-group.ts, blocks.ts (the other VRRP blocks) and root-blocks.ts (the
 * root block's VRRP keywords and the checks across blocks).
 */

export type { AddressEntry } from './addresses';
export type { RouteEncap, RouteEntry, RouteNexthop } from './routes';
export type { RuleEntry } from './rules';
export type { TrackBfdEntry, TrackInterfaceEntry, UnicastPeer } from './entries';
export { instanceFamily, instanceVersion, vrrpInstanceSchema, type Instance } from './instance';
export { vrrpSyncGroupSchema } from './sync-group';
export { bfdInstanceSchema, garpGroupSchema, trackGroupSchema } from './blocks';
export { checkVrrpRoot, vrrpRootFields } from './root-blocks';
