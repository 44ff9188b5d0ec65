import type { Level, Logger } from '../log/logger';
import type { CheckAlertEvent, CheckResultEvent, Endpoint, NotifyEvent, QuorumChangeEvent, RealServerChangeEvent } from '../plugin/events';
import type { AlivedHooks } from '../plugin/hooks';
import type { Checker, CheckResult } from '../plugin/types';
import type { CheckClock, CheckTimer } from './clock';
import { formatSeconds } from './format';
import { checkerMatchKey, type CheckerPlan, type CheckPlan } from './plan';
import { realWeight, RealServerState, VirtualServerState, type VirtualServerPool } from './pool';
import { LatenessHistogram, type Percentiles } from './stats';
import { TimerQueue } from './timer-queue';
import { checkResultShape } from '../plugin/check-result';

/**
 * The health-check scheduler: runs every checker on its timers and turns
 * results into real-server and virtual-server states as keepalived 2.2.8
 * does (check_api.c, ipwrapper.c, the checkers' epilogs): retries after
 * delay_before_retry, alpha, warmup, several checkers per real server,
 * misc_dynamic weights, quorum with hysteresis, sorry server,
 * inhibit_on_failure, omega, the notifications of real servers and
 * quorums, and the state kept across a reload.
 *
 * It also holds checkers to their contract: a check() that throws,
 * rejects, gives no valid result, does not settle after its timeout, or
 * blocks the event loop is a failed check, logged with the plugin's name.
 *
 * Time comes from a CheckClock, so every case is unit-tested without
 * sleeping. Effects go out through hooks and callbacks: every notification
 * keepalived's do_rs_notifies() / do_vs_notifies() and smtp_alert() give
 * goes to `onNotify`, which the daemon publishes to the notifier pipeline
 * (core/notify: the notify_up / notify_down / quorum_up / quorum_down
 * scripts, the FIFO lines, mail, webhooks). The scheduler runs no script.
 */

/** keepalived's BOOTSTRAP_DELAY: the first check of every checker waits this long plus its warmup */
export const BOOTSTRAP_DELAY_MS = 1000;
/** how long after its signal aborted a check may still settle before it is given up on */
export const DEFAULT_GRACE_MS = 1000;
/** a check() that keeps the event loop this long before returning its promise is failed */
export const DEFAULT_BLOCK_MS = 1000;
/** a check starting this late means the event loop was blocked: say so, and name what was running */
export const STALL_MS = 1000;
/** at most one stall warning per this many milliseconds */
const STALL_LOG_INTERVAL_MS = 10_000;
/** how long one checker's close() may take at reload or stop */
const CLOSE_TIMEOUT_MS = 2000;

/**
 * What the checks notify, in keepalived's order: a real server up or down
 * (notify_up / notify_down and the `RS ...` FIFO line go with it), a quorum
 * gained or lost (quorum_up / quorum_down, `VS ...`), and the smtp_alerts
 * (`check-alert`: smtp_alert(SMTP_MSG_RS, ...), SMTP_MSG_VS, SMTP_MSG_RS_SHUT).
 */
export type CheckNotifyEvent = Extract<NotifyEvent, { type: 'real-server' | 'quorum' | 'check-alert' }>;

/** the body of a checker's smtp_alert when its plugin names none (keepalived's HTTP_GET and SMTP_CHECK) */
export const DEFAULT_ALERT_TEXT = { up: '=> CHECK succeed on service <=', down: '=> CHECK failed on service <=' } as const;

export interface CheckSchedulerOptions {
  readonly clock: CheckClock;
  readonly log: Logger;
  /** whether pools reach the kernel; false (no IPVS): service lines say the pool is not programmed */
  readonly programmed?: boolean;
  readonly bootstrapDelayMs?: number;
  readonly graceMs?: number;
  readonly blockMs?: number;
  /** a notification is due: the daemon publishes it to the notifier pipeline */
  readonly onNotify?: (event: CheckNotifyEvent) => void;
  /** a virtual server's pool changed (coalesced: once per change burst) */
  readonly onPoolChange?: (pool: VirtualServerPool) => void;
}

/** one result as the scheduler takes it: the checker's, or one it made for a checker that broke the contract */
interface Outcome extends CheckResult {
  /** the contract broken, for the log */
  readonly broken?: string;
}

interface Attempt {
  readonly run: CheckerRun;
  readonly ac: AbortController;
  readonly start: number;
  timer: CheckTimer | undefined;
  done: boolean;
  /** reload or stop: its result is not used */
  stale: boolean;
}

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

/** One checker of one real server, with keepalived's checker_t state. */
class CheckerRun {
  checker: Checker | undefined;
  createError: string | undefined;
  // keepalived's checker_t
  isUp = true;
  hasRun = false;
  retryIt = 0;
  curWeight = 0;
  // the schedule: a ticket in the scheduler's TimerQueue while a check is due
  ticket = 0;
  dueAt = 0;
  attempt: Attempt | undefined;
  // counters
  checks = 0;
  failures = 0;
  contractFailures = 0;
  abandoned = 0;
  lastBroken: string | undefined;
  // the last result, in fields: an object per check would live a second and burden the old generation
  lastOk = false;
  lastMessage: string | undefined;
  lastDurationMs = 0;
  lastTime = 0;
  readonly log: Logger;

  constructor(
    readonly plan: CheckerPlan,
    readonly rs: RealServerState,
    readonly vs: VirtualServerState,
    parent: Logger,
  ) {
    this.log = new CheckerLogger(parent, this);
  }

  /** `TCP_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80` */
  get what(): string {
    return `${this.plan.keyword} on service ${this.rs.plan.name} of VS ${this.vs.plan.name}`;
  }
}

