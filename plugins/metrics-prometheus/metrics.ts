import type * as Prom from 'prom-client';
import type {
  CheckerStatusDoc,
  InstanceStatusDoc,
  KeepalivedCounters,
  NotifierStatusDoc,
  StatusDocument,
  VirtualServerStatusDoc,
  VrrpStateName,
} from '../../core/sdk';

/*
 * The status document as Prometheus metrics. keepalived_* follow
 * mehdy/keepalived-exporter (names, label names and their order, types, the
 * state numbers), so dashboards and alerts made for that exporter work on
 * alived unchanged; alived_* add what it does not have. docs/metrics.md lists
 * them all.
 *
 * Every value is a copy of a number in the document, taken when Prometheus
 * scrapes: each scrape resets the metrics and sets them again from a fresh
 * snapshot, so a series whose subject went away (an instance a reload
 * removed) disappears with it. Labels are names from the config (instances,
 * interfaces, virtual and real servers, checker keywords, notifier ids) and
 * fixed words; no state, message or other free text is ever a label, which
 * keeps both the number of series and what the page shows bounded.
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
 * default connect timeout (5 s). Few on purpose: each is a series per checker,
 * and a pool of 10,000 real servers has 10,000 checkers or more.
 */
export const CHECK_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

const KEEPALIVED_UP_HELP = 'Whether alived answered with its status (1) or not (0)';
const ALIVED_INFO_HELP = 'The alived version, as a label (the value is always 1)';

type Labels = Record<string, string>;
type Mirrored = Prom.Gauge<string> | Prom.Counter<string>;

/**
 * One set of metrics in a private registry: a plugin instance owns one, so
 * two daemons (or a daemon and a test) in one process never share series.
 */
export class StatusMetrics {
  readonly registry: Prom.Registry;
  /** what is served while the status cannot be had: keepalived_up 0 and alived_info */
  private readonly downRegistry: Prom.Registry;
  private readonly downInfo: Prom.Gauge<string>;
  private down = false;
  /** every gauge and counter, reset before each update */
  private readonly mirrored: Mirrored[] = [];
  private readonly gauge: (name: string, help: string, labelNames?: readonly string[]) => Prom.Gauge<string>;
  private readonly counter: (name: string, help: string, labelNames?: readonly string[]) => Prom.Counter<string>;

  private readonly keepalivedUp: Prom.Gauge<string>;
  private readonly vrrpState: Prom.Gauge<string>;
  private readonly keepalivedCounters: Array<{ metric: Prom.Counter<string>; counter: keyof KeepalivedCounters }>;

  private readonly info: Prom.Gauge<string>;
  private readonly startTime: Prom.Gauge<string>;
  private readonly reloads: Prom.Counter<string>;
  private readonly reloadsRejected: Prom.Counter<string>;
  private readonly loopLag: Prom.Gauge<string>;
  private readonly vrrpRestarts: Prom.Counter<string>;
  private readonly advertLateness: Prom.Gauge<string>;
  private readonly priority: Prom.Gauge<string>;

  private readonly rsUp: Prom.Gauge<string>;
  private readonly rsWeight: Prom.Gauge<string>;
  private readonly checkerUp: Prom.Gauge<string>;
  private readonly checkResults: Prom.Counter<string>;
  private readonly checkDuration: Prom.Histogram<string>;
  private readonly checkLastDuration: Prom.Gauge<string>;
  /** when the last result observed of each checker was made, by `virtual_server\0real_server\0checker` */
  private readonly observedAt = new Map<string, number>();
  /** the histogram's series, by `virtual_server\0checker` */
  private readonly durationSeries = new Map<string, Labels>();
  private readonly quorumUp: Prom.Gauge<string>;
  private readonly aliveWeight: Prom.Gauge<string>;
  private readonly sorryActive: Prom.Gauge<string>;

