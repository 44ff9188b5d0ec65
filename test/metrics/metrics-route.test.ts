import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { AlivedError } from '../../core/errors';
import type { StatusDocument } from '../../core/status/types';
import type { ApiResponse } from '../../core/api/types';
import { KEEPALIVED_COUNTERS, VRRP_STATE_VALUES } from '../../plugins/metrics-prometheus';
import { parseExposition, promtoolCheck, prometheusMissing, samplesOf, valueOf, type Exposition } from '../helpers/prometheus';
import { PROJECT_ROOT } from '../helpers/config';
import { fixtureProvider, SECRETS, statusFixture, T0, withState } from './status-fixture';
import { bodyText, metricsRoute } from './plugin-route';

const skip = prometheusMissing();

async function scraper(initial: StatusDocument | Error = statusFixture()) {
  let current: StatusDocument | Error = initial;
  const r = await metricsRoute(fixtureProvider(() => current));
  return {
    ...r,
    set(doc: StatusDocument | Error) {
      current = doc;
    },
    async page(): Promise<{ text: string; e: Exposition }> {
      const res = await r.scrape();
      assert.equal(res.status, 200);
      const text = bodyText(res);
      return { text, e: parseExposition(text) };
    },
  };
}

test('GET /metrics is a valid Prometheus page: promtool check metrics accepts it without a lint remark', { skip }, async () => {
  const s = await scraper();
  const res = await s.scrape();
  assert.equal(res.status, 200);
  assert.equal(res.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  const text = bodyText(res);
  const check = await promtoolCheck(text);
  assert.deepEqual(check, { code: 0, output: '' });
  // every family has HELP and TYPE
  const e = parseExposition(text);
  const families = new Set(e.samples.map((x) => (e.types.has(x.name) ? x.name : x.name.replace(/_(bucket|sum|count)$/, ''))));
  for (const f of families) {
    assert.ok(e.types.has(f), `TYPE of ${f}`);
    assert.ok((e.help.get(f) ?? '').length > 10, `HELP of ${f}`);
  }
});

test("keepalived_* carry keepalived-exporter's names, label names in its order, types and state numbers", async () => {
  const doc = statusFixture();
  const { text, e } = await (await scraper(doc)).page();
  assert.equal(valueOf(e, 'keepalived_up'), 1);
  assert.equal(e.types.get('keepalived_up'), 'gauge');
  assert.equal(e.types.get('keepalived_vrrp_state'), 'gauge');
  // one series per VIP, intf = the VIP's dev, ip_address with its prefix; the exporter's label order
  assert.ok(text.includes('keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51",ip_address="10.0.0.100/24"} 2\n'));
  assert.ok(text.includes('keepalived_vrrp_state{iname="VI_1",intf="eth1",vrid="51",ip_address="192.168.7.1/32"} 2\n'));
  // without VIPs: one series, the instance's interface and an empty ip_address
  assert.ok(text.includes('keepalived_vrrp_state{iname="VI_2",intf="eth1",vrid="52",ip_address=""} 1\n'));
  assert.equal(valueOf(e, 'keepalived_vrrp_state', { iname: 'VI_6', ip_address: 'fd00::60/64' }), 3);
  assert.equal(samplesOf(e, 'keepalived_vrrp_state').length, 4);

  assert.equal(KEEPALIVED_COUNTERS.length, 14);
  for (const c of KEEPALIVED_COUNTERS) {
    assert.equal(e.types.get(c.name), 'counter', c.name);
    for (const inst of doc.vrrp.instances) {
      const labels = { iname: inst.name, intf: inst.interface, vrid: String(inst.vrid) };
      assert.equal(valueOf(e, c.name, labels), inst.counters[c.counter], `${c.name} of ${inst.name}`);
      assert.ok(
        text.includes(`${c.name}{iname="${inst.name}",intf="${inst.interface}",vrid="${inst.vrid}"} ${inst.counters[c.counter]}\n`),
        `${c.name} label order`,
      );
    }
  }
  assert.deepEqual(
    KEEPALIVED_COUNTERS.map((c) => c.name),
    [
      'keepalived_advertisements_received_total',
      'keepalived_advertisements_sent_total',
      'keepalived_become_master_total',
      'keepalived_release_master_total',
      'keepalived_packet_length_errors_total',
      'keepalived_advertisements_interval_errors_total',
      'keepalived_ip_ttl_errors_total',
      'keepalived_invalid_type_received_total',
      'keepalived_address_list_errors_total',
      'keepalived_authentication_invalid_total',
      'keepalived_authentication_mismatch_total',
      'keepalived_authentication_failure_total',
      'keepalived_priority_zero_received_total',
      'keepalived_priority_zero_sent_total',
    ],
  );
  assert.deepEqual(VRRP_STATE_VALUES, { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3, DELETED: 97, STOP: 98 });
});

test('a transition changes the value of keepalived_vrrp_state, never a label; an instance a reload removed goes away', async () => {
  const s = await scraper();
  const vip = { iname: 'VI_1', ip_address: '10.0.0.100/24' };
  assert.equal(valueOf((await s.page()).e, 'keepalived_vrrp_state', vip), 2);
  s.set(withState(statusFixture(), 'VI_1', 'BACKUP'));
  assert.equal(valueOf((await s.page()).e, 'keepalived_vrrp_state', vip), 1);
  s.set(withState(statusFixture(), 'VI_1', 'FAULT'));
  assert.equal(valueOf((await s.page()).e, 'keepalived_vrrp_state', vip), 3);
  s.set(withState(statusFixture(), 'VI_1', 'INIT'));
  assert.equal(valueOf((await s.page()).e, 'keepalived_vrrp_state', vip), 0);
  const gone = statusFixture();
  s.set({ ...gone, vrrp: { ...gone.vrrp, instances: gone.vrrp.instances.filter((i) => i.name !== 'VI_1') } });
  const { e } = await s.page();
  assert.deepEqual(samplesOf(e, 'keepalived_vrrp_state', { iname: 'VI_1' }), []);
  assert.deepEqual(samplesOf(e, 'keepalived_advertisements_sent_total', { iname: 'VI_1' }), []);
  assert.deepEqual(samplesOf(e, 'alived_instance_priority', { iname: 'VI_1' }), []);
  // bounded labels: no state, message or target anywhere
  for (const x of e.samples) for (const l of ['state', 'message', 'target', 'cause', 'error']) assert.ok(!(l in x.labels), `${x.name} has a ${l} label`);
});

test('counters mirror the totals of the document at each scrape', async () => {
  const s = await scraper();
  const doc = statusFixture();
  const more: StatusDocument = {
    ...doc,
    daemon: { ...doc.daemon, reloads: 4 },
    vrrp: {
      ...doc.vrrp,
      instances: doc.vrrp.instances.map((i) => (i.name === 'VI_2' ? { ...i, counters: { ...i.counters, advert_rcvd: 9500, become_master: 1 } } : i)),
    },
  };
  assert.equal(valueOf((await s.page()).e, 'keepalived_advertisements_received_total', { iname: 'VI_2' }), 9000);
  s.set(more);
  const { e } = await s.page();
  assert.equal(valueOf(e, 'keepalived_advertisements_received_total', { iname: 'VI_2' }), 9500);
  assert.equal(valueOf(e, 'keepalived_become_master_total', { iname: 'VI_2' }), 1);
  assert.equal(valueOf(e, 'alived_reloads_total'), 4);
  assert.equal(e.types.get('alived_reloads_total'), 'counter');
  // a total that went down (the daemon's counter started again) is the page's total too
  s.set({ ...doc, daemon: { ...doc.daemon, reloads: 1 } });
  const again = (await s.page()).e;
  assert.equal(valueOf(again, 'alived_reloads_total'), 1);
  assert.equal(valueOf(again, 'keepalived_advertisements_received_total', { iname: 'VI_2' }), 9000);
  s.set(more);
  assert.equal(valueOf((await s.page()).e, 'keepalived_advertisements_received_total', { iname: 'VI_2' }), 9500);
});

test('alived_* hold the daemon, priorities, pools and notifiers of the document', async () => {
  const doc = statusFixture();
  const { e } = await (await scraper(doc)).page();
  assert.equal(valueOf(e, 'alived_info', { version: '0.1.0' }), 1);
  assert.equal(valueOf(e, 'alived_start_time_seconds'), doc.daemon.startedAt / 1000);
  assert.equal(valueOf(e, 'alived_reloads_total'), 3);
  assert.equal(valueOf(e, 'alived_reloads_rejected_total'), 1);
  assert.equal(valueOf(e, 'alived_event_loop_lag_seconds', { stat: 'mean' }), 0.0105);
  assert.equal(valueOf(e, 'alived_event_loop_lag_seconds', { stat: 'p99' }), 0.021);
  assert.equal(valueOf(e, 'alived_event_loop_lag_seconds', { stat: 'max' }), 0.048);
  assert.equal(valueOf(e, 'alived_vrrp_process_restarts_total'), 2);
  assert.equal(valueOf(e, 'alived_vrrp_advert_lateness_seconds', { stat: 'p50' }), 0.00008);
  assert.equal(valueOf(e, 'alived_vrrp_advert_lateness_seconds', { stat: 'p99' }), 0.0004);
  assert.equal(valueOf(e, 'alived_vrrp_advert_lateness_seconds', { stat: 'max' }), 0.0035);

  assert.equal(valueOf(e, 'alived_instance_priority', { iname: 'VI_2', kind: 'base' }), 100);
  assert.equal(valueOf(e, 'alived_instance_priority', { iname: 'VI_2', kind: 'effective' }), 90);

  const vs = '[10.0.0.100]:tcp:80';
  assert.equal(valueOf(e, 'alived_real_server_up', { virtual_server: vs, real_server: '10.0.0.11:80' }), 1);
  assert.equal(valueOf(e, 'alived_real_server_up', { virtual_server: vs, real_server: '10.0.0.13:80' }), 0);
  assert.equal(valueOf(e, 'alived_real_server_weight', { virtual_server: vs, real_server: '10.0.0.11:80' }), 3);
  assert.equal(valueOf(e, 'alived_real_server_weight', { virtual_server: vs, real_server: '10.0.0.13:80' }), 0);
  // two checkers of one keyword on one real server: the second is KEYWORD#2
  assert.equal(valueOf(e, 'alived_checker_up', { real_server: '10.0.0.11:80', checker: 'TCP_CHECK' }), 1);
  assert.equal(valueOf(e, 'alived_checker_up', { real_server: '10.0.0.11:80', checker: 'TCP_CHECK#2' }), 1);
  assert.equal(valueOf(e, 'alived_checker_up', { real_server: '10.0.0.13:80', checker: 'HTTP_GET' }), 0);
  assert.equal(valueOf(e, 'alived_check_results_total', { real_server: '10.0.0.13:80', result: 'ok' }), 33);
  assert.equal(valueOf(e, 'alived_check_results_total', { real_server: '10.0.0.13:80', result: 'failed' }), 17);
  assert.equal(valueOf(e, 'alived_check_results_total', { real_server: '10.0.0.11:80', checker: 'TCP_CHECK', result: 'failed' }), 2);
  assert.equal(valueOf(e, 'alived_virtual_server_quorum_up', { virtual_server: vs }), 1);
  assert.equal(valueOf(e, 'alived_virtual_server_quorum_up', { virtual_server: 'FWM 7' }), 0);
  assert.equal(valueOf(e, 'alived_virtual_server_alive_weight', { virtual_server: vs }), 5);
  assert.equal(valueOf(e, 'alived_sorry_server_active', { virtual_server: vs }), 0);
  // a virtual server without a sorry server has no series
  assert.deepEqual(samplesOf(e, 'alived_sorry_server_active', { virtual_server: 'FWM 7' }), []);

  const ops = { notifier: 'webhook:ops' };
  assert.equal(valueOf(e, 'alived_notifications_sent_total', ops), 7);
  assert.equal(valueOf(e, 'alived_notifications_failed_total', ops), 9);
  assert.equal(valueOf(e, 'alived_notifications_expired_total', ops), 1);
  assert.equal(valueOf(e, 'alived_notify_retrying', ops), 2);
  assert.equal(valueOf(e, 'alived_notify_outbox_depth', ops), 3);
  assert.equal(valueOf(e, 'alived_notify_oldest_pending_seconds', ops), 125);
  assert.equal(valueOf(e, 'alived_notify_oldest_pending_seconds', { notifier: 'smtp_alert:keepalived' }), 0);
});

test('the check duration histogram, per virtual server and checker, observes each result once, however often it is scraped', async () => {
  const s = await scraper();
  const vs = '[10.0.0.100]:tcp:80';
  const labels = { virtual_server: vs, checker: 'TCP_CHECK#2' };
  const count = (e: Exposition) => valueOf(e, 'alived_check_duration_seconds_count', labels);
  let { e } = await s.page();
  // no real_server label: the series are per virtual server and checker
  for (const x of samplesOf(e, 'alived_check_duration_seconds_count')) assert.deepEqual(Object.keys(x.labels).sort(), ['checker', 'virtual_server']);
  assert.equal(samplesOf(e, 'alived_check_duration_seconds_count').length, 3);
  assert.equal(count(e), 1);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_sum', labels), 0.04);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_bucket', { ...labels, le: '0.01' }), 0);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_bucket', { ...labels, le: '0.05' }), 1);
  // the two real servers with an HTTP_GET are in one series
  const http = { virtual_server: vs, checker: 'HTTP_GET' };
  assert.equal(valueOf(e, 'alived_check_duration_seconds_count', http), 2);
  assert.ok(Math.abs(valueOf(e, 'alived_check_duration_seconds_sum', http) - 0.0132) < 1e-9);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_bucket', { ...http, le: '0.005' }), 1);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_bucket', { ...http, le: '0.05' }), 2);
  // each checker's own last duration is one gauge
  assert.equal(valueOf(e, 'alived_check_last_duration_seconds', { real_server: '10.0.0.11:80', checker: 'TCP_CHECK#2' }), 0.04);
  assert.equal(valueOf(e, 'alived_check_last_duration_seconds', { real_server: '10.0.0.13:80', checker: 'HTTP_GET' }), 0.0012);
  assert.equal(samplesOf(e, 'alived_check_last_duration_seconds').length, 4);
  ({ e } = await s.page());
  assert.equal(count(e), 1, 'the same result is not observed again');
  const next = (latencyMs: number, at: number): StatusDocument => {
    const doc = statusFixture();
    const vs = doc.virtualServers[0]!;
    const rs = vs.realServers[0]!;
    const checkers = rs.checkers.map((c, i) => (i === 1 ? { ...c, last: { ok: true, message: 'connected', latencyMs, at } } : c));
    return { ...doc, virtualServers: [{ ...vs, realServers: [{ ...rs, checkers }, ...vs.realServers.slice(1)] }, ...doc.virtualServers.slice(1)] };
  };
  s.set(next(200, T0));
  ({ e } = await s.page());
  assert.equal(count(e), 2);
  assert.ok(Math.abs(valueOf(e, 'alived_check_duration_seconds_sum', labels) - 0.24) < 1e-9);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_bucket', { ...labels, le: '0.5' }), 2);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_bucket', { ...labels, le: '0.1' }), 1);
  assert.equal(valueOf(e, 'alived_check_last_duration_seconds', { real_server: '10.0.0.11:80', checker: 'TCP_CHECK#2' }), 0.2);
  ({ e } = await s.page());
  assert.equal(count(e), 2);
  // a real server that went away takes its gauges with it; a histogram series goes with the last real server of its checker
  const doc = statusFixture();
  s.set({ ...doc, virtualServers: [{ ...doc.virtualServers[0]!, realServers: doc.virtualServers[0]!.realServers.slice(1) }] });
  ({ e } = await s.page());
  assert.deepEqual(samplesOf(e, 'alived_check_last_duration_seconds', { real_server: '10.0.0.11:80' }), []);
  assert.deepEqual(samplesOf(e, 'alived_check_duration_seconds_count', { checker: 'TCP_CHECK' }), []);
  assert.deepEqual(samplesOf(e, 'alived_check_duration_seconds_count', { checker: 'TCP_CHECK#2' }), []);
  assert.equal(valueOf(e, 'alived_check_duration_seconds_count', http), 2);
});

