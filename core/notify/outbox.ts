import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorText, isAlivedError } from '../errors';
import type { Logger } from '../log/logger';
import { readStateFile } from '../daemon/state-dir';
import { writeFileAtomic, writeFileAtomicSync } from '../fs/safe-file';
import { acquireOutboxLock, type AcquiredLock } from './outbox-lock';
import { MAX_SEQUENCE, validateEntry, type OutboxEntry } from './outbox-entry';

export type { OutboxEntry } from './outbox-entry';

/**
 * The on-disk outbox of the notifier pipeline: one file per accepted event
 * and notifier, `<state-dir>/notify/outbox/<notifier>/<sequence>-<id>.json`,
 * written (to a temporary name, synced, renamed) when the event is accepted
 * and removed once it is delivered, has failed for good or has expired. What
 * is there when alived starts was accepted before a crash or a stop and is
 * delivered then.
 *
 * Everything read back is checked first (outbox-entry.ts): a file that is
 * not a regular file, not an entry, or an entry of an event type this
 * alived does not know is moved aside as `<file>.bad`, with one log line
 * naming it and why, and the rest is delivered.
 *
 * The sequence number is reserved on disk in blocks (`<dir>/sequence`), so
 * it keeps increasing across restarts without a write per event; at a
 * start it goes on after the highest of that file and every entry. When
 * the file cannot be replaced (a full disk), it is rewritten in place.
 *
 * A write that fails (a full disk) keeps the event in memory, where it is
 * delivered all the same; the writes are tried again every few seconds in
 * sequence order, so the outbox catches up when there is room again. Each
 * burst of failures is logged once, and its end too; the counts are in the
 * status.
 *
 * One daemon at a time: open() takes `<state-dir>/notify/lock`
 * (outbox-lock.ts) and throws ALIVED_NOTIFY_OUTBOX_LOCKED when another live
 * alived holds it. When the lock cannot be written at all (a full disk) and
 * no live alived holds it, that is reported and the outbox is used anyway;
 * close() gives the lock back.
 */

export interface OutboxStatus {
  /** writes (entries, the sequence) that failed since the start */
  readonly writeFailures: number;
  /** entries whose write failed and that are kept in memory until a retry succeeds */
  readonly unwritten: number;
  readonly lastWriteError?: string;
  /** files moved aside at the start, as not usable */
  readonly rejected: number;
  /** why the lock could not be taken, when the outbox runs without it */
  readonly lockProblem?: string;
}

const SEQUENCE_BLOCK = 1000;
/** width of the sequence file, so that it can be rewritten in place */
const SEQUENCE_WIDTH = 16;
const FILE_RE = /^(\d{1,16})-([0-9a-f-]{36})\.json$/;
const RETRY_WRITES_MS = 5000;
/** an entry is a few hundred bytes; a summary of a long flap a few hundred KB */
const MAX_ENTRY_BYTES = 4 << 20;

