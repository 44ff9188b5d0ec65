import type { Pos } from '../diagnostics';
import type { CheckCtx } from '../schema';
import { childStmt, keywordPos, type Stmt } from '../tree';
import { acceptMode } from './accept-mode';
import { instanceFamily, instanceVersion, type Instance } from './vrrp';

/**
 * Strict mode (`vrrp_strict` in global_defs, `strict_mode` in an instance)
 * and accept mode, as keepalived 2.2.7 applies them in
 * vrrp.c vrrp_complete_instance. In strict mode keepalived refuses one
 * thing (an instance without a VIP: its VRRP process does not start) and
 * changes the rest and runs: alived refuses what keepalived refuses and, for
 * every setting keepalived changes, runs with keepalived's value and says so
 * in a compat warning at the setting (an error under -t --strict).
 * resolveInstance in core/vrrp/settings.ts applies the same changes to what
 * the VRRP process runs with; docs/config.md lists them ("Strict mode").
 *
 * Accept mode: keepalived defaults `accept` for the address owner
 * (priority 255), `no_accept` for everyone else in strict mode, `accept`
 * outside it; in strict mode with VRRPv2 a non-owner's `accept` is reset
 * (RFC 3768 has no accept mode). A non-owner master in no_accept mode
 * drops traffic to its VIPs (core/vrrp/firewall.ts): the warning says so.
 */

export interface StrictGlobals {
  vrrpStrict?: true;
  vrrpVersion?: number;
  vrrpDownTimerAdverts?: number;
  vrrpLowerPrioNoAdvert?: boolean;
  vrrpHigherPrioSendAdvert?: boolean;
  vrrpGarpLowerPrioRepeat?: number;
  vrrpGarpLowerPrioDelay?: number;
}

interface StrictRootModel {
  globalDefs?: StrictGlobals & { pos: Pos };
  vrrpInstance?: Instance[];
}

/** The checks of strict and accept mode for every instance; run from the root block's check. */
export function checkStrictAndAccept(model: StrictRootModel, ctx: CheckCtx, rootStmt?: Stmt): void {
  const g = model.globalDefs;
  const globalStmt = rootStmt?.block?.filter((s) => s.name.text === 'global_defs').pop();
  const globalPos = (keyword: string): Pos | undefined => (globalStmt ? childStmt(globalStmt, keyword)?.name.pos : undefined);
  const stmtAt = new Map<Pos, Stmt>();
  for (const s of rootStmt?.block ?? []) stmtAt.set(s.name.pos, s);
  const globalsIgnored = new Map<string, string[]>();
  let firewallFor: Pos | undefined;
  for (const inst of model.vrrpInstance ?? []) {
    const stmt = stmtAt.get(inst.pos);
    const strict = inst.strictMode ?? g?.vrrpStrict === true;
    // strict mode runs IPv6 as VRRPv3 whatever the version says
    const version = strict && instanceFamily(inst) === 6 ? 3 : instanceVersion(inst, g?.vrrpVersion);
    if (strict) checkStrict(inst, version, g ?? {}, globalPos, ctx, stmt, globalsIgnored);
    if (checkAccept(inst, strict, version, ctx, stmt)) firewallFor ??= inst.pos;
  }
  // the drop rules need the nft command (core/vrrp/firewall.ts)
  if (firewallFor && NFT_PATHS.every((p) => ctx.host.fileExists(p) === false)) {
    ctx.diags.warning(
      'ALIVED_CONFIG_HOST_FACT',
      firewallFor,
      `nft is not installed on this host (${NFT_PATHS.join(', ')}): no_accept's drop rules cannot be set here (apt-get install nftables)`,
    );
  }
  // the global defaults strict mode replaces without a word in keepalived: one warning per keyword
  for (const [keyword, names] of globalsIgnored) {
    ctx.diags.compat(
      'ALIVED_CONFIG_STRICT_MODE',
      globalPos(keyword) ?? g!.pos,
      `${keyword} does not apply to the instances in strict mode (${names.join(', ')}): strict mode sets its own value, as keepalived does`,
    );
  }
}

