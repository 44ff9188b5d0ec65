import { AlivedError } from '../errors';
import type { Checker, CheckResult } from '../plugin/types';
import { errorText } from '../errors';
import { CheckerRun, describeValue, type Attempt } from './checker-run';
import type { CheckTimer } from './clock';
import { formatSeconds } from './format';
import type { CheckerPlan, CheckPlan } from './plan';
import type { RealServerState, VirtualServerState } from './pool';
import { applyDynamicWeight, updateSvrCheckerState, type StateCtx } from './server-state';
import { LatenessHistogram } from './stats';
import { TimerQueue } from './timer-queue';
import { checkResultShape } from '../plugin/check-result';

/**
 * The runner: every checker on its timer (one TimerQueue for all), one
 * check in flight per checker, its timeout and grace, and the contract a
 * checker is held to: a check() that throws, rejects, gives no valid
 * result, does not settle after its timeout and grace, or blocks the event
 * loop is a failed check, logged with the plugin's name. Each result goes
 * through the checker's epilog (conclude()): retries, then the states of
 * server-state.ts.
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

export interface RunnerOptions {
  readonly bootstrapDelayMs?: number;
  readonly graceMs?: number;
  readonly blockMs?: number;
}

/** one result as the runner takes it: the checker's, or one it made for a checker that broke the contract */
interface Outcome extends CheckResult {
  /** the contract broken, for the log */
  readonly broken?: string;
}

/** checks started per timer callback at most (TimerQueue's maxPerFire): late ones start over the next turns */
const CHECKS_PER_FIRE = 32;

export class CheckRunner {
  /** the checkers of the running plan */
  runs: CheckerRun[] = [];
  /** stop() was called: nothing is scheduled or concluded any more */
  stopped = false;
  readonly lateness = new LatenessHistogram();
  readonly totals = { checks: 0, failures: 0, contractFailures: 0, abandoned: 0 };
  /** checks in flight */
  running = 0;
  private lastStallLog = -Infinity;
  private readonly queue: TimerQueue<CheckerRun>;

  constructor(
    private readonly s: StateCtx,
    private readonly opts: RunnerOptions,
  ) {
    this.queue = new TimerQueue<CheckerRun>(s.clock, (run) => this.fire(run), undefined, CHECKS_PER_FIRE);
  }

  private get grace(): number {
    return this.opts.graceMs ?? DEFAULT_GRACE_MS;
  }

  /** A run for every checker of every real server, each created by its plugin. */
  buildRuns(vss: readonly VirtualServerState[]): CheckerRun[] {
    const runs: CheckerRun[] = [];
    for (const vs of vss) {
      for (const rs of vs.realServers) {
        for (const cp of rs.plan.checkers) runs.push(this.createRun(cp, rs, vs));
      }
    }
    return runs;
  }

  private createRun(cp: CheckerPlan, rs: RealServerState, vs: VirtualServerState): CheckerRun {
    const run = new CheckerRun(cp, rs, vs, this.s.log);
    let checker: unknown;
    try {
      checker = cp.def.create!(cp.config, { target: cp.target, realServer: rs.plan.endpoint, log: run.log });
    } catch (err) {
      return this.cannotRun(run, `create() threw: ${errorText(err)}`, err);
    }
    if (!checker || typeof (checker as Checker).check !== 'function') {
      const why = `create() returned ${describeValue(checker)} without a check() function`;
      return this.cannotRun(run, why, new AlivedError('ALIVED_CHECKER_FAILED', `Checker ${run.what} of plugin '${cp.plugin}': ${why}`));
    }
    run.checker = checker as Checker;
    return run;
  }

  /** create() failed: every check of the run fails, saying why */
  private cannotRun(run: CheckerRun, why: string, err: unknown): CheckerRun {
    const cp = run.plan;
    run.createError = why;
    this.s.log.error(
      { code: 'ALIVED_CHECKER_FAILED', plugin: cp.plugin, checker: cp.keyword, service: run.rs.plan.name, vs: run.vs.plan.name, err },
      `Checker ${run.what} of plugin '${cp.plugin}' cannot run: ${why}; every check of it fails`,
    );
    return run;
  }

