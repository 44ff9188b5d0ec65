import type {
  CheckerStatusDoc,
  InstanceStatusDoc,
  KeepalivedCounters,
  NotifierStatusDoc,
  RealServerStatusDoc,
  StatusDocument,
  VirtualServerStatusDoc,
  VrrpStateName,
} from '../../core/sdk';
import { TurnBudget } from '../../core/sdk';

/*
 * The status document as Prometheus metrics, in two halves. This one reads
 * the document and lists the series it has, with their values, in a Frame
 * of plain arrays; it needs no prom-client and does little work, so it runs
 * in the daemon's thread. The other (page.ts) sets prom-client's metrics
 * from a frame and renders the page, which is most of the work, in a worker
 * thread. A frame's layout (which series, with which labels) is the same
 * from scrape to scrape until the config changes, so it is sent once and
 * then only the values are.
 *
 * keepalived_* follow mehdy/keepalived-exporter (names, label names and
 * their order, types, the state numbers), so dashboards and alerts made for
 * that exporter work on alived unchanged; alived_* add what it does not
 * have. docs/metrics.md lists them all. Labels are names from the config
 * (instances, interfaces, virtual and real servers, checker keywords,
 * notifier ids) and fixed words; no state, message or other free text is
 * ever a label, which keeps both the number of series and what the page
 * shows bounded.
 */

/** keepalived's numbers for the states, as its JSON dump and the exporter give them. */
export const VRRP_STATE_VALUES: Readonly<Record<VrrpStateName, number>> = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3, DELETED: 97, STOP: 98 };

/** keepalived's per-instance counters, under the exporter's names. */
export const KEEPALIVED_COUNTERS: ReadonlyArray<{ readonly name: string; readonly counter: keyof KeepalivedCounters; readonly help: string }> = [
  { name: 'keepalived_advertisements_received_total', counter: 'advert_rcvd', help: 'VRRP advertisements received' },
  { name: 'keepalived_advertisements_sent_total', counter: 'advert_sent', help: 'VRRP advertisements sent' },
  { name: 'keepalived_become_master_total', counter: 'become_master', help: 'Times the instance became MASTER' },
  { name: 'keepalived_release_master_total', counter: 'release_master', help: 'Times the instance left MASTER' },
  { name: 'keepalived_packet_length_errors_total', counter: 'packet_len_err', help: 'Advertisements received with a bad packet length' },
  { name: 'keepalived_advertisements_interval_errors_total', counter: 'advert_interval_err', help: 'Advertisements received with an interval other than ours' },
  { name: 'keepalived_ip_ttl_errors_total', counter: 'ip_ttl_err', help: 'Advertisements received with an IP TTL (hop limit) other than 255' },
  { name: 'keepalived_invalid_type_received_total', counter: 'invalid_type_rcvd', help: 'VRRP packets received with a type other than advertisement' },
  { name: 'keepalived_address_list_errors_total', counter: 'addr_list_err', help: "Advertisements received whose address list differs from the instance's" },
  { name: 'keepalived_authentication_invalid_total', counter: 'invalid_authtype', help: 'Advertisements received with an unknown authentication type' },
  {
    name: 'keepalived_authentication_mismatch_total',
    counter: 'authtype_mismatch',
    help: "Advertisements received with an authentication type other than the instance's",
  },
  { name: 'keepalived_authentication_failure_total', counter: 'auth_failure', help: 'Advertisements received that failed authentication' },
  { name: 'keepalived_priority_zero_received_total', counter: 'pri_zero_rcvd', help: 'Advertisements with priority 0 received (the master is leaving)' },
  { name: 'keepalived_priority_zero_sent_total', counter: 'pri_zero_sent', help: 'Advertisements with priority 0 sent (leaving MASTER)' },
];
/**
 * Upper bounds of the check duration histogram, seconds: 1 ms to past the
 * default connect timeout (5 s). Few on purpose: each is a series per
 * virtual server and checker.
 */
export const CHECK_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** A gauge or counter of the page: its name, HELP, type and label names in order. */
export interface MetricDef {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly labelNames: readonly string[];
}

