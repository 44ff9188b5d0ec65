import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, poolOf, vs } from './scheduler-harness';

/**
 * Checkers that break their contract: each bad check counts as a failed
 * check (with retries, as any failure), is logged once with the plugin's
 * name and code ALIVED_CHECKER_FAILED, and the scheduler goes on with its
 * other checkers and its next checks.
 */

const RS2 = '10.0.0.2:80';
const RS3 = '10.0.0.3:80';

const two = vs(
  `real_server 10.0.0.2 80 {\n FAKE_CHECK { warmup 0\n retry 0\n connect_timeout 2 }\n}\nreal_server 10.0.0.3 80 {\n FAKE_CHECK { warmup 0\n retry 0 }\n}`,
);

function contractErrors(h: Awaited<ReturnType<typeof harness>>): Array<{ msg: string; plugin: unknown; level: string }> {
  return h.records.filter((r) => r.fields.code === 'ALIVED_CHECKER_FAILED').map((r) => ({ msg: r.msg, plugin: r.fields.plugin, level: r.level }));
}

const cases: Array<[string, Parameters<Awaited<ReturnType<typeof harness>>['world']['set']>[1], RegExp]> = [
  ['check() throws synchronously', 'throw', /: check\(\) threw: checker bug; the check counts as failed$/],
  ['check() rejects', 'reject', /: check\(\) rejected: socket exploded; the check counts as failed$/],
  ['check() resolves to garbage', 'garbage', /: check\(\) gave an invalid result: result\.ok is string, not a boolean; the check counts as failed$/],
  [
    'check() returns something that is not a promise',
    'not-promise',
    /: check\(\) returned an object that is not a promise, not a promise; the check counts as failed$/,
  ],
  ['check() blocks the event loop for 3 s', 'block', /: check\(\) blocked the event loop for 3 s; the check counts as failed$/],
];

for (const [name, behaviour, line] of cases) {
  test(`isolation: ${name}: failed, logged with the plugin's name, and the other checkers go on`, async () => {
    const h = await harness(two);
    h.world.set(RS2, behaviour);
    await h.clock.advance(1000);
    assert.deepEqual(poolOf(h), ['10.0.0.3:80 1']);
    const errs = contractErrors(h);
    assert.equal(errs.length, 1, JSON.stringify(errs));
    assert.equal(errs[0]!.plugin, 'fake-checks');
    assert.equal(errs[0]!.level, 'error');
    assert.match(errs[0]!.msg, /^Checker FAKE_CHECK on service \[10\.0\.0\.2\]:tcp:80 of VS \[10\.0\.0\.1\]:tcp:80 of plugin 'fake-checks'/);
    assert.match(errs[0]!.msg, line);
    const r = h.results.find((e) => e.realServer.address === '10.0.0.2')!;
    assert.equal(r.ok, false);
    // the next checks still happen (a blocking one 3 s later each time), and the same failure again is counted, not logged as an error again
    await h.clock.advance(26_000);
    assert.equal(h.world.times(RS2).length, 3, `checked at ${h.world.times(RS2).join(', ')}`);
    assert.equal(h.world.times(RS3).length, 3);
    assert.equal(contractErrors(h).filter((e) => e.level === 'error').length, 1);
    const st = h.sched.status().virtualServers[0]!.realServers[0]!.checkers[0]!;
    assert.equal(st.contractFailures, 3);
    assert.equal(h.sched.stats().contractFailures, 3);
    // a checker that behaves again brings its server back
    h.world.set(RS2, 'up');
    await h.clock.advance(13_000);
    assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
    await h.sched.stop();
    assert.equal(h.clock.pending, 0);
  });
}

test('isolation: a check that hangs is aborted at connect_timeout with a TimeoutError and fails with its own message', async () => {
  const h = await harness(two);
  let reason: unknown;
  h.world.set(
    RS2,
    (signal) =>
      new Promise((resolve) =>
        signal.addEventListener('abort', () => ((reason = signal.reason), resolve({ ok: false, message: 'timed out connecting' })), { once: true }),
      ),
  );
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  await h.clock.advance(2000);
  assert.equal((reason as DOMException).name, 'TimeoutError');
  assert.equal((reason as DOMException).message, 'FAKE_CHECK timed out after 2 s');
  assert.deepEqual(poolOf(h), ['10.0.0.3:80 1']);
  assert.deepEqual(contractErrors(h), []);
  const r = h.results.find((e) => e.realServer.address === '10.0.0.2')!;
  assert.deepEqual([r.ok, r.message, r.durationMs], [false, 'timed out connecting', 2000]);
  // the next check is a delay_loop after this one ended
  await h.clock.advance(10_000);
  assert.deepEqual(h.world.times(RS2), [1000, 13_000]);
  await h.sched.stop();
});

