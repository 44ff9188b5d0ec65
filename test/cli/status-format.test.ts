import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANSI,
  causeChain,
  duration,
  formatEvent,
  formatOutbox,
  formatPlugins,
  formatStatus,
  formatTestResults,
  instanceLines,
  isoLocal,
  paletteFor,
  PLAIN,
  poolLines,
  why,
} from '../../core/cli/status-format';
import type { InstanceStatusDoc } from '../../core/status/types';
import { BACKUP_INSTANCE, EVENTS, MASTER_INSTANCE, NOW, OUTBOX, PLUGINS, STATUS, TEST_RESULTS } from './status-fixtures';

/** What `alived status` and its siblings print, from literal documents. */

test('durations: ms, seconds, minutes with seconds, hours with minutes, days with hours', () => {
  assert.equal(duration(850), '850ms');
  assert.equal(duration(12_400), '12s');
  assert.equal(duration(192_000), '3m12s');
  assert.equal(duration(7_500_000), '2h05m');
  assert.equal(duration(3 * 86_400_000 + 3_600_000), '3d01h');
  assert.equal(duration(-5000), '-5s');
});

test('local ISO time carries its offset', () => {
  assert.equal(isoLocal(NOW, 0), '2026-12-07T12:00:00.000+00:00');
  assert.equal(isoLocal(NOW, -60), '2026-12-07T13:00:00.000+01:00');
  assert.equal(isoLocal(NOW, 330), '2026-12-07T06:30:00.000-05:30');
});

test('the why: the cause chain walked through `because`, told root cause first', () => {
  assert.equal(
    why('BACKUP', BACKUP_INSTANCE.cause),
    `BACKUP because tracker chk_nginx failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < 10.0.0.12's 100`,
  );
  assert.equal(causeChain({ kind: 'start', text: 'alived started' }), 'alived started');
  assert.equal(why('INIT', null), undefined);
});

test('an instance: state, since, effective and base priority, interface, VRID, VIPs, the master as last heard, the why, its trackers', () => {
  assert.deepEqual(instanceLines(BACKUP_INSTANCE, NOW), [
    '  VI_1  BACKUP  for 3m12s  priority 90 (base 150)  eth0  vrid 51  v2',
    '    VIPs 10.0.0.100/24 (not in the kernel), 10.0.0.101/24 (not in the kernel)',
    '    master: 10.0.0.12 (priority 100, as last heard)',
    `    why: BACKUP because tracker chk_nginx failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < 10.0.0.12's 100`,
    '    tracker vrrp_script chk_nginx  down  effect -60  since 3m20s ago  exit 1: connection refused',
  ]);
  // a master that lost a VIP says so, in red on a terminal
  const lines = instanceLines(MASTER_INSTANCE, NOW, ANSI);
  assert.equal(lines[0], '  \x1b[1mVI_2\x1b[22m  \x1b[32mMASTER\x1b[39m  for 1h02m  priority 100  eth0  vrid 52  v2');
  assert.equal(lines[1], '    VIPs 10.0.1.100/24 \x1b[31m(not in the kernel!)\x1b[39m');
  assert.equal(lines[2], '    master: this node (priority 100)');
});

test('states are coloured: MASTER green, BACKUP blue, FAULT red; a priority cause not in the chain gets its own line', () => {
  const fault: InstanceStatusDoc = {
    ...BACKUP_INSTANCE,
    state: 'FAULT',
    cause: { kind: 'interface', text: 'eth0 is down' },
    fault: 'interface eth0 is down',
    master: null,
  };
  const lines = instanceLines(fault, NOW, ANSI);
  assert.ok(lines[0]!.includes('\x1b[31mFAULT\x1b[39m'));
  assert.ok(instanceLines(BACKUP_INSTANCE, NOW, ANSI)[0]!.includes('\x1b[34mBACKUP\x1b[39m'));
  assert.deepEqual(instanceLines(fault, NOW).slice(1), [
    '    VIPs 10.0.0.100/24 (not in the kernel), 10.0.0.101/24 (not in the kernel)',
    '    master: none heard yet',
    '    why: FAULT because eth0 is down',
    '    priority 90 because tracker chk_nginx failed (exit 1: "connection refused") -> priority 150 - 60 = 90',
    '    fault: interface eth0 is down',
    '    tracker vrrp_script chk_nginx  down  effect -60  since 3m20s ago  exit 1: connection refused',
  ]);
});

