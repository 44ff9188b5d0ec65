import type { Endpoint } from '../plugin/events';
import { groupByServer, type CheckerRun } from './checker-run';
import { realWeight, type VirtualServerPool, type VirtualServerState } from './pool';
import type { VirtualServerPlan } from './plan';
import type { Percentiles } from './stats';

/** What the scheduler reports: every virtual server, its real servers and their checkers, and the totals. */

export interface CheckerStatus {
  readonly keyword: string;
  readonly plugin: string;
  readonly target: Endpoint;
  readonly up: boolean;
  readonly hasRun: boolean;
  /** retries done since the last failure of an up checker */
  readonly retries: number;
  readonly retry: number;
  readonly delayLoopMs: number;
  readonly timeoutMs: number;
  readonly delayBeforeRetryMs: number;
  readonly running: boolean;
  /** monotonic ms of the next check, when one is scheduled */
  readonly nextCheckIn: number | undefined;
  readonly checks: number;
  readonly failures: number;
  /** failed checks since the last success */
  readonly failedInARow: number;
  /** results the scheduler made because the checker broke its contract */
  readonly contractFailures: number;
  /** checks given up on: they did not settle after their timeout and grace */
  readonly abandoned: number;
  /** the weight it adds to its real server (misc_dynamic) */
  readonly dynamicWeight: number;
  readonly last: { readonly ok: boolean; readonly message: string; readonly durationMs: number; readonly time: number } | undefined;
  /** why it cannot run at all (create() threw) */
  readonly error: string | undefined;
}

export interface RealServerStatus {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly alive: boolean;
  readonly weight: number;
  readonly configuredWeight: number;
  readonly inhibit: boolean;
  readonly failedCheckers: number;
  readonly checkers: readonly CheckerStatus[];
  /** checker blocks alived accepts but does not run */
  readonly notRun: readonly string[];
}

export interface VirtualServerStatus {
  readonly name: string;
  readonly key: VirtualServerPlan['key'];
  readonly protocol: VirtualServerPlan['protocol'];
  readonly scheduler: string;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly quorumUp: boolean;
  /** summed weight of alive real servers */
  readonly aliveWeight: number;
  readonly sorryServer: { readonly name: string; readonly active: boolean; readonly inhibit: boolean } | undefined;
  readonly realServers: readonly RealServerStatus[];
  readonly pool: VirtualServerPool;
}

export interface CheckStats {
  readonly checks: number;
  readonly failures: number;
  readonly contractFailures: number;
  readonly abandoned: number;
  readonly running: number;
  /** how late checks started after their due time, ms */
  readonly lateness: Percentiles;
}

export interface CheckSchedulerStatus {
  readonly virtualServers: readonly VirtualServerStatus[];
  readonly stats: CheckStats;
}

/** The status of every virtual server of these states, `now` being the clock's monotonic ms. */
export function virtualServersStatus(vss: readonly VirtualServerState[], runs: readonly CheckerRun[], now: number): VirtualServerStatus[] {
  return [...virtualServersStatusParts(vss, runs, now, Infinity)].flat();
}

/**
 * The same, in parts of about `perPart` real servers (whole virtual
 * servers; one with more is a part of its own): a caller that takes a turn
 * of the event loop between parts holds the checks up for one part at a
 * time, not for thousands of real servers. `now` is read once, at the
 * first part.
 */
export function* virtualServersStatusParts(
  vss: readonly VirtualServerState[],
  runs: readonly CheckerRun[],
  now: number,
  perPart: number,
): Generator<VirtualServerStatus[]> {
  const byRs = groupByServer(runs);
  let part: VirtualServerStatus[] = [];
  let size = 0;
  for (const vs of vss) {
    part.push(virtualServerStatus(vs, byRs, now));
    size += vs.realServers.length;
    if (size >= perPart) {
      yield part;
      part = [];
      size = 0;
    }
  }
  if (part.length > 0) yield part;
}

function virtualServerStatus(vs: VirtualServerState, byRs: ReturnType<typeof groupByServer>, now: number): VirtualServerStatus {
  return {
    name: vs.plan.name,
    key: vs.plan.key,
    protocol: vs.plan.protocol,
    scheduler: vs.plan.scheduler,
    quorum: vs.plan.quorum,
    hysteresis: vs.plan.hysteresis,
    quorumUp: vs.quorumUp,
    aliveWeight: vs.weighLive(),
    sorryServer: vs.sorry ? { name: vs.sorry.plan.name, active: vs.sorry.alive, inhibit: vs.sorry.plan.inhibit } : undefined,
    realServers: vs.realServers.map((rs): RealServerStatus => ({
      name: rs.plan.name,
      address: rs.plan.endpoint.address,
      port: rs.plan.endpoint.port,
      alive: rs.alive,
      weight: realWeight(rs.effectiveWeight),
      configuredWeight: rs.plan.weight,
      inhibit: rs.plan.inhibit,
      failedCheckers: rs.numFailedCheckers,
      notRun: rs.plan.notRun.map((n) => n.keyword),
      checkers: (byRs.get(rs) ?? []).map((r) => checkerStatus(r, now)),
    })),
    pool: vs.pool(),
  };
}

function checkerStatus(r: CheckerRun, now: number): CheckerStatus {
  return {
    keyword: r.plan.keyword,
    plugin: r.plan.plugin,
    target: r.plan.target,
    up: r.isUp,
    hasRun: r.hasRun,
    retries: r.hasRun && r.isUp ? r.retryIt : 0,
    retry: r.plan.retry,
    delayLoopMs: r.plan.delayLoopMs,
    timeoutMs: r.plan.timeoutMs,
    delayBeforeRetryMs: r.plan.delayBeforeRetryMs,
    running: r.attempt !== undefined,
    nextCheckIn: r.ticket ? Math.max(0, r.dueAt - now) : undefined,
    checks: r.checks,
    failures: r.failures,
    failedInARow: r.failedInARow,
    contractFailures: r.contractFailures,
    abandoned: r.abandoned,
    dynamicWeight: r.curWeight,
    last: r.lastMessage === undefined ? undefined : { ok: r.lastOk, message: r.lastMessage, durationMs: r.lastDurationMs, time: r.lastTime },
    error: r.createError,
  };
}
