import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';

/**
 * Runs one MISC_CHECK script as keepalived's system_call_script() does: in
 * a process group of its own, so that a timeout kills the script and
 * everything it started; SIGTERM first, SIGKILL 2 seconds later
 * (misc_check_child_thread()). The result arrives as soon as the script
 * exits, times out or the signal aborts; killing goes on in the background,
 * bounded, and the exit is always reaped (no zombie).
 */

export interface RunSpec {
  readonly argv: readonly string[];
  /** numeric ids to run as; undefined: alived's own */
  readonly uid?: number;
  readonly gid?: number;
  /** milliseconds before the script is killed; undefined: only the signal stops it */
  readonly timeoutMs?: number;
  readonly signal: AbortSignal;
}

export type RunOutcome =
  | { readonly kind: 'exit'; readonly code: number; readonly stderr: string }
  | { readonly kind: 'signal'; readonly signal: string; readonly stderr: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'error'; readonly error: NodeJS.ErrnoException };

/** keepalived waits 2 s between SIGTERM and SIGKILL of the group */
export const KILL_GRACE_MS = 2000;

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
        this.running.delete(child);
        settle({ kind: 'error', error: err as NodeJS.ErrnoException });
      });
      child.once('exit', (code, sig) => {
        this.running.delete(child);
        if (escalate) clearTimeout(escalate);
        // a background child of the script may hold stderr open: the exit is what counts
        child.stderr?.destroy();
        // what the script started and left behind dies with it once alived has had to kill it
        if (killing) killGroup(child, 'SIGKILL');
        if (code !== null) settle({ kind: 'exit', code, stderr: stderr.trim() });
        else settle({ kind: 'signal', signal: sig ?? 'unknown', stderr: stderr.trim() });
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

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // ESRCH: the group is gone already
  }
}

/** `SIGSEGV` for 11 */
export function signalName(sig: string | number): string {
  if (typeof sig === 'string') return sig;
  return Object.entries(osConstants.signals).find(([, n]) => n === sig)?.[0] ?? `signal ${sig}`;
}

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
}

/** `getent DATABASE KEY`: the user and group databases through NSS, as getpwnam() sees them (LDAP, sssd included). */
function getent(database: 'passwd' | 'group', key: string): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    execFile('getent', [database, key], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      const line = stdout.split('\n')[0];
      resolve(line ? line.split(':') : undefined);
    });
  });
}

/**
 * A user (and group) as the `user` keyword and script_user give them: names
 * or numbers. Without a group, the user's primary group (set_uid_gid()).
 */
export async function resolveUser(user: string, group: string | undefined): Promise<ResolvedUser | string> {
  const pw = await getent('passwd', user);
  if (!pw) return `user '${user}' does not exist`;
  const uid = Number(pw[2]);
  let gid = Number(pw[3]);
  if (group !== undefined) {
    const gr = await getent('group', group);
    if (!gr) return `group '${group}' does not exist`;
    gid = Number(gr[2]);
  }
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return `user '${user}' has no numeric uid/gid in the user database`;
  return { uid, gid };
}
