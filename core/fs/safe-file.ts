import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlivedError } from '../errors';

/**
 * Files in places other users can write (/tmp, a log directory, a pid
 * directory), written and read so that nobody can turn them against root:
 *
 * - never through a symbolic link (O_NOFOLLOW) or a hard link to another file;
 * - never open a FIFO, a socket or a device in a way that can block (O_NONBLOCK,
 *   then fstat: anything but a regular file is refused);
 * - whole files are written to a private temporary file in the target's
 *   directory (random name, O_EXCL, mode 0600 by default) and renamed over the
 *   target: rename(2) replaces whatever entry is there (a FIFO, a symlink)
 *   without opening or following it, and readers never see half a file.
 *   Keepalived fixed CVE-2018-19044 the same way.
 *
 * No call here can wait on another process: a FIFO with no reader makes an
 * open fail at once (ENXIO) instead of holding a thread forever. Every failure
 * is a FileError naming the file and the reason; a failed write leaves no
 * temporary file behind.
 */

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = fs.constants;

const TEMP_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK;
const APPEND_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK;
const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

/** what reads are capped at unless the caller says otherwise */
export const DEFAULT_MAX_READ = 1 << 20;

/**
 * ALIVED_FILE_UNSAFE: the file is refused for what it is (a symlink, a FIFO,
 * another user's file); ALIVED_FILE_FAILED: the system refused a step (`errno`).
 */
export class FileError extends AlivedError {
  constructor(
    code: 'ALIVED_FILE_UNSAFE' | 'ALIVED_FILE_FAILED',
    /** the file asked for (never the temporary name) */
    readonly file: string,
    /** why, without the file name: "it is a FIFO, not a regular file", "cannot write: ENOSPC: no space left on device" */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(code, `${file}: ${reason}`, options);
  }
}

/** "FIFO", "symbolic link", "directory", ... as an error message names it */
export function fileKind(st: fs.Stats): string {
  if (st.isFile()) return 'regular file';
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

/** "ENOSPC: no space left on device" of a system error (Node's message without its ", write '/path'" tail) */
export function systemErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== 'string') return String((e as Error)?.message ?? err);
  // "ENOSPC: no space left on device, write" -> "ENOSPC: no space left on device"
  const text = e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2).split(', ')[0] : e.message;
  return `${e.code}: ${text}`;
}

function failed(file: string, step: string, err: unknown): FileError {
  if (err instanceof FileError) return err;
  return new FileError('ALIVED_FILE_FAILED', file, `${step}: ${systemErrorText(err)}`, { cause: err });
}

function notRegular(file: string, st: fs.Stats): FileError {
  const kind = fileKind(st);
  if (st.isSymbolicLink()) {
    let to = '';
    try {
      to = ` to ${fs.readlinkSync(file)}`;
    } catch {
      // replaced meanwhile: the kind is enough
    }
    return new FileError('ALIVED_FILE_UNSAFE', file, `it is a symbolic link${to}, not a regular file (never followed)`);
  }
  return new FileError('ALIVED_FILE_UNSAFE', file, `it is a ${kind}, not a regular file`);
}

/** After an open failed: a refusal when the entry is not a regular file (ELOOP of O_NOFOLLOW, ENXIO of a FIFO without reader, EISDIR), else the system error. */
function openFailure(file: string, step: string, err: unknown): FileError {
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile()) return notRegular(file, st);
  } catch {
    // no entry: the open's own error says more
  }
  return failed(file, step, err);
}

export interface CheckOptions {
  /** refuse a file that belongs to another user than this process's effective one */
  ownedBySelf?: boolean;
  /** refuse a file with more than one name (a hard link planted to another file) */
  singleLink?: boolean;
}

function check(file: string, st: fs.Stats, opts: CheckOptions): void {
  if (!st.isFile()) throw notRegular(file, st);
  const self = process.geteuid!();
  if (opts.ownedBySelf && st.uid !== self) {
    throw new FileError('ALIVED_FILE_UNSAFE', file, `it belongs to uid ${st.uid}, not to this process's uid ${self}`);
  }
  if (opts.singleLink && st.nlink > 1) {
    throw new FileError('ALIVED_FILE_UNSAFE', file, `it has ${st.nlink} hard links (another name for the same file)`);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // the error that brought us here is the one to report
  }
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // as above
  }
}

