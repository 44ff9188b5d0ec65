import type { Logger } from '../log/logger';
import type { CheckerRun } from './checker-run';
import type { CheckClock } from './clock';
import type { CheckNotices } from './notices';
import { realWeight, type RealServerState, type VirtualServerState } from './pool';
import type { PoolChanges } from './pool-changes';

/**
 * Real-server and virtual-server states as keepalived's ipwrapper.c keeps
 * them: a checker's state moves its real server's count of failed
 * checkers; a real server is up when every one of its checkers is, and
 * enters or leaves the pool; weights change with misc_dynamic; the quorum is
 * gained or lost with hysteresis, swapping the sorry server in or out. Each
 * function is the keepalived function it names, over the states in pool.ts.
 */

/** what the state functions act through */
export interface StateCtx {
  readonly log: Logger;
  readonly clock: CheckClock;
  readonly notices: CheckNotices;
  readonly pools: PoolChanges;
}

/** set_checker_state() */
export function setCheckerState(run: CheckerRun, up: boolean): void {
  if (run.isUp === up) return;
  run.isUp = up;
  if (!up) run.rs.numFailedCheckers++;
  else if (run.rs.numFailedCheckers) run.rs.numFailedCheckers--;
}

/** update_svr_checker_state(): a real server is up only when every one of its checkers is */
export function updateSvrCheckerState(s: StateCtx, alive: boolean, run: CheckerRun, reason: string): void {
  const rs = run.rs;
  if (run.isUp === alive) {
    if (!run.hasRun) {
      // the first result confirms the state the server started in: say it (alpha servers start down)
      if (run.plan.alpha || !alive) s.notices.rsNotifies(run.vs, rs, reason, false);
      run.hasRun = true;
    }
    return;
  }
  run.hasRun = true;
  if (alive) {
    if (rs.numFailedCheckers <= 1) performSvrState(s, true, run.vs, rs, reason);
  } else if (rs.numFailedCheckers === 0) {
    performSvrState(s, false, run.vs, rs, reason);
  }
  setCheckerState(run, alive);
}

/** perform_svr_state(): the real server enters or leaves the pool; its notify script runs; the quorum may change */
export function performSvrState(s: StateCtx, alive: boolean, vs: VirtualServerState, rs: RealServerState, reason: string): void {
  if (rs.alive === alive) return;
  const inhibit = rs.plan.inhibit;
  const verb = alive ? (inhibit ? 'Enabling' : 'Adding') : inhibit ? 'Disabling' : 'Removing';
  const prep = inhibit ? 'of' : alive ? 'to' : 'from';
  s.log.info(
    { service: rs.plan.name, vs: vs.plan.name, reason },
    `${verb} service ${rs.plan.name} ${prep} VS ${vs.plan.name}${vs.realServersServe ? s.pools.suffix : ' (the sorry server serves instead)'}`,
  );
  rs.alive = alive;
  s.pools.mark(vs);
  s.notices.rsNotifies(vs, rs, reason, false);
  updateQuorumState(s, vs, false);
}

/** update_svr_wgt() */
export function updateWeight(s: StateCtx, vs: VirtualServerState, rs: RealServerState, weight: number, updateQuorum: boolean): void {
  const next = realWeight(weight);
  const prev = realWeight(rs.effectiveWeight);
  rs.effectiveWeight = weight;
  if (next === prev) return;
  s.log.info(
    { service: rs.plan.name, vs: vs.plan.name, from: prev, to: next },
    `Changing weight from ${prev} to ${next} for ${rs.alive ? '' : 'in'}active service ${rs.plan.name} of VS ${vs.plan.name}`,
  );
  s.pools.mark(vs);
  if (updateQuorum) updateQuorumState(s, vs, false);
}

/**
 * misc_dynamic: a result with a weight sets the real server's weight to
 * it (for one dynamic checker; each adds its difference to the configured
 * weight); a result without one gives the configured weight back.
 */
export function applyDynamicWeight(s: StateCtx, run: CheckerRun, weight: number | undefined): void {
  const cur = weight === undefined ? 0 : Math.trunc(weight) - run.rs.plan.weight;
  if (cur === run.curWeight) return;
  const effective = run.rs.effectiveWeight - run.curWeight + cur;
  run.curWeight = cur;
  updateWeight(s, run.vs, run.rs, effective, true);
}

