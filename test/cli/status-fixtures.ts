import type { OutboxItem, NotifyTestResult } from '../../core/api/types';
import type { InstanceStatusDoc, KeepalivedCounters, PluginInfo, StatusDocument, TimelineEvent } from '../../core/status/types';

/**
 * Literal documents, as the API serves them, for the CLI's tests: a node
 * that is BACKUP because a tracker failed, a pool with a real server out,
 * a mail notifier with a backlog.
 */

export const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

const counters: KeepalivedCounters = {
  advert_rcvd: 120,
  advert_sent: 3,
  become_master: 1,
  release_master: 1,
  packet_len_err: 0,
  advert_interval_err: 0,
  ip_ttl_err: 0,
  invalid_type_rcvd: 0,
  addr_list_err: 0,
  invalid_authtype: 0,
  authtype_mismatch: 0,
  auth_failure: 0,
  pri_zero_rcvd: 0,
  pri_zero_sent: 0,
};

const extraCounters = { checksum_err: 0, version_err: 0, vrid_err: 0, vip_restored: 0, vip_lost: 0 };

export const BACKUP_INSTANCE: InstanceStatusDoc = {
  name: 'VI_1',
  state: 'BACKUP',
  wantedState: 'MASTER',
  vrid: 51,
  version: 2,
  family: 'inet',
  interface: 'eth0',
  basePriority: 150,
  effectivePriority: 90,
  advertIntervalMs: 1000,
  master: { address: '10.0.0.12', priority: 100, self: false },
  syncGroup: null,
  since: NOW - 192_000,
  cause: {
    kind: 'advert',
    text: "10.0.0.12's 100",
    facts: { from: '10.0.0.12', priority: 100, ours: 90 },
    because: {
      kind: 'priority',
      text: 'priority 150 - 60 = 90',
      facts: { base: 150, weight: -60, effective: 90 },
      because: { kind: 'tracker', text: 'tracker chk_nginx failed (exit 1: "connection refused")', facts: { tracker: 'chk_nginx', exit: 1 } },
    },
  },
  priorityCause: {
    kind: 'priority',
    text: 'priority 150 - 60 = 90',
    because: { kind: 'tracker', text: 'tracker chk_nginx failed (exit 1: "connection refused")' },
  },
  fault: null,
  waiting: [],
  vips: [
    { address: '10.0.0.100/24', dev: 'eth0', present: false },
    { address: '10.0.0.101/24', dev: 'eth0', present: false },
  ],
  trackers: [
    {
      type: 'vrrp_script',
      name: 'chk_nginx',
      weight: -60,
      reverse: false,
      state: 'down',
      value: null,
      lastResult: 'exit 1: connection refused',
      since: NOW - 200_000,
      effect: -60,
    },
  ],
  counters,
  extraCounters,
};

export const MASTER_INSTANCE: InstanceStatusDoc = {
  ...BACKUP_INSTANCE,
  name: 'VI_2',
  state: 'MASTER',
  vrid: 52,
  basePriority: 100,
  effectivePriority: 100,
  master: { address: '10.0.0.11', priority: 100, self: true },
  since: NOW - 3_723_000,
  cause: { kind: 'master-down', text: 'no advert from 10.0.0.12 for 3.61 s (master down timer)' },
  priorityCause: null,
  vips: [{ address: '10.0.1.100/24', dev: 'eth0', present: false }],
  trackers: [],
};