test('no secret and no message of the document appears on the page', async () => {
  const { text } = await (await scraper()).page();
  for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret), `'${secret}' on /metrics`);
  for (const words of ['auth_pass', 'connection refused', 'token=', 'chk_nginx', 'killed by SIGKILL', '/etc/keepalived', 'sha256']) {
    assert.ok(!text.includes(words), `'${words}' on /metrics`);
  }
});

test('without a status the page says keepalived_up 0, logs that once, and recovers', async () => {
  const s = await scraper(new AlivedError('ALIVED_STATUS_UNAVAILABLE', 'the VRRP part could not be gathered'));
  for (let i = 0; i < 3; i++) {
    const res = await s.scrape();
    assert.equal(res.status, 200);
    const e = parseExposition(bodyText(res));
    assert.equal(valueOf(e, 'keepalived_up'), 0);
    assert.equal(valueOf(e, 'alived_info', { version: '0.1.0' }), 1);
    assert.deepEqual([...new Set(e.samples.map((x) => x.name))].sort(), ['alived_info', 'keepalived_up']);
  }
  const warned = s.records.filter((r) => r.level === 'warn');
  assert.equal(warned.length, 1);
  assert.match(String(warned[0]!.msg), /no status \(.*could not be gathered\); serving keepalived_up 0/);
  s.set(statusFixture());
  const { e } = await s.page();
  assert.equal(valueOf(e, 'keepalived_up'), 1);
  assert.equal(samplesOf(e, 'keepalived_vrrp_state').length, 4);
});

