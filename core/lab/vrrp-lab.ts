import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { eachLine, type Lab, type LabHost } from './netns';

/**
 * VRRP daemons in a lab: alived or keepalived on lab hosts, a watcher per
 * host that time-stamps address and neighbour changes from the kernel's own
 * events (monotonic clock, shared by every namespace), and the ways a node
 * dies (crash, SIGTERM). `alived lab`, the interop tests and the benchmarks
 * all run on this.
 */

export type DaemonKind = 'alived' | 'keepalived';

export interface LabDaemon {
  kind: DaemonKind;
  host: LabHost;
  proc: ChildProcess;
  /** console output, line by line */
  lines: string[];
  config: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface WatchEvent {
  /** monotonic ns (process.hrtime.bigint) */
  t: bigint;
  host: string;
  kind: 'addr' | 'neigh';
  op: 'new' | 'del';
  address: string;
  mac?: string;
}

const ROOT = path.join(__dirname, '..', '..');
const ALIVED_BIN = path.join(ROOT, 'core', 'cli', 'main.js');
const WATCH = path.join(__dirname, 'watch.js');

export function keepalivedAvailable(): boolean {
  return spawnSync('keepalived', ['--version'], { stdio: 'ignore' }).status === 0;
}

export class VrrpLab {
  readonly events: WatchEvent[] = [];
  readonly daemons: LabDaemon[] = [];
  private readonly eventWaiters = new Set<() => void>();
  private seq = 0;

