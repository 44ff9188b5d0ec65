/**
 * The status document: what alived is doing, in one typed, versioned shape.
 * Every surface is made from it (the HTTP API, Prometheus /metrics,
 * keepalived's JSON and data dumps, `alived status`). docs/status.md lists
 * every field; a test keeps that list equal to these types.
 *
 * Times are milliseconds since the epoch unless a name says otherwise.
 * A field that does not apply is absent or null, never a made-up value.
 */

/** The document's version: raised when a field changes meaning or goes away (new fields do not raise it). */
export const STATUS_VERSION = 1;

/** What a cause is about, for programs; the words are in `text`. */
export type CauseKind =
  | 'advert'
  | 'master-down'
  | 'priority'
  | 'tracker'
  | 'interface'
  | 'fault'
  | 'vip'
  | 'sync-group'
  | 'check'
  | 'quorum'
  | 'reload'
  | 'config'
  | 'start'
  | 'stop'
  | 'vrrp-process'
  | 'delivery'
  | 'other';

/** A plain value a cause or a timeline event carries: numbers, strings, booleans, null. */
export type Fact = string | number | boolean | null;

/**
 * Why something happened, as words and as structure. `because` follows the
 * chain: a transition to BACKUP because of an advert with a higher
 * priority, because our priority fell, because a tracker failed.
 */
export interface Cause {
  readonly kind: CauseKind;
  /** one line, for people: `tracker chk_nginx failed (exit 1: "connection refused")` */
  readonly text: string;
  /** the values the words are made of, by name */
  readonly facts?: Readonly<Record<string, Fact>>;
  readonly because?: Cause;
}

