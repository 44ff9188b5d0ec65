import { test } from 'node:test';
import assert from 'node:assert/strict';
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