  /** register_checkers_thread(): the first check after the bootstrap delay and a random part of warmup */
  register(run: CheckerRun): void {
    this.s.log.info(
      { plugin: run.plan.plugin, checker: run.plan.keyword },
      `Activating healthchecker for service ${run.rs.plan.name} for VS ${run.vs.plan.name}`,
    );
    const warmup = run.plan.warmupMs ? run.plan.warmupMs * this.s.clock.random() : 0;
    this.schedule(run, (this.opts.bootstrapDelayMs ?? BOOTSTRAP_DELAY_MS) + warmup);
  }

  schedule(run: CheckerRun, delayMs: number): void {
    if (this.stopped) return;
    run.dueAt = this.s.clock.now() + delayMs;
    this.queue.push(run, run.dueAt);
  }

  /** Takes a checker off the schedule and aborts its check in flight, whose result is then not used. */
  cancel(run: CheckerRun, why: 'reload' | 'stop'): void {
    this.queue.cancel(run);
    const a = run.attempt;
    if (a) {
      a.stale = true;
      if (a.timer) this.s.clock.clearTimer(a.timer);
      a.timer = undefined;
      a.done = true;
      run.attempt = undefined;
      this.running--;
      a.ac.abort(new DOMException(why === 'reload' ? 'alived is reloading' : 'alived is stopping', 'AbortError'));
    }
  }

  /** SIGTERM: nothing runs any more; the checkers close. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const run of this.runs) this.cancel(run, 'stop');
    this.queue.clear();
    await this.closeCheckers(this.runs);
  }

  /** Closes the checkers of these runs, each within CLOSE_TIMEOUT_MS. */
  async closeCheckers(runs: readonly CheckerRun[]): Promise<void> {
    const clock = this.s.clock;
    await Promise.all(
      runs.map(async (run) => {
        const c = run.checker;
        run.checker = undefined;
        if (!c?.close) return;
        let timer: CheckTimer | undefined;
        try {
          const closing = Promise.resolve().then(() => c.close!());
          const bounded = new Promise<'timeout'>((resolve) => (timer = clock.setTimer(CLOSE_TIMEOUT_MS, () => resolve('timeout'))));
          const r = await Promise.race([closing.then(() => 'ok' as const), bounded]);
          if (r === 'timeout') {
            run.log.warn(
              { code: 'ALIVED_CHECKER_FAILED', plugin: run.plan.plugin },
              `Checker ${run.what} of plugin '${run.plan.plugin}': close() did not finish within ${CLOSE_TIMEOUT_MS} ms`,
            );
          }
        } catch (err) {
          run.log.warn(
            { code: 'ALIVED_CHECKER_FAILED', plugin: run.plan.plugin, err },
            `Checker ${run.what} of plugin '${run.plan.plugin}': close() threw: ${errorText(err)}`,
          );
        } finally {
          if (timer) clock.clearTimer(timer);
        }
      }),
    );
  }

  // -------------------------------------------------------------------------
  // one check: start it, hold it to its contract, settle it once

  private fire(run: CheckerRun): void {
    if (this.stopped) return;
    const start = this.s.clock.now();
    const late = start - run.dueAt;
    this.lateness.record(late);
    if (late >= STALL_MS) this.reportStall(late, run);
    if (!run.checker) {
      this.conclude(run, start, { ok: false, message: `${run.plan.keyword}: cannot run: ${run.createError ?? 'the checker is closed'}` });
      return;
    }
    const a: Attempt = { run, ac: new AbortController(), start, timer: undefined, done: false, stale: false };
    run.attempt = a;
    this.running++;
    this.armTimeout(a);
    let pending: unknown;
    try {
      pending = run.checker.check(a.ac.signal);
    } catch (err) {
      this.settle(a, { ok: false, message: `${run.plan.keyword}: check() threw: ${errorText(err)}`, broken: `check() threw: ${errorText(err)}` });
      return;
    }
    this.await(a, pending, this.s.clock.now() - start);
  }

  /** At the timeout the signal aborts; a check that has not settled a grace period later is given up on. */
  private armTimeout(a: Attempt): void {
    const run = a.run;
    const clock = this.s.clock;
    const timeoutMs = run.plan.timeoutMs;
    a.timer = clock.setTimer(timeoutMs, () => {
      // the grace timer first: a checker may settle synchronously inside abort()
      a.timer = clock.setTimer(this.grace, () => {
        run.abandoned++;
        this.totals.abandoned++;
        this.settle(a, {
          ok: false,
          message: `${run.plan.keyword}: no result ${formatSeconds(this.grace)} after the timeout`,
          broken: `check() did not settle within ${formatSeconds(this.grace)} of its signal aborting at ${formatSeconds(timeoutMs)}`,
        });
      });
      a.ac.abort(new DOMException(`${run.plan.keyword} timed out after ${formatSeconds(timeoutMs)}`, 'TimeoutError'));
    });
  }