test('isolation: a check that never settles, even aborted, is given up on after the grace period and fails; the next check goes on', async () => {
  const h = await harness(two, { graceMs: 500 });
  h.world.set(RS2, 'never');
  await h.clock.advance(1000 + 2000 + 499);
  assert.equal(h.sched.stats().running, 1);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  await h.clock.advance(1);
  assert.equal(h.sched.stats().running, 0);
  assert.deepEqual(poolOf(h), ['10.0.0.3:80 1']);
  const errs = contractErrors(h);
  assert.equal(errs.length, 1);
  assert.match(errs[0]!.msg, /check\(\) did not settle within 500 ms of its signal aborting at 2 s; the check counts as failed$/);
  assert.equal(h.sched.stats().abandoned, 1);
  await h.clock.advance(10_000);
  assert.deepEqual(h.world.times(RS2), [1000, 13_500]);
  await h.sched.stop();
});

test('isolation: create() that throws: the checker cannot run, every check of it fails, its server goes down, others run', async () => {
  const clockless = vs(`real_server 10.0.0.2 80 {\n FAKE_CHECK { warmup 0 }\n}\nreal_server 10.0.0.3 80 {\n FAKE_CHECK { warmup 0 }\n}`);
  const { FakeWorld } = await import('./scheduler-harness');
  // the world is made inside harness(); break the target through the prototype for this one case
  const orig = FakeWorld.prototype.plugin;
  FakeWorld.prototype.plugin = function (this: InstanceType<typeof FakeWorld>, name?: string) {
    this.broken.add(RS2);
    return orig.call(this, name);
  };
  try {
    const h = await harness(clockless);
    const errs = contractErrors(h);
    assert.equal(errs.length, 1);
    assert.equal(
      errs[0]!.msg,
      "Checker FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 of plugin 'fake-checks' cannot run: create() threw: cannot build this checker; every check of it fails",
    );
    await h.clock.advance(1000);
    assert.deepEqual(poolOf(h), ['10.0.0.3:80 1']);
    assert.equal(h.results.find((e) => e.realServer.address === '10.0.0.2')!.message, 'FAKE_CHECK: cannot run: create() threw: cannot build this checker');
    assert.equal(h.sched.status().virtualServers[0]!.realServers[0]!.checkers[0]!.error, 'create() threw: cannot build this checker');
    await h.sched.stop();
  } finally {
    FakeWorld.prototype.plugin = orig;
  }
});

test('isolation: a hook tap that throws is logged by the plugin host and changes nothing for the checks', async () => {
  const h = await harness(two);
  h.host.hooks.checkResult.tap('bad-tap', () => {
    throw new Error('tap bug');
  });
  h.host.hooks.realServerChange.tap('bad-tap', () => {
    throw new Error('tap bug');
  });
  h.world.set(RS2, 'down');
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.3:80 1']);
  assert.equal(h.changes.length, 1);
  assert.ok(h.host.tapFailures().some((f) => f.tap === 'bad-tap' && f.hook === 'checkResult' && f.count === 2));
  await h.clock.advance(10_000);
  assert.equal(h.world.times(RS3).length, 2);
  await h.sched.stop();
});

test('a stall of the event loop is reported with the plugins whose checks were in flight', async () => {
  const h = await harness(two, { graceMs: 60_000 });
  h.world.set(RS3, 'never');
  await h.clock.advance(1000);
  // nothing runs for 12 s: the check due at 11 s starts 2 s late
  h.clock.t += 12_000;
  await h.clock.advance(0);
  const stall = h.records.find((r) => r.msg.startsWith('Health checks are running'));
  assert.ok(stall, h.lines().join('\n'));
  assert.match(stall.msg, /late .*the event loop was blocked; checks in flight by plugin: 'fake-checks' \(1\)$/);
  assert.equal(h.sched.stats().lateness.max, 2000);
  await h.sched.stop();
});
