/**
 * Issue 5's last figure: the advert interval jitter of a VRRP instance on
 * the node that runs the health checks, in one real alived daemon (its main
 * process runs the checks, its VRRP child process the instance):
 *
 *   - VRRP alone (the same instance, no virtual_server: the baseline);
 *   - with 10,000 real servers with TCP_CHECK at delay_loop 1;
 *   - with 2,000 real servers with HTTP_GET at delay_loop 1.
 *
 * Lab: n1 (the node) and a client. In n1's namespace, on its loopback, the
 * real servers of check-listeners.js (one port each, in a process of their
 * own); on n1, one alived with one vrrp_instance (v3, advert_int 0.1, a VIP
 * on eth0) and, for the loaded conditions, the virtual servers. tcpdump on
 * the client stamps the adverts (kernel receive time, ns); jitter is
 * |interval - 100 ms| of the instance's consecutive adverts, as vrrp-load.
 * A second tcpdump on n1's eth0 stamps them as they are sent, which tells
 * an advert sent late (the VRRP process waited) from one delayed on the way.
 *
 * Besides the jitter: CPU and RSS of the daemon's main process (the checks)
 * and of its VRRP process, the checks per second the node sustains (the
 * daemon's TCP connects: ActiveOpens of n1's namespace, where nothing else
 * opens TCP connections; TCP_CHECK and HTTP_GET open one per check), the
 * CPU of the listeners and of the whole machine, and how long the VRRP
 * process waited for a CPU (/proc/PID/schedstat), which is what checks on
 * the same node can add to its adverts. Prints figures; asserts nothing.
 *
 * Env: BENCH_QUICK=1 (8 s windows instead of 20 s), BENCH_JITTER_S (each
 * window, seconds), BENCH_TCP_SERVERS (10000), BENCH_HTTP_SERVERS (2000).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../core/lab/vrrp-lab';
import {
  advertJitter,
  CLK_TCK,
  daemonRoot,
  envInt,
  fmt,
  memory,
  vmRssKb,
  processTree,
  quantile,
  QUICK,
  readPcapAdverts,
  readStat,
  realtimeNs,
  sleep,
  startTcpdump,
  table,
  verdict,
  vrrpConfig,
  type CapturedAdvert,
  type Jitter,
} from './vrrp-common';
import { startListeners, virtualServers } from './check-lab';

const HOSTS = [
  { name: 'n1', ip: '10.99.0.11' },
  { name: 'client', ip: '10.99.0.100' },
];
const VRID = 1;
const ADVERT_MS = 100;
const VIP = '10.99.0.201/24';
const TARGET_P99_MS = 5;
/** after MASTER: the second gratuitous ARP burst (garp_master_delay 5 s), and the checks' bootstrap (1 s) and warmup (delay_loop) */
const SETTLE_MS = 6000;

interface Condition {
  label: string;
  /** vrrp_rt_priority in global_defs: the VRRP process under SCHED_RR */
  rtPriority?: number;
  kind?: 'tcp' | 'http';
  servers: number;
  checker?: string;
}

interface ProcFigures {
  pid: number;
  cpuPct: number;
  /** at the end of the window */
  rssKb: number;
  /** the largest of the samples taken every 500 ms */
  rssMaxKb: number;
}

interface Result {
  cond: Condition;
  windowS: number;
  /** daemon start to `(VI_1) Entering MASTER STATE` */
  masterMs: number;
  /** stamped on the client when received: the figure */
  jitter: Jitter;
  /** stamped on n1's eth0 when sent (the packet tap in dev_queue_xmit, inside the VRRP process's send): its timers and scheduling */
  sent: Jitter;
  /** client stamp - n1 stamp of the same advert, ms: the way through the kernel, veth and bridge */
  wire: { matched: number; p50: number; p99: number; max: number };
  /** the processes that used the most CPU on the whole machine over the window */
  top: Array<{ pid: number; comm: string; cpuPct: number; ours: string }>;
  main: ProcFigures;
  vrrp: ProcFigures | undefined;
  listeners: ProcFigures | undefined;
  /** every CPU of the machine, % of all of them */
  machineBusyPct: number;
  machineSoftirqPct: number;
  machineStealPct: number;
  /** CPU of everything else on the machine (not the daemon, listeners, captures or this process), % of one core: load that disturbs the figures */
  othersPct: number;
  /** TCP ActiveOpens / s in n1: the daemon's connects, one per check */
  connectsPerS: number;
  attemptFails: number;
  listenDrops: number;
  /** lines of the daemon's log in the window that say a check failed */
  failedLines: number;
  /** the VRRP process's main thread: time waiting for a CPU, per time slice and in all (schedstat) */
  vrrpWaitUsPerSlice: number;
  vrrpWaitMsTotal: number;
  vrrpSlices: number;
}