  /** What check() returned, which kept the event loop `syncMs`: a promise of a valid result, or a broken contract. */
  private await(a: Attempt, pending: unknown, syncMs: number): void {
    const keyword = a.run.plan.keyword;
    const thenable =
      pending !== null && (typeof pending === 'object' || typeof pending === 'function') && typeof (pending as PromiseLike<unknown>).then === 'function';
    if (!thenable) {
      this.settle(a, {
        ok: false,
        message: `${keyword}: check() returned ${describeValue(pending)}`,
        broken: `check() returned ${describeValue(pending)}, not a promise`,
      });
      return;
    }
    const blockMs = this.opts.blockMs ?? DEFAULT_BLOCK_MS;
    if (syncMs >= blockMs) {
      // whatever it resolves to later, a check that stopped everything else for this long failed
      Promise.resolve(pending).catch(() => undefined);
      const why = `check() blocked the event loop for ${formatSeconds(syncMs)}`;
      this.settle(a, { ok: false, message: `${keyword}: ${why}`, broken: why });
      return;
    }
    try {
      (pending as PromiseLike<unknown>).then(
        (r) => {
          const shape = checkResultShape(r);
          if (shape) this.settle(a, { ok: false, message: `${keyword}: invalid result: ${shape}`, broken: `check() gave an invalid result: ${shape}` });
          else this.settle(a, r as CheckResult);
        },
        (err: unknown) =>
          this.settle(a, { ok: false, message: `${keyword}: check() rejected: ${errorText(err)}`, broken: `check() rejected: ${errorText(err)}` }),
      );
    } catch (err) {
      this.settle(a, {
        ok: false,
        message: `${keyword}: check() returned a broken promise: ${errorText(err)}`,
        broken: `check() returned a promise whose then() threw: ${errorText(err)}`,
      });
    }
  }

  private settle(a: Attempt, outcome: Outcome): void {
    if (a.done) return;
    a.done = true;
    if (a.timer) this.s.clock.clearTimer(a.timer);
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
    const now = this.s.clock.now();
    if (now - this.lastStallLog < STALL_LOG_INTERVAL_MS) return;
    this.lastStallLog = now;
    const inFlight = new Map<string, number>();
    for (const r of this.runs) if (r.attempt) inFlight.set(r.plan.plugin, (inFlight.get(r.plan.plugin) ?? 0) + 1);
    const suspects = [...inFlight.entries()].map(([p, n]) => `'${p}' (${n})`).join(', ');
    this.s.log.warn(
      { lateMs: Math.round(late), inFlight: Object.fromEntries(inFlight) },
      `Health checks are running ${formatSeconds(late)} late (${run.what} among them): the event loop was blocked${suspects ? `; checks in flight by plugin: ${suspects}` : ''}`,
    );
  }

  // -------------------------------------------------------------------------
  // the checkers' epilog

  /**
   * One result, as the checkers' epilogs (tcp_epilog(), http epilog(),
   * misc_check_child_thread()) handle it: success resets the retries; a
   * failure of an up checker is retried `retry` times, delay_before_retry
   * apart, before the checker goes down; a checker already down is checked
   * again after delay_loop without retries.
   */
  private conclude(run: CheckerRun, start: number, outcome: Outcome): void {
    const message = this.record(run, start, outcome);
    let delay = run.plan.delayLoopMs;
    if (outcome.ok) this.succeeded(run, message, outcome.weight);
    else if (run.isUp || !run.hasRun) delay = this.failed(run, message);
    else {
      // known down: no retries, as MISC_CHECK and HTTP_GET ("do not retry if server is already known as dead")
      run.retryIt = 0;
      if (run.plan.logAllFailures) run.log.info({ result: message }, `${run.what} failed.`);
    }
    run.hasRun = true;
    this.schedule(run, delay);
  }

