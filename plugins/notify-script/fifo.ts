import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  bounded,
  commandWords,
  KILL_GRACE_MS,
  maskedMode,
  prepareScript,
  processIds,
  scriptIdentity,
  ScriptRunner,
  signalName,
  type GlobalDefs,
  type Logger,
  type RunOutcome,
  type ScriptLine,
  type ScriptUserName,
} from '../../core/sdk';

/**
 * keepalived's notify FIFOs (lib/notify.c fifo_open(), vrrp_notify.c
 * notify_fifo(), check/ipwrapper.c notify_fifo_vs() / notify_fifo_rs()):
 * `notify_fifo` receives every line, `vrrp_notify_fifo` the VRRP lines,
 * `lvs_notify_fifo` the checker lines. A FIFO that does not exist is created
 * (mode 0644, owned by its user); it is opened O_RDWR | O_NONBLOCK, so a
 * write never waits for a reader and never fails for lack of one; a line
 * that does not fit (nobody reads) is dropped. Its script, when there is
 * one, runs for as long as alived does, with the FIFO's path as its last
 * argument.
 */

export type FifoKind = 'global' | 'vrrp' | 'lvs';

/** `INSTANCE "VI_1" MASTER 100`, `GROUP "G1" BACKUP 0`: keepalived's notify_fifo() line */
export function vrrpFifoLine(kind: 'instance' | 'group', name: string, state: string, priority: number): string {
  return `${kind === 'group' ? 'GROUP' : 'INSTANCE'} "${name}" ${state} ${Math.trunc(priority)}\n`;
}

/** `VS [10.0.0.1]:tcp:80 UP`: keepalived's notify_fifo_vs() line; `vs` as keepalived formats it (FMT_VS) */
export function virtualServerFifoLine(vs: string, up: boolean): string {
  return `VS ${vs} ${up ? 'UP' : 'DOWN'}\n`;
}

/** `RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN`: keepalived's notify_fifo_rs() line (real server first) */
export function realServerFifoLine(vs: string, rs: string, up: boolean): string {
  return `RS ${rs} ${vs} ${up ? 'UP' : 'DOWN'}\n`;
}

/** One FIFO to open: the kinds of lines it receives, its user, its script. */
export interface FifoSpec {
  readonly path: string;
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly script: ScriptLine | undefined;
  readonly kinds: ReadonlySet<FifoKind>;
  /** the keyword that named it, for messages: `notify_fifo`, `vrrp_notify_fifo`, `lvs_notify_fifo` */
  readonly keyword: string;
}

/**
 * The FIFOs of a config, with keepalived's rules for shared paths
 * (global_data.c): a vrrp or lvs FIFO with the global FIFO's path is ignored
 * (lines would be written twice); a vrrp and an lvs FIFO with one path are
 * one FIFO, and when both have a script the lvs one is ignored.
 * `notes` are keepalived's messages about what was ignored.
 */
export function fifoSpecs(g: GlobalDefs | undefined): { specs: FifoSpec[]; notes: string[] } {
  const notes: string[] = [];
  if (!g) return { specs: [], notes };
  const specs: Array<{ -readonly [K in keyof FifoSpec]: FifoSpec[K] } & { kinds: Set<FifoKind> }> = [];
  const add = (keyword: string, kind: FifoKind, fifo: GlobalDefs['notifyFifo'], script: ScriptLine | undefined): void => {
    if (!fifo) return;
    const global = specs.find((s) => s.kinds.has('global'));
    if (kind !== 'global' && global && global.path === fifo.path) {
      notes.push(
        `notify FIFO ${fifo.path} has been specified for global and ${kind === 'vrrp' ? 'vrrp' : 'LVS'} FIFO - ignoring ${kind === 'vrrp' ? 'vrrp' : 'LVS'} FIFO`,
      );
      return;
    }
    const same = specs.find((s) => s.path === fifo.path);
    if (same) {
      same.kinds.add(kind);
      if (script && same.script) notes.push('LVS notify FIFO and vrrp FIFO are the same both with scripts - ignoring LVS FIFO script');
      else same.script ??= script;
      return;
    }
    specs.push({ path: fifo.path, user: fifo.user, group: fifo.group, script, kinds: new Set([kind]), keyword });
  };
  add('notify_fifo', 'global', g.notifyFifo, g.notifyFifoScript);
  add('vrrp_notify_fifo', 'vrrp', g.vrrpNotifyFifo, g.vrrpNotifyFifoScript);
  add('lvs_notify_fifo', 'lvs', g.lvsNotifyFifo, g.lvsNotifyFifoScript);
  return { specs, notes };
}