test('pools as ipvsadm -Ln lays them out, each checker with its last result, latency and failures in a row; an out real server with its why', () => {
  assert.deepEqual(poolLines(STATUS.virtualServers, NOW), [
    'Prot LocalAddress:Port',
    '  -> RemoteAddress:Port    State  Weight  Since',
    'TCP  10.0.0.100:80 wrr  quorum up (alive weight 1, quorum 1)',
    '  -> 10.0.0.5:80           up     1       10m00s',
    '       HTTP_GET 10.0.0.5:80: ok "HTTP 200" in 1.8ms, 2s ago (0/300 failed)',
    '  -> 10.0.0.6:80           DOWN   0/1     45s',
    '       HTTP_GET 10.0.0.6:80: failed "connection refused" in 0.4ms, 3s ago, 9 failures in a row (12/300 failed)',
    '       why: out because HTTP_GET 10.0.0.6:80: connection refused -> HTTP_GET failed 3 times in a row (retry 2)',
  ]);
  const v6 = poolLines(
    [
      {
        ...STATUS.virtualServers[0]!,
        name: 'FWM 7',
        address: null,
        port: null,
        fwmark: 7,
        protocol: null,
        quorumUp: false,
        sorryServer: { name: '10.0.0.9:80', inUse: true },
        realServers: [{ ...STATUS.virtualServers[0]!.realServers[0]!, name: '[2001:db8::5]:80', address: '2001:db8::5' }],
      },
    ],
    NOW,
  );
  assert.equal(v6[2], 'FWM  7 wrr  quorum DOWN (alive weight 1, quorum 1)  sorry server 10.0.0.9:80 in use');
  assert.match(v6[3]!, /^ {2}-> \[2001:db8::5\]:80 +up/);
});

test('the whole status: the daemon line with the last reload and its first error, VRRP, pools, notifiers with their backlog', () => {
  const text = formatStatus(STATUS);
  const lines = text.split('\n');
  assert.equal(lines[0], 'alived 0.1.0  pid 4242  up 2h03m  config /etc/keepalived/keepalived.conf (3f2a9c1b7e8d)');
  assert.equal(lines[1], 'reloads 2, 1 rejected; last 5m00s ago: rejected (1 error) in 41ms');
  assert.equal(lines[2], '  /etc/keepalived/keepalived.conf:12:12: error: priority 300 is out of range 1..255');
  assert.equal(lines[3], 'VRRP process pid 4243, restarted 0 times; adverts late p99 0.21ms, max 0.90ms');
  assert.ok(text.includes('\nVirtual servers\n'));
  assert.ok(
    text.endsWith(
      'Notifiers  outbox /var/lib/alived/notify, 7 events published\n' +
        '  mail:keepalived  sent 4  backlog 2 (oldest 5m12s)  retrying 1  last sent 1h00m ago  last error 10s ago: SMTP server 10.0.0.25:25: connection refused (ECONNREFUSED)\n',
    ),
  );
  assert.ok(!text.includes('\x1b['), 'no colour with the plain palette');
});

test('colour only on a terminal, and not with NO_COLOR or --no-color', () => {
  assert.equal(paletteFor(true, {}), ANSI);
  assert.equal(paletteFor(false, {}), PLAIN);
  assert.equal(paletteFor(undefined, {}), PLAIN);
  assert.equal(paletteFor(true, { NO_COLOR: '1' }), PLAIN);
  assert.equal(paletteFor(true, {}, true), PLAIN);
});

test('events, plugins, the outbox and test results', () => {
  assert.equal(
    formatEvent(EVENTS[1]!, PLAIN, 0),
    `2026-12-07T11:56:48.000+00:00  vrrp-transition  VI_1  MASTER -> BACKUP  tracker chk_nginx failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < 10.0.0.12's 100`,
  );
  assert.equal(
    formatEvent(
      { seq: 1, time: NOW, kind: 'daemon', subject: 'daemon', before: null, after: null, cause: { kind: 'start', text: 'alived started' } },
      PLAIN,
      0,
    ),
    '2026-12-07T12:00:00.000+00:00  daemon  daemon  alived started',
  );
  assert.equal(
    formatPlugins(PLUGINS),
    [
      'NAME        VERSION  ORIGIN                               REGISTERS',
      'check-http  0.1.0    builtin                              checkers HTTP_GET SSL_GET',
      'acme-check  1.2.3    /etc/keepalived/keepalived.conf:3:1  checkers ACME_CHECK; keywords real_server.ACME_CHECK',
      '',
    ].join('\n'),
  );
  const ob = formatOutbox(OUTBOX, NOW);
  assert.match(ob, /^ID +SEQ +AGE +ATTEMPTS +EVENT\n4a0c0e0e-3f7c-4bf5-9d0a-2b1f7c3e9a11:mail:keepalived {2}#1042 {2}5m12s {2}6 {9}VRRP instance VI_1/);
  assert.equal(formatOutbox([], NOW), 'the outbox is empty: every notification was delivered\n');
  assert.equal(
    formatTestResults(TEST_RESULTS),
    [
      'ok       mail:keepalived: delivered in 23ms',
      'failed   webhook:ops: POST webhook ops (http://10.0.0.9:8080): HTTP 503 (after 5001ms)',
      "skipped  script:notify: not delivered: notify scripts and FIFOs get keepalived's arguments only, and there is no test notification among them",
      '',
    ].join('\n'),
  );
});
