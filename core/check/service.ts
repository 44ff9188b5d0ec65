import * as fs from 'node:fs';
import type { ConfigModel } from '../config/model';
import type { Logger } from '../log/logger';
import type { AlivedHooks } from '../plugin/hooks';
import type { Registered } from '../plugin/host';
import type { CheckerDefinition } from '../plugin/types';
import { RealCheckClock, type CheckClock } from './clock';
import { planChecks, type CheckPlan } from './plan';
import type { VirtualServerPool } from './pool';
import { CheckScheduler, type CheckNotifyEvent, type CheckSchedulerStatus, type VirtualServerStatus } from './scheduler';

/**
 * The health checks of a running daemon: plans them from the config and
 * the plugin host's checker definitions, runs them on real timers, fires
 * checkResult / realServerChange / quorumChange through the plugin host's
 * hooks, hands every notification (real server and quorum changes,
 * smtp_alerts) to `onNotify`, and keeps state across reloads. The daemon
 * publishes those to the notifier pipeline, where notify_up / notify_down /
 * quorum_up / quorum_down run (plugins/notify-script). Nothing
 * starts before start(); stop() leaves no timer or socket behind.
 */

/** what the service needs of a plugin host (the daemon's PluginHost) */
export interface CheckPluginHost {
  readonly checkers: ReadonlyMap<string, Registered<CheckerDefinition<any>>>;
}

export interface CheckServiceOptions {
  readonly log: Logger;
  /** default: real timers and performance.now() */
  readonly clock?: CheckClock;
  /** the file whose presence says IPVS is in the kernel; default /proc/net/ip_vs */
  readonly ipvsProcFile?: string;
  /** keepalived's 1 s before the first checks; tests shorten it */
  readonly bootstrapDelayMs?: number;
  /** how long a check may still settle after its timeout; default 1 s */
  readonly graceMs?: number;
  /** a check() that holds the event loop this long is failed; default 1 s */
  readonly blockMs?: number;
  /** a notification is due: a real server or a quorum changed, an smtp_alert (the daemon publishes it to the notifier pipeline) */
  readonly onNotify?: (event: CheckNotifyEvent) => void;
  /** a virtual server's pool changed (the IPVS reconciler takes it) */
  readonly onPoolChange?: (pool: VirtualServerPool) => void;
  /** the IPVS reconciler programs the pools into the kernel (core/ipvs) */
  readonly programsPools?: boolean;
  /** why pools are not programmed although the kernel has IPVS */
  readonly ipvsReason?: string;
  /** where checkResult, realServerChange and quorumChange fire: the daemon's one hooks object, the same across reloads (currentHooks) */
  readonly hooks?: AlivedHooks;
}

export interface CheckServiceStatus extends CheckSchedulerStatus {
  readonly running: boolean;
  readonly ipvs: { readonly available: boolean; readonly programmed: boolean };
}

export const IPVS_PROC_FILE = '/proc/net/ip_vs';

export class CheckService {
  private readonly log: Logger;
  private readonly scheduler: CheckScheduler;
  private plan: CheckPlan | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private saidNotProgrammed = false;
  private programming: { readonly programsPools?: boolean; readonly ipvsReason?: string };
  private readonly ipvsAvailable: boolean;

  constructor(private readonly opts: CheckServiceOptions) {
    this.log = opts.log.child({ subsystem: 'check' });
    this.ipvsAvailable = fs.existsSync(opts.ipvsProcFile ?? IPVS_PROC_FILE);
    this.programming = { programsPools: opts.programsPools, ipvsReason: opts.ipvsReason };
    this.scheduler = new CheckScheduler({
      clock: opts.clock ?? new RealCheckClock(),
      log: this.log,
      // with IPVS the reconciler programs the pools; without, the lines about them say so
      programmed: opts.programsPools === true,
      bootstrapDelayMs: opts.bootstrapDelayMs,
      graceMs: opts.graceMs,
      blockMs: opts.blockMs,
      onNotify: opts.onNotify,
      onPoolChange: opts.onPoolChange,
      hooks: opts.hooks,
    });
  }

