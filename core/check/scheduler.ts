import type { Logger } from '../log/logger';
import type { AlivedHooks } from '../plugin/hooks';
import type { CheckerRun } from './checker-run';
import type { CheckClock } from './clock';
import { CheckNotices, type CheckNotifyEvent } from './notices';
import type { CheckPlan } from './plan';
import { VirtualServerState, type VirtualServerPool } from './pool';
import { PoolChanges } from './pool-changes';
import { checkNewRsState, clearDiffServices, rescheduleAfterReload, type Generation } from './reload';
import { CheckRunner, reportNotRun } from './runner';
import { clearServiceVs, initServiceVs, setCheckerState, type StateCtx } from './server-state';
import { virtualServersStatus, virtualServersStatusParts, type CheckSchedulerStatus, type CheckStats, type VirtualServerStatus } from './status';

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
 *
 * This class is the facade; the parts are in their own files: runner.ts
 * (timers, attempts, grace, the contract, the checkers' epilog),
 * server-state.ts (ipwrapper.c's states), notices.ts (hooks and
 * notifications), pool-changes.ts (pools handed to `onPoolChange`),
 * reload.ts (the hand-over at a reload) and status.ts.
 */

export { BOOTSTRAP_DELAY_MS, DEFAULT_BLOCK_MS, DEFAULT_GRACE_MS, STALL_MS } from './runner';
export { DEFAULT_ALERT_TEXT, type CheckNotifyEvent } from './notices';
export type { CheckerStatus, CheckSchedulerStatus, CheckStats, RealServerStatus, VirtualServerStatus } from './status';

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
  /** where checkResult, realServerChange and quorumChange fire: the daemon's one hooks object, the same across reloads (currentHooks) */
  readonly hooks?: AlivedHooks;
}

export class CheckScheduler {
  private readonly clock: CheckClock;
  private plan: CheckPlan | undefined;
  private vss: VirtualServerState[] = [];
  private readonly notices: CheckNotices;
  private readonly poolChanges: PoolChanges;
  private readonly states: StateCtx;
  private readonly runner: CheckRunner;

  constructor(opts: CheckSchedulerOptions) {
    this.clock = opts.clock;
    this.notices = new CheckNotices(opts.clock, opts.log, opts.onNotify, opts.hooks);
    this.poolChanges = new PoolChanges(opts.log, (vs) => this.vss.includes(vs), opts.programmed === true, opts.onPoolChange);
    this.states = { log: opts.log, clock: opts.clock, notices: this.notices, pools: this.poolChanges };
    this.runner = new CheckRunner(this.states, opts);
  }

  /** Pools reach the kernel from now on (or not), their changes going to `onPoolChange`. */
  setPoolProgramming(programmed: boolean, onPoolChange: ((pool: VirtualServerPool) => void) | undefined): void {
    this.poolChanges.setProgramming(programmed, onPoolChange);
  }

  private setPlan(plan: CheckPlan): void {
    this.plan = plan;
    this.notices.noCheckerEmails = plan.noCheckerEmails;
  }

  /** Builds the states, marks alpha servers down, computes quorums and pools, and schedules every first check. */
  start(plan: CheckPlan): void {
    if (this.plan) throw new Error('CheckScheduler.start() called twice; use reload()');
    this.setPlan(plan);
    this.runner.stopped = false;
    this.vss = plan.virtualServers.map((p) => new VirtualServerState(p));
    const runs = (this.runner.runs = this.runner.buildRuns(this.vss));
    for (const run of runs) {
      // check_data.c validate_check_config(): alpha checkers start down; one failure is enough at start
      if (run.plan.alpha) setCheckerState(run, false);
      run.retryIt = run.plan.retry;
    }
    reportNotRun(this.states, plan);
    for (const vs of this.vss) {
      // set_quorum_states(): no real server is alive yet
      vs.quorumUp = vs.weighLive() >= vs.plan.quorum + vs.plan.hysteresis;
      initServiceVs(this.states, vs, plan.rsInitNotifies);
    }
    for (const run of runs) this.runner.register(run);
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
    const old: Generation = { vss: this.vss, runs: this.runner.runs };
    const now = this.clock.now();
    // what was running is discarded; the matching new checker runs at once instead
    const wasRunning = new Set<CheckerRun>();
    for (const run of old.runs) {
      if (run.attempt) wasRunning.add(run);
      this.runner.cancel(run, 'reload');
    }
    this.setPlan(plan);
    const vss = plan.virtualServers.map((p) => new VirtualServerState(p));
    const runs = this.runner.buildRuns(vss);
    this.vss = vss;
    this.runner.runs = runs;
    const migrated = clearDiffServices(this.states, old, { vss, runs });
    checkNewRsState(runs);
    reportNotRun(this.states, plan);
    for (const vs of vss) initServiceVs(this.states, vs, plan.rsInitNotifies);
    rescheduleAfterReload(this.runner, runs, migrated, wasRunning, now);
    await this.runner.closeCheckers(old.runs);
  }

  /**
   * SIGTERM: checks stop, checkers close, and the services are shut down as
   * keepalived's clear_services() does: with omega, every alive real server
   * and every virtual server is notified down, marked `stopping` (their
   * notify_down and quorum_down get keepalived's 1 s; the notifier runs
   * them, and the daemon stops it after this).
   */
  async stop(): Promise<void> {
    if (this.runner.stopped) return;
    await this.runner.stop();
    for (const vs of this.vss) clearServiceVs(this.states, vs, true);
    this.poolChanges.flush();
  }

  /** The pool of every virtual server, as the states imply now. */
  pools(): VirtualServerPool[] {
    return this.vss.map((vs) => vs.pool());
  }

  stats(): CheckStats {
    const r = this.runner;
    return { ...r.totals, running: r.running, lateness: r.lateness.summary() };
  }

  /** Starts a new measurement window for lateness (benchmarks). */
  resetLateness(): void {
    this.runner.lateness.reset();
  }

  status(): CheckSchedulerStatus {
    return { virtualServers: virtualServersStatus(this.vss, this.runner.runs, this.clock.now()), stats: this.stats() };
  }

  /** The virtual servers of status() in parts of about `perPart` real servers (virtualServersStatusParts). */
  statusParts(perPart: number): Iterable<VirtualServerStatus[]> {
    return virtualServersStatusParts(this.vss, this.runner.runs, this.clock.now(), perPart);
  }
}
