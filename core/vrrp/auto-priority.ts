import * as fs from 'node:fs';
import type { Logger } from '../log/logger';
import { nativeAddon } from './packet-socket';

const SCHED_FIFO = 1;
const SCHED_RR = 2;
/** sched_get_priority_max(SCHED_RR) on Linux: what `max_auto_priority` alone means */
export const MAX_RT_PRIORITY = 99;
/** keepalived's default min_auto_priority_delay: one second, in microseconds */
export const DEFAULT_MIN_AUTO_PRIORITY_DELAY_US = 1_000_000;

export interface SchedulerAddon {
  getScheduler(tid: number): [policy: number, priority: number];
  setScheduler(tid: number, policy: number, priority: number): void;
}

export interface AutoPrioritySettings {
  /** the highest SCHED_RR priority automatic increases reach (max_auto_priority; 0: none) */
  max: number;
  /** how late a timer must fire before the priority goes up, microseconds (min_auto_priority_delay) */
  minDelayUs: number;
}

/** global_defs max_auto_priority / min_auto_priority_delay as the VRRP process takes them; undefined: no increases */
export function autoPrioritySettings(g: { maxAutoPriority?: number | true; minAutoPriorityDelay?: number } | undefined): AutoPrioritySettings | undefined {
  const m = g?.maxAutoPriority;
  const max = m === true ? MAX_RT_PRIORITY : (m ?? 0);
  // 0 and -1 (which also silences keepalived's startup notice) mean no automatic increase
  if (max <= 0) return undefined;
  return { max, minDelayUs: g?.minAutoPriorityDelay ?? DEFAULT_MIN_AUTO_PRIORITY_DELAY_US };
}

/**
 * keepalived's automatic priority increase (lib/scheduler.c,
 * increment_process_priority in lib/process.c): when a timer of the process
 * fires more than min_auto_priority_delay after its deadline, the process is
 * not being run soon enough; it goes to real-time scheduling (SCHED_RR 1),
 * or one real-time priority higher if it is there already, up to
 * max_auto_priority. The VRRP clock reports each late timer (RealClock's
 * onLate); one stall makes one step, however many timers it delayed, as
 * keepalived checks once per wake-up. Every thread of the process moves, as
 * `chrt -a` moves them (core/daemon/scheduling.ts).
 */
export class AutoPriority {
  private settings: AutoPrioritySettings;
  /** when the last step was taken (the clock's ms): timers due before it were late for the same stall */
  private steppedAt = -Infinity;

  constructor(
    settings: AutoPrioritySettings,
    private readonly log: Logger,
    private readonly lib: SchedulerAddon = nativeAddon() as SchedulerAddon,
  ) {
    this.settings = settings;
  }

  update(settings: AutoPrioritySettings): void {
    this.settings = settings;
  }

  /** A timer due at `deadline` fired at `now` (the clock's ms). */
  readonly late = (deadline: number, now: number): void => {
    const lateUs = (now - deadline) * 1000;
    if (lateUs <= this.settings.minDelayUs || deadline < this.steppedAt) return;
    this.steppedAt = now;
    this.log.info({ lateUs: Math.round(lateUs) }, `A timer expired ${(lateUs / 1e6).toFixed(6)} seconds ago`);
    this.step();
  };

  private step(): void {
    let current = 0;
    try {
      const [policy, priority] = this.lib.getScheduler(0);
      if (policy === SCHED_RR || policy === SCHED_FIFO) current = priority;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `cannot read the scheduling of the VRRP process: ${(err as Error).message}`);
      return;
    }
    if (current >= this.settings.max) return;
    const next = current + 1;
    let failed: string | undefined;
    for (const tid of threads()) {
      try {
        this.lib.setScheduler(tid, SCHED_RR, next);
      } catch (err) {
        // a thread that ended meanwhile is no failure
        if ((err as { errno?: number }).errno !== -3 /* ESRCH */) failed ??= (err as Error).message;
      }
    }
    if (failed) this.log.warn({ rtPriority: next }, `cannot set real-time priority ${next}: ${failed}`);
    else this.log.info({ rtPriority: next }, `Set realtime priority ${next}`);
  }
}

/** this process's threads, itself first */
function threads(): number[] {
  try {
    const tids = fs
      .readdirSync('/proc/self/task')
      .map(Number)
      .filter((t) => t !== process.pid);
    return [process.pid, ...tids];
  } catch {
    return [process.pid];
  }
}
