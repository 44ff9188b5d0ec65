import type { Pos } from '../../diagnostics';
import { block, lines, sub, value, word, type CheckCtx } from '../../schema';
import { keywordPos, type Stmt } from '../../tree';
import { duration, flag, ifname, int, oneOf, optBool, script, sockaddrIp, uint, type Family, type Invalid } from '../../values';
import { clip, namedHeader, optionalArg } from '../common';
import { garpExtraIf } from '../global-defs';
import { addressEntry } from './addresses';
import { authenticationSchema } from './authentication';
import { checkDuplicateTracks, multicastDst, optScript, trackBfdEntry, trackInterfaceEntry, unicastPeerEntry, useIpvlan, useVmac } from './entries';
import { INT32_MAX, MAX_TIMER_SECS, u8, UINT32_MAX } from './helpers';
import { routeEntry } from './routes';
import { ruleEntry } from './rules';

/** vrrp_instance: its keywords, and the checks within one instance */

const gratuitous = {
  garp_master_delay: word(int({ min: 0, max: MAX_TIMER_SECS })).doc('seconds before the second set of gratuitous ARPs; default global vrrp_garp_master_delay'),
  garp_master_repeat: word(int({ min: 1, max: UINT32_MAX })),
  garp_master_refresh: word(int({ min: 0, max: UINT32_MAX })),
  garp_master_refresh_repeat: word(int({ min: 1, max: UINT32_MAX })),
  garp_lower_prio_delay: word(int({ min: 0, max: MAX_TIMER_SECS })).doc(
    'seconds before a second set of gratuitous ARPs after a lower-priority advert; default global vrrp_garp_lower_prio_delay',
  ),
  garp_lower_prio_repeat: word(int({ min: 0, max: INT32_MAX })).doc(
    'gratuitous ARPs sent at a time when a master hears a lower priority; default global vrrp_garp_lower_prio_repeat',
  ),
};

export const vrrpInstanceSchema = block(
  {
    state: word(oneOf(['MASTER', 'BACKUP']))
      .once()
      .doc('initial state; default BACKUP, or MASTER when priority is 255'),
    interface: word(ifname)
      .required()
      .validate((v, ctx, stmt) => {
        if (v === 'lo') ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', stmt.args[0]!.pos, `the loopback interface cannot carry VRRP`);
      })
      .doc('the interface VRRP runs on (alived requires it, also with unicast)'),
    vrf: word(ifname).feature('vrrp-more').doc('VRF to run in, for unicast without interface'),
    use_vmac: value(useVmac).feature('vmac').doc('[<NAME>] [<MAC>]: run on a macvlan with the virtual MAC'),
    use_vmac_addr: value(flag).feature('vmac-addr'),
    vmac_xmit_base: value(flag).feature('vmac'),
    use_ipvlan: value(useIpvlan).feature('ipvlan'),
    native_ipv6: value(flag).deprecated('the virtual addresses determine the address family'),
    dont_track_primary: value(flag).feature('vrrp-track').doc('ignore faults of the instance interface'),
    track_interface: lines(trackInterfaceEntry).feature('vrrp-track'),
    track_bfd: lines(trackBfdEntry).feature('bfd'),
    mcast_src_ip: word(sockaddrIp()),
    unicast_src_ip: word(sockaddrIp()),
    mcast_dst_ip: word(multicastDst),
    track_src_ip: value(flag).feature('vrrp-more'),
    unicast_peer: lines(unicastPeerEntry),
    unicast_fault_no_peer: value(flag).feature('vrrp-more'),
    unicast_ttl: word(u8),
    check_unicast_src: value(flag),
    old_unicast_checksum: value(optionalArg(oneOf(['never']))).feature('vrrp-more'),
    v3_checksum_as_v2: value(optBool).feature('vrrp-more'),
    virtual_router_id: word(int({ min: 1, max: 255 })).required(),
    version: word(int({ min: 2, max: 3 })).doc('default global vrrp_version (2); IPv6 instances use 3'),
    priority: word(int({ min: 1, max: 255 })).doc('1..255; default 255 with state MASTER, else 100; 255 is the address owner'),
    advert_int: word(duration({ min: 0.01, max: 255 }))
      .default(1)
      .doc('seconds; VRRPv2: whole seconds 1..255; VRRPv3: 0.01..40.95'),
    virtual_ipaddress: lines(addressEntry('virtual_ipaddress')),
    virtual_ipaddress_excluded: lines(addressEntry('virtual_ipaddress_excluded')),
    no_virtual_ipaddress: value(flag),
    promote_secondaries: value(flag).feature('vrrp-more'),
    virtual_routes: lines(routeEntry(false)),
    virtual_rules: lines(ruleEntry(false)).feature('vrrp-more'),
    accept: value(flag).feature('vrrp-firewall'),
    no_accept: value(flag).feature('vrrp-firewall'),
    skip_check_adv_addr: value(optBool),
    strict_mode: value(optBool).feature('vrrp-strict'),
    preempt: value(flag),
    nopreempt: value(flag),
    preempt_delay: word(duration({ min: 0, max: 1000 })).doc('seconds, 0..1000'),
    debug: word(int({ min: 0, max: 4 })).feature('vrrp-more'),
    notify_master: value(script).feature('notify-script'),
    notify_backup: value(script).feature('notify-script'),
    notify_fault: value(script).feature('notify-script'),
    notify_stop: value(script).feature('notify-script'),
    notify_deleted: value(optScript).feature('notify-script'),
    notify: value(script).feature('notify-script'),
    notify_master_rx_lower_pri: value(script).feature('notify-script'),
    notify_priority_changes: value(optBool).feature('notify-script'),
    smtp_alert: value(optBool).feature('notify-mail'),
    lvs_sync_daemon_interface: word(ifname).feature('lvs-sync').deprecated("use 'lvs_sync_daemon <INTERFACE> inst <VRRP_INSTANCE>' in global_defs"),
    ...gratuitous,
    down_timer_adverts: word(int({ min: 1, max: 100 })).doc('adverts missed before the master is down; default 3'),
    timer_expired_backup: value(optionalArg(int({ min: 1, max: 254 }))).feature('vrrp-more'),
    garp_extra_if: value(garpExtraIf(0)).feature('vmac').alias('vmac_garp_intvl', { deprecated: true }),
    lower_prio_no_advert: value(optBool).feature('vrrp'),
    higher_prio_send_advert: value(optBool).feature('vrrp'),
    kernel_rx_buf_size: word(uint()),
    linkbeat_use_polling: value(flag).feature('vrrp-more').deprecated('use a linkbeat_interfaces block'),
    authentication: sub(authenticationSchema),
  },
  {
    header: namedHeader,
    feature: 'vrrp',
    slot: 'vrrp_instance',
    defines: { kind: 'vrrp_instance', name: (v: { name: string }) => v.name },
    check: (v: unknown, ctx: CheckCtx, stmt: Stmt): void => checkInstance(v as Instance, ctx, stmt),
  },
);

