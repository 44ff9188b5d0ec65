import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, poolOf, vs } from './scheduler-harness';

/**
 * SIGHUP and SIGTERM: state kept across a reload as keepalived's
 * clear_diff_services() / migrate_checkers() keep it, and the shutdown of
 * clear_services() with and without omega.
 */

const RS2 = '10.0.0.2:80';
const RS3 = '10.0.0.3:80';

const base = (extra = '', rs3 = 'FAKE_CHECK { warmup 0 }') =>
  vs(`quorum_up /bin/qup
quorum_down /bin/qdown
${extra}
real_server 10.0.0.2 80 {
  notify_up /bin/up2
  notify_down /bin/down2
  FAKE_CHECK {
    warmup 0
    retry 3
  }
}
real_server 10.0.0.3 80 {
  notify_down /bin/down3
  ${rs3}
}`);

test('reload with the same servers: up and down states, counters and the schedule survive; nothing flaps or notifies', async () => {
  const h = await harness(base());
  await h.clock.advance(1000);
  h.world.set(RS3, 'down');
  await h.clock.advance(11_000); // RS3: fail, retry fails: down
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1']);
  const before = h.sched.status().virtualServers[0]!;
  const scripts = h.scripts.length;
  const changes = h.changes.length;
  const created = h.world.created;
  const logged = h.lines().length;
  await h.reload(base('# a comment changes nothing'));
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1']);
  assert.equal(h.scripts.length, scripts);
  assert.equal(h.changes.length, changes);
  assert.equal(h.quorum.length, 1);
  // the old checkers closed, new ones were made
  assert.equal(h.world.closed, created);
  assert.equal(h.world.created, created * 2);
  const after = h.sched.status().virtualServers[0]!;
  assert.deepEqual(
    after.realServers.map((r) => [r.alive, r.failedCheckers, r.checkers[0]!.up, r.checkers[0]!.checks, r.checkers[0]!.failures, r.checkers[0]!.nextCheckIn]),
    before.realServers.map((r) => [r.alive, r.failedCheckers, r.checkers[0]!.up, r.checkers[0]!.checks, r.checkers[0]!.failures, r.checkers[0]!.nextCheckIn]),
  );
  assert.deepEqual(h.lines().slice(logged), [], 'a reload that changes nothing says nothing');
  // the down server comes back as before, through its first success
  h.world.set(RS3, 'up');
  const t0 = h.clock.now();
  await h.clock.advance(10_000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  // the schedule went on (a restart would have checked at bootstrap, 1 s after the reload)
  assert.deepEqual(
    h.world.times(RS3).filter((t) => t > t0),
    [t0 + before.realServers[1]!.checkers[0]!.nextCheckIn!],
  );
  await h.sched.stop();
});

test('reload in the middle of retries: the retries done so far count, capped below the new retry', async () => {
  const h = await harness(base());
  await h.clock.advance(1000);
  h.world.set(RS2, 'down');
  await h.clock.advance(10_000); // fail: retry 1 of 3 next
  await h.clock.advance(1000); // retry 1 fails
  assert.equal(h.sched.status().virtualServers[0]!.realServers[0]!.checkers[0]!.retries, 2);
  await h.reload(base().replace('retry 3', 'retry 2'));
  assert.equal(h.sched.status().virtualServers[0]!.realServers[0]!.checkers[0]!.retries, 1);
  await h.clock.advance(1000);
  assert.equal(h.changes.length, 0);
  await h.clock.advance(1000);
  assert.deepEqual(
    h.changes.map((c) => [c.realServer.address, c.up]),
    [['10.0.0.2', false]],
  );
  await h.sched.stop();
});

test('reload: a real server that left the config is removed (notify_down if it was up); a new one starts up; a new alpha one starts down', async () => {
  const h = await harness(base());
  await h.clock.advance(1000);
  const next = vs(`quorum_up /bin/qup
quorum_down /bin/qdown
real_server 10.0.0.2 80 {
  notify_up /bin/up2
  notify_down /bin/down2
  FAKE_CHECK {
    warmup 0
    retry 3
  }
}
real_server 10.0.0.4 80 {
  FAKE_CHECK { warmup 0 }
}
real_server 10.0.0.5 80 {
  alpha
  notify_up /bin/up5
  FAKE_CHECK { warmup 0 }
}`);
  await h.reload(next);
  const lines = h.lines();
  assert.ok(lines.includes('service [10.0.0.3]:tcp:80 no longer exist'), lines.join('\n'));
  assert.ok(lines.includes('Removing service [10.0.0.3]:tcp:80 from VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  assert.deepEqual(
    h.scripts.map((s) => s.argv[0]),
    ['/bin/qup', '/bin/down3'],
  );
  assert.deepEqual(
    h.changes.map((c) => [c.realServer.address, c.up, c.reason]),
    [['10.0.0.3', false, 'removed from the config']],
  );
  assert.deepEqual(
    h.alerts.map((a) => [a.service, a.message]),
    [['[10.0.0.3]:tcp:80', '=> Removing <=']],
  );
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.4:80 1']);
  assert.ok(lines.includes('Activating healthchecker for service [10.0.0.4]:tcp:80 for VS [10.0.0.1]:tcp:80'));
  // new checkers start after the bootstrap delay
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.4:80 1', '10.0.0.5:80 1']);
  assert.deepEqual(
    h.scripts.map((s) => s.argv[0]),
    ['/bin/qup', '/bin/down3', '/bin/up5'],
  );
  // a new checker of a reload needs its full retries before it goes down (keepalived sets retry_it only at start)
  h.world.set('10.0.0.4:80', 'down');
  await h.clock.advance(10_000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.4:80 1', '10.0.0.5:80 1']);
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.5:80 1']);
  await h.sched.stop();
});

test('reload: a virtual server that left the config is removed with its servers and its quorum', async () => {
  const h = await harness(base());
  await h.clock.advance(1000);
  await h.reload(vs('real_server 10.0.0.7 80 {\n}').replace('10.0.0.1 80', '10.0.0.100 80'));
  const lines = h.lines();
  assert.ok(lines.includes('Removing Virtual Server [10.0.0.1]:tcp:80'), lines.join('\n'));
  assert.deepEqual(
    h.scripts.map((s) => s.argv[0]),
    ['/bin/qup', '/bin/down2', '/bin/down3', '/bin/qdown'],
  );
  assert.deepEqual(
    h.quorum.map((q) => [q.virtualServer, q.up]),
    [
      ['[10.0.0.1]:tcp:80', true],
      ['[10.0.0.1]:tcp:80', false],
      ['[10.0.0.100]:tcp:80', true],
    ],
  );
  const removed = h.pools.find((p) => p.virtualServer === '[10.0.0.1]:tcp:80' && p.removed);
  assert.ok(removed);
  assert.deepEqual(removed.destinations, []);
  // the new virtual server's real server has no checker: it is up
  assert.deepEqual(poolOf(h), ['10.0.0.7:80 1']);
  // the old checkers closed and are not checked again
  const n = h.world.checks.length;
  await h.clock.advance(30_000);
  assert.equal(h.world.checks.length, n);
  await h.sched.stop();
});

test('reload: a checker whose target changed is a new checker; a real server whose checkers are all new and not alpha is up', async () => {
  const h = await harness(base());
  h.world.set(RS3, 'down');
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1']);
  await h.reload(base('', 'FAKE_CHECK { warmup 0\n connect_port 8080 }'));
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  assert.deepEqual(
    h.changes.map((c) => [c.realServer.address, c.up]),
    [
      ['10.0.0.3', false],
      ['10.0.0.3', true],
    ],
  );
  await h.sched.stop();
});

test('reload: a new configured weight applies to a kept server, with the weight change logged', async () => {
  const h = await harness(base());
  await h.clock.advance(1000);
  await h.reload(base().replace('notify_down /bin/down3', 'notify_down /bin/down3\n  weight 3'));
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 3']);
  assert.ok(h.lines().includes('Changing weight from 1 to 3 for active service [10.0.0.3]:tcp:80 of VS [10.0.0.1]:tcp:80'));
  await h.sched.stop();
});

test('reload while a check runs: the check is aborted and dropped; the kept checker runs again at once', async () => {
  const h = await harness(base());
  let reason: unknown;
  h.world.set(
    RS3,
    (signal) =>
      new Promise((resolve) => signal.addEventListener('abort', () => ((reason = signal.reason), resolve({ ok: false, message: 'aborted' })), { once: true })),
  );
  await h.clock.advance(1000);
  const results = h.results.length;
  h.world.set(RS3, 'up');
  await h.reload(base());
  assert.equal((reason as DOMException).name, 'AbortError');
  assert.equal((reason as DOMException).message, 'alived is reloading');
  assert.equal(h.results.filter((r) => r.message === 'aborted').length, 0);
  await h.clock.advance(1);
  assert.equal(h.results.length, results + 1);
  assert.deepEqual(h.world.times(RS3), [1000, 1001]);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  await h.sched.stop();
});

test('stop with omega: notify_down of every alive server and quorum_down run, with 1 s each', async () => {
  const h = await harness(base('omega'));
  await h.clock.advance(1000);
  await h.sched.stop();
  const lines = h.lines();
  assert.ok(lines.includes('Shutting down service [10.0.0.2]:tcp:80 from VS [10.0.0.1]:tcp:80 (pool not programmed)'), lines.join('\n'));
  assert.deepEqual(
    h.scripts.map((s) => [s.argv[0], s.timeoutMs]),
    [
      ['/bin/qup', undefined],
      ['/bin/down2', 1000],
      ['/bin/down3', 1000],
      ['/bin/qdown', 1000],
    ],
  );
  assert.deepEqual(
    h.changes.map((c) => [c.realServer.address, c.up, c.reason]),
    [
      ['10.0.0.2', false, 'shutdown'],
      ['10.0.0.3', false, 'shutdown'],
    ],
  );
  assert.equal(h.pools.at(-1)!.removed, true);
  assert.equal(h.world.closed, 2);
  assert.equal(h.clock.pending, 0);
});

test('stop without omega: the services shut down silently (no script, no hook)', async () => {
  const h = await harness(base());
  await h.clock.advance(1000);
  await h.sched.stop();
  assert.deepEqual(
    h.scripts.map((s) => s.argv[0]),
    ['/bin/qup'],
  );
  assert.equal(h.changes.length, 0);
  assert.equal(h.quorum.length, 1);
  assert.ok(h.lines().includes('Shutting down service [10.0.0.3]:tcp:80 from VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  assert.equal(h.clock.pending, 0);
});

test('stop while a check hangs: it is aborted, nothing is left scheduled', async () => {
  const h = await harness(base());
  h.world.set(RS2, 'never');
  await h.clock.advance(1000);
  assert.equal(h.sched.stats().running, 1);
  await h.sched.stop();
  assert.equal(h.sched.stats().running, 0);
  assert.equal(h.clock.pending, 0);
});
