/**
 * Faults for a lab (core/lab/netns.ts), as they happen on real networks and
 * hosts: a partition between two nodes, VRRP adverts lost at a node, a
 * stalled VM, a network manager deleting a VIP, a flapping link, a VRRP
 * process or a whole daemon killed, a garbage VRRP flood.
 *
 * Everything happens inside the lab's own namespaces (nftables tables in the
 * bridge's or a host's namespace, signals to processes of a host's namespace),
 * never in the root namespace. Each fault returns the monotonic time
 * (process.hrtime.bigint(), the clock of the lab's watchers and of
 * core/lab/client.ts) by which it is in effect: for a command, the moment it
 * returned; for a signal, the moment it was sent. Every wait is bounded.
 *
 * Used by bench/faults.ts; small enough for a behaviour test to pick one.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LabError, type Lab, type LabHost } from './netns';
import { daemonPid, type LabDaemon, type VrrpLab } from './vrrp-lab';
import type { FloodReport } from './flood';

const WATCH = path.join(__dirname, 'watch.js');
const FLOOD = path.join(__dirname, 'flood.js');
let tableSeq = 0;

const now = (): bigint => process.hrtime.bigint();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- the network -------------------------------------------------------------

export interface Partition {
  readonly lab: Lab;
  /** the nftables bridge table that drops the frames */
  readonly table: string;
  readonly between: readonly [string, string];
  /** in effect from (monotonic ns) */
  readonly t: bigint;
}

/**
 * Cuts two hosts off each other, and only each other: a `bridge` table in the
 * lab's bridge namespace drops frames from one's port to the other's, both
 * ways. Everyone else (a client) still reaches both, as when a link between
 * two switches fails.
 */
export async function partition(lab: Lab, x: string, y: string): Promise<Partition> {
  const px = lab.host(x).port;
  const py = lab.host(y).port;
  const table = `alived_cut_${++tableSeq}`;
  await nft(lab.bridgeNs, [
    `table bridge ${table} {`,
    '  chain cut {',
    '    type filter hook forward priority 0; policy accept;',
    `    iifname "${px}" oifname "${py}" drop`,
    `    iifname "${py}" oifname "${px}" drop`,
    '  }',
    '}',
  ]);
  return { lab, table, between: [x, y], t: now() };
}

/** Ends a partition; returns when frames flow again. */
export async function heal(p: Partition): Promise<bigint> {
  await nsRun(p.lab.bridgeNs, ['nft', 'delete', 'table', 'bridge', p.table]);
  return now();
}

export interface Loss {
  readonly lab: Lab;
  readonly host: string;
  readonly table: string;
  readonly percent: number;
  readonly t: bigint;
}

/**
 * VRRP packets (IP protocol 112) lost at a host: an `inet` table in the
 * host's own namespace drops that share of what arrives, at random, before
 * any socket sees it. Nothing else is touched (ARP, pings go through).
 */
export async function loss(lab: Lab, host: string, percent: number): Promise<Loss> {
  if (!(percent >= 0 && percent <= 100)) throw new LabError(`loss of ${percent} %: expected 0..100`);
  const table = `alived_loss_${++tableSeq}`;
  await nft(lab.host(host).ns, [
    `table inet ${table} {`,
    '  chain vrrp_loss {',
    '    type filter hook input priority 0; policy accept;',
    // (numgen's `mod 100 < 100` is refused: every packet is a plain drop)
    percent >= 100 ? '    ip protocol 112 drop' : `    ip protocol 112 numgen random mod 100 < ${Math.round(percent)} drop`,
    '  }',
    '}',
  ]);
  return { lab, host, table, percent, t: now() };
}

export async function clearLoss(l: Loss): Promise<bigint> {
  await nsRun(l.lab.host(l.host).ns, ['nft', 'delete', 'table', 'inet', l.table]);
  return now();
}

export interface Flap {
  /** the first down, the last up (monotonic ns) */
  t0: bigint;
  t1: bigint;
  /** times the link went down */
  downs: number;
}

/**
 * A flapping link: the host's eth0 (inside its namespace) goes down for half
 * of every periodMs and up for the other half, for durationMs; it is up when
 * this returns, also after a failure.
 */
export async function linkFlap(lab: Lab, host: string, periodMs: number, durationMs: number): Promise<Flap> {
  const h = lab.host(host);
  const set = (state: 'up' | 'down'): Promise<void> => nsRun(h.ns, ['ip', 'link', 'set', h.ifname, state]);
  const t0 = now();
  const end = t0 + BigInt(Math.round(durationMs * 1e6));
  let downs = 0;
  try {
    // each cycle is timed from t0, so the time the commands take does not add up over the cycles
    for (let cycle = 0; ; cycle++) {
      const start = t0 + BigInt(Math.round(cycle * periodMs * 1e6));
      if (start >= end) break;
      await sleepUntil(start);
      await set('down');
      downs++;
      await sleepUntil(start + BigInt(Math.round((periodMs / 2) * 1e6)));
      await set('up');
    }
  } finally {
    await set('up');
  }
  return { t0, t1: now(), downs };
}

