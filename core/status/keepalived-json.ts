import { formatAddress, formatRoute, KEEPALIVED_STATE, SCRIPT_FIELDS, vmacOf, type InstanceDumpConfig } from './keepalived-format';
import type { InstanceStatusDoc, StatusDocument } from './types';

/**
 * keepalived's JSON dump (keepalived/vrrp/vrrp_json.c, the file its JSON
 * signal writes) made from the status document: a top-level array, one
 * `{"data": {...}, "stats": {...}}` per VRRP instance, with keepalived
 * 2.2.8's fields in its order, names and types (the form without
 * `json_version`, which keepalived 2.3 writes only when told to and which
 * the exporters do not read).
 *
 * Where alived differs, on purpose:
 * - `auth_data` is `********`, never the password (keepalived 2.2 writes it
 *   in clear; 2.3 masks it the same way);
 * - `vmac_ifname` is the VMAC's name, or `""` without one, as keepalived;
 * - `master_adver_int` is the instance's own advert interval: alived does
 *   not keep the master's apart.
 */
export function formatKeepalivedJson(doc: StatusDocument, config: ReadonlyMap<string, InstanceDumpConfig>): string {
  const out: unknown[] = [];
  for (const i of doc.vrrp.instances) {
    const c = config.get(i.name);
    if (!c) continue;
    out.push({ data: instanceData(i, c), stats: { ...i.counters } });
  }
  return JSON.stringify(out) + '\n';
}

function instanceData(i: InstanceStatusDoc, c: InstanceDumpConfig): Record<string, unknown> {
  const s = c.settings;
  const vmac = vmacOf(s);
  const ifname = vmac ? vmac.ifname : s.ifname;
  const wanted = i.state === 'MASTER' || i.state === 'BACKUP' || i.state === 'FAULT' ? i.state : i.wantedState;
  const present = new Set(i.vips.filter((v) => v.present).map((v) => v.address));
  const d: Record<string, unknown> = {
    iname: i.name,
    dont_track_primary: s.trackPrimary ? 0 : 1,
    skip_check_adv_addr: s.skipCheckAdvAddr ? 1 : 0,
    strict_mode: s.strict ? 1 : 0,
    vmac_ifname: vmac ? vmac.ifname : '',
    ifp_ifname: ifname,
    // keepalived's master_priority: the priority in the last advert it yielded to
    master_priority: i.master && !i.master.self ? i.master.priority : 0,
    // seconds to the microsecond, as keepalived writes a timeval
    last_transition: i.since === null ? 0 : Math.round(i.since * 1000) / 1e6,
    garp_delay: s.garp.masterDelay,
    garp_refresh: s.garp.masterRefresh,
    garp_rep: s.garp.masterRepeat,
    garp_refresh_rep: s.garp.masterRefreshRepeat,
    garp_lower_prio_delay: s.garp.lowerPrioDelay,
    garp_lower_prio_rep: s.garp.lowerPrioRepeat,
    lower_prio_no_advert: s.lowerPrioNoAdvert ? 1 : 0,
    higher_prio_send_advert: s.higherPrioSendAdvert ? 1 : 0,
    vrid: i.vrid,
    base_priority: i.basePriority,
    effective_priority: i.effectivePriority,
    vipset: i.state === 'MASTER',
    promote_secondaries: c.promoteSecondaries,
    adver_int: i.advertIntervalMs / 1000,
    master_adver_int: i.advertIntervalMs / 1000,
    accept: s.accept ? 1 : 0,
    nopreempt: !s.preempt,
    preempt_delay: Math.floor(s.preemptDelayMs / 1000),
    state: KEEPALIVED_STATE[i.state],
    wantstate: KEEPALIVED_STATE[wanted],
    version: i.version,
    smtp_alert: c.smtpAlert,
    notify_deleted: c.notifyDeleted,
  };
  for (const f of SCRIPT_FIELDS) {
    const line = c.scripts[f];
    if (line !== undefined) d[f] = line;
  }
  const vips = s.vips.map((a) => formatAddress(a, ifname, present.has(`${a.address}/${a.prefix ?? (a.family === 4 ? 32 : 128)}`), vmac));
  const evips = s.excludedVips.map((a) => formatAddress(a, ifname, i.state === 'MASTER', vmac));
  const vroutes = s.routes.map((r) => formatRoute(r, ifname));
  const trackIfp = s.trackInterfaces.map((t) => t.ifname);
  const trackScript = c.trackScripts.map((t) => t.command);
  const trackProcess = s.tracks.filter((t) => t.type === 'track_process').map((t) => t.name);
  // keepalived leaves an empty list out
  if (vips.length) d.vips = vips;
  if (evips.length) d.evips = evips;
  if (vroutes.length) d.vroutes = vroutes;
  if (trackIfp.length) d.track_ifp = trackIfp;
  if (trackScript.length) d.track_script = trackScript;
  if (trackProcess.length) d.track_process = trackProcess;
  const authType = s.authPass !== undefined ? 1 : s.ahPass !== undefined ? 2 : 0;
  d.auth_type = authType;
  if (authType) d.auth_data = '********';
  return d;
}