export const KEEPALIVED_UP_HELP = 'Whether alived answered with its status (1) or not (0)';
export const ALIVED_INFO_HELP = 'The alived version, as a label (the value is always 1)';
export const CHECK_DURATION_NAME = 'alived_check_duration_seconds';
export const CHECK_DURATION_LABELS: readonly string[] = ['virtual_server', 'checker'];
// A histogram of check durations sampled at each scrape: the checker's last
// result is observed once, when it is newer than the one observed before.
// Checks that ran between two scrapes and were replaced by a newer one
// before the second are not in it (alived_check_results_total counts every
// check). One per virtual server and checker, not per real server: its 12
// series per label set would be most of the page of a large pool; each real
// server's own last duration is one gauge.
export const CHECK_DURATION_HELP =
  "How long the checks of the virtual server's real servers took, sampled: each checker's last result at each scrape, counted once";

const METRICS: MetricDef[] = [];
/** Adds a metric to METRICS; its number there is how frames name it. */
function metric(type: MetricDef['type'], name: string, help: string, labelNames: readonly string[] = []): number {
  return METRICS.push({ name, help, type, labelNames }) - 1;
}

const VRRP_LABELS = ['iname', 'intf', 'vrid'];
const RS_LABELS = ['virtual_server', 'real_server'];
const CHECKER_LABELS = [...RS_LABELS, 'checker'];

const M = {
  keepalivedUp: metric('gauge', 'keepalived_up', KEEPALIVED_UP_HELP),
  vrrpState: metric('gauge', 'keepalived_vrrp_state', 'State of the VRRP instance, one series per VIP: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT', [
    ...VRRP_LABELS,
    'ip_address',
  ]),
  keepalivedCounters: KEEPALIVED_COUNTERS.map((c) => ({ id: metric('counter', c.name, c.help, VRRP_LABELS), counter: c.counter })),
  info: metric('gauge', 'alived_info', ALIVED_INFO_HELP, ['version']),
  startTime: metric('gauge', 'alived_start_time_seconds', 'When the daemon started, seconds since the epoch'),
  reloads: metric('counter', 'alived_reloads_total', 'Config reloads applied'),
  reloadsRejected: metric('counter', 'alived_reloads_rejected_total', 'Config reloads refused for errors in the new config'),
  loopLag: metric('gauge', 'alived_event_loop_lag_seconds', 'Event-loop delay of the process that serves the status, over about the last minute', ['stat']),
  vrrpRestarts: metric('counter', 'alived_vrrp_process_restarts_total', 'Times the VRRP process was started again after it died'),
  advertLateness: metric('gauge', 'alived_vrrp_advert_lateness_seconds', 'How late adverts went out after their due time, over the recent adverts', ['stat']),
  priority: metric('gauge', 'alived_instance_priority', 'VRRP priority of the instance: the configured one (base) and the one it advertises (effective)', [
    'iname',
    'kind',
  ]),
  rsUp: metric('gauge', 'alived_real_server_up', 'Whether the real server is up (1) or out (0) after its checks', RS_LABELS),
  rsWeight: metric('gauge', 'alived_real_server_weight', 'Weight IPVS has for the real server now (0 when inhibited down)', RS_LABELS),
  checkerUp: metric('gauge', 'alived_checker_up', "Whether the checker's state for the real server is up (1) or down (0)", CHECKER_LABELS),
  checkResults: metric('counter', 'alived_check_results_total', 'Checks run, by result', [...CHECKER_LABELS, 'result']),
  checkLastDuration: metric('gauge', 'alived_check_last_duration_seconds', "How long the checker's last check took", CHECKER_LABELS),
  quorumUp: metric('gauge', 'alived_virtual_server_quorum_up', 'Whether the virtual server has its quorum (1) or not (0)', ['virtual_server']),
  aliveWeight: metric('gauge', 'alived_virtual_server_alive_weight', 'Sum of the weights of the real servers that are up', ['virtual_server']),
  sorryActive: metric('gauge', 'alived_sorry_server_active', 'Whether the sorry server is in use (1) or not (0); only virtual servers that have one', [
    'virtual_server',
  ]),
  notifySent: metric('counter', 'alived_notifications_sent_total', 'Notifications delivered', ['notifier']),
  notifyFailed: metric('counter', 'alived_notifications_failed_total', 'Delivery attempts that failed', ['notifier']),
  notifyExpired: metric('counter', 'alived_notifications_expired_total', 'Notifications dropped undelivered when they grew older than max_age', ['notifier']),
  notifyRetrying: metric('gauge', 'alived_notify_retrying', 'Notifications waiting for another attempt after a failure', ['notifier']),
  outboxDepth: metric('gauge', 'alived_notify_outbox_depth', 'Notifications waiting or being delivered', ['notifier']),
  oldestPending: metric('gauge', 'alived_notify_oldest_pending_seconds', 'Age of the oldest notification waiting (0 when none waits)', ['notifier']),
};

