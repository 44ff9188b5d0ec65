import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotifyPipeline, backoffMs, DELIVERY_DEFAULTS, permanentFailure, type SinkSpec } from '../../core/notify/pipeline';
import type { DeliveryInfo, NotifyEvent } from '../../core/plugin/events';
import type { DeliveryOptions, Notifier } from '../../core/plugin/types';
import { createHooks } from '../../core/plugin/hooks';
import { memoryLogger } from '../helpers/log';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * The delivery pipeline with notifiers of the test's own: order per source,
 * retries with backoff, isolation from a hanging notifier, expiry at the max
 * age, the outbox across a restart, flap coalescing, permanent failures,
 * immediate (script) notifiers and reloads. Real timers, short settings.
 */

const pipelines: NotifyPipeline[] = [];
after(async () => {
  await Promise.all(pipelines.map((p) => p.stop({ drainMs: 0 })));
});

function vrrp(name: string, to: 'MASTER' | 'BACKUP' | 'FAULT', n = 0): NotifyEvent {
  return { type: 'vrrp', kind: 'instance', name, from: to === 'MASTER' ? 'BACKUP' : 'MASTER', to, priority: 100 + n, reason: `test ${n}`, time: Date.now() };
}

interface Recorder extends Notifier {
  readonly got: Array<{ event: NotifyEvent; info: DeliveryInfo }>;
  attempts: number;
}

/** fails the first `failures(event)` attempts of each event, then records it */
function recorder(failures: (e: NotifyEvent, attempt: number) => boolean = () => false): Recorder {
  const r: Recorder = {
    got: [],
    attempts: 0,
    async deliver(event, _signal, info) {
      r.attempts++;
      if (failures(event, info.attempt)) throw new Error(`refused (attempt ${info.attempt})`);
      r.got.push({ event, info });
    },
  };
  return r;
}

const FAST: DeliveryOptions = { retryInitialMs: 20, retryMaxMs: 80, attemptTimeoutMs: 2000, coalesceLimit: 0 };

function pipeline(opts: { stateDir?: string; level?: 'debug' | 'info' } = {}) {
  const { log, records } = memoryLogger('info');
  const hooks = createHooks();
  const p = new NotifyPipeline({ log, stateDir: opts.stateDir, hooks });
  pipelines.push(p);
  return { p, records, hooks };
}

function sink(id: string, notifier: Notifier, options: DeliveryOptions = FAST): SinkSpec {
  return { id, kind: id.split(':')[0]!, name: id.split(':')[1] ?? id, notifier, options };
}

const names = (r: Recorder): string[] => r.got.map((g) => `${(g.event as { name: string }).name}:${(g.event as { to: string }).to}`);

test('backoff: doubles from the first delay, half fixed and half random, never above the cap; default cap at most 30 s', () => {
  const o = { retryInitialMs: 1000, retryMaxMs: 30_000 };
  assert.equal(
    backoffMs(1, o, () => 0),
    500,
  );
  assert.equal(
    backoffMs(1, o, () => 0.999999),
    1000,
  );
  assert.equal(
    backoffMs(3, o, () => 0),
    2000,
  );
  assert.equal(
    backoffMs(3, o, () => 0.999999),
    4000,
  );
  for (let a = 1; a < 80; a++) assert.ok(backoffMs(a, o, Math.random) <= 30_000);
  assert.equal(
    backoffMs(40, o, () => 0),
    15_000,
  );
  assert.ok(DELIVERY_DEFAULTS.retryMaxMs <= 30_000);
});

