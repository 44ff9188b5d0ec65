import { STATUS_VERSION, type PluginInfo, type StatusDocument, type StatusProvider, type TimelineEvent } from '../../core/status/types';
import type { DaemonActions, NotifyTestResult, OutboxItem } from '../../core/api/types';

/** A status document as a daemon with one VRRP instance and one virtual server would give it. */
export const DOC: StatusDocument = {
  version: STATUS_VERSION,
  generatedAt: 1_765_000_000_000,
  daemon: {
    version: '0.1.0',
    pid: 4242,
    configFile: '/etc/keepalived/keepalived.conf',
    configHash: 'ab'.repeat(32),
    configFiles: ['/etc/keepalived/keepalived.conf'],
    startedAt: 1_764_999_000_000,
    uptimeMs: 1_000_000,
    stateDir: null,
    instance: null,
    reloads: 0,
    reloadsRejected: 0,
    lastReload: null,
    vrrpProcess: { pid: 4243, restarts: 0, lastRestart: null, advertLateness: null },
    eventLoopLag: { meanMs: 0.2, p99Ms: 1, maxMs: 2 },
  },
  vrrp: {
    running: true,
    instances: [
      {
        name: 'VI_1',
        state: 'MASTER',
        wantedState: 'BACKUP',
        vrid: 51,
        version: 2,
        family: 'inet',
        interface: 'eth0',
        basePriority: 100,
        effectivePriority: 100,
        advertIntervalMs: 1000,
        master: { address: '10.0.0.1', priority: 100, self: true },
        syncGroup: null,
        since: 1_764_999_100_000,
        cause: { kind: 'master-down', text: 'no advert from the master for 3.6 s' },
        priorityCause: null,
        fault: null,
        waiting: [],
        vips: [{ address: '10.0.0.100/24', dev: 'eth0', present: true }],
        trackers: [],
        counters: {
          advert_rcvd: 10,
          advert_sent: 20,
          become_master: 1,
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
        },
        extraCounters: { checksum_err: 0, version_err: 0, vrid_err: 0, vip_restored: 0, vip_lost: 0 },
      },
    ],
    syncGroups: [],
    otherVrids: 0,
  },
  virtualServers: [
    {
      name: '[10.0.0.100]:tcp:80',
      address: '10.0.0.100',
      port: 80,
      fwmark: null,
      group: null,
      protocol: 'TCP',
      scheduler: 'wlc',
      quorum: 1,
      hysteresis: 0,
      quorumUp: true,
      aliveWeight: 1,
      sorryServer: null,
      realServers: [],
    },
  ],
  notify: { outbox: null, published: 3, notifiers: [] },
};

export const PLUGINS: PluginInfo[] = [
  { name: 'check-tcp', version: '1.0.0', enabledAt: null, builtin: true, keywords: ['TCP_CHECK'], checkers: ['TCP_CHECK'], trackers: [], notifiers: [] },
];

export function event(seq: number, subject = 'VI_1'): TimelineEvent {
  return {
    seq,
    time: 1_765_000_000_000 + seq,
    kind: 'vrrp-transition',
    subject,
    before: 'BACKUP',
    after: 'MASTER',
    cause: { kind: 'master-down', text: `event ${seq}` },
  };
}

/** A StatusProvider over DOC and a timeline the test adds to with emit(). */
export class FakeProvider implements StatusProvider {
  readonly events: TimelineEvent[] = [event(1), event(2), event(3)];
  readonly listeners = new Set<(e: TimelineEvent) => void>();
  failSnapshot: Error | undefined;

  snapshot(): Promise<StatusDocument> {
    return this.failSnapshot ? Promise.reject(this.failSnapshot) : Promise.resolve(DOC);
  }

  timeline(query: { since?: number; limit?: number } = {}): readonly TimelineEvent[] {
    const after = this.events.filter((e) => query.since === undefined || e.seq > query.since);
    return query.limit === undefined ? after : after.slice(Math.max(0, after.length - query.limit));
  }

  subscribe(listener: (e: TimelineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  plugins(): readonly PluginInfo[] {
    return PLUGINS;
  }

  emit(e: TimelineEvent): void {
    this.events.push(e);
    for (const l of this.listeners) l(e);
  }
}

export const OUTBOX: OutboxItem[] = [
  { id: 'e-1', notifier: 'webhook:ops', sequence: 7, acceptedAt: 1_765_000_000_000, summary: 'vrrp VI_1 BACKUP -> MASTER', attempts: 2, lastError: 'HTTP 503' },
];

/** DaemonActions that record what they were asked. */
export function fakeActions(): DaemonActions & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    notifyTest(notifier?: string): Promise<readonly NotifyTestResult[]> {
      calls.push(`notifyTest ${notifier ?? '*'}`);
      if (notifier === 'nope') return Promise.resolve([]);
      return Promise.resolve([{ id: notifier ?? 'webhook:ops', ok: true, ms: 12 }]);
    },
    outbox: () => OUTBOX,
    outboxRetry(id?: string): number {
      calls.push(`retry ${id ?? '*'}`);
      return id === undefined ? OUTBOX.length : 1;
    },
    outboxDrop(id: string): Promise<boolean> {
      calls.push(`drop ${id}`);
      return Promise.resolve(id === 'e-1');
    },
  };
}