function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(8).toString('hex')}`);
}

/** the kind of a non-regular entry at `file`, which a rename is about to replace; undefined for a regular file or nothing */
function replacedKind(st: fs.Stats | undefined): string | undefined {
  return st && !st.isFile() ? fileKind(st) : undefined;
}

export interface AtomicWriteOptions {
  /** the file's mode, exact whatever the umask; default 0600 */
  mode?: number;
  /** fsync the file before the rename and its directory after it (for state that must survive a crash) */
  fsync?: boolean;
}

export interface AtomicWriteResult {
  /** what stood at the path before, when it was not a regular file: 'FIFO', 'symbolic link', ... (replaced, never opened) */
  replaced?: string;
}

const TEMP_ATTEMPTS = 8;

/**
 * Writes `data` to `file` as a whole: a private temporary file in the same
 * directory, then rename(2) over `file`. Whatever was at `file` (a FIFO, a
 * symlink, another user's file) is replaced, never opened or followed. On
 * failure the temporary file is removed and `file` is left as it was.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<AtomicWriteResult> {
  const mode = opts.mode ?? 0o600;
  let tmp = '';
  let fh: fs.promises.FileHandle | undefined;
  let step = 'cannot create a temporary file';
  try {
    for (let attempt = 1; !fh; attempt++) {
      const name = tempName(file);
      try {
        fh = await fs.promises.open(name, TEMP_FLAGS, mode);
        tmp = name;
      } catch (err) {
        // EEXIST: someone else's file by that name, not ours to remove
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === TEMP_ATTEMPTS) throw err;
      }
    }
    step = 'cannot set the mode';
    await fh.chmod(mode);
    step = 'cannot write';
    await fh.writeFile(data);
    if (opts.fsync) {
      step = 'cannot sync';
      await fh.sync();
    }
    step = 'cannot close';
    const closing = fh;
    fh = undefined;
    await closing.close();
    const before = await fs.promises.lstat(file).catch(() => undefined);
    step = `cannot rename ${path.basename(tmp)} to it`;
    await fs.promises.rename(tmp, file);
    tmp = '';
    if (opts.fsync) {
      step = 'renamed, but cannot sync its directory';
      const dir = await fs.promises.open(path.dirname(file), O_RDONLY | O_DIRECTORY);
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
    const replaced = replacedKind(before);
    return replaced ? { replaced } : {};
  } catch (err) {
    await fh?.close().catch(() => undefined);
    if (tmp) await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw failed(file, step, err);
  }
}

/** writeFileAtomic(), synchronously (start-up, tests, files of a few bytes). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): AtomicWriteResult {
  const mode = opts.mode ?? 0o600;
  let tmp = '';
  let fd: number | undefined;
  let step = 'cannot create a temporary file';
  try {
    ({ tmp, fd } = createTempSync(file, mode));
    step = 'cannot write';
    fs.writeFileSync(fd, data);
    if (opts.fsync) {
      step = 'cannot sync';
      fs.fsyncSync(fd);
    }
    step = 'cannot close';
    const closing = fd;
    fd = undefined;
    fs.closeSync(closing);
    let before: fs.Stats | undefined;
    try {
      before = fs.lstatSync(file);
    } catch {
      // nothing there yet
    }
    step = `cannot rename ${path.basename(tmp)} to it`;
    fs.renameSync(tmp, file);
    tmp = '';
    if (opts.fsync) {
      step = 'renamed, but cannot sync its directory';
      const dir = fs.openSync(path.dirname(file), O_RDONLY | O_DIRECTORY);
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
    }
    const replaced = replacedKind(before);
    return replaced ? { replaced } : {};
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    if (tmp) removeQuietly(tmp);
    throw failed(file, step, err);
  }
}

/** An empty private file of `mode` (exact, whatever the umask) at a fresh random name beside `file`, open to write. */
function createTempSync(file: string, mode: number): { tmp: string; fd: number } {
  for (let attempt = 1; ; attempt++) {
    const tmp = tempName(file);
    let fd: number;
    try {
      fd = fs.openSync(tmp, TEMP_FLAGS, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === TEMP_ATTEMPTS) throw err;
      continue;
    }
    try {
      fs.fchmodSync(fd, mode);
    } catch (err) {
      closeQuietly(fd);
      removeQuietly(tmp);
      throw err;
    }
    return { tmp, fd };
  }
}

/**
 * Creates `file` with `data` only if nothing is at that path: a private
 * temporary file, complete, then link(2) to `file` (which never follows a
 * symlink and fails on any existing entry), so nobody ever reads it half
 * written. Returns false when something is already there.
 */
export function createFileExclusiveSync(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): boolean {
  const tmp = writeTempSync(file, data, opts.mode ?? 0o600);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw failed(file, 'cannot create', err);
  } finally {
    removeQuietly(tmp);
  }
}

function writeTempSync(file: string, data: string | Uint8Array, mode: number): string {
  let tmp = '';
  let fd: number | undefined;
  let step = 'cannot create a temporary file';
  try {
    ({ tmp, fd } = createTempSync(file, mode));
    step = 'cannot write';
    fs.writeFileSync(fd, data);
    step = 'cannot close';
    const closing = fd;
    fd = undefined;
    fs.closeSync(closing);
    return tmp;
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    if (tmp) removeQuietly(tmp);
    throw failed(file, step, err);
  }
}

export interface AppendOptions extends CheckOptions {
  /** mode of a file created by this open (less the umask); default 0640 */
  mode?: number;
}

/**
 * Opens `file` to append (created with `opts.mode`, default 0640), never
 * through a symlink and never blocking on a FIFO; anything but a regular file
 * is refused, and by default so is a file of another user or with another name
 * (hard link). Returns the descriptor.
 */
export function openAppendSync(file: string, opts: AppendOptions = {}): number {
  let fd: number;
  try {
    fd = fs.openSync(file, APPEND_FLAGS, opts.mode ?? 0o640);
  } catch (err) {
    throw openFailure(file, 'cannot open', err);
  }
  try {
    check(file, fs.fstatSync(fd), { ownedBySelf: opts.ownedBySelf ?? true, singleLink: opts.singleLink ?? true });
  } catch (err) {
    closeQuietly(fd);
    throw failed(file, 'cannot stat', err);
  }
  return fd;
}

export interface ReadOptions extends CheckOptions {
  /** larger files are refused; default 1 MiB */
  maxBytes?: number;
}

function tooLarge(file: string, max: number): FileError {
  return new FileError('ALIVED_FILE_UNSAFE', file, `it is larger than ${max} bytes`);
}

/**
 * Reads a whole text file, never through a symlink and never blocking on a
 * FIFO: anything but a regular file is refused, and so is one larger than
 * `opts.maxBytes`. A missing file is a FileError with errno ENOENT.
 */
export function readFileSafeSync(file: string, opts: ReadOptions = {}): string {
  const max = opts.maxBytes ?? DEFAULT_MAX_READ;
  let fd: number;
  try {
    fd = fs.openSync(file, READ_FLAGS);
  } catch (err) {
    throw openFailure(file, 'cannot open', err);
  }
  try {
    const st = fs.fstatSync(fd);
    check(file, st, opts);
    if (st.size > max) throw tooLarge(file, max);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(max + 1 - total, 64 * 1024));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > max) throw tooLarge(file, max);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    throw failed(file, 'cannot read', err);
  } finally {
    closeQuietly(fd);
  }
}

/** readFileSafeSync(), off the event loop. */
export async function readFileSafe(file: string, opts: ReadOptions = {}): Promise<string> {
  const max = opts.maxBytes ?? DEFAULT_MAX_READ;
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, READ_FLAGS);
  } catch (err) {
    throw openFailure(file, 'cannot open', err);
  }
  try {
    const st = await fh.stat();
    check(file, st, opts);
    if (st.size > max) throw tooLarge(file, max);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(max + 1 - total, 64 * 1024));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > max) throw tooLarge(file, max);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    throw failed(file, 'cannot read', err);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
