import type { Logger } from '../../core/sdk';
import { cmdlineWords, listPids, readCmdline, readStat, type ProcStat } from '../shared/proc';

/**
 * Watches the machine's processes for the process trackers: one watcher
 * for all of them, started by the first tracker and stopped with the last.
 *
 * - With the kernel's proc connector (netlink), as keepalived does: fork,
 *   exec, comm change and exit arrive as events, and only the process an
 *   event names is read. The connector answers only in the initial network
 *   namespace (elsewhere the subscription fails with ECONNREFUSED).
 * - Otherwise, by scanning /proc: every `scanMs` the list of pids is
 *   compared with the last one, and only new pids are read (one
 *   /proc/PID/stat each, the command line when a tracker matches it); the
 *   pids of processes some tracker counts are checked every `watchMs`, so a
 *   death is seen within that time. A process that changes its name (exec,
 *   prctl) is seen when it is young (its first two scans), when it is
 *   counted, and otherwise at the latest at the next full re-read, every
 *   `rereadEvery` scans.
 *
 * What a tracker is told: a process it matches appeared (`fork` when its
 * parent is one it counts, as keepalived's fork_delay means) or stopped
 * matching or ended (`exit` when it ended).
 */

export type AddHow = 'initial' | 'fork' | 'new';
export type RemoveHow = 'exit' | 'changed';

export interface WatchedProcess {
  readonly pid: number;
  readonly stat: ProcStat;
  /** read only when some subscriber needs the command line */
  readonly cmdline?: Buffer;
}

export interface Subscriber {
  /** whether it matches on the command line (it is then read for new processes) */
  readonly fullCommand: boolean;
  matches(p: WatchedProcess): boolean;
  added(pid: number, how: AddHow): void;
  removed(pid: number, how: RemoveHow): void;
  /** the initial read is done: the counts are known */
  ready(): void;
}

export interface WatcherOptions {
  /** 'auto' (default): the proc connector when it answers, else scanning */
  readonly mode?: 'auto' | 'events' | 'scan';
  /** milliseconds between scans of /proc; default 1000 */
  readonly scanMs?: number;
  /** milliseconds between checks of the counted processes; default 100 */
  readonly watchMs?: number;
  /** every this many scans, every process is read again; default 30 */
  readonly rereadEvery?: number;
  readonly onMode?: (mode: 'events' | 'scan', why?: string) => void;
  /** SO_RCVBUF of the proc connector socket (global_defs process_monitor_rcv_bufs); default 1 MiB */
  readonly recvBufferSize?: number;
}

interface Known {
  start: number;
  /** scans since it was first seen */
  age: number;
  comm: string;
  cmdline?: Buffer;
}

/** How a subscriber sees one pid: matched or not. */
class Sub {
  readonly pids = new Set<number>();
  constructor(readonly s: Subscriber) {}
}

const NLMSG_DONE = 3;
const CN_IDX_PROC = 1;
const CN_VAL_PROC = 1;
const PROC_CN_MCAST_LISTEN = 1;
const PROC_CN_MCAST_IGNORE = 2;
const PROC_EVENT_NONE = 0;
const PROC_EVENT_FORK = 1;
const PROC_EVENT_EXEC = 2;
const PROC_EVENT_COMM = 0x200;
const PROC_EVENT_EXIT = 0x80000000;
const NETLINK_CONNECTOR = 11;

type RawSocket = {
  on(event: 'message', fn: (msg: Buffer) => void): unknown;
  on(event: 'error', fn: (err: NodeJS.ErrnoException) => void): unknown;
  send(msg: Uint8Array, options: object, cb: (err?: NodeJS.ErrnoException) => void): void;
  close(): void;
  unref(): void;
};

export class ProcessWatcher {
  private readonly subs = new Set<Sub>();
  private readonly known = new Map<number, Known>();
  private scanTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private socket: RawSocket | undefined;
  private scans = 0;
  private watchCursor = 0;
  private started = false;
  /** /proc has been read once: events apply from now on */
  private ready = false;
  private stopped = false;
  mode: 'events' | 'scan' | undefined;
  /** for the figures: scans and reads made */
  readonly counters = { scans: 0, statReads: 0, cmdlineReads: 0, events: 0 };