// --- helpers -------------------------------------------------------------------------

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

function killProc(p: ChildProcess | undefined): void {
  if (!p?.pid || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    try {
      p.kill('SIGKILL');
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

  static async start(lab: Lab, host: string, file: string): Promise<Capture> {
    return new Capture(await startTcpdump(lab, host, 'eth0', file, 'ip proto 112'), file);
  }

  async stop(): Promise<CapturedAdvert[]> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      process.kill(this.proc.pid!, 'SIGINT');
      await Promise.race([exited, sleep(5000)]);
      killProc(this.proc);
    }
    const adverts = fs.existsSync(this.file) ? readPcapAdverts(this.file) : [];
    fs.rmSync(this.file, { force: true });
    return adverts;
  }

  kill(): void {
    killProc(this.proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }
}

/** Tcp counters of the namespace `pid` lives in (/proc/PID/net/snmp and netstat are per network namespace). */
function tcpCounters(pid: number): { activeOpens: number; attemptFails: number; listenDrops: number } {
  const pick = (file: string, prefix: string): Map<string, number> => {
    const m = new Map<string, number>();
    let lines: string[];
    try {
      lines = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(`${prefix}:`));
    } catch {
      return m;
    }
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.split(/\s+/).slice(1);
      const values = lines[i + 1]!.split(/\s+/).slice(1);
      names.forEach((n, j) => m.set(n, Number(values[j])));
    }
    return m;
  };
  const tcp = pick(`/proc/${pid}/net/snmp`, 'Tcp');
  const ext = pick(`/proc/${pid}/net/netstat`, 'TcpExt');
  return { activeOpens: tcp.get('ActiveOpens') ?? NaN, attemptFails: tcp.get('AttemptFails') ?? NaN, listenDrops: ext.get('ListenDrops') ?? NaN };
}

/** the whole machine's CPU ticks: busy (not idle, iowait or steal), softirq, steal (a VM's CPU taken by its host), all */
function machineTicks(): { busy: number; softirq: number; steal: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((s, x) => s + x, 0);
  return { busy: total - f[3]! - f[4]! - f[7]!, softirq: f[6]!, steal: f[7]!, total };
}

/** /proc/PID/schedstat of the process's main thread: ns on a CPU, ns waiting for one, time slices */
function schedstat(pid: number): { runNs: number; waitNs: number; slices: number } | undefined {
  try {
    const [run, wait, slices] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { runNs: run!, waitNs: wait!, slices: slices! };
  } catch {
    return undefined;
  }
}

/** utime + stime of every process of the machine (every namespace: the lab shares the CPUs) */
function allTicks(): Map<number, { comm: string; ticks: number }> {
  const out = new Map<number, { comm: string; ticks: number }>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) out.set(st.pid, { comm: st.comm, ticks: st.ticks });
  }
  return out;
}

/** Each advert sent on n1 with its arrival at the client (the first within 50 ms after it): the delays in ms. */
function wireDelays(tx: CapturedAdvert[], rx: CapturedAdvert[]): { matched: number; p50: number; p99: number; max: number } {
  const d: number[] = [];
  let j = 0;
  for (const t of tx) {
    while (j < rx.length && rx[j]!.tNs < t.tNs) j++;
    if (j < rx.length && rx[j]!.tNs - t.tNs < 50_000_000n) {
      d.push(Number(rx[j]!.tNs - t.tNs) / 1e6);
      j++;
    }
  }
  d.sort((a, b) => a - b);
  return { matched: d.length, p50: quantile(d, 0.5), p99: quantile(d, 0.99), max: d.length ? d[d.length - 1]! : NaN };
}

