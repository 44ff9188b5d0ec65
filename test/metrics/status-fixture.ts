import type {
  CheckerStatusDoc,
  InstanceStatusDoc,
  KeepalivedCounters,
  NotifierStatusDoc,
  RealServerStatusDoc,
  StatusDocument,
  StatusProvider,
  VirtualServerStatusDoc,
  VrrpStateName,
} from '../../core/status/types';

/*
 * A status document of a node that holds a bit of everything: a MASTER with
 * two VIPs on two interfaces, a BACKUP without VIPs in a sync group, an IPv6
 * instance in FAULT, an LVS pool with a real server that is out and a sorry
 * server, and two notifiers, one with a backlog. Every free-text field holds
 * one of SECRETS, as a leak would put it there; no surface may show them.
 */

/** Strings the document carries in messages and causes; none may appear on /metrics. */
export const SECRETS = {
  authPass: 'vrrpPa55',
  smtpPassword: 'smtp-hunter2',
  webhookToken: 'tok_9f8e7d6c5b4a',
  bearer: 'Bearer abc.def.ghi',
} as const;

export const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

function counters(over: Partial<KeepalivedCounters> = {}): KeepalivedCounters {
  return {
    advert_rcvd: 0,
    advert_sent: 0,
    become_master: 0,
    release_master: 0,
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
    ...over,
  };
}

function instance(over: Partial<InstanceStatusDoc> & Pick<InstanceStatusDoc, 'name' | 'state' | 'vrid' | 'interface'>): InstanceStatusDoc {
  return {
    wantedState: 'BACKUP',
    version: 2,
    family: 'inet',
    basePriority: 100,
    effectivePriority: 100,
    advertIntervalMs: 1000,
    master: null,
    syncGroup: null,
    since: T0 - 60_000,
    cause: null,
    priorityCause: null,
    fault: null,
    waiting: [],
    vips: [],
    trackers: [],
    counters: counters(),
    extraCounters: { checksum_err: 0, version_err: 0, vrid_err: 0, vip_restored: 0, vip_lost: 0 },
    ...over,
  };
}

function checker(over: Partial<CheckerStatusDoc> & Pick<CheckerStatusDoc, 'keyword' | 'target'>): CheckerStatusDoc {
  return {
    plugin: 'check-tcp',
    up: true,
    last: { ok: true, message: 'connected', latencyMs: 3, at: T0 - 1000 },
    checks: 100,
    failures: 0,
    consecutiveFailures: 0,
    error: null,
    ...over,
  };
}

function realServer(over: Partial<RealServerStatusDoc> & Pick<RealServerStatusDoc, 'name' | 'address' | 'port' | 'checkers'>): RealServerStatusDoc {
  return { up: true, weight: 1, configuredWeight: 1, inhibit: false, since: T0 - 3_600_000, cause: null, ...over };
}

function notifier(over: Partial<NotifierStatusDoc> & Pick<NotifierStatusDoc, 'id' | 'kind' | 'name'>): NotifierStatusDoc {
  return {
    plugin: null,
    sent: 0,
    failed: 0,
    expired: 0,
    retrying: 0,
    outboxDepth: 0,
    oldestPendingMs: null,
    lastSentAt: null,
    lastError: null,
    lastErrorAt: null,
    ...over,
  };
}

