import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { PerformanceObserver } from 'node:perf_hooks';
import type { CheckClock, CheckTimer } from '../../core/check/clock';
import { NODE_TIMER_BASE, RealClock, TimerfdBase, commitPoint } from '../../core/vrrp/clock';
import { nativeAddon, packetSocketAvailable } from '../../core/vrrp/packet-socket';

/**
 * The clock the VRRP process runs on: every timer in one heap under one
 * base timer, a timerfd (the project's addon) or Node's. Timers fire at
 * their deadline (never early), in deadline order; precise ones start
 * ahead and wait for the deadline itself at their first side effect;
 * cleared ones never fire. The behaviour tests run on both
 * bases.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
v8.setFlagsFromString('--expose-gc');
/** a full collection, as node --expose-gc's gc() */
const collectGarbage = vm.runInNewContext('gc') as () => void;
const CLOCK_JS = path.resolve(__dirname, '..', '..', 'core', 'vrrp', 'clock.js');

for (const [label, makeClock] of [
  ['timerfd', () => new RealClock()],
  ['Node timers', () => new RealClock(NODE_TIMER_BASE)],
] as const) {
  test(`${label}: a timer fires at its deadline, never before it, and leaves nothing pending`, async () => {
    const clock = makeClock();
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

  test(`${label}: a precise timer's callback starts ahead of its deadline, but reads no earlier time, and its first side effect (the commit point) and whatever it queued wait for the deadline itself`, async () => {
    const clock = makeClock();
    const runs: Array<{ entered: number; read: number; committed: number; queued: number }> = [];
    for (let i = 0; i < 5; i++) {
      const deadline = clock.now() + 20.4;
      await new Promise<void>((resolve) =>
        clock.setTimer(
          20.4,
          () => {
            const entered = performance.now() - deadline;
            // clock.now() waits for the deadline; the commit point after it has nothing left to wait
            const read = clock.now() - deadline;
            commitPoint();
            const committed = performance.now() - deadline;
            queueMicrotask(() => {
              runs.push({ entered, read, committed, queued: performance.now() - deadline });
              resolve();
            });
          },
          true,
        ),
      );
    }
    for (const r of runs) {
      assert.ok(r.read >= 0 && r.committed >= 0 && r.queued >= 0, `early: ${JSON.stringify(r)}`);
    }
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[2]!;
    // it starts up to 2 ms ahead: a median at or after the deadline would take a stall of 2 ms each time
    assert.ok(median(runs.map((r) => r.entered)) < 0, `the callback did not start ahead: ${JSON.stringify(runs)}`);
    assert.ok(median(runs.map((r) => r.committed)) < 1, `median lateness ${median(runs.map((r) => r.committed))} ms`);
  });

  test(`${label}: a precise callback with no side effect still waits for its deadline before what it queued runs; the commit point outside one returns at once`, async () => {
    const clock = makeClock();
    const deadline = clock.now() + 15;
    let entered = NaN;
    const queued = await new Promise<number>((resolve) => {
      clock.setTimer(
        15,
        () => {
          entered = performance.now() - deadline;
          queueMicrotask(() => resolve(performance.now() - deadline));
        },
        true,
      );
    });
    assert.ok(queued >= 0, `what the callback queued ran ${-queued} ms early (it started at ${entered})`);
    const from = performance.now();
    commitPoint();
    assert.ok(performance.now() - from < 1);
  });

  test(`${label}: timers fire in deadline order, equal deadlines in the order they were set`, async () => {
    const clock = makeClock();
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

  test(`${label}: a cleared timer never fires; clearing twice, or after it fired, changes nothing`, async () => {
    const clock = makeClock();
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

  test(`${label}: a cleared timer lets go of its callback at once, however far off its deadline: what the callback held (a removed VRRP instance) is collected`, async () => {
    const clock = makeClock();
    const held: WeakRef<object>[] = [];
    const handles: ReturnType<RealClock['setTimer']>[] = [];
    for (let i = 0; i < 10; i++) {
      const instance = { name: `VI_${i}`, buffer: Buffer.alloc(4096) };
      held.push(new WeakRef(instance));
      // an hour off: garp_master_refresh 3600
      handles.push(clock.setTimer(3_600_000, () => void instance.name));
    }
    for (const h of handles) clock.clearTimer(h);
    assert.equal(clock.pending, 0);
    // a WeakRef holds its target until the job that made it ends
    await sleep(0);
    collectGarbage();
    assert.equal(held.filter((r) => r.deref() !== undefined).length, 0, 'cleared timers still hold their callbacks');
    // the base was armed for the first of them: a short timer makes the queue drop them and disarm it
    await new Promise<void>((resolve) => clock.setTimer(1, resolve));
  });

  test(`${label}: a timer may clear another one due in the same tick, and set new ones; 2,000 timers all fire`, async () => {
    const clock = makeClock();
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

  test(`${label}: a NaN or negative delay is taken as 0`, async () => {
    const clock = makeClock();
    const order: string[] = [];
    const done = new Promise<void>((resolve) => clock.setTimer(5, resolve));
    clock.setTimer(1, () => order.push('one'));
    clock.setTimer(Number.NaN, () => order.push('nan'));
    clock.setTimer(-3, () => order.push('negative'));
    await done;
    assert.deepEqual(order, ['nan', 'negative', 'one']);
  });
}

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

test("a long timer is not made late by the kernel's slack: it wakes early by that much, then waits the rest on a short timer", () => {
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
    assert.ok(
      fired.advert! >= advert - 0.05 && fired.advert! - advert < 1.1,
      `slack ${slack}: the advert fired ${fired.advert! - advert} ms after its deadline`,
    );
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

// --- the timerfd under the clock (native/timer.c) ----------------------------------------

interface TimerLib {
  openTimer(onExpire: () => void): object;
  armTimer(handle: object, ms: number, awakeMs?: number): void;
  waitFor(ms: number): void;
  disarmTimer(handle: object): void;
  closeTimer(handle: object): void;
}
const timerLib = (): TimerLib => nativeAddon() as TimerLib;

test('the VRRP clock runs on a timerfd where the addon is built (CI builds it)', () => {
  assert.ok(packetSocketAvailable(), 'the addon is not built: npm install builds it');
  assert.equal(new RealClock().isExact, true);
  assert.equal(new RealClock(NODE_TIMER_BASE).isExact, false);
});

test('timerfd: a sub-millisecond delay is kept to the microsecond, never early; Node timers would round it to a whole millisecond', async () => {
  const base = new TimerfdBase(timerLib());
  const waited: number[] = [];
  // 0.1: closer than the spin gap, waited out awake; the others asleep on the timerfd
  for (const ms of [0.1, 0.25, 0.5, 1.5, 2.75]) {
    const from = performance.now();
    await new Promise<void>((resolve) => base.setTimer(ms, () => (waited.push(performance.now() - from - ms), resolve())));
  }
  base.close();
  for (const w of waited) assert.ok(w >= 0, `fired ${-w} ms early`);
  // a Node timer of 0.25 ms is setTimeout(1): at least 0.75 ms late; the median here is far below
  waited.sort((a, b) => a - b);
  assert.ok(waited[2]! < 0.75, `median lateness ${waited[1]} ms`);
});

test('timerfd: awakeMs makes the base wake that early and wait the rest out awake, and still fire at the deadline, not before', async () => {
  const base = new TimerfdBase(timerLib());
  // a Node timer due 30 ms before the deadline: it runs first when the base sleeps to the
  // deadline, after it when the base is awake (spinning) for the last 60 ms (it would take a
  // stall of the whole process over 30 ms, from the early wake-up on, to turn that round)
  const order = async (awakeMs: number): Promise<{ order: string[]; late: number }> => {
    const seen: string[] = [];
    let late = NaN;
    const from = performance.now();
    await new Promise<void>((resolve) => {
      base.setTimer(
        80,
        () => {
          late = performance.now() - from - 80;
          seen.push('timer');
          if (seen.length === 2) resolve();
        },
        awakeMs,
      );
      setTimeout(() => {
        seen.push('probe');
        if (seen.length === 2) resolve();
      }, 50);
    });
    return { order: seen, late };
  };
  const asleep = await order(0);
  const awake = await order(60);
  base.close();
  assert.deepEqual(asleep.order, ['probe', 'timer']);
  assert.deepEqual(awake.order, ['timer', 'probe']);
  assert.ok(awake.late >= 0, `fired ${-awake.late} ms early`);
});

test('timerfd: the time waited out awake is waited in the addon, which allocates nothing: no garbage collection runs in it (a wait in JavaScript makes a heap number per clock reading)', async () => {
  const base = new TimerfdBase(timerLib());
  const gcs: Array<{ start: number; end: number }> = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
  });
  obs.observe({ entryTypes: ['gc'] });
  // 250 ms awake: read in JavaScript that is some 60 MB of heap numbers, several scavenges
  let woke = NaN;
  let fired = NaN;
  const from = performance.now();
  await new Promise<void>((resolve) => {
    base.setTimer(
      300,
      () => {
        fired = performance.now();
        resolve();
      },
      250,
    );
    // the base wakes 250 ms early: this Node timer, due 40 ms later, runs only after the callback
    setTimeout(() => (woke = performance.now()), 90);
  });
  await sleep(20);
  obs.disconnect();
  base.close();
  assert.ok(fired - from >= 300, `fired ${300 - (fired - from)} ms early`);
  assert.ok(woke > fired, 'the Node timer ran before the callback: the base was not awake');
  const inWait = gcs.filter((g) => g.end > from + 60 && g.start < fired);
  assert.equal(inWait.length, 0, `${inWait.length} garbage collections ran while the base waited awake, the first at ${(inWait[0]?.start ?? 0) - from} ms`);
});

test('timerfd: disarming after the expiry, before the callback ran, still means no callback', async () => {
  const base = new TimerfdBase(timerLib());
  let fired = 0;
  const t = base.setTimer(0.1, () => fired++);
  // the expiry happens while this turn holds the loop: the descriptor is readable when we clear
  const until = performance.now() + 2;
  while (performance.now() < until) {
    // wait past the expiry without giving the loop a turn
  }
  base.clearTimer(t);
  await sleep(20);
  assert.equal(fired, 0);
  // and the base is free for the next timer, which fires once
  await new Promise<void>((resolve) => base.setTimer(1, resolve));
  base.setTimer(50, () => fired++);
  base.close();
  await sleep(80);
  assert.equal(fired, 0, 'a timer of a closed base fired');
});

test('timerfd: one timer at a time; re-arming after a clear replaces the deadline', async () => {
  const base = new TimerfdBase(timerLib());
  const t = base.setTimer(1000, () => assert.fail('the cleared timer fired'));
  assert.throws(() => base.setTimer(1, () => undefined), /one timer at a time/);
  base.clearTimer(t);
  base.clearTimer(t);
  const from = performance.now();
  await new Promise<void>((resolve) => base.setTimer(3, resolve));
  const took = performance.now() - from;
  base.close();
  assert.ok(took >= 3 && took < 900, `the second timer fired after ${took} ms`);
});

test('timerfd: bad arguments are errors that name the call and the argument', () => {
  const lib = timerLib();
  assert.throws(() => lib.openTimer(42 as unknown as () => void), { name: 'TypeError', message: /openTimer\(onExpire\): onExpire must be a function/ });
  const h = lib.openTimer(() => undefined);
  assert.throws(() => lib.armTimer(h, Number.NaN), { name: 'RangeError', message: /armTimer\(handle, ms\[, awakeMs\]\): ms must be a number of milliseconds/ });
  assert.throws(() => lib.armTimer(h, 5, Number.NaN), { name: 'RangeError', message: /awakeMs must be a number of milliseconds/ });
  assert.throws(() => lib.armTimer(h, 5, '1' as unknown as number), { name: 'TypeError', message: /awakeMs must be a number/ });
  assert.throws(() => lib.armTimer(h, 4e10), { name: 'RangeError' });
  assert.throws(() => lib.armTimer(h, '5' as unknown as number), { name: 'TypeError', message: /ms must be a number/ });
  assert.throws(() => lib.waitFor(Number.NaN), { name: 'RangeError', message: /waitFor\(ms\): ms must be a number of milliseconds up to 1000/ });
  assert.throws(() => lib.waitFor(1001), { name: 'RangeError' });
  assert.throws(() => lib.waitFor('1' as unknown as number), { name: 'TypeError', message: /waitFor\(ms\): ms must be a number/ });
  lib.waitFor(-1);
  const from = performance.now();
  lib.waitFor(1.5);
  assert.ok(performance.now() - from >= 1.5, 'waitFor(1.5) returned early');
  assert.throws(() => lib.armTimer({}, 5), { name: 'TypeError', message: /armTimer\(handle\): the argument must be a handle returned by openTimer/ });
  assert.throws(() => lib.disarmTimer(undefined as unknown as object), { name: 'TypeError', message: /disarmTimer\(handle\)/ });
  lib.closeTimer(h);
  lib.closeTimer(h);
  lib.disarmTimer(h);
  assert.throws(
    () => lib.armTimer(h, 5),
    (err: Error & { code?: string; errno?: number; syscall?: string }) => {
      assert.match(err.message, /armTimer: timerfd_settime: Bad file descriptor \(EBADF\)/);
      assert.equal(err.code, 'EBADF');
      assert.equal(err.syscall, 'timerfd_settime');
      assert.ok(typeof err.errno === 'number' && err.errno < 0);
      return true;
    },
  );
});

test('timerfd: an armed timer keeps the process alive until it fires (a long one, which wakes early and waits the rest awake, not early either), a disarmed one does not; a throw in it is uncaught', () => {
  const run = (code: string): { status: number | null; stdout: string; stderr: string; ms: number } => {
    const from = Date.now();
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 10_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - from };
  };
  const armed = run(`const { TimerfdBase, defaultClockBase } = require(${JSON.stringify(CLOCK_JS)});
    const b = defaultClockBase(); if (!(b instanceof TimerfdBase)) throw new Error('no timerfd');
    const from = performance.now(); b.setTimer(300, () => console.log('fired after ' + Math.round(performance.now() - from)));`);
  assert.equal(armed.status, 0, armed.stderr);
  const after = /^fired after (\d+)\n$/.exec(armed.stdout);
  assert.ok(after && Number(after[1]) >= 300, `stdout: ${armed.stdout}`);
  const disarmed = run(`const { defaultClockBase } = require(${JSON.stringify(CLOCK_JS)});
    const b = defaultClockBase(); const t = b.setTimer(5000, () => console.log('fired')); b.clearTimer(t);`);
  assert.equal(disarmed.status, 0, disarmed.stderr);
  assert.equal(disarmed.stdout, '');
  assert.ok(disarmed.ms < 4000, `the process waited ${disarmed.ms} ms for a disarmed timer`);
  const thrower = run(`const { defaultClockBase } = require(${JSON.stringify(CLOCK_JS)});
    process.on('uncaughtException', (e) => { console.log('uncaught: ' + e.message); });
    defaultClockBase().setTimer(1, () => { throw new Error('from the timer'); });`);
  assert.equal(thrower.status, 0, thrower.stderr);
  assert.equal(thrower.stdout, 'uncaught: from the timer\n');
});

test('on an exact base a precise timer comes up 2 ms ahead and asks the base for its lead when the base is set for it, however long it waited behind other timers', () => {
  // an exact base, as TimerfdBase is; it records what it is asked: [ms, awakeMs]
  const arms: Array<[number, number]> = [];
  let t = 1000;
  let pending: (() => void) | undefined;
  const waits: number[] = [];
  const base = {
    exact: true,
    waitUntil: (deadline: number) => {
      waits.push(deadline);
      t = Math.max(t, deadline);
    },
    now: () => t,
    epochNow: () => t,
    random: () => 0.5,
    setTimer: (ms: number, fn: () => void, awakeMs = 0) => {
      arms.push([ms, awakeMs]);
      pending = fn;
      return {} as CheckTimer;
    },
    clearTimer: () => {
      pending = undefined;
      return undefined;
    },
  };
  const clock = new RealClock(base);
  const run = (advance: number): void => {
    t += advance;
    const fn = pending!;
    pending = undefined;
    fn();
  };
  const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;
  const fired: string[] = [];
  // a v3 backup's Skew_Time after a priority-0 advert: it comes up 2 ms ahead, the base awake
  // 2 ms before that. Its callback starts there and reads the deadline from the clock
  const skewAt = t + 60.9;
  const seen: number[] = [];
  clock.setTimer(
    60.9,
    () => {
      seen.push(t);
      fired.push('skew');
      seen.push(clock.now());
    },
    true,
  );
  assert.ok(near(arms[0]![0], 58.9) && arms[0]![1] === 2, `armed ${arms[0]}`);
  run(58.9);
  assert.ok(near(seen[0]!, skewAt - 2) && near(seen[1]!, skewAt), `callback at ${seen[0]! - skewAt}, read ${seen[1]! - skewAt}`);
  assert.deepEqual(waits, [skewAt]);
  // a plain timer: at its deadline, no lead asked (the base has its own for long sleeps)
  clock.setTimer(1000, () => fired.push('plain'));
  assert.deepEqual(arms[1], [1000, 0]);
  run(1000);
  // a v3 backup's Master_Down_Interval, restarted by two adverts 100 ms apart, then another
  // instance's advert timer, due first. The base was set for the first down deadline; once
  // that cleared entry came up, the advert is next; after the advert the down timer, to come
  // up 158.9 ms ahead (too short for the base's own lead of long sleeps), still with its 2 ms
  const from = arms.length;
  let down = clock.setTimer(360.9, () => fired.push('down'), true);
  t += 100;
  clock.clearTimer(down);
  down = clock.setTimer(360.9, () => fired.push('down'), true);
  t += 100;
  clock.clearTimer(down);
  down = clock.setTimer(360.9, () => fired.push('down'), true);
  clock.setTimer(200, () => fired.push('advert'));
  run(160.9);
  run(39.1);
  run(160.9);
  const got = arms.slice(from);
  assert.equal(got.length, 3, JSON.stringify(got));
  assert.ok(near(got[0]![0], 358.9) && got[0]![1] === 2, JSON.stringify(got));
  assert.ok(near(got[1]![0], 39.1) && got[1]![1] === 0, JSON.stringify(got));
  // not for the second down deadline, which was cleared: straight to the live one
  assert.ok(near(got[2]![0], 158.9) && got[2]![1] === 2, JSON.stringify(got));
  // it came up at the deadline here (the run went past it): nothing to wait for
  assert.equal(waits.length, 1);
  assert.deepEqual(fired, ['skew', 'plain', 'advert', 'down']);
  assert.equal(clock.pending, 0);
});
