import type { Clock, TimerHandle } from './types';

/**
 * The clock the daemon runs VRRP on: monotonic milliseconds
 * (performance.now, immune to wall-clock steps) and Node timers.
 */
export class RealClock implements Clock {
  private seq = 0;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    const deadline = performance.now() + Math.max(0, ms);
    // Node's timers count whole milliseconds and truncate (99.9 ms would fire at 99):
    // round up, and should one still fire early, wait out the rest
    const arm = (delay: number): void => {
      this.timers.set(
        id,
        setTimeout(() => {
          const left = deadline - performance.now();
          if (left > 0.05) return arm(Math.ceil(left));
          this.timers.delete(id);
          fn();
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
