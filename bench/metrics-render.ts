/**
 * The cost of a Prometheus page at scale (issue 22): a status document of
 * 1,000 VRRP instances (one VIP each) and 10,000 real servers in 100 virtual
 * servers, one TCP_CHECK each, turned into /metrics by the plugin's
 * StatusMetrics. Each round changes every checker's last result and every
 * instance's advert counters (as a second between two scrapes does), then
 * times update() (the document into the metrics) and render() (the page).
 * Also timed: a structured clone of the document (what handing the whole
 * document to another thread would cost).
 *
 * Prints best and median of BENCH_METRICS_ROUNDS rounds (default 5) after
 * one warm-up round, the page's lines and bytes, and the load average.
 * Asserts nothing. BENCH_METRICS_SCALE=INSTANCES,REAL_SERVERS overrides the
 * size (default 1000,10000).
 */
import * as os from 'node:os';
import type * as Prom from 'prom-client';
import type { CheckerStatusDoc, InstanceStatusDoc, RealServerStatusDoc, StatusDocument, VirtualServerStatusDoc } from '../core/status/types';
import { StatusMetrics } from '../plugins/metrics-prometheus/metrics';

const VIRTUAL_SERVERS = 100;

function instance(i: number): InstanceStatusDoc {
  return {
    name: `VI_${i}`,
    state: i % 2 ? 'MASTER' : 'BACKUP',
    wantedState: 'BACKUP',
    vrid: (i % 255) + 1,
    version: 3,
    family: 'inet',
    interface: 'eth0',
    basePriority: 100,
    effectivePriority: 100,
    advertIntervalMs: 1000,
    master: null,
    syncGroup: null,
    since: 1,
    cause: null,
    priorityCause: null,
    fault: null,
    waiting: [],
    vips: [{ address: `10.1.${i >> 8}.${i & 255}/24`, dev: 'eth0', present: true }],
    trackers: [],
    counters: {
      advert_rcvd: i,
      advert_sent: i,
      become_master: 1,
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
    },
    extraCounters: { checksum_err: 0, version_err: 0, vrid_err: 0, vip_restored: 0, vip_lost: 0 },
  } as InstanceStatusDoc;
}

function realServer(v: number, r: number, round: number): RealServerStatusDoc {
  const target = `10.2.${v}.${r}:80`;
  const checker = {
    keyword: 'TCP_CHECK',
    plugin: 'check-tcp',
    target,
    up: true,
    last: { ok: true, message: 'connected', latencyMs: 0.2 + ((r * 7 + round) % 50) / 10, at: 1_000_000 + round },
    checks: 100 + round,
    failures: 2,
    consecutiveFailures: 0,
    error: null,
  } as CheckerStatusDoc;
  return {
    name: target,
    address: `10.2.${v}.${r}`,
    port: 80,
    up: true,
    weight: 1,
    configuredWeight: 1,
    inhibit: false,
    since: null,
    cause: null,
    checkers: [checker],
  };
}

/** The document as it is at scrape `round`: counters and last results move on. */
function statusDocument(instances: number, realServers: number, round: number): StatusDocument {
  const perVs = Math.ceil(realServers / VIRTUAL_SERVERS);
  const virtualServers: VirtualServerStatusDoc[] = [];
  for (let v = 0; v < VIRTUAL_SERVERS; v++) {
    const rss: RealServerStatusDoc[] = [];
    for (let r = 0; r < perVs && v * perVs + r < realServers; r++) rss.push(realServer(v, r, round));
    virtualServers.push({ name: `10.0.0.${v}:80 TCP`, quorum: 1, hysteresis: 0, quorumUp: true, aliveWeight: rss.length, sorryServer: null, realServers: rss });
  }
  const inst = Array.from({ length: instances }, (_, i) => instance(i)).map((x) => ({
    ...x,
    counters: { ...x.counters, advert_rcvd: x.counters.advert_rcvd + round, advert_sent: x.counters.advert_sent + round },
  }));
  return {
    version: 1,
    generatedAt: 1_000_000 + round,
    daemon: {
      version: '0.1.0',
      pid: 1,
      configFile: '/etc/keepalived/keepalived.conf',
      configHash: 'h',
      configFiles: [],
      startedAt: 1,
      uptimeMs: 1,
      stateDir: null,
      instance: null,
      reloads: 0,
      reloadsRejected: 0,
      lastReload: null,
      vrrpProcess: null,
      eventLoopLag: { meanMs: 1, p99Ms: 1, maxMs: 1 },
    },
    vrrp: { running: true, instances: inst, syncGroups: [], otherVrids: 0 },
    virtualServers,
    notify: { outbox: null, published: 0, notifiers: [] },
  } as unknown as StatusDocument;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `best ${s[0]!.toFixed(1)} median ${s[Math.floor(s.length / 2)]!.toFixed(1)}`;
}

async function main(): Promise<void> {
  const [instances, realServers] = (process.env.BENCH_METRICS_SCALE ?? '1000,10000').split(',').map(Number) as [number, number];
  const rounds = Number(process.env.BENCH_METRICS_ROUNDS ?? 5);
  const prom = require('prom-client') as typeof Prom;
  const metrics = new StatusMetrics(prom);
  const update: number[] = [];
  const render: number[] = [];
  const clone: number[] = [];
  let page = '';
  for (let round = 0; round <= rounds; round++) {
    const doc = statusDocument(instances, realServers, round);
    let t = performance.now();
    structuredClone(doc);
    const c = performance.now() - t;
    t = performance.now();
    metrics.update(doc, '0.1.0');
    const u = performance.now() - t;
    t = performance.now();
    page = await metrics.render();
    const r = performance.now() - t;
    // round 0 warms up: the series are made, the code is compiled
    if (round === 0) continue;
    update.push(u);
    render.push(r);
    clone.push(c);
  }
  const lines = page.split('\n').length - 1;
  console.log(
    `metrics-render: ${instances} instances, ${realServers} real servers in ${VIRTUAL_SERVERS} virtual servers, one TCP_CHECK each; ${rounds} rounds`,
  );
  console.log(`  update()          ms: ${stats(update)}`);
  console.log(`  render()          ms: ${stats(render)}`);
  console.log(`  update + render   ms: ${stats(update.map((u, i) => u + render[i]!))}`);
  console.log(`  structuredClone   ms: ${stats(clone)} (the whole document)`);
  console.log(`  page: ${lines} lines, ${(Buffer.byteLength(page) / 1e6).toFixed(2)} MB`);
  console.log(
    `  load average: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${os.cpus().length} cpus)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