/** Every gauge and counter of the page, in the order frames number them (the histogram is apart). */
export const METRIC_DEFS: readonly MetricDef[] = METRICS;

/** Label values are joined with this into a series' key (no name from the config holds it). */
export const LABEL_SEPARATOR = '\u0000';

/** Which series a frame has: series i is of metric `metrics[i]`, with the label values `keys[i]` joined by LABEL_SEPARATOR. */
export interface FrameLayout {
  readonly metrics: Uint16Array;
  readonly keys: string[];
  /** the check duration histogram's series (virtual server and checker, joined) */
  readonly durationKeys: string[];
}

/**
 * One scrape's metrics. `values[i]` is series i's value; NaN where the
 * document has no number for it this time (the series is then left off the
 * page). A counter's value is the daemon's total. `observed` are the check
 * durations to add to the histogram, in seconds, each in series
 * `observedIn[j]` of `durationKeys`.
 */
export type Frame =
  | {
      readonly down: false;
      /** the layout, when it differs from the one of the frame before */
      readonly layout?: FrameLayout;
      readonly values: Float64Array;
      readonly observedIn: Uint32Array;
      readonly observed: Float64Array;
    }
  /** the status could not be had: the page says keepalived_up 0 */
  | { readonly down: true; readonly version: string };

/**
 * Series keys made once and handed out again at each frame: the keys of a
 * node with 10,000 real servers are some 80,000 strings, which joining anew
 * every second would leave to the garbage collector. Nested maps by label
 * value; dropped whole when they grow past a bound (a config that keeps
 * changing), then made again as asked.
 */
class KeyCache {
  private readonly roots: Map<string, unknown>[] = [new Map(), new Map(), new Map()];
  private size = 0;

  constructor(private readonly bound: () => number) {}

  /** the label values joined by LABEL_SEPARATOR (two to four of them; no array made on the way) */
  join(a: string, b: string, c?: string, d?: string): string {
    let level: Map<string, unknown>;
    let last: string;
    if (d !== undefined) {
      level = this.level(this.level(this.level(this.roots[2]!, a), b), c!);
      last = d;
    } else if (c !== undefined) {
      level = this.level(this.level(this.roots[1]!, a), b);
      last = c;
    } else {
      level = this.level(this.roots[0]!, a);
      last = b;
    }
    let key = level.get(last) as string | undefined;
    if (key !== undefined) return key;
    if (++this.size > this.bound()) {
      for (const r of this.roots) r.clear();
      this.size = 0;
      return this.join(a, b, c, d);
    }
    const S = LABEL_SEPARATOR;
    key = d !== undefined ? `${a}${S}${b}${S}${c}${S}${d}` : c !== undefined ? `${a}${S}${b}${S}${c}` : `${a}${S}${b}`;
    level.set(last, key);
    return key;
  }

  private level(map: Map<string, unknown>, value: string): Map<string, unknown> {
    let next = map.get(value) as Map<string, unknown> | undefined;
    if (next === undefined) map.set(value, (next = new Map()));
    return next;
  }
}

/**
 * Reads documents into frames. It keeps the last layout (to send a layout
 * only when it changed) and when each checker's last result was made (to
 * observe each result once).
 */
export class FrameBuilder {
  private layout: FrameLayout | undefined;
  /**
   * The checkers of the last frame in order (`virtual_server\0real_server\0checker`),
   * and when the last result observed of each was made (NaN: none). A
   * checker is looked for at its place in the last frame first, where it is
   * unless the config changed, so a frame hashes no key for it.
   */
  private checkerKeys: string[] = [];
  private checkerAt: number[] = [];
  /** the last frame's checkers by key, made when one is not at its place */
  private checkerAtByKey: Map<string, number> | undefined;
  // the frame being built
  private metrics: number[] = [];
  private keys: string[] = [];
  private values: number[] = [];
  private durationKeys: string[] = [];
  private observedIn: number[] = [];
  private observed: number[] = [];
  private nextCheckerKeys: string[] = [];
  private nextCheckerAt: number[] = [];
  /** keys of this many series or more make the cache start over: twice the last layout's, and some */
  private readonly keyCache = new KeyCache(() => 2 * (this.layout?.keys.length ?? 0) + 10_000);

  /** Makes the next frame carry its whole layout (the page it is applied to has none, or lost it). */
  resend(): void {
    this.layout = undefined;
  }