export const STATUS: StatusDocument = {
  version: 1,
  generatedAt: NOW,
  daemon: {
    version: '0.1.0',
    pid: 4242,
    configFile: '/etc/keepalived/keepalived.conf',
    configHash: '3f2a9c1b7e8d4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233',
    configFiles: ['/etc/keepalived/keepalived.conf'],
    startedAt: NOW - 7_384_000,
    uptimeMs: 7_384_000,
    stateDir: null,
    instance: null,
    reloads: 2,
    reloadsRejected: 1,
    lastReload: {
      at: NOW - 300_000,
      applied: false,
      durationMs: 41,
      errors: 1,
      warnings: 0,
      diagnostics: [
        {
          severity: 'error',
          code: 'ALIVED_CONFIG_OUT_OF_RANGE',
          message: 'priority 300 is out of range 1..255',
          file: '/etc/keepalived/keepalived.conf',
          line: 12,
          column: 12,
        },
      ],
    },
    vrrpProcess: { pid: 4243, restarts: 0, lastRestart: null, advertLateness: { count: 3000, p50Ms: 0.05, p99Ms: 0.21, maxMs: 0.9 } },
    eventLoopLag: { meanMs: 0.3, p99Ms: 1.2, maxMs: 4.5 },
  },
  vrrp: { running: true, instances: [BACKUP_INSTANCE, MASTER_INSTANCE], syncGroups: [], otherVrids: 0 },
  virtualServers: [
    {
      name: '[10.0.0.100]:tcp:80',
      address: '10.0.0.100',
      port: 80,
      fwmark: null,
      group: null,
      protocol: 'TCP',
      scheduler: 'wrr',
      quorum: 1,
      hysteresis: 0,
      quorumUp: true,
      aliveWeight: 1,
      sorryServer: null,
      realServers: [
        {
          name: '10.0.0.5:80',
          address: '10.0.0.5',
          port: 80,
          up: true,
          weight: 1,
          configuredWeight: 1,
          inhibit: false,
          since: NOW - 600_000,
          cause: { kind: 'check', text: 'HTTP_GET passed' },
          checkers: [
            {
              keyword: 'HTTP_GET',
              plugin: 'check-http',
              target: '10.0.0.5:80',
              up: true,
              last: { ok: true, message: 'HTTP 200', latencyMs: 1.8, at: NOW - 2000 },
              checks: 300,
              failures: 0,
              consecutiveFailures: 0,
              error: null,
            },
          ],
        },
        {
          name: '10.0.0.6:80',
          address: '10.0.0.6',
          port: 80,
          up: false,
          weight: 0,
          configuredWeight: 1,
          inhibit: true,
          since: NOW - 45_000,
          cause: {
            kind: 'check',
            text: 'HTTP_GET failed 3 times in a row (retry 2)',
            because: { kind: 'check', text: 'HTTP_GET 10.0.0.6:80: connection refused' },
          },
          checkers: [
            {
              keyword: 'HTTP_GET',
              plugin: 'check-http',
              target: '10.0.0.6:80',
              up: false,
              last: { ok: false, message: 'connection refused', latencyMs: 0.4, at: NOW - 3000 },
              checks: 300,
              failures: 12,
              consecutiveFailures: 9,
              error: null,
            },
          ],
        },
      ],
    },
  ],
  notify: {
    outbox: '/var/lib/alived/notify',
    published: 7,
    notifiers: [
      {
        id: 'mail:keepalived',
        kind: 'mail',
        name: 'keepalived',
        plugin: 'notify-mail',
        sent: 4,
        failed: 0,
        expired: 0,
        retrying: 1,
        outboxDepth: 2,
        oldestPendingMs: 312_000,
        lastSentAt: NOW - 3_600_000,
        lastError: 'SMTP server 10.0.0.25:25: connection refused (ECONNREFUSED)',
        lastErrorAt: NOW - 10_000,
      },
    ],
  },
};

export const EVENTS: TimelineEvent[] = [
  {
    seq: 41,
    time: NOW - 200_000,
    kind: 'tracker',
    subject: 'chk_nginx',
    before: 'up',
    after: 'down',
    cause: { kind: 'tracker', text: 'exit 1: "connection refused"' },
  },
  {
    seq: 42,
    time: NOW - 192_000,
    kind: 'vrrp-transition',
    subject: 'VI_1',
    before: 'MASTER',
    after: 'BACKUP',
    cause: BACKUP_INSTANCE.cause!,
  },
];

export const STREAMED: TimelineEvent = {
  seq: 43,
  time: NOW,
  kind: 'real-server',
  subject: '[10.0.0.100]:tcp:80/10.0.0.6:80',
  before: 'up',
  after: 'down',
  cause: { kind: 'check', text: 'HTTP_GET 10.0.0.6:80: connection refused' },
};

export const PLUGINS: PluginInfo[] = [
  { name: 'check-http', version: '0.1.0', enabledAt: null, builtin: true, keywords: [], checkers: ['HTTP_GET', 'SSL_GET'], trackers: [], notifiers: [] },
  {
    name: 'acme-check',
    version: '1.2.3',
    enabledAt: '/etc/keepalived/keepalived.conf:3:1',
    builtin: false,
    keywords: ['real_server.ACME_CHECK'],
    checkers: ['ACME_CHECK'],
    trackers: [],
    notifiers: [],
  },
];

export const OUTBOX: OutboxItem[] = [
  {
    id: '4a0c0e0e-3f7c-4bf5-9d0a-2b1f7c3e9a11:mail:keepalived',
    notifier: 'mail:keepalived',
    sequence: 1042,
    acceptedAt: NOW - 312_000,
    summary: 'VRRP instance VI_1: MASTER -> BACKUP (priority 90)',
    attempts: 6,
    lastError: 'SMTP server 10.0.0.25:25: connection refused (ECONNREFUSED)',
  },
];

export const TEST_RESULTS: NotifyTestResult[] = [
  { id: 'mail:keepalived', ok: true, ms: 23 },
  { id: 'webhook:ops', ok: false, ms: 5001, error: 'POST webhook ops (http://10.0.0.9:8080): HTTP 503' },
  {
    id: 'script:notify',
    ok: false,
    ms: 0,
    skipped: true,
    error: "not delivered: notify scripts and FIFOs get keepalived's arguments only, and there is no test notification among them",
  },
];