/** update_quorum_state(): gain or lose quorum, with hysteresis; swap the sorry server in or out */
export function updateQuorumState(s: StateCtx, vs: VirtualServerState, init: boolean): void {
  const p = vs.plan;
  const suffix = s.pools.suffix;
  const weightSum = vs.weighLive();
  const threshold = p.quorum + (vs.quorumUp ? -1 : 1) * p.hysteresis;
  if (!vs.quorumUp && weightSum >= threshold) {
    vs.quorumUp = true;
    s.log.info(
      { vs: p.name, quorum: p.quorum, hysteresis: p.hysteresis, alive: weightSum },
      `Gained quorum ${p.quorum}+${p.hysteresis}=${threshold} <= ${weightSum} for VS ${p.name}`,
    );
    const sorry = vs.sorry;
    if (sorry && sorry.alive) {
      s.log.info({ vs: p.name }, `${sorry.plan.inhibit ? 'Disabling' : 'Removing'} sorry server ${sorry.plan.name} from VS ${p.name}${suffix}`);
      sorry.alive = false;
      s.log.info({ vs: p.name }, `Adding alive servers to the pool for VS ${p.name}${suffix}`);
    }
    s.pools.mark(vs);
    s.notices.vsNotifies(vs, init, threshold, weightSum, false);
    return;
  }
  if ((vs.quorumUp && (!weightSum || weightSum < threshold)) || (init && !vs.quorumUp && vs.sorry && !vs.sorry.alive)) {
    vs.quorumUp = false;
    s.log.info(
      { vs: p.name, quorum: p.quorum, hysteresis: p.hysteresis, alive: weightSum },
      `${init ? 'Starting with quorum down' : 'Lost quorum'} ${p.quorum}-${p.hysteresis}=${threshold} > ${weightSum} for VS ${p.name}`,
    );
    const sorry = vs.sorry;
    if (sorry && !sorry.alive) {
      s.log.info({ vs: p.name }, `${sorry.plan.inhibit ? 'Enabling' : 'Adding'} sorry server ${sorry.plan.name} to VS ${p.name}${suffix}`);
      s.log.info({ vs: p.name }, `Removing alive servers from the pool for VS ${p.name}${suffix}`);
      sorry.alive = true;
    }
    s.pools.mark(vs);
    s.notices.vsNotifies(vs, init, threshold, weightSum, false);
  }
}

/** init_service_vs() / init_service_rs(): servers without a failed checker start up (notified with rs_init_notifies) */
export function initServiceVs(s: StateCtx, vs: VirtualServerState, rsInitNotifies: boolean): void {
  for (const rs of vs.realServers) {
    if (rs.reloaded) continue;
    if (!rs.numFailedCheckers && !rs.alive) {
      rs.alive = true;
      if (rsInitNotifies) s.notices.rsNotifies(vs, rs, 'start', false);
    }
  }
  s.pools.mark(vs);
  updateQuorumState(s, vs, true);
}

/** clear_service_rs(): a real server leaves (reload) or alived stops */
export function clearServiceRs(s: StateCtx, vs: VirtualServerState, rs: RealServerState, stopping: boolean): void {
  const inhibited = rs.plan.inhibit && !rs.alive ? '(inhibited) ' : '';
  const inPool = (rs.alive && vs.realServersServe) || rs.plan.inhibit;
  if (stopping || inPool)
    s.log.info(
      { service: rs.plan.name, vs: vs.plan.name },
      `${stopping ? 'Shutting down' : 'Removing'} ${inhibited}service ${rs.plan.name} from VS ${vs.plan.name}${s.pools.suffix}`,
    );
  if (!rs.alive) return;
  rs.alive = false;
  // without omega, nothing is said at shutdown
  if (stopping && !vs.plan.omega) return;
  s.notices.rsNotifies(vs, rs, stopping ? 'shutdown' : 'removed from the config', stopping);
  if (rs.plan.smtpAlert) {
    s.notices.alert({
      kind: 'real-server',
      virtualServer: vs.plan.name,
      service: rs.plan.name,
      realServer: rs.plan.endpoint,
      state: 'DOWN',
      message: stopping ? '=> Shutting down <=' : '=> Removing <=',
      time: s.clock.epochNow(),
    });
  }
}

/** clear_service_vs(): every real server leaves, then the quorum goes */
export function clearServiceVs(s: StateCtx, vs: VirtualServerState, stopping: boolean): void {
  if (vs.sorry) vs.sorry.alive = false;
  for (const rs of vs.realServers) clearServiceRs(s, vs, rs, stopping);
  // update_vs_notifies()
  const threshold = vs.plan.quorum - vs.plan.hysteresis;
  const weightSum = vs.weighLive();
  if (stopping || (vs.quorumUp && (!weightSum || weightSum < threshold))) {
    vs.quorumUp = false;
    s.notices.vsNotifies(vs, false, threshold, weightSum, stopping);
  }
  s.pools.forget(vs);
  s.pools.emit(vs.pool(true));
}