async function waitLine(d: LabDaemon, re: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = d.lines.find((x) => re.test(x));
    if (l) return l;
    const gone = await Promise.race([d.exited.then(() => true), sleep(100).then(() => false)]);
    if (gone) throw new Error(`alived on ${d.host.name} exited before a line matching ${re}; last lines:\n${d.lines.slice(-10).join('\n')}`);
    if (Date.now() > deadline)
      throw new Error(`alived on ${d.host.name}: no line matching ${re} within ${timeoutMs} ms; last lines:\n${d.lines.slice(-10).join('\n')}`);
  }
}

// --- one condition ---------------------------------------------------------------------

async function runCondition(lab: Lab, v: VrrpLab, dir: string, cond: Condition, windowS: number): Promise<Result> {
  flushVips(lab, 'n1');
  let listeners: { proc: ChildProcess; ports: number[] } | undefined;
  let d: LabDaemon | undefined;
  let cap: Capture | undefined;
  let capTx: Capture | undefined;
  try {
    if (cond.kind) listeners = await startListeners(lab, cond.kind, cond.servers);
    let config =
      vrrpConfig('n1', [{ name: 'VI_1', vrid: VRID, state: 'MASTER', priority: 150, version: 3, advertS: ADVERT_MS / 1000, vips: [VIP] }]) +
      (listeners ? virtualServers(listeners.ports, cond.checker!) : '');
    if (cond.rtPriority !== undefined) config = config.replace('global_defs {', `global_defs {\n  vrrp_rt_priority ${cond.rtPriority}`);
    const t0 = Date.now();
    d = v.startAlived('n1', config);
    const root = daemonRoot(d);
    // compiling 10,000 real servers takes a few seconds before VRRP starts
    await waitLine(d, /\(VI_1\) Entering MASTER STATE/, 120_000);
    const masterMs = Date.now() - t0;
    await sleep(SETTLE_MS);

    const started = /VRRP process started \(pid (\d+)\)/.exec(d.lines.find((l) => /VRRP process started/.test(l)) ?? '');
    const vrrpPid = started ? Number(started[1]) : processTree(root)[1];
    const lPid = listeners?.proc.pid;

    cap = await Capture.start(lab, 'client', path.join(dir, `under-${cond.kind ?? 'alone'}-rx.pcap`));
    capTx = await Capture.start(lab, 'n1', path.join(dir, `under-${cond.kind ?? 'alone'}-tx.pcap`));
    const capPids = [cap.pid, capTx.pid];
    await sleep(300);

    const pids = [root, vrrpPid, lPid];
    const ticks0 = pids.map((p) => (p === undefined ? undefined : readStat(p)?.ticks));
    const rssMax = pids.map(() => 0);
    const m0 = machineTicks();
    const tcp0 = tcpCounters(root);
    const s0 = vrrpPid !== undefined ? schedstat(vrrpPid) : undefined;
    const lines0 = d.lines.length;
    const all0 = allTicks();
    const w0 = process.hrtime.bigint();
    const from = realtimeNs();
    const end = Date.now() + windowS * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(500, Math.max(0, end - Date.now())));
      pids.forEach((p, i) => {
        if (p !== undefined) rssMax[i] = Math.max(rssMax[i]!, vmRssKb(p));
      });
    }
    const to = realtimeNs();
    const seconds = Number(process.hrtime.bigint() - w0) / 1e9;
    const ticks1 = pids.map((p) => (p === undefined ? undefined : readStat(p)?.ticks));
    const m1 = machineTicks();
    const tcp1 = tcpCounters(root);
    const s1 = vrrpPid !== undefined ? schedstat(vrrpPid) : undefined;
    const all1 = allTicks();
    const windowLines = d.lines.slice(lines0);

    const figures = (i: number): ProcFigures | undefined => {
      const p = pids[i];
      if (p === undefined) return undefined;
      const a = ticks0[i];
      const b = ticks1[i];
      return {
        pid: p,
        cpuPct: a === undefined || b === undefined ? NaN : ((b - a) / CLK_TCK / seconds) * 100,
        rssKb: memory(p).rssKb,
        rssMaxKb: rssMax[i]!,
      };
    };
    const main = figures(0)!;
    const vrrp = figures(1);
    const lfig = figures(2);

    const src = lab.host('n1').ip;
    const mine = (list: CapturedAdvert[]): CapturedAdvert[] =>
      list.filter((a) => a.src === src && a.vrid === VRID && a.priority > 0 && a.tNs >= from && a.tNs < to);
    const rx = mine(await cap.stop());
    cap = undefined;
    const tx = mine(await capTx.stop());
    capTx = undefined;
    const jitter = advertJitter(rx, ADVERT_MS);
    const sent = advertJitter(tx, ADVERT_MS);
    const wire = wireDelays(tx, rx);
    const roles = new Map<number, string>([
      [root, 'alived main'],
      [lPid ?? -1, 'listeners'],
    ]);
    if (vrrpPid !== undefined) roles.set(vrrpPid, 'alived VRRP');
    const ours = new Set([root, vrrpPid, lPid, ...capPids, process.pid]);
    let oursTicks = 0;
    for (const [pid, t] of all1) if (ours.has(pid)) oursTicks += t.ticks - (all0.get(pid)?.ticks ?? 0);
    const top = [...all1]
      .map(([pid, t]) => ({ pid, comm: t.comm, cpuPct: ((t.ticks - (all0.get(pid)?.ticks ?? 0)) / CLK_TCK / seconds) * 100, ours: roles.get(pid) ?? '' }))
      .filter((x) => x.cpuPct >= 1)
      .sort((a, b) => b.cpuPct - a.cpuPct)
      .slice(0, 6);
    const slices = s1 && s0 ? s1.slices - s0.slices : NaN;
    const waitNs = s1 && s0 ? s1.waitNs - s0.waitNs : NaN;
    const dt = m1.total - m0.total;
    return {
      cond,
      windowS: seconds,
      masterMs,
      jitter,
      sent,
      wire,
      top,
      main,
      vrrp,
      listeners: lfig,
      machineBusyPct: ((m1.busy - m0.busy) / dt) * 100,
      machineSoftirqPct: ((m1.softirq - m0.softirq) / dt) * 100,
      machineStealPct: ((m1.steal - m0.steal) / dt) * 100,
      othersPct: Math.max(0, ((m1.busy - m0.busy - (m1.softirq - m0.softirq)) / dt) * os.cpus().length * 100 - (oursTicks / CLK_TCK / seconds) * 100),
      connectsPerS: (tcp1.activeOpens - tcp0.activeOpens) / seconds,
      attemptFails: tcp1.attemptFails - tcp0.attemptFails,
      listenDrops: tcp1.listenDrops - tcp0.listenDrops,
      failedLines: windowLines.filter((l) => /\bfailed\b/.test(l)).length,
      vrrpWaitUsPerSlice: waitNs / 1000 / slices,
      vrrpWaitMsTotal: waitNs / 1e6,
      vrrpSlices: slices,
    };
  } finally {
    cap?.kill();
    capTx?.kill();
    if (d) {
      const root = daemonRoot(d);
      try {
        process.kill(root, 'SIGTERM');
      } catch {
        // gone already
      }
      const exited = await Promise.race([d.exited.then(() => true), sleep(30_000).then(() => false)]);
      if (!exited) process.stderr.write('  alived did not exit within 30 s of SIGTERM: killed\n');
      killTree(root);
      await Promise.race([d.exited, sleep(3000)]);
    }
    if (listeners) {
      listeners.proc.stdin?.end();
      await Promise.race([new Promise((r) => listeners!.proc.once('exit', r)), sleep(3000)]);
      killProc(listeners.proc);
    }
    flushVips(lab, 'n1');
  }
}