// --- the host ----------------------------------------------------------------

export interface Pause {
  readonly host: string;
  readonly pids: readonly number[];
  readonly t: bigint;
}

/**
 * A stalled VM: every process of the host's namespace stopped (SIGSTOP),
 * except the lab's watchers (the lab's eyes, not part of the node) and the
 * pids in `spare` (with their descendants), e.g. a capture on that host.
 */
export function pause(lab: Lab, host: string, spare: number[] = []): Pause {
  const pids = nodeProcesses(lab, host, spare);
  const t = now();
  signalAll(pids, 'SIGSTOP');
  return { host, pids, t };
}

/** The stalled VM runs again: every process pause() stopped is continued. */
export function resume(p: Pause): bigint {
  const t = now();
  signalAll(p.pids, 'SIGCONT');
  return t;
}

/**
 * A network manager (or an operator) deletes a VIP from the host's eth0,
 * whatever prefix it was added with. Returns once the kernel has removed it;
 * undefined when the host did not hold it.
 */
export async function deleteVip(lab: Lab, host: string, vip: string): Promise<bigint | undefined> {
  const h = lab.host(host);
  const prefix = (await addresses(h)).find((a) => a.local === vip)?.prefixlen;
  if (prefix === undefined) return undefined;
  await nsRun(h.ns, ['ip', 'addr', 'del', `${vip}/${prefix}`, 'dev', h.ifname]);
  return now();
}

/** The pids of a host's namespace that belong to the node: the lab's watchers and `spare` (with descendants) left out. */
export function nodeProcesses(lab: Lab, host: string, spare: number[] = []): number[] {
  const h = lab.host(host);
  const watchers = lab
    .procs()
    .filter((p) => p.spawnargs.includes(WATCH))
    .map((p) => p.pid!);
  const keep = new Set([...watchers, ...spare]);
  return namespacePids(h.ns).filter((p) => !hasAncestorIn(p, keep));
}

// --- the daemon --------------------------------------------------------------

/**
 * The pid of a daemon's VRRP process: alived's child running
 * core/vrrp/child.js; keepalived's VRRP child (from the `-r` pid file
 * VrrpLab passes, else the main process's only child). undefined when none
 * runs (e.g. between a crash and its restart).
 */
export function vrrpProcessPid(d: LabDaemon): number | undefined {
  const main = daemonPid(d);
  const kids = childrenOf(main);
  if (d.kind === 'alived') return kids.find((p) => cmdline(p).some((a) => a.endsWith(path.join('vrrp', 'child.js'))));
  const args = d.proc.spawnargs;
  const file = args[args.indexOf('-r') + 1];
  if (args.includes('-r') && file) {
    try {
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (kids.includes(pid)) return pid;
    } catch {
      // not written yet, or removed: fall back to the child
    }
  }
  return kids.length === 1 ? kids[0] : undefined;
}

/**
 * Kills only the daemon's VRRP process (SIGKILL): its VIPs stay where they
 * are, as after a crash of that process; the daemon's main process is left to
 * notice. Returns the kill's time and the pid, or undefined when no VRRP
 * process was running.
 */
export function killVrrpProcess(d: LabDaemon): { t: bigint; pid: number } | undefined {
  const pid = vrrpProcessPid(d);
  if (pid === undefined) return undefined;
  const t = now();
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return undefined;
  }
  return { t, pid };
}

/**
 * The whole daemon dies at once (kill -9 of every process of it), its VIPs
 * left on the interface as a crash leaves them. Every process is stopped
 * before any is killed: killed one by one, a child could see its parent go
 * (parent-death signal, a closed IPC channel) and release cleanly, which a
 * crash never does. Resolves with the kill's time once the daemon is gone
 * (at most 5 s).
 */
export async function crashDaemon(d: LabDaemon): Promise<bigint> {
  const pids = processTree(daemonPid(d));
  signalAll(pids, 'SIGSTOP');
  const t = now();
  signalAll(pids, 'SIGKILL');
  await Promise.race([d.exited, sleep(5000)]);
  return t;
}

/**
 * The same daemon again on the same host with the same config, as an init
 * system restarts it; alived keeps its state directory, as a machine keeps
 * /var/lib/alived. Returns the new daemon and the monotonic time just
 * before its spawn.
 */
