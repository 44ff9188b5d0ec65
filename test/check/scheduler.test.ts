import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, poolOf, vs } from './scheduler-harness';

/**
 * The scheduler against keepalived 2.2.8's semantics, on a fake clock and
 * fake checkers: every time below is exact. Defaults in play unless a case
 * sets them: delay_loop 10 s, BOOTSTRAP_DELAY 1 s, warmup = delay_loop
 * spread by random() = 0.5 (so first checks at 1 + 5 = 6 s), retry 1,
 * delay_before_retry 1 s, connect_timeout 5 s.
 */

const RS2 = '10.0.0.2:80';
const RS3 = '10.0.0.3:80';
const RS4 = '10.0.0.4:80';

test('start: a real server without alpha is up and in the pool before any check; the first check comes after bootstrap + warmup', async () => {
  const h = await harness(vs(`real_server 10.0.0.2 80 {\n FAKE_CHECK {}\n}`));
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1']);
  assert.ok(h.lines().includes('Activating healthchecker for service [10.0.0.2]:tcp:80 for VS [10.0.0.1]:tcp:80'));
  assert.ok(h.lines().includes('Gained quorum 1+0=1 <= 1 for VS [10.0.0.1]:tcp:80'));
  await h.clock.advance(5999);
  assert.deepEqual(h.world.times(RS2), []);
  await h.clock.advance(1);
  assert.deepEqual(h.world.times(RS2), [6000]);
  // then every delay_loop after the check ended
  await h.clock.advance(20_000);
  assert.deepEqual(h.world.times(RS2), [6000, 16_000, 26_000]);
  assert.equal(h.results.length, 3);
  assert.deepEqual(h.results[0], {
    checker: 'FAKE_CHECK',
    virtualServer: '[10.0.0.1]:tcp:80',
    realServer: { address: '10.0.0.2', port: 80, protocol: 'tcp' },
    ok: true,
    message: '10.0.0.2:80 up',
    durationMs: 0,
    time: h.clock.epoch + 6000,
  });
  // the first success of a checker is logged, the next ones are not
  assert.equal(h.lines().filter((l) => l === 'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 succeeded.').length, 1);
  assert.equal(h.changes.length, 0);
  await h.sched.stop();
  assert.equal(h.clock.pending, 0);
});

test('warmup: 0 starts every checker right after the bootstrap delay; otherwise a random part of it', async () => {
  const h = await harness(vs(`real_server 10.0.0.2 80 {\n FAKE_CHECK { warmup 0 }\n}\nreal_server 10.0.0.3 80 {\n FAKE_CHECK { warmup 4 }\n}`), {
    random: 0.25,
  });
  await h.clock.advance(3000);
  assert.deepEqual(h.world.times(RS2), [1000]);
  assert.deepEqual(h.world.times(RS3), [2000]);
  await h.sched.stop();
});