/**
 * A child logger made on first use: 10,000 checkers each holding a logger
 * and its bindings would cost megabytes, and most never log.
 */
class CheckerLogger implements Logger {
  private real: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly run: CheckerRun,
  ) {}
  private get log(): Logger {
    const { plan, rs, vs } = this.run;
    return (this.real ??= this.parent.child({ plugin: plan.plugin, checker: plan.keyword, service: rs.plan.name, vs: vs.plan.name }));
  }
  debug(o: Record<string, unknown> | string, m?: string): void {
    if (this.parent.isLevelEnabled('debug')) this.log.debug(o, m);
  }
  info(o: Record<string, unknown> | string, m?: string): void {
    this.log.info(o, m);
  }
  notice(o: Record<string, unknown> | string, m?: string): void {
    this.log.notice(o, m);
  }
  warn(o: Record<string, unknown> | string, m?: string): void {
    this.log.warn(o, m);
  }
  error(o: Record<string, unknown> | string, m?: string): void {
    this.log.error(o, m);
  }
  child(b: Record<string, unknown>): Logger {
    return this.log.child(b);
  }
  isLevelEnabled(level: Level): boolean {
    return this.parent.isLevelEnabled(level);
  }
}

/** create() returned something that is not a checker */
class BadChecker extends Error {}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : typeof err === 'string' ? err : String(err));

function groupByServer(runs: readonly CheckerRun[]): Map<RealServerState, CheckerRun[]> {
  const m = new Map<RealServerState, CheckerRun[]>();
  for (const r of runs) {
    const l = m.get(r.rs);
    if (l) l.push(r);
    else m.set(r.rs, [r]);
  }
  return m;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return 'an object that is not a promise';
  return `a ${typeof v}`;
}

export class CheckScheduler {
  private readonly clock: CheckClock;
  private readonly log: Logger;
  private hooks: AlivedHooks | undefined;
  private plan: CheckPlan | undefined;
  private vss: VirtualServerState[] = [];
  private runs: CheckerRun[] = [];
  private stopped = false;
  private readonly lateness = new LatenessHistogram();
  private totals = { checks: 0, failures: 0, contractFailures: 0, abandoned: 0 };
  private running = 0;
  private lastStallLog = -Infinity;
  private readonly dirtyPools = new Set<VirtualServerState>();
  private flushQueued = false;
  private suffix: string;
  /** whether pools reach the kernel, and who takes their changes: the daemon sets them again when a reload brings the first virtual_server */
  private programmed: boolean;
  private onPoolChange: ((pool: VirtualServerPool) => void) | undefined;
  private readonly queue: TimerQueue<CheckerRun>;

  constructor(private readonly opts: CheckSchedulerOptions) {
    this.clock = opts.clock;
    this.queue = new TimerQueue<CheckerRun>(opts.clock, (run) => this.fire(run));
    this.log = opts.log;
    this.programmed = opts.programmed === true;
    this.onPoolChange = opts.onPoolChange;
    this.suffix = this.programmed ? '' : ' (pool not programmed)';
  }

  /** Pools reach the kernel from now on (or not), their changes going to `onPoolChange`. */
  setPoolProgramming(programmed: boolean, onPoolChange: ((pool: VirtualServerPool) => void) | undefined): void {
    this.programmed = programmed;
    this.onPoolChange = onPoolChange;
    this.suffix = programmed ? '' : ' (pool not programmed)';
  }

  /** The hooks events go through; the daemon's plugin host changes at every reload. */
  setHooks(hooks: AlivedHooks | undefined): void {
    this.hooks = hooks;
  }

  private get grace(): number {
    return this.opts.graceMs ?? DEFAULT_GRACE_MS;
  }

  // -------------------------------------------------------------------------
  // start, reload, stop

  /** Builds the states, marks alpha servers down, computes quorums and pools, and schedules every first check. */
  start(plan: CheckPlan): void {
    if (this.plan) throw new Error('CheckScheduler.start() called twice; use reload()');
    this.plan = plan;
    this.stopped = false;
    this.vss = plan.virtualServers.map((p) => new VirtualServerState(p));
    this.runs = this.buildRuns(this.vss);
    for (const run of this.runs) {
      // check_data.c validate_check_config(): alpha checkers start down; one failure is enough at start
      if (run.plan.alpha) this.setCheckerState(run, false);
      run.retryIt = run.plan.retry;
    }
    this.reportNotRun(plan);
    for (const vs of this.vss) {
      // set_quorum_states(): no real server is alive yet
      vs.quorumUp = vs.weighLive() >= vs.plan.quorum + vs.plan.hysteresis;
      this.initServiceVs(vs);
    }
    for (const run of this.runs) this.register(run);
  }

  private buildRuns(vss: readonly VirtualServerState[]): CheckerRun[] {
    const runs: CheckerRun[] = [];
    for (const vs of vss) {
      for (const rs of vs.realServers) {
        for (const cp of rs.plan.checkers) runs.push(this.createRun(cp, rs, vs));
      }
    }
    return runs;
  }

  private createRun(cp: CheckerPlan, rs: RealServerState, vs: VirtualServerState): CheckerRun {
    const run = new CheckerRun(cp, rs, vs, this.log);
    try {
      const checker = cp.def.create!(cp.config, { target: cp.target, realServer: rs.plan.endpoint, log: run.log });
      if (!checker || typeof (checker as Checker).check !== 'function') throw new BadChecker(`create() returned ${describeValue(checker)} without a check() function`);
      run.checker = checker;
    } catch (err) {
      run.createError = err instanceof BadChecker ? err.message : `create() threw: ${errorText(err)}`;
      this.log.error(
        { code: 'ALIVED_CHECKER_FAILED', plugin: cp.plugin, checker: cp.keyword, service: rs.plan.name, vs: vs.plan.name, err },
        `Checker ${run.what} of plugin '${cp.plugin}' cannot run: ${run.createError}; every check of it fails`,
      );
    }
    return run;
  }

