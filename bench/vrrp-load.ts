/**
 * Load figures, alived next to keepalived (Debian's) in the same lab of
 * network namespaces and the same run:
 *
 *   4. 200 VRRP instances, all MASTER on one node (no backup peer), at
 *      advert_int 1 (v2) and 0.1 (v3): CPU (% of one core, utime + stime of
 *      every process of the daemon over a window) and memory (VmRSS; Pss for
 *      the share; private pages; the footprint, every page of the daemon's
 *      processes counted once), the advert interval jitter of all 200, and
 *      what SIGTERM costs (priority-0 adverts of all 200 on the wire, and the
 *      exit);
 *   5. advert interval jitter of one instance at advert_int 0.1 (v3), idle;
 *   6. the same while busy loops burn CPU on the node.
 *
 * Adverts are captured by tcpdump on the client host (kernel receive stamps,
 * nanoseconds); jitter is |interval - advert_int| per sender and VRID. For 5
 * and 6 alived (on n1) and keepalived (on n2) run side by side, each the
 * master of its own VRID, so both see the same machine at the same moment;
 * network namespaces share the CPUs, so a busy loop on n1 competes with both.
 * Prints figures; asserts nothing.
 *
 * Env: BENCH_QUICK=1 (shorter windows), BENCH_CPU_S (CPU window, default 20),
 * BENCH_JITTER_S (each jitter window, default 20), BENCH_INSTANCES (200),
 * BENCH_ONLY=load or BENCH_ONLY=jitter (one part: 4, or 5 and 6).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { keepalivedAvailable, VrrpLab, type DaemonKind, type LabDaemon } from '../core/lab/vrrp-lab';
import {
  advertJitter,
  CLK_TCK,
  daemonRoot,
  envInt,
  fmt,
  footprintKb,
  memory,
  vmRssKb,
  processTree,
  QUICK,
  readPcapAdverts,
  readStat,
  realtimeNs,
  startTcpdump,
  sleep,
  table,
  verdict,
  vrrpConfig,
  type CapturedAdvert,
  type InstanceSpec,
  type Jitter,
} from './vrrp-common';

const HOSTS = [
  { name: 'n1', ip: '10.99.0.11' },
  { name: 'n2', ip: '10.99.0.12' },
  { name: 'client', ip: '10.99.0.100' },
];
const KINDS: DaemonKind[] = ['alived', 'keepalived'];
/** after the last VIP is up: keepalived's and alived's second gratuitous ARP burst comes garp_master_delay (5 s) later */
const SETTLE_MS = 6000;

interface LoadResult {
  kind: DaemonKind;
  version: 2 | 3;
  advertS: number;
  instances: number;
  windowS: number;
  procs: Array<{ pid: number; role: string; cpuPct: number; rssKb: number; peakRssKb: number; pssKb: number; privateKb: number }>;
  /** every page of the daemon's processes counted once (kB) */
  footprintKb: number;
  /** the machine's 1-minute load average at the end of the window (other work disturbs CPU and jitter) */
  load: number;
  jitter: Jitter;
  /** SIGTERM: priority-0 adverts seen, and when the last of them and the exit came (ms after the signal) */
  stop: { prio0: number; lastPrio0Ms: number; exitMs: number; exitedCleanly: boolean };
  /** instances in MASTER (from the daemon's log) when the window started */
  masters: number;
  /** VIPs on the interface then: one per master expected */
  vips: number;
}

// --- helpers -----------------------------------------------------------------

/** VIPs (addresses besides the host's own) on the host's eth0. */
function vipCount(lab: Lab, host: string): number {
  const h = lab.host(host);
  const r = spawnSync('ip', ['-n', h.ns, '-j', 'addr', 'show', 'dev', h.ifname], { encoding: 'utf8', timeout: 5000 });
  const info = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string; family: string }> }>;
  return info.flatMap((i) => i.addr_info ?? []).filter((a) => a.family === 'inet' && a.local !== h.ip).length;
}

/** Instances whose daemon said `(VI_x) Entering MASTER STATE` (both daemons log that line) and are still there. */
function mastersLogged(d: LabDaemon): number {
  const state = new Map<string, string>();
  for (const l of d.lines) {
    const m = /\((VI_\d+)\) Entering (\w+) STATE/.exec(l);
    if (m) state.set(m[1]!, m[2]!);
  }
  return [...state.values()].filter((s) => s === 'MASTER').length;
}