test('order is kept per source through failures and retries; sources do not wait for each other', async () => {
  const { p, records } = pipeline();
  // VI_1's events fail twice each; VI_2's never
  const r = recorder((e, attempt) => (e as { name: string }).name === 'VI_1' && attempt <= 2);
  p.setSinks([sink('test:a', r)]);
  p.publish(vrrp('VI_1', 'BACKUP', 1));
  p.publish(vrrp('VI_1', 'MASTER', 2));
  p.publish(vrrp('VI_2', 'MASTER', 3));
  p.publish(vrrp('VI_1', 'FAULT', 4));
  assert.ok(await p.drained(5000));
  assert.deepEqual(
    names(r).filter((n) => n.startsWith('VI_1')),
    ['VI_1:BACKUP', 'VI_1:MASTER', 'VI_1:FAULT'],
  );
  assert.equal(names(r)[0], 'VI_2:MASTER', 'VI_2 went first: it did not wait behind VI_1 retries');
  assert.equal(r.attempts, 1 + 3 * 3);
  const seqs = r.got.map((g) => g.info.sequence);
  assert.equal(new Set(seqs).size, 4);
  const s = p.status().notifiers[0]!;
  assert.deepEqual([s.sent, s.failed, s.expired, s.pending, s.attempts], [4, 0, 0, 0, 10]);
  const retries = records.filter((x) => x.fields.code === 'ALIVED_NOTIFY_RETRY');
  assert.equal(retries.length, 6);
  assert.match(
    retries[0]!.msg,
    /notifier 'test:a': VRRP instance VI_1: MASTER -> BACKUP \(priority 101\) not delivered \(attempt 1\): refused \(attempt 1\); next attempt in 0\.\d s/,
  );
  // the same id on every attempt of one event
  assert.ok(r.got.every((g) => /^[0-9a-f-]{36}$/.test(g.info.id)));
});

test('a notifier that hangs (ignores its signal) delays no other; its attempt is abandoned at the timeout and retried', async () => {
  const { p, records } = pipeline();
  let hung = 0;
  const hanging: Notifier = {
    deliver() {
      hung++;
      return new Promise(() => undefined);
    },
  };
  const fast = recorder();
  p.setSinks([sink('test:hang', hanging, { ...FAST, attemptTimeoutMs: 200 }), sink('test:fast', fast)]);
  const t0 = Date.now();
  p.publish(vrrp('VI_1', 'MASTER'));
  await waitFor('the fast notifier', () => (fast.got.length === 1 ? true : undefined), 2000, 2);
  assert.ok(Date.now() - t0 < 100, `delivered in ${Date.now() - t0} ms`);
  p.publish(vrrp('VI_1', 'BACKUP'));
  await waitFor('the second', () => (fast.got.length === 2 ? true : undefined), 2000, 2);
  await waitFor('the hanging attempt given up', () => records.find((x) => x.fields.code === 'ALIVED_NOTIFY_RETRY' && x.fields.notifier === 'test:hang'), 3000);
  const rec = records.find((x) => x.fields.code === 'ALIVED_NOTIFY_RETRY' && x.fields.notifier === 'test:hang')!;
  assert.match(rec.msg, /no answer within 200 ms; deliver\(\) did not settle after its signal aborted/);
  await waitFor('a second attempt', () => (hung >= 2 ? true : undefined), 3000);
  const s = p.status().notifiers.find((n) => n.id === 'test:hang')!;
  assert.equal(s.sent, 0);
  assert.equal(s.pending, 2, 'both events still wait, in order');
});

test('an event not delivered within max_age expires: logged with ALIVED_NOTIFY_EXPIRED and removed from the outbox', async () => {
  const dir = tmpDir('alived-outbox-');
  const { p, records } = pipeline({ stateDir: dir });
  const dead = recorder(() => true);
  p.setSinks([sink('test:dead', dead, { ...FAST, maxAgeMs: 300 })]);
  p.publish(vrrp('VI_1', 'MASTER'));
  await waitFor('the expiry', () => records.find((x) => x.fields.code === 'ALIVED_NOTIFY_EXPIRED'), 3000);
  const rec = records.find((x) => x.fields.code === 'ALIVED_NOTIFY_EXPIRED')!;
  assert.match(
    rec.msg,
    /notifier 'test:dead': notification #\d+ given up after \d+ attempts, not delivered within 0 s \(last error: refused \(attempt \d+\)\): VRRP instance VI_1: BACKUP -> MASTER/,
  );
  assert.ok(dead.attempts >= 3, `retried ${dead.attempts} times`);
  assert.equal(p.status().notifiers[0]!.expired, 1);
  await waitFor('the file removed', () => (fs.readdirSync(path.join(dir, 'notify', 'outbox', 'test%3Adead')).length === 0 ? true : undefined), 2000);
});