/** One diagnostic of a (re)load: where and what. */
export interface StatusDiagnostic {
  readonly severity: 'error' | 'warning' | 'note';
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface ReloadStatus {
  readonly at: number;
  readonly applied: boolean;
  readonly durationMs: number;
  readonly errors: number;
  readonly warnings: number;
  /** the first diagnostics (at most 50) */
  readonly diagnostics: readonly StatusDiagnostic[];
}

export interface LagStatus {
  /** event-loop delay of the process that serves the status, ms (since the last reset, over about a minute) */
  readonly meanMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface VrrpProcessStatus {
  /** pid of the VRRP process while it runs */
  readonly pid: number | null;
  /** times it was started again after it died */
  readonly restarts: number;
  readonly lastRestart: { readonly at: number; readonly reason: string } | null;
  /** how late the VRRP process's adverts went out after their due time, ms (the VRRP clock's) */
  readonly advertLateness: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number } | null;
}

export interface DaemonStatus {
  readonly version: string;
  readonly pid: number;
  readonly configFile: string;
  /** sha256 of the config's files, in the order they were read */
  readonly configHash: string;
  readonly configFiles: readonly string[];
  readonly startedAt: number;
  readonly uptimeMs: number;
  /** --state-dir and --instance, when given */
  readonly stateDir: string | null;
  readonly instance: string | null;
  /** reloads applied */
  readonly reloads: number;
  /** reloads refused for errors in the new config */
  readonly reloadsRejected: number;
  readonly lastReload: ReloadStatus | null;
  readonly vrrpProcess: VrrpProcessStatus | null;
  readonly eventLoopLag: LagStatus;
}

export type VrrpStateName = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP' | 'DELETED';

export interface VipStatus {
  /** `10.0.0.1/24` */
  readonly address: string;
  readonly dev: string;
  /** in the kernel now, as the VRRP process last saw it (a master holds its VIPs, a backup none) */
  readonly present: boolean;
}

export interface TrackerOfInstance {
  /** `vrrp_script`, `track_file`, `track_process`, `track_interface`, a plugin's keyword */
  readonly type: string;
  readonly name: string;
  readonly weight: number;
  readonly reverse: boolean;
  readonly state: 'up' | 'down' | 'unknown' | 'disabled';
  /** a track_file's number */
  readonly value: number | null;
  /** what the tracker last said (a script's exit and first line of output) */
  readonly lastResult: string | null;
  /** when its state last changed */
  readonly since: number | null;
  /** what it does to the priority now: a number added, or `fault` */
  readonly effect: number | 'fault';
}

/** keepalived's counters of an instance, by keepalived's names (its JSON dump's `stats`) */
export interface KeepalivedCounters {
  readonly advert_rcvd: number;
  readonly advert_sent: number;
  readonly become_master: number;
  readonly release_master: number;
  readonly packet_len_err: number;
  readonly advert_interval_err: number;
  readonly ip_ttl_err: number;
  readonly invalid_type_rcvd: number;
  readonly addr_list_err: number;
  readonly invalid_authtype: number;
  readonly authtype_mismatch: number;
  readonly auth_failure: number;
  readonly pri_zero_rcvd: number;
  readonly pri_zero_sent: number;
}

export interface InstanceStatusDoc {
  readonly name: string;
  readonly state: VrrpStateName;
  /** the state the config asks for at start (`state MASTER` / `BACKUP`) */
  readonly wantedState: 'MASTER' | 'BACKUP';
  readonly vrid: number;
  readonly version: number;
  readonly family: 'inet' | 'inet6';
  readonly interface: string;
  readonly basePriority: number;
  readonly effectivePriority: number;
  readonly advertIntervalMs: number;
  /** the current master as last heard (itself while master); null before any advert */
  readonly master: { readonly address: string; readonly priority: number; readonly self: boolean } | null;
  readonly syncGroup: string | null;
  /** when it entered this state */
  readonly since: number | null;
  /** why it is in this state */
  readonly cause: Cause | null;
  /** why the effective priority is what it is (null when it is the base priority) */
  readonly priorityCause: Cause | null;
  /** why it is in FAULT; what it waits for in INIT */
  readonly fault: string | null;
  readonly waiting: readonly string[];
  readonly vips: readonly VipStatus[];
  readonly trackers: readonly TrackerOfInstance[];
  readonly counters: KeepalivedCounters;
  /** alived's counters beyond keepalived's */
  readonly extraCounters: {
    readonly checksum_err: number;
    readonly version_err: number;
    readonly vrid_err: number;
    readonly vip_restored: number;
    readonly vip_lost: number;
  };
}

export interface SyncGroupStatusDoc {
  readonly name: string;
  readonly state: VrrpStateName;
  readonly members: readonly string[];
}

export interface CheckerStatusDoc {
  readonly keyword: string;
  readonly plugin: string;
  /** what it probes: `10.0.0.5:80` */
  readonly target: string;
  readonly up: boolean;
  readonly last: { readonly ok: boolean; readonly message: string; readonly latencyMs: number; readonly at: number } | null;
  readonly checks: number;
  readonly failures: number;
  /** failed checks in a row, up to now */
  readonly consecutiveFailures: number;
  /** why it cannot run at all */
  readonly error: string | null;
}

export interface RealServerStatusDoc {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly up: boolean;
  /** the weight IPVS has for it now (0 when inhibited down) */
  readonly weight: number;
  readonly configuredWeight: number;
  readonly inhibit: boolean;
  readonly since: number | null;
  /** why it is up or out */
  readonly cause: Cause | null;
  readonly checkers: readonly CheckerStatusDoc[];
}

export interface VirtualServerStatusDoc {
  /** as keepalived's logs name it: `[10.0.0.1]:tcp:80`, `FWM 7`, `[web]:0` */
  readonly name: string;
  /** what it is: an address and port, a firewall mark, or a virtual_server_group (the others null) */
  readonly address: string | null;
  readonly port: number | null;
  readonly fwmark: number | null;
  readonly group: string | null;
  /** `TCP`, `UDP`, `SCTP`; null without a protocol (fwmark) */
  readonly protocol: 'TCP' | 'UDP' | 'SCTP' | null;
  /** lvs_sched: `wlc`, `rr`, ... */
  readonly scheduler: string;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly quorumUp: boolean;
  readonly aliveWeight: number;
  readonly sorryServer: { readonly name: string; readonly inUse: boolean } | null;
  readonly realServers: readonly RealServerStatusDoc[];
}

export interface NotifierStatusDoc {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly plugin: string | null;
  readonly sent: number;
  readonly failed: number;
  readonly expired: number;
  readonly retrying: number;
  /** events waiting or being delivered (in the outbox when it is durable) */
  readonly outboxDepth: number;
  readonly oldestPendingMs: number | null;
  readonly lastSentAt: number | null;
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
}

export interface StatusDocument {
  readonly version: typeof STATUS_VERSION;
  readonly generatedAt: number;
  readonly daemon: DaemonStatus;
  readonly vrrp: {
    readonly running: boolean;
    readonly instances: readonly InstanceStatusDoc[];
    readonly syncGroups: readonly SyncGroupStatusDoc[];
    /** packets for a VRID none of the instances has */
    readonly otherVrids: number;
  };
  readonly virtualServers: readonly VirtualServerStatusDoc[];
  readonly notify: {
    /** the outbox directory (null: in memory only) */
    readonly outbox: string | null;
    readonly published: number;
    readonly notifiers: readonly NotifierStatusDoc[];
  };
}

/** What a timeline event is about. */
export type TimelineKind =
  | 'vrrp-transition'
  | 'group-transition'
  | 'priority'
  | 'tracker'
  | 'vip'
  | 'real-server'
  | 'quorum'
  | 'reload'
  | 'delivery'
  | 'delivery-failed'
  | 'vrrp-process'
  | 'daemon';

/** One thing that happened, with its cause and the values before and after. */
export interface TimelineEvent {
  /** increasing across restarts: `since` asks for the events after one */
  readonly seq: number;
  readonly time: number;
  readonly kind: TimelineKind;
  /** what changed: an instance, a group, `vs/rs`, a notifier id, `daemon` */
  readonly subject: string;
  readonly before: Fact;
  readonly after: Fact;
  readonly cause: Cause;
}

/** A plugin as `alived plugins` and the API list it. */
export interface PluginInfo {
  readonly name: string;
  readonly version: string;
  /** where it was enabled (null for built-ins) */
  readonly enabledAt: string | null;
  readonly builtin: boolean;
  /** what it registers: keywords by slot, checkers, trackers, notifiers */
  readonly keywords: readonly string[];
  readonly checkers: readonly string[];
  readonly trackers: readonly string[];
  readonly notifiers: readonly string[];
}

/**
 * What the core gives plugins (api.status) and the API server: the status
 * now, the timeline, and each new timeline event as it happens. The
 * document is made on demand; the VRRP part comes from a copy the VRRP
 * process sends at most about once a second, so reading it costs that
 * process nothing.
 */
export interface StatusProvider {
  snapshot(): Promise<StatusDocument>;
  /** events with seq > since (all kept ones without), oldest first, at most `limit` (the newest ones) */
  timeline(query?: { readonly since?: number; readonly limit?: number }): readonly TimelineEvent[];
  /** called with every new event; returns the unsubscribe function */
  subscribe(listener: (event: TimelineEvent) => void): () => void;
  plugins(): readonly PluginInfo[];
}
