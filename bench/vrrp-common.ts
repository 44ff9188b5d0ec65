/**
 * What the VRRP benchmarks share: configs that both daemons read, the
 * processes of a daemon and their CPU and memory from /proc, a reader for
 * the adverts tcpdump captured (and tcpdump itself), statistics and tables. Prints nothing itself.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Lab } from '../core/lab/netns';
import type { LabDaemon } from '../core/lab/vrrp-lab';
import { pcapRecords } from '../core/lab/capture';

// shared with the lab (core/lab): a daemon's pid and every descendant's (alived: main + VRRP child;
// keepalived: parent + VRRP child), and tcpdump on a lab host
export { processTree } from '../core/lab/faults';
export { startTcpdump } from '../core/lab/capture';

/** BENCH_QUICK=1: fewer runs and shorter windows, for a look rather than a figure. */
export const QUICK = process.env.BENCH_QUICK === '1';

/** A whole number from the environment, or the default. */
export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${v}: expected a whole number of 1 or more`);
  return n;
}

export interface InstanceSpec {
  name: string;
  vrid: number;
  state: 'MASTER' | 'BACKUP';
  priority: number;
  version: 2 | 3;
  /** seconds: 1 or 0.1 */
  advertS: number;
  /** addresses with prefix, e.g. 10.99.0.99/24 */
  vips: string[];
}

/** One keepalived.conf, read unchanged by alived and by keepalived. */
export function vrrpConfig(routerId: string, instances: InstanceSpec[]): string {
  const out = ['global_defs {', `  router_id ${routerId}`, '}'];
  for (const i of instances) {
    out.push(
      `vrrp_instance ${i.name} {`,
      `  state ${i.state}`,
      '  interface eth0',
      `  virtual_router_id ${i.vrid}`,
      `  priority ${i.priority}`,
      `  advert_int ${i.advertS}`,
      `  version ${i.version}`,
      '  virtual_ipaddress {',
      ...i.vips.map((v) => `    ${v}`),
      '  }',
      '}',
    );
  }
  return out.join('\n') + '\n';
}

/** Skew_Time and Master_Down_Interval in ms, with keepalived's integer microseconds (machine.ts does the same). */
export function vrrpTimes(version: 2 | 3, priority: number, advertS: number): { skewMs: number; mdiMs: number } {
  const cs = Math.round(advertS * 100);
  const n = 256 - priority;
  const skewUs = version === 3 ? Math.floor((n * cs * 625) / 16) : Math.floor((n * 1_000_000) / 256);
  return { skewMs: skewUs / 1000, mdiMs: (3 * cs * 10_000 + skewUs) / 1000 };
}

// --- processes -------------------------------------------------------------

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime, clock ticks, the whole thread group */
  ticks: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  // fields after "(comm)": state ppid ... utime is field 14, stime 15 (1-based over the whole line)
  const f = text.slice(close + 2).split(' ');
  return { pid, comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
}

/** VmRSS of a process (kB), 0 once it is gone; /proc/PID/status only, so cheap to read often. */
export function vmRssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** VmRSS, Pss (shared pages split between the processes that map them) and private (pages no other process maps) in kB. */
export function memory(pid: number): { rssKb: number; pssKb: number; privateKb: number } {
  const rssKb = vmRssKb(pid);
  let pssKb = 0;
  let privateKb = 0;
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
    pssKb = field('Pss');
    privateKb = field('Private_Clean') + field('Private_Dirty');
  } catch {
    // gone, or a kernel without smaps_rollup
  }
  return { rssKb, pssKb, privateKb };
}

/**
 * What the processes hold in memory together, every physical page counted
 * once (kB): the pages mapped by any of them, from /proc/PID/pagemap (root
 * reads the page frame numbers). RSS counts a page once per process that
 * maps it, PSS splits it with every process on the machine that maps it (other
 * Node processes share the node binary's pages); this is what the node would
 * pay if these processes ran alone. 0 when pagemap cannot be read.
 */
export function footprintKb(pids: number[]): number {
  const page = 4096;
  const frames = new Set<number>();
  for (const pid of pids) {
    let maps: string;
    let fd: number;
    try {
      maps = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
      fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      continue;
    }
    try {
      let range: [number, number] | undefined;
      for (const line of maps.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
        if (m) {
          range = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
          continue;
        }
        // only the mappings with resident pages: V8 reserves gigabytes it never touches
        const rss = /^Rss:\s+(\d+)/.exec(line);
        if (!rss || !range || rss[1] === '0') continue;
        const pages = (range[1] - range[0]) / page;
        const buf = Buffer.alloc(pages * 8);
        const n = fs.readSync(fd, buf, 0, buf.length, (range[0] / page) * 8);
        for (let i = 0; i + 8 <= n; i += 8) {
          const hi = buf.readUInt32LE(i + 4);
          // bit 63: present; bits 0-54: the page frame number (0 without CAP_SYS_ADMIN)
          if (!(hi & 0x80000000)) continue;
          const pfn = (hi & 0x7fffff) * 2 ** 32 + buf.readUInt32LE(i);
          if (pfn !== 0) frames.add(pfn);
        }
      }
    } catch {
      // gone while reading
    } finally {
      fs.closeSync(fd);
    }
  }
  return (frames.size * page) / 1024;
}

/** USER_HZ: the unit of utime and stime, 100 on every Linux architecture the project runs on */
export const CLK_TCK = 100;

export function daemonRoot(d: LabDaemon): number {
  // `ip netns exec` execs the daemon in place: the spawned pid is the daemon's own
  return d.proc.pid!;
}

// --- adverts captured by tcpdump (pcap, nanosecond stamps) ---------------------

export interface CapturedAdvert {
  /** kernel receive stamp, ns since the epoch (CLOCK_REALTIME; only differences are used) */
  tNs: bigint;
  src: string;
  vrid: number;
  priority: number;
  version: number;
}

/** Every IPv4 VRRP packet of a pcap file written by `tcpdump -w` (Ethernet link, either byte order, µs or ns stamps). */
export function readPcapAdverts(file: string): CapturedAdvert[] {
  const out: CapturedAdvert[] = [];
  for (const { tNs, frame } of pcapRecords(fs.readFileSync(file), file)) {
    if (frame.length < 14 + 20 + 3) continue;
    let off = 12;
    let ethertype = frame.readUInt16BE(off);
    if (ethertype === 0x8100) {
      off += 4;
      ethertype = frame.readUInt16BE(off);
    }
    if (ethertype !== 0x0800) continue;
    const ip = frame.subarray(off + 2);
    if (ip[9] !== 112) continue;
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip.length < ihl + 3) continue;
    out.push({
      tNs,
      src: `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`,
      vrid: ip[ihl + 1]!,
      priority: ip[ihl + 2]!,
      version: ip[ihl]! >> 4,
    });
  }
  return out;
}

export interface Jitter {
  streams: number;
  intervals: number;
  /** |interval - advert_int|, ms */
  p50: number;
  p99: number;
  max: number;
  /** mean interval - advert_int, ms (a steady drift shows here, not in the spread) */
  meanOffset: number;
  /** intervals over 1.5 x advert_int: a missed advert, counted apart */
  gaps: number;
}

/**
 * Advert interval jitter: per sender and VRID, the intervals between
 * consecutive adverts; |interval - advert_int| pooled over every stream.
 */
export function advertJitter(adverts: CapturedAdvert[], advertMs: number, since?: bigint): Jitter {
  const streams = new Map<string, bigint[]>();
  for (const a of adverts) {
    if (a.priority === 0) continue;
    if (since !== undefined && a.tNs < since) continue;
    const k = `${a.src}/${a.vrid}`;
    const l = streams.get(k) ?? [];
    l.push(a.tNs);
    streams.set(k, l);
  }
  const dev: number[] = [];
  let sum = 0;
  let gaps = 0;
  for (const ts of streams.values()) {
    for (let i = 1; i < ts.length; i++) {
      const iv = Number(ts[i]! - ts[i - 1]!) / 1e6;
      if (iv > advertMs * 1.5) {
        gaps++;
        continue;
      }
      dev.push(Math.abs(iv - advertMs));
      sum += iv - advertMs;
    }
  }
  dev.sort((a, b) => a - b);
  return {
    streams: streams.size,
    intervals: dev.length,
    p50: quantile(dev, 0.5),
    p99: quantile(dev, 0.99),
    max: dev.length ? dev[dev.length - 1]! : NaN,
    meanOffset: dev.length ? sum / dev.length : NaN,
    gaps,
  };
}

// --- statistics and tables ---------------------------------------------------

/** Nearest-rank quantile of sorted values (NaN when empty). */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** The median as usually defined (mean of the two middle values for an even count). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Summary {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

export function summarize(values: number[]): Summary {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return { n: s.length, median: median(s), p90: quantile(s, 0.9), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}

export function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

/** A plain text table: a title, a header row and rows of cells, columns padded to fit. */
export function table(title: string, header: string[], rows: string[][], notes: string[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [title, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ...notes.map((n) => `  ${n}`)];
  return out.join('\n') + '\n';
}

export function verdict(met: boolean | undefined): string {
  return met === undefined ? 'n/a' : met ? 'met' : 'NOT MET';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A small seeded generator (mulberry32): both daemons see the same sequence of random phases. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- captures ----------------------------------------------------------------

/** Realtime in ns, to compare with tcpdump's stamps (only differences within a run matter). */
export function realtimeNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n;
}

// --- observers ----------------------------------------------------------------

/**
 * The observers (each host's address watcher, a client's pinger) stamp what
 * they see when they read it: made real time above any daemon (SCHED_RR 50;
 * alived's VRRP process runs at 1), they read it as soon as it happens
 * rather than after whichever daemon holds the CPU, the same for both.
 */
export function observersFirst(lab: Lab, others: number[] = []): void {
  const watcher = path.join('lab', 'watch.js');
  const pids = [
    ...others,
    ...lab
      .procs()
      .filter((p) => p.spawnargs.some((a) => a.endsWith(watcher)))
      .map((p) => p.pid!),
  ];
  for (const pid of pids) {
    // every thread (-a): with the main thread alone real time, two watchers' main threads looped
    // on both CPUs for 0.95 s (until the kernel's real-time throttling), their helper threads at
    // normal priority, and every daemon under test stopped meanwhile; with -a the stalls were 0.1 s
    // (why the main thread loops is not known)
    const r = spawnSync('chrt', ['-a', '-r', '-p', '50', String(pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot make observer ${pid} real time: ${r.stderr || r.error?.message}`);
  }
}