test('scrapes at the same time get whole pages: one runs, and those that come meanwhile share the next', async () => {
  const states = ['MASTER', 'BACKUP', 'FAULT', 'INIT'] as const;
  let n = 0;
  const { scrape } = await metricsRoute(fixtureProvider(() => withState(statusFixture(), 'VI_1', states[n++ % states.length]!)));
  const value = async (p: Promise<ApiResponse>) =>
    valueOf(parseExposition(bodyText(await p)), 'keepalived_vrrp_state', { iname: 'VI_1', ip_address: '10.0.0.100/24' });
  const burst = () => Array.from({ length: 6 }, () => scrape());
  assert.deepEqual(await Promise.all(burst().map(value)), [2, 1, 1, 1, 1, 1]);
  assert.equal(n, 2, 'two snapshots for six requests');
  assert.deepEqual(await Promise.all(burst().map(value)), [3, 0, 0, 0, 0, 0]);
  assert.equal(await value(scrape()), 2);
  assert.equal(n, 5);
});

test('a page is served for maxAgeMs; then once more while a new one is made; much later a request waits for a new one', async () => {
  let current = statusFixture();
  let snapshots = 0;
  const provider = fixtureProvider(() => (snapshots++, current));
  const vip = { iname: 'VI_1', ip_address: '10.0.0.100/24' };
  const state = (res: ApiResponse) => valueOf(parseExposition(bodyText(res)), 'keepalived_vrrp_state', vip);

  const { scrape } = await metricsRoute(provider, { maxAgeMs: 1000 });
  const first = bodyText(await scrape());
  current = withState(statusFixture(), 'VI_1', 'BACKUP');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(bodyText(await scrape()), first, 'the same page 10 ms later');
  assert.equal(snapshots, 1);
  await new Promise((r) => setTimeout(r, 1000));
  // older than maxAgeMs: served once more at once, while the new one is made
  assert.equal(bodyText(await scrape()), first);
  let now = 0;
  for (let i = 0; i < 100 && now !== 1; i++) {
    await new Promise((r) => setTimeout(r, 10));
    now = state(await scrape());
  }
  assert.equal(now, 1, 'the new page within a second');
  assert.equal(snapshots, 2);

  // older than 10 x maxAgeMs: the request waits for the new page
  const short = await metricsRoute(provider, { maxAgeMs: 50 });
  current = statusFixture();
  assert.equal(state(await short.scrape()), 2);
  current = withState(statusFixture(), 'VI_1', 'FAULT');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(state(await short.scrape()), 3);
});

