import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlivedError } from '../errors';
import { readStateFile } from '../daemon/state-dir';

/**
 * The lock of a notify outbox: one alived at a time delivers what a state
 * directory holds, or two daemons sharing a --state-dir would both send
 * every alert. The lock is a file, `<dir>/lock`, created exclusively
 * (link(2) of a complete temporary file, so no reader ever sees it half
 * written), holding the owner's pid, the boot it runs in and its start time
 * (/proc/PID/stat), so that a pid reused by another process after a crash
 * or a reboot does not look like a live owner.
 *
 * A lock whose owner is dead (or is another process with the same pid) is
 * taken over; a live owner makes acquire() throw ALIVED_NOTIFY_OUTBOX_LOCKED,
 * naming the directory and the pid. A lock held by this very process (an
 * embedder opening the outbox again) is taken over too.
 */

export interface LockOwner {
  readonly pid: number;
  /** /proc/sys/kernel/random/boot_id when it was taken */
  readonly boot?: string;
  /** field 22 of /proc/PID/stat: clock ticks after boot */
  readonly start?: string;
}

export interface AcquiredLock {
  readonly file: string;
  /** the owner whose stale lock was taken over, if any */
  readonly tookOverFrom?: LockOwner;
  /** removes the lock if it is still this process's; never throws */
  release(): void;
}

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** field 22 of /proc/PID/stat (the process's start time), or undefined when there is no such process */
export function processStartTime(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // the command name (field 2) may hold spaces and parentheses: count from the last ')'
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** this process as a lock file records it */
export function selfOwner(): LockOwner {
  return { pid: process.pid, boot: readOr(BOOT_ID)?.trim(), start: processStartTime(process.pid) };
}

export function formatOwner(o: LockOwner): string {
  return `${o.pid}\n${o.boot ?? '-'} ${o.start ?? '-'}\n`;
}

export function parseOwner(text: string): LockOwner | undefined {
  const [first, second] = text.split('\n');
  const pid = Number(first);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const [boot, start] = (second ?? '').trim().split(' ');
  return { pid, ...(boot && boot !== '-' ? { boot } : {}), ...(start && start !== '-' ? { start } : {}) };
}

/** whether a process with this pid exists (EPERM: it does, as another user's) */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process a lock names is still the one that took it. alived
 * records the boot and the start time in every lock it writes: a lock
 * without them (garbage that happens to start with a number) names no
 * owner, however live the pid.
 */
export function ownerAlive(o: LockOwner): boolean {
  if (!o.boot || !o.start || !processExists(o.pid)) return false;
  if (o.boot !== readOr(BOOT_ID)?.trim()) return false;
  const now = processStartTime(o.pid);
  return now === undefined || now === o.start;
}

const same = (a: LockOwner | undefined, b: LockOwner | undefined): boolean =>
  a !== undefined && b !== undefined && a.pid === b.pid && a.boot === b.boot && a.start === b.start;

function liveOwnerError(dir: string, file: string, owner: LockOwner): AlivedError {
  return new AlivedError(
    'ALIVED_NOTIFY_OUTBOX_LOCKED',
    `the notify outbox ${dir} is in use by another alived (pid ${owner.pid}, lock ${file}): two daemons sharing a --state-dir would both deliver the same alerts; stop that one, or give this one another --state-dir`,
  );
}

/**
 * Takes `<dir>/lock`. Throws ALIVED_NOTIFY_OUTBOX_LOCKED when a live
 * process holds it. A lock that is not a regular file (a directory, a FIFO,
 * a link) is moved aside, said through `warn`. Other errors (a read-only or
 * full directory) are thrown as they come, once it is known that no live
 * alived holds the lock, for the caller to decide.
 */
export function acquireOutboxLock(dir: string, warn: (message: string) => void = () => undefined): AcquiredLock {
  const file = path.join(dir, 'lock');
  const me = selfOwner();
  const tmp = path.join(dir, `lock.${process.pid}.tmp`);
  try {
    fs.rmSync(tmp, { force: true, recursive: true });
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
    try {
      fs.writeSync(fd, formatOwner(me));
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    // this process cannot write a lock (a full disk): it must still not run beside a live owner
    const held = readStateFile(file, 4096).text;
    const owner = held === undefined ? undefined : parseOwner(held);
    if (owner && owner.pid !== process.pid && ownerAlive(owner)) throw liveOwnerError(dir, file, owner);
    throw err;
  }
  let tookOverFrom: LockOwner | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return lockOf(file, me, tookOverFrom);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const r = readStateFile(file, 4096);
      if (r.missing) continue; // removed meanwhile: try again
      if (r.text === undefined) {
        // not a lock alived wrote: out of the way, and say so
        const aside = `${file}.bad.${Date.now()}.${process.pid}.${attempt}`;
        try {
          fs.renameSync(file, aside);
        } catch (err) {
          throw new AlivedError(
            'ALIVED_NOTIFY_OUTBOX',
            `the lock ${file} of the notify outbox cannot be used (${r.problem}) and cannot be moved aside (${(err as Error).message}); remove it`,
          );
        }
        warn(`the lock ${file} could not be used (${r.problem}); moved aside as ${path.basename(aside)}`);
        continue;
      }
      const text = r.text;
      const owner = parseOwner(text);
      if (owner && owner.pid !== process.pid && ownerAlive(owner)) throw liveOwnerError(dir, file, owner);
      // stale (dead owner, unreadable, or this process): move it aside, and make sure it was that one
      const aside = `${file}.stale.${process.pid}.${attempt}`;
      try {
        fs.renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = readStateFile(aside, 4096).text;
      if (moved === text) {
        tookOverFrom = owner;
        fs.rmSync(aside, { force: true });
        continue;
      }
      // another daemon took the stale lock between the read and the rename: give its lock back
      try {
        fs.linkSync(aside, file);
      } catch {
        // a third one holds it now; the next round reads it
      }
      fs.rmSync(aside, { force: true });
    }
    throw new AlivedError('ALIVED_NOTIFY_OUTBOX_LOCKED', `cannot take the lock ${file} of the notify outbox ${dir}: it keeps changing hands`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function lockOf(file: string, me: LockOwner, tookOverFrom: LockOwner | undefined): AcquiredLock {
  let released = false;
  return {
    file,
    ...(tookOverFrom ? { tookOverFrom } : {}),
    release(): void {
      if (released) return;
      released = true;
      const text = readStateFile(file, 4096).text;
      if (text !== undefined && same(parseOwner(text), me)) fs.rmSync(file, { force: true });
    },
  };
}
