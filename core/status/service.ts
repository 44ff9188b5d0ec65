import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { CheckServiceStatus } from '../check/service';
import type { Diagnostic } from '../config/diagnostics';
import { errorText } from '../errors';
import type { Logger } from '../log/logger';
import type { DeliveryOutcome, NotifyStatus } from '../notify/pipeline';
import { describeEvent } from '../notify/describe';
import type { NotifyEvent, VrrpTransitionEvent, PriorityChangeEvent } from '../plugin/events';
import type { TrackerStatus } from '../track/service';
import { ALIVED_VERSION } from '../version';
import { TurnBudget } from './turns';
import type { EngineStatus, InstanceStatus } from '../vrrp/engine-types';
import type { InstanceSettings, VrrpSettings } from '../vrrp/settings';
import { trackerKey } from '../vrrp/tracking';
import { instanceTrackers, priorityCause, stateCause, trackerCause, transitionCause } from './causes';
import { Timeline } from './timeline';
import {
  STATUS_VERSION,
  type Cause,
  type InstanceStatusDoc,
  type KeepalivedCounters,
  type PluginInfo,
  type ReloadStatus,
  type StatusDocument,
  type StatusProvider,
  type TimelineEvent,
  type TrackerOfInstance,
  type VirtualServerStatusDoc,
} from './types';

/** Where the status comes from: the daemon's parts, asked when a document is made. */
export interface StatusSources {
  /** the VRRP process's status (undefined when no VRRP process runs) */
  vrrp(): Promise<EngineStatus> | undefined;
  vrrpSettings(): VrrpSettings | undefined;
  trackers(): readonly TrackerStatus[];
  /** the virtual servers as the checks see them, in parts of about `perPart` real servers (undefined when no checks run) */
  checks(perPart: number): Iterable<CheckServiceStatus['virtualServers']> | undefined;
  notify(): NotifyStatus | undefined;
  vrrpPid(): number | undefined;
  plugins(): readonly PluginInfo[];
}

export interface StatusServiceOptions {
  readonly log: Logger;
  readonly configFile: string;
  readonly stateDir?: string;
  readonly instance?: string;
  readonly sources: StatusSources;
  /** events kept in the timeline; default 1,000 */
  readonly timelineCapacity?: number;
  /**
   * The VRRP process's status is asked for at most this often (default
   * 1000 ms): any number of readers share one copy, so scraping costs that
   * process one message a second at most. A transition makes the next read
   * ask again.
   */
  readonly vrrpMaxAgeMs?: number;
  readonly now?: () => number;
}

const MAX_DIAGNOSTICS = 50;
/** a shared document older than maxAgeMs is still given while a new one is made, up to this many times maxAgeMs */
const STALE_FACTOR = 10;
const LAG_RESET_MS = 60_000;
const NO_COUNTERS: KeepalivedCounters = {
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
};

/**
 * The one status model: it makes the StatusDocument from the daemon's
 * parts on demand, keeps what those parts do not (causes, since when,
 * reloads, VRRP process restarts, the event loop's lag), and records every
 * change in the timeline. It runs in the main process.
 */
