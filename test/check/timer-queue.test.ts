import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RealCheckClock } from '../../core/check/clock';
import { TimerQueue } from '../../core/check/timer-queue';
import { FakeClock } from './scheduler-harness';

interface Item {
  ticket: number;
  name: string;
}

const item = (name: string): Item => ({ ticket: 0, name });

test('items fire in time order (ties in queueing order); cancelled and re-queued items fire once, at their last time', async () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const q = new TimerQueue<Item>(clock, (i) => fired.push(`${i.name}@${clock.now()}`));
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item);
  q.push(a!, 300);
  q.push(b!, 100);
  q.push(c!, 100);
  q.push(d!, 200);
  q.cancel(d!);
  q.push(a!, 50);
  await clock.advance(1000);
  assert.deepEqual(fired, ['a@50', 'b@100', 'c@100']);
  // one clock timer at a time, none left
  assert.equal(clock.pending, 0);
  assert.equal(q.size, 0);
});

test('an item queued again for now while the queue fires waits for the next timer: a checker that fails at once cannot hold the loop', async () => {
  const clock = new FakeClock();
  let n = 0;
  const q = new TimerQueue<Item>(clock, (i) => {
    n++;
    q.push(i, clock.now());
  });
  q.push(item('x'), 10);
  await clock.advance(10);
  assert.equal(n, 1);
  assert.equal(clock.pending, 1);
  q.clear();
  assert.equal(clock.pending, 0);
});

test('on real timers: 10,000 items a few ms apart fire in order, each once', async () => {
  const clock = new RealCheckClock();
  const order: number[] = [];
  const q = new TimerQueue<Item & { at: number }>(clock, (i) => order.push(i.at));
  const t0 = clock.now();
  const ats: number[] = [];
  for (let k = 0; k < 10_000; k++) {
    const at = t0 + 5 + ((k * 7919) % 50);
    ats.push(at);
    q.push({ ticket: 0, name: String(k), at }, at);
  }
  await new Promise<void>((resolve, reject) => {
    const until = Date.now() + 5000;
    const poll = (): void => {
      if (order.length === 10_000) return resolve();
      if (Date.now() > until) return reject(new Error(`only ${order.length} fired in 5 s`));
      setTimeout(poll, 10);
    };
    poll();
  });
  assert.deepEqual(
    order,
    [...ats].sort((x, y) => x - y),
  );
});

test('the clock is set for the next live item, never for a cancelled one, and with the lead awakeFor gives that item', () => {
  // a clock that records each timer asked of it: [ms, awakeMs]
  let t = 0;
  let pending: (() => void) | undefined;
  const arms: Array<[number, number | undefined]> = [];
  const clock = {
    now: () => t,
    epochNow: () => t,
    random: () => 0.5,
    setTimer: (ms: number, fn: () => void, awakeMs?: number) => {
      arms.push([ms, awakeMs]);
      pending = fn;
      return {};
    },
    clearTimer: () => {
      pending = undefined;
    },
  };
  const run = (): void => {
    const fn = pending!;
    pending = undefined;
    fn();
  };
  const fired: string[] = [];
  const q = new TimerQueue<Item>(
    clock,
    (i) => fired.push(`${i.name}@${t}`),
    (i) => (i.name === 'b' ? 2 : 0),
  );
  const [a, b, c] = ['a', 'b', 'c'].map(item);
  q.push(a!, 100);
  q.push(c!, 150);
  q.push(b!, 200);
  q.cancel(c!);
  t = 100;
  run();
  // after a: straight to b (100 ms on), not to the cancelled c's 150
  assert.deepEqual(arms, [
    [100, 0],
    [100, 2],
  ]);
  t = 200;
  run();
  assert.deepEqual(fired, ['a@100', 'b@200']);
  assert.equal(q.size, 0);
  // only cancelled entries left: no timer at all
  q.push(c!, 300);
  q.push(a!, 400);
  q.cancel(a!);
  t = 300;
  run();
  assert.equal(arms.length, 3);
  assert.equal(pending, undefined);
  assert.equal(q.size, 0);
});