export class Outbox {
  readonly dir: string | undefined;
  private readonly log: Logger;
  private next = 1;
  private reservedUntil = 0;
  /** false when the directory could not be made: the pipeline goes on in memory */
  private usable: boolean;
  private lock: AcquiredLock | undefined;
  private lockProblem: string | undefined;
  private writeFailures = 0;
  private lastWriteError: string | undefined;
  /** failures of the current burst (since the last write that succeeded) */
  private burst = 0;
  private rejected = 0;
  /** entries whose write failed, by file: written again by retryWrites() */
  private readonly unwritten = new Map<string, OutboxEntry>();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: { stateDir: string | undefined; log: Logger }) {
    this.dir = opts.stateDir ? path.join(opts.stateDir, 'notify') : undefined;
    this.log = opts.log;
    this.usable = this.dir !== undefined;
  }

  get durable(): boolean {
    return this.usable;
  }

  status(): OutboxStatus {
    return {
      writeFailures: this.writeFailures,
      unwritten: this.unwritten.size,
      ...(this.lastWriteError !== undefined ? { lastWriteError: this.lastWriteError } : {}),
      rejected: this.rejected,
      ...(this.lockProblem !== undefined ? { lockProblem: this.lockProblem } : {}),
    };
  }

  /**
   * Creates the directory, takes its lock, reads the sequence and every
   * entry left. Throws only ALIVED_NOTIFY_OUTBOX_LOCKED (another live alived
   * uses the directory); any other trouble is logged and leaves the outbox
   * in memory (no directory) or without its lock (the lock cannot be written).
   */
  open(): OutboxEntry[] {
    if (!this.dir) return [];
    try {
      fs.mkdirSync(path.join(this.dir, 'outbox'), { recursive: true, mode: 0o700 });
    } catch (err) {
      this.usable = false;
      this.log.error(
        { code: 'ALIVED_NOTIFY_OUTBOX', err },
        `notify outbox: cannot create ${this.dir} (${errorText(err)}); notifications are kept in memory only`,
      );
      return [];
    }
    try {
      this.lock = acquireOutboxLock(this.dir, (m) => this.log.warn({ code: 'ALIVED_NOTIFY_OUTBOX', outbox: this.dir }, `notify outbox: ${m}`));
    } catch (err) {
      if (isAlivedError(err, 'ALIVED_NOTIFY_OUTBOX_LOCKED')) {
        this.usable = false;
        throw err;
      }
      // no live alived holds it (acquire checks that first): the events still go, and are still kept
      this.lockProblem = errorText(err);
      this.log.error(
        { code: 'ALIVED_NOTIFY_OUTBOX', outbox: this.dir, err },
        `notify outbox: cannot write the lock ${path.join(this.dir, 'lock')} (${this.lockProblem}); no other alived holds it, so the outbox is used without it`,
      );
    }
    const from = this.lock?.tookOverFrom;
    if (from) {
      this.log.warn(
        { outbox: this.dir, pid: from.pid },
        `notify outbox ${this.dir}: took over the lock left by pid ${from.pid}, which is not running any more`,
      );
    }
    for (const f of safeReaddir(this.dir)) if (TEMP_RE.test(f) && !f.startsWith('lock')) fs.rmSync(path.join(this.dir, f), { force: true, recursive: true });
    this.readSequence();
    const entries = this.readEntries();
    for (const e of entries) if (e.sequence >= this.next) this.next = e.sequence + 1;
    this.reserve();
    return entries.sort((a, b) => a.sequence - b.sequence);
  }

  private readSequence(): void {
    const file = path.join(this.dir!, 'sequence');
    const r = readStateFile(file, 64);
    if (r.missing) return;
    const n = r.text !== undefined && /^\s*\d{1,16}\s*$/.test(r.text) ? Number(r.text) : NaN;
    if (Number.isSafeInteger(n) && n > 0 && n <= MAX_SEQUENCE) {
      this.next = n;
      return;
    }
    const why = r.problem ?? `it holds ${JSON.stringify((r.text ?? '').slice(0, 40))}, not a number from 1 to ${MAX_SEQUENCE}`;
    this.rejected++;
    this.moveAside(file, `the sequence file ${file} cannot be used: ${why}; numbering goes on after the highest entry in the outbox`);
  }

  private readEntries(): OutboxEntry[] {
    const box = path.join(this.dir!, 'outbox');
    const entries: OutboxEntry[] = [];
    for (const sinkDir of safeReaddir(box)) {
      const dir = path.join(box, sinkDir);
      let sink: string;
      try {
        sink = decodeURIComponent(sinkDir);
      } catch {
        sink = '';
      }
      const st = lstat(dir);
      if (!st?.isDirectory() || !sink) {
        if (!sinkDir.endsWith('.bad')) {
          this.rejected++;
          this.moveAside(dir, `${dir} is not a notifier's folder (${st?.isDirectory() ? 'its name is not one alived writes' : 'not a directory'})`);
        }
        continue;
      }
      for (const f of safeReaddir(dir)) {
        const file = path.join(dir, f);
        if (TEMP_RE.test(f)) {
          // a write a crash or a full disk interrupted: the event was never accepted
          fs.rmSync(file, { force: true, recursive: true });
          continue;
        }
        const m = FILE_RE.exec(f);
        if (!m) continue;
        const r = readStateFile(file, MAX_ENTRY_BYTES);
        let why = r.problem;
        let entry: OutboxEntry | undefined;
        if (r.text !== undefined) {
          let raw: unknown;
          try {
            raw = JSON.parse(r.text);
          } catch (err) {
            why = `not JSON (${(err as Error).message})`;
          }
          if (!why) {
            const v = validateEntry(raw, { sink, sequence: Number(m[1]), id: m[2]! });
            if (typeof v === 'string') why = v;
            else entry = v;
          }
        }
        if (entry) {
          entries.push(entry);
          continue;
        }
        this.rejected++;
        this.moveAside(file, `${file} is not an entry this alived can deliver: ${why}`);
      }
    }
    return entries;
  }

  /** moves a file alived cannot use out of the way (`.bad`), with one log line */
  private moveAside(file: string, message: string): void {
    let where = `moved aside as ${path.basename(file)}.bad`;
    try {
      fs.renameSync(file, `${file}.bad`);
    } catch (err) {
      where = `left where it is: it cannot be moved aside (${errorText(err)})`;
    }
    this.log.error({ code: 'ALIVED_NOTIFY_OUTBOX', file }, `notify outbox: ${message}; ${where}`);
  }

  /** The next sequence number (reserving a block on disk when the last one is used up). */
  sequence(): number {
    const n = this.next++;
    if (this.next > this.reservedUntil) this.reserve();
    return n;
  }

  /** the number up to which this run may number: on disk before any of them is used */
  private reserve(): void {
    this.reservedUntil = this.next + SEQUENCE_BLOCK;
    if (!this.usable || !this.dir) return;
    const file = path.join(this.dir, 'sequence');
    const text = `${String(this.reservedUntil).padStart(SEQUENCE_WIDTH, '0')}\n`;
    try {
      // synchronous and rare (once per SEQUENCE_BLOCK events): the number must be on disk before it is used
      writeFileAtomicSync(file, text, { fsync: true });
      this.wrote();
    } catch (err) {
      // no room for a new file: the old one's block is still there to be rewritten
      try {
        rewriteInPlace(file, text);
        this.wrote();
      } catch {
        this.writeFailed(err, `cannot write ${file}`);
      }
    }
  }

  /** Writes an entry; resolves once it is on disk, or kept in memory for a retry. Never rejects. */
  async put(e: OutboxEntry): Promise<void> {
    if (!this.usable) return;
    const file = this.fileOf(e);
    try {
      await writeEntry(file, e);
      this.wrote();
    } catch (err) {
      this.unwritten.set(file, e);
      this.writeFailed(err, `cannot write ${file}`);
      this.scheduleRetry();
    }
  }

  /** Removes an entry (delivered, failed for good, expired). Never rejects. */
  async remove(e: OutboxEntry): Promise<void> {
    if (!this.usable) return;
    const file = this.fileOf(e);
    if (this.unwritten.delete(file)) return;
    try {
      await fs.promises.rm(file, { force: true });
    } catch (err) {
      this.log.error(
        { code: 'ALIVED_NOTIFY_OUTBOX', file, err },
        `notify outbox: cannot remove ${file} (${errorText(err)}): it would be delivered again after a restart`,
      );
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retryWrites();
    }, RETRY_WRITES_MS);
    this.retryTimer.unref?.();
  }

  /** the entries whose write failed, again, oldest first; stops at the first that fails */
  private async retryWrites(): Promise<void> {
    const todo = [...this.unwritten].sort((a, b) => a[1].sequence - b[1].sequence);
    for (const [file, e] of todo) {
      if (this.unwritten.get(file) !== e) continue; // delivered meanwhile
      try {
        await writeEntry(file, e);
      } catch (err) {
        this.writeFailed(err, `cannot write ${file}`);
        this.scheduleRetry();
        return;
      }
      // delivered while it was being written: it must not stay
      if (this.unwritten.get(file) !== e) await fs.promises.rm(file, { force: true }).catch(() => undefined);
      this.unwritten.delete(file);
    }
    this.wrote();
  }

  private wrote(): void {
    if (this.burst === 0 || this.unwritten.size > 0) return;
    this.log.notice(
      { outbox: this.dir, failures: this.burst },
      `notify outbox: writes succeed again after ${this.burst} failed; every notification accepted meanwhile is on disk`,
    );
    this.burst = 0;
  }

  private writeFailed(err: unknown, what: string): void {
    this.writeFailures++;
    this.lastWriteError = `${what}: ${errorText(err)}`;
    if (this.burst++ > 0) return;
    this.log.error(
      { code: 'ALIVED_NOTIFY_OUTBOX', outbox: this.dir, err },
      `notify outbox: ${what} (${errorText(err)}); notifications are delivered from memory and written again every ${RETRY_WRITES_MS / 1000} s until it works (further failures are counted in the status, not logged)`,
    );
  }

  /** Gives the directory's lock back (at stop, once nothing more is written). */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.lock?.release();
    this.lock = undefined;
  }

  private fileOf(e: OutboxEntry): string {
    return path.join(this.dir!, 'outbox', encodeURIComponent(e.sink), `${String(e.sequence).padStart(12, '0')}-${e.id}.json`);
  }
}

/** an entry, the safe way (writeFileAtomic: a private temporary file, synced, renamed; nothing left behind on failure) */
async function writeEntry(file: string, e: OutboxEntry): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, JSON.stringify(e), { fsync: true });
}

/** the temporary names of writeFileAtomic (`.NAME.<16 hex>`) and those of older alived versions (`NAME.tmp`) */
const TEMP_RE = /^\..+\.[0-9a-f]{16}$|\.tmp$/;

/** rewrites a regular file's bytes where they are: needs no new block when the text is no longer */
function rewriteInPlace(file: string, text: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error(`${file} is not a regular file`);
    fs.writeSync(fd, text, 0);
    fs.ftruncateSync(fd, Buffer.byteLength(text));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}
