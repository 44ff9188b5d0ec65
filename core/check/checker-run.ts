import type { Level, Logger } from '../log/logger';
import type { Checker } from '../plugin/types';
import type { CheckTimer } from './clock';
import type { CheckerPlan } from './plan';
import type { RealServerState, VirtualServerState } from './pool';

/**
 * One checker of one real server as the scheduler runs it (keepalived's
 * checker_t), and the check in flight.
 */

/** one check in flight */
export interface Attempt {
  readonly run: CheckerRun;
  readonly ac: AbortController;
  readonly start: number;
  timer: CheckTimer | undefined;
  done: boolean;
  /** reload or stop: its result is not used */
  stale: boolean;
}

/** One checker of one real server, with keepalived's checker_t state. */
export class CheckerRun {
  checker: Checker | undefined;
  createError: string | undefined;
  // keepalived's checker_t
  isUp = true;
  hasRun = false;
  retryIt = 0;
  curWeight = 0;
  // the schedule: a ticket in the runner's TimerQueue while a check is due
  ticket = 0;
  dueAt = 0;
  attempt: Attempt | undefined;
  // counters
  checks = 0;
  failures = 0;
  /** failed checks since the last success */
  failedInARow = 0;
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

/** the checkers of each real server */
export function groupByServer(runs: readonly CheckerRun[]): Map<RealServerState, CheckerRun[]> {
  const m = new Map<RealServerState, CheckerRun[]>();
  for (const r of runs) {
    const l = m.get(r.rs);
    if (l) l.push(r);
    else m.set(r.rs, [r]);
  }
  return m;
}

/** what a plugin gave where a checker or a promise was due, for the log */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return 'an object that is not a promise';
  return `a ${typeof v}`;
}