  private reportNotRun(plan: CheckPlan): void {
    const counts = new Map<string, { plugin: string; n: number }>();
    for (const vs of plan.virtualServers) {
      for (const rs of vs.realServers) {
        for (const n of rs.notRun) {
          const c = counts.get(n.keyword) ?? { plugin: n.plugin, n: 0 };
          c.n++;
          counts.set(n.keyword, c);
        }
      }
      if (vs.haSuspend && this.programmed) {
        this.log.info({ vs: vs.name }, `VS ${vs.name}: ha_suspend: its pool is programmed only while this node is MASTER of the VRRP instance holding its address; its checkers run always`);
      } else if (vs.haSuspend) {
        this.log.warn({ vs: vs.name }, `VS ${vs.name}: ha_suspend is not acted on without IPVS: its checkers run whether or not its address is configured here`);
      }
    }
    for (const [keyword, c] of counts) {
      this.log.warn(
        { checker: keyword, plugin: c.plugin, blocks: c.n },
        `${keyword} is not run: plugin '${c.plugin}' registers no check; ${c.n} real server${c.n === 1 ? ' is' : 's are'} judged by ${c.n === 1 ? 'its' : 'their'} other checkers only`,
      );
    }
  }

  /** register_checkers_thread(): the first check after the bootstrap delay and a random part of warmup */
  private register(run: CheckerRun): void {
    this.log.info(
      { plugin: run.plan.plugin, checker: run.plan.keyword },
      `Activating healthchecker for service ${run.rs.plan.name} for VS ${run.vs.plan.name}`,
    );
    const warmup = run.plan.warmupMs ? run.plan.warmupMs * this.clock.random() : 0;
    this.schedule(run, (this.opts.bootstrapDelayMs ?? BOOTSTRAP_DELAY_MS) + warmup);
  }

  /**
   * SIGHUP: the new plan replaces the running one. Virtual servers, real
   * servers and checkers that are still there keep their state (up/down,
   * retries, dynamic weight, counters, schedule), as keepalived's
   * clear_diff_services() and migrate_checkers() do; what left the config is
   * removed (its notify_down runs if it was up); what is new starts as at
   * start-up. Old checkers close.
   */
  async reload(plan: CheckPlan): Promise<void> {
    if (!this.plan) return this.start(plan);
    const oldVss = this.vss;
    const oldRuns = this.runs;
    const now = this.clock.now();
    // what was running is discarded; the matching new checker runs at once instead
    const wasRunning = new Set<CheckerRun>();
    for (const run of oldRuns) {
      if (run.attempt) wasRunning.add(run);
      this.cancel(run, 'reload');
    }
    this.plan = plan;
    const newVss = plan.virtualServers.map((p) => new VirtualServerState(p));
    const newRuns = this.buildRuns(newVss);
    this.vss = newVss;
    this.runs = newRuns;
    const newRunsOf = groupByServer(newRuns);
    const runsOf = (rs: RealServerState): CheckerRun[] => newRunsOf.get(rs) ?? [];
    const oldRunsOf = groupByServer(oldRuns);
    /** new checker -> the old one whose state it took */
    const migrated = new Map<CheckerRun, CheckerRun>();

    // clear_diff_services()
    for (const oldVs of oldVss) {
      const newVs = newVss.find((v) => v.plan.id === oldVs.plan.id);
      if (!newVs) {
        this.log.info({ vs: oldVs.plan.name }, `Removing Virtual Server ${oldVs.plan.name}`);
        this.clearServiceVs(oldVs, false);
        continue;
      }
      newVs.quorumUp = oldVs.quorumUp;
      for (const rs of oldVs.realServers) {
        const newRs = newVs.realServers.find((r) => r.plan.id === rs.plan.id);
        if (!newRs) {
          this.log.info({ service: rs.plan.name, vs: oldVs.plan.name }, `service ${rs.plan.name} no longer exist`);
          this.clearServiceRs(oldVs, rs, false);
          continue;
        }
        newRs.alive = rs.alive;
        newRs.reloaded = true;
        const previousWeight = rs.effectiveWeight;
        newRs.effectiveWeight = previousWeight;
        this.migrateCheckers(newVs, oldRunsOf.get(rs) ?? [], newRs, runsOf(newRs), migrated);
        // the configured weight may have changed; dynamic weights of kept checkers stay
        const target = newRs.plan.weight + runsOf(newRs).reduce((s, r) => s + r.curWeight, 0);
        if (target !== newRs.effectiveWeight) this.updateWeight(newVs, newRs, target, false);
      }
      // clear_diff_s_srv()
      const os = oldVs.sorry;
      if (os) {
        if (newVs.sorry && newVs.sorry.plan.id === os.plan.id) newVs.sorry.alive = os.alive;
        else if (os.alive) this.log.info({ vs: oldVs.plan.name }, `Removing sorry server ${os.plan.name} from VS ${oldVs.plan.name}${this.suffix}`);
      }
      this.markPool(newVs);
    }

    // check_new_rs_state(): alpha checkers of new real servers start down
    for (const run of newRuns) {
      if (run.rs.reloaded || !run.plan.alpha) continue;
      this.setCheckerState(run, false);
      run.rs.alive = false;
    }
    this.reportNotRun(plan);
    for (const vs of newVss) this.initServiceVs(vs);

    // the schedule: kept checkers keep their rhythm, new ones warm up
    for (const run of newRuns) {
      const old = migrated.get(run);
      if (!old) {
        this.register(run);
        continue;
      }
      const due = wasRunning.has(old) ? now : Math.min(old.dueAt, now + run.plan.delayLoopMs);
      this.schedule(run, Math.max(0, due - now));
    }
    await this.closeCheckers(oldRuns);
  }

