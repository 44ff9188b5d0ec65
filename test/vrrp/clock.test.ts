import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckClock, CheckTimer } from '../../core/check/clock';
import { RealClock } from '../../core/vrrp/clock';

/**
 * The clock the VRRP process runs on: every timer in one heap under one
 * Node timer. Timers fire at their deadline (never early), in deadline order,
 * precise ones at the deadline itself; cleared ones never fire.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a timer fires at its deadline, never before it, and leaves nothing pending', async () => {
  const clock = new RealClock();
  const lateness: number[] = [];
  const fired = new Promise<void>((resolve) => {
    for (const ms of [0, 1, 2.5, 10, 33.3, 99.9, 100]) {
      const deadline = clock.now() + ms;
      clock.setTimer(ms, () => {
        lateness.push(clock.now() - deadline);
        if (lateness.length === 7) resolve();
      });
    }
  });
  assert.equal(clock.pending, 7);
  await fired;
  // Node's timers count whole milliseconds: up to 0.05 ms early is taken as on time
  for (const l of lateness) assert.ok(l >= -0.05, `fired ${l} ms early`);
  // generous: CI machines are busy; the bench measures the real figure
  for (const l of lateness) assert.ok(l < 50, `fired ${l} ms late`);
  assert.equal(clock.pending, 0);
});

test('a precise timer fires at the deadline itself, not at the next millisecond tick', async () => {
  const clock = new RealClock();
  const lateness: number[] = [];
  for (let i = 0; i < 5; i++) {
    const deadline = clock.now() + 20.4;
    await new Promise<void>((resolve) =>
      clock.setTimer(
        20.4,
        () => {
          lateness.push(clock.now() - deadline);
          resolve();
        },
        true,
      ),
    );
  }
  for (const l of lateness) assert.ok(l >= 0, `fired ${l} ms early`);
  lateness.sort((a, b) => a - b);
  assert.ok(lateness[2]! < 1, `median lateness ${lateness[2]} ms`);
});

test('timers fire in deadline order, equal deadlines in the order they were set', async () => {
  const clock = new RealClock();
  const order: string[] = [];
  const done = new Promise<void>((resolve) => clock.setTimer(40, resolve));
  clock.setTimer(30, () => order.push('c'));
  clock.setTimer(10, () => order.push('a1'));
  clock.setTimer(10, () => order.push('a2'));
  clock.setTimer(20, () => order.push('b'));
  await done;
  // the two 10 ms timers were set microseconds apart: same millisecond, in order
  assert.deepEqual(order, ['a1', 'a2', 'b', 'c']);
});

test('a cleared timer never fires; clearing twice, or after it fired, changes nothing', async () => {
  const clock = new RealClock();
  let fired = 0;
  const a = clock.setTimer(5, () => fired++);
  const b = clock.setTimer(5, () => fired++);
  clock.clearTimer(a);
  clock.clearTimer(a);
  assert.equal(clock.pending, 1);
  await sleep(30);
  assert.equal(fired, 1);
  clock.clearTimer(b);
  assert.equal(clock.pending, 0);
});

test('a timer may clear another one due in the same tick, and set new ones; 2,000 timers all fire', async () => {
  const clock = new RealClock();
  const seen = new Set<number>();
  let victim: ReturnType<RealClock['setTimer']> | undefined;
  const again = new Promise<void>((resolve) => {
    clock.setTimer(5, () => {
      if (victim) clock.clearTimer(victim);
      // set from inside a firing: waits for the next tick even though it is due now
      clock.setTimer(0, resolve);
    });
  });
  victim = clock.setTimer(5, () => assert.fail('a cleared timer fired'));
  await again;
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 2000; i++) {
      clock.setTimer(i % 50, () => {
        seen.add(i);
        if (seen.size === 2000) resolve();
      });
    }
  });
  assert.equal(clock.pending, 0);
});

test('a NaN or negative delay is taken as 0', async () => {
  const clock = new RealClock();
  const order: string[] = [];
  const done = new Promise<void>((resolve) => clock.setTimer(5, resolve));
  clock.setTimer(1, () => order.push('one'));
  clock.setTimer(Number.NaN, () => order.push('nan'));
  clock.setTimer(-3, () => order.push('negative'));
  await done;
  assert.deepEqual(order, ['nan', 'negative', 'one']);
});

/**
 * A base timer that wakes as late as the kernel lets a normal process's
 * epoll_wait run: a share of the timeout asked (0.1 %, 0.5 % at a positive
 * nice), then the next whole millisecond. Time moves a microsecond per look,
 * so a wait on the clock ends.
 */
class SlackBase implements CheckClock {
  t = 1000;
  arms: number[] = [];
  private timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  constructor(private readonly slack: number) {}
  now(): number {
    this.t += 0.001;
    return this.t;
  }
  epochNow(): number {
    return this.t;
  }
  random(): number {
    return 0.5;
  }
  setTimer(ms: number, fn: () => void): CheckTimer {
    const id = ++this.seq;
    this.arms.push(ms);
    this.timers.set(id, { at: this.t + Math.ceil(ms) + ms * this.slack, fn });
    return id as unknown as CheckTimer;
  }
  clearTimer(timer: CheckTimer): void {
    this.timers.delete(timer as unknown as number);
  }
  /** runs the base timers until none is left */
  run(): void {
    for (let i = 0; i < 100 && this.timers.size > 0; i++) {
      const [id, next] = [...this.timers].sort((a, b) => a[1].at - b[1].at)[0]!;
      this.timers.delete(id);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
  }
}

test('a long timer is not made late by the kernel\'s slack: it wakes early by that much, then waits the rest on a short timer', () => {
  for (const slack of [0.001, 0.005]) {
    const base = new SlackBase(slack);
    const clock = new RealClock(base);
    // a v2 backup's Master_Down_Interval, precise; a v2 master's advert, not
    const down = clock.now() + 3609.375;
    const advert = clock.now() + 1000;
    const fired: Record<string, number> = {};
    clock.setTimer(3609.375, () => (fired.down = clock.now()), true);
    clock.setTimer(1000, () => (fired.advert = clock.now()));
    base.run();
    assert.equal(clock.pending, 0);
    // without the early stage the slack alone would make them 3.6 / 1 ms late (18 / 5 ms at nice > 0)
    assert.ok(fired.down! >= down && fired.down! - down < 0.1, `slack ${slack}: the precise timer fired ${fired.down! - down} ms after its deadline`);
    assert.ok(fired.advert! >= advert - 0.05 && fired.advert! - advert < 1.1, `slack ${slack}: the advert fired ${fired.advert! - advert} ms after its deadline`);
    // each armed the base timer twice: the early stage and the short rest
    assert.ok(base.arms.length <= 5, `base timer armed ${base.arms.length} times: ${base.arms.join(', ')}`);
  }
});

test('a short timer has no early stage: one base timer, at the deadline', () => {
  const base = new SlackBase(0.001);
  const clock = new RealClock(base);
  const deadline = clock.now() + 100;
  let at = 0;
  clock.setTimer(100, () => (at = clock.now()));
  base.run();
  assert.deepEqual(base.arms.length, 1);
  assert.ok(at >= deadline - 0.05 && at - deadline < 1.2, `fired ${at - deadline} ms after its deadline`);
});
