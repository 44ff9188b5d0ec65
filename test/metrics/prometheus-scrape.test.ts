import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StatusDocument } from '../../core/status/types';
import { PrometheusServer, prometheusMissing } from '../helpers/prometheus';
import { useLab, waitFor } from '../helpers/lab';
import { fixtureProvider, statusFixture, withState } from './status-fixture';
import { bodyText, metricsRoute, serveMetrics } from './plugin-route';

const skip = prometheusMissing();

test(
  'a real Prometheus scrapes /metrics and answers PromQL with the status values; a failover shows in the next scrapes',
  { skip, timeout: 90_000 },
  async () => {
    let current: StatusDocument = statusFixture();
    const { scrape } = await metricsRoute(fixtureProvider(() => current));
    const served = await serveMetrics(scrape);
    after(() => served.close());
    const prom = await PrometheusServer.start({ targets: [served.target] });
    after(() => prom.stop());
    await prom.waitScraped(1);

    const vip = `keepalived_vrrp_state{iname="VI_1",ip_address="10.0.0.100/24"}`;
    const [master] = await prom.vector(vip);
    assert.equal(master!.value, 2);
    assert.deepEqual(master!.metric, {
      __name__: 'keepalived_vrrp_state',
      iname: 'VI_1',
      intf: 'eth0',
      vrid: '51',
      ip_address: '10.0.0.100/24',
      instance: served.target,
      job: 'alived',
    });
    const sent = await prom.vector('keepalived_advertisements_sent_total{iname="VI_1"}');
    assert.deepEqual(
      sent.map((s) => s.value),
      [86_000],
    );
    const buckets = await prom.vector('alived_check_duration_seconds_bucket{virtual_server="[10.0.0.100]:tcp:80",checker="TCP_CHECK#2",le="0.05"}');
    assert.deepEqual(
      buckets.map((s) => s.value),
      [1],
    );

    current = withState(statusFixture(), 'VI_1', 'BACKUP');
    await prom.waitFor(vip, (s) => s.length === 1 && s[0]!.value === 1, 20_000);
    const now = Date.now() / 1000;
    const range = await prom.queryRange(vip, now - 30, now, 1);
    assert.equal(range.resultType, 'matrix');
    const values = range.resultType === 'matrix' ? range.result[0]!.values.map((v) => v[1]) : [];
    assert.ok(values.includes(2) && values.at(-1) === 1, `the range shows MASTER then BACKUP: ${values.join(' ')}`);
    // the page Prometheus stored is the page the route serves
    assert.ok(bodyText(await scrape()).includes('keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51",ip_address="10.0.0.100/24"} 1\n'));
  },
);

test('Prometheus in a lab namespace scrapes a target on the lab link', { skip, timeout: 90_000 }, async () => {
  const lab = await useLab({
    name: 'prom',
    hosts: [
      { name: 'node', ip: '10.77.0.2' },
      { name: 'mon', ip: '10.77.0.9' },
    ],
  });
  const { scrape } = await metricsRoute(fixtureProvider(() => statusFixture()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-prom-page-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const page = path.join(dir, 'metrics.txt');
  fs.writeFileSync(page, bodyText(await scrape()));
  // a server inside the node's namespace that serves the page
  const script =
    "const fs=require('fs');require('http').createServer((q,r)=>{r.writeHead(200,{'content-type':'text/plain; version=0.0.4'});" +
    'r.end(fs.readFileSync(process.argv[1]))}).listen(9650,process.argv[2])';
  lab.spawn('node', [process.execPath, '-e', script, page, '10.77.0.2']);
  await waitFor('the page server in the lab', async () =>
    (await lab.exec('node', ['ss', '-Hltn', 'sport = :9650'])).stdout.includes('9650') ? true : undefined,
  );
  const prom = await PrometheusServer.start({ targets: ['10.77.0.2:9650'], lab: { lab, host: 'mon' } });
  after(() => prom.stop());
  await prom.waitScraped(1);
  // Prometheus keeps no empty label: the exporter's ip_address="" of an instance without VIPs is stored without it
  const s = await prom.vector('keepalived_vrrp_state{iname="VI_2",ip_address=""}');
  assert.deepEqual(
    s.map((x) => [x.metric.instance, x.metric.intf, 'ip_address' in x.metric, x.value]),
    [['10.77.0.2:9650', 'eth1', false, 1]],
  );
});