test('outbox: events accepted before a stop are delivered after the next start, in order, with their ids and sequence numbers', async () => {
  const dir = tmpDir('alived-outbox-');
  const first = pipeline({ stateDir: dir });
  const dead = recorder(() => true);
  first.p.setSinks([sink('test:mail', dead)]);
  first.p.publish(vrrp('VI_1', 'BACKUP', 1));
  first.p.publish(vrrp('VI_1', 'MASTER', 2));
  first.p.publish(vrrp('VI_2', 'MASTER', 3));
  await first.p.stop({ drainMs: 100 });
  const warn = first.records.find((x) => /kept in the outbox for the next start/.test(x.msg));
  assert.ok(warn, 'the stop says what is left');
  assert.match(warn!.msg, /3 notifications not delivered yet/);
  const files = fs.readdirSync(path.join(dir, 'notify', 'outbox', 'test%3Amail'));
  assert.equal(files.length, 3);

  const second = pipeline({ stateDir: dir });
  const live = recorder();
  second.p.setSinks([sink('test:mail', live)]);
  assert.ok(await second.p.drained(3000));
  assert.deepEqual(
    names(live).filter((n) => n.startsWith('VI_1')),
    ['VI_1:BACKUP', 'VI_1:MASTER'],
  );
  assert.deepEqual(names(live).sort(), ['VI_1:BACKUP', 'VI_1:MASTER', 'VI_2:MASTER']);
  const before = new Set(files.map((f) => f.split('-').slice(1).join('-').replace('.json', '')));
  assert.deepEqual(new Set(live.got.map((g) => g.info.id)), before, 'the same idempotency keys');
  assert.ok(second.records.some((x) => /3 notifications accepted before the last stop will be delivered/.test(x.msg)));
  // new events number on from the old ones
  const oldMax = Math.max(...live.got.map((g) => g.info.sequence));
  second.p.publish(vrrp('VI_1', 'FAULT', 4));
  assert.ok(await second.p.drained(3000));
  assert.ok(live.got[3]!.info.sequence > oldMax);
  await waitFor('the outbox emptied', () => (fs.readdirSync(path.join(dir, 'notify', 'outbox', 'test%3Amail')).length === 0 ? true : undefined), 2000);
});