  private readonly notifySent: Prom.Counter<string>;
  private readonly notifyFailed: Prom.Counter<string>;
  private readonly notifyExpired: Prom.Counter<string>;
  private readonly notifyRetrying: Prom.Gauge<string>;
  private readonly outboxDepth: Prom.Gauge<string>;
  private readonly oldestPending: Prom.Gauge<string>;

  constructor(prom: typeof Prom) {
    const registry = new prom.Registry();
    this.registry = registry;
    this.downRegistry = new prom.Registry();
    new prom.Gauge({ name: 'keepalived_up', help: KEEPALIVED_UP_HELP, registers: [this.downRegistry] }).set(0);
    this.downInfo = new prom.Gauge({ name: 'alived_info', help: ALIVED_INFO_HELP, labelNames: ['version'], registers: [this.downRegistry] });
    this.gauge = (name, help, labelNames = []) => this.track(new prom.Gauge({ name, help, labelNames, registers: [registry] }));
    // prom-client's Counter has no set(): a counter that mirrors a total kept
    // elsewhere is reset and then increased by that total on every scrape
    // (reset() and inc() are its public API). It stays a counter on the page
    // (`# TYPE ... counter`), so rate() and increase() apply, and it never
    // goes down unless the daemon's own total does (a restart).
    this.counter = (name, help, labelNames = []) => this.track(new prom.Counter({ name, help, labelNames, registers: [registry] }));

    const vrrpLabels = ['iname', 'intf', 'vrid'];
    this.keepalivedUp = this.gauge('keepalived_up', KEEPALIVED_UP_HELP);
    this.vrrpState = this.gauge('keepalived_vrrp_state', 'State of the VRRP instance, one series per VIP: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT', [
      ...vrrpLabels,
      'ip_address',
    ]);
    this.keepalivedCounters = KEEPALIVED_COUNTERS.map((c) => ({ metric: this.counter(c.name, c.help, vrrpLabels), counter: c.counter }));

    this.info = this.gauge('alived_info', ALIVED_INFO_HELP, ['version']);
    this.startTime = this.gauge('alived_start_time_seconds', 'When the daemon started, seconds since the epoch');
    this.reloads = this.counter('alived_reloads_total', 'Config reloads applied');
    this.reloadsRejected = this.counter('alived_reloads_rejected_total', 'Config reloads refused for errors in the new config');
    this.loopLag = this.gauge('alived_event_loop_lag_seconds', 'Event-loop delay of the process that serves the status, over about the last minute', ['stat']);
    this.vrrpRestarts = this.counter('alived_vrrp_process_restarts_total', 'Times the VRRP process was started again after it died');
    this.advertLateness = this.gauge('alived_vrrp_advert_lateness_seconds', 'How late adverts went out after their due time, over the recent adverts', [
      'stat',
    ]);
    this.priority = this.gauge('alived_instance_priority', 'VRRP priority of the instance: the configured one (base) and the one it advertises (effective)', [
      'iname',
      'kind',
    ]);

    const rsLabels = ['virtual_server', 'real_server'];
    const checkerLabels = [...rsLabels, 'checker'];
    this.rsUp = this.gauge('alived_real_server_up', 'Whether the real server is up (1) or out (0) after its checks', rsLabels);
    this.rsWeight = this.gauge('alived_real_server_weight', 'Weight IPVS has for the real server now (0 when inhibited down)', rsLabels);
    this.checkerUp = this.gauge('alived_checker_up', "Whether the checker's state for the real server is up (1) or down (0)", checkerLabels);
    this.checkResults = this.counter('alived_check_results_total', 'Checks run, by result', [...checkerLabels, 'result']);
    // A histogram of check durations sampled at each scrape: the checker's
    // last result is observed once, when it is newer than the one observed
    // before. Checks that ran between two scrapes and were replaced by a
    // newer one before the second are not in it (alived_check_results_total
    // counts every check). One per virtual server and checker, not per real
    // server: its 12 series per label set would be most of the page of a
    // large pool; each real server's own last duration is one gauge.
    this.checkDuration = new prom.Histogram({
      name: 'alived_check_duration_seconds',
      help: "How long the checks of the virtual server's real servers took, sampled: each checker's last result at each scrape, counted once",
      labelNames: ['virtual_server', 'checker'],
      buckets: [...CHECK_DURATION_BUCKETS],
      registers: [registry],
    });
    this.checkLastDuration = this.gauge('alived_check_last_duration_seconds', "How long the checker's last check took", checkerLabels);
    this.quorumUp = this.gauge('alived_virtual_server_quorum_up', 'Whether the virtual server has its quorum (1) or not (0)', ['virtual_server']);
    this.aliveWeight = this.gauge('alived_virtual_server_alive_weight', 'Sum of the weights of the real servers that are up', ['virtual_server']);
    this.sorryActive = this.gauge('alived_sorry_server_active', 'Whether the sorry server is in use (1) or not (0); only virtual servers that have one', [
      'virtual_server',
    ]);

    this.notifySent = this.counter('alived_notifications_sent_total', 'Notifications delivered', ['notifier']);
    this.notifyFailed = this.counter('alived_notifications_failed_total', 'Delivery attempts that failed', ['notifier']);
    this.notifyExpired = this.counter('alived_notifications_expired_total', 'Notifications dropped undelivered when they grew older than max_age', [
      'notifier',
    ]);
    this.notifyRetrying = this.gauge('alived_notify_retrying', 'Notifications waiting for another attempt after a failure', ['notifier']);
    this.outboxDepth = this.gauge('alived_notify_outbox_depth', 'Notifications waiting or being delivered', ['notifier']);
    this.oldestPending = this.gauge('alived_notify_oldest_pending_seconds', 'Age of the oldest notification waiting (0 when none waits)', ['notifier']);
  }

