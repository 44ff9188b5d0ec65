import type { CheckClock, CheckTimer } from '../check/clock';
import { TimerQueue } from '../check/timer-queue';
import { nativeAddon } from './packet-socket';
import type { Clock, TimerHandle } from './types';

/**
 * How early a precise timer's callback starts (a backup's down timer: its
 * takeover). It runs up to its first side effect, the first request to the
 * kernel, then waits at the commit point for the deadline itself: the
 * takeover's JavaScript runs ahead, the address request leaves on time.
 * Nothing else runs in the process meanwhile, so nothing it would have
 * done by the deadline is missed; and every look at the clock inside
 * (RealClock.now) waits for the deadline first, so no time it reads or
 * timer it sets is early.
 */
const PRECISE_LEAD_MS = 2;
/**
 * How much earlier still a precise timer's base wakes, on an exact base: a
 * process idle for a while (a backup) wakes up slower than a busy one, by
 * up to 2 ms measured in a VM; the base waits the rest out awake.
 */
const PRECISE_WAKE_MS = 2;
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

const NOTHING = (): void => undefined;

/** One pending timer: the handle given out, and the queue's entry. */
class Pending implements TimerHandle {
  /** the queue's ticket while pending; 0 once fired or cleared */
  ticket = 0;
  constructor(
    readonly id: number,
    readonly deadline: number,
    /** NOTHING once cleared: the handle, and the queue's entry until it goes, keep nothing of what the callback held */
    public fn: () => void,
    readonly precise: boolean,
  ) {}
}

/**
 * The one timer under the queue and its clock. `exact`: its timers fire at
 * the deadline asked, to the microsecond (a timerfd); otherwise they may
 * come up to a millisecond late, or late by the kernel's poll slack, and the
 * clock wakes early and waits out the rest.
 */
export interface ClockBase extends CheckClock {
  readonly exact?: boolean;
  /** returns once now() reaches `deadline`, waited out awake; without it the clock reads now() until then */
  waitUntil?(deadline: number): void;
}

/** The precise timer whose callback started early, while it has not reached its commit point. */
let startedEarly: { deadline: number; base: ClockBase } | undefined;

/**
 * Where a precise timer's callback, started PRECISE_LEAD_MS early, waits
 * for its deadline: just before its first side effect. The VRRP process
 * calls it before every request to the kernel that a takeover makes (an
 * address, an advert, a gratuitous ARP); outside such a callback, or once
 * it was reached, it returns at once.
 */
export function commitPoint(): void {
  const e = startedEarly;
  if (e === undefined) return;
  startedEarly = undefined;
  if (e.base.waitUntil) e.base.waitUntil(e.deadline);
  else
    while (e.base.now() < e.deadline) {
      // Node's timers base: read until the deadline (the addon's base waits without allocating)
    }
}

/** Node's timers: whole milliseconds, woken by epoll_wait's timeout. */
export const NODE_TIMER_BASE: ClockBase = {
  now: () => performance.now(),
  epochNow: () => Date.now(),
  // Node's timers count whole milliseconds and truncate (99.9 ms would fire at 99): round up;
  // one that still comes up early finds nothing due, and the queue arms again for the rest
  // (no awakeMs: the clock wakes early on these itself, see RealClock.wakeAt)
  setTimer: (ms, fn) => setTimeout(fn, Math.ceil(ms)) as unknown as CheckTimer,
  clearTimer: (t) => clearTimeout(t as unknown as NodeJS.Timeout),
  random: () => Math.random(),
};

interface TimerAddon {
  openTimer(onExpire: () => void): object;
  /** returns after `ms` (up to 1000), waited out awake in the addon */
  waitFor(ms: number): void;
  /** the callback runs `ms` from now; the timerfd expires `awakeMs` before that and the addon waits out the rest */
  armTimer(handle: object, ms: number, awakeMs?: number): void;
  disarmTimer(handle: object): void;
  closeTimer(handle: object): void;
}

/**
 * A gap to the next timer this short is waited out awake (spinning on the
 * clock) rather than asleep. Going to sleep for it costs a wake-up, and a
 * virtual CPU that halts wakes up late, by 0.1 to several ms (guest halt
 * polling is off in this VM). 200 masters at advert_int 1 keep adverts a
 * few tens of microseconds apart: asleep between each, a round of them took
 * one slow wake-up after another, and advert jitter p99 rose to 6-11 ms.
 */
