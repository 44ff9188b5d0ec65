import type { Logger } from '../log/logger';
import { ScriptRunner, signalName, spawnErrorWords, type RunOutcome } from './run';
import { idsToSet, scriptRunAs, type ResolvedUser, type ScriptUserName } from './user';

/**
 * Runs notify scripts (notify_up / notify_down, quorum_up / quorum_down) as
 * keepalived's notify_exec() does: fire and forget, each in a process group
 * of its own, as the script's user. Unlike keepalived, a script that runs
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
  /** how long a script may run before its group is killed; default NOTIFY_SCRIPT_TIMEOUT_MS */
  readonly timeoutMs?: number;
}

/** keepalived does not time notify scripts; alived gives them a minute before killing the group */
export const NOTIFY_SCRIPT_TIMEOUT_MS = 60_000;

/** `'/usr/bin/notify' 'up'`: how messages name a command, as keepalived's cmd_str() */
export function commandWords(argv: readonly string[]): string {
  return argv.map((a) => `'${a}'`).join(' ');
}

export class ScriptLauncher {
  private readonly runner = new ScriptRunner();
  private readonly abort = new AbortController();
  /** user lookups, once per name until forgetUsers(): getent is a process of its own */
  private users = new Map<string, Promise<ResolvedUser | string | undefined>>();
  private readonly log: Logger;
  private readonly inflight = new Set<Promise<RunOutcome>>();
  private started = 0;
  private failed = 0;

  constructor(private readonly opts: ScriptLauncherOptions) {
    this.log = opts.log;
  }

  /** counters for the status model */
  counts(): { started: number; failed: number; running: number } {
    return { started: this.started, failed: this.failed, running: this.inflight.size };
  }

  /** Users are looked up again (after a reload: script_user or the user database may have changed). */
  forgetUsers(): void {
    this.users = new Map();
  }

  private runAs(script: ScriptToRun): Promise<ResolvedUser | string | undefined> {
    const own = script.user !== undefined ? { user: script.user, group: script.group } : undefined;
    const fallback = own ? undefined : this.opts.scriptUser?.();
    const named = own ?? fallback;
    const key = named ? `${named.user}\0${named.group ?? ''}` : '';
    let p = this.users.get(key);
    if (!p) this.users.set(key, (p = scriptRunAs(own, fallback)));
    return p;
  }

  /**
   * Starts `script`; `what` says why, for the log (`notify_up for [10.0.0.2]:tcp:80
   * of VS [10.0.0.1]:tcp:80`). The promise resolves when the script has
   * exited, timed out or could not start; it never rejects. Callers that
   * fire and forget need not wait for it.
   */
  run(script: ScriptToRun, what: string, opts: { timeoutMs?: number } = {}): Promise<RunOutcome> {
    const p = this.start(script, what, opts);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  private async start(script: ScriptToRun, what: string, opts: { timeoutMs?: number }): Promise<RunOutcome> {
    const cmd = script.command ?? commandWords(script.argv);
    const fields = { script: cmd, for: what };
    if (this.abort.signal.aborted) return { kind: 'aborted' };
    this.started++;
    let outcome: RunOutcome;
    try {
      const ids = await this.runAs(script);
      if (typeof ids === 'string') {
        this.failed++;
        this.log.error({ code: 'ALIVED_SCRIPT_FAILED', ...fields, reason: ids }, `Cannot run script ${cmd} (${what}): ${ids}`);
        return { kind: 'error', error: Object.assign(new Error(ids), { code: 'EUSER' }) };
      }
      this.log.debug({ ...fields, uid: ids?.uid }, `Executing script ${cmd} (${what})`);
      outcome = await this.runner.run({
        argv: script.argv,
        ...idsToSet(ids),
        timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs ?? NOTIFY_SCRIPT_TIMEOUT_MS,
        signal: this.abort.signal,
      });
    } catch (err) {
      outcome = { kind: 'error', error: err as NodeJS.ErrnoException };
    }
    this.report(outcome, cmd, what, fields);
    return outcome;
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
        this.log.warn({ code: 'ALIVED_SCRIPT_FAILED', ...fields, signal: o.signal }, `Script ${cmd} (${what}) killed by ${signalName(o.signal)}${tail(o.stderr)}`);
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
        this.log.error(
          { code: 'ALIVED_SCRIPT_FAILED', ...fields, err: o.error },
          `Cannot run script ${cmd} (${what}): ${spawnErrorWords(o.error)}`,
        );
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