  /**
   * keepalived's migrate_checkers(): a new checker that matches an old one
   * takes its state; one more failure (not a full set of retries) takes
   * down a checker that was failing; new alpha checkers of a failing real
   * server start down; a real server whose checkers are all up comes up.
   */
  private migrateCheckers(vs: VirtualServerState, oldList: CheckerRun[], rs: RealServerState, newList: CheckerRun[], migrated: Map<CheckerRun, CheckerRun>): void {
    const available = oldList.map((oc) => ({ oc, key: checkerMatchKey(oc.plan) }));
    for (const nc of newList) {
      const key = checkerMatchKey(nc.plan);
      const i = available.findIndex((a) => a.key === key);
      if (i < 0) continue;
      const oc = available.splice(i, 1)[0]!.oc;
      if (oc.hasRun && oc.isUp !== nc.isUp) this.setCheckerState(nc, oc.isUp);
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
        if (nc.plan.alpha) this.setCheckerState(nc, false);
        nc.retryIt = nc.plan.retry;
      }
    }
    if (!rs.numFailedCheckers && !rs.alive) this.performSvrState(true, vs, rs, 'reload: every checker is up');
  }

  /**
   * SIGTERM: checks stop, checkers close, and the services are shut down as
   * keepalived's clear_services() does: with omega, every alive real server
   * and every virtual server is notified down, marked `stopping` (their
   * notify_down and quorum_down get keepalived's 1 s; the notifier runs
   * them, and the daemon stops it after this).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const run of this.runs) this.cancel(run, 'stop');
    this.queue.clear();
    await this.closeCheckers(this.runs);
    for (const vs of this.vss) this.clearServiceVs(vs, true);
    this.flushPools();
  }

  private cancel(run: CheckerRun, why: 'reload' | 'stop'): void {
    this.queue.cancel(run);
    const a = run.attempt;
    if (a) {
      a.stale = true;
      if (a.timer) this.clock.clearTimer(a.timer);
      a.timer = undefined;
      a.done = true;
      run.attempt = undefined;
      this.running--;
      a.ac.abort(new DOMException(why === 'reload' ? 'alived is reloading' : 'alived is stopping', 'AbortError'));
    }
  }

  private async closeCheckers(runs: readonly CheckerRun[]): Promise<void> {
    await Promise.all(
      runs.map(async (run) => {
        const c = run.checker;
        run.checker = undefined;
        if (!c?.close) return;
        let timer: CheckTimer | undefined;
        try {
          const closing = Promise.resolve().then(() => c.close!());
          const bounded = new Promise<'timeout'>((resolve) => (timer = this.clock.setTimer(CLOSE_TIMEOUT_MS, () => resolve('timeout'))));
          const r = await Promise.race([closing.then(() => 'ok' as const), bounded]);
          if (r === 'timeout') {
            run.log.warn({ code: 'ALIVED_CHECKER_FAILED', plugin: run.plan.plugin }, `Checker ${run.what} of plugin '${run.plan.plugin}': close() did not finish within ${CLOSE_TIMEOUT_MS} ms`);
          }
        } catch (err) {
          run.log.warn({ code: 'ALIVED_CHECKER_FAILED', plugin: run.plan.plugin, err }, `Checker ${run.what} of plugin '${run.plan.plugin}': close() threw: ${errorText(err)}`);
        } finally {
          if (timer) this.clock.clearTimer(timer);
        }
      }),
    );
  }

  // -------------------------------------------------------------------------
  // running checks

  private schedule(run: CheckerRun, delayMs: number): void {
    if (this.stopped) return;
    run.dueAt = this.clock.now() + delayMs;
    this.queue.push(run, run.dueAt);
  }

  private fire(run: CheckerRun): void {
    if (this.stopped) return;
    const start = this.clock.now();
    const late = start - run.dueAt;
    this.lateness.record(late);
    if (late >= STALL_MS) this.reportStall(late, run);
    if (!run.checker) {
      this.conclude(run, start, { ok: false, message: `${run.plan.keyword}: cannot run: ${run.createError ?? 'the checker is closed'}` });
      return;
    }
    const ac = new AbortController();
    const a: Attempt = { run, ac, start, timer: undefined, done: false, stale: false };
    run.attempt = a;
    this.running++;
    const timeoutMs = run.plan.timeoutMs;
    a.timer = this.clock.setTimer(timeoutMs, () => {
      // the grace timer first: a checker may settle synchronously inside abort()
      a.timer = this.clock.setTimer(this.grace, () => {
        run.abandoned++;
        this.totals.abandoned++;
        this.settle(a, { ok: false, message: `${run.plan.keyword}: no result ${formatSeconds(this.grace)} after the timeout`, broken: `check() did not settle within ${formatSeconds(this.grace)} of its signal aborting at ${formatSeconds(timeoutMs)}` });
      });
      ac.abort(new DOMException(`${run.plan.keyword} timed out after ${formatSeconds(timeoutMs)}`, 'TimeoutError'));
    });
    let pending: unknown;
    try {
      pending = run.checker.check(ac.signal);
    } catch (err) {
      this.settle(a, { ok: false, message: `${run.plan.keyword}: check() threw: ${errorText(err)}`, broken: `check() threw: ${errorText(err)}` });
      return;
    }
    const syncMs = this.clock.now() - start;
    const thenable = pending !== null && (typeof pending === 'object' || typeof pending === 'function') && typeof (pending as PromiseLike<unknown>).then === 'function';
    if (!thenable) {
      this.settle(a, { ok: false, message: `${run.plan.keyword}: check() returned ${describeValue(pending)}`, broken: `check() returned ${describeValue(pending)}, not a promise` });
      return;
    }
    const blockMs = this.opts.blockMs ?? DEFAULT_BLOCK_MS;
    if (syncMs >= blockMs) {
      // whatever it resolves to later, a check that stopped everything else for this long failed
      Promise.resolve(pending).catch(() => undefined);
      const why = `check() blocked the event loop for ${formatSeconds(syncMs)}`;
      this.settle(a, { ok: false, message: `${run.plan.keyword}: ${why}`, broken: why });
      return;
    }
    try {
      (pending as PromiseLike<unknown>).then(
        (r) => {
          const shape = checkResultShape(r);
          if (shape) this.settle(a, { ok: false, message: `${run.plan.keyword}: invalid result: ${shape}`, broken: `check() gave an invalid result: ${shape}` });
          else this.settle(a, r as CheckResult);
        },
        (err: unknown) => this.settle(a, { ok: false, message: `${run.plan.keyword}: check() rejected: ${errorText(err)}`, broken: `check() rejected: ${errorText(err)}` }),
      );
    } catch (err) {
      this.settle(a, { ok: false, message: `${run.plan.keyword}: check() returned a broken promise: ${errorText(err)}`, broken: `check() returned a promise whose then() threw: ${errorText(err)}` });
    }
  }

  private settle(a: Attempt, outcome: Outcome): void {
    if (a.done) return;
    a.done = true;
    if (a.timer) this.clock.clearTimer(a.timer);
    a.timer = undefined;
    const run = a.run;
    if (run.attempt === a) run.attempt = undefined;
    this.running--;
    if (a.stale || this.stopped) return;
    this.conclude(run, a.start, outcome);
  }

  private reportBroken(run: CheckerRun, why: string): void {
    run.contractFailures++;
    this.totals.contractFailures++;
    // the first of a kind is an error; the same again is counted (status) and logged at debug, so a broken plugin cannot flood the log
    const kind = why.replace(/[\d.]+ m?s/g, 'N');
    const fields = { code: 'ALIVED_CHECKER_FAILED', plugin: run.plan.plugin, checker: run.plan.keyword, count: run.contractFailures };
    const line = `Checker ${run.what} of plugin '${run.plan.plugin}': ${why}; the check counts as failed`;
    if (run.lastBroken !== kind) run.log.error(fields, line);
    else run.log.debug(fields, line);
    run.lastBroken = kind;
  }

  private reportStall(late: number, run: CheckerRun): void {
    const now = this.clock.now();
    if (now - this.lastStallLog < STALL_LOG_INTERVAL_MS) return;
    this.lastStallLog = now;
    const inFlight = new Map<string, number>();
    for (const r of this.runs) if (r.attempt) inFlight.set(r.plan.plugin, (inFlight.get(r.plan.plugin) ?? 0) + 1);
    const suspects = [...inFlight.entries()].map(([p, n]) => `'${p}' (${n})`).join(', ');
    this.log.warn(
      { lateMs: Math.round(late), inFlight: Object.fromEntries(inFlight) },
      `Health checks are running ${formatSeconds(late)} late (${run.what} among them): the event loop was blocked${suspects ? `; checks in flight by plugin: ${suspects}` : ''}`,
    );
  }

  /**
   * One result, as the checkers' epilogs (tcp_epilog(), http epilog(),
   * misc_check_child_thread()) handle it: success resets the retries; a
   * failure of an up checker is retried `retry` times, delay_before_retry
   * apart, before the checker goes down; a checker already down is checked
   * again after delay_loop without retries.
   */
  private conclude(run: CheckerRun, start: number, outcome: Outcome): void {
    const now = this.clock.now();
    const durationMs = now - start;
    const time = this.clock.epochNow();
    const p = run.plan;
    const message = outcome.message ?? (outcome.ok ? `${p.keyword}: ok` : `${p.keyword}: failed`);
    if (outcome.broken) this.reportBroken(run, outcome.broken);
    else run.lastBroken = undefined;
    run.checks++;
    this.totals.checks++;
    if (!outcome.ok) {
      run.failures++;
      this.totals.failures++;
    }
    run.lastOk = outcome.ok;
    run.lastMessage = message;
    run.lastDurationMs = durationMs;
    run.lastTime = time;
    this.emitCheckResult(run, outcome.ok, message, durationMs, time);
    if (run.log.isLevelEnabled('debug')) run.log.debug({ ok: outcome.ok, result: message, durationMs: Math.round(durationMs) }, `${run.what}: ${outcome.ok ? 'success' : 'failure'}`);

    const rs = run.rs;
    let delay = p.delayLoopMs;
    if (outcome.ok) {
      run.retryIt = 0;
      this.applyDynamicWeight(run, outcome.weight);
      if (!run.isUp || !run.hasRun) {
        run.log.info({ result: message }, `${run.what} succeeded.`);
        const wasUp = run.isUp;
        const rsWasAlive = rs.alive;
        this.updateSvrCheckerState(true, run, message);
        if (!wasUp) this.checkerAlert(run, rsWasAlive, true, message);
      }
    } else if (run.isUp || !run.hasRun) {
      const logAll = p.logAllFailures;
      if (run.retryIt < p.retry) {
        run.retryIt++;
        delay = p.delayBeforeRetryMs;
        const progress = run.retryIt === 1 ? `, will do ${p.retry} ${p.retry === 1 ? 'retry' : 'retries'}` : ` on retry ${run.retryIt - 1}/${p.retry}`;
        const fields = { result: message };
        if (logAll) run.log.info(fields, `${run.what} failed${progress}.`);
        else run.log.debug(fields, `${run.what} failed${progress}.`);
      } else {
        run.retryIt = 0;
        const after = p.retry && run.hasRun ? ` after ${p.retry} ${p.retry === 1 ? 'retry' : 'retries'}` : '';
        run.log.info({ result: message }, `${run.what} failed${after}.`);
        // a dynamic weight does not outlive its checker's failure (misc_check_child_thread())
        rs.effectiveWeight -= run.curWeight;
        run.curWeight = 0;
        const wasUp = run.isUp;
        const rsWasAlive = rs.alive;
        this.updateSvrCheckerState(false, run, message);
        if (wasUp) this.checkerAlert(run, rsWasAlive, false, message);
      }
    } else {
      // known down: no retries, as MISC_CHECK and HTTP_GET ("do not retry if server is already known as dead")
      run.retryIt = 0;
      if (p.logAllFailures) run.log.info({ result: message }, `${run.what} failed.`);
    }
    run.hasRun = true;
    this.schedule(run, delay);
  }

  // -------------------------------------------------------------------------
  // states: ipwrapper.c

  /** set_checker_state() */
  private setCheckerState(run: CheckerRun, up: boolean): void {
    if (run.isUp === up) return;
    run.isUp = up;
    if (!up) run.rs.numFailedCheckers++;
    else if (run.rs.numFailedCheckers) run.rs.numFailedCheckers--;
  }

  /** update_svr_checker_state(): a real server is up only when every one of its checkers is */
  private updateSvrCheckerState(alive: boolean, run: CheckerRun, reason: string): void {
    const rs = run.rs;
    if (run.isUp === alive) {
      if (!run.hasRun) {
        // the first result confirms the state the server started in: say it (alpha servers start down)
        if (run.plan.alpha || !alive) this.rsNotifies(run.vs, rs, reason, false);
        run.hasRun = true;
      }
      return;
    }
    run.hasRun = true;
    if (alive) {
      if (rs.numFailedCheckers <= 1) this.performSvrState(true, run.vs, rs, reason);
    } else if (rs.numFailedCheckers === 0) {
      this.performSvrState(false, run.vs, rs, reason);
    }
    this.setCheckerState(run, alive);
  }

  /** perform_svr_state(): the real server enters or leaves the pool; its notify script runs; the quorum may change */
  private performSvrState(alive: boolean, vs: VirtualServerState, rs: RealServerState, reason: string): void {
    if (rs.alive === alive) return;
    const inhibit = rs.plan.inhibit;
    const verb = alive ? (inhibit ? 'Enabling' : 'Adding') : inhibit ? 'Disabling' : 'Removing';
    const prep = inhibit ? 'of' : alive ? 'to' : 'from';
    this.log.info({ service: rs.plan.name, vs: vs.plan.name, reason }, `${verb} service ${rs.plan.name} ${prep} VS ${vs.plan.name}${vs.realServersServe ? this.suffix : ' (the sorry server serves instead)'}`);
    rs.alive = alive;
    this.markPool(vs);
    this.rsNotifies(vs, rs, reason, false);
    this.updateQuorumState(vs, false);
  }

  /** update_svr_wgt() */
  private updateWeight(vs: VirtualServerState, rs: RealServerState, weight: number, updateQuorum: boolean): void {
    const next = realWeight(weight);
    const prev = realWeight(rs.effectiveWeight);
    rs.effectiveWeight = weight;
    if (next === prev) return;
    this.log.info(
      { service: rs.plan.name, vs: vs.plan.name, from: prev, to: next },
      `Changing weight from ${prev} to ${next} for ${rs.alive ? '' : 'in'}active service ${rs.plan.name} of VS ${vs.plan.name}`,
    );
    this.markPool(vs);
    if (updateQuorum) this.updateQuorumState(vs, false);
  }

  /**
   * misc_dynamic: a result with a weight sets the real server's weight to
   * it (for one dynamic checker; each adds its difference to the configured
   * weight); a result without one gives the configured weight back.
   */
  private applyDynamicWeight(run: CheckerRun, weight: number | undefined): void {
    const cur = weight === undefined ? 0 : Math.trunc(weight) - run.rs.plan.weight;
    if (cur === run.curWeight) return;
    const effective = run.rs.effectiveWeight - run.curWeight + cur;
    run.curWeight = cur;
    this.updateWeight(run.vs, run.rs, effective, true);
  }

  /** update_quorum_state(): gain or lose quorum, with hysteresis; swap the sorry server in or out */
  private updateQuorumState(vs: VirtualServerState, init: boolean): void {
    const p = vs.plan;
    const weightSum = vs.weighLive();
    const threshold = p.quorum + (vs.quorumUp ? -1 : 1) * p.hysteresis;
    if (!vs.quorumUp && weightSum >= threshold) {
      vs.quorumUp = true;
      this.log.info(
        { vs: p.name, quorum: p.quorum, hysteresis: p.hysteresis, alive: weightSum },
        `Gained quorum ${p.quorum}+${p.hysteresis}=${threshold} <= ${weightSum} for VS ${p.name}`,
      );
      const s = vs.sorry;
      if (s && s.alive) {
        this.log.info({ vs: p.name }, `${s.plan.inhibit ? 'Disabling' : 'Removing'} sorry server ${s.plan.name} from VS ${p.name}${this.suffix}`);
        s.alive = false;
        this.log.info({ vs: p.name }, `Adding alive servers to the pool for VS ${p.name}${this.suffix}`);
      }
      this.markPool(vs);
      this.vsNotifies(vs, init, threshold, weightSum, false);
      return;
    }
    if ((vs.quorumUp && (!weightSum || weightSum < threshold)) || (init && !vs.quorumUp && vs.sorry && !vs.sorry.alive)) {
      vs.quorumUp = false;
      this.log.info(
        { vs: p.name, quorum: p.quorum, hysteresis: p.hysteresis, alive: weightSum },
        `${init ? 'Starting with quorum down' : 'Lost quorum'} ${p.quorum}-${p.hysteresis}=${threshold} > ${weightSum} for VS ${p.name}`,
      );
      const s = vs.sorry;
      if (s && !s.alive) {
        this.log.info({ vs: p.name }, `${s.plan.inhibit ? 'Enabling' : 'Adding'} sorry server ${s.plan.name} to VS ${p.name}${this.suffix}`);
        this.log.info({ vs: p.name }, `Removing alive servers from the pool for VS ${p.name}${this.suffix}`);
        s.alive = true;
      }
      this.markPool(vs);
      this.vsNotifies(vs, init, threshold, weightSum, false);
    }
  }

  /** init_service_vs() / init_service_rs(): servers without a failed checker start up */
  private initServiceVs(vs: VirtualServerState): void {
    for (const rs of vs.realServers) {
      if (rs.reloaded) continue;
      if (!rs.numFailedCheckers && !rs.alive) {
        rs.alive = true;
        if (this.plan?.rsInitNotifies) this.rsNotifies(vs, rs, 'start', false);
      }
    }
    this.markPool(vs);
    this.updateQuorumState(vs, true);
  }

  /** clear_service_rs(): a real server leaves (reload) or alived stops */
  private clearServiceRs(vs: VirtualServerState, rs: RealServerState, stopping: boolean): void {
    const inhibited = rs.plan.inhibit && !rs.alive ? '(inhibited) ' : '';
    const inPool = (rs.alive && vs.realServersServe) || rs.plan.inhibit;
    if (stopping || inPool) this.log.info({ service: rs.plan.name, vs: vs.plan.name }, `${stopping ? 'Shutting down' : 'Removing'} ${inhibited}service ${rs.plan.name} from VS ${vs.plan.name}${this.suffix}`);
    if (!rs.alive) return;
    rs.alive = false;
    // without omega, nothing is said at shutdown
    if (stopping && !vs.plan.omega) return;
    this.rsNotifies(vs, rs, stopping ? 'shutdown' : 'removed from the config', stopping);
    if (rs.plan.smtpAlert) {
      this.alert({ kind: 'real-server', virtualServer: vs.plan.name, service: rs.plan.name, realServer: rs.plan.endpoint, state: 'DOWN', message: stopping ? '=> Shutting down <=' : '=> Removing <=', time: this.clock.epochNow() });
    }
  }

  /** clear_service_vs(): every real server leaves, then the quorum goes */
  private clearServiceVs(vs: VirtualServerState, stopping: boolean): void {
    if (vs.sorry) vs.sorry.alive = false;
    for (const rs of vs.realServers) this.clearServiceRs(vs, rs, stopping);
    // update_vs_notifies()
    const threshold = vs.plan.quorum - vs.plan.hysteresis;
    const weightSum = vs.weighLive();
    if (stopping || (vs.quorumUp && (!weightSum || weightSum < threshold))) {
      vs.quorumUp = false;
      this.vsNotifies(vs, false, threshold, weightSum, stopping);
    }
    this.dirtyPools.delete(vs);
    this.emitPool(vs.pool(true));
  }

  // -------------------------------------------------------------------------
  // notifications

  /**
   * do_rs_notifies(): the realServerChange hook, and the notification that
   * runs notify_up / notify_down and writes the `RS ...` FIFO line
   */
  private rsNotifies(vs: VirtualServerState, rs: RealServerState, reason: string, stopping: boolean): void {
    const e: RealServerChangeEvent = {
      virtualServer: vs.plan.name,
      realServer: rs.plan.endpoint,
      up: rs.alive,
      weight: realWeight(rs.effectiveWeight),
      reason,
      ...(stopping ? { stopping: true } : {}),
      time: this.clock.epochNow(),
    };
    this.callHook('realServerChange', e);
    this.notify({ type: 'real-server', ...e });
  }

  /**
   * do_vs_notifies(): the quorumChange hook, the notification that runs
   * quorum_up / quorum_down and writes the `VS ...` FIFO line, then the VS
   * smtp_alert
   */
  private vsNotifies(vs: VirtualServerState, init: boolean, threshold: number, weightSum: number, stopping: boolean): void {
    if (stopping && !vs.plan.omega) return;
    const p = vs.plan;
    const up = vs.quorumUp;
    const e: QuorumChangeEvent = { virtualServer: p.name, up, alive: weightSum, quorum: p.quorum, ...(stopping ? { stopping: true } : {}), time: this.clock.epochNow() };
    this.callHook('quorumChange', e);
    this.notify({ type: 'quorum', ...e });
    if (p.smtpAlert) {
      const what = up ? (init ? 'Starting with quorum up' : 'Gained quorum') : init ? 'Starting with quorum down' : 'Lost quorum';
      this.alert({
        kind: 'virtual-server',
        virtualServer: p.name,
        state: up ? 'UP' : 'DOWN',
        message: stopping ? '=> Shutting down <=' : `=> ${what} ${p.quorum}+${p.hysteresis}=${threshold} <= ${weightSum} <=`,
        time: this.clock.epochNow(),
      });
    }
  }

  /**
   * The smtp_alert of a checker's epilog, on a change of the server, or on
   * every change of the checker without no_checker_emails. As smtp_alert()
   * (SMTP_MSG_RS), the subject says the real server's state, which stays
   * DOWN when one checker comes back while another still fails; the body is
   * the checker's own text (`=> TCP CHECK succeed on service <=`).
   */
  private checkerAlert(run: CheckerRun, rsWasAlive: boolean, checkerUp: boolean, result: string): void {
    const rs = run.rs;
    if (!rs.plan.smtpAlert) return;
    if (rsWasAlive === rs.alive && this.plan?.noCheckerEmails) return;
    this.alert({
      kind: 'real-server',
      virtualServer: run.vs.plan.name,
      service: rs.plan.name,
      realServer: rs.plan.endpoint,
      checker: run.plan.keyword,
      state: rs.alive ? 'UP' : 'DOWN',
      checkerState: checkerUp ? 'UP' : 'DOWN',
      message: this.alertText(run, checkerUp, result),
      time: this.clock.epochNow(),
    });
  }

  /** the checker plugin's text for its alert (alertText), else keepalived's default */
  private alertText(run: CheckerRun, up: boolean, result: string): string {
    const own = run.plan.def.alertText;
    if (own) {
      try {
        const text = own(up, result);
        if (typeof text === 'string' && text) return text;
      } catch (err) {
        run.log.error({ code: 'ALIVED_CHECKER_FAILED', plugin: run.plan.plugin, err }, `Checker ${run.what} of plugin '${run.plan.plugin}': alertText() threw: ${errorText(err)}; keepalived's default text is mailed`);
      }
    }
    return up ? DEFAULT_ALERT_TEXT.up : DEFAULT_ALERT_TEXT.down;
  }

  private alert(a: CheckAlertEvent): void {
    this.notify({ type: 'check-alert', ...a });
  }

  private notify(e: CheckNotifyEvent): void {
    try {
      this.opts.onNotify?.(e);
    } catch (err) {
      this.log.error({ err, event: e.type }, 'notification handler threw; notification dropped');
    }
  }

  private emitCheckResult(run: CheckerRun, ok: boolean, message: string, durationMs: number, time: number): void {
    const hook = this.hooks?.checkResult;
    // building 10,000 events a second for nobody is not free (isUsed() counts the isolation interceptor too)
    if (!hook || hook.taps.length === 0) return;
    const e: CheckResultEvent = { checker: run.plan.keyword, virtualServer: run.vs.plan.name, realServer: run.rs.plan.endpoint, ok, message, durationMs, time };
    try {
      hook.call(e);
    } catch (err) {
      this.log.error({ err, hook: 'checkResult' }, 'hook checkResult threw past its isolation');
    }
  }

  private callHook(name: 'realServerChange', e: RealServerChangeEvent): void;
  private callHook(name: 'quorumChange', e: QuorumChangeEvent): void;
  private callHook(name: 'realServerChange' | 'quorumChange', e: RealServerChangeEvent | QuorumChangeEvent): void {
    const hook = this.hooks?.[name] as { call(e: unknown): void; taps: unknown[] } | undefined;
    if (!hook || hook.taps.length === 0) return;
    try {
      hook.call(e);
    } catch (err) {
      // the plugin host isolates its taps; a bare hooks object (tests, embedders) may not
      this.log.error({ err, hook: name }, `hook ${name} threw past its isolation`);
    }
  }

  // -------------------------------------------------------------------------
  // pools

  private markPool(vs: VirtualServerState): void {
    if (!this.onPoolChange) return;
    this.dirtyPools.add(vs);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flushPools());
  }

  private flushPools(): void {
    this.flushQueued = false;
    const dirty = [...this.dirtyPools];
    this.dirtyPools.clear();
    for (const vs of dirty) if (this.vss.includes(vs)) this.emitPool(vs.pool());
  }

  private emitPool(pool: VirtualServerPool): void {
    try {
      this.onPoolChange?.(pool);
    } catch (err) {
      this.log.error({ err, vs: pool.virtualServer }, 'pool change handler threw');
    }
  }

  // -------------------------------------------------------------------------
  // status

  /** The pool of every virtual server, as the states imply now. */
  pools(): VirtualServerPool[] {
    return this.vss.map((vs) => vs.pool());
  }

  stats(): CheckStats {
    return { ...this.totals, running: this.running, lateness: this.lateness.summary() };
  }

  /** Starts a new measurement window for lateness (benchmarks). */
  resetLateness(): void {
    this.lateness.reset();
  }

  status(): CheckSchedulerStatus {
    const now = this.clock.now();
    const byRs = groupByServer(this.runs);
    const virtualServers = this.vss.map(
      (vs): VirtualServerStatus => ({
        name: vs.plan.name,
        quorum: vs.plan.quorum,
        hysteresis: vs.plan.hysteresis,
        quorumUp: vs.quorumUp,
        aliveWeight: vs.weighLive(),
        sorryServer: vs.sorry ? { name: vs.sorry.plan.name, active: vs.sorry.alive, inhibit: vs.sorry.plan.inhibit } : undefined,
        realServers: vs.realServers.map(
          (rs): RealServerStatus => ({
            name: rs.plan.name,
            address: rs.plan.endpoint.address,
            port: rs.plan.endpoint.port,
            alive: rs.alive,
            weight: realWeight(rs.effectiveWeight),
            configuredWeight: rs.plan.weight,
            inhibit: rs.plan.inhibit,
            failedCheckers: rs.numFailedCheckers,
            notRun: rs.plan.notRun.map((n) => n.keyword),
            checkers: (byRs.get(rs) ?? []).map(
              (r): CheckerStatus => ({
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
                contractFailures: r.contractFailures,
                abandoned: r.abandoned,
                dynamicWeight: r.curWeight,
                last: r.lastMessage === undefined ? undefined : { ok: r.lastOk, message: r.lastMessage, durationMs: r.lastDurationMs, time: r.lastTime },
                error: r.createError,
              }),
            ),
          }),
        ),
        pool: vs.pool(),
      }),
    );
    return { virtualServers, stats: this.stats() };
  }
}
