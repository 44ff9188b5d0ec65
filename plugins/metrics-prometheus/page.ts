import type * as Prom from 'prom-client';
import {
  ALIVED_INFO_HELP,
  CHECK_DURATION_BUCKETS,
  CHECK_DURATION_HELP,
  CHECK_DURATION_LABELS,
  CHECK_DURATION_NAME,
  KEEPALIVED_UP_HELP,
  LABEL_SEPARATOR,
  METRIC_DEFS,
  type Frame,
  type FrameLayout,
} from './frame';

type Labels = Record<string, string>;
type Metric = Prom.Gauge<string> | Prom.Counter<string>;

/** One series of the page: its prom-client child, kept from frame to frame. */
interface Series {
  /** the metric's number and the label values: what finds it in the next layout */
  readonly key: string;
  readonly metric: Metric;
  readonly labels: Labels;
  readonly child: Prom.Gauge.Internal<string> | Prom.Counter.Internal;
  readonly counter: boolean;
  /** whether it is on the page (its last value was a number) */
  present: boolean;
  /** a counter's total at the last frame */
  total: number;
}

function labelsOf(names: readonly string[], key: string): Labels {
  const labels: Labels = {};
  if (names.length === 0) return labels;
  const values = key.split(LABEL_SEPARATOR);
  names.forEach((n, i) => (labels[n] = values[i] ?? ''));
  return labels;
}

/**
 * The page: prom-client's metrics in a private registry, set from frames
 * (frame.ts). A series lives from frame to frame, found by its place in
 * the layout, so a frame with the same layout as the one before is only
 * values: a gauge is set; a counter mirrors a total kept elsewhere
 * (prom-client's Counter has no set()), so it is increased by the
 * difference to the total it had, and when the total went down (the
 * daemon's counter started again) the series is removed and added again
 * with the new total, which Prometheus takes as a counter reset. A new
 * layout keeps the series it shares with the old one and removes the rest.
 */
export class MetricsPage {
  readonly registry: Prom.Registry;
  /** what is served while the status cannot be had: keepalived_up 0 and alived_info */
  private readonly downRegistry: Prom.Registry;
  private readonly downInfo: Prom.Gauge<string>;
  private down = false;
  private readonly metrics: Metric[];
  private readonly checkDuration: Prom.Histogram<string>;
  /** the series of the current layout, by their place in it */
  private series: Series[] = [];
  /** the histogram's series of the current layout; made when first observed */
  private durations: Array<{ labels: Labels; child?: Prom.Histogram.Internal<string> }> = [];

  constructor(prom: typeof Prom) {
    const registry = new prom.Registry();
    this.registry = registry;
    this.downRegistry = new prom.Registry();
    new prom.Gauge({ name: 'keepalived_up', help: KEEPALIVED_UP_HELP, registers: [this.downRegistry] }).set(0);
    this.downInfo = new prom.Gauge({ name: 'alived_info', help: ALIVED_INFO_HELP, labelNames: ['version'], registers: [this.downRegistry] });
    this.metrics = METRIC_DEFS.map((d) => {
      const config = { name: d.name, help: d.help, labelNames: [...d.labelNames], registers: [registry] };
      return d.type === 'counter' ? new prom.Counter(config) : new prom.Gauge(config);
    });
    this.checkDuration = new prom.Histogram({
      name: CHECK_DURATION_NAME,
      help: CHECK_DURATION_HELP,
      labelNames: [...CHECK_DURATION_LABELS],
      buckets: [...CHECK_DURATION_BUCKETS],
      registers: [registry],
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Sets the metrics from a frame. A down frame makes the page hold only
   * keepalived_up 0 and alived_info, as the exporter reports a keepalived
   * it cannot read; the series (and the histogram's counts) are kept for
   * the next frame that has a document.
   */
  apply(frame: Frame): void {
    this.down = frame.down;
    if (frame.down) {
      this.downInfo.reset();
      this.downInfo.set({ version: frame.version }, 1);
      return;
    }
    if (frame.layout) this.relayout(frame.layout);
    if (frame.values.length !== this.series.length) throw new Error(`a frame of ${frame.values.length} values for a layout of ${this.series.length} series`);
    for (let i = 0; i < this.series.length; i++) this.set(this.series[i]!, frame.values[i]!);
    for (let j = 0; j < frame.observed.length; j++) {
      const d = this.durations[frame.observedIn[j]!]!;
      d.child ??= this.checkDuration.labels(d.labels);
      d.child.observe(frame.observed[j]!);
    }
  }

  /** The exposition of what apply() set, in the registry's format. */
  render(): Promise<string> {
    return (this.down ? this.downRegistry : this.registry).metrics();
  }

  private set(s: Series, v: number): void {
    if (Number.isNaN(v)) {
      if (s.present) s.metric.remove(s.labels);
      s.present = false;
      return;
    }
    if (!s.counter) {
      (s.child as Prom.Gauge.Internal<string>).set(v);
    } else if (!s.present) {
      // a child whose series was removed adds it again
      (s.child as Prom.Counter.Internal).inc(v);
    } else if (v < s.total) {
      s.metric.remove(s.labels);
      (s.child as Prom.Counter.Internal).inc(v);
    } else if (v > s.total) {
      (s.child as Prom.Counter.Internal).inc(v - s.total);
    }
    s.present = true;
    s.total = v;
  }

  private relayout(layout: FrameLayout): void {
    const old = new Map<string, Series>();
    for (const s of this.series) old.set(s.key, s);
    const series: Series[] = [];
    for (let i = 0; i < layout.keys.length; i++) {
      const id = layout.metrics[i]!;
      const key = `${id}${LABEL_SEPARATOR}${layout.keys[i]!}`;
      let s = old.get(key);
      if (s) {
        old.delete(key);
      } else {
        const metric = this.metrics[id]!;
        const labels = labelsOf(METRIC_DEFS[id]!.labelNames, layout.keys[i]!);
        s = { key, metric, labels, child: metric.labels(labels), counter: METRIC_DEFS[id]!.type === 'counter', present: false, total: 0 };
      }
      series.push(s);
    }
    for (const s of old.values()) if (s.present) s.metric.remove(s.labels);
    this.series = series;

    const oldDurations = new Map(this.durations.map((d) => [d.labels.virtual_server + LABEL_SEPARATOR + d.labels.checker, d]));
    this.durations = layout.durationKeys.map((key) => {
      const d = oldDurations.get(key);
      if (d) {
        oldDurations.delete(key);
        return d;
      }
      return { labels: labelsOf(CHECK_DURATION_LABELS, key) };
    });
    for (const d of oldDurations.values()) if (d.child) this.checkDuration.remove(d.labels);
  }
}
