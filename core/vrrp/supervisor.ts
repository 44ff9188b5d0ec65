import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Level, Logger, LogRecord } from '../log/logger';
import type { EngineEvent, EngineStatus, InstanceStatus, TransitionReport } from './engine';
import { settingsKey, type VrrpSettings } from './settings';
import type { TrackedState } from './tracking';

export interface ReloadCounts {
  kept: number;
  updated: number;
  replaced: number;
  added: number;
  removed: number;
}

const EMPTY: EngineStatus = { instances: [], otherVrids: 0 };

/**
 * The VRRP process's Node flags (docs/vrrp.md, "Memory"). It holds a few
 * megabytes of live objects and makes little garbage, so:
 * - a 1 MB young generation: small, quick scavenges keep both its memory and
 *   its pauses (advert jitter) down;
 * - one V8 helper thread instead of four: each costs a stack and a malloc
 *   arena, and a heap this small gives them little to do in parallel;
 * - bytecode is never flushed: V8 drops the bytecode of functions not run
 *   for a few major collections, and a backup runs its takeover path once in
 *   days. The engine compiles that path at start (warmUpMachine, warmUpVips,
 *   prepared adverts and VIP requests); flushed, the takeover would compile
 *   it again, late.
 * None of them caps the heap: 1,000 instances must not run it out of memory.
 */
export const VRRP_PROCESS_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1', '--no-flush-bytecode'];

/** how long a restart waits for the VIPs of a dead VRRP process to be removed */
const LEFTOVERS_TIMEOUT_MS = 1000;
/** past a resume window, the time a new VRRP process gets to report it runs before this process removes the VIPs itself */
const RESUME_GRACE_MS = 100;

function forkVrrpProcess(): ChildProcess {
  return fork(path.join(__dirname, 'child.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    execArgv: [...VRRP_PROCESS_FLAGS],
  });
}

let preforked: ChildProcess | undefined;

/**
 * Forks the VRRP process before the daemon has read its config: it loads
 * the engine's code (about 80 ms with Node's own start) while the main
 * process loads and compiles the rest, and waits for its settings. The
 * first VrrpSupervisor to start takes it. Without one it goes with the main
 * process (its IPC channel closes), or dropPreforkedVrrpProcess() ends it.
 */
export function preforkVrrpProcess(): void {
  if (preforked) return;
  const child = forkVrrpProcess();
  preforked = child;
  child.once('exit', () => {
    if (preforked === child) preforked = undefined;
  });
}

/** The config has no VRRP (or the daemon stops before it starts any): the forked VRRP process goes. */
export function dropPreforkedVrrpProcess(): void {
  const child = preforked;
  preforked = undefined;
  if (child?.connected) child.disconnect();
}

function takePreforked(): ChildProcess | undefined {
  const child = preforked;
  preforked = undefined;
  return child && child.connected && child.exitCode === null && child.signalCode === null ? child : undefined;
}

export interface SupervisorOptions {
  settings: VrrpSettings;
  log: Logger;
  level: Level;
  onTransition?: (t: TransitionReport) => void;
  onEvent?: (e: EngineEvent) => void;
  /** restart delays after a crash, growing to the last one; default 200 ms .. 5 s */
  restartDelaysMs?: number[];
  /** called with the pid of every VRRP process started (its scheduling is set there) */
  onSpawn?: (pid: number) => void;
  /** a VRRP process died when it was not asked to: what it died of, when the next one starts, the masters it may resume */
  onDeath?: (death: { pid: number | undefined; reason: string; restartInMs: number; resume: string[] }) => void;
  /**
   * When the daemon started (epoch ms, as performance.timeOrigin): the first
   * VRRP process's instances count their first Master_Down_Interval from
   * it. A restarted one counts from its own start. Default: its start.
   */
  startedAt?: number;
}

/**
 * Runs the VRRP engine in a child process and keeps it running: a child that
 * dies when it was not asked to is logged and started again.
 *
 * What the dead one held: an instance it had reported MASTER may be resumed
 * by the next process, at once and without a gap, if it can advertise
 * before any backup's down timer can have run out (within
 * (down_timer_adverts - 1) advert intervals of the death); its VIPs stay
 * meanwhile, since clients reach the VIP through them. The VIPs of every
 * other instance, and those of a master the next process did not resume in
 * time, are removed from this process (release.ts): a dead master holds
 * nothing while a backup takes over.
 */