function sameSpec(a: FifoSpec, b: FifoSpec): boolean {
  const script = (s: ScriptLine | undefined): string => (s ? JSON.stringify([s.argv, s.user, s.group]) : '');
  return (
    a.path === b.path &&
    a.user === b.user &&
    a.group === b.group &&
    script(a.script) === script(b.script) &&
    [...a.kinds].sort().join() === [...b.kinds].sort().join()
  );
}

export interface FifoContext {
  readonly log: Logger;
  readonly scriptUser: () => ScriptUserName | undefined;
  readonly scriptSecurity: () => boolean;
}

/** lines kept while the FIFO is being opened */
const MAX_PENDING = 1024;
/** how long a FIFO's script may take to finish after its FIFO closes (it reads to the end), before its group is killed */
export const FIFO_SCRIPT_EXIT_WAIT_MS = 1000;

const execFileP = promisify(execFile);
const openP = promisify(fs.open);

/** One open FIFO and its script. */
export class NotifyFifo {
  private fd: number | undefined;
  private state: 'new' | 'opening' | 'open' | 'failed' | 'closed' = 'new';
  private pending: string[] = [];
  private created = false;
  private full = false;
  private dropped = 0;
  private readonly runner = new ScriptRunner();
  private readonly abort = new AbortController();
  private scriptDone: Promise<RunOutcome> | undefined;
  private readonly log: Logger;

  constructor(
    readonly spec: FifoSpec,
    private readonly ctx: FifoContext,
  ) {
    this.log = ctx.log;
  }