export type Instance = Exclude<ReturnType<typeof vrrpInstanceSchema.parseBlock>, Invalid>;

/** The address family keepalived deduces: from the VIPs, else unicast peers, source and destination addresses; IPv4 by default. */
export function instanceFamily(v: Instance): Family {
  return (
    v.virtualIpaddress?.[0]?.family ??
    v.unicastPeer?.[0]?.family ??
    v.unicastSrcIp?.family ??
    v.mcastSrcIp?.family ??
    v.mcastDstIp?.family ??
    v.useIpvlan?.address?.family ??
    (v.nativeIpv6 ? 6 : 4)
  );
}

/** The VRRP version: explicit, 3 for IPv6, else global vrrp_version (default 2). */
export function instanceVersion(v: Instance, globalVersion: number | undefined): number {
  return v.version ?? (instanceFamily(v) === 6 ? 3 : (globalVersion ?? 2));
}

function checkInstance(v: Instance, ctx: CheckCtx, stmt: Stmt): void {
  const where = `vrrp_instance ${v.name}`;
  const err = (pos: Pos, message: string, code = 'ALIVED_CONFIG_CONFLICT') => ctx.diags.error(code, pos, `${where}: ${message}`);

  checkDuplicateTracks(v, where, ctx);

  // one address family per instance
  const vips = v.virtualIpaddress ?? [];
  const fam = instanceFamily(v);
  const firstVip = vips[0];
  const otherVip = vips.find((x) => x.family !== firstVip?.family);
  if (firstVip && otherVip) {
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      otherVip.pos,
      `${where}: virtual_ipaddress mixes IPv4 and IPv6 (${firstVip.address} and ${otherVip.address}); put the other family in virtual_ipaddress_excluded or another instance`,
    );
  }
  for (const peer of v.unicastPeer ?? []) {
    if (peer.family !== fam) {
      err(peer.pos, `unicast_peer ${peer.address} is IPv${peer.family} but the instance is IPv${fam}`);
      break;
    }
  }
  for (const k of ['unicast_src_ip', 'mcast_src_ip', 'mcast_dst_ip'] as const) {
    const a = k === 'unicast_src_ip' ? v.unicastSrcIp : k === 'mcast_src_ip' ? v.mcastSrcIp : v.mcastDstIp;
    if (a && a.family !== fam) err(keywordPos(stmt, k, v.pos, 0), `${k} ${a.address} is IPv${a.family} but the instance is IPv${fam}`);
  }

  if (v.vrf !== undefined) {
    err(keywordPos(stmt, 'vrf', v.pos, 0), `vrf is for unicast instances without an interface; this instance runs on interface ${v.interface}`);
  }
  const unicast = (v.unicastPeer?.length ?? 0) > 0;
  if (v.unicastTtl !== undefined && !unicast) err(keywordPos(stmt, 'unicast_ttl', v.pos, 0), `unicast_ttl needs unicast_peer`);
  if (v.mcastDstIp && unicast) err(keywordPos(stmt, 'mcast_dst_ip', v.pos, 0), `mcast_dst_ip is for multicast, but the instance has unicast peers`);
  if (v.useVmac && unicast && !v.vmacXmitBase)
    err(keywordPos(stmt, 'use_vmac', v.pos), `use_vmac with unicast peers needs vmac_xmit_base`, 'ALIVED_CONFIG_MISSING_REQUIRED');
  checkVmac(v, ctx, stmt);
  checkPreemption(v, ctx, stmt, where);
  checkAcceptMode(v, ctx, stmt, where);
}