test('retry and delay_before_retry: a failing up server is retried before it goes down; notify_down runs once; back up on the next success', async () => {
  const h = await harness(
    vs(`real_server 10.0.0.2 80 {
  notify_up "/bin/up.sh 10.0.0.2"
  notify_down "/bin/down.sh 10.0.0.2"
  FAKE_CHECK {
    retry 2
    delay_before_retry 3
    warmup 0
  }
}
real_server 10.0.0.3 80 {
  FAKE_CHECK { warmup 0 }
}`),
  );
  await h.clock.advance(1000); // first check, up
  h.world.set(RS2, 'down');
  await h.clock.advance(10_000); // 11 s: fails, will retry
  assert.equal(h.changes.length, 0);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  await h.clock.advance(3000); // 14 s: retry 1 fails
  assert.equal(h.changes.length, 0);
  await h.clock.advance(3000); // 17 s: retry 2 fails: down
  assert.deepEqual(h.world.times(RS2), [1000, 11_000, 14_000, 17_000]);
  assert.equal(h.changes.length, 1);
  assert.deepEqual(
    { ...h.changes[0], time: 0 },
    {
      virtualServer: '[10.0.0.1]:tcp:80',
      realServer: { address: '10.0.0.2', port: 80, protocol: 'tcp' },
      up: false,
      weight: 1,
      reason: '10.0.0.2:80 refused',
      time: 0,
    },
  );
  assert.deepEqual(
    h.scripts.map((s) => [s.argv.join(' '), s.what]),
    [['/bin/down.sh 10.0.0.2', 'notify_down for [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80']],
  );
  assert.deepEqual(poolOf(h), ['10.0.0.3:80 1']);
  const lines = h.lines();
  assert.ok(lines.includes('FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed after 2 retries.'), lines.join('\n'));
  assert.ok(lines.includes('Removing service [10.0.0.2]:tcp:80 from VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  // retries are logged only with log_all_failures
  assert.ok(!lines.some((l) => l.includes('will do 2 retries')));
  assert.ok(
    h.records.some((r) => r.level === 'debug' && r.msg === 'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed, will do 2 retries.'),
  );

  // a checker known down is not retried: the next check is a delay_loop later
  await h.clock.advance(20_000);
  assert.deepEqual(h.world.times(RS2).slice(4), [27_000, 37_000]);
  h.world.set(RS2, 'up');
  await h.clock.advance(10_000);
  assert.equal(h.changes.length, 2);
  assert.equal(h.changes[1]!.up, true);
  assert.deepEqual(
    h.scripts.map((s) => s.argv[0]),
    ['/bin/down.sh', '/bin/up.sh'],
  );
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  assert.ok(h.lines().includes('Adding service [10.0.0.2]:tcp:80 to VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  await h.sched.stop();
});

test('a success between failures starts the retries over', async () => {
  const h = await harness(vs(`real_server 10.0.0.2 80 {\n FAKE_CHECK { retry 1\n warmup 0 }\n}`));
  await h.clock.advance(1000);
  h.world.set(RS2, 'down');
  await h.clock.advance(10_000); // fail 1
  h.world.set(RS2, 'up');
  await h.clock.advance(1000); // retry succeeds
  h.world.set(RS2, 'down');
  await h.clock.advance(10_000); // fail 1 again
  assert.equal(h.changes.length, 0);
  await h.clock.advance(1000); // retry fails: down
  assert.equal(h.changes.length, 1);
  await h.sched.stop();
});

test('at start one failure is enough: a server that is down when alived starts leaves the pool at its first check', async () => {
  const h = await harness(vs(`real_server 10.0.0.2 80 {\n notify_down /bin/down.sh\n FAKE_CHECK { retry 3\n warmup 0 }\n}`));
  h.world.set(RS2, 'down');
  await h.clock.advance(1000);
  assert.equal(h.changes.length, 1);
  assert.equal(h.changes[0]!.up, false);
  assert.ok(h.lines().includes('FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed.'));
  assert.deepEqual(poolOf(h), []);
  assert.ok(h.lines().includes('Lost quorum 1-0=1 > 0 for VS [10.0.0.1]:tcp:80'));
  await h.sched.stop();
});

test('alpha: the server starts down and out of the pool; its first success adds it; a first failure says it is down (notify_down)', async () => {
  const h = await harness(
    vs(`alpha
real_server 10.0.0.2 80 {
  notify_up /bin/up.sh
  notify_down /bin/down.sh
  FAKE_CHECK { warmup 0 }
}
real_server 10.0.0.3 80 {
  notify_down /bin/down3.sh
  FAKE_CHECK { warmup 0 }
}`),
  );
  assert.deepEqual(poolOf(h), []);
  const st = h.sched.status().virtualServers[0]!;
  assert.equal(st.quorumUp, false);
  assert.deepEqual(
    st.realServers.map((r) => [r.alive, r.failedCheckers]),
    [
      [false, 1],
      [false, 1],
    ],
  );
  // no quorum_down at start without a sorry server: keepalived says nothing then
  assert.equal(h.quorum.length, 0);
  h.world.set(RS3, 'down');
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1']);
  assert.deepEqual(h.scripts.map((s) => s.argv[0]).sort(), ['/bin/down3.sh', '/bin/up.sh']);
  assert.deepEqual(h.changes.map((c) => [c.realServer.address, c.up]).sort(), [
    ['10.0.0.2', true],
    ['10.0.0.3', false],
  ]);
  assert.deepEqual(
    h.quorum.map((q) => [q.up, q.alive, q.quorum]),
    [[true, 1, 1]],
  );
  await h.sched.stop();
});

test('several checkers on one server: it is down while any is down, up only when all are up', async () => {
  const h = await harness(vs(`real_server 10.0.0.2 80 {\n FAKE_CHECK { warmup 0 }\n FAKE_CHECK { connect_port 81\n warmup 0 }\n}`));
  await h.clock.advance(1000);
  h.world.set('10.0.0.2:81', 'down');
  await h.clock.advance(11_000); // fail + retry
  assert.deepEqual(
    h.changes.map((c) => c.up),
    [false],
  );
  h.world.set(RS2, 'down');
  await h.clock.advance(11_000);
  // the second checker going down changes nothing more
  assert.deepEqual(
    h.changes.map((c) => c.up),
    [false],
  );
  assert.equal(h.sched.status().virtualServers[0]!.realServers[0]!.failedCheckers, 2);
  h.world.set('10.0.0.2:81', 'up');
  await h.clock.advance(10_000);
  assert.deepEqual(
    h.changes.map((c) => c.up),
    [false],
  );
  assert.deepEqual(poolOf(h), []);
  h.world.set(RS2, 'up');
  await h.clock.advance(10_000);
  assert.deepEqual(
    h.changes.map((c) => c.up),
    [false, true],
  );
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1']);
  // each checker's change is an alert (no no_checker_emails); the state is the server's, as keepalived's subject
  assert.deepEqual(
    h.alerts.map((a) => [a.checkerState, a.state]),
    [
      ['DOWN', 'DOWN'],
      ['DOWN', 'DOWN'],
      ['UP', 'DOWN'],
      ['UP', 'UP'],
    ],
  );
  await h.sched.stop();
});

const three = (extra: string, checker = 'FAKE_CHECK { warmup 0\n retry 0 }') =>
  vs(`${extra}
real_server 10.0.0.2 80 {\n ${checker}\n}
real_server 10.0.0.3 80 {\n ${checker}\n}
real_server 10.0.0.4 80 {\n ${checker}\n}`);

test('quorum with hysteresis: lost below quorum - hysteresis, gained at quorum + hysteresis; quorum_up / quorum_down run', async () => {
  const h = await harness(three('quorum 2\nhysteresis 1\nquorum_up "/bin/q up"\nquorum_down "/bin/q down"'));
  assert.deepEqual(
    h.quorum.map((q) => [q.up, q.alive]),
    [[true, 3]],
  );
  assert.deepEqual(
    h.scripts.map((s) => s.argv.join(' ')),
    ['/bin/q up'],
  );
  await h.clock.advance(1000);
  h.world.set(RS2, 'down');
  h.world.set(RS3, 'down');
  await h.clock.advance(10_000);
  // 1 alive >= 2 - 1: still up
  assert.equal(h.sched.status().virtualServers[0]!.quorumUp, true);
  h.world.set(RS4, 'down');
  await h.clock.advance(10_000);
  assert.deepEqual(
    h.quorum.map((q) => [q.up, q.alive]),
    [
      [true, 3],
      [false, 0],
    ],
  );
  assert.ok(h.lines().includes('Lost quorum 2-1=1 > 0 for VS [10.0.0.1]:tcp:80'));
  h.world.set(RS2, 'up');
  h.world.set(RS3, 'up');
  await h.clock.advance(10_000);
  // 2 alive < 2 + 1: still down
  assert.equal(h.sched.status().virtualServers[0]!.quorumUp, false);
  h.world.set(RS4, 'up');
  await h.clock.advance(10_000);
  assert.deepEqual(
    h.quorum.map((q) => q.up),
    [true, false, true],
  );
  assert.ok(h.lines().includes('Gained quorum 2+1=3 <= 3 for VS [10.0.0.1]:tcp:80'));
  assert.deepEqual(
    h.scripts.map((s) => s.argv.join(' ')),
    ['/bin/q up', '/bin/q down', '/bin/q up'],
  );
  await h.sched.stop();
});

test('sorry_server: in the pool instead of the real servers while the quorum is lost, out again when it is back', async () => {
  const h = await harness(three('quorum 2\nsorry_server 10.0.0.9 8080'));
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1', '10.0.0.4:80 1']);
  h.world.set(RS2, 'down');
  h.world.set(RS3, 'down');
  await h.clock.advance(10_000);
  assert.deepEqual(poolOf(h), ['10.0.0.9:8080 1 (sorry)']);
  const lines = h.lines();
  assert.ok(lines.includes('Adding sorry server [10.0.0.9]:tcp:8080 to VS [10.0.0.1]:tcp:80 (pool not programmed)'), lines.join('\n'));
  assert.ok(lines.includes('Removing alive servers from the pool for VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  // a server coming up while the sorry server serves is not put back alone
  h.world.set(RS2, 'up');
  await h.clock.advance(10_000);
  assert.ok(h.lines().includes('Adding service [10.0.0.2]:tcp:80 to VS [10.0.0.1]:tcp:80 (the sorry server serves instead)'));
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.4:80 1']);
  assert.ok(h.lines().includes('Removing sorry server [10.0.0.9]:tcp:8080 from VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  assert.equal(h.pools.at(-1)!.quorumUp, true);
  await h.sched.stop();
});

test('sorry_server at start: an alpha pool starts with the sorry server and says so', async () => {
  const h = await harness(
    vs(`alpha\nsorry_server 10.0.0.9 80\nsorry_server_inhibit\nquorum_down /bin/qd\nreal_server 10.0.0.2 80 {\n FAKE_CHECK { warmup 0 }\n}`),
  );
  assert.deepEqual(poolOf(h), ['10.0.0.9:80 1 (sorry)']);
  assert.ok(h.lines().includes('Starting with quorum down 1-0=1 > 0 for VS [10.0.0.1]:tcp:80'));
  assert.ok(h.lines().includes('Enabling sorry server [10.0.0.9]:tcp:80 to VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  assert.deepEqual(
    h.scripts.map((s) => s.argv[0]),
    ['/bin/qd'],
  );
  await h.clock.advance(1000);
  // sorry_server_inhibit: it stays at weight 0 once the real server serves
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.9:80 0 (inhibited) (sorry)']);
  await h.sched.stop();
});

test('inhibit_on_failure: a failed server stays in the pool at weight 0', async () => {
  const h = await harness(
    vs(`real_server 10.0.0.2 80 {\n inhibit_on_failure\n FAKE_CHECK { warmup 0 }\n}\nreal_server 10.0.0.3 80 {\n FAKE_CHECK { warmup 0 }\n}`),
  );
  h.world.set(RS2, 'down');
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 0 (inhibited)', '10.0.0.3:80 1']);
  assert.ok(h.lines().includes('Disabling service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  h.world.set(RS2, 'up');
  await h.clock.advance(10_000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1', '10.0.0.3:80 1']);
  assert.ok(h.lines().includes('Enabling service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 (pool not programmed)'));
  await h.sched.stop();
});

test('dynamic weights (misc_dynamic): a result with a weight sets it; one without gives the configured weight back; the quorum follows', async () => {
  const h = await harness(vs(`quorum 3\nquorum_down /bin/qd\nreal_server 10.0.0.2 80 {\n weight 4\n FAKE_CHECK { warmup 0 }\n}`));
  h.world.set(RS2, { weight: 7 });
  await h.clock.advance(1000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 7']);
  assert.ok(h.lines().includes('Changing weight from 4 to 7 for active service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80'));
  h.world.set(RS2, { weight: 1 });
  await h.clock.advance(10_000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 1']);
  // a weight under the quorum loses it, with the server still up
  assert.deepEqual(
    h.quorum.map((q) => [q.up, q.alive]),
    [
      [true, 4],
      [false, 1],
    ],
  );
  assert.deepEqual(
    h.scripts.map((s) => s.argv[0]),
    ['/bin/qd'],
  );
  h.world.set(RS2, 'up');
  await h.clock.advance(10_000);
  assert.deepEqual(poolOf(h), ['10.0.0.2:80 4']);
  assert.deepEqual(
    h.quorum.map((q) => q.up),
    [true, false, true],
  );
  await h.sched.stop();
});

test('smtp_alert: a real server going down and up is an alert; with no_checker_emails only changes of the server are', async () => {
  const h = await harness(
    vs(`real_server 10.0.0.2 80 {\n FAKE_CHECK { warmup 0 }\n FAKE_CHECK { connect_port 81\n warmup 0 }\n}`, 'global_defs {\n no_checker_emails\n}'),
  );
  await h.clock.advance(1000);
  h.world.set(RS2, 'down');
  await h.clock.advance(11_000);
  assert.deepEqual(
    h.alerts.map((a) => [a.kind, a.service, a.state, a.message]),
    [['real-server', '[10.0.0.2]:tcp:80', 'DOWN', '=> CHECK failed on service <=']],
  );
  // the second checker failing changes nothing for the server: no alert with no_checker_emails
  h.world.set('10.0.0.2:81', 'down');
  await h.clock.advance(11_000);
  assert.equal(h.alerts.length, 1);
  await h.sched.stop();
});

test('log_all_failures logs every failed attempt with its retry count', async () => {
  const h = await harness(vs(`real_server 10.0.0.2 80 {\n FAKE_CHECK { warmup 0\n retry 2\n log_all_failures }\n}`));
  h.world.set(RS2, 'down');
  await h.clock.advance(1000);
  await h.clock.advance(10_000);
  h.world.set(RS2, 'up');
  await h.clock.advance(10_000);
  h.world.set(RS2, 'down');
  await h.clock.advance(10_000 + 1000 + 1000);
  const lines = h.lines().filter((l) => l.startsWith('FAKE_CHECK on service'));
  assert.deepEqual(lines, [
    'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed.',
    'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed.',
    'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 succeeded.',
    'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed, will do 2 retries.',
    'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed on retry 1/2.',
    'FAKE_CHECK on service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80 failed after 2 retries.',
  ]);
  await h.sched.stop();
});

test('statusParts: the virtual servers of status() in parts of whole virtual servers, about perPart real servers each', async () => {
  const servers = (n: number) => Array.from({ length: n }, (_, i) => `real_server 10.0.1.${i + 1} 80 {\n FAKE_CHECK { warmup 0 }\n}`).join('\n');
  const text = [3, 1, 4, 2].map((n, i) => vs(servers(n)).replace('10.0.0.1 80', `10.0.0.1 ${8000 + i}`)).join('\n');
  const h = await harness(text);
  await h.clock.advance(1000);
  const parts = [...h.sched.statusParts(4)];
  assert.deepEqual(
    parts.map((p) => p.map((v) => v.realServers.length)),
    [[3, 1], [4], [2]],
  );
  assert.deepEqual(parts.flat(), h.sched.status().virtualServers);
  assert.equal([...h.sched.statusParts(Infinity)].length, 1);
  await h.sched.stop();
});
