import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../helpers/config';
import { dashboardQueries, runDashboard, substitute, withoutData } from '../helpers/grafana';
import { PrometheusServer, prometheusMissing } from '../helpers/prometheus';
import { fixtureProvider, liveFixture } from './status-fixture';
import { metricsRoute, serveMetrics } from './plugin-route';

const DASHBOARD = path.join(PROJECT_ROOT, 'examples/grafana/alived-dashboard.json');
const skip = prometheusMissing();

test('the Grafana dashboard is a schema 38 dashboard on a Prometheus data source variable', () => {
  const d = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  assert.equal(d.schemaVersion, 38);
  const vars = d.templating.list;
  assert.deepEqual(vars[0], { ...vars[0], name: 'datasource', type: 'datasource', query: 'prometheus' });
  const panels: any[] = [];
  const walk = (ps: any[]) => ps.forEach((p) => (panels.push(p), walk(p.panels ?? [])));
  walk(d.panels);
  for (const p of panels.filter((x) => x.type !== 'row')) {
    assert.equal(p.datasource?.uid, '${datasource}', `panel ${p.title} uses the datasource variable`);
    assert.ok(p.targets?.length, `panel ${p.title} has queries`);
    for (const t of p.targets) assert.equal(t.datasource?.uid, '${datasource}', `${p.title} ${t.refId}`);
  }
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
  // it covers what the issue names
  const exprs = dashboardQueries(DASHBOARD)
    .map((q) => q.raw)
    .join('\n');
  for (const m of [
    'keepalived_vrrp_state',
    'alived_instance_priority',
    'keepalived_advertisements_sent_total',
    'keepalived_become_master_total',
    'alived_real_server_up',
    'alived_real_server_weight',
    'alived_check_results_total',
    'histogram_quantile(0.99',
    'alived_check_duration_seconds_bucket',
    'alived_check_last_duration_seconds',
    'alived_notify_outbox_depth',
    'alived_notifications_failed_total',
    'alived_reloads_total',
    'alived_event_loop_lag_seconds',
    'alived_vrrp_advert_lateness_seconds',
  ])
    assert.ok(exprs.includes(m), `the dashboard shows ${m}`);
  assert.equal(substitute('rate(x{instance=~"$instance", a="${b:regex}"}[$__rate_interval])'), 'rate(x{instance=~".*", a=".*"}[1m])');
});

test('every PromQL expression of the Grafana dashboard returns data from a real Prometheus scraping alived', { skip, timeout: 120_000 }, async () => {
  const { scrape } = await metricsRoute(fixtureProvider(liveFixture()));
  const served = await serveMetrics(scrape);
  after(() => served.close());
  const prom = await PrometheusServer.start({ targets: [served.target] });
  after(() => prom.stop());
  // rates and histogram quantiles need a few samples in their window
  await prom.waitScraped(6, 30_000);
  const outcomes = await runDashboard(prom, DASHBOARD);
  assert.ok(outcomes.length >= 25, `${outcomes.length} queries`);
  assert.deepEqual(withoutData(outcomes), []);
  // a variable's values are what Grafana offers: the fixture's instances
  const inames = outcomes
    .find((o) => o.query.where === 'variable iname')!
    .series!.map((s) => s.metric.iname)
    .sort();
  assert.deepEqual(inames, ['VI_1', 'VI_2', 'VI_6']);
  // and the state panel shows the fixture's states
  const state = outcomes.find((o) => o.query.where === 'panel "VRRP state" A')!.series!;
  assert.deepEqual(Object.fromEntries(state.map((s) => [s.metric.iname, s.value])), { VI_1: 2, VI_2: 1, VI_6: 3 });
});