  /** Counts a result, keeps it for status, hands it to the checkResult hook; returns its message. */
  private record(run: CheckerRun, start: number, outcome: Outcome): string {
    const clock = this.s.clock;
    const durationMs = clock.now() - start;
    const time = clock.epochNow();
    const p = run.plan;
    const message = outcome.message ?? (outcome.ok ? `${p.keyword}: ok` : `${p.keyword}: failed`);
    if (outcome.broken) this.reportBroken(run, outcome.broken);
    else run.lastBroken = undefined;
    run.checks++;
    this.totals.checks++;
    if (!outcome.ok) {
      run.failures++;
      run.failedInARow++;
      this.totals.failures++;
    } else run.failedInARow = 0;
    run.lastOk = outcome.ok;
    run.lastMessage = message;
    run.lastDurationMs = durationMs;
    run.lastTime = time;
    this.s.notices.checkResult(run, outcome.ok, message, durationMs, time);
    if (run.log.isLevelEnabled('debug'))
      run.log.debug({ ok: outcome.ok, result: message, durationMs: Math.round(durationMs) }, `${run.what}: ${outcome.ok ? 'success' : 'failure'}`);
    return message;
  }

  /** A success: the retries reset, a dynamic weight applies, a checker that was down (or had not run) comes up. */
  private succeeded(run: CheckerRun, message: string, weight: number | undefined): void {
    run.retryIt = 0;
    applyDynamicWeight(this.s, run, weight);
    if (!run.isUp || !run.hasRun) {
      run.log.info({ result: message }, `${run.what} succeeded.`);
      const wasUp = run.isUp;
      const rsWasAlive = run.rs.alive;
      updateSvrCheckerState(this.s, true, run, message);
      if (!wasUp) this.s.notices.checkerAlert(run, rsWasAlive, true, message);
    }
  }

  /** A failure of a checker that is up (or has not run): a retry, or the checker goes down; returns the delay to the next check. */
  private failed(run: CheckerRun, message: string): number {
    const p = run.plan;
    if (run.retryIt < p.retry) {
      run.retryIt++;
      const progress = run.retryIt === 1 ? `, will do ${p.retry} ${p.retry === 1 ? 'retry' : 'retries'}` : ` on retry ${run.retryIt - 1}/${p.retry}`;
      const fields = { result: message };
      if (p.logAllFailures) run.log.info(fields, `${run.what} failed${progress}.`);
      else run.log.debug(fields, `${run.what} failed${progress}.`);
      return p.delayBeforeRetryMs;
    }
    run.retryIt = 0;
    const after = p.retry && run.hasRun ? ` after ${p.retry} ${p.retry === 1 ? 'retry' : 'retries'}` : '';
    run.log.info({ result: message }, `${run.what} failed${after}.`);
    // a dynamic weight does not outlive its checker's failure (misc_check_child_thread())
    const rs = run.rs;
    rs.effectiveWeight -= run.curWeight;
    run.curWeight = 0;
    const wasUp = run.isUp;
    const rsWasAlive = rs.alive;
    updateSvrCheckerState(this.s, false, run, message);
    if (wasUp) this.s.notices.checkerAlert(run, rsWasAlive, false, message);
    return p.delayLoopMs;
  }
}

/**
 * The checker blocks alived accepts but does not run (their plugin
 * registers no check), and ha_suspend, said once per plan.
 */
export function reportNotRun(s: StateCtx, plan: CheckPlan): void {
  const counts = new Map<string, { plugin: string; n: number }>();
  for (const vs of plan.virtualServers) {
    for (const rs of vs.realServers) {
      for (const n of rs.notRun) {
        const c = counts.get(n.keyword) ?? { plugin: n.plugin, n: 0 };
        c.n++;
        counts.set(n.keyword, c);
      }
    }
    if (vs.haSuspend && s.pools.isProgrammed) {
      s.log.info(
        { vs: vs.name },
        `VS ${vs.name}: ha_suspend: its pool is programmed only while this node is MASTER of the VRRP instance holding its address; its checkers run always`,
      );
    } else if (vs.haSuspend) {
      s.log.warn({ vs: vs.name }, `VS ${vs.name}: ha_suspend is not acted on without IPVS: its checkers run whether or not its address is configured here`);
    }
  }
  for (const [keyword, c] of counts) {
    s.log.warn(
      { checker: keyword, plugin: c.plugin, blocks: c.n },
      `${keyword} is not run: plugin '${c.plugin}' registers no check; ${c.n} real server${c.n === 1 ? ' is' : 's are'} judged by ${c.n === 1 ? 'its' : 'their'} other checkers only`,
    );
  }
}