function checkStrict(
  v: Instance,
  version: number,
  g: StrictGlobals,
  globalPos: (keyword: string) => Pos | undefined,
  ctx: CheckCtx,
  stmt: Stmt | undefined,
  globalsIgnored: Map<string, string[]>,
): void {
  const why = v.strictMode === true ? 'strict_mode' : 'vrrp_strict';
  const where = `vrrp_instance ${v.name}: strict mode (${why})`;
  // what keepalived changes and runs with: a warning (an error under -t --strict)
  const warn = (pos: Pos, message: string) => ctx.diags.compat('ALIVED_CONFIG_STRICT_MODE', pos, `${where}: ${message}`);
  const refuse = (pos: Pos, message: string) => ctx.diags.error('ALIVED_CONFIG_STRICT_MODE', pos, `${where}: ${message}`);
  const fam = instanceFamily(v);
  const owner = v.priority === 255 || (v.priority === undefined && v.state === 'MASTER');

  // what keepalived refuses: the VRRP process does not start
  if ((v.virtualIpaddress?.length ?? 0) === 0 && !v.noVirtualIpaddress && version === 2) {
    refuse(v.pos, `at least one virtual_ipaddress is required (keepalived does not start the VRRP process without one)`);
  }

  // what keepalived changes, and runs with
  if (fam === 6 && v.version === 2 && version === 3) {
    warn(keywordPos(stmt, 'version', v.pos, 0), `VRRPv2 does not carry IPv6: the instance runs VRRPv3, as keepalived does`);
  }
  if (v.state === 'MASTER' && !owner) {
    warn(
      keywordPos(stmt, 'state', v.pos, 0),
      `state MASTER is only for the address owner (priority 255): the instance starts as BACKUP and becomes master when its down timer expires without a higher-priority advert, as keepalived does`,
    );
    // keepalived resets the state before it looks at nopreempt: a nopreempt the instance check cleared for state MASTER stays
    const last = [...(stmt?.block ?? [])].reverse().find((c) => c.name.text === 'nopreempt' || c.name.text === 'preempt');
    if (last?.name.text === 'nopreempt' && !v.nopreempt) {
      v.nopreempt = true;
      warn(
        last.name.pos,
        `nopreempt is kept after all: strict mode makes the instance BACKUP before keepalived looks at nopreempt, so it does not preempt a lower-priority master`,
      );
    }
  } else if (v.state === 'BACKUP' && owner) {
    warn(keywordPos(stmt, 'state', v.pos, 0), `the address owner (priority 255) starts as MASTER whatever its state says, as keepalived does`);
  }
  if (v.authentication?.authType !== undefined) {
    warn(
      v.authentication.pos,
      `the authentication is dropped; the instance sends adverts without it, as keepalived does (and drops adverts that carry one: a peer that still sends auth_type ${v.authentication.authType} is not heard)`,
    );
  }
  if ((v.unicastPeer?.length ?? 0) > 0 && ctx.host.interfaceMulticast?.(v.interface) !== false) {
    // vrrp.c tests its unicast flag before it sets it from the peers, so keepalived 2.2.7 never refuses this
    warn(
      v.unicastPeer![0]!.pos,
      `keepalived means to refuse unicast peers in strict mode on an interface with multicast, but 2.2.7 checks before it knows the peers and runs the instance unicast; alived runs it unicast too (a later keepalived may refuse this config)`,
    );
  }
  if (v.useVmac?.mac)
    warn(keywordPos(stmt, 'use_vmac', v.pos), `the MAC address of use_vmac is cleared: the VMAC gets the VRRP virtual MAC, as keepalived does`);
  if (v.useVmac && v.vmacXmitBase)
    warn(keywordPos(stmt, 'vmac_xmit_base', v.pos, 0), `vmac_xmit_base is reset: adverts leave through the VMAC, as keepalived does`);
  const firstVip = v.virtualIpaddress?.[0];
  if (fam === 6 && firstVip && (v.unicastPeer?.length ?? 0) === 0 && !/^fe[89ab]/i.test(firstVip.address)) {
    warn(
      firstVip.pos,
      `the first IPv6 virtual_ipaddress should be link-local (RFC 5798); keepalived logs this as an error and runs the instance, and so does alived`,
    );
  }
  if (v.preemptDelay) warn(keywordPos(stmt, 'preempt_delay', v.pos, 0), `preempt_delay is reset to 0: the instance preempts at once, as keepalived does`);
  const dta = v.downTimerAdverts ?? g.vrrpDownTimerAdverts;
  if (dta !== undefined && dta !== 3) {
    const pos = v.downTimerAdverts !== undefined ? keywordPos(stmt, 'down_timer_adverts', v.pos, 0) : (globalPos('vrrp_down_timer_adverts') ?? v.pos);
    warn(pos, `down_timer_adverts ${dta} is reset to 3 (RFC's Master_Down_Interval), as keepalived does`);
  }
  if (v.garpLowerPrioRepeat)
    warn(
      keywordPos(stmt, 'garp_lower_prio_repeat', v.pos, 0),
      `garp_lower_prio_repeat is reset to 0: no gratuitous ARPs when a lower priority is heard, as keepalived does`,
    );
  if (v.garpLowerPrioDelay) warn(keywordPos(stmt, 'garp_lower_prio_delay', v.pos, 0), `garp_lower_prio_delay is reset to 0, as keepalived does`);
  if (v.lowerPrioNoAdvert === false)
    warn(
      keywordPos(stmt, 'lower_prio_no_advert', v.pos, 0),
      `lower_prio_no_advert is set again: a master does not answer a lower priority with an advert, as keepalived does`,
    );
  if (v.higherPrioSendAdvert === true)
    warn(
      keywordPos(stmt, 'higher_prio_send_advert', v.pos, 0),
      `higher_prio_send_advert is cleared: a master yields to a higher priority without an advert of its own, as keepalived does`,
    );
  const ignored: Array<[string, boolean]> = [
    ['vrrp_garp_lower_prio_repeat', v.garpLowerPrioRepeat === undefined && (g.vrrpGarpLowerPrioRepeat ?? 0) > 0],
    ['vrrp_garp_lower_prio_delay', v.garpLowerPrioDelay === undefined && (g.vrrpGarpLowerPrioDelay ?? 0) > 0],
    ['vrrp_lower_prio_no_advert', v.lowerPrioNoAdvert === undefined && g.vrrpLowerPrioNoAdvert === false],
    ['vrrp_higher_prio_send_advert', v.higherPrioSendAdvert === undefined && g.vrrpHigherPrioSendAdvert === true],
  ];
  for (const [keyword, is] of ignored) {
    if (!is) continue;
    const names = globalsIgnored.get(keyword) ?? [];
    names.push(v.name);
    globalsIgnored.set(keyword, names);
  }
}

