import { groupByServer, type CheckerRun } from './checker-run';
import { checkerMatchKey } from './plan';
import type { RealServerState, VirtualServerState } from './pool';
import type { CheckRunner } from './runner';
import { clearServiceRs, clearServiceVs, performSvrState, setCheckerState, updateWeight, type StateCtx } from './server-state';

/**
 * A reload's hand-over from the running states to the new plan's, as
 * keepalived's clear_diff_services(), migrate_checkers() and
 * check_new_rs_state() do it: virtual servers, real servers and checkers
 * that are still there keep their state; what left the config is removed.
 */

/** the states of one plan */
export interface Generation {
  readonly vss: readonly VirtualServerState[];
  readonly runs: readonly CheckerRun[];
}

/**
 * clear_diff_services(): what left the config is removed (its notify_down
 * runs if it was up); what stays takes its old state. Returns, for every
 * new checker that took an old one's state, that old checker.
 */
export function clearDiffServices(s: StateCtx, old: Generation, next: Generation): Map<CheckerRun, CheckerRun> {
  const newRunsOf = groupByServer(next.runs);
  const runsOf = (rs: RealServerState): CheckerRun[] => newRunsOf.get(rs) ?? [];
  const oldRunsOf = groupByServer(old.runs);
  /** new checker -> the old one whose state it took */
  const migrated = new Map<CheckerRun, CheckerRun>();
  for (const oldVs of old.vss) {
    const newVs = next.vss.find((v) => v.plan.id === oldVs.plan.id);
    if (!newVs) {
      s.log.info({ vs: oldVs.plan.name }, `Removing Virtual Server ${oldVs.plan.name}`);
      clearServiceVs(s, oldVs, false);
      continue;
    }
    newVs.quorumUp = oldVs.quorumUp;
    for (const rs of oldVs.realServers) {
      const newRs = newVs.realServers.find((r) => r.plan.id === rs.plan.id);
      if (!newRs) {
        s.log.info({ service: rs.plan.name, vs: oldVs.plan.name }, `service ${rs.plan.name} no longer exist`);
        clearServiceRs(s, oldVs, rs, false);
        continue;
      }
      newRs.alive = rs.alive;
      newRs.reloaded = true;
      const previousWeight = rs.effectiveWeight;
      newRs.effectiveWeight = previousWeight;
      migrateCheckers(s, newVs, oldRunsOf.get(rs) ?? [], newRs, runsOf(newRs), migrated);
      // the configured weight may have changed; dynamic weights of kept checkers stay
      const target = newRs.plan.weight + runsOf(newRs).reduce((sum, r) => sum + r.curWeight, 0);
      if (target !== newRs.effectiveWeight) updateWeight(s, newVs, newRs, target, false);
    }
    clearDiffSorryServer(s, oldVs, newVs);
    s.pools.mark(newVs);
  }
  return migrated;
}

/** clear_diff_s_srv(): a sorry server that stays keeps its state; one that leaves while serving is said to */
function clearDiffSorryServer(s: StateCtx, oldVs: VirtualServerState, newVs: VirtualServerState): void {
  const os = oldVs.sorry;
  if (!os) return;
  if (newVs.sorry && newVs.sorry.plan.id === os.plan.id) newVs.sorry.alive = os.alive;
  else if (os.alive) s.log.info({ vs: oldVs.plan.name }, `Removing sorry server ${os.plan.name} from VS ${oldVs.plan.name}${s.pools.suffix}`);
}

/**
 * keepalived's migrate_checkers(): a new checker that matches an old one
 * takes its state; one more failure (not a full set of retries) takes
 * down a checker that was failing; new alpha checkers of a failing real
 * server start down; a real server whose checkers are all up comes up.
 */
function migrateCheckers(
  s: StateCtx,
  vs: VirtualServerState,
  oldList: CheckerRun[],
  rs: RealServerState,
  newList: CheckerRun[],
  migrated: Map<CheckerRun, CheckerRun>,
): void {
  const available = oldList.map((oc) => ({ oc, key: checkerMatchKey(oc.plan) }));
  for (const nc of newList) {
    const key = checkerMatchKey(nc.plan);
    const i = available.findIndex((a) => a.key === key);
    if (i < 0) continue;
    const oc = available.splice(i, 1)[0]!.oc;
    takeState(nc, oc);
    migrated.set(nc, oc);
  }
  rs.numFailedCheckers = 0;
  let aCheckerHasRun = false;
  for (const nc of newList) {
    if (nc.hasRun && !nc.isUp) rs.numFailedCheckers++;
    if (nc.hasRun) aCheckerHasRun = true;
  }
  if (rs.numFailedCheckers || (!rs.alive && !aCheckerHasRun)) {
    for (const nc of newList) {
      if (nc.hasRun) continue;
      if (nc.plan.alpha) setCheckerState(nc, false);
      nc.retryIt = nc.plan.retry;
    }
  }
  if (!rs.numFailedCheckers && !rs.alive) performSvrState(s, true, vs, rs, 'reload: every checker is up');
}

/** A new checker takes the state, counters and schedule of the old one it matches. */
function takeState(nc: CheckerRun, oc: CheckerRun): void {
  if (oc.hasRun && oc.isUp !== nc.isUp) setCheckerState(nc, oc.isUp);
  nc.hasRun = oc.hasRun;
  if (oc.retryIt && nc.plan.retry) nc.retryIt = oc.retryIt >= nc.plan.retry ? nc.plan.retry - 1 : oc.retryIt;
  nc.curWeight = oc.curWeight;
  nc.checks = oc.checks;
  nc.failures = oc.failures;
  nc.contractFailures = oc.contractFailures;
  nc.abandoned = oc.abandoned;
  nc.lastOk = oc.lastOk;
  nc.lastMessage = oc.lastMessage;
  nc.lastDurationMs = oc.lastDurationMs;
  nc.lastTime = oc.lastTime;
  nc.dueAt = oc.dueAt;
}

/** check_new_rs_state(): alpha checkers of new real servers start down */
export function checkNewRsState(runs: readonly CheckerRun[]): void {
  for (const run of runs) {
    if (run.rs.reloaded || !run.plan.alpha) continue;
    setCheckerState(run, false);
    run.rs.alive = false;
  }
}

/**
 * The schedule after a reload: kept checkers keep their rhythm (one whose
 * check was running when the reload came runs at once), new ones warm up.
 */
export function rescheduleAfterReload(
  runner: CheckRunner,
  runs: readonly CheckerRun[],
  migrated: ReadonlyMap<CheckerRun, CheckerRun>,
  wasRunning: ReadonlySet<CheckerRun>,
  now: number,
): void {
  for (const run of runs) {
    const old = migrated.get(run);
    if (!old) {
      runner.register(run);
      continue;
    }
    const due = wasRunning.has(old) ? now : Math.min(old.dueAt, now + run.plan.delayLoopMs);
    runner.schedule(run, Math.max(0, due - now));
  }
}
