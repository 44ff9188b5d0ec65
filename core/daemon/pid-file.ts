import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlivedError, isAlivedError } from '../errors';
import { createFileExclusiveSync, FileError, readFileSafeSync, systemErrorText } from '../fs/safe-file';
import { processExists as alive } from '../notify/outbox-lock';

/** a pid and a newline; anything longer is not a pid file */
const MAX_PID_FILE = 64;

export interface PidFileOptions {
  /** told when something that is not a pid file (a FIFO, a symlink, another user's file) stood in the way and was removed */
  warn?: (message: string) => void;
}

/**
 * Writes this process's pid, refusing when another live alived holds the
 * file; a file left by a dead process is taken over. The file appears whole
 * (a private temporary file linked into place, never through a symlink), and
 * is read back without following a symlink or blocking on a FIFO: such an
 * entry, or a file another user owns, is not a pid file alived wrote and is
 * removed. Every error is ALIVED_DAEMON_PID_FILE and names the file.
 */
export function acquirePidFile(file: string, opts: PidFileOptions = {}): () => void {
  const error = (why: string, cause?: unknown): AlivedError => new AlivedError('ALIVED_DAEMON_PID_FILE', `cannot write pid file ${file}: ${why}`, { cause });
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw error(`cannot create its directory ${dir}: ${systemErrorText(err)}`, err);
  }
  const remove = (): void => {
    try {
      fs.unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw error(`cannot remove the stale one: ${systemErrorText(err)}`, err);
    }
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      if (createFileExclusiveSync(file, `${process.pid}\n`, { mode: 0o644 })) return () => release(file);
    } catch (err) {
      throw error((err as FileError).reason ?? (err as Error).message, err);
    }
    let text: string;
    try {
      text = readFileSafeSync(file, { maxBytes: MAX_PID_FILE, ownedBySelf: true });
    } catch (err) {
      const e = err as FileError;
      if (e.errno === 'ENOENT') continue;
      if (!isAlivedError(err, 'ALIVED_FILE_UNSAFE')) throw error(`cannot read the one there: ${e.reason ?? e.message}`, err);
      remove();
      opts.warn?.(`pid file ${file}: ${e.reason}; not a pid file alived wrote: removed`);
      continue;
    }
    const other = Number(text.trim());
    if (Number.isInteger(other) && other > 0 && other !== process.pid && alive(other)) {
      throw new AlivedError('ALIVED_DAEMON_PID_FILE', `another alived (pid ${other}) holds ${file}; stop it or use -p for another pid file`);
    }
    remove();
  }
  throw error('something keeps taking its place');
}

/** removes the pid file if it still holds this process's pid; never throws, never blocks */
function release(file: string): void {
  try {
    if (readFileSafeSync(file, { maxBytes: MAX_PID_FILE, ownedBySelf: true }).trim() === String(process.pid)) fs.unlinkSync(file);
  } catch {
    // gone, or replaced by something that is not ours: left alone
  }
}
