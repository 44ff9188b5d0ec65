import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlivedError } from '../errors';
import { readFileSafeSync, type FileError } from '../fs/safe-file';

/**
 * The state directory (--state-dir) outlives the daemon and is read back
 * at every start: whoever can write to it can make root's daemon read what
 * they like (outbox entries, the lock, the sequence). So, as keepalived
 * checks the path of every script it runs as root, alived checks this one
 * before it uses it:
 *
 * - the directory and every directory alived keeps below it are owned by
 *   this process's user (root) and writable by no one else;
 * - every directory above it is owned by root (or this user) and is either
 *   writable by no one else, or sticky (/tmp): others cannot rename or
 *   remove what is not theirs there;
 * - a symbolic link along the path is owned by root (or this user): a link
 *   another user owns could be pointed elsewhere at any time.
 *
 * A directory that fails is refused with ALIVED_DAEMON_STATE_DIR, naming the
 * path and why; `--unsafe-state-dir` uses it anyway after a warning.
 */

/** The state directory without --state-dir. */
export const DEFAULT_STATE_DIR = '/var/lib/alived';

/** The state directory of `--instance NAME` without --state-dir. */
export function instanceStateDir(name: string): string {
  return `${DEFAULT_STATE_DIR}/instance/${name}`;
}

const uid = (): number => process.geteuid?.() ?? 0;

function ownerOk(st: fs.Stats): boolean {
  return st.uid === 0 || st.uid === uid();
}

function who(st: fs.Stats): string {
  return `uid ${st.uid}`;
}

/** why `dir` is not safe to keep root's state in, or undefined when it is (it must exist) */
export function stateDirProblem(dir: string): string | undefined {
  const abs = path.resolve(dir);
  // the path as given: every symlink along it
  let at = path.parse(abs).root;
  for (const part of abs.split(path.sep).filter(Boolean)) {
    at = path.join(at, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at);
    } catch (err) {
      return `${at} cannot be examined (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    if (st.isSymbolicLink() && !ownerOk(st)) return `${at} is a symbolic link owned by ${who(st)}, who could point it elsewhere`;
  }
  // the real path: the directory itself, then every directory above it
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch (err) {
    return `${abs} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  const st = fs.statSync(real);
  if (!st.isDirectory()) return `${real} is not a directory`;
  if (st.uid !== uid()) return `${real} is owned by ${who(st)}, not by this daemon's user (uid ${uid()})`;
  if (st.mode & 0o022) return `${real} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`;
  for (let up = path.dirname(real); ; up = path.dirname(up)) {
    const s = fs.statSync(up);
    if (!ownerOk(s)) return `${up}, above it, is owned by ${who(s)}, who could replace it`;
    if (s.mode & 0o022 && !(s.mode & 0o1000))
      return `${up}, above it, is writable by ${s.mode & 0o002 ? 'everyone' : 'its group'} and not sticky (mode ${(s.mode & 0o7777).toString(8)})`;
    if (up === path.dirname(up)) break;
  }
  return undefined;
}

/**
 * Makes the state directory (mode 0700) when it is missing and checks it
 * (one that cannot be made is left to the outbox, which works in memory).
 * Throws ALIVED_DAEMON_STATE_DIR when it is unsafe and `allowUnsafe` is not
 * set; with it, calls `warn` and goes on. Returns the problem, if any.
 */
export function prepareStateDir(dir: string, opts: { allowUnsafe?: boolean; warn?: (message: string) => void } = {}): string | undefined {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    // a directory that cannot be made keeps nothing: the outbox says so and works in memory
    if (!fs.existsSync(dir)) return undefined;
  }
  const problem = stateDirProblem(dir);
  if (!problem) return undefined;
  const risk = 'another user could plant or change the files alived reads back at start (notify outbox, lock, sequence)';
  if (!opts.allowUnsafe) {
    throw new AlivedError(
      'ALIVED_DAEMON_STATE_DIR',
      `the state directory ${dir} is unsafe: ${problem}; ${risk}. Make it root's and not group/world-writable (chown root: DIR; chmod go-w DIR), use another --state-dir, or start with --unsafe-state-dir to use it anyway`,
    );
  }
  opts.warn?.(`the state directory ${dir} is unsafe: ${problem}; ${risk}. Used anyway (--unsafe-state-dir)`);
  return problem;
}

export interface ReadResult {
  readonly text?: string;
  /** why the file could not be used: missing, not a regular file, too big, unreadable */
  readonly problem?: string;
  /** ENOENT: there is no such file */
  readonly missing?: boolean;
}

/**
 * Reads a small file alived wrote itself (readFileSafeSync: never through a
 * link, never blocking on a FIFO, regular files of at most `maxBytes`
 * only), with what is wrong as words instead of an error. Never throws.
 */
export function readStateFile(file: string, maxBytes = 1 << 20): ReadResult {
  try {
    return { text: readFileSafeSync(file, { maxBytes }) };
  } catch (err) {
    const fe = err as FileError;
    return { problem: fe.reason ?? String((err as Error)?.message ?? err), ...(fe.errno === 'ENOENT' ? { missing: true } : {}) };
  }
}