test('outbox: an entry whose notifier is no longer configured is given up, logged', async () => {
  const dir = tmpDir('alived-outbox-');
  const first = pipeline({ stateDir: dir });
  first.p.setSinks([
    sink(
      'test:old',
      recorder(() => true),
    ),
  ]);
  first.p.publish(vrrp('VI_1', 'MASTER'));
  await first.p.stop({ drainMs: 50 });
  const second = pipeline({ stateDir: dir });
  second.p.setSinks([sink('test:new', recorder())]);
  const rec = second.records.find((x) => x.fields.code === 'ALIVED_NOTIFY_EXPIRED');
  assert.ok(rec);
  assert.match(rec!.msg, /for 'test:old' given up: its notifier is no longer configured \(VRRP instance VI_1: BACKUP -> MASTER/);
});

test('flapping: more than coalesce_limit events of one source in the window become one summary, in order after the others', async () => {
  const { p } = pipeline();
  const r = recorder();
  p.setSinks([sink('test:flap', r, { ...FAST, coalesceLimit: 2, coalesceWindowMs: 300 })]);
  const states = ['MASTER', 'BACKUP', 'MASTER', 'BACKUP', 'MASTER', 'FAULT'] as const;
  states.forEach((s, i) => p.publish(vrrp('VI_1', s, i)));
  p.publish(vrrp('VI_2', 'MASTER'));
  assert.equal(p.status().notifiers[0]!.held, 4);
  assert.ok(await p.drained(3000));
  const got = r.got.map((g) => g.event);
  const vi1 = got.filter((e) => e.type === 'flapping' || (e as { name?: string }).name === 'VI_1');
  assert.equal(vi1.length, 3);
  assert.deepEqual(
    vi1.slice(0, 2).map((e) => (e as { to: string }).to),
    ['MASTER', 'BACKUP'],
  );
  const summary = vi1[2]!;
  assert.equal(summary.type, 'flapping');
  if (summary.type !== 'flapping') return;
  assert.equal(summary.count, 4);
  assert.equal(summary.source, 'vrrp:instance:VI_1');
  assert.deepEqual(summary.states, ['MASTER', 'BACKUP', 'MASTER', 'FAULT']);
  assert.equal((summary.last as { to: string }).to, 'FAULT');
  assert.ok(
    got.some((e) => (e as { name?: string }).name === 'VI_2'),
    'another source is not held',
  );
  assert.equal(p.status().notifiers[0]!.coalesced, 4);
});

test('a permanent failure is not retried; the next event of the source goes on', async () => {
  const { p, records } = pipeline();
  let n = 0;
  const picky: Notifier = {
    async deliver(e) {
      n++;
      if ((e as { to: string }).to === 'FAULT') throw permanentFailure('HTTP 404');
    },
  };
  p.setSinks([sink('test:picky', picky)]);
  p.publish(vrrp('VI_1', 'FAULT'));
  p.publish(vrrp('VI_1', 'MASTER'));
  assert.ok(await p.drained(2000));
  assert.equal(n, 2);
  const s = p.status().notifiers[0]!;
  assert.deepEqual([s.sent, s.failed], [1, 1]);
  assert.match(records.find((x) => x.fields.code === 'ALIVED_NOTIFY_FAILED')!.msg, /failed for good: HTTP 404/);
});

test('an immediate notifier (scripts, FIFOs) is called within publish(), in order; accepts() filters; the notify hook sees every event', async () => {
  const { p, hooks } = pipeline();
  const calls: string[] = [];
  const immediate: Notifier = {
    accepts: (e) => e.type === 'vrrp',
    async deliver(e) {
      calls.push((e as { to: string }).to);
    },
  };
  const seen: string[] = [];
  hooks.notify.tapPromise('test', async (e) => {
    seen.push(e.type);
  });
  p.setSinks([{ id: 'script:notify', kind: 'script', name: 'notify', notifier: immediate, immediate: true }]);
  p.publish(vrrp('VI_1', 'MASTER'));
  p.publish({ type: 'daemon', what: 'start', time: Date.now() });
  p.publish(vrrp('VI_1', 'BACKUP'));
  assert.deepEqual(calls, ['MASTER', 'BACKUP'], 'called synchronously');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ['vrrp', 'daemon', 'vrrp']);
  const s = p.status().notifiers[0]!;
  assert.equal(s.durable, false);
  assert.equal(s.sent, 2);
});

test('reload: a kept notifier keeps its queue and takes the new object; a removed one gives its events up, logged', async () => {
  const { p, records } = pipeline();
  const dead = recorder(() => true);
  const other = recorder(() => true);
  p.setSinks([sink('test:kept', dead), sink('test:gone', other)]);
  p.publish(vrrp('VI_1', 'MASTER'));
  await waitFor('first attempts', () => (dead.attempts > 0 && other.attempts > 0 ? true : undefined), 2000);
  const fresh = recorder();
  p.setSinks([sink('test:kept', fresh)]);
  assert.ok(await p.drained(2000));
  assert.deepEqual(names(fresh), ['VI_1:MASTER']);
  assert.match(
    records.find((x) => x.fields.code === 'ALIVED_NOTIFY_EXPIRED')!.msg,
    /notifier 'test:gone': notification #\d+ given up after \d+ attempts?, its notifier is no longer configured/,
  );
  assert.deepEqual(
    p.status().notifiers.map((n) => n.id),
    ['test:kept'],
  );
});
