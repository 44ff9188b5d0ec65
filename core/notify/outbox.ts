import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlivedError } from '../errors';
import type { Logger } from '../log/logger';
import type { NotifyEvent } from '../plugin/events';
import { acquireOutboxLock, type AcquiredLock } from './outbox-lock';

/**
 * The on-disk outbox of the notifier pipeline: one file per accepted event
 * and notifier, `<state-dir>/notify/outbox/<notifier>/<sequence>-<id>.json`,
 * written (to a temporary name, synced, renamed) when the event is accepted
 * and removed once it is delivered, has failed for good or has expired. What
 * is there when alived starts was accepted before a crash or a stop and is
 * delivered then. The sequence number is reserved on disk in blocks, so that
 * it keeps increasing across restarts without a write per event.
 *
 * One daemon at a time: open() takes `<state-dir>/notify/lock`
 * (outbox-lock.ts) and throws ALIVED_NOTIFY_OUTBOX_LOCKED when another live
 * alived holds it; close() gives it back.
 */

export interface OutboxEntry {
  readonly v: 1;
  /** the idempotency key */
  readonly id: string;
  readonly sequence: number;
  /** the notifier: `smtp_alert:keepalived`, `webhook:ops` */
  readonly sink: string;
  readonly source: string;
  readonly acceptedAt: number;
  readonly event: NotifyEvent;
}

const SEQUENCE_BLOCK = 1000;
const FILE_RE = /^(\d{1,16})-([0-9a-f-]{36})\.json$/;

export class Outbox {
  readonly dir: string | undefined;
  private readonly log: Logger;
  private next = 1;
  private reservedUntil = 0;
  /** false when the directory could not be made: the pipeline goes on in memory */
  private usable: boolean;
  private saidBroken = false;
  private lock: AcquiredLock | undefined;

  constructor(opts: { stateDir: string | undefined; log: Logger }) {
    this.dir = opts.stateDir ? path.join(opts.stateDir, 'notify') : undefined;
    this.log = opts.log;
    this.usable = this.dir !== undefined;
  }

  get durable(): boolean {
    return this.usable;
  }

  /**
   * Creates the directory, takes its lock, reads the sequence and every
   * entry left. Throws only ALIVED_NOTIFY_OUTBOX_LOCKED (another live alived
   * uses the directory); any other trouble leaves the outbox in memory.
   */
  open(): OutboxEntry[] {
    if (!this.dir) return [];
    const entries: OutboxEntry[] = [];
    try {
      fs.mkdirSync(path.join(this.dir, 'outbox'), { recursive: true, mode: 0o700 });
    } catch (err) {
      this.usable = false;
      this.broken(err, `cannot create the notify outbox ${this.dir}`);
      return [];
    }
    try {
      this.lock = acquireOutboxLock(this.dir);
    } catch (err) {
      // without the lock the directory may be another daemon's: nothing is written there
      this.usable = false;
      if (isAlivedError(err, 'ALIVED_NOTIFY_OUTBOX_LOCKED')) throw err;
      this.broken(err, `cannot take the lock of the notify outbox ${this.dir}`);
      return [];
    }
    const from = this.lock.tookOverFrom;
    if (from) {
      this.log.warn({ outbox: this.dir, pid: from.pid }, `notify outbox ${this.dir}: took over the lock left by pid ${from.pid}, which is not running any more`);
    }
    try {
      const n = Number(fs.readFileSync(path.join(this.dir, 'sequence'), 'utf8').trim());
      if (Number.isSafeInteger(n) && n > 0) this.next = n;
    } catch {
      // first start
    }
    const box = path.join(this.dir, 'outbox');
    for (const sinkDir of safeReaddir(box)) {
      const dir = path.join(box, sinkDir);
      for (const f of safeReaddir(dir)) {
        const file = path.join(dir, f);
        if (f.endsWith('.tmp')) {
          // a write a crash interrupted: the event was never accepted
          fs.rmSync(file, { force: true });
          continue;
        }
        if (!FILE_RE.test(f)) continue;
        try {
          const e = JSON.parse(fs.readFileSync(file, 'utf8')) as OutboxEntry;
          if (e?.v !== 1 || typeof e.id !== 'string' || typeof e.sequence !== 'number' || typeof e.sink !== 'string' || typeof e.event?.type !== 'string') throw new Error('not an outbox entry');
          entries.push(e);
          if (e.sequence >= this.next) this.next = e.sequence + 1;
        } catch (err) {
          this.log.error({ code: 'ALIVED_NOTIFY_OUTBOX', file, err }, `notify outbox: ${file} cannot be read (${(err as Error).message}); moved aside as ${f}.bad`);
          try {
            fs.renameSync(file, `${file}.bad`);
          } catch {
            // left as it is
          }
        }
      }
    }
    this.reserve();
    return entries.sort((a, b) => a.sequence - b.sequence);
  }

  /** The next sequence number (reserving a block on disk when the last one is used up). */
  sequence(): number {
    const n = this.next++;
    if (this.next > this.reservedUntil) this.reserve();
    return n;
  }

  private reserve(): void {
    this.reservedUntil = this.next + SEQUENCE_BLOCK;
    if (!this.usable || !this.dir) return;
    try {
      // synchronous and rare (once per SEQUENCE_BLOCK events): the number must be on disk before it is used
      const tmp = path.join(this.dir, 'sequence.tmp');
      fs.writeFileSync(tmp, `${this.reservedUntil}\n`);
      fs.renameSync(tmp, path.join(this.dir, 'sequence'));
    } catch (err) {
      this.broken(err, `cannot write ${path.join(this.dir, 'sequence')}`);
    }
  }

  /** Writes an entry; resolves once it is on disk (or at once without an outbox). Never rejects. */
  async put(e: OutboxEntry): Promise<void> {
    if (!this.usable) return;
    const file = this.fileOf(e);
    const tmp = `${file}.tmp`;
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const fh = await fs.promises.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(e));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
    } catch (err) {
      this.broken(err, `cannot write ${file}: the notification is kept in memory only`);
    }
  }

  /** Removes an entry (delivered, failed for good, expired). Never rejects. */
  async remove(e: OutboxEntry): Promise<void> {
    if (!this.usable) return;
    try {
      await fs.promises.rm(this.fileOf(e), { force: true });
    } catch (err) {
      this.broken(err, `cannot remove ${this.fileOf(e)}`);
    }
  }

  /** Gives the directory's lock back (at stop, once nothing more is written). */
  close(): void {
    this.lock?.release();
    this.lock = undefined;
  }

  private fileOf(e: OutboxEntry): string {
    return path.join(this.dir!, 'outbox', encodeURIComponent(e.sink), `${String(e.sequence).padStart(12, '0')}-${e.id}.json`);
  }

  private broken(err: unknown, message: string): void {
    if (this.saidBroken) return;
    this.saidBroken = true;
    this.log.error({ code: 'ALIVED_NOTIFY_OUTBOX', err }, `notify outbox: ${message} (${(err as Error)?.message ?? String(err)})`);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}
