import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';

/**
 * Runs one script (MISC_CHECK, notify_up / notify_down, quorum_up /
 * quorum_down) as keepalived's system_call_script() does: in a process
 * group of its own, so that a timeout kills the script and everything it
 * started; SIGTERM first, SIGKILL 2 seconds later (misc_check_child_thread()).
 * The outcome arrives as soon as the script exits, times out or the signal
 * aborts; killing goes on in the background, bounded, and the exit is
 * always reaped (no zombie): Node waits for every child it spawned.
 */

export interface RunSpec {
  readonly argv: readonly string[];
  /** numeric ids to run as; undefined: alived's own */
  readonly uid?: number;
  readonly gid?: number;
  /** milliseconds before the script is killed; undefined: only the signal stops it */
  readonly timeoutMs?: number;
  readonly signal: AbortSignal;
  /** called with the script's pid (its process group id) once it is spawned */
  readonly onSpawn?: (pid: number) => void;
}

export type RunOutcome =
  | { readonly kind: 'exit'; readonly code: number; readonly stderr: string }
  | { readonly kind: 'signal'; readonly signal: string; readonly stderr: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'error'; readonly error: NodeJS.ErrnoException };

/** keepalived waits 2 s between SIGTERM and SIGKILL of the group */
export const KILL_GRACE_MS = 2000;

/** how long after a script's exit its stderr may still deliver what it wrote */
const STDERR_WAIT_MS = 100;

/** stderr kept for the message: the end of it, where the reason usually is */
const STDERR_TAIL = 512;

/**
 * The environment of a script: alived's own, without what would change how
 * the script's programs are found and loaded or how its shell splits words.
 */
export function scriptEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.IFS;
  delete out.LD_PRELOAD;
  delete out.LD_LIBRARY_PATH;
  return out;
}

/**
 * keepalived's special case (check_script_secure()): a command beginning
 * `</path` only tests that a file can be opened, and runs through the shell
 * as cmd_str() writes it: the first word as is, the others single-quoted.
 */
export function isRedirectionOnly(argv: readonly string[]): boolean {
  return /^<\s*\//.test(argv[0] ?? '');
}

export function shellCommandLine(argv: readonly string[]): string {
  return argv.map((a, i) => (i === 0 && /^[<>]/.test(a) ? a : `'${a}'`)).join(' ');
}

/** Processes started, not yet exited: close() kills what is left. */
export class ScriptRunner {
  private readonly running = new Set<ChildProcess>();
  private idleWaiters: Array<() => void> = [];

  /** scripts started that have not exited yet */
  get pending(): number {
    return this.running.size;
  }

  /** Resolves once no script is running (at once when none is). */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private forget(child: ChildProcess): void {
    this.running.delete(child);
    if (this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  run(spec: RunSpec): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const settle = (o: RunOutcome): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (onAbort) spec.signal.removeEventListener('abort', onAbort);
        resolve(o);
      };
      if (spec.signal.aborted) return settle({ kind: 'aborted' });

      const [file, args] = isRedirectionOnly(spec.argv) ? ['/bin/sh', ['-c', shellCommandLine(spec.argv)]] : [spec.argv[0]!, spec.argv.slice(1)];
      let child: ChildProcess;
      try {
        child = spawn(file, args, {
          // setsid(): the script leads a process group of its own, so kill(-pid) reaches its children
          detached: true,
          stdio: ['ignore', 'ignore', 'pipe'],
          env: scriptEnv(),
          uid: spec.uid,
          gid: spec.gid,
        });
      } catch (err) {
        return settle({ kind: 'error', error: err as NodeJS.ErrnoException });
      }
      this.running.add(child);
      if (child.pid !== undefined) spec.onSpawn?.(child.pid);

      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        stderr = (stderr + d).slice(-STDERR_TAIL);
      });
      child.stderr?.on('error', () => {});

      let killing = false;
      let escalate: NodeJS.Timeout | undefined;
      const terminate = (): void => {
        if (killing || child.exitCode !== null || child.signalCode !== null) return;
        killing = true;
        killGroup(child, 'SIGTERM');
        escalate = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS);
      };

      child.once('error', (err) => {
        // spawn failed (no such file, not executable, not permitted): there is no process to wait for
        this.forget(child);
        settle({ kind: 'error', error: err as NodeJS.ErrnoException });
      });
      child.once('exit', (code, sig) => {
        this.forget(child);
        if (escalate) clearTimeout(escalate);
        // what the script started and left behind dies with it once alived has had to kill it
        if (killing) killGroup(child, 'SIGKILL');
        const done = (): void => {
          child.stderr?.destroy();
          if (code !== null) settle({ kind: 'exit', code, stderr: stderr.trim() });
          else settle({ kind: 'signal', signal: sig ?? 'unknown', stderr: stderr.trim() });
        };
        // 'exit' can come before the last of stderr is read; a background child of the
        // script may hold stderr open for ever, so the exit is what counts after a short wait
        const err = child.stderr;
        if (!err || err.readableEnded || err.destroyed) return done();
        const wait = setTimeout(done, STDERR_WAIT_MS);
        err.once('close', () => {
          clearTimeout(wait);
          done();
        });
      });

      if (settled) return;
      if (spec.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          terminate();
          settle({ kind: 'timeout' });
        }, spec.timeoutMs);
      }
      onAbort = (): void => {
        terminate();
        settle({ kind: 'aborted' });
      };
      spec.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Kills every script still running, with its group. */
  close(): void {
    for (const child of this.running) killGroup(child, 'SIGKILL');
  }
}

/** Resolves when `p` settles (either way) or after `ms`, whichever is first; never rejects. */
export function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves once no process of group `pgid` is left (ESRCH), or after `ms`. */
export async function groupGone(pgid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // ESRCH: the group is gone already
  }
}

/** why a script could not be started, in words an operator acts on */
export function spawnErrorWords(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file (ENOENT)';
    case 'EACCES':
      return 'permission denied: not executable, or a directory on its path is not searchable (EACCES)';
    case 'EPERM':
      return 'not permitted: running a script as another user needs root (EPERM)';
    default:
      return err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
  }
}

/** `SIGSEGV` for 11 */
export function signalName(sig: string | number): string {
  if (typeof sig === 'string') return sig;
  return Object.entries(osConstants.signals).find(([, n]) => n === sig)?.[0] ?? `signal ${sig}`;
}