test('entries left behind by cancels and re-queues are swept out once they are more than 64 and outnumber the live ones, whatever their times', async () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const q = new TimerQueue<Item>(clock, (i) => fired.push(i.name));
  // ten live items, and 10,000 far-off timers set and cancelled (a removed VRRP instance's garp_master_refresh)
  const live = Array.from({ length: 10 }, (_, k) => item(`live${k}`));
  live.forEach((x, k) => q.push(x, 1000 + k));
  for (let k = 0; k < 10_000; k++) {
    const gone = item(`gone${k}`);
    q.push(gone, 3_600_000);
    q.cancel(gone);
    assert.ok(q.size <= 10 + 65 + 1, `after ${k + 1} cancels the queue holds ${q.size} entries for 10 live items`);
  }
  // an item queued again and again (a backup's down timer at each advert) leaves its old entries behind too
  const again = item('again');
  for (let k = 0; k < 10_000; k++) q.push(again, 2000 + k);
  assert.ok(q.size <= 11 + 65 + 1, `the queue holds ${q.size} entries for 11 live items`);
  await clock.advance(20_000);
  assert.deepEqual(fired, [...live.map((x) => x.name), 'again']);
  assert.equal(q.size, 0);
  assert.equal(clock.pending, 0);
});

test('a sweep keeps the order: items fire in time order, each once, after thousands of cancels in between', async () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  const q = new TimerQueue<Item & { at: number }>(clock, (i) => fired.push(i.at));
  const keep: number[] = [];
  for (let k = 0; k < 3000; k++) {
    const at = 10 + ((k * 7919) % 5000);
    const x = { ticket: 0, name: String(k), at };
    q.push(x, at);
    // two of three are cancelled
    if (k % 3 !== 0) q.cancel(x);
    else keep.push(at);
  }
  // entries left behind are at most as many as live ones (or 64)
  assert.ok(q.size <= 2 * keep.length + 1, `${q.size} entries for ${keep.length} live items`);
  await clock.advance(6000);
  assert.deepEqual(
    fired,
    keep.sort((a, b) => a - b),
  );
});

test('an item queued while the queue fires, for a time already past, then cancelled in the same firing, never fires', () => {
  // the VRRP clock queues a precise timer 2 ms before its deadline: one set 1 ms ahead is due before
  // other items of the same firing, waits for the next timer, and may be cleared meanwhile
  let t = 0;
  let pending: (() => void) | undefined;
  const clock = {
    now: () => t,
    epochNow: () => t,
    random: () => 0.5,
    setTimer: (_ms: number, fn: () => void) => {
      pending = fn;
      return {};
    },
    clearTimer: () => {
      pending = undefined;
    },
  };
  const run = (): void => {
    const fn = pending!;
    pending = undefined;
    fn();
  };
  const fired: string[] = [];
  const late = item('late');
  const q = new TimerQueue<Item>(clock, (i) => {
    fired.push(i.name);
    if (i.name === 'first') q.push(late, t - 10);
    if (i.name === 'second') q.cancel(late);
  });
  q.push(item('first'), 10);
  q.push(item('second'), 15);
  // the timer comes up late, at 20: first, then (late waits for the next timer) second, which cancels late
  t = 20;
  run();
  assert.deepEqual(fired, ['first', 'second']);
  while (pending) run();
  assert.deepEqual(fired, ['first', 'second']);
  assert.equal(q.size, 0);
});

test('maxPerFire: items due together fire a few per timer, in order, with the event loop running between', async () => {
  const clock = new RealCheckClock();
  const fired: string[] = [];
  const q = new TimerQueue<Item>(clock, (i) => fired.push(i.name), undefined, 10);
  const now = clock.now();
  for (let i = 0; i < 100; i++) q.push(item(String(i).padStart(3, '0')), now);
  const seenByOthers: number[] = [];
  const watch = (): void => {
    seenByOthers.push(fired.length);
    if (fired.length < 100) setImmediate(watch);
  };
  setImmediate(watch);
  const end = Date.now() + 5000;
  while (fired.length < 100 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(fired, [...fired].sort(), 'in queueing order');
  assert.equal(fired.length, 100);
  assert.ok(
    seenByOthers.some((n) => n > 0 && n < 100),
    `other callbacks ran while they fired: ${seenByOthers.join(',')}`,
  );
  assert.ok(
    seenByOthers.every((n) => n % 10 === 0),
    `ten per timer: ${seenByOthers.join(',')}`,
  );
});
