import type { Logger } from '../log/logger';
import { ScriptRunner, signalName, spawnErrorWords, type RunOutcome } from './run';
import { prepareScript, scriptIdentity, securityViolationMessage, type ScriptIds, type UnsafePath } from './security';
import type { ScriptUserName } from './user';

/**
 * Runs notify scripts (notify_up / notify_down, quorum_up / quorum_down) as
 * keepalived's notify_exec() does: fire and forget, each in a process group
 * of its own, as the script's user, after keepalived's script security
 * checks (core/script/security.ts). Unlike keepalived, a script that runs
 * past its timeout is killed with its group, so a hung script cannot pile
 * up; a script that exits and leaves a background job running is not
 * followed further (the job may be the point of the script).
 */

export interface ScriptToRun {
  /** the command split into words, as keepalived splits them */
  readonly argv: readonly string[];
  /** the command as written, for the log */
  readonly command?: string;
  /** the user (and group) written after the script */
  readonly user?: string | undefined;
  readonly group?: string | undefined;
}

export interface ScriptLauncherOptions {
  readonly log: Logger;
  /** global_defs' script_user, read when a script runs (it changes on reload) */
  readonly scriptUser?: () => ScriptUserName | undefined;
  /** global_defs' enable_script_security, read when a script runs: refuse unsafe root scripts instead of warning */
  readonly scriptSecurity?: () => boolean;
  /** how long a script may run before its group is killed; default NOTIFY_SCRIPT_TIMEOUT_MS */
  readonly timeoutMs?: number;
}

/** keepalived does not time notify scripts; alived gives them a minute before killing the group */
export const NOTIFY_SCRIPT_TIMEOUT_MS = 60_000;

/** `'/usr/bin/notify' 'up'`: how messages name a command, as keepalived's cmd_str() */
export function commandWords(argv: readonly string[]): string {
  return argv.map((a) => `'${a}'`).join(' ');
}

/** A script checked and ready: launch() starts it at once, synchronously. */
export interface PreparedRun {
  readonly kind: 'ready';
  /** argv[0] resolved as keepalived resolves it (path search, symbolic links) */
  readonly argv: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  /** the command as the log names it */
  readonly cmd: string;
  readonly what: string;
  /** it runs as root although a non-root user could change it (enable_script_security is off) */
  readonly unsafe?: UnsafePath;
}

export class ScriptLauncher {
  private readonly runner = new ScriptRunner();
  private readonly abort = new AbortController();
  /** user lookups, once per name until forgetUsers(): getent is a process of its own */
  private users = new Map<string, Promise<ScriptIds | string>>();
  /** warnings already given (unsafe script run anyway, PATH search), once per script until forgetUsers() */
  private warned = new Set<string>();
  private readonly log: Logger;
  private readonly inflight = new Set<Promise<unknown>>();
  private started = 0;
  private failed = 0;

  constructor(private readonly opts: ScriptLauncherOptions) {
    this.log = opts.log;
  }

  /** counters for the status model */
  counts(): { started: number; failed: number; running: number } {
    return { started: this.started, failed: this.failed, running: this.inflight.size };
  }

  /**
   * Users are looked up again and warnings given again (after a reload:
   * script_user, the user database or the scripts may have changed).
   */
  forgetUsers(): void {
    this.users = new Map();
    this.warned = new Set();
  }

  private security(): boolean {
    return this.opts.scriptSecurity?.() ?? false;
  }

  private identity = (own: ScriptUserName | undefined, scriptUser: ScriptUserName | undefined, enforce: boolean): Promise<ScriptIds | string> => {
    const named = own ?? scriptUser;
    const key = named ? `${named.user}\0${named.group ?? ''}` : `\0default\0${enforce}`;
    let p = this.users.get(key);
    if (!p) this.users.set(key, (p = scriptIdentity(own, scriptUser, enforce)));
    return p;
  };