test('docs/metrics.md lists exactly the metrics on the page, with their types and label names', async () => {
  const md = fs.readFileSync(path.join(PROJECT_ROOT, 'docs/metrics.md'), 'utf8');
  const rows = [...md.matchAll(/^\| `(\w+)` \| (\w+) \|(.*?)\| .+ \|$/gm)].map((m) => ({
    name: m[1]!,
    type: m[2]!,
    // each label is the first `word` of a comma-separated part: `kind` = `base` / `effective`
    labels: m[3]!.trim() === '' ? [] : m[3]!.split(', ').map((part) => /^`(\w+)`/.exec(part.trim())![1]!),
  }));
  const { e } = await (await scraper()).page();
  const page = [...e.types].map(([name, type]) => {
    const samples = e.samples.filter((x) => x.name === name || (type === 'histogram' && x.name.startsWith(`${name}_`)));
    const labels = [...new Set(samples.flatMap((x) => Object.keys(x.labels)))].filter((l) => l !== 'le');
    return { name, type, labels };
  });
  assert.deepEqual(rows.map((r) => r.name).sort(), page.map((p) => p.name).sort());
  for (const p of page) {
    const row = rows.find((r) => r.name === p.name)!;
    assert.equal(row.type, p.type, `type of ${p.name}`);
    assert.deepEqual(row.labels, p.labels, `labels of ${p.name}`);
  }
});

