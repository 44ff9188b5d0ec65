import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import { AlivedError } from '../errors';

/**
 * A lab of network namespaces: one namespace per host, a bridge in a
 * namespace of its own, and a veth pair from each host to the bridge. It is
 * what `alived lab` and the tests run VRRP in: nothing is ever sent in the
 * root namespace or on a real interface.
 *
 * Namespace names carry a prefix unique to the process (`al<pid>`), so
 * parallel runs never meet, and `destroy()` removes every namespace and kills
 * every process the lab started, by PID, also after a failure.
 */

export interface LabHostSpec {
  name: string;
  /** IPv4 address of the host's eth0 on the lab link, without prefix */
  ip: string;
  /** optional IPv6 address (global scope) of eth0, without prefix */
  ip6?: string;
}

export interface LabSpec {
  /** a short name for this lab (letters and digits), part of the namespace names */
  name: string;
  hosts: LabHostSpec[];
  /** prefix length of the lab subnet; default 24 */
  prefixLen?: number;
  /** prefix length of the IPv6 subnet; default 64 */
  prefixLen6?: number;
}

export interface LabHost {
  name: string;
  /** the namespace name: pass to `ip netns exec` */
  ns: string;
  /** always eth0 inside the namespace */
  ifname: string;
  ip: string;
  ip6?: string;
  /** MAC of eth0: 02:00:00:99:<host index>:<last octet of ip> */
  mac: string;
  /** the veth end in the bridge namespace */
  port: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** ALIVED_LAB_FAILED: a lab could not be built, used or removed */
export class LabError extends AlivedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ALIVED_LAB_FAILED', message, options);
  }
}

const NS_DIR = '/run/netns';
let labSeq = 0;

export class Lab {
  readonly hosts: LabHost[];
  readonly bridgeNs: string;
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(
    readonly prefix: string,
    readonly spec: LabSpec,
  ) {
    this.bridgeNs = `${prefix}-br`;
    this.hosts = spec.hosts.map((h, i) => ({
      name: h.name,
      ns: `${prefix}-${h.name}`,
      ifname: 'eth0',
      ip: h.ip,
      ...(h.ip6 ? { ip6: h.ip6 } : {}),
      mac: `02:00:00:99:${hex2(i + 1)}:${hex2(Number(h.ip.split('.')[3] ?? 0))}`,
      port: `p${i}`,
    }));
  }

