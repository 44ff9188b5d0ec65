import type { Clock, TimerHandle } from './types';

/**
 * The clock the daemon runs VRRP on: monotonic milliseconds
 * (performance.now, immune to wall-clock steps) and Node timers.
 */
/** how early a precise timer wakes before its deadline; the rest is waited on the clock */
const PRECISE_LEAD_MS = 2;

export class RealClock implements Clock {
  private seq = 0;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  setTimer(ms: number, fn: () => void, precise = false): TimerHandle {
    const id = ++this.seq;
    const deadline = performance.now() + Math.max(0, ms);
    const fire = (): void => {
      this.timers.delete(id);
      fn();
    };
    if (precise) {
      // wake up to 2 ms early (Node's timers tick in whole milliseconds and fire a little late),
      // then wait out the rest on the clock: the takeover happens at the deadline itself
      const arm = (delay: number): void => {
        this.timers.set(
          id,
          setTimeout(() => {
            const left = deadline - performance.now();
            if (left > PRECISE_LEAD_MS) return arm(Math.floor(left - PRECISE_LEAD_MS));
            while (performance.now() < deadline) {
              // at most PRECISE_LEAD_MS
            }
            fire();
          }, delay),
        );
      };
      arm(Math.max(0, Math.floor(ms - PRECISE_LEAD_MS)));
      return { id };
    }
    // Node's timers count whole milliseconds and truncate (99.9 ms would fire at 99):
    // round up, and should one still fire early, wait out the rest
    const arm = (delay: number): void => {
      this.timers.set(
        id,
        setTimeout(() => {
          const left = deadline - performance.now();
          if (left > 0.05) return arm(Math.ceil(left));
          fire();
        }, delay),
      );
    };
    arm(Math.ceil(Math.max(0, ms)));
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }

  /** timers still pending (a stopped engine must leave none) */
  get pending(): number {
    return this.timers.size;
  }
}
