import type { CheckClock, CheckTimer } from '../check/clock';
import { TimerQueue } from '../check/timer-queue';
import type { Clock, TimerHandle } from './types';

/** how early a precise timer wakes before its deadline; the rest is waited on the clock */
const PRECISE_LEAD_MS = 2;
/** a timer that comes up this close to its deadline fires (Node's timers count whole milliseconds) */
const SLACK_MS = 0.05;

/** One pending timer: the handle given out, and the queue's entry. */
class Pending implements TimerHandle {
  /** the queue's ticket while pending; 0 once fired or cleared */
  ticket = 0;
  constructor(
    readonly id: number,
    readonly deadline: number,
    readonly fn: () => void,
    readonly precise: boolean,
  ) {}
}

/** The Node timer under the queue: one for all pending timers. */
const nodeTimer: CheckClock = {
  now: () => performance.now(),
  epochNow: () => Date.now(),
  // Node's timers count whole milliseconds and truncate (99.9 ms would fire at 99): round up;
  // one that still comes up early finds nothing due, and the queue arms again for the rest
  setTimer: (ms, fn) => setTimeout(fn, Math.ceil(ms)) as unknown as CheckTimer,
  clearTimer: (t) => clearTimeout(t as unknown as NodeJS.Timeout),
  random: () => Math.random(),
};

/**
 * The clock the daemon runs VRRP on: monotonic milliseconds (performance.now,
 * immune to wall-clock steps) and timers, all of them in one binary heap
 * under a single Node timer (core/check/timer-queue.ts). 200 masters at
 * advert_int 0.1 arm 2,000 timers a second; as one Node timer and closures
 * each, they lived long enough to reach V8's old generation, which grew by
 * a megabyte a second between full collections. Here a timer is one small
 * object, and timers due in the same millisecond fire in one callback.
 */
export class RealClock implements Clock {
  private seq = 0;
  private live = 0;
  private readonly queue = new TimerQueue<Pending>(nodeTimer, (p) => this.fire(p));

  now(): number {
    return performance.now();
  }

  setTimer(ms: number, fn: () => void, precise = false): TimerHandle {
    // (a NaN delay is 0, as setTimeout takes it; it must not reach the heap's ordering)
    const deadline = performance.now() + (ms > 0 ? ms : 0);
    const p = new Pending(++this.seq, deadline, fn, precise);
    this.live++;
    // precise (a takeover's timers): wake up to 2 ms early, then wait out the rest on the clock,
    // so that it fires at the deadline itself rather than at the next millisecond tick
    this.queue.push(p, precise ? deadline - PRECISE_LEAD_MS : deadline - SLACK_MS);
    return p;
  }

  clearTimer(handle: TimerHandle): void {
    const p = handle as Pending;
    if (p.ticket === 0) return;
    this.queue.cancel(p);
    this.live--;
  }

  private fire(p: Pending): void {
    this.live--;
    if (p.precise) {
      while (performance.now() < p.deadline) {
        // at most PRECISE_LEAD_MS
      }
    }
    p.fn();
  }

  /** timers still pending (a stopped engine must leave none) */
  get pending(): number {
    return this.live;
  }
}