const SPIN_GAP_MS = 0.25;
/**
 * A sleep this long lets the virtual CPU halt for good, and the wake-up
 * after it varies by milliseconds from one time to the next: such a timer
 * wakes WAKE_LEAD_MS early and waits out the rest awake. (Shorter sleeps,
 * such as the gaps between a v3 master's adverts, wake up in time.)
 */
const LONG_SLEEP_MS = 250;
const WAKE_LEAD_MS = 2;

/**
 * A timerfd on the event loop (native/timer.c): it expires on the kernel's
 * high-resolution timer, to the nanosecond asked, with no poll slack, and
 * keeps the loop alive only while armed. A timer closer than SPIN_GAP_MS
 * expires at once and waits out the rest of its delay awake, so the process
 * does not sleep for it; one that asks for `awakeMs`, or sleeps longer than
 * LONG_SLEEP_MS, expires the larger of the two leads early and waits out the
 * rest the same way. The waiting is done in the addon, on clock_gettime():
 * in JavaScript each reading of the clock is a new heap number, and 2 ms of
 * them filled the VRRP process's 1 MB young generation often enough that a
 * takeover's timer met a 0.2-0.4 ms scavenge one time in three. One timer
 * at a time: the queue above it clears the armed one before it sets the
 * next.
 */
export class TimerfdBase implements ClockBase {
  readonly exact = true;
  private handle: object | undefined;
  private armed: { fn: () => void } | undefined;

  constructor(private readonly lib: TimerAddon) {}

  now(): number {
    return performance.now();
  }

  epochNow(): number {
    return Date.now();
  }

  random(): number {
    return Math.random();
  }

  waitUntil(deadline: number): void {
    const ms = deadline - performance.now();
    if (ms > 0) this.lib.waitFor(Math.min(ms, 1000));
  }

  setTimer(ms: number, fn: () => void, awakeMs = 0): CheckTimer {
    if (this.armed) throw new Error('TimerfdBase holds one timer at a time: clear the armed one first');
    this.handle ??= this.lib.openTimer(this.onExpire);
    const delay = ms > 0 ? ms : 0;
    const lead = Math.max(awakeMs > 0 ? awakeMs : 0, delay > LONG_SLEEP_MS ? WAKE_LEAD_MS : 0);
    this.lib.armTimer(this.handle, delay, delay < SPIN_GAP_MS ? delay : lead);
    this.armed = { fn };
    return this.armed as CheckTimer;
  }

  clearTimer(timer: CheckTimer): void {
    if (timer !== this.armed || !this.handle) return;
    this.armed = undefined;
    this.lib.disarmTimer(this.handle);
  }

  /** Closes the timerfd; a later setTimer opens another. */
  close(): void {
    this.armed = undefined;
    if (this.handle) this.lib.closeTimer(this.handle);
    this.handle = undefined;
  }

  private readonly onExpire = (): void => {
    const armed = this.armed;
    this.armed = undefined;
    if (!armed) return;
    armed.fn();
  };
}

/**
 * The best base this machine has: a timerfd when the project's addon is
 * built (`npm install` builds it), else Node's timers.
 */
export function defaultClockBase(): ClockBase {
  try {
    const lib = nativeAddon() as Partial<TimerAddon>;
    if (typeof lib.openTimer === 'function' && typeof lib.waitFor === 'function') return new TimerfdBase(lib as TimerAddon);
  } catch {
    // not built: Node's timers, staged below
  }
  return NODE_TIMER_BASE;
}

/**
 * The clock the daemon runs VRRP on: monotonic milliseconds (performance.now,
 * immune to wall-clock steps) and timers, all of them in one binary heap
 * under a single timer, a timerfd where the addon is built
 * (core/check/timer-queue.ts). 200 masters at
 * advert_int 0.1 arm 2,000 timers a second; as one Node timer and closures
 * each, they lived long enough to reach V8's old generation, which grew by
 * a megabyte a second between full collections. Here a timer is one small
 * object, and timers due in the same millisecond fire in one callback.
 */