export function restartDaemon(v: VrrpLab, d: LabDaemon): { daemon: LabDaemon; t: bigint } {
  const config = fs.readFileSync(d.config, 'utf8');
  const args = d.proc.spawnargs;
  const stateAt = args.indexOf('--state-dir');
  const t = now();
  const daemon =
    d.kind === 'alived' ? v.startAlived(d.host, config, stateAt >= 0 ? ['--state-dir', args[stateAt + 1]!] : []) : v.startKeepalived(d.host, config);
  return { daemon, t };
}

// --- a hostile host ----------------------------------------------------------

export interface FloodOptions {
  vrid: number;
  /** packets per second (default 17,000) */
  pps?: number;
  durationMs: number;
  /** default 224.0.0.18, the VRRP group */
  dst?: string;
}

export interface FloodResult extends Omit<FloodReport, 't0' | 't1'> {
  t0: bigint;
  t1: bigint;
}

/**
 * A garbage VRRP flood from a lab host (core/lab/flood.ts: bad checksums,
 * wrong TTL, bad auth, bad lengths, truncated and random packets, all aimed at
 * one VRID) for durationMs. Resolves when it is over, with what it sent.
 */
export function flood(lab: Lab, fromHost: string, o: FloodOptions): Promise<FloodResult> {
  const h = lab.host(fromHost);
  const argv = [process.execPath, FLOOD, h.ip, o.dst ?? '224.0.0.18', String(o.vrid), String(o.pps ?? 17_000), String(o.durationMs)];
  const proc = lab.spawn(h, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new LabError(`the flood from ${fromHost} did not end within ${o.durationMs + 10_000} ms`));
    }, o.durationMs + 10_000);
    proc.once('close', (code) => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(out.trim().split('\n').pop() ?? '') as FloodReport;
        resolve({ ...r, t0: BigInt(r.t0), t1: BigInt(r.t1) });
      } catch {
        reject(new LabError(`the flood from ${fromHost} failed (exit ${code}): ${err.trim()}`));
      }
    });
  });
}

// --- helpers -----------------------------------------------------------------

/** Runs a command in a namespace of the lab and waits for it (at most timeoutMs); throws unless it exits 0. */
function nsRun(ns: string, argv: string[], input?: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new LabError(`${argv.join(' ')} in ${ns}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new LabError(`${argv.join(' ')} in ${ns}: exit ${code ?? signal}: ${stderr.trim()}`));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

function nft(ns: string, lines: string[]): Promise<void> {
  return nsRun(ns, ['nft', '-f', '-'], `${lines.join('\n')}\n`);
}

async function addresses(h: LabHost): Promise<Array<{ local: string; prefixlen: number }>> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('ip', ['-n', h.ns, '-j', 'addr', 'show', 'dev', h.ifname], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    child.stdout!.on('data', (d: Buffer) => (s += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(s);
      else reject(new LabError(`ip addr show in ${h.ns}: exit ${code}`));
    });
  });
  const info = JSON.parse(out || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  return info.flatMap((i) => i.addr_info ?? []);
}

async function sleepUntil(t: bigint): Promise<void> {
  const ms = Number(t - now()) / 1e6;
  if (ms > 0) await sleep(ms);
}

function signalAll(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // gone already
    }
  }
}

function namespacePids(ns: string): number[] {
  // `ip netns pids` reads every /proc/PID/ns/net; done here the same way, without a process of its own
  let target: fs.Stats;
  try {
    target = fs.statSync(`/run/netns/${ns}`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const st = fs.statSync(`/proc/${name}/ns/net`);
      if (st.ino === target.ino && st.dev === target.dev) out.push(Number(name));
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function hasAncestorIn(pid: number, set: Set<number>): boolean {
  let p: number | undefined = pid;
  for (let i = 0; i < 16 && p !== undefined && p > 1; i++) {
    if (set.has(p)) return true;
    p = parentOf(p);
  }
  return false;
}

/** the kernel lists each thread's children (CONFIG_PROC_CHILDREN): far cheaper than reading every /proc/PID/stat */
const PROC_CHILDREN = fs.existsSync(`/proc/${process.pid}/task/${process.pid}/children`);

function childrenOf(pid: number): number[] {
  if (PROC_CHILDREN) {
    const out = new Set<number>();
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) out.add(Number(c));
      }
    } catch {
      // gone, or a thread ended while being read: what was read stands
    }
    return [...out];
  }
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(name) && parentOf(Number(name)) === pid) out.push(Number(name));
  }
  return out;
}

/** A process and every descendant, parents first (one pass over /proc); the benchmarks read daemons' CPU and memory with it too. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = parentOf(Number(name));
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const pending = [root];
  while (pending.length) {
    const p = pending.shift()!;
    if (!fs.existsSync(`/proc/${p}`)) continue;
    out.push(p);
    pending.push(...(children.get(p) ?? []));
  }
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}