  /** Builds the lab; on any failure it removes what it made and throws. */
  static async create(spec: LabSpec): Promise<Lab> {
    if (process.getuid?.() !== 0) throw new LabError('a lab of network namespaces needs root');
    if (!/^[a-z0-9]{1,12}$/.test(spec.name)) throw new LabError(`lab name '${spec.name}' must be 1..12 lowercase letters or digits`);
    const lab = new Lab(`al${process.pid}${spec.name}${++labSeq}`, spec);
    try {
      lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const pl = this.spec.prefixLen ?? 24;
    const pl6 = this.spec.prefixLen6 ?? 64;
    ip(['netns', 'add', this.bridgeNs]);
    ip(['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    // multicast snooping would hold VRRP multicast back until a querier exists
    ip(['-n', this.bridgeNs, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    ip(['-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
    ip(['-n', this.bridgeNs, 'link', 'set', 'lo', 'up']);
    for (const h of this.hosts) {
      ip(['netns', 'add', h.ns]);
      ip(['-n', h.ns, 'link', 'add', h.ifname, 'address', h.mac, 'type', 'veth', 'peer', 'name', h.port, 'netns', this.bridgeNs]);
      ip(['-n', this.bridgeNs, 'link', 'set', h.port, 'master', 'br0', 'up']);
      // no DAD delay: IPv6 addresses usable at once
      sysctl(h.ns, 'net.ipv6.conf.all.accept_dad', '0');
      sysctl(h.ns, 'net.ipv6.conf.default.accept_dad', '0');
      sysctl(h.ns, `net.ipv6.conf.${h.ifname}.accept_dad`, '0');
      ip(['-n', h.ns, 'addr', 'add', `${h.ip}/${pl}`, 'dev', h.ifname]);
      const spec = this.spec.hosts.find((s) => s.name === h.name)!;
      if (spec.ip6) ip(['-n', h.ns, 'addr', 'add', `${spec.ip6}/${pl6}`, 'dev', h.ifname, 'nodad']);
      ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', h.ns, 'link', 'set', h.ifname, 'up']);
    }
  }

  host(name: string): LabHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new LabError(`no host '${name}' in lab ${this.spec.name}`);
    return h;
  }

  /** Runs a command inside a host's namespace and waits for it, at most timeoutMs. */
  exec(host: LabHost | string, argv: string[], timeoutMs = 10_000): Promise<ExecResult> {
    const h = typeof host === 'string' ? this.host(host) : host;
    return new Promise((resolve) => {
      const child = this.spawn(h, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ code: null, signal: null, stdout, stderr: stderr + String(err) });
      });
    });
  }

  /** exec, and throw with its output unless it exits 0 */
  async run(host: LabHost | string, argv: string[], timeoutMs = 10_000): Promise<string> {
    const r = await this.exec(host, argv, timeoutMs);
    if (r.code !== 0) throw new LabError(`${argv.join(' ')} in ${typeof host === 'string' ? host : host.name}: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * Starts a long-running process inside a host's namespace, in its own
   * process group; destroy() kills it with its group if it is still running.
   */
  spawn(host: LabHost | string, argv: string[], options: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new LabError('the lab is destroyed');
    const h = typeof host === 'string' ? this.host(host) : host;
    if (!fs.existsSync(`${NS_DIR}/${h.ns}`)) throw new LabError(`namespace ${h.ns} does not exist`);
    const child = spawn('ip', ['netns', 'exec', h.ns, ...argv], { stdio: 'ignore', ...options, detached: true });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Kills every process in the hosts' namespaces (whatever started them: a
   * daemon's children too), by the PIDs `ip netns pids` lists; the lab stays.
   * Tests call it to start each case from nothing running.
   */
  killHostProcesses(): void {
    for (const h of this.hosts) killNamespace(h.ns);
  }

  /** processes the lab started that still run */
  procs(): ChildProcess[] {
    return [...this.children];
  }

  /** Cuts a host off the lab link (its veth end in the bridge goes down), or reconnects it. */
  setLink(host: LabHost | string, up: boolean): void {
    const h = typeof host === 'string' ? this.host(host) : host;
    ip(['-n', this.bridgeNs, 'link', 'set', h.port, up ? 'up' : 'down']);
  }

  /** Kills every process the lab started (with its group) and removes every namespace. Idempotent. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    const waits: Promise<void>[] = [];
    for (const child of this.children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 3000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        }),
      );
      killGroup(child, 'SIGKILL');
    }
    await Promise.all(waits);
    for (const h of this.hosts) killNamespace(h.ns);
    killNamespace(this.bridgeNs);
    for (const ns of [...this.hosts.map((h) => h.ns), this.bridgeNs]) {
      if (fs.existsSync(`${NS_DIR}/${ns}`)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  }
}

/** Names of lab namespaces a crashed earlier run of this machine left behind (their pid is gone). */
export function staleLabNamespaces(): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(NS_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => {
    const m = /^al(\d+)[a-z]/.exec(n);
    if (!m) return false;
    const pid = Number(m[1]);
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
}

/** Removes lab namespaces whose creating process is gone, killing what still runs in them. */
export function removeStaleLabs(): number {
  const stale = staleLabNamespaces();
  for (const ns of stale) {
    killNamespace(ns);
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
  return stale.length;
}

/** True when this process runs inside a namespace a lab made (tests refuse to start a daemon elsewhere). */
export function inLabNamespace(pid: number = process.pid): boolean {
  const r = spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' });
  return r.status === 0 && /^al\d+[a-z]/.test(r.stdout.trim());
}

function killNamespace(ns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  if (r.status !== 0) return;
  for (const p of r.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0)
    throw new LabError(`ip ${args.join(' ')}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`, r.error ? { cause: r.error } : undefined);
}

function sysctl(ns: string, key: string, value: string): void {
  // best effort: a kernel without IPv6 has no such keys
  spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`], { stdio: 'ignore', timeout: 10_000 });
}

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

/** Calls `fn` with each whole line a lab process writes to `stream` (its stdout: JSON lines, ready markers). */
export function eachLine(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = '';
  stream.on('data', (d: Buffer | string) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      fn(line);
    }
  });
}