const webPool: VirtualServerStatusDoc = {
  name: '[10.0.0.100]:tcp:80',
  address: '10.0.0.100',
  port: 80,
  fwmark: null,
  group: null,
  protocol: 'TCP',
  scheduler: 'wlc',
  quorum: 2,
  hysteresis: 0,
  quorumUp: true,
  aliveWeight: 5,
  sorryServer: { name: '10.0.0.99:80', inUse: false },
  realServers: [
    realServer({
      name: '10.0.0.11:80',
      address: '10.0.0.11',
      port: 80,
      weight: 3,
      configuredWeight: 3,
      checkers: [
        checker({
          keyword: 'TCP_CHECK',
          target: '10.0.0.11:80',
          checks: 120,
          failures: 2,
          last: { ok: true, message: 'connected', latencyMs: 2.5, at: T0 - 2000 },
        }),
        checker({
          keyword: 'TCP_CHECK',
          target: '10.0.0.11:8080',
          checks: 118,
          failures: 0,
          last: { ok: true, message: 'connected', latencyMs: 40, at: T0 - 1500 },
        }),
      ],
    }),
    realServer({
      name: '10.0.0.12:80',
      address: '10.0.0.12',
      port: 80,
      weight: 2,
      configuredWeight: 2,
      checkers: [
        checker({
          keyword: 'HTTP_GET',
          plugin: 'check-http',
          target: `http://10.0.0.12:80/health?token=${SECRETS.webhookToken}`,
          checks: 60,
          failures: 1,
          last: { ok: true, message: 'status 200', latencyMs: 12, at: T0 - 1200 },
        }),
      ],
    }),
    realServer({
      name: '10.0.0.13:80',
      address: '10.0.0.13',
      port: 80,
      up: false,
      weight: 0,
      configuredWeight: 1,
      inhibit: true,
      cause: { kind: 'check', text: `HTTP_GET failed: ${SECRETS.bearer} refused` },
      checkers: [
        checker({
          keyword: 'HTTP_GET',
          plugin: 'check-http',
          target: '10.0.0.13:80',
          up: false,
          checks: 50,
          failures: 17,
          consecutiveFailures: 17,
          last: { ok: false, message: `connection refused (${SECRETS.bearer})`, latencyMs: 1.2, at: T0 - 900 },
        }),
      ],
    }),
  ],
};

/** A fresh copy of the document (tests change their copy). */
export function statusFixture(): StatusDocument {
  return {
    version: 1,
    generatedAt: T0,
    daemon: {
      version: '0.1.0',
      pid: 4242,
      configFile: '/etc/keepalived/keepalived.conf',
      configHash: 'sha256:0123456789abcdef',
      configFiles: ['/etc/keepalived/keepalived.conf'],
      startedAt: T0 - 86_400_000,
      uptimeMs: 86_400_000,
      stateDir: null,
      instance: null,
      reloads: 3,
      reloadsRejected: 1,
      lastReload: {
        at: T0 - 600_000,
        applied: false,
        durationMs: 42,
        errors: 1,
        warnings: 0,
        diagnostics: [
          {
            severity: 'error',
            code: 'ALIVED_CONFIG_BAD_VALUE',
            message: `auth_pass '${SECRETS.authPass}' is too long`,
            file: '/etc/keepalived/keepalived.conf',
            line: 12,
            column: 15,
          },
        ],
      },
      vrrpProcess: {
        pid: 4243,
        restarts: 2,
        lastRestart: { at: T0 - 7_200_000, reason: 'killed by SIGKILL' },
        advertLateness: { count: 86_400, p50Ms: 0.08, p99Ms: 0.4, maxMs: 3.5 },
      },
      eventLoopLag: { meanMs: 10.5, p99Ms: 21, maxMs: 48 },
    },
    vrrp: {
      running: true,
      instances: [
        instance({
          name: 'VI_1',
          state: 'MASTER',
          wantedState: 'MASTER',
          vrid: 51,
          interface: 'eth0',
          basePriority: 150,
          effectivePriority: 150,
          master: { address: '10.0.0.2', priority: 150, self: true },
          cause: { kind: 'master-down', text: 'no advert from the master for 3.6 s', because: { kind: 'other', text: `auth ${SECRETS.authPass}` } },
          vips: [
            { address: '10.0.0.100/24', dev: 'eth0', present: true },
            { address: '192.168.7.1/32', dev: 'eth1', present: true },
          ],
          trackers: [
            {
              type: 'vrrp_script',
              name: 'chk_nginx',
              weight: -60,
              reverse: false,
              state: 'up',
              value: null,
              lastResult: `exit 0: ${SECRETS.smtpPassword}`,
              since: T0 - 3_600_000,
              effect: 0,
            },
          ],
          counters: counters({
            advert_rcvd: 17,
            advert_sent: 86_000,
            become_master: 4,
            release_master: 3,
            auth_failure: 2,
            pri_zero_sent: 3,
            pri_zero_rcvd: 1,
          }),
        }),
        instance({
          name: 'VI_2',
          state: 'BACKUP',
          vrid: 52,
          interface: 'eth1',
          basePriority: 100,
          effectivePriority: 90,
          syncGroup: 'G1',
          master: { address: '10.0.1.3', priority: 120, self: false },
          priorityCause: { kind: 'tracker', text: 'tracker chk_db failed (exit 1)' },
          counters: counters({ advert_rcvd: 9000, advert_interval_err: 5, packet_len_err: 1, ip_ttl_err: 6, invalid_type_rcvd: 7, addr_list_err: 8 }),
        }),
        instance({
          name: 'VI_6',
          state: 'FAULT',
          vrid: 60,
          version: 3,
          family: 'inet6',
          interface: 'eth2',
          basePriority: 80,
          effectivePriority: 80,
          fault: 'interface eth2 is down',
          vips: [{ address: 'fd00::60/64', dev: 'eth2', present: false }],
          counters: counters({ invalid_authtype: 11, authtype_mismatch: 12 }),
        }),
      ],
      syncGroups: [{ name: 'G1', state: 'BACKUP', members: ['VI_2'] }],
      otherVrids: 0,
    },
    virtualServers: [
      webPool,
      {
        name: 'FWM 7',
        address: null,
        port: null,
        fwmark: 7,
        group: null,
        protocol: null,
        scheduler: 'wlc',
        quorum: 1,
        hysteresis: 0,
        quorumUp: false,
        aliveWeight: 0,
        sorryServer: null,
        realServers: [],
      },
    ],
    notify: {
      outbox: '/var/lib/alived/outbox',
      published: 40,
      notifiers: [
        notifier({
          id: 'smtp_alert:keepalived',
          kind: 'smtp_alert',
          name: 'keepalived',
          sent: 30,
          failed: 2,
          lastError: `535 auth failed for ${SECRETS.smtpPassword}`,
        }),
        notifier({
          id: 'webhook:ops',
          kind: 'webhook',
          name: 'ops',
          plugin: 'notify-webhook',
          sent: 7,
          failed: 9,
          expired: 1,
          retrying: 2,
          outboxDepth: 3,
          oldestPendingMs: 125_000,
          lastError: `status 401 for ?token=${SECRETS.webhookToken}`,
          lastErrorAt: T0 - 5000,
        }),
      ],
    },
  };
}