  /** lines written so far that found the FIFO full (or were more than the pending bound while it opened) */
  get droppedLines(): number {
    return this.dropped;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** the kind prefix of keepalived's messages: `vrrp_`, `lvs_` or none */
  private get type(): string {
    return this.spec.keyword.replace(/notify_fifo$/, '');
  }

  /**
   * Creates the FIFO if it is missing, opens it and starts its script. A
   * failure is logged (ALIVED_NOTIFY_FIFO, naming the path) and the FIFO
   * then takes no lines; this never rejects.
   */
  async open(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'opening';
    const path = this.spec.path;
    const fail = (why: string, err?: unknown): void => {
      this.state = 'failed';
      this.pending = [];
      this.log.error(
        { code: 'ALIVED_NOTIFY_FIFO', fifo: path, keyword: this.spec.keyword, ...(err ? { err } : {}) },
        `Unable to open ${this.type}notify fifo ${path}: ${why}`,
      );
    };
    const owner = await scriptIdentity(
      this.spec.user !== undefined ? { user: this.spec.user, group: this.spec.group } : undefined,
      this.ctx.scriptUser(),
      this.ctx.scriptSecurity(),
    );
    if (typeof owner === 'string') return fail(`invalid user for the FIFO: ${owner}`);
    if ((this.state as string) === 'closed') return;
    try {
      const st = fs.lstatSync(path, { throwIfNoEntry: false });
      if (st && !st.isFIFO()) return fail(`${path} exists and is not a FIFO`);
      if (!st) {
        try {
          // 0644, less global_defs umask as keepalived's mkfifo() is
          await execFileP('mkfifo', ['-m', maskedMode(0o644).toString(8), '--', path], { timeout: 5000 });
        } catch (err) {
          const e = err as { stderr?: string; code?: string | number };
          if (e.code === 'ENOENT') return fail('mkfifo (coreutils) is not installed', err);
          if (!fs.lstatSync(path, { throwIfNoEntry: false })?.isFIFO()) {
            return fail(`cannot create it: ${(e.stderr ?? String(err)).trim().replace(/^mkfifo: /, '')}`);
          }
        }
        this.created = true;
        const self = processIds();
        if (owner.uid !== self.uid || owner.gid !== self.gid) {
          try {
            fs.chownSync(path, owner.uid !== self.uid ? owner.uid : -1, owner.gid !== self.gid ? owner.gid : -1);
          } catch (err) {
            this.log.warn({ code: 'ALIVED_NOTIFY_FIFO', fifo: path, err }, `Failed to set uid:gid ${owner.uid}:${owner.gid} for fifo ${path}`);
          }
        }
      }
      const c = fs.constants;
      const fd = await openP(path, c.O_RDWR | c.O_NONBLOCK | c.O_NOFOLLOW);
      if (!fs.fstatSync(fd).isFIFO()) {
        fs.closeSync(fd);
        return fail(`${path} is not a FIFO`);
      }
      if ((this.state as string) === 'closed') {
        fs.closeSync(fd);
        return;
      }
      this.fd = fd;
      this.state = 'open';
    } catch (err) {
      if (this.created) fs.rmSync(path, { force: true });
      this.created = false;
      return fail((err as NodeJS.ErrnoException).code ?? String(err), err);
    }
    this.log.info({ fifo: path, keyword: this.spec.keyword }, `Opened ${this.type}notify fifo ${path}`);
    const pending = this.pending;
    this.pending = [];
    for (const line of pending) this.write(line);
    await this.startScript();
  }

  private async startScript(): Promise<void> {
    const script = this.spec.script;
    if (!script) return;
    const argv = [...script.argv, this.spec.path];
    const cmd = commandWords(argv);
    const what = `${this.type}notify_fifo_script`;
    const p = await prepareScript(
      { argv, user: script.user, group: script.group },
      { scriptUser: this.ctx.scriptUser(), scriptSecurity: this.ctx.scriptSecurity() },
    );
    if (this.state !== 'open') return;
    if (!p.ok) {
      const code = p.code === 'EINSECURE' ? 'ALIVED_SCRIPT_INSECURE' : 'ALIVED_SCRIPT_FAILED';
      const head = p.code === 'EINSECURE' ? `Unsafe permissions found for script ${cmd} (${what}) - disabling` : `Cannot run script ${cmd} (${what})`;
      this.log.error({ code, script: cmd, for: what, path: p.path, reason: p.reason }, `${head}: ${p.reason}`);
      return;
    }
    for (const w of p.warnings) this.log.warn({ script: cmd, for: what, ...(p.unsafe ? { code: 'ALIVED_SCRIPT_INSECURE' } : {}) }, w);
    this.log.debug({ script: cmd, for: what }, `Executing script ${cmd} (${what})`);
    const done = this.runner.run({ argv: p.argv, uid: p.uid, gid: p.gid, signal: this.abort.signal });
    this.scriptDone = done;
    void done.then((o) => {
      const how = outcomeWords(o);
      if (this.state === 'closed' || o.kind === 'aborted')
        this.log.info({ fifo: this.spec.path, script: cmd }, `${this.type}notify fifo script terminated: ${cmd} ${how}`);
      else
        this.log.warn(
          { code: o.kind === 'error' ? 'ALIVED_SCRIPT_FAILED' : 'ALIVED_NOTIFY_FIFO', fifo: this.spec.path, script: cmd },
          `${this.type}notify fifo script terminated: ${cmd} ${how}`,
        );
    });
  }

  /** Writes one line (ending in \n) at once, or keeps it while the FIFO is opening. Never blocks, never throws. */
  write(line: string): void {
    switch (this.state) {
      case 'new':
      case 'opening':
        if (this.pending.length < MAX_PENDING) this.pending.push(line);
        else this.dropped++;
        return;
      case 'open':
        break;
      default:
        return;
    }
    try {
      // lines are shorter than PIPE_BUF: each write is atomic, whole or nothing
      fs.writeSync(this.fd!, line);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ fifo: this.spec.path, line: line.trimEnd() }, 'notify fifo write');
      if (this.full) {
        this.full = false;
        this.log.info({ fifo: this.spec.path, dropped: this.dropped }, `notify fifo ${this.spec.path} is read again; ${this.dropped} lines were dropped`);
      }
    } catch (err) {
      this.dropped++;
      if (this.full) return;
      this.full = true;
      const code = (err as NodeJS.ErrnoException).code;
      this.log.warn(
        { code: 'ALIVED_NOTIFY_FIFO', fifo: this.spec.path, errno: code },
        code === 'EAGAIN'
          ? `notify fifo ${this.spec.path} is full (nobody reads it); lines are dropped until it is read`
          : `Cannot write to notify fifo ${this.spec.path} (${code}); lines are dropped`,
      );
    }
  }

  /**
   * Closes the FIFO (removing it when alived created it, first, as keepalived
   * does, so a looping reader cannot reopen it), lets its script read to
   * the end for FIFO_SCRIPT_EXIT_WAIT_MS, then kills the script's group.
   * Resolves once the script is gone (bounded).
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    if (this.created) fs.rmSync(this.spec.path, { force: true });
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // closed already
      }
      this.fd = undefined;
    }
    if (!this.scriptDone) return;
    await bounded(this.runner.idle(), FIFO_SCRIPT_EXIT_WAIT_MS);
    this.abort.abort();
    this.runner.close();
    await bounded(this.runner.idle(), KILL_GRACE_MS + 1000);
  }
}

function outcomeWords(o: RunOutcome): string {
  switch (o.kind) {
    case 'exit':
      return `exited with status ${o.code}${o.stderr ? `: ${o.stderr.split('\n').pop()}` : ''}`;
    case 'signal':
      return `was killed by ${signalName(o.signal)}`;
    case 'timeout':
      return 'timed out';
    case 'aborted':
      return 'was stopped with its process group';
    case 'error':
      return `could not start: ${o.error.message}`;
  }
}

/**
 * The FIFOs of the running config. reconcile() keeps a FIFO whose settings
 * did not change (its script goes on reading, no line is lost), closes
 * those that changed or went away and opens the new ones; keepalived closes
 * and reopens every FIFO at a reload.
 */
