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
  assert.deepEqual(order, [...ats].sort((x, y) => x - y));
});
