import * as fs from 'node:fs';
import type { PrometheusServer, VectorSample } from './prometheus';

/*
 * The PromQL of a Grafana dashboard, for tests that run it against a real
 * Prometheus: every panel target's `expr` (rows' nested panels too), every
 * Prometheus annotation, and the metric selector of every `label_values()`
 * variable, with the template variables replaced.
 */

export interface DashboardQuery {
  /** `panel "VRRP state" A`, `variable instance`, `annotation Failovers` */
  readonly where: string;
  readonly kind: 'panel' | 'annotation' | 'variable';
  /** as written in the dashboard */
  readonly raw: string;
  /** with the variables replaced: what is sent to Prometheus */
  readonly expr: string;
}

/** What Grafana puts in for its own variables; a dashboard variable not in `values` becomes `.*` (its "All"). */
const BUILTIN_VALUES: Readonly<Record<string, string>> = { __rate_interval: '1m', __interval: '15s', __range: '1h', __range_s: '3600', __interval_ms: '15000' };

/** `$name`, `${name}` and `${name:format}` replaced by their values. */
export function substitute(expr: string, values: Readonly<Record<string, string>> = {}): string {
  const all = { ...BUILTIN_VALUES, ...values };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => all[(a ?? b)!] ?? '.*');
}

/** Every PromQL query of a dashboard (JSON text or its path). */
export function dashboardQueries(dashboard: string | object, values: Readonly<Record<string, string>> = {}): DashboardQuery[] {
  const d: any = typeof dashboard === 'string' ? JSON.parse(dashboard.trimStart().startsWith('{') ? dashboard : fs.readFileSync(dashboard, 'utf8')) : dashboard;
  const out: DashboardQuery[] = [];
  const add = (where: string, kind: DashboardQuery['kind'], raw: string) => out.push({ where, kind, raw, expr: substitute(raw, values) });
  const walk = (panels: any[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') add(`panel "${p.title}" ${t.refId}`, 'panel', t.expr);
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const a of d.annotations?.list ?? []) if (typeof a.expr === 'string') add(`annotation ${a.name}`, 'annotation', a.expr);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q: string = typeof v.query === 'string' ? v.query : v.query?.query;
    // label_values(selector, label): the series the variable's values come from
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q ?? '');
    if (!m) throw new Error(`variable ${v.name}: only label_values(selector, label) is understood, not ${q}`);
    add(`variable ${v.name}`, 'variable', `count by (${m[2]}) (${m[1]})`);
  }
  return out;
}

export interface QueryOutcome {
  readonly query: DashboardQuery;
  readonly series?: VectorSample[];
  readonly error?: string;
}

/** Runs every query of the dashboard at `prom` (instant queries, now). */
export async function runDashboard(prom: PrometheusServer, dashboard: string | object, values: Readonly<Record<string, string>> = {}): Promise<QueryOutcome[]> {
  const outcomes: QueryOutcome[] = [];
  for (const query of dashboardQueries(dashboard, values)) {
    try {
      outcomes.push({ query, series: await prom.vector(query.expr) });
    } catch (err) {
      outcomes.push({ query, error: String(err) });
    }
  }
  return outcomes;
}

/** The queries that failed, returned nothing, or returned only NaN, in words (empty when all have data). */
export function withoutData(outcomes: readonly QueryOutcome[]): string[] {
  return outcomes
    .filter((o) => o.error !== undefined || !o.series?.length || o.series.every((s) => Number.isNaN(s.value)))
    .map((o) => `${o.query.where}: ${o.error ?? (o.series?.length ? 'only NaN' : 'no data')}: ${o.query.expr}`);
}