export class NotifyFifos {
  private fifos: NotifyFifo[] = [];

  constructor(private readonly ctx: FifoContext) {}

  /** the FIFOs now in use (for tests and status) */
  get all(): readonly NotifyFifo[] {
    return this.fifos;
  }

  async reconcile(g: GlobalDefs | undefined): Promise<void> {
    const { specs, notes } = fifoSpecs(g);
    for (const n of notes) this.ctx.log.info({ code: 'ALIVED_NOTIFY_FIFO' }, n);
    const kept: NotifyFifo[] = [];
    const gone: NotifyFifo[] = [];
    for (const f of this.fifos) (specs.some((s) => sameSpec(s, f.spec)) ? kept : gone).push(f);
    await Promise.all(gone.map((f) => f.close()));
    const added = specs.filter((s) => !kept.some((f) => sameSpec(s, f.spec))).map((s) => new NotifyFifo(s, this.ctx));
    this.fifos = [...kept, ...added];
    await Promise.all(added.map((f) => f.open()));
  }

  /** a VRRP line: to notify_fifo and vrrp_notify_fifo */
  writeVrrp(line: string): void {
    for (const f of this.fifos) if (f.spec.kinds.has('global') || f.spec.kinds.has('vrrp')) f.write(line);
  }

  /** a checker line: to notify_fifo and lvs_notify_fifo */
  writeLvs(line: string): void {
    for (const f of this.fifos) if (f.spec.kinds.has('global') || f.spec.kinds.has('lvs')) f.write(line);
  }

  async close(): Promise<void> {
    const all = this.fifos;
    this.fifos = [];
    await Promise.all(all.map((f) => f.close()));
  }
}