export class RealClock implements Clock {
  private seq = 0;
  private live = 0;
  private readonly queue: TimerQueue<Pending>;
  private readonly exact: boolean;

  /** base: the one timer under the heap and its clock (a timerfd, or Node's; a test gives its own) */
  constructor(private readonly base: ClockBase = defaultClockBase()) {
    this.exact = base.exact === true;
    // on an exact base a precise timer asks it for its lead when it is set, for the sleep as it is
    // then (a backup's down timer comes up after an earlier timer as often as not)
    this.queue = new TimerQueue<Pending>(
      base,
      (p) => this.fire(p),
      (p) => (this.exact && p.precise ? PRECISE_WAKE_MS : 0),
    );
  }

  /** true when timers fire at the deadline itself, with no early wake-up (a timerfd) */
  get isExact(): boolean {
    return this.exact;
  }

  now(): number {
    // inside a precise timer's early start: the deadline first, so no time read there is early
    if (startedEarly !== undefined) commitPoint();
    return this.base.now();
  }

  setTimer(ms: number, fn: () => void, precise = false): TimerHandle {
    // a delay counts from the deadline of a precise timer that started early, not from before it
    if (startedEarly !== undefined) commitPoint();
    const now = this.base.now();
    // (a NaN delay is 0, as setTimeout takes it; it must not reach the heap's ordering)
    const deadline = now + (ms > 0 ? ms : 0);
    const p = new Pending(++this.seq, deadline, fn, precise);
    this.live++;
    this.queue.push(p, this.wakeAt(p, now));
    return p;
  }

  /**
   * When the timer comes up in the heap: precise ones (a takeover's)
   * PRECISE_LEAD_MS early, to start their callback ahead (commitPoint);
   * others at the deadline, or on Node's timers SLACK_MS before it (they
   * count whole milliseconds). On Node's timers a long one first comes up
   * early by the kernel's slack, then waits the rest on a short timer. On an
   * exact base there is no slack, but a precise timer also asks the base to
   * wake PRECISE_WAKE_MS earlier still and wait awake; the base takes it
   * (the queue's awakeFor) when it sets the timer, so a long sleep of its
   * own gets one lead, not two, and a precise timer that comes up after
   * others fired still gets one.
   */
  private wakeAt(p: Pending, now: number): number {
    const last = p.precise ? p.deadline - PRECISE_LEAD_MS : p.deadline - SLACK_MS;
    if (this.exact) return p.precise ? last : p.deadline;
    const early = Math.min((last - now) * KERNEL_SLACK_SHARE, KERNEL_SLACK_MAX_MS);
    return early >= STAGE_MIN_MS ? last - early : last;
  }

  clearTimer(handle: TimerHandle): void {
    const p = handle as Pending;
    if (p.ticket === 0) return;
    this.queue.cancel(p);
    // a removed instance's machine, announcer and VIPs, which its callbacks close over, go now
    p.fn = NOTHING;
    this.live--;
  }

  /**
   * Told of every timer that fires after its deadline, with the deadline and
   * the time it fired: how max_auto_priority sees that the process is not
   * run soon enough (core/vrrp/auto-priority.ts).
   */
  onLate: ((deadline: number, now: number) => void) | undefined;

  private fire(p: Pending): void {
    const now = this.base.now();
    if (this.onLate !== undefined && now > p.deadline) this.onLate(p.deadline, now);
    const last = p.precise ? p.deadline - PRECISE_LEAD_MS : p.deadline - SLACK_MS;
    // the early stage of a long timer: the rest on a short one (a precise timer already within
    // a millisecond of its lead waits it out below)
    if (!this.exact && now < last && (!p.precise || last - now > STAGE_MIN_MS)) {
      this.queue.push(p, this.wakeAt(p, now));
      return;
    }
    this.live--;
    if (!p.precise || now >= p.deadline) {
      p.fn();
      return;
    }
    // ahead of the deadline: the callback runs up to its first side effect, which waits for it
    // (commitPoint); one that had none waits here, before anything queued from it runs
    startedEarly = { deadline: p.deadline, base: this.base };
    try {
      p.fn();
    } finally {
      commitPoint();
    }
  }

  /** timers still pending (a stopped engine must leave none) */
  get pending(): number {
    return this.live;
  }
}
