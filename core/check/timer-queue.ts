import type { CheckClock, CheckTimer } from './clock';

/**
 * The next check of every checker, in one binary heap driven by a single
 * clock timer. 10,000 checkers at delay_loop 1 would otherwise create
 * 10,000 timer objects and closures a second, each living a second: long
 * enough for the garbage collector to move them to the old generation,
 * which then grows by tens of megabytes between full collections. Here a
 * pending check is a number and a reference in two arrays.
 *
 * Cancelling is lazy: an item carries the ticket it was queued with; a
 * popped entry whose ticket is no longer the item's is skipped. An entry
 * left behind (cancelled, or queued again) would otherwise stay until its
 * time comes, and keep its item alive that long: a VRRP instance removed by
 * a reload, through its timer's callback, for as long as its longest timer
 * (garp_master_refresh, preempt_delay) had to run. Once they are more than
 * SWEEP_MIN and outnumber the live entries, they are swept out.
 */

/** entries left behind that the queue keeps before it sweeps them out (and only while they outnumber the live ones) */
const SWEEP_MIN = 64;

export interface Queued {
  /** the ticket of its live entry; 0 when none */
  ticket: number;
}

export class TimerQueue<T extends Queued> {
  private readonly at: number[] = [];
  private readonly tickets: number[] = [];
  private readonly items: T[] = [];
  private nextTicket = 1;
  /** entries whose ticket is no longer their item's */
  private stale = 0;
  private timer: CheckTimer | undefined;
  private armedAt = Infinity;
  private firing = false;

  /**
   * awakeFor: how long before an item's time the process should be awake
   * (passed to the clock when that item is the next; 0 when not given).
   * It is asked when the timer is set, for the wait as it is then: an item
   * queued a long way ahead and next only after others fired still gets it.
   */
  constructor(
    private readonly clock: CheckClock,
    private readonly fire: (item: T) => void,
    private readonly awakeFor?: (item: T) => number,
    /**
     * At most this many items fire per timer; the others due then fire at
     * the next timer, set for now, after the event loop's I/O. 10,000
     * checkers late by a stall of the event loop would otherwise all start
     * their checks in one callback and make the next stall.
     */
    private readonly maxPerFire = Infinity,
  ) {}

  /** Queues `item` to fire at monotonic time `at`; any earlier entry of it is dropped. */
  push(item: T, at: number): void {
    // its earlier entry, if any, is left behind
    if (item.ticket !== 0) this.leftBehind();
    const ticket = this.nextTicket++;
    item.ticket = ticket;
    this.insert(item, at, ticket);
    if (!this.firing && at < this.armedAt) this.arm();
  }

  /** back into the heap with the ticket it has, once the firing that deferred it is over */
  private reinsert(item: T, at: number): void {
    this.insert(item, at, item.ticket);
  }

  private insert(item: T, at: number, ticket: number): void {
    let i = this.at.length;
    this.at.push(at);
    this.tickets.push(ticket);
    this.items.push(item);
    // sift up
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  cancel(item: T): void {
    if (item.ticket === 0) return;
    item.ticket = 0;
    this.leftBehind();
  }

  /** entries held, those left behind (cancelled, queued again) included until they come up or are swept out */
  get size(): number {
    return this.at.length;
  }

  private leftBehind(): void {
    this.stale++;
    if (!this.firing && this.stale > SWEEP_MIN && this.stale * 2 > this.at.length) this.sweep();
  }

  /** Drops every entry left behind and orders the rest into a heap again: O(n), once per n/2 entries left behind at most. */
  private sweep(): void {
    let n = 0;
    for (let i = 0; i < this.at.length; i++) {
      if (this.items[i]!.ticket !== this.tickets[i]) continue;
      this.at[n] = this.at[i]!;
      this.tickets[n] = this.tickets[i]!;
      this.items[n] = this.items[i]!;
      n++;
    }
    this.at.length = n;
    this.tickets.length = n;
    this.items.length = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
    this.stale = 0;
  }

  /** one entry left behind is gone from the heap */
  private dropped(): void {
    if (this.stale > 0) this.stale--;
  }

  /** Drops everything and the clock timer. */
  clear(): void {
    for (const item of this.items) item.ticket = 0;
    this.stale = 0;
    this.at.length = 0;
    this.tickets.length = 0;
    this.items.length = 0;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private before(a: number, b: number): boolean {
    const d = this.at[a]! - this.at[b]!;
    return d < 0 || (d === 0 && this.tickets[a]! < this.tickets[b]!);
  }

  private swap(a: number, b: number): void {
    const at = this.at[a]!;
    this.at[a] = this.at[b]!;
    this.at[b] = at;
    const t = this.tickets[a]!;
    this.tickets[a] = this.tickets[b]!;
    this.tickets[b] = t;
    const it = this.items[a]!;
    this.items[a] = this.items[b]!;
    this.items[b] = it;
  }

  private pop(): void {
    const last = this.at.length - 1;
    this.swap(0, last);
    this.at.pop();
    this.tickets.pop();
    this.items.pop();
    this.siftDown(0);
  }

  private siftDown(from: number): void {
    let i = from;
    const n = this.at.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(r, l) ? r : l;
      if (!this.before(c, i)) break;
      this.swap(i, c);
      i = c;
    }
  }

  private arm(): void {
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
    // cancelled entries on top are dropped here rather than woken for: a backup's down timer,
    // restarted at every advert, would otherwise wake the process at each old deadline
    while (this.at.length > 0 && this.items[0]!.ticket !== this.tickets[0]) {
      this.pop();
      this.dropped();
    }
    if (this.at.length === 0) return;
    const at = this.at[0]!;
    this.armedAt = at;
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), this.onTimer, this.awakeFor?.(this.items[0]!) ?? 0);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    this.firing = true;
    // entries queued while firing wait for the next timer, even if due now: a checker that
    // fails at once with no delay must not keep this loop (and the event loop) to itself
    const firstNew = this.nextTicket;
    const deferred: Array<{ item: T; at: number; ticket: number }> = [];
    let fired = 0;
    try {
      const now = this.clock.now();
      while (this.at.length > 0 && this.at[0]! <= now && fired < this.maxPerFire) {
        const ticket = this.tickets[0]!;
        const at = this.at[0]!;
        const item = this.items[0]!;
        this.pop();
        if (item.ticket !== ticket) {
          this.dropped();
          continue;
        }
        if (ticket >= firstNew) {
          deferred.push({ item, at, ticket });
          continue;
        }
        item.ticket = 0;
        fired++;
        this.fire(item);
      }
    } finally {
      this.firing = false;
      // one cancelled or queued again while it waited here is not put back: its entry is gone
      for (const d of deferred) {
        if (d.item.ticket === d.ticket) this.reinsert(d.item, d.at);
        else this.dropped();
      }
      if (this.stale > SWEEP_MIN && this.stale * 2 > this.at.length) this.sweep();
      this.arm();
    }
  };
}