  constructor(private readonly opts: WatcherOptions = {}) {}

  get size(): number {
    return this.subs.size;
  }

  subscribe(s: Subscriber): () => void {
    const sub = new Sub(s);
    this.subs.add(sub);
    if (!this.started) {
      this.started = true;
      void this.begin();
    } else if (this.ready) {
      // the watcher runs already: this subscriber's first count from what is known
      this.initial(sub);
    }
    return () => {
      this.subs.delete(sub);
      if (this.subs.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.scanTimer = this.watchTimer = undefined;
    if (this.socket) {
      const s = this.socket;
      this.socket = undefined;
      try {
        s.send(listenMessage(PROC_CN_MCAST_IGNORE), {}, () => s.close());
      } catch {
        s.close();
      }
    }
  }

  private get needCmdline(): boolean {
    for (const sub of this.subs) if (sub.s.fullCommand) return true;
    return false;
  }

  private async begin(): Promise<void> {
    const want = this.opts.mode ?? 'auto';
    let why: string | undefined;
    if (want !== 'scan') {
      why = await this.openConnector();
      if (this.stopped) return;
      if (why && want === 'events') {
        // asked for events only: say so, and still watch by scanning rather than not at all
        this.opts.onMode?.('scan', why);
      }
    }
    this.mode = this.socket ? 'events' : 'scan';
    if (this.mode === 'events') this.opts.onMode?.('events');
    else if (want === 'auto') this.opts.onMode?.('scan', why ?? 'asked for');
    else if (want === 'scan') this.opts.onMode?.('scan', 'asked for');
    this.readAll();
    this.ready = true;
    for (const sub of this.subs) this.initial(sub);
    if (this.mode === 'scan') {
      this.scanTimer = setInterval(() => this.scan(), this.opts.scanMs ?? 1000);
      this.watchTimer = setInterval(() => this.watchCounted(), this.opts.watchMs ?? 100);
      this.scanTimer.unref();
      this.watchTimer.unref();
    }
  }

  /** Subscribes to proc events; a string says why they are not available. */
  private async openConnector(): Promise<string | undefined> {
    let mod: { RawNetlinkSocket: new (protocol: number, opts: object) => RawSocket };
    try {
      // loaded here, not at the top: a daemon that tracks no process does not load netlink (~9 MB) for it
      mod = (await import('netlink')) as unknown as typeof mod;
    } catch (err) {
      return `netlink unavailable: ${(err as Error).message}`;
    }
    let sock: RawSocket;
    try {
      sock = new mod.RawNetlinkSocket(NETLINK_CONNECTOR, { localGroups: CN_IDX_PROC, recvBufferSize: this.opts.recvBufferSize ?? 1 << 20 });
    } catch (err) {
      return `cannot open a proc connector socket: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (why: string | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (why) {
          try {
            sock.close();
          } catch {
            // closed
          }
        } else {
          this.socket = sock;
          sock.unref();
        }
        resolve(why);
      };
      const timer = setTimeout(() => finish('the kernel did not acknowledge the proc connector subscription within 1 s'), 1000);
      sock.on('error', (err) => {
        if (!done) return finish(`proc connector: ${err.code ?? err.message}`);
        if (err.code === 'ENOBUFS') {
          // events were lost: read everything again, as keepalived does
          this.resync();
        }
      });
      sock.on('message', (msg) => {
        const ev = parseEvent(msg);
        if (!ev) return;
        if (ev.what === PROC_EVENT_NONE) return finish(undefined);
        // events before the first read of /proc are in what it reads
        if (done && this.socket && this.ready) this.onEvent(ev);
      });
      sock.send(listenMessage(PROC_CN_MCAST_LISTEN), {}, (err) => {
        // in a network namespace other than the initial one the kernel refuses: ECONNREFUSED
        if (err) finish(`proc connector: ${err.code ?? err.message}`);
      });
    });
  }

  private onEvent(ev: ProcEvent): void {
    this.counters.events++;
    switch (ev.what) {
      case PROC_EVENT_FORK:
        // a thread is not a process
        if (ev.childPid !== ev.childTgid) return;
        this.forked(ev.parentTgid, ev.childTgid);
        return;
      case PROC_EVENT_EXEC:
        if (ev.pid !== ev.tgid) return;
        this.reread(ev.tgid, 'new');
        return;
      case PROC_EVENT_COMM:
        if (ev.pid !== ev.tgid) return;
        this.reread(ev.tgid, 'new');
        return;
      case PROC_EVENT_EXIT:
        if (ev.pid !== ev.tgid) return;
        this.gone(ev.tgid);
        return;
    }
  }

  /** keepalived: the child of a counted process counts for the same trackers, before it execs anything */
  private forked(parent: number, child: number): void {
    const p = this.known.get(parent);
    if (p) this.known.set(child, { start: 0, age: 0, comm: p.comm, ...(p.cmdline ? { cmdline: p.cmdline } : {}) });
    for (const sub of this.subs) {
      if (!sub.pids.has(parent) || sub.pids.has(child)) continue;
      sub.pids.add(child);
      sub.s.added(child, 'fork');
    }
  }

  private readProcess(pid: number, withCmdline: boolean): WatchedProcess | undefined {
    this.counters.statReads++;
    const stat = readStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') return undefined;
    let cmdline: Buffer | undefined;
    if (withCmdline) {
      this.counters.cmdlineReads++;
      cmdline = readCmdline(pid);
    }
    return { pid, stat, ...(cmdline ? { cmdline } : {}) };
  }

  /** Reads a process again (exec, comm change, a young or counted one while scanning) and tells who matches now. */
  private reread(pid: number, how: AddHow): void {
    const p = this.readProcess(pid, this.needCmdline);
    if (!p) return this.gone(pid);
    const k = this.known.get(pid);
    if (k && k.start !== 0 && k.start !== p.stat.start) {
      // the pid was reused: the old process ended
      this.gone(pid);
    }
    this.known.set(pid, {
      start: p.stat.start,
      age: k && k.start === p.stat.start ? k.age : 0,
      comm: p.stat.comm,
      ...(p.cmdline ? { cmdline: p.cmdline } : {}),
    });
    this.evaluate(p, how);
  }

  private evaluate(p: WatchedProcess, how: AddHow): void {
    for (const sub of this.subs) {
      const had = sub.pids.has(p.pid);
      const now = safeMatch(sub.s, p);
      if (now && !had) {
        sub.pids.add(p.pid);
        sub.s.added(p.pid, how === 'new' && sub.pids.has(p.stat.ppid) ? 'fork' : how);
      } else if (!now && had) {
        sub.pids.delete(p.pid);
        sub.s.removed(p.pid, 'changed');
      }
    }
  }

  private gone(pid: number): void {
    this.known.delete(pid);
    for (const sub of this.subs) {
      if (sub.pids.delete(pid)) sub.s.removed(pid, 'exit');
    }
  }

  /** Reads every process: at start, and after lost events. */
  private readAll(): void {
    const withCmdline = this.needCmdline;
    this.known.clear();
    for (const pid of listPids()) {
      const p = this.readProcess(pid, withCmdline);
      if (!p) continue;
      this.known.set(pid, { start: p.stat.start, age: 2, comm: p.stat.comm, ...(p.cmdline ? { cmdline: p.cmdline } : {}) });
    }
  }

  /** A subscriber's first count, from what is known. */
  private initial(sub: Sub): void {
    const withCmdline = sub.s.fullCommand;
    for (const [pid, k] of this.known) {
      let cmdline = k.cmdline;
      if (withCmdline && !cmdline) {
        this.counters.cmdlineReads++;
        cmdline = readCmdline(pid);
        if (!cmdline) continue;
        k.cmdline = cmdline;
      }
      const p: WatchedProcess = { pid, stat: { comm: k.comm, ppid: 0, state: 'S', start: k.start }, ...(cmdline ? { cmdline } : {}) };
      if (safeMatch(sub.s, p) && !sub.pids.has(pid)) {
        sub.pids.add(pid);
        sub.s.added(pid, 'initial');
      }
    }
    sub.s.ready();
  }

  /** Lost events (ENOBUFS): everything is read again and every difference told. */
  private resync(): void {
    setTimeout(() => {
      if (this.stopped) return;
      const before = new Set(this.known.keys());
      for (const pid of listPids()) {
        before.delete(pid);
        this.reread(pid, 'new');
      }
      for (const pid of before) this.gone(pid);
    }, 1000).unref();
  }

  private scan(): void {
    if (this.stopped) return;
    this.counters.scans++;
    const reread = ++this.scans % (this.opts.rereadEvery ?? 30) === 0;
    const seen = new Set<number>();
    for (const pid of listPids()) {
      seen.add(pid);
      const k = this.known.get(pid);
      if (!k) {
        this.reread(pid, 'new');
        continue;
      }
      k.age++;
      // young ones may still exec (counted ones are watched between scans, their name with them)
      if (reread || k.age <= 2) this.reread(pid, 'new');
    }
    for (const pid of [...this.known.keys()]) if (!seen.has(pid)) this.gone(pid);
  }

  /**
   * The counted processes, between scans: a death, or a new name (exec,
   * prctl), is seen within watchMs. At most MAX_WATCH_READS are read per
   * tick, in turn, so counting thousands of processes costs no more than a
   * scan (each is then seen every count / MAX_WATCH_READS ticks).
   */
  private watchCounted(): void {
    if (this.stopped) return;
    const counted = new Set<number>();
    for (const sub of this.subs) for (const pid of sub.pids) counted.add(pid);
    const all = [...counted];
    if (all.length === 0) return;
    const n = Math.min(all.length, MAX_WATCH_READS);
    for (let i = 0; i < n; i++) {
      const pid = all[(this.watchCursor + i) % all.length]!;
      this.counters.statReads++;
      const st = readStat(pid);
      const k = this.known.get(pid);
      if (!st || st.state === 'Z' || st.state === 'X' || (k && k.start !== 0 && k.start !== st.start)) this.gone(pid);
      else if (k && st.comm !== k.comm) this.reread(pid, 'new');
    }
    this.watchCursor = (this.watchCursor + n) % all.length;
  }
}

/** counted processes read per watch tick */
const MAX_WATCH_READS = 200;

function safeMatch(s: Subscriber, p: WatchedProcess): boolean {
  try {
    return s.matches(p);
  } catch {
    return false;
  }
}

interface ProcEvent {
  what: number;
  pid: number;
  tgid: number;
  parentTgid: number;
  childPid: number;
  childTgid: number;
}

/** nlmsghdr (16) + cn_msg (20) + proc_event: what, cpu, timestamp (8), then the event's data */
function parseEvent(msg: Buffer): ProcEvent | undefined {
  if (msg.length < 52) return undefined;
  if (msg.readUInt32LE(16) !== CN_IDX_PROC || msg.readUInt32LE(20) !== CN_VAL_PROC) return undefined;
  const what = msg.readUInt32LE(36);
  const d = 52;
  const u = (o: number): number => (msg.length >= d + o + 4 ? msg.readUInt32LE(d + o) : 0);
  if (what === PROC_EVENT_FORK) return { what, pid: 0, tgid: 0, parentTgid: u(4), childPid: u(8), childTgid: u(12) };
  return { what, pid: u(0), tgid: u(4), parentTgid: 0, childPid: 0, childTgid: 0 };
}

function listenMessage(op: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(40, 0);
  b.writeUInt16LE(NLMSG_DONE, 4);
  b.writeUInt32LE(process.pid, 12);
  b.writeUInt32LE(CN_IDX_PROC, 16);
  b.writeUInt32LE(CN_VAL_PROC, 20);
  b.writeUInt16LE(4, 32);
  b.writeUInt32LE(op, 36);
  return b;
}

/** The process watcher the trackers of this daemon share. */
let shared: ProcessWatcher | undefined;
let sharedOpts: WatcherOptions = {};

export function sharedWatcher(log?: Logger): ProcessWatcher {
  if (!shared || shared.size === 0) {
    shared = new ProcessWatcher({
      ...sharedOpts,
      onMode: (mode, why) => {
        sharedOpts.onMode?.(mode, why);
        if (mode === 'events') log?.info({ mode }, 'Process tracking: watching process events (proc connector)');
        else log?.info({ mode, reason: why }, `Process tracking: scanning /proc (${why ?? 'no proc connector'})`);
      },
    });
  }
  return shared;
}

/** Options for the shared watcher created next (tests, the bench). */
export function setSharedWatcherOptions(opts: WatcherOptions): void {
  sharedOpts = opts;
}

export { cmdlineWords };