  private track<M extends Mirrored>(metric: M): M {
    this.mirrored.push(metric);
    return metric;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Sets every metric from `doc`. Without one (the status could not be
   * had) the page holds only keepalived_up 0 and alived_info, as the
   * exporter reports a keepalived it cannot read; the check duration
   * histogram keeps its counts for the next scrape that has a document.
   */
  update(doc: StatusDocument | null, version: string): void {
    this.down = !doc;
    if (!doc) {
      this.downInfo.reset();
      this.downInfo.set({ version }, 1);
      return;
    }
    for (const m of this.mirrored) m.reset();
    this.info.set({ version: doc.daemon.version }, 1);
    this.keepalivedUp.set(1);
    this.updateDaemon(doc);
    for (const inst of doc.vrrp.instances) this.updateInstance(inst);
    const seen = new Set<string>();
    const seenSeries = new Set<string>();
    for (const vs of doc.virtualServers) this.updateVirtualServer(vs, seen, seenSeries);
    for (const key of this.observedAt.keys()) if (!seen.has(key)) this.observedAt.delete(key);
    for (const [key, labels] of this.durationSeries) {
      if (seenSeries.has(key)) continue;
      this.checkDuration.remove(labels);
      this.durationSeries.delete(key);
    }
    for (const n of doc.notify.notifiers) this.updateNotifier(n);
  }

  /** The exposition of what update() set, in the registry's format. */
  render(): Promise<string> {
    return (this.down ? this.downRegistry : this.registry).metrics();
  }

  private updateDaemon(doc: StatusDocument): void {
    const d = doc.daemon;
    setIf(this.startTime, {}, d.startedAt / 1000);
    this.reloads.inc(d.reloads);
    this.reloadsRejected.inc(d.reloadsRejected);
    for (const [stat, ms] of [
      ['mean', d.eventLoopLag.meanMs],
      ['p99', d.eventLoopLag.p99Ms],
      ['max', d.eventLoopLag.maxMs],
    ] as const)
      setIf(this.loopLag, { stat }, ms / 1000);
    this.vrrpRestarts.inc(d.vrrpProcess?.restarts ?? 0);
    const late = d.vrrpProcess?.advertLateness;
    if (late) {
      for (const [stat, ms] of [
        ['p50', late.p50Ms],
        ['p99', late.p99Ms],
        ['max', late.maxMs],
      ] as const)
        setIf(this.advertLateness, { stat }, ms / 1000);
    }
  }

  private updateInstance(inst: InstanceStatusDoc): void {
    const state = VRRP_STATE_VALUES[inst.state];
    const vrid = String(inst.vrid);
    if (state !== undefined) {
      if (inst.vips.length === 0) this.vrrpState.set({ iname: inst.name, intf: inst.interface, vrid, ip_address: '' }, state);
      for (const vip of inst.vips) this.vrrpState.set({ iname: inst.name, intf: vip.dev, vrid, ip_address: vip.address }, state);
    }
    const labels = { iname: inst.name, intf: inst.interface, vrid };
    for (const { metric, counter } of this.keepalivedCounters) incIf(metric, labels, inst.counters[counter]);
    setIf(this.priority, { iname: inst.name, kind: 'base' }, inst.basePriority);
    setIf(this.priority, { iname: inst.name, kind: 'effective' }, inst.effectivePriority);
  }

  private updateVirtualServer(vs: VirtualServerStatusDoc, seen: Set<string>, seenSeries: Set<string>): void {
    const virtual_server = vs.name;
    this.quorumUp.set({ virtual_server }, vs.quorumUp ? 1 : 0);
    setIf(this.aliveWeight, { virtual_server }, vs.aliveWeight);
    if (vs.sorryServer) this.sorryActive.set({ virtual_server }, vs.sorryServer.inUse ? 1 : 0);
    for (const rs of vs.realServers) {
      const rsLabels = { virtual_server, real_server: rs.name };
      this.rsUp.set(rsLabels, rs.up ? 1 : 0);
      setIf(this.rsWeight, rsLabels, rs.weight);
      const names = checkerNames(rs.checkers);
      rs.checkers.forEach((c, i) => {
        const labels = { ...rsLabels, checker: names[i]! };
        this.checkerUp.set(labels, c.up ? 1 : 0);
        incIf(this.checkResults, { ...labels, result: 'ok' }, Math.max(0, c.checks - c.failures));
        incIf(this.checkResults, { ...labels, result: 'failed' }, c.failures);
        const key = `${virtual_server}\0${rs.name}\0${labels.checker}`;
        seen.add(key);
        const series = `${virtual_server}\0${labels.checker}`;
        seenSeries.add(series);
        const last = c.last;
        if (!last || !Number.isFinite(last.latencyMs) || last.latencyMs < 0) return;
        this.checkLastDuration.set(labels, last.latencyMs / 1000);
        const before = this.observedAt.get(key);
        if (before !== undefined && last.at <= before) return;
        this.observedAt.set(key, last.at);
        let histLabels = this.durationSeries.get(series);
        if (!histLabels) {
          histLabels = { virtual_server, checker: labels.checker };
          this.durationSeries.set(series, histLabels);
        }
        this.checkDuration.observe(histLabels, last.latencyMs / 1000);
      });
    }
  }

  private updateNotifier(n: NotifierStatusDoc): void {
    const labels = { notifier: n.id };
    incIf(this.notifySent, labels, n.sent);
    incIf(this.notifyFailed, labels, n.failed);
    incIf(this.notifyExpired, labels, n.expired);
    setIf(this.notifyRetrying, labels, n.retrying);
    setIf(this.outboxDepth, labels, n.outboxDepth);
    setIf(this.oldestPending, labels, (n.oldestPendingMs ?? 0) / 1000);
  }
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

/** A gauge's value, left out when it is not a finite number (a series never says NaN for "unknown"). */
function setIf(g: Prom.Gauge<string>, labels: Labels, v: number): void {
  if (Number.isFinite(v)) g.set(labels, v);
}

/** A mirrored counter's total (after reset()), left out when it is not a finite, non-negative number. */
function incIf(c: Prom.Counter<string>, labels: Labels, v: number): void {
  if (Number.isFinite(v) && v >= 0) c.inc(labels, v);
}
