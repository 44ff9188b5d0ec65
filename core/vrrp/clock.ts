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
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, Math.max(0, ms));
    this.timers.set(id, t);
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