/** preemption: what keepalived resets, it resets with a warning here too (vrrp_complete_instance) */
function checkPreemption(v: Instance, ctx: CheckCtx, stmt: Stmt, where: string): void {
  const lastOf = (a: string, b: string) => [...(stmt.block ?? [])].reverse().find((s) => s.name.text === a || s.name.text === b);
  if (v.nopreempt && v.preempt) {
    const last = lastOf('preempt', 'nopreempt')!;
    ctx.diags.compat(
      'ALIVED_CONFIG_CONFLICT',
      last.name.pos,
      `${where}: both nopreempt and preempt are set; the later one (${clip(last.name.text)}) counts, as in keepalived`,
    );
    if (last.name.text === 'preempt') delete v.nopreempt;
  }
  delete v.preempt;
  const warn = (pos: Pos, message: string) => ctx.diags.compat('ALIVED_CONFIG_CONFLICT', pos, `${where}: ${message}`);
  if (v.nopreempt && v.priority === 255) {
    warn(
      keywordPos(stmt, 'nopreempt', v.pos),
      `nopreempt has no effect with priority 255 (the address owner always preempts); it is cleared, as keepalived clears it`,
    );
    delete v.nopreempt;
  }
  if (v.state === 'MASTER') {
    if (v.nopreempt) {
      warn(
        keywordPos(stmt, 'nopreempt', v.pos),
        `nopreempt does not work with state MASTER: it is cleared and the instance preempts, as keepalived does; for nopreempt, use state BACKUP on every node`,
      );
      delete v.nopreempt;
    }
    if (v.preemptDelay) {
      warn(
        keywordPos(stmt, 'preempt_delay', v.pos, 0),
        `preempt_delay does not work with state MASTER: it is cleared and the instance preempts at once, as keepalived does; use state BACKUP for a delay`,
      );
      delete v.preemptDelay;
    }
  }
  if (v.preemptDelay && v.nopreempt) {
    warn(
      keywordPos(stmt, 'preempt_delay', v.pos, 0),
      `preempt_delay has no effect with nopreempt (the instance never preempts); it is reset, as keepalived resets it`,
    );
    delete v.preemptDelay;
  }
  if (v.timerExpiredBackup !== undefined && !v.nopreempt) {
    warn(keywordPos(stmt, 'timer_expired_backup', v.pos), `timer_expired_backup needs nopreempt; it is reset, as keepalived resets it`);
    delete v.timerExpiredBackup;
  }
}

/** accept and no_accept both set: the later one counts */
function checkAcceptMode(v: Instance, ctx: CheckCtx, stmt: Stmt, where: string): void {
  if (v.accept && v.noAccept) {
    const last = [...(stmt.block ?? [])].reverse().find((s) => s.name.text === 'accept' || s.name.text === 'no_accept')!;
    ctx.diags.compat('ALIVED_CONFIG_CONFLICT', last.name.pos, `${where}: both accept and no_accept are set; the later one (${clip(last.name.text)}) counts`);
    // the model keeps the one that counts, for the settings the VRRP process runs with
    if (last.name.text === 'accept') delete v.noAccept;
    else delete v.accept;
  }
}

/** use_vmac and its companions, within one instance. */
function checkVmac(v: Instance, ctx: CheckCtx, stmt: Stmt): void {
  const where = `vrrp_instance ${v.name}`;
  if (v.vmacXmitBase && !v.useVmac) {
    ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', keywordPos(stmt, 'vmac_xmit_base', v.pos), `${where}: vmac_xmit_base has no effect without use_vmac`);
  }
  if (v.useVmac?.interface !== undefined && v.useVmac.interface === v.interface) {
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      keywordPos(stmt, 'use_vmac', v.pos, 0),
      `${where}: the VMAC cannot have the name of the instance's interface ${v.interface}`,
    );
  }
  // the per-address option: VMACs for addresses on other interfaces (keepalived's use_vmac_addr), not made yet
  for (const e of [...(v.virtualIpaddress ?? []), ...(v.virtualIpaddressExcluded ?? [])]) {
    if (e.useVmac) ctx.useFeature('vmac-addr', 'use_vmac (address option)', e.pos);
  }
}
