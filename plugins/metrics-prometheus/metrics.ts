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
 * scrapes. The series persist from scrape to scrape (Kept below): a scrape
 * sets the value of each series the document has, and removes the series
 * whose subject went away (an instance a reload removed). Labels are names
 * from the config (instances, interfaces, virtual and real servers, checker
 * keywords, notifier ids) and fixed words; no state, message or other free
 * text is ever a label, which keeps both the number of series and what the
 * page shows bounded.
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

const KEEPALIVED_UP_HELP = 'Whether alived answered with its status (1) or not (0)';
const ALIVED_INFO_HELP = 'The alived version, as a label (the value is always 1)';

type Labels = Record<string, string>;

/** One series of a kept metric: its prom-client child, and what the last scrape gave it. */
interface KeptSeries<C> {
  readonly labels: Labels;
  child: C;
  /** the update() that last gave it a value: older ones are removed at the end of an update */
  generation: number;
  /** a counter's total at the last update; -1 before the first */
  total: number;
}

/**
 * A labelled metric whose series live from scrape to scrape, each kept by
 * its label values joined into one string: an update finds the series it
 * had in its own Map and gives them their new value, and removes those the
 * document no longer has. A gauge is set; a counter mirrors a total kept
 * elsewhere (prom-client's Counter has no set()), so it is increased by the
 * difference to the total it had, and when the total went down (the
 * daemon's counter started again) the series is removed and added again
 * with the new total, which Prometheus takes as a counter reset.
 */
class Kept<M extends Prom.Gauge<string> | Prom.Counter<string>> {
  private readonly series = new Map<string, KeptSeries<ReturnType<M['labels']>>>();

  constructor(
    readonly metric: M,
    private readonly labelNames: readonly string[],
  ) {}

  /** The series of these label values (in labelNames' order), made when it is new. */
  private get(values: readonly string[], generation: number): KeptSeries<ReturnType<M['labels']>> {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let s = this.series.get(key);
    if (s) {
      s.generation = generation;
      return s;
    }
    const labels: Labels = {};
    this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
    s = { labels, child: this.metric.labels(labels) as ReturnType<M['labels']>, generation, total: -1 };
    this.series.set(key, s);
    return s;
  }

  /** A gauge's value, left out when it is not a finite number (a series never says NaN for "unknown"). */
  set(this: Kept<Prom.Gauge<string>>, values: readonly string[], v: number, generation: number): void {
    if (!Number.isFinite(v)) return;
    this.get(values, generation).child.set(v);
  }

  /** A counter's total, left out when it is not a finite, non-negative number. */
  total(this: Kept<Prom.Counter<string>>, values: readonly string[], total: number, generation: number): void {
    if (!Number.isFinite(total) || total < 0) return;
    const s = this.get(values, generation);
    if (s.total < 0) {
      s.child.inc(total);
    } else if (total < s.total) {
      this.metric.remove(s.labels);
      s.child = this.metric.labels(s.labels);
      s.child.inc(total);
    } else if (total > s.total) {
      s.child.inc(total - s.total);
    }
    s.total = total;
  }