const NFT_PATHS = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft', '/usr/local/sbin/nft'];

/** Warns about what no_accept costs; true when the instance drops its VIPs' traffic as master. */
function checkAccept(v: Instance, strict: boolean, version: number, ctx: CheckCtx, stmt: Stmt | undefined): boolean {
  const owner = v.priority === 255 || (v.priority === undefined && v.state === 'MASTER');
  if (owner) return false;
  const hasVips = (v.virtualIpaddress?.length ?? 0) + (v.virtualIpaddressExcluded?.length ?? 0) > 0;
  if (strict && version === 2 && v.accept) {
    ctx.diags.compat(
      'ALIVED_CONFIG_STRICT_MODE',
      keywordPos(stmt, 'accept', v.pos, 0),
      `vrrp_instance ${v.name}: strict mode: accept is reset for VRRPv2 (RFC 3768 has no accept mode), as keepalived does; use version 3 to keep it`,
    );
  }
  if (acceptMode(v, strict, version) || !hasVips) return false;
  const pos = v.noAccept ? keywordPos(stmt, 'no_accept', v.pos, 0) : v.strictMode === true ? keywordPos(stmt, 'strict_mode', v.pos, 0) : v.pos;
  const lift = strict && version === 2 ? `version 3 with accept lifts it (in strict mode VRRPv2 resets accept)` : `accept lifts it`;
  ctx.diags.warning(
    'ALIVED_CONFIG_NO_ACCEPT',
    pos,
    `vrrp_instance ${v.name}: no_accept${v.noAccept ? '' : ' (strict mode default)'}: while master without being the address owner (priority 255), this node drops traffic to its VIPs (nftables), as keepalived does: a VIP answers no ping and no service on it is reachable (keepalived issue #474); ${lift}`,
  );
  return true;
}