/** The document with one instance's state changed (a transition). */
export function withState(doc: StatusDocument, name: string, state: VrrpStateName): StatusDocument {
  return { ...doc, vrrp: { ...doc.vrrp, instances: doc.vrrp.instances.map((i) => (i.name === name ? { ...i, state } : i)) } };
}

/** A status provider that answers with whatever `current` holds now (a function: the tests change it between scrapes). */
export function fixtureProvider(current: () => StatusDocument | Error): StatusProvider {
  return {
    snapshot: async () => {
      const d = current();
      if (d instanceof Error) throw d;
      return d;
    },
    timeline: () => [],
    subscribe: () => () => undefined,
    plugins: () => [],
  };
}

/**
 * The fixture as a node at work, for a Prometheus that scrapes it: each call
 * is a later document in which adverts go out and come in, checks run (some
 * fail, each with a new last result), notifications are sent and fail, so
 * rates and histograms over a few scrapes have values.
 */
export function liveFixture(): () => StatusDocument {
  let n = 0;
  return () => {
    n++;
    const doc = statusFixture();
    const step = (v: number, every = 1) => v + Math.floor(n / every);
    return {
      ...doc,
      generatedAt: T0 + n * 1000,
      daemon: { ...doc.daemon, reloads: step(doc.daemon.reloads, 10) },
      vrrp: {
        ...doc.vrrp,
        instances: doc.vrrp.instances.map((i) => ({
          ...i,
          counters: {
            ...i.counters,
            advert_sent: step(i.counters.advert_sent),
            advert_rcvd: step(i.counters.advert_rcvd),
            become_master: step(i.counters.become_master, 4),
          },
        })),
      },
      virtualServers: doc.virtualServers.map((vs) => ({
        ...vs,
        realServers: vs.realServers.map((rs) => ({
          ...rs,
          checkers: rs.checkers.map((c) => ({
            ...c,
            checks: step(c.checks),
            failures: step(c.failures, 3),
            last: c.last && { ...c.last, latencyMs: c.last.latencyMs * (1 + (n % 4)), at: T0 + n * 1000 },
          })),
        })),
      })),
      notify: { ...doc.notify, notifiers: doc.notify.notifiers.map((x) => ({ ...x, sent: step(x.sent, 2), failed: step(x.failed, 3) })) },
    };
  };
}
