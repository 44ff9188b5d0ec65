/**
 * The cost of a Prometheus page at scale (issue 22): a status document of
 * 1,000 VRRP instances (one VIP each) and 10,000 real servers in 100 virtual
 * servers, one TCP_CHECK each, turned into /metrics by the plugin's two
 * halves in this thread. Each round changes every checker's last result and
 * every instance's advert counters (as a second between two scrapes does),
 * then times the frame (the document read into arrays: what the daemon's
 * thread does), apply (prom-client's series set from it) and render (the
 * page): the last two are what the plugin's worker thread does. Also timed:
 * a structured clone of the document (what handing the whole document to
 * another thread would cost) and of a frame (what the plugin hands over).
 *
 * Prints best and median of BENCH_METRICS_ROUNDS rounds (default 5) after
 * one warm-up round, the page's lines and bytes, and the load average.
 * Then the plugin's GET /metrics route (its page cache at the default
 * maxAgeMs) scraped 10 times a second for BENCH_METRICS_SCRAPE_S seconds
 * (default 5; BENCH_METRICS_MAX_AGE_MS=N: another maxAgeMs): the time each scrape took, the process's CPU over that time,
 * and the longest the event loop was held (what a health check's timer
 * would have waited): the pages are made in the worker thread.
 * Asserts nothing. BENCH_METRICS_SCALE=INSTANCES,REAL_SERVERS overrides the
 * size (default 1000,10000).
 */
import * as os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type * as Prom from 'prom-client';
import type { ApiResponse, ApiRoute } from '../core/api/types';
import type { PluginApi } from '../core/plugin/types';
import type { CheckerStatusDoc, InstanceStatusDoc, RealServerStatusDoc, StatusDocument, VirtualServerStatusDoc } from '../core/status/types';
import { silentLogger } from '../core/log/logger';
import metricsPlugin from '../plugins/metrics-prometheus';
import { FrameBuilder } from '../plugins/metrics-prometheus/frame';
import { MetricsPage } from '../plugins/metrics-prometheus/page';

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
    virtualServers.push({
      name: `[10.0.0.${v}]:tcp:80`,
      address: `10.0.0.${v}`,
      port: 80,
      fwmark: null,
      group: null,
      protocol: 'TCP',
      scheduler: 'wlc',
      quorum: 1,
      hysteresis: 0,
      quorumUp: true,
      aliveWeight: rss.length,
      sorryServer: null,
      realServers: rss,
    });
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

function percentiles(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(1);
  return `median ${at(0.5)} p90 ${at(0.9)} max ${s.at(-1)!.toFixed(1)}`;
}

/** The plugin's /metrics route, applied as a daemon applies it, on documents that change at each snapshot. */
async function metricsRoute(docs: StatusDocument[]): Promise<{ handle: () => Promise<ApiResponse>; snapshots: () => number; close: () => Promise<void> }> {
  let n = 0;
  let route: ApiRoute | undefined;
  const closers: Array<() => void | Promise<void>> = [];
  const api = {
    options: process.env.BENCH_METRICS_MAX_AGE_MS === undefined ? undefined : { maxAgeMs: Number(process.env.BENCH_METRICS_MAX_AGE_MS) },
    log: silentLogger,
    status: { snapshot: async () => docs[n++ % docs.length]! },
    registerRoute(def: ApiRoute) {
      route = def;
    },
    onClose(fn: () => void | Promise<void>) {
      closers.push(fn);
    },
  } as unknown as PluginApi<never>;
  await metricsPlugin.apply(api as never);
  const req = { method: 'GET', path: '/metrics', query: new URLSearchParams(), headers: {}, transport: 'tcp', body: undefined, params: {} };
  return {
    handle: async () => route!.handle(req as never),
    snapshots: () => n,
    close: async () => {
      for (const fn of closers) await fn();
    },
  };
}

async function scrapeAtTenPerSecond(instances: number, realServers: number): Promise<void> {
  const seconds = Number(process.env.BENCH_METRICS_SCRAPE_S ?? 5);
  const docs = [1, 2, 3].map((round) => statusDocument(instances, realServers, round));
  const route = await metricsRoute(docs);
  await route.handle();
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const took: number[] = [];
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < seconds * 10; i++) {
    const t = performance.now();
    await route.handle();
    took.push(performance.now() - t);
    const due = t0 + (i + 1) * 100;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
  }
  const wall = performance.now() - t0;
  lag.disable();
  const used = process.cpuUsage(cpu);
  console.log(
    `  GET /metrics at 10/s for ${seconds} s (maxAgeMs ${process.env.BENCH_METRICS_MAX_AGE_MS ?? 'default'}): ${route.snapshots() - 1} pages made for ${took.length} scrapes`,
  );
  console.log(`    per scrape ms: ${percentiles(took)}`);
  console.log(`    CPU: ${(((used.user + used.system) / 1000 / wall) * 100).toFixed(0)}% of one core`);
  await route.close();
  console.log(`    event loop held: max ${(lag.max / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`);
}

async function main(): Promise<void> {
  const [instances, realServers] = (process.env.BENCH_METRICS_SCALE ?? '1000,10000').split(',').map(Number) as [number, number];
  const rounds = Number(process.env.BENCH_METRICS_ROUNDS ?? 5);
  const prom = require('prom-client') as typeof Prom;
  const frames = new FrameBuilder();
  const metrics = new MetricsPage(prom);
  const frame: number[] = [];
  const apply: number[] = [];
  const render: number[] = [];
  const docClone: number[] = [];
  const frameClone: number[] = [];
  let layoutClone = 0;
  let page = '';
  for (let round = 0; round <= rounds; round++) {
    const doc = statusDocument(instances, realServers, round);
    let t = performance.now();
    structuredClone(doc);
    const dc = performance.now() - t;
    t = performance.now();
    const f = frames.frame(doc, '0.1.0');
    const fr = performance.now() - t;
    t = performance.now();
    structuredClone(f);
    const fc = performance.now() - t;
    t = performance.now();
    metrics.apply(f);
    const a = performance.now() - t;
    t = performance.now();
    page = await metrics.render();
    const r = performance.now() - t;
    // round 0 warms up: the series are made, the code is compiled; its frame carries the layout
    if (round === 0) {
      layoutClone = fc;
      continue;
    }
    frame.push(fr);
    apply.push(a);
    render.push(r);
    docClone.push(dc);
    frameClone.push(fc);
  }
  const lines = page.split('\n').length - 1;
  console.log(
    `metrics-render: ${instances} instances, ${realServers} real servers in ${VIRTUAL_SERVERS} virtual servers, one TCP_CHECK each; ${rounds} rounds`,
  );
  console.log(`  frame (the document read, main thread)   ms: ${stats(frame)}`);
  console.log(`  apply (prom-client's series set)         ms: ${stats(apply)}`);
  console.log(`  render (prom-client)                     ms: ${stats(render)}`);
  console.log(`  update = frame + apply                   ms: ${stats(frame.map((x, i) => x + apply[i]!))}`);
  console.log(`  update + render                          ms: ${stats(frame.map((x, i) => x + apply[i]! + render[i]!))}`);
  console.log(`  structuredClone of the document          ms: ${stats(docClone)}`);
  console.log(`  structuredClone of a frame               ms: ${stats(frameClone)} (values only); ${layoutClone.toFixed(1)} with its layout`);
  console.log(`  page: ${lines} lines, ${(Buffer.byteLength(page) / 1e6).toFixed(2)} MB`);
  await scrapeAtTenPerSecond(instances, realServers);
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