  constructor(
    readonly lab: Lab,
    /** where configs, pid files and logs go */
    readonly dir: string,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Starts a watcher in every host; resolves once all are subscribed. */
  async watch(): Promise<void> {
    await Promise.all(this.lab.hosts.map((h) => this.watchHost(h)));
  }

  private watchHost(h: LabHost): Promise<void> {
    return new Promise((resolve, reject) => {
      const proc = this.lab.spawn(h, [process.execPath, WATCH], { stdio: ['ignore', 'pipe', 'inherit'] });
      const timer = setTimeout(() => reject(new Error(`the watcher in ${h.name} did not start`)), 10_000);
      eachLine(proc.stdout!, (line) => {
        const ev = JSON.parse(line.replace(/"t":(\d+)/, '"t":"$1"')) as { t?: string; kind: string; op: string; address: string; mac?: string };
        if (ev.kind === 'ready') {
          clearTimeout(timer);
          resolve();
          return;
        }
        this.events.push({
          t: BigInt(ev.t!),
          host: h.name,
          kind: ev.kind as 'addr',
          op: ev.op as 'new',
          address: ev.address,
          ...(ev.mac ? { mac: ev.mac } : {}),
        });
        for (const w of this.eventWaiters) w();
      });
    });
  }

  /** The first event (after `since`) that matches, waiting at most timeoutMs. */
  waitEvent(match: (e: WatchEvent) => boolean, since: bigint, timeoutMs: number): Promise<WatchEvent> {
    const find = (): WatchEvent | undefined => this.events.find((e) => e.t >= since && match(e));
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const e = find();
        if (!e) return;
        this.eventWaiters.delete(check);
        clearTimeout(timer);
        resolve(e);
      };
      const timer = setTimeout(() => {
        this.eventWaiters.delete(check);
        reject(new Error(`no matching address/neighbour event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.eventWaiters.add(check);
    });
  }

  /**
   * Starts alived in the foreground on a host with this config. `enter`
   * goes before the command inside the host's network namespace, e.g.
   * `nsenter` into the host's own mount and PID namespaces; a wrapper that
   * forks (nsenter -p) is then the process `signal()` reaches.
   */
  startAlived(host: LabHost | string, config: string, args: string[] = [], enter: string[] = []): LabDaemon {
    const h = typeof host === 'string' ? this.lab.host(host) : host;
    const tag = `${h.name}-alived-${++this.seq}`;
    const conf = path.join(this.dir, `${tag}.conf`);
    fs.writeFileSync(conf, config);
    // each node its own state dir, as each machine has its own /var/lib/alived (alived refuses to share a notify outbox)
    const state = args.includes('--state-dir') ? [] : ['--state-dir', path.join(this.dir, `${tag}.state`)];
    const argv = [...enter, process.execPath, ALIVED_BIN, '-n', '-l', '-G', '-f', conf, '-p', path.join(this.dir, `${tag}.pid`), ...state, ...args];
    return this.launch('alived', h, argv, conf);
  }

  /** Starts keepalived (VRRP only) in the foreground on a host with this config. */
  startKeepalived(host: LabHost | string, config: string): LabDaemon {
    const h = typeof host === 'string' ? this.lab.host(host) : host;
    const tag = `${h.name}-keepalived-${++this.seq}`;
    const conf = path.join(this.dir, `${tag}.conf`);
    fs.writeFileSync(conf, config);
    const p = (s: string): string => path.join(this.dir, `${tag}.${s}.pid`);
    const argv = ['keepalived', '-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', p('main'), '-r', p('vrrp'), '-c', p('check')];
    return this.launch('keepalived', h, argv, conf);
  }

  private launch(kind: DaemonKind, h: LabHost, argv: string[], config: string): LabDaemon {
    const proc = this.lab.spawn(h, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const take = (d: Buffer): void => {
      for (const l of d.toString().split('\n')) if (l) lines.push(l);
    };
    proc.stdout!.on('data', take);
    proc.stderr!.on('data', take);
    // 'close', not 'exit': the last lines of output are read by then
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once('close', (code, signal) => resolve({ code, signal })),
    );
    const d: LabDaemon = { kind, host: h, proc, lines, config, exited };
    this.daemons.push(d);
    return d;
  }

  /** Waits until a line of the daemon's output matches, at most timeoutMs. */
  async waitLine(d: LabDaemon, re: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = d.lines.find((x) => re.test(x));
      if (l) return l;
      if (Date.now() > deadline)
        throw new Error(`${d.kind} on ${d.host.name}: no line matching ${re} within ${timeoutMs} ms; last lines:\n${d.lines.slice(-15).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Hosts whose eth0 carries the address now (from the kernel, not from the daemons). */
  holders(address: string): string[] {
    const out: string[] = [];
    for (const h of this.lab.hosts) {
      const r = spawnSync('ip', ['-n', h.ns, '-j', 'addr', 'show', 'dev', h.ifname], { encoding: 'utf8', timeout: 5000 });
      if (r.status !== 0) continue;
      const info = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
      if (info.some((i) => (i.addr_info ?? []).some((a) => a.local === address))) out.push(h.name);
    }
    return out;
  }

  /** Polls until exactly `host` holds the address (or nobody, with host undefined), at most timeoutMs. */
  async waitHolder(address: string, host: string | undefined, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hs = this.holders(address);
      if (host === undefined ? hs.length === 0 : hs.length === 1 && hs[0] === host) return;
      if (Date.now() > deadline) throw new Error(`waiting for ${address} on ${host ?? 'no host'}: held by [${hs.join(', ')}] after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * A node dies: every process in its namespace killed at once (SIGKILL), and
   * the VIPs it held removed, as a dead machine holds none. Returns the
   * monotonic time of the kill.
   */
  crash(host: LabHost | string, vips: string[]): bigint {
    const h = typeof host === 'string' ? this.lab.host(host) : host;
    const pids = spawnSync('ip', ['netns', 'pids', h.ns], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean).map(Number);
    const watchers = new Set(
      this.lab
        .procs()
        .filter((p) => p.spawnargs.includes(WATCH))
        .map((p) => p.pid),
    );
    // the watcher of that host keeps watching: it is the lab's eye, not part of the node
    const victims = pids.filter((p) => !isWatcherDescendant(p, watchers));
    // everything stops first, then dies: killed one by one, a child could see its parent go
    // (parent-death signal, closed IPC) and release cleanly, which a crash never does
    for (const p of victims) {
      try {
        process.kill(p, 'SIGSTOP');
      } catch {
        // gone already
      }
    }
    const t = process.hrtime.bigint();
    for (const p of victims) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    for (const v of vips) spawnSync('ip', ['-n', h.ns, 'addr', 'del', `${v}/${v.includes(':') ? 128 : 32}`, 'dev', h.ifname], { stdio: 'ignore' });
    for (const v of vips) {
      // a VIP added with a prefix: delete whatever prefix it has
      const r = spawnSync('ip', ['-n', h.ns, '-j', 'addr', 'show', 'dev', h.ifname], { encoding: 'utf8' });
      const info = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
      for (const a of info.flatMap((i) => i.addr_info ?? [])) {
        if (a.local === v) spawnSync('ip', ['-n', h.ns, 'addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', h.ifname], { stdio: 'ignore' });
      }
    }
    return t;
  }

  /** Sends a signal to a daemon's main process; returns the monotonic time it was sent. */
  signal(d: LabDaemon, sig: NodeJS.Signals): bigint {
    const pid = daemonPid(d);
    const t = process.hrtime.bigint();
    process.kill(pid, sig);
    return t;
  }
}

/** The daemon's own pid (the process `ip netns exec` became). */
export function daemonPid(d: LabDaemon): number {
  // ip netns exec execs the command in place: the child's pid is the daemon's
  return d.proc.pid!;
}

function isWatcherDescendant(pid: number, watchers: Set<number | undefined>): boolean {
  let p = pid;
  for (let i = 0; i < 8 && p > 1; i++) {
    if (watchers.has(p)) return true;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return false;
    }
  }
  return false;
}