  /**
   * Starts `script`; `what` says why, for the log (`notify_up for [10.0.0.2]:tcp:80
   * of VS [10.0.0.1]:tcp:80`). The promise resolves when the script has
   * exited, timed out or could not start; it never rejects. Callers that
   * fire and forget need not wait for it.
   */
  run(script: ScriptToRun, what: string, opts: { timeoutMs?: number } = {}): Promise<RunOutcome> {
    return this.track(this.prepareCounted(script, what).then((ready) => (ready.kind === 'ready' ? this.launch(ready, opts) : ready)));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  /**
   * Finds the script's user and checks the script (core/script/security.ts)
   * without running it: a refusal is logged and comes back as the outcome
   * of the run that did not happen. Warnings (an unsafe script run without
   * enable_script_security) are logged once per script until forgetUsers().
   * Never rejects.
   */
  prepare(script: ScriptToRun, what: string): Promise<PreparedRun | RunOutcome> {
    return this.track(this.prepareCounted(script, what));
  }

  private async prepareCounted(script: ScriptToRun, what: string): Promise<PreparedRun | RunOutcome> {
    if (this.abort.signal.aborted) return { kind: 'aborted' };
    this.started++;
    const o = await this.check(script, what);
    if (o.kind !== 'ready') this.failed++;
    return o;
  }

  private async check(script: ScriptToRun, what: string): Promise<PreparedRun | RunOutcome> {
    const cmd = script.command ?? commandWords(script.argv);
    const fields = { script: cmd, for: what };
    try {
      const p = await prepareScript(script, { scriptUser: this.opts.scriptUser?.(), scriptSecurity: this.security(), identity: this.identity });
      if (!p.ok) {
        if (p.code === 'EINSECURE') {
          this.log.error(
            { code: 'ALIVED_SCRIPT_INSECURE', ...fields, path: p.path, reason: p.reason },
            `Unsafe permissions found for script ${cmd} (${what}) - disabling: ${p.reason}`,
          );
        } else {
          this.log.error({ code: 'ALIVED_SCRIPT_FAILED', ...fields, path: p.path, reason: p.reason }, `Cannot run script ${cmd} (${what}): ${p.reason}`);
        }
        return { kind: 'error', error: Object.assign(new Error(p.reason), { code: p.code, path: p.path }) };
      }
      for (const w of p.warnings) {
        if (this.warned.has(w)) continue;
        this.warned.add(w);
        this.log.warn({ ...(p.unsafe && w.startsWith('Unsafe') ? { code: 'ALIVED_SCRIPT_INSECURE', path: p.unsafe.path } : {}), ...fields }, w);
      }
      return { kind: 'ready', argv: p.argv, uid: p.uid, gid: p.gid, cmd, what, unsafe: p.unsafe };
    } catch (err) {
      return { kind: 'error', error: err as NodeJS.ErrnoException };
    }
  }

  /**
   * Starts a prepared script now: the process exists when this returns (or
   * its spawn error is on the way). Resolves like run().
   */
  launch(ready: PreparedRun, opts: { timeoutMs?: number } = {}): Promise<RunOutcome> {
    const fields = { script: ready.cmd, for: ready.what };
    if (this.abort.signal.aborted) return Promise.resolve({ kind: 'aborted' });
    this.log.debug({ ...fields, uid: ready.uid }, `Executing script ${ready.cmd} (${ready.what})`);
    const p = this.runner
      .run({
        argv: ready.argv,
        uid: ready.uid,
        gid: ready.gid,
        timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs ?? NOTIFY_SCRIPT_TIMEOUT_MS,
        signal: this.abort.signal,
      })
      .then((o) => {
        this.report(o, ready.cmd, ready.what, fields);
        return o;
      });
    return this.track(p);
  }

  /**
   * Checks scripts as keepalived does when it loads a config: refusals and
   * warnings are logged now rather than at the first run, and, when scripts
   * run without enable_script_security, keepalived's SECURITY VIOLATION
   * warning once. `kind`: '' (VRRP), 'check ' or 'start/shutdown '.
   */
  async audit(scripts: ReadonlyArray<{ readonly script: ScriptToRun; readonly what: string }>, kind: '' | 'check ' | 'start/shutdown ' = ''): Promise<void> {
    if (scripts.length === 0) return;
    const results = await Promise.all(scripts.map(({ script, what }) => this.check(script, what)));
    if (this.security()) return;
    const ran = results.filter((r) => r.kind === 'ready').length;
    if (ran === 0) return;
    const insecure = results.some((r) => r.kind === 'ready' && r.unsafe !== undefined);
    this.log.warn({ code: 'ALIVED_SCRIPT_SECURITY_OFF', scripts: ran }, securityViolationMessage(kind, insecure));
  }

  private report(o: RunOutcome, cmd: string, what: string, fields: Record<string, unknown>): void {
    const tail = (stderr: string): string => (stderr ? `: ${stderr.split('\n').pop()}` : '');
    switch (o.kind) {
      case 'exit':
        if (o.code === 0) return;
        this.failed++;
        this.log.warn({ code: 'ALIVED_SCRIPT_FAILED', ...fields, status: o.code }, `Script ${cmd} (${what}) exited with status ${o.code}${tail(o.stderr)}`);
        return;
      case 'signal':
        this.failed++;
        this.log.warn(
          { code: 'ALIVED_SCRIPT_FAILED', ...fields, signal: o.signal },
          `Script ${cmd} (${what}) killed by ${signalName(o.signal)}${tail(o.stderr)}`,
        );
        return;
      case 'timeout':
        this.failed++;
        this.log.warn({ code: 'ALIVED_SCRIPT_FAILED', ...fields }, `Script ${cmd} (${what}) timed out; killed with its process group`);
        return;
      case 'aborted':
        this.log.info({ ...fields }, `Script ${cmd} (${what}) killed with its process group: alived is stopping`);
        return;
      case 'error':
        this.failed++;
        this.log.error({ code: 'ALIVED_SCRIPT_FAILED', ...fields, err: o.error }, `Cannot run script ${cmd} (${what}): ${spawnErrorWords(o.error)}`);
        return;
    }
  }

  /** Resolves once every script started so far has exited (or been killed at its timeout). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /** Kills every script running now, with its group; later run() calls still start theirs. */
  killRunning(): void {
    this.runner.close();
  }

  /** Kills every script still running, with its group; later run() calls start nothing. */
  close(): void {
    this.abort.abort();
    this.runner.close();
  }
}
