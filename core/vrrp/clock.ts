import type { CheckClock, CheckTimer } from '../check/clock';
import { TimerQueue } from '../check/timer-queue';
import type { Clock, TimerHandle } from './types';

/** how early a precise timer wakes before its deadline; the rest is waited on the clock */
const PRECISE_LEAD_MS = 2;
/** a timer that comes up this close to its deadline fires (Node's timers count whole milliseconds) */
const SLACK_MS = 0.05;
/**
 * The kernel lets a normal process's poll timeout run late by 0.1 % of its
 * length, 0.5 % at a positive nice, up to 100 ms (select_estimate_accuracy;
 * libuv waits in epoll_wait): a backup's 3.6 s down timer woke up to 4 ms
 * late, past its 2 ms lead. A timer long enough for that to matter first
 * wakes this share of its length early, then waits the rest on a short
 * timer, whose slack is a few microseconds.
 */
const KERNEL_SLACK_SHARE = 0.006;
const KERNEL_SLACK_MAX_MS = 100;
/** an early stage only when it is worth a wake-up of its own */
const STAGE_MIN_MS = 1;

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
  private readonly queue: TimerQueue<Pending>;

  /** base: the one timer under the heap and its clock (Node's; a test gives its own) */
  constructor(private readonly base: CheckClock = nodeTimer) {
    this.queue = new TimerQueue<Pending>(base, (p) => this.fire(p));
  }

  now(): number {
    return this.base.now();
  }

  setTimer(ms: number, fn: () => void, precise = false): TimerHandle {
    const now = this.base.now();
    // (a NaN delay is 0, as setTimeout takes it; it must not reach the heap's ordering)
    const deadline = now + (ms > 0 ? ms : 0);
    const p = new Pending(++this.seq, deadline, fn, precise);
    this.live++;
    this.queue.push(p, this.wakeAt(p, now));
    return p;
  }

  /**
   * When the timer comes up in the heap: precise ones (a takeover's) 2 ms
   * early, the rest waited out on the clock, so that it fires at the
   * deadline itself rather than at the next millisecond tick; others at
   * the deadline. A long one first comes up early by the kernel's slack.
   */
  private wakeAt(p: Pending, now: number): number {
    const last = p.precise ? p.deadline - PRECISE_LEAD_MS : p.deadline - SLACK_MS;
    const early = Math.min((last - now) * KERNEL_SLACK_SHARE, KERNEL_SLACK_MAX_MS);
    return early >= STAGE_MIN_MS ? last - early : last;
  }

  clearTimer(handle: TimerHandle): void {
    const p = handle as Pending;
    if (p.ticket === 0) return;
    this.queue.cancel(p);
    this.live--;
  }

  private fire(p: Pending): void {
    const now = this.base.now();
    const last = p.precise ? p.deadline - PRECISE_LEAD_MS : p.deadline - SLACK_MS;
    // the early stage of a long timer: the rest on a short one (a precise timer already within
    // a millisecond of its lead waits it out below)
    if (now < last && (!p.precise || last - now > STAGE_MIN_MS)) {
      this.queue.push(p, this.wakeAt(p, now));
      return;
    }
    this.live--;
    if (p.precise) {
      while (this.base.now() < p.deadline) {
        // at most PRECISE_LEAD_MS (+ STAGE_MIN_MS)
      }
    }
    p.fn();
  }

  /** timers still pending (a stopped engine must leave none) */
  get pending(): number {
    return this.live;
  }
}