export class StatusService implements StatusProvider {
  /** the timeline: the last events, kept across restarts under --state-dir */
  readonly history: Timeline;
  private readonly startedAt: number;
  private readonly now: () => number;
  private configFiles: readonly string[] = [];
  private configHash = '';
  private reloads = 0;
  private reloadsRejected = 0;
  private lastReload: ReloadStatus | null = null;
  private vrrpRestarts = 0;
  private lastVrrpRestart: { at: number; reason: string } | null = null;
  /** each instance's last transition: when, and why */
  private readonly instanceCauses = new Map<string, { since: number; cause: Cause }>();
  /** each real server's last change, by `vs/rs` */
  private readonly serverCauses = new Map<string, { since: number; cause: Cause }>();
  private vrrpCache: { at: number; status: EngineStatus } | undefined;
  /** the last document made, for readers that may share one (snapshot({ maxAgeMs })) */
  private lastDoc: { at: number; doc: StatusDocument } | undefined;
  private making: Promise<StatusDocument> | undefined;
  private vrrpAsking: Promise<EngineStatus | undefined> | undefined;
  private readonly lag: IntervalHistogram;
  private lagTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StatusServiceOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.history = new Timeline({ log: options.log, stateDir: options.stateDir, capacity: options.timelineCapacity, now: this.now });
    this.lag = monitorEventLoopDelay({ resolution: 10 });
  }

  /** Reads the timeline back and starts measuring the event loop. */
  open(): void {
    this.history.open();
    this.lag.enable();
    this.lagTimer = setInterval(() => this.lag.reset(), LAG_RESET_MS);
    this.lagTimer.unref();
  }

  async close(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lag.disable();
    await this.history.close();
  }

  /** The config files of the running config (at the start and after each applied reload): their hash. */
  setConfig(files: readonly string[]): void {
    this.configFiles = [...files];
    const h = createHash('sha256');
    for (const f of files) {
      try {
        h.update(fs.readFileSync(f));
      } catch (err) {
        // a file gone since it was read: the hash says so rather than failing the status
        h.update(`unreadable ${f}: ${errorText(err)}`);
      }
      h.update('\0');
    }
    this.configHash = h.digest('hex');
  }

  // ---- what the daemon reports ----

  /** A VRRP state or priority changed: the next reader gets a new document, with the VRRP process asked again. */
  private changed(): void {
    this.vrrpCache = undefined;
    this.lastDoc = undefined;
  }

  started(): void {
    this.history.add({
      kind: 'daemon',
      subject: 'daemon',
      before: null,
      after: 'started',
      cause: { kind: 'start', text: `alived ${ALIVED_VERSION} started`, facts: { pid: process.pid } },
    });
  }

  stopping(signal: string | undefined): void {
    this.history.add({
      kind: 'daemon',
      subject: 'daemon',
      before: 'running',
      after: 'stopping',
      cause: { kind: 'stop', text: signal ? `${signal} received` : 'asked to stop' },
    });
  }

  reloaded(r: { applied: boolean; diagnostics: readonly Diagnostic[]; durationMs: number; at: number }): void {
    const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = r.diagnostics.filter((d) => d.severity === 'warning').length;
    this.lastReload = {
      at: r.at,
      applied: r.applied,
      durationMs: Math.round(r.durationMs * 10) / 10,
      errors,
      warnings,
      diagnostics: r.diagnostics.slice(0, MAX_DIAGNOSTICS).map((d) => ({
        severity: d.severity,
        code: d.code,
        message: d.message,
        file: d.pos.file,
        line: d.pos.line,
        column: d.pos.col,
      })),
    };
    if (r.applied) this.reloads++;
    else this.reloadsRejected++;
    const first = r.diagnostics.find((d) => d.severity === 'error');
    this.history.add({
      kind: 'reload',
      subject: 'daemon',
      before: null,
      after: r.applied ? 'applied' : 'rejected',
      cause: r.applied
        ? { kind: 'reload', text: `config reloaded (${warnings} warning${warnings === 1 ? '' : 's'})`, facts: { warnings, hash: this.configHash.slice(0, 12) } }
        : {
            kind: 'config',
            text: `reload rejected: ${errors} error${errors === 1 ? '' : 's'}${first ? `, first ${first.pos.file}:${first.pos.line}:${first.pos.col}: ${first.message}` : ''}`,
            facts: { errors },
          },
    });
  }

  vrrpProcessDied(d: { pid: number | undefined; reason: string; restartInMs: number; resume: readonly string[] }): void {
    this.vrrpRestarts++;
    this.lastVrrpRestart = { at: this.now(), reason: d.reason };
    this.vrrpCache = undefined;
    this.history.add({
      kind: 'vrrp-process',
      subject: 'vrrp-process',
      before: d.pid ?? null,
      after: 'restarting',
      cause: {
        kind: 'vrrp-process',
        text: `the VRRP process ${d.pid ?? ''} died (${d.reason}); restarting it in ${d.restartInMs} ms${d.resume.length ? `, resuming ${d.resume.join(', ')} as master` : ''}`,
        facts: { pid: d.pid ?? null, reason: d.reason, restartInMs: d.restartInMs },
      },
    });
  }

  /**
   * A transition of an instance or a sync group, as the daemon hands it to
   * the hooks, with the master the VRRP process had last heard when it
   * happened (without it, the one in the last copy of the VRRP status).
   */
  transition(e: VrrpTransitionEvent, master?: { address: string; priority: number }): void {
    this.changed();
    const settings = e.kind === 'instance' ? this.settingsOf(e.name) : undefined;
    const cause = settings
      ? transitionCause(e.to, e.reason, this.contextOf(settings, e.priority, master))
      : { kind: 'sync-group' as const, text: e.reason || `sync group ${e.to}` };
    this.instanceCauses.set(`${e.kind}:${e.name}`, { since: e.time, cause });
    this.history.add({
      kind: e.kind === 'instance' ? 'vrrp-transition' : 'group-transition',
      subject: e.name,
      before: e.from,
      after: e.to,
      cause,
      time: e.time,
    });
  }

  priority(e: PriorityChangeEvent): void {
    this.changed();
    const settings = this.settingsOf(e.instance);
    const cause = (settings && priorityCause(settings.priority, e.to, this.trackersOf(settings))) ?? {
      kind: 'priority' as const,
      text: `priority ${e.from} -> ${e.to}`,
    };
    this.history.add({ kind: 'priority', subject: e.instance, before: e.from, after: e.to, cause, time: e.time });
  }

  tracker(t: { type: string; name: string; up: boolean; value?: number; disabled?: string; time: number }, before: boolean | undefined): void {
    const st = this.options.sources.trackers().find((x) => x.type === t.type && x.name === t.name);
    const cause = t.disabled
      ? { kind: 'tracker' as const, text: `${t.type} ${t.name} is disabled: ${t.disabled}` }
      : trackerCause({
          type: t.type,
          name: t.name,
          state: t.up ? 'up' : 'down',
          value: t.value ?? null,
          lastResult: st?.message ?? null,
        });
    this.history.add({
      kind: 'tracker',
      subject: `${t.type} ${t.name}`,
      before: before === undefined ? null : before ? 'up' : 'down',
      after: t.disabled ? 'disabled' : t.up ? 'up' : 'down',
      cause,
      time: t.time,
    });
  }

  /** Real-server, quorum and VIP changes, as they are published to the notifiers. */
  notifyEvent(e: NotifyEvent): void {
    switch (e.type) {
      case 'real-server': {
        const rs = `${e.realServer.address}:${e.realServer.port}`;
        const cause: Cause = {
          kind: e.stopping ? 'stop' : 'check',
          text: e.reason,
          facts: { virtualServer: e.virtualServer, realServer: rs, up: e.up, weight: e.weight },
        };
        this.serverCauses.set(`${e.virtualServer}/${rs}`, { since: e.time, cause });
        this.history.add({
          kind: 'real-server',
          subject: `${e.virtualServer}/${rs}`,
          before: e.up ? 'down' : 'up',
          after: e.up ? 'up' : 'down',
          cause,
          time: e.time,
        });
        break;
      }
      case 'quorum':
        this.history.add({
          kind: 'quorum',
          subject: e.virtualServer,
          before: e.up ? 'lost' : 'up',
          after: e.up ? 'up' : 'lost',
          cause: {
            kind: e.stopping ? 'stop' : 'quorum',
            text: `alive weight ${e.alive} ${e.up ? '>=' : '<'} quorum ${e.quorum}`,
            facts: { alive: e.alive, quorum: e.quorum },
          },
          time: e.time,
        });
        break;
      case 'vip':
        this.history.add({
          kind: 'vip',
          subject: e.instance,
          before: e.address,
          after: e.action,
          cause: {
            kind: 'vip',
            text: `${e.address} ${e.action === 'restored' ? 'was removed by someone else and put back' : 'was removed and cannot be put back'}: ${e.reason}`,
          },
          time: e.time,
        });
        break;
      default:
        break;
    }
  }

  delivery(d: DeliveryOutcome): void {
    const what = describeEvent(d.event);
    const ok = d.outcome === 'sent';
    // a success is worth a line only when it follows failures
    if (ok && d.attempt === 1) {
      this.history.add({ kind: 'delivery', subject: d.notifier, before: null, after: 'sent', cause: { kind: 'delivery', text: `${what} sent` } });
      return;
    }
    if (d.outcome === 'retry' && d.attempt > 1) return;
    this.history.add({
      kind: ok ? 'delivery' : 'delivery-failed',
      subject: d.notifier,
      before: null,
      after: d.outcome,
      cause: {
        kind: 'delivery',
        text: ok
          ? `${what} sent on attempt ${d.attempt}`
          : `${what}: ${d.outcome === 'retry' ? 'failed, will retry' : d.outcome === 'expired' ? 'given up' : 'failed for good'}: ${d.error ?? ''}`,
        facts: { attempt: d.attempt, outcome: d.outcome },
      },
    });
  }

  // ---- StatusProvider ----

  timeline(q?: { readonly since?: number; readonly limit?: number }): readonly TimelineEvent[] {
    return this.history.query(q);
  }

  subscribe(listener: (e: TimelineEvent) => void): () => void {
    return this.history.subscribe(listener);
  }

  plugins(): readonly PluginInfo[] {
    return this.options.sources.plugins();
  }

  snapshot(opts: { readonly maxAgeMs?: number } = {}): Promise<StatusDocument> {
    const maxAge = opts.maxAgeMs ?? 0;
    if (maxAge > 0) {
      const last = this.lastDoc;
      const age = last ? performance.now() - last.at : Infinity;
      if (last && age <= maxAge) return Promise.resolve(last.doc);
      // older: while a new one is made (in the background), a reader that may share gets the last one,
      // unless that is more than STALE_FACTOR times too old; readers that wait share the one being made
      if (last && age <= maxAge * STALE_FACTOR) {
        if (!this.making) void this.snapshot().catch(() => undefined);
        return Promise.resolve(last.doc);
      }
      if (this.making) return this.making;
    }
    const at = performance.now();
    const making = this.makeDocument();
    this.making = making;
    void making.then(
      (doc) => {
        if (!this.lastDoc || this.lastDoc.at < at) this.lastDoc = { at, doc };
      },
      () => undefined,
    );
    void making
      .finally(() => {
        if (this.making === making) this.making = undefined;
      })
      .catch(() => undefined);
    return making;
  }

  private async makeDocument(): Promise<StatusDocument> {
    const s = this.options.sources;
    const vrrp = await this.vrrpStatus();
    const settings = s.vrrpSettings();
    const checkParts = s.checks(REAL_SERVERS_PER_PART);

    const notify = s.notify();
    const now = this.now();
    const trackers = this.trackerMap();
    // made in parts, a turn of the event loop each (TurnBudget): at thousands
    // of instances and real servers no part holds up the checks for long
    const budget = new TurnBudget();
    const byName = new Map((settings?.instances ?? []).map((i) => [i.name, i]));
    const instances: InstanceStatusDoc[] = [];
    for (const i of vrrp?.instances ?? []) {
      instances.push(this.instanceDoc(i, byName.get(i.name), trackers));
      if (budget.spent()) await budget.next();
    }
    const virtualServers: VirtualServerStatusDoc[] = [];
    for (const part of checkParts ?? []) {
      virtualServers.push(...this.virtualServers(part));
      if (budget.spent()) await budget.next();
    }
    return {
      version: STATUS_VERSION,
      generatedAt: now,
      daemon: {
        version: ALIVED_VERSION,
        pid: process.pid,
        configFile: this.options.configFile,
        configHash: this.configHash,
        configFiles: this.configFiles,
        startedAt: this.startedAt,
        uptimeMs: now - this.startedAt,
        stateDir: this.options.stateDir ?? null,
        instance: this.options.instance ?? null,
        reloads: this.reloads,
        reloadsRejected: this.reloadsRejected,
        lastReload: this.lastReload,
        vrrpProcess: settings
          ? {
              pid: s.vrrpPid() ?? null,
              restarts: this.vrrpRestarts,
              lastRestart: this.lastVrrpRestart,
              advertLateness: vrrp?.advertLateness ?? null,
            }
          : null,
        eventLoopLag: {
          meanMs: nsToMs(this.lag.mean),
          p99Ms: nsToMs(this.lag.percentile(99)),
          maxMs: nsToMs(this.lag.max),
        },
      },
      vrrp: {
        running: vrrp !== undefined,
        instances,
        syncGroups: (vrrp?.groups ?? []).map((g) => ({ name: g.name, state: g.state, members: g.members })),
        otherVrids: vrrp?.otherVrids ?? 0,
      },
      virtualServers,
      notify: {
        outbox: notify?.outbox ?? null,
        published: notify?.published ?? 0,
        notifiers: (notify?.notifiers ?? []).map((n) => ({
          id: n.id,
          kind: n.kind,
          name: n.name,
          plugin: n.plugin ?? null,
          sent: n.sent,
          failed: n.failed,
          expired: n.expired,
          retrying: n.retrying,
          outboxDepth: n.pending,
          oldestPendingMs: n.oldestPendingMs ?? null,
          lastSentAt: n.lastSentAt ?? null,
          lastError: n.lastError ?? null,
          lastErrorAt: n.lastErrorAt ?? null,
        })),
      },
    };
  }

  /** One shared copy of the VRRP process's status, at most vrrpMaxAgeMs old. */
  private async vrrpStatus(): Promise<EngineStatus | undefined> {
    const maxAge = this.options.vrrpMaxAgeMs ?? 1000;
    const c = this.vrrpCache;
    if (c && performance.now() - c.at < maxAge) return c.status;
    this.vrrpAsking ??= (async () => {
      try {
        const asked = this.options.sources.vrrp();
        if (!asked) return undefined;
        const at = performance.now();
        const status = await asked;
        this.vrrpCache = { at, status };
        return status;
      } catch (err) {
        this.options.log.warn({ code: 'ALIVED_STATUS_UNAVAILABLE', err: errorText(err) }, `status: the VRRP process did not answer: ${errorText(err)}`);
        return this.vrrpCache?.status;
      } finally {
        this.vrrpAsking = undefined;
      }
    })();
    return this.vrrpAsking;
  }

  private trackerMap(): Map<string, TrackerStatus> {
    return new Map(this.options.sources.trackers().map((t) => [trackerKey(t.type, t.name), t]));
  }

  private settingsOf(name: string): InstanceSettings | undefined {
    return this.options.sources.vrrpSettings()?.instances.find((i) => i.name === name);
  }

  private trackersOf(settings: InstanceSettings, map = this.trackerMap()): TrackerOfInstance[] {
    return instanceTrackers(settings, map);
  }

  private contextOf(settings: InstanceSettings, effective: number, master?: { address: string; priority: number }) {
    const trackers = this.trackersOf(settings);
    const known = master ?? this.vrrpCache?.status.instances.find((i) => i.name === settings.name)?.master;
    return {
      priority: priorityCause(settings.priority, effective, trackers),
      effectivePriority: effective,
      trackers,
      ...(known ? { master: known } : {}),
    };
  }

  private instanceDoc(i: InstanceStatus, settings: InstanceSettings | undefined, trackerMap: Map<string, TrackerStatus>): InstanceStatusDoc {
    const trackers = settings ? instanceTrackers(settings, trackerMap) : [];
    const pCause = settings ? priorityCause(i.priority, i.effectivePriority, trackers) : null;
    const last = this.instanceCauses.get(`instance:${i.name}`);
    const selfMaster = i.state === 'MASTER';
    const cause = stateCause(i.state, last?.cause ?? (i.reason ? { kind: 'other', text: i.reason } : null), {
      priority: pCause,
      effectivePriority: i.effectivePriority,
      trackers,
      fault: i.fault ?? null,
      waiting: i.waiting ?? [],
      nopreempt: settings ? !settings.preempt : false,
      ...(i.master && !selfMaster ? { master: i.master } : {}),
    });
    const c = i.counters;
    return {
      name: i.name,
      state: i.state,
      wantedState: settings?.initialState ?? 'BACKUP',
      vrid: i.vrid,
      version: i.version,
      family: i.family === 6 ? 'inet6' : 'inet',
      interface: i.interface,
      basePriority: i.priority,
      effectivePriority: i.effectivePriority,
      advertIntervalMs: i.advertIntCs * 10,
      master: selfMaster
        ? { address: i.sourceAddress ?? '', priority: i.effectivePriority, self: true }
        : i.master
          ? { address: i.master.address, priority: i.master.priority, self: false }
          : null,
      syncGroup: i.syncGroup ?? null,
      since: last?.since ?? i.since ?? null,
      cause,
      priorityCause: pCause,
      fault: i.fault ?? null,
      waiting: i.waiting ?? [],
      vips: i.vips,
      trackers,
      counters: c
        ? {
            advert_rcvd: c.advertRcvd,
            advert_sent: c.advertSent,
            become_master: c.becomeMaster,
            release_master: c.releaseMaster,
            packet_len_err: c.packetLenErr,
            advert_interval_err: c.advertIntervalErr,
            ip_ttl_err: c.ipTtlErr,
            invalid_type_rcvd: c.invalidTypeRcvd,
            addr_list_err: c.addrListErr,
            invalid_authtype: c.invalidAuthType,
            authtype_mismatch: c.authTypeMismatch,
            auth_failure: c.authFailure,
            pri_zero_rcvd: c.priZeroRcvd,
            pri_zero_sent: c.priZeroSent,
          }
        : NO_COUNTERS,
      extraCounters: {
        checksum_err: c?.checksumErr ?? 0,
        version_err: c?.versionErr ?? 0,
        vrid_err: c?.vridErr ?? 0,
        vip_restored: c?.vipRestored ?? 0,
        vip_lost: c?.vipLost ?? 0,
      },
    };
  }

  private virtualServers(vss: CheckServiceStatus['virtualServers']): VirtualServerStatusDoc[] {
    return vss.map((vs) => ({
      name: vs.name,
      address: vs.key.kind === 'address' ? vs.key.address : null,
      port: vs.key.kind === 'address' ? vs.key.port : null,
      fwmark: vs.key.kind === 'fwmark' ? vs.key.fwmark : null,
      group: vs.key.kind === 'group' ? vs.key.group : null,
      protocol: vs.protocol ? (vs.protocol.toUpperCase() as 'TCP' | 'UDP' | 'SCTP') : null,
      scheduler: vs.scheduler,
      quorum: vs.quorum,
      hysteresis: vs.hysteresis,
      quorumUp: vs.quorumUp,
      aliveWeight: vs.aliveWeight,
      sorryServer: vs.sorryServer ? { name: vs.sorryServer.name, inUse: vs.sorryServer.active } : null,
      realServers: vs.realServers.map((rs) => {
        const key = `${vs.name}/${rs.address}:${rs.port}`;
        const last = this.serverCauses.get(key);
        const failing = rs.checkers.filter((c) => c.hasRun && !c.up);
        const cause: Cause | null =
          !rs.alive && failing.length > 0
            ? {
                kind: 'check',
                // a checker's message names it and its target already (`TCP_CHECK 10.0.0.5:80: connection refused`)
                text: failing
                  .map((c) =>
                    c.last?.message.startsWith(c.keyword)
                      ? c.last.message
                      : `${c.keyword} on ${c.target.address}:${c.target.port} failed${c.last ? `: ${c.last.message}` : ''}`,
                  )
                  .join('; '),
                facts: { failedCheckers: failing.length },
              }
            : (last?.cause ?? null);
        return {
          name: rs.name,
          address: rs.address,
          port: rs.port,
          up: rs.alive,
          weight: rs.weight,
          configuredWeight: rs.configuredWeight,
          inhibit: rs.inhibit,
          since: last?.since ?? null,
          cause,
          checkers: rs.checkers.map((c) => ({
            keyword: c.keyword,
            plugin: c.plugin,
            target: `${c.target.address}:${c.target.port}`,
            up: c.up,
            last: c.last ? { ok: c.last.ok, message: c.last.message, latencyMs: Math.round(c.last.durationMs * 1000) / 1000, at: c.last.time } : null,
            checks: c.checks,
            failures: c.failures,
            consecutiveFailures: c.failedInARow,
            error: c.error ?? null,
          })),
        };
      }),
    }));
  }
}

/** real servers read from the checks at a time (a turn ends after one such part once its time is spent) */
const REAL_SERVERS_PER_PART = 25;

function nsToMs(ns: number): number {
  return Number.isFinite(ns) ? Math.round(ns / 1e3) / 1e3 : 0;
}