async function waitMasters(d: LabDaemon, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = mastersLogged(d);
    if (c >= n) return;
    if (Date.now() > deadline)
      throw new Error(`${d.kind} on ${d.host.name}: ${c} of ${n} instances in MASTER after ${timeoutMs} ms; last lines:\n${d.lines.slice(-5).join('\n')}`);
    await sleep(200);
  }
}

async function waitVips(lab: Lab, host: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = vipCount(lab, host);
    if (c >= n) return;
    if (Date.now() > deadline) throw new Error(`${host}: ${c} of ${n} VIPs after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Removes every IPv4 address but the host's own from its eth0 (what a killed daemon left). */
function flushVips(lab: Lab, host: string): void {
  const h = lab.host(host);
  const r = spawnSync('ip', ['-n', h.ns, '-j', 'addr', 'show', 'dev', h.ifname], { encoding: 'utf8', timeout: 5000 });
  const info = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string; family: string; prefixlen: number }> }>;
  const lines = info
    .flatMap((i) => i.addr_info ?? [])
    .filter((a) => a.family === 'inet' && a.local !== h.ip)
    .map((a) => `addr del ${a.local}/${a.prefixlen} dev ${h.ifname}`);
  if (lines.length)
    spawnSync('ip', ['-n', h.ns, '-force', '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'], timeout: 10_000 });
}

function killTree(root: number): void {
  for (const pid of processTree(root).reverse()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** tcpdump on the client, writing VRRP packets with nanosecond stamps to a file. */
class Capture {
  private constructor(
    private readonly proc: ChildProcess,
    readonly file: string,
  ) {}

  static async start(lab: Lab, file: string): Promise<Capture> {
    return new Capture(await startTcpdump(lab, 'client', 'eth0', file, 'ip proto 112'), file);
  }

  async stop(): Promise<CapturedAdvert[]> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    process.kill(this.proc.pid!, 'SIGINT');
    await Promise.race([exited, sleep(5000)]);
    const adverts = readPcapAdverts(this.file);
    fs.rmSync(this.file, { force: true });
    return adverts;
  }
}

// --- 4. 200 instances ------------------------------------------------------------

function instances(n: number, version: 2 | 3, advertS: number): InstanceSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `VI_${i + 1}`,
    vrid: i + 1,
    // state MASTER below 255 still starts in BACKUP and waits Master_Down_Interval; nobody else is there
    state: 'MASTER' as const,
    priority: 150,
    version,
    advertS,
    vips: [`10.98.${Math.floor(i / 250)}.${(i % 250) + 1}/32`],
  }));
}

async function loadRun(lab: Lab, v: VrrpLab, dir: string, kind: DaemonKind, n: number, version: 2 | 3, advertS: number, windowS: number): Promise<LoadResult> {
  flushVips(lab, 'n1');
  const config = vrrpConfig('n1', instances(n, version, advertS));
  const d: LabDaemon = kind === 'alived' ? v.startAlived('n1', config) : v.startKeepalived('n1', config);
  const root = daemonRoot(d);
  try {
    await waitMasters(d, n, 60_000);
    await sleep(SETTLE_MS);
    const masters = mastersLogged(d);
    const vips = vipCount(lab, 'n1');
    const cap = await Capture.start(lab, path.join(dir, `load-${kind}-${version}.pcap`));
    await sleep(300);
    const pids = processTree(root);
    const before = new Map(pids.map((p) => [p, readStat(p)?.ticks ?? 0]));
    const w0 = process.hrtime.bigint();
    const jitterFrom = realtimeNs();
    // VmRSS once a second through the window: its peak, besides the reading at the end
    const peak = new Map(pids.map((p) => [p, 0]));
    const windowEnd = Date.now() + windowS * 1000;
    for (;;) {
      for (const p of pids) peak.set(p, Math.max(peak.get(p)!, vmRssKb(p)));
      const left = windowEnd - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(1000, left));
    }
    const after = new Map(pids.map((p) => [p, readStat(p)?.ticks]));
    const seconds = Number(process.hrtime.bigint() - w0) / 1e9;
    const procs = pids.map((pid, i) => {
      const t1 = after.get(pid);
      const mem = memory(pid);
      return {
        pid,
        role: i === 0 ? (kind === 'alived' ? 'main' : 'parent') : (readStat(pid)?.comm ?? 'child'),
        cpuPct: t1 === undefined ? NaN : ((t1 - before.get(pid)!) / CLK_TCK / seconds) * 100,
        rssKb: mem.rssKb,
        peakRssKb: Math.max(peak.get(pid)!, mem.rssKb),
        pssKb: mem.pssKb,
        privateKb: mem.privateKb,
      };
    });
    const footprint = footprintKb(pids);
    const load = os.loadavg()[0]!;
    // stop: every master sends priority 0 and releases
    const sigAt = realtimeNs();
    const t0 = v.signal(d, 'SIGTERM');
    const exited = await Promise.race([d.exited.then(() => true), sleep(30_000).then(() => false)]);
    const exitMs = exited ? Number(process.hrtime.bigint() - t0) / 1e6 : NaN;
    await sleep(300);
    const adverts = await cap.stop();
    const zeros = adverts.filter((a) => a.priority === 0 && a.tNs >= sigAt && a.src === lab.host('n1').ip);
    const lastPrio0Ms = zeros.length ? Number(zeros[zeros.length - 1]!.tNs - sigAt) / 1e6 : NaN;
    const jitter = advertJitter(
      adverts.filter((a) => a.tNs >= jitterFrom && a.tNs < sigAt),
      advertS * 1000,
    );
    return {
      kind,
      version,
      advertS,
      instances: n,
      windowS: seconds,
      procs,
      footprintKb: footprint,
      load,
      jitter,
      stop: { prio0: zeros.length, lastPrio0Ms, exitMs, exitedCleanly: exited },
      masters,
      vips,
    };
  } finally {
    killTree(root);
    await Promise.race([d.exited, sleep(3000)]);
    flushVips(lab, 'n1');
  }
}

// --- 5 and 6. jitter of one instance, idle and with busy loops ---------------------

interface JitterRow {
  condition: string;
  byKind: Map<DaemonKind, Jitter>;
}

async function jitterRuns(lab: Lab, v: VrrpLab, dir: string, windowS: number): Promise<JitterRow[]> {
  const one = (host: string, vrid: number): string =>
    vrrpConfig(host, [{ name: 'VI_1', vrid, state: 'MASTER', priority: 150, version: 3, advertS: 0.1, vips: [`10.99.0.${200 + vrid}/24`] }]);
  const hostOf: Record<DaemonKind, string> = { alived: 'n1', keepalived: 'n2' };
  const a = v.startAlived('n1', one('n1', 1));
  const k = v.startKeepalived('n2', one('n2', 2));
  const loops: ChildProcess[] = [];
  const cpus = os.cpus().length;
  const conditions: Array<{ label: string; loops: number }> = [
    { label: 'idle', loops: 0 },
    { label: '1 busy loop (one core)', loops: 1 },
    { label: `${cpus} busy loops (every core)`, loops: cpus },
  ];
  try {
    await waitVips(lab, 'n1', 1, 20_000);
    await waitVips(lab, 'n2', 1, 20_000);
    await sleep(SETTLE_MS);
    const cap = await Capture.start(lab, path.join(dir, 'jitter.pcap'));
    await sleep(300);
    const windows: Array<{ label: string; from: bigint; to: bigint }> = [];
    for (const c of conditions) {
      while (loops.length < c.loops) loops.push(lab.spawn('n1', [process.execPath, '-e', 'for(;;){}']));
      await sleep(500);
      const from = realtimeNs();
      await sleep(windowS * 1000);
      windows.push({ label: c.label, from, to: realtimeNs() });
    }
    for (const p of loops.splice(0)) process.kill(p.pid!, 'SIGKILL');
    const adverts = await cap.stop();
    return windows.map((w) => {
      const byKind = new Map<DaemonKind, Jitter>();
      for (const kind of KINDS) {
        const src = lab.host(hostOf[kind]).ip;
        byKind.set(
          kind,
          advertJitter(
            adverts.filter((x) => x.src === src && x.tNs >= w.from && x.tNs < w.to),
            100,
          ),
        );
      }
      return { condition: w.label, byKind };
    });
  } finally {
    for (const p of loops) {
      try {
        process.kill(p.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    killTree(daemonRoot(a));
    killTree(daemonRoot(k));
    await Promise.race([Promise.all([a.exited, k.exited]), sleep(3000)]);
    flushVips(lab, 'n1');
    flushVips(lab, 'n2');
  }
}

// --- tables ------------------------------------------------------------------------

const mb = (kb: number): string => fmt(kb / 1024, 1);
const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);

function printLoad(results: LoadResult[]): void {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const r of results) {
    const k = results.find((x) => x.kind === 'keepalived' && x.version === r.version);
    const cpu = sum(r.procs.map((p) => p.cpuPct));
    const kCpu = k ? sum(k.procs.map((p) => p.cpuPct)) : NaN;
    const rss = sum(r.procs.map((p) => p.rssKb));
    const pss = sum(r.procs.map((p) => p.pssKb));
    const own = sum(r.procs.map((p) => p.privateKb));
    // the daemon's VRRP process: alived's VRRP child, keepalived's VRRP child (the issue's 3.7 MB is that one)
    const vrrp = r.procs[1];
    const alived = r.kind === 'alived';
    rows.push([
      `v${r.version} ${r.advertS} s`,
      r.kind,
      `${r.masters}`,
      `${r.vips}`,
      fmt(cpu, 2),
      r.procs.map((p) => fmt(p.cpuPct, 2)).join(' + '),
      alived ? `${fmt(cpu / kCpu, 1)}x` : '',
      vrrp ? mb(vrrp.rssKb) : '-',
      mb(r.footprintKb),
      mb(rss),
      r.procs.map((p) => mb(p.rssKb)).join(' + '),
      r.procs.map((p) => mb(p.peakRssKb)).join(' + '),
      mb(pss),
      mb(own),
      r.procs.map((p) => mb(p.privateKb)).join(' + '),
      alived
        ? `${verdict(cpu <= 3 * kCpu)} / VRRP process ${verdict(vrrp !== undefined && vrrp.rssKb < 80 * 1024)}, footprint ${verdict(r.footprintKb < 80 * 1024)}, RSS sum ${verdict(rss < 80 * 1024)}`
        : '',
    ]);
    notes.push(
      `${r.kind} v${r.version}: processes ${r.procs.map((p) => `${p.pid} ${p.role}`).join(', ')}; window ${fmt(r.windowS, 1)} s; load average ${fmt(r.load, 2)}`,
    );
  }
  console.log(
    table(
      `vrrp-load 4a. ${results[0]?.instances ?? 200} instances, all MASTER on one node, no backup peer: CPU (% of one core) and memory`,
      [
        'advert',
        'daemon',
        'masters',
        'VIPs',
        'CPU %',
        'main + vrrp',
        'vs keepalived',
        'VRRP proc RSS MB',
        'footprint MB',
        'RSS sum MB',
        'main + vrrp',
        'peak in window',
        'PSS MB',
        'private MB',
        'main + vrrp',
        'target CPU <= 3x / memory < 80 MB',
      ],
      rows,
      [
        'CPU = utime + stime from /proc/PID/stat over the window, every process of the daemon (alived: main + VRRP child; keepalived: parent + VRRP child).',
        "VRRP proc RSS = VmRSS of the daemon's VRRP process; footprint = the physical pages of all the daemon's processes, each counted once (/proc/PID/pagemap): what the",
        'node pays when the daemon runs alone; RSS sum = VmRSS summed over the processes (a page both map counts twice: the node binary, about 34 MB, once per Node process);',
        'peak = the highest VmRSS read once a second through the window; PSS = shared pages split among every process on the machine that maps them (other Node processes',
        "here share the node binary's); private = pages only that process maps. Memory is read at the end of the window; load average = other work on the machine.",
        "keepalived 2.2.7 reference in the issue: 0.78 % of a core at 1 s, 7.0 % at 0.1 s, 3.7 MB resident: the RSS of keepalived's VRRP process (3.4-3.5 MB here; its",
        "whole footprint is about 10 MB, its RSS sum 13 MB), so the VRRP process's RSS is the measure the target compares; the footprint and RSS sum are given as well.",
        'masters = instances the daemon logged as MASTER; VIPs = addresses on eth0 then (one per master expected).',
        ...notes,
      ],
    ),
  );
  const jrows: string[][] = [];
  for (const r of results) {
    const j = r.jitter;
    jrows.push([
      `v${r.version} ${r.advertS} s`,
      r.kind,
      String(j.streams),
      String(j.intervals),
      fmt(j.p50, 2),
      fmt(j.p99, 2),
      fmt(j.max, 2),
      fmt(j.meanOffset, 2),
      String(j.gaps),
      r.kind === 'alived' ? '< 2.00' : '',
      r.kind === 'alived' ? verdict(j.p99 < 2) : '',
    ]);
  }
  console.log(
    table(
      `vrrp-load 4b. Advert interval jitter with ${results[0]?.instances ?? 200} instances, |interval - advert_int| (ms), every instance pooled`,
      ['advert', 'daemon', 'streams', 'intervals', 'p50', 'p99', 'max', 'mean offset', 'missed', 'target p99', 'verdict'],
      jrows,
      [
        'Stamps: tcpdump on the client host (kernel receive time). mean offset = mean(interval - advert_int): a steady drift. missed = intervals over 1.5 x advert_int.',
      ],
    ),
  );
  const srows = results.map((r) => [
    `v${r.version} ${r.advertS} s`,
    r.kind,
    `${r.stop.prio0} of ${r.instances}`,
    fmt(r.stop.lastPrio0Ms, 1),
    r.stop.exitedCleanly ? fmt(r.stop.exitMs, 0) : 'killed after 30 s',
  ]);
  console.log(
    table(
      `vrrp-load 4c. SIGTERM with ${results[0]?.instances ?? 200} masters: priority-0 adverts on the wire and the exit (ms after the signal)`,
      ['advert', 'daemon', 'priority 0 seen', 'last priority 0', 'exit'],
      srows,
      ['A backup waits Skew_Time after a priority-0 advert: a late one is a late takeover for that instance.'],
    ),
  );
}

function printJitter(rows: JitterRow[], windowS: number): void {
  const out: string[][] = [];
  for (const r of rows) {
    for (const kind of KINDS) {
      const j = r.byKind.get(kind)!;
      const target = r.condition === 'idle' ? 2 : 5;
      out.push([
        r.condition,
        kind,
        String(j.intervals),
        fmt(j.p50, 2),
        fmt(j.p99, 2),
        fmt(j.max, 2),
        fmt(j.meanOffset, 2),
        String(j.gaps),
        kind === 'alived' ? `< ${fmt(target, 2)}` : '',
        kind === 'alived' ? verdict(j.p99 < target) : '',
      ]);
    }
  }
  console.log(
    table(
      `vrrp-load 5/6. Advert interval jitter, one instance at advert_int 0.1 s (v3), |interval - 100 ms| (ms), ${fmt(windowS, 0)} s per condition`,
      ['condition', 'daemon', 'intervals', 'p50', 'p99', 'max', 'mean offset', 'missed', 'target p99', 'verdict'],
      out,
      [
        'alived on n1 and keepalived on n2 run side by side, each the master of its own VRID; busy loops (node -e "for(;;){}") run in n1.',
        'Namespaces share the CPUs: a loop competes with both daemons alike. Target: p99 < 2 ms idle (5.), < 5 ms with a core burnt (6.);',
        "the issue's scenario for 6. is the one-core row; every core busy is the harder case, judged by the same 5 ms.",
      ],
    ),
  );
}

// --- main ----------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('vrrp-load needs root: it builds a lab of network namespaces');
  if (!keepalivedAvailable()) throw new Error('vrrp-load needs keepalived to compare with (apt-get install keepalived)');
  if (spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error('vrrp-load needs tcpdump (apt-get install tcpdump)');
  const n = envInt('BENCH_INSTANCES', 200);
  if (n > 255) throw new Error('BENCH_INSTANCES: at most 255 (one VRID each)');
  const cpuS = envInt('BENCH_CPU_S', QUICK ? 8 : 20);
  const jitterS = envInt('BENCH_JITTER_S', QUICK ? 10 : 20);
  const only = process.env.BENCH_ONLY ?? '';
  if (only !== '' && only !== 'load' && only !== 'jitter') throw new Error(`BENCH_ONLY: load or jitter, not ${JSON.stringify(only)}`);
  const started = Date.now();
  console.log(
    `vrrp-load: ${n} instances for ${cpuS} s at each advert_int per daemon; jitter windows of ${jitterS} s; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})${QUICK ? ' (BENCH_QUICK)' : ''}`,
  );
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-load-'));
  const lab = await Lab.create({ name: 'load', hosts: HOSTS });
  const results: LoadResult[] = [];
  let jitter: JitterRow[] = [];
  try {
    const v = new VrrpLab(lab, dir);
    for (const [version, advertS] of [
      [2, 1],
      [3, 0.1],
    ] as const) {
      if (only === 'jitter') break;
      for (const kind of KINDS) {
        process.stderr.write(`  ${kind} ${n} instances v${version} ${advertS} s\n`);
        results.push(await loadRun(lab, v, dir, kind, n, version, advertS, cpuS));
      }
    }
    if (only !== 'load') {
      process.stderr.write('  jitter, one instance each, idle and busy\n');
      jitter = await jitterRuns(lab, v, dir, jitterS);
    }
  } finally {
    await lab.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  if (results.length > 0) printLoad(results);
  if (jitter.length > 0) printJitter(jitter, jitterS);
  console.log(`vrrp-load: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`vrrp-load: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