// --- the table -----------------------------------------------------------------------

const mb = (kb: number): string => fmt(kb / 1024, 0);

function print(results: Result[], windowS: number): void {
  const jrows = results.map((r) => {
    const j = r.jitter;
    return [
      r.cond.label,
      String(j.intervals),
      fmt(j.p50, 2),
      fmt(j.p99, 2),
      fmt(j.max, 2),
      fmt(j.meanOffset, 2),
      String(j.gaps),
      `< ${fmt(TARGET_P99_MS, 2)}`,
      r.cond.kind ? verdict(j.p99 < TARGET_P99_MS) : '(baseline)',
    ];
  });
  console.log(
    table(
      `vrrp-under-checks. Advert interval jitter of one VRRP instance (v3, advert_int 0.1 s) while the same alived checks real servers, |interval - 100 ms| (ms), ${fmt(windowS, 0)} s per condition`,
      ['condition', 'intervals', 'p50', 'p99', 'max', 'mean offset', 'missed', 'target p99', 'verdict'],
      jrows,
      [
        "One alived on n1: its main process runs the checks (delay_loop 1, real servers on n1's loopback, served by check-listeners.js in n1), its VRRP child the instance.",
        'Stamps: tcpdump on the client host (kernel receive time, ns). mean offset = mean(interval - 100 ms). missed = intervals over 150 ms.',
      ],
    ),
  );
  const prows = results.map((r) => [
    r.cond.label,
    r.cond.kind ? `${fmt(r.connectsPerS, 0)} / ${r.cond.servers}` : fmt(r.connectsPerS, 0),
    r.cond.kind ? `${r.attemptFails} / ${r.listenDrops} / ${r.failedLines}` : '',
    fmt(r.main.cpuPct, 1),
    `${mb(r.main.rssKb)} (${mb(r.main.rssMaxKb)})`,
    r.vrrp ? fmt(r.vrrp.cpuPct, 1) : '-',
    r.vrrp ? `${mb(r.vrrp.rssKb)} (${mb(r.vrrp.rssMaxKb)})` : '-',
    r.listeners ? fmt(r.listeners.cpuPct, 1) : '-',
    `${fmt(r.machineBusyPct, 0)} / ${fmt(r.machineSoftirqPct, 1)} / ${fmt(r.machineStealPct, 1)}`,
    fmt(r.othersPct, 1),
    fmt(r.masterMs / 1000, 1),
  ]);
  const cpus = os.cpus().length;
  console.log(
    table(
      "vrrp-under-checks. The node meanwhile: checks sustained, CPU (% of one core) and RSS (MB) of the daemon's processes",
      [
        'condition',
        'checks/s / servers',
        'conn fails / listen drops / failed lines',
        'main CPU %',
        'main RSS (max)',
        'VRRP CPU %',
        'VRRP RSS (max)',
        'listeners CPU %',
        `machine busy / softirq / steal % of ${cpus} CPUs`,
        'others CPU %',
        'MASTER after s',
      ],
      prows,
      [
        "checks/s = TCP ActiveOpens per second in n1's namespace (only the daemon opens TCP connections there; TCP_CHECK and HTTP_GET open one per check).",
        '  Every server every loop at delay_loop 1 is checks/s = servers.',
        'conn fails = TCP AttemptFails, listen drops = TcpExt ListenDrops in n1 over the window; failed lines = log lines of the window saying a check failed.',
        'CPU = utime + stime from /proc/PID/stat over the window; RSS = VmRSS at the end (largest 500 ms sample).',
        "others = the machine's busy time (softirq aside) less the daemon, listeners, tcpdumps and this process: load from elsewhere, % of one core.",
        ...results
          .filter((r) => r.othersPct > 10)
          .map(
            (r) =>
              `WARNING: ${r.cond.label}: other processes used ${fmt(r.othersPct, 0)} % of a core during the window: its figures are disturbed; run again on a quiet machine.`,
          ),
        ...results.map(
          (r) =>
            `${r.cond.label}: main ${r.main.pid}, VRRP ${r.vrrp?.pid ?? '?'}${r.listeners ? `, listeners ${r.listeners.pid}` : ''}; window ${fmt(r.windowS, 1)} s`,
        ),
      ],
    ),
  );
  const wrows = results.map((r) => [
    r.cond.label,
    `${fmt(r.sent.p50, 2)} / ${fmt(r.sent.p99, 2)} / ${fmt(r.sent.max, 2)}`,
    `${fmt(r.wire.p50, 3)} / ${fmt(r.wire.p99, 3)} / ${fmt(r.wire.max, 3)}`,
    `${r.wire.matched} of ${r.sent.intervals + r.sent.gaps + 1}`,
    `${fmt(r.vrrpWaitUsPerSlice, 0)} / ${fmt(r.vrrpWaitMsTotal, 1)} / ${r.vrrpSlices}`,
  ]);
  console.log(
    table(
      'vrrp-under-checks. Where the jitter comes from: the VRRP process sending late, or the adverts delayed on the way (ms)',
      ['condition', 'sent jitter p50 / p99 / max', 'sent -> received p50 / p99 / max', 'matched', 'VRRP runq wait us/slice / ms total / slices'],
      wrows,
      [
        "sent = stamps of a tcpdump on n1's eth0 (the packet tap of dev_queue_xmit, inside the VRRP process's send call): timer and scheduling of the VRRP process.",
        'sent -> received = client stamp - n1 stamp of the same advert (one clock): veth, bridge and softirq processing on the way.',
        "VRRP runq wait = time the VRRP process's main thread was runnable but not on a CPU (/proc/PID/schedstat), per time slice, in all, and the slices.",
        'Busiest processes of the machine over each window (% of one core):',
        ...results.map((r) => `  ${r.cond.label}: ${r.top.map((t) => `${t.ours || t.comm} ${t.pid} ${fmt(t.cpuPct, 1)}`).join(', ') || 'none over 1 %'}`),
      ],
    ),
  );
}