  /** The frame of `doc`; without one (the status could not be had), a frame that says so. */
  frame(doc: StatusDocument | null, version: string): Frame {
    const steps = this.build(doc, version);
    for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
  }

  /**
   * The same frame, made in parts of a turn of the event loop each
   * (TurnBudget), so that a document of thousands of instances and real
   * servers does not hold the daemon's event loop (its checks, the API) for
   * the whole of it.
   */
  async frameInParts(doc: StatusDocument | null, version: string, budget = new TurnBudget()): Promise<Frame> {
    const steps = this.build(doc, version);
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) return step.value;
      if (budget.spent()) await budget.next();
    }
  }

  /** The frame's steps: it yields after each instance and real server, where a turn may end. */
  private *build(doc: StatusDocument | null, version: string): Generator<void, Frame> {
    if (!doc) return { down: true, version };
    this.metrics = [];
    this.keys = [];
    this.values = [];
    this.durationKeys = [];
    this.observedIn = [];
    this.observed = [];
    this.nextCheckerKeys = [];
    this.nextCheckerAt = [];
    this.put(M.info, doc.daemon.version, 1);
    this.put(M.keepalivedUp, '', 1);
    this.daemon(doc);
    for (const inst of doc.vrrp.instances) {
      this.instance(inst);
      yield;
    }
    for (const vs of doc.virtualServers) {
      this.virtualServerSeries(vs);
      /** the duration histogram's series of this virtual server, by checker label */
      const durationSeries = new Map<string, number>();
      for (const rs of vs.realServers) {
        this.realServer(vs, rs, durationSeries);
        yield;
      }
    }
    for (const n of doc.notify.notifiers) this.notifier(n);
    // checkers that went away are forgotten: a result of one that comes back is a new one
    this.checkerKeys = this.nextCheckerKeys;
    this.checkerAt = this.nextCheckerAt;
    this.checkerAtByKey = undefined;
    const layout: FrameLayout = { metrics: Uint16Array.from(this.metrics), keys: this.keys, durationKeys: this.durationKeys };
    const same = this.layout !== undefined && sameLayout(this.layout, layout);
    if (!same) this.layout = layout;
    return {
      down: false,
      layout: same ? undefined : layout,
      values: Float64Array.from(this.values),
      observedIn: Uint32Array.from(this.observedIn),
      observed: Float64Array.from(this.observed),
    };
  }

  /** A series and its value (NaN: none this time). */
  private put(metric: number, key: string, value: number): void {
    this.metrics.push(metric);
    this.keys.push(key);
    this.values.push(Number.isFinite(value) ? value : NaN);
  }

  /** A counter's total: left off when it is not a finite, non-negative number. */
  private total(metric: number, key: string, total: number): void {
    this.put(metric, key, total >= 0 ? total : NaN);
  }

  private daemon(doc: StatusDocument): void {
    const d = doc.daemon;
    this.put(M.startTime, '', d.startedAt / 1000);
    this.total(M.reloads, '', d.reloads);
    this.total(M.reloadsRejected, '', d.reloadsRejected);
    this.put(M.loopLag, 'mean', d.eventLoopLag.meanMs / 1000);
    this.put(M.loopLag, 'p99', d.eventLoopLag.p99Ms / 1000);
    this.put(M.loopLag, 'max', d.eventLoopLag.maxMs / 1000);
    this.total(M.vrrpRestarts, '', d.vrrpProcess?.restarts ?? 0);
    const late = d.vrrpProcess?.advertLateness;
    if (late) {
      this.put(M.advertLateness, 'p50', late.p50Ms / 1000);
      this.put(M.advertLateness, 'p99', late.p99Ms / 1000);
      this.put(M.advertLateness, 'max', late.maxMs / 1000);
    }
  }

  private instance(inst: InstanceStatusDoc): void {
    const k = this.keyCache;
    const state = VRRP_STATE_VALUES[inst.state];
    const vrid = String(inst.vrid);
    if (state !== undefined) {
      if (inst.vips.length === 0) this.put(M.vrrpState, k.join(inst.name, inst.interface, vrid, ''), state);
      for (const vip of inst.vips) this.put(M.vrrpState, k.join(inst.name, vip.dev, vrid, vip.address), state);
    }
    const key = k.join(inst.name, inst.interface, vrid);
    for (const { id, counter } of M.keepalivedCounters) this.total(id, key, inst.counters[counter]);
    this.put(M.priority, k.join(inst.name, 'base'), inst.basePriority);
    this.put(M.priority, k.join(inst.name, 'effective'), inst.effectivePriority);
  }

  private virtualServerSeries(vs: VirtualServerStatusDoc): void {
    this.put(M.quorumUp, vs.name, vs.quorumUp ? 1 : 0);
    this.put(M.aliveWeight, vs.name, vs.aliveWeight);
    if (vs.sorryServer) this.put(M.sorryActive, vs.name, vs.sorryServer.inUse ? 1 : 0);
  }

  /** A real server's series; `durationSeries`: its virtual server's duration histogram series by checker label, added to. */
  private realServer(vs: VirtualServerStatusDoc, rs: RealServerStatusDoc, durationSeries: Map<string, number>): void {
    const k = this.keyCache;
    const rsKey = k.join(vs.name, rs.name);
    this.put(M.rsUp, rsKey, rs.up ? 1 : 0);
    this.put(M.rsWeight, rsKey, rs.weight);
    const names = rs.checkers.length === 1 ? [rs.checkers[0]!.keyword] : checkerNames(rs.checkers);
    rs.checkers.forEach((c, i) => {
      const checker = names[i]!;
      const key = k.join(vs.name, rs.name, checker);
      this.put(M.checkerUp, key, c.up ? 1 : 0);
      this.total(M.checkResults, k.join(vs.name, rs.name, checker, 'ok'), Math.max(0, c.checks - c.failures));
      this.total(M.checkResults, k.join(vs.name, rs.name, checker, 'failed'), c.failures);
      let series = durationSeries.get(checker);
      if (series === undefined) {
        series = this.durationKeys.push(k.join(vs.name, checker)) - 1;
        durationSeries.set(checker, series);
      }
      this.duration(series, key, c);
    });
  }

  /** The checker's last duration, and its last result in the histogram unless it was observed already. */
  private duration(series: number, key: string, c: CheckerStatusDoc): void {
    const before = this.observedBefore(key);
    this.nextCheckerKeys.push(key);
    const last = c.last;
    if (!last || !Number.isFinite(last.latencyMs) || last.latencyMs < 0) {
      this.nextCheckerAt.push(before);
      return;
    }
    this.put(M.checkLastDuration, key, last.latencyMs / 1000);
    if (last.at <= before) {
      this.nextCheckerAt.push(before);
      return;
    }
    this.nextCheckerAt.push(last.at);
    this.observedIn.push(series);
    this.observed.push(last.latencyMs / 1000);
  }

  /** When the last result observed of the checker `key` (the next one of this frame) was made; NaN if none was. */
  private observedBefore(key: string): number {
    const place = this.nextCheckerKeys.length;
    if (this.checkerKeys[place] === key) return this.checkerAt[place]!;
    if (!this.checkerAtByKey) {
      const byKey = new Map<string, number>();
      this.checkerKeys.forEach((k, i) => byKey.set(k, this.checkerAt[i]!));
      this.checkerAtByKey = byKey;
    }
    return this.checkerAtByKey.get(key) ?? NaN;
  }

  private notifier(n: NotifierStatusDoc): void {
    this.total(M.notifySent, n.id, n.sent);
    this.total(M.notifyFailed, n.id, n.failed);
    this.total(M.notifyExpired, n.id, n.expired);
    this.put(M.notifyRetrying, n.id, n.retrying);
    this.put(M.outboxDepth, n.id, n.outboxDepth);
    this.put(M.oldestPending, n.id, (n.oldestPendingMs ?? 0) / 1000);
  }
}

function sameLayout(a: FrameLayout, b: FrameLayout): boolean {
  if (a.keys.length !== b.keys.length || a.durationKeys.length !== b.durationKeys.length) return false;
  for (let i = 0; i < a.keys.length; i++) if (a.metrics[i] !== b.metrics[i] || a.keys[i] !== b.keys[i]) return false;
  for (let i = 0; i < a.durationKeys.length; i++) if (a.durationKeys[i] !== b.durationKeys[i]) return false;
  return true;
}

/**
 * The checker label of each of a real server's checkers: its keyword, and
 * for a second (third, ...) checker of the same keyword `KEYWORD#2`
 * (`#3`, ...) in config order. The target is not used: an HTTP_GET's
 * could carry a URL's query.
 */
export function checkerNames(checkers: readonly CheckerStatusDoc[]): string[] {
  const seen = new Map<string, number>();
  return checkers.map((c) => {
    const n = (seen.get(c.keyword) ?? 0) + 1;
    seen.set(c.keyword, n);
    return n === 1 ? c.keyword : `${c.keyword}#${n}`;
  });
}