export class VrrpSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  /** releaseNow() was called: the process ending is expected, not a crash */
  private releasing = false;
  /** the engine of the current process has reported it runs */
  private running = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private crashes = 0;
  private statusSeq = 0;
  private readonly statusWaiters = new Map<number, (s: EngineStatus) => void>();
  /** the instances of a status answer that came in parts, until its last message */
  private readonly statusParts = new Map<number, InstanceStatus[]>();
  /** times the VRRP process was restarted after dying */
  restarts = 0;
  private startedWaiters: Array<(err?: Error) => void> = [];
  /** every tracker's last state: a new VRRP process starts with them */
  private readonly trackers: Record<string, TrackedState> = {};
  private reloadSeq = 0;
  private pingSeq = 0;
  private readonly pingWaiters = new Map<number, () => void>();
  private readonly reloadWaiters = new Map<number, (r: { counts?: ReloadCounts; error?: string }) => void>();
  /** the instances the running VRRP process last reported MASTER */
  private readonly masters = new Set<string>();
  /** after a death: the masters the next process may resume, each until when (epoch ms), counted from the first death */
  private resumable: Map<string, number> | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SupervisorOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the VRRP process; resolves when its engine runs. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.startedWaiters.push((err) => (err ? reject(err) : resolve()));
      this.spawn();
    });
  }

  private spawn(): void {
    const log = this.options.log;
    const spawnedAt = performance.timeOrigin + performance.now();
    const first = this.restarts === 0;
    const child = (first ? takePreforked() : undefined) ?? forkVrrpProcess();
    this.child = child;
    child.on('message', (msg: { type: string; [k: string]: unknown }) => this.onMessage(msg));
    // a message to a process that just died (EPIPE): its exit is what counts, and is handled there
    child.on('error', (err) => log.warn({ err: err.message, pid: child.pid }, `VRRP process ${child.pid}: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (this.child === child) {
        this.child = undefined;
        this.running = false;
      }
      for (const [, w] of this.statusWaiters) w(EMPTY);
      this.statusParts.clear();
      this.statusWaiters.clear();
      for (const [, w] of this.reloadWaiters) w({ error: 'the VRRP process exited' });
      this.reloadWaiters.clear();
      this.pingWaiters.clear();
      if (this.stopping || this.releasing) return;
      const resume = this.afterDeath();
      const delays = this.options.restartDelaysMs ?? [200, 1000, 5000];
      // a master to resume cannot wait: its window is a few advert intervals (and does not count for the back-off)
      if (resume.size === 0) this.crashes++;
      const delay = resume.size > 0 ? 0 : delays[Math.min(this.crashes - 1, delays.length - 1)]!;
      const resuming = resume.size > 0 ? `; it may resume ${[...resume.keys()].join(', ')} as master` : '';
      log.error(
        { code, signal, pid: child.pid, restartInMs: delay },
        `VRRP process ${child.pid} died (${signal ?? `exit ${code}`}); restarting it in ${delay} ms${resuming}`,
      );
      this.options.onDeath?.({ pid: child.pid, reason: signal ?? `exit ${code}`, restartInMs: delay, resume: [...resume.keys()] });
      this.failStart(new Error(`the VRRP process died at start (${signal ?? `exit ${code}`})`));
      // the other VIPs go now, not when the next process starts: a backup is taking over meanwhile
      const cleaned = this.removeLeftovers(child.pid, (name) => !resume.has(name));
      const waited = new Promise<void>((resolve) => (this.restartTimer = setTimeout(resolve, delay)));
      void Promise.all([waited, cleaned]).then(() => {
        this.restartTimer = undefined;
        if (this.stopping) return;
        this.restarts++;
        this.spawn();
      });
    });
    const startedAt = first ? (this.options.startedAt ?? spawnedAt) : spawnedAt;
    const resume = this.resumable && this.resumable.size > 0 ? Object.fromEntries(this.resumable) : undefined;
    child.send({
      type: 'start',
      settings: this.options.settings,
      level: this.options.level,
      trackers: this.trackers,
      startedAt,
      ...(resume ? { resume } : {}),
    });
    log.info({ pid: child.pid }, `VRRP process started (pid ${child.pid})`);
    if (child.pid !== undefined) this.options.onSpawn?.(child.pid);
  }

  /**
   * A VRRP process died: which of its masters the next one may resume, and
   * until when. The window opens at the first death after the last good
   * start (a process dying again before it ran does not stretch it); when it
   * closes with no process running, their VIPs are removed too.
   */
  private afterDeath(): Map<string, number> {
    const now = performance.timeOrigin + performance.now();
    if (!this.resumable) {
      this.resumable = new Map();
      for (const i of this.options.settings.instances) {
        // the last advert may have left an interval before the death; a backup waits down_timer_adverts of them
        if (this.masters.has(i.name)) this.resumable.set(i.name, now + (i.downTimerAdverts - 1) * i.advertIntCs * 10);
      }
      const last = Math.max(0, ...this.resumable.values());
      if (this.resumable.size > 0) {
        this.resumeTimer = setTimeout(
          () => {
            this.resumeTimer = undefined;
            const late = this.resumable;
            this.resumable = undefined;
            if (!late || late.size === 0 || this.running || this.stopping) return;
            void this.removeLeftovers(undefined, (name) => late.has(name));
          },
          last - now + RESUME_GRACE_MS,
        );
      }
    }
    this.masters.clear();
    return new Map([...this.resumable].filter(([, until]) => until > now));
  }

  /**
   * Removes the VIPs and virtual routes a VRRP process that died may have
   * held (release.ts), of the instances `which` names, from this process.
   * Never rejects; gives up after LEFTOVERS_TIMEOUT_MS, since the next VRRP
   * process removes them too.
   */
  private removeLeftovers(pid: number | undefined, which: (instance: string) => boolean = () => true): Promise<void> {
    const log = this.options.log;
    const started = performance.now();
    const work = (async () => {
      // loaded only now: the rtnetlink client costs this process memory it needs for nothing else
      const { removeLeftovers } = require('./release') as typeof import('./release');
      const { removed, failures } = await removeLeftovers(this.options.settings, which);
      const ms = (performance.now() - started).toFixed(1);
      const who = pid !== undefined ? `VRRP process ${pid}` : 'the dead VRRP process (not resumed in time)';
      if (removed.length > 0) log.notice({ pid, removed, ms }, `removed what ${who} left on the interfaces, ${ms} ms after: ${removed.join(', ')}`);
      for (const f of failures) log.error({ err: f.message, code: f.code, errno: f.errno }, `removing what ${who} left: ${f.message}`);
    })().catch((err: Error) => log.error({ err: err.message }, `removing what VRRP process ${pid ?? ''} left: ${err.message}`));
    return Promise.race([work, new Promise<void>((resolve) => setTimeout(resolve, LEFTOVERS_TIMEOUT_MS).unref())]);
  }

  private failStart(err: Error): void {
    const w = this.startedWaiters;
    this.startedWaiters = [];
    for (const f of w) f(err);
  }

  private onMessage(msg: { type: string; [k: string]: unknown }): void {
    const log = this.options.log;
    switch (msg.type) {
      case 'log': {
        const r = msg.record as LogRecord;
        log[r.level](r.fields, r.msg);
        break;
      }
      case 'transition': {
        const report = msg.report as TransitionReport;
        if (report.to === 'MASTER') this.masters.add(report.instance);
        else this.masters.delete(report.instance);
        this.options.onTransition?.(report);
        break;
      }
      case 'event':
        this.options.onEvent?.(msg.event as EngineEvent);
        break;
      case 'reloaded': {
        const w = this.reloadWaiters.get(msg.id as number);
        this.reloadWaiters.delete(msg.id as number);
        w?.({ ...(msg.counts ? { counts: msg.counts as ReloadCounts } : {}), ...(msg.error ? { error: String(msg.error) } : {}) });
        break;
      }
      case 'started': {
        // a clean start resets the crash back-off, and ends what a death left to decide
        this.crashes = 0;
        this.running = true;
        this.resumable = undefined;
        if (this.resumeTimer) clearTimeout(this.resumeTimer);
        this.resumeTimer = undefined;
        const w = this.startedWaiters;
        this.startedWaiters = [];
        for (const f of w) f();
        break;
      }
      case 'status-part': {
        const parts = this.statusParts.get(msg.id as number);
        if (parts && this.statusWaiters.has(msg.id as number)) parts.push(...(msg.instances as InstanceStatus[]));
        break;
      }
      case 'status': {
        const w = this.statusWaiters.get(msg.id as number);
        const parts = this.statusParts.get(msg.id as number) ?? [];
        this.statusWaiters.delete(msg.id as number);
        this.statusParts.delete(msg.id as number);
        const s = msg.status as EngineStatus;
        w?.(parts.length ? { ...s, instances: [...parts, ...s.instances] } : s);
        break;
      }
      case 'pong': {
        const w = this.pingWaiters.get(msg.id as number);
        this.pingWaiters.delete(msg.id as number);
        w?.();
        break;
      }
      case 'fatal':
        log.error({ code: 'ALIVED_VRRP_FATAL' }, `VRRP process: ${String(msg.message)}`);
        break;
    }
  }

  /** Tracker states (changes, or all): passed on to the VRRP process, and kept for the next one. */
  setTrackers(states: Record<string, TrackedState>): void {
    Object.assign(this.trackers, states);
    const child = this.child;
    if (child?.connected) child.send({ type: 'trackers', states });
  }

  /**
   * A reloaded config: the VRRP process applies it instance by instance
   * (unchanged ones are not touched); a process started later starts with
   * it. `trackers` replaces the whole tracker snapshot. Resolves with what
   * changed, or undefined when no VRRP process runs right now.
   */
  reload(settings: VrrpSettings, trackers: Record<string, TrackedState>, timeoutMs = 10_000): Promise<ReloadCounts | undefined> {
    // only new and changed instances cross to the VRRP process: a big config costs it no more than what changed
    const before = new Map(this.options.settings.instances.map((i) => [i.name, settingsKey(i)]));
    const changed = settings.instances.filter((i) => before.get(i.name) !== settingsKey(i));
    const { instances, ...rest } = settings;
    this.options.settings = settings;
    for (const k of Object.keys(this.trackers)) delete this.trackers[k];
    Object.assign(this.trackers, trackers);
    const child = this.child;
    if (!child || !child.connected || !this.running) return Promise.resolve(undefined);
    const id = ++this.reloadSeq;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.reloadWaiters.delete(id);
        reject(new Error(`the VRRP process did not apply the reload within ${timeoutMs} ms`));
      }, timeoutMs);
      this.reloadWaiters.set(id, (r) => {
        clearTimeout(t);
        if (r.error) reject(new Error(`the VRRP process could not apply the reload: ${r.error}`));
        else resolve(r.counts);
      });
      child.send({ type: 'reload', id, settings: rest, order: instances.map((i) => i.name), changed, trackers });
    });
  }

  /**
   * Whether the VRRP process's engine runs and its event loop answered a
   * ping within `timeoutMs`: false while it starts, after it died, and when
   * it hangs or is stopped (SIGSTOP). The systemd watchdog asks this.
   */
  ping(timeoutMs: number): Promise<boolean> {
    const child = this.child;
    if (!child || !child.connected || !this.running) return Promise.resolve(false);
    const id = ++this.pingSeq;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pingWaiters.delete(id);
        resolve(false);
      }, timeoutMs);
      this.pingWaiters.set(id, () => {
        clearTimeout(t);
        resolve(true);
      });
      child.send({ type: 'ping', id });
    });
  }

  /** The instances' state and counters, from the VRRP process (none if it is not running). */
  status(timeoutMs = 2000): Promise<EngineStatus> {
    const child = this.child;
    if (!child || !child.connected) return Promise.resolve(EMPTY);
    const id = ++this.statusSeq;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.statusWaiters.delete(id);
        this.statusParts.delete(id);
        resolve(EMPTY);
      }, timeoutMs);
      this.statusParts.set(id, []);
      this.statusWaiters.set(id, (s) => {
        clearTimeout(t);
        resolve(s);
      });
      child.send({ type: 'status', id });
    });
  }

  /**
   * Tells the VRRP process to release now, by signal: no IPC message and no
   * log line stand between a SIGTERM and the priority-0 adverts. stop() then
   * waits for it.
   */
  releaseNow(): void {
    if (this.releasing) return;
    this.releasing = true;
    const child = this.child;
    // only a running engine has its SIGTERM handler; one still starting is told by stop()
    if (this.running && child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }

  /** Asks the VRRP process to release (priority 0, VIPs removed) and waits for it to exit; kills it after timeoutMs. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.failStart(new Error('stopped'));
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    let killed = false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.options.log.error({ pid: child.pid }, `VRRP process ${child.pid} did not stop within ${timeoutMs} ms; killing it`);
        killed = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      if (child.connected) child.send({ type: 'stop' });
      else child.kill('SIGTERM');
    });
    // killed before it released: nothing it held may stay on the interfaces
    if (killed) await this.removeLeftovers(child.pid);
  }
}