// --- main ------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('vrrp-under-checks needs root: it builds a lab of network namespaces');
  if (spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error('vrrp-under-checks needs tcpdump (apt-get install tcpdump)');
  const windowS = envInt('BENCH_JITTER_S', QUICK ? 8 : 20);
  const tcpServers = envInt('BENCH_TCP_SERVERS', 10_000);
  const httpServers = envInt('BENCH_HTTP_SERVERS', 2000);
  const conditions: Condition[] = [
    { label: 'VRRP alone (no checks)', servers: 0 },
    {
      label: `${tcpServers.toLocaleString('en-US')} TCP_CHECK (default: VRRP process SCHED_RR 1)`,
      kind: 'tcp',
      servers: tcpServers,
      checker: '    TCP_CHECK {\n      connect_timeout 3\n    }',
    },
    {
      label: `${httpServers.toLocaleString('en-US')} HTTP_GET (default: VRRP process SCHED_RR 1)`,
      kind: 'http',
      servers: httpServers,
      checker: '    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }',
    },
    {
      label: `${tcpServers.toLocaleString('en-US')} TCP_CHECK, vrrp_rt_priority 0 (normal scheduling)`,
      kind: 'tcp',
      servers: tcpServers,
      rtPriority: 0,
      checker: '    TCP_CHECK {\n      connect_timeout 3\n    }',
    },
    {
      label: `${httpServers.toLocaleString('en-US')} HTTP_GET, vrrp_rt_priority 0 (normal scheduling)`,
      kind: 'http',
      servers: httpServers,
      rtPriority: 0,
      checker: '    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }',
    },
  ];
  const started = Date.now();
  console.log(
    `vrrp-under-checks: one instance at advert_int 0.1 s (v3) in the daemon that checks ${tcpServers} TCP_CHECK, then ${httpServers} HTTP_GET real servers at delay_loop 1; ${windowS} s windows; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})${QUICK ? ' (BENCH_QUICK)' : ''}`,
  );
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-under-'));
  const results: Result[] = [];
  let lab: Lab | undefined;
  try {
    lab = await Lab.create({ name: 'under', hosts: HOSTS });
    const v = new VrrpLab(lab, dir);
    for (const c of conditions) {
      process.stderr.write(`  ${c.label}\n`);
      results.push(await runCondition(lab, v, dir, c, windowS));
    }
  } finally {
    await lab?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  print(results, windowS);
  console.log(`vrrp-under-checks: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`vrrp-under-checks: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