test('a scraper that takes gzip (as Prometheus does) gets the same page gzipped, made in the page thread', async () => {
  const gz = { 'accept-encoding': 'gzip' };
  const now = await metricsRoute(fixtureProvider(() => statusFixture()));
  const plain = await now.scrape();
  assert.equal(plain.gzip, undefined, 'no gzip made before a scraper asks for it');
  const zipped = await now.scrape(gz);
  assert.ok(zipped.gzip, 'a page made for a scraper that takes gzip has it');
  assert.equal(zlib.gunzipSync(zipped.gzip).toString('utf8'), bodyText(zipped));
  assert.ok(zipped.gzip.length * 5 < Buffer.byteLength(bodyText(zipped)), `gzip ${zipped.gzip.length} bytes of ${Buffer.byteLength(bodyText(zipped))}`);

  // with a page cache: the page without gzip is served once more while one with gzip is made
  const cached = await metricsRoute(
    fixtureProvider(() => statusFixture()),
    { maxAgeMs: 60_000 },
  );
  const first = await cached.scrape();
  assert.equal((await cached.scrape(gz)).gzip, undefined);
  let later: ApiResponse | undefined;
  for (let i = 0; i < 100 && !later?.gzip; i++) {
    await new Promise((r) => setTimeout(r, 10));
    later = await cached.scrape(gz);
  }
  assert.ok(later?.gzip, 'a gzipped page within a second');
  assert.equal(zlib.gunzipSync(later.gzip).toString('utf8'), bodyText(later));
  assert.equal(bodyText(later).length, bodyText(first).length);
  await now.host.close();
  await cached.host.close();
});