  /**
   * Starts the checks of `model` with the checkers `host` registered; events
   * fire through the hooks given at construction. Call it after configLoaded (checker
   * plugins read global settings there).
   */
  start(model: ConfigModel, host: CheckPluginHost): void {
    if (this.started) throw new Error('CheckService.start() called twice; use reload()');
    this.started = true;
    this.plan = planChecks(model, host.checkers);
    this.sayNotProgrammed();
    this.scheduler.start(this.plan);
  }

  /**
   * From now on pools reach the kernel as `p` says: the daemon calls it
   * when a reload brings the first virtual_server (IPVS opened only then),
   * before reload().
   */
  setPoolProgramming(p: Pick<CheckServiceOptions, 'programsPools' | 'ipvsReason' | 'onPoolChange'>): void {
    this.programming = { programsPools: p.programsPools, ipvsReason: p.ipvsReason };
    this.saidNotProgrammed = false;
    this.scheduler.setPoolProgramming(p.programsPools === true, p.onPoolChange);
  }

  /**
   * Applies a reloaded config: kept checkers (same virtual server, real
   * server, keyword, target and check) keep their state and rhythm; the
   * old checkers close. Call it after configLoaded of the new plugin host,
   * before the old host closes.
   */
  async reload(model: ConfigModel, host: CheckPluginHost): Promise<void> {
    if (!this.started) return this.start(model, host);
    if (this.stopping) return;
    this.plan = planChecks(model, host.checkers);
    this.sayNotProgrammed();
    await this.scheduler.reload(this.plan);
  }

  /**
   * Stops every check and closes the checkers; with omega, the last
   * notifications (real servers and quorums down, marked `stopping`) go to
   * onNotify: stop the notifiers after this, so that they run.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.started) return;
      await this.scheduler.stop();
    })();
    return this.stopping;
  }

  status(): CheckServiceStatus {
    return {
      running: this.started && !this.stopping,
      ipvs: { available: this.ipvsAvailable, programmed: this.programming.programsPools === true },
      ...this.scheduler.status(),
    };
  }

  /** The virtual servers of status() in parts of about `perPart` real servers, for a caller that takes turns between them. */
  statusParts(perPart: number): Iterable<VirtualServerStatus[]> {
    return this.scheduler.statusParts(perPart);
  }

  /** The pool of every virtual server as the checks decide it. */
  pools(): VirtualServerPool[] {
    return this.scheduler.pools();
  }

  /** Counters and lateness; cheaper than status() (no per-server lists). */
  stats(): CheckSchedulerStatus['stats'] {
    return this.scheduler.stats();
  }

  /** Starts a new lateness window (benchmarks). */
  resetLateness(): void {
    this.scheduler.resetLateness();
  }

  /** Once per daemon, when there are virtual servers whose pools do not reach the kernel: the checks run all the same. */
  private sayNotProgrammed(): void {
    if (this.programming.programsPools || this.saidNotProgrammed || !this.plan || this.plan.virtualServers.length === 0) return;
    this.saidNotProgrammed = true;
    const n = this.plan.virtualServers.length;
    const what = `${n} virtual server${n === 1 ? '' : 's'}`;
    if (!this.ipvsAvailable) {
      this.log.warn(
        { ipvs: false, virtualServers: n },
        `IPVS is not available in this kernel (${this.opts.ipvsProcFile ?? IPVS_PROC_FILE} is absent): health checks of ${what} run and drive notify scripts and hooks, but no pool is programmed`,
      );
    } else {
      this.log.warn(
        { ipvs: true, virtualServers: n },
        `IPVS is in this kernel but alived cannot program it (${this.programming.ipvsReason ?? 'no IPVS reconciler runs'}): health checks of ${what} run and drive notify scripts and hooks; their pools are computed (see status) but not programmed`,
      );
    }
  }
}

/**
 * Thousands of checks a second leave a lot of short-lived socket garbage,
 * which V8 by default lets grow to about four times the live heap before a
 * full collection (10,000 TCP_CHECKs at delay_loop 1: 314 MB resident).
 * Collecting at half that growth costs 5-8 % more CPU and keeps the same
 * load near 180 MB. Process-wide: the daemon calls it when checks run.
 */
export function tuneHeapForChecks(): void {
  (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--heap-growing-percent=50');
}