  /** Removes the series the update `generation` did not give a value. */
  sweep(generation: number): void {
    for (const [key, s] of this.series) {
      if (s.generation === generation) continue;
      this.metric.remove(s.labels);
      this.series.delete(key);
    }
  }
}

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
  /** counts the updates that had a document; each series remembers the last one that set it */
  private generation = 0;
  private readonly kept: Array<Kept<Prom.Gauge<string>> | Kept<Prom.Counter<string>>> = [];
  private readonly gauge: (name: string, help: string, labelNames?: readonly string[]) => Kept<Prom.Gauge<string>>;
  private readonly counter: (name: string, help: string, labelNames?: readonly string[]) => Kept<Prom.Counter<string>>;

  private readonly keepalivedUp: Kept<Prom.Gauge<string>>;
  private readonly vrrpState: Kept<Prom.Gauge<string>>;
  private readonly keepalivedCounters: Array<{ metric: Kept<Prom.Counter<string>>; counter: keyof KeepalivedCounters }>;

  private readonly info: Kept<Prom.Gauge<string>>;
  private readonly startTime: Kept<Prom.Gauge<string>>;
  private readonly reloads: Kept<Prom.Counter<string>>;
  private readonly reloadsRejected: Kept<Prom.Counter<string>>;
  private readonly loopLag: Kept<Prom.Gauge<string>>;
  private readonly vrrpRestarts: Kept<Prom.Counter<string>>;
  private readonly advertLateness: Kept<Prom.Gauge<string>>;
  private readonly priority: Kept<Prom.Gauge<string>>;

  private readonly rsUp: Kept<Prom.Gauge<string>>;
  private readonly rsWeight: Kept<Prom.Gauge<string>>;
  private readonly checkerUp: Kept<Prom.Gauge<string>>;
  private readonly checkResults: Kept<Prom.Counter<string>>;
  private readonly checkLastDuration: Kept<Prom.Gauge<string>>;
  private readonly checkDuration: Prom.Histogram<string>;
  /** when the last result observed of each checker was made, by `virtual_server\0real_server\0checker` */
  private readonly observedAt = new Map<string, number>();
  /** the histogram's series, by `virtual_server\0checker`, with the update that last saw a checker of it */
  private readonly durationSeries = new Map<string, { labels: Labels; child: Prom.Histogram.Internal<string>; generation: number }>();
  private readonly quorumUp: Kept<Prom.Gauge<string>>;
  private readonly aliveWeight: Kept<Prom.Gauge<string>>;
  private readonly sorryActive: Kept<Prom.Gauge<string>>;

  private readonly notifySent: Kept<Prom.Counter<string>>;
  private readonly notifyFailed: Kept<Prom.Counter<string>>;
  private readonly notifyExpired: Kept<Prom.Counter<string>>;
  private readonly notifyRetrying: Kept<Prom.Gauge<string>>;
  private readonly outboxDepth: Kept<Prom.Gauge<string>>;
  private readonly oldestPending: Kept<Prom.Gauge<string>>;

  constructor(prom: typeof Prom) {
    const registry = new prom.Registry();
    this.registry = registry;
    this.downRegistry = new prom.Registry();
    new prom.Gauge({ name: 'keepalived_up', help: KEEPALIVED_UP_HELP, registers: [this.downRegistry] }).set(0);
    this.downInfo = new prom.Gauge({ name: 'alived_info', help: ALIVED_INFO_HELP, labelNames: ['version'], registers: [this.downRegistry] });
    this.gauge = (name, help, labelNames = []) => this.keep(new prom.Gauge({ name, help, labelNames, registers: [registry] }), labelNames);
    // A counter stays a counter on the page (`# TYPE ... counter`), so rate()
    // and increase() apply; it goes down only when the daemon's own total
    // does (a restart).
    this.counter = (name, help, labelNames = []) => this.keep(new prom.Counter({ name, help, labelNames, registers: [registry] }), labelNames);

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

  private keep<M extends Prom.Gauge<string> | Prom.Counter<string>>(metric: M, labelNames: readonly string[]): Kept<M> {
    const k = new Kept(metric, labelNames);
    this.kept.push(k as Kept<Prom.Gauge<string>> | Kept<Prom.Counter<string>>);
    return k;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Sets every metric from `doc`. Without one (the status could not be
   * had) the page holds only keepalived_up 0 and alived_info, as the
   * exporter reports a keepalived it cannot read; the series (and the check
   * duration histogram's counts) are kept for the next scrape that has a
   * document.
   */
  update(doc: StatusDocument | null, version: string): void {
    this.down = !doc;
    if (!doc) {
      this.downInfo.reset();
      this.downInfo.set({ version }, 1);
      return;
    }
    const g = ++this.generation;
    this.info.set([doc.daemon.version], 1, g);
    this.keepalivedUp.set([], 1, g);
    this.updateDaemon(doc, g);
    for (const inst of doc.vrrp.instances) this.updateInstance(inst, g);
    for (const vs of doc.virtualServers) this.updateVirtualServer(vs, g);
    for (const n of doc.notify.notifiers) this.updateNotifier(n, g);
    for (const k of this.kept) k.sweep(g);
    for (const [key, s] of this.durationSeries) {
      if (s.generation === g) continue;
      this.checkDuration.remove(s.labels);
      this.durationSeries.delete(key);
    }
  }

  /** The exposition of what update() set, in the registry's format. */
  render(): Promise<string> {
    return (this.down ? this.downRegistry : this.registry).metrics();
  }

  private updateDaemon(doc: StatusDocument, g: number): void {
    const d = doc.daemon;
    this.startTime.set([], d.startedAt / 1000, g);
    this.reloads.total([], d.reloads, g);
    this.reloadsRejected.total([], d.reloadsRejected, g);
    this.loopLag.set(['mean'], d.eventLoopLag.meanMs / 1000, g);
    this.loopLag.set(['p99'], d.eventLoopLag.p99Ms / 1000, g);
    this.loopLag.set(['max'], d.eventLoopLag.maxMs / 1000, g);
    this.vrrpRestarts.total([], d.vrrpProcess?.restarts ?? 0, g);
    const late = d.vrrpProcess?.advertLateness;
    if (late) {
      this.advertLateness.set(['p50'], late.p50Ms / 1000, g);
      this.advertLateness.set(['p99'], late.p99Ms / 1000, g);
      this.advertLateness.set(['max'], late.maxMs / 1000, g);
    }
  }

  private updateInstance(inst: InstanceStatusDoc, g: number): void {
    const state = VRRP_STATE_VALUES[inst.state];
    const vrid = String(inst.vrid);
    if (state !== undefined) {
      if (inst.vips.length === 0) this.vrrpState.set([inst.name, inst.interface, vrid, ''], state, g);
      for (const vip of inst.vips) this.vrrpState.set([inst.name, vip.dev, vrid, vip.address], state, g);
    }
    const values = [inst.name, inst.interface, vrid];
    for (const { metric, counter } of this.keepalivedCounters) metric.total(values, inst.counters[counter], g);
    this.priority.set([inst.name, 'base'], inst.basePriority, g);
    this.priority.set([inst.name, 'effective'], inst.effectivePriority, g);
  }

  private updateVirtualServer(vs: VirtualServerStatusDoc, g: number): void {
    const vsName = vs.name;
    this.quorumUp.set([vsName], vs.quorumUp ? 1 : 0, g);
    this.aliveWeight.set([vsName], vs.aliveWeight, g);
    if (vs.sorryServer) this.sorryActive.set([vsName], vs.sorryServer.inUse ? 1 : 0, g);
    for (const rs of vs.realServers) {
      const rsValues = [vsName, rs.name];
      this.rsUp.set(rsValues, rs.up ? 1 : 0, g);
      this.rsWeight.set(rsValues, rs.weight, g);
      const names = checkerNames(rs.checkers);
      rs.checkers.forEach((c, i) => {
        const checker = names[i]!;
        const values = [vsName, rs.name, checker];
        this.checkerUp.set(values, c.up ? 1 : 0, g);
        this.checkResults.total([...values, 'ok'], Math.max(0, c.checks - c.failures), g);
        this.checkResults.total([...values, 'failed'], c.failures, g);
        this.observeLast(vsName, rs.name, checker, c, g);
      });
    }
  }

  /** The checker's last duration, and its last result in the histogram unless it was observed already. */
  private observeLast(vsName: string, rsName: string, checker: string, c: CheckerStatusDoc, g: number): void {
    const seriesKey = `${vsName}\u0000${checker}`;
    let series = this.durationSeries.get(seriesKey);
    if (series) series.generation = g;
    const last = c.last;
    if (!last || !Number.isFinite(last.latencyMs) || last.latencyMs < 0) return;
    this.checkLastDuration.set([vsName, rsName, checker], last.latencyMs / 1000, g);
    const key = `${vsName}\u0000${rsName}\u0000${checker}`;
    const before = this.observedAt.get(key);
    if (before !== undefined && last.at <= before) return;
    this.observedAt.set(key, last.at);
    if (!series) {
      const labels = { virtual_server: vsName, checker };
      series = { labels, child: this.checkDuration.labels(labels), generation: g };
      this.durationSeries.set(seriesKey, series);
    }
    series.child.observe(last.latencyMs / 1000);
  }

  private updateNotifier(n: NotifierStatusDoc, g: number): void {
    const values = [n.id];
    this.notifySent.total(values, n.sent, g);
    this.notifyFailed.total(values, n.failed, g);
    this.notifyExpired.total(values, n.expired, g);
    this.notifyRetrying.set(values, n.retrying, g);
    this.outboxDepth.set(values, n.outboxDepth, g);
    this.oldestPending.set(values, (n.oldestPendingMs ?? 0) / 1000, g);
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
