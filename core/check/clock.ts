/**
 * Time and randomness for the check scheduler, passed in so that its state
 * machine is unit-tested without sleeping (a fake clock advances by hand)
 * and the service runs on real timers.
 */

export interface CheckTimer {
  /** opaque to the scheduler */
  readonly __timer?: never;
}

export interface CheckClock {
  /** monotonic milliseconds (immune to wall-clock steps): timers, durations, lateness */
  now(): number;
  /** milliseconds since the epoch, for the `time` of events */
  epochNow(): number;
  /**
   * `awakeMs`: the caller wants the last this many ms of the wait spent
   * awake, so that `fn` runs at the deadline itself even where a sleeping
   * CPU wakes up late (a base on a timerfd wakes that early and waits out
   * the rest); a base that cannot do that ignores it.
   */
  setTimer(ms: number, fn: () => void, awakeMs?: number): CheckTimer;
  clearTimer(timer: CheckTimer): void;
  /** uniform in [0, 1): the warmup spread */
  random(): number;
}

/**
 * Node timers and performance.now(). Timers are plain setTimeout handles:
 * 10,000 checkers at delay_loop 1 arm about 20,000 timers a second (the
 * next check and its timeout), which Node's timer lists handle in O(1)
 * each, grouped by duration.
 */
export class RealCheckClock implements CheckClock {
  now(): number {
    return performance.now();
  }

  epochNow(): number {
    return Date.now();
  }

  setTimer(ms: number, fn: () => void): CheckTimer {
    return setTimeout(fn, Math.max(0, ms)) as unknown as CheckTimer;
  }

  clearTimer(timer: CheckTimer): void {
    clearTimeout(timer as unknown as NodeJS.Timeout);
  }

  random(): number {
    return Math.random();
  }
}
