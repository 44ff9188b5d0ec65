import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorText } from '../errors';
import { FileError, openAppendSync, readFileSafeSync, writeFileAtomic } from '../fs/safe-file';
import type { Logger } from '../log/logger';
import type { Cause, CauseKind, Fact, TimelineEvent, TimelineKind } from './types';

/**
 * The last events (default 1,000), in memory and, with --state-dir, in
 * `<state-dir>/timeline.jsonl` so they outlive a restart.
 *
 * The file is read back at the start like every file in the state
 * directory: never through a symlink or FIFO, only a regular file of this
 * user with one name, each line checked; a file that fails, or holds a
 * line that fails, is moved aside as `timeline.jsonl.bad` with one log line
 * and the good lines are kept. Writes are appends of whole lines, in the
 * background, one at a time; a failed write (a full disk) is logged once,
 * the events stay in memory and are written with the next append that
 * succeeds. The file is rewritten (atomically) with the last events when it
 * holds twice as many as are kept, so it stays bounded.
 *
 * All of it runs in the main process: the VRRP process never waits for it.
 */

export const DEFAULT_TIMELINE_CAPACITY = 1000;
export const TIMELINE_FILE = 'timeline.jsonl';
/** a longer line is not one alived writes */
const MAX_LINE = 8192;
const MAX_TEXT = 1000;
const MAX_SUBJECT = 300;
const MAX_FACTS = 40;
const MAX_DEPTH = 8;
/** events waiting to be written after failed writes, at most */
const MAX_UNWRITTEN = 10_000;

const KINDS: ReadonlySet<TimelineKind> = new Set<TimelineKind>([
  'vrrp-transition',
  'group-transition',
  'priority',
  'tracker',
  'vip',
  'real-server',
  'quorum',
  'reload',
  'delivery',
  'delivery-failed',
  'vrrp-process',
  'daemon',
]);
const CAUSE_KINDS: ReadonlySet<CauseKind> = new Set<CauseKind>([
  'advert',
  'master-down',
  'priority',
  'tracker',
  'interface',
  'fault',
  'vip',
  'sync-group',
  'check',
  'quorum',
  'reload',
  'config',
  'start',
  'stop',
  'vrrp-process',
  'delivery',
  'other',
]);

export interface TimelineOptions {
  readonly log: Logger;
  /** how many events are kept; default 1,000 */
  readonly capacity?: number;
  /** --state-dir: the events are kept in `<stateDir>/timeline.jsonl`; none: in memory only */
  readonly stateDir?: string;
  readonly now?: () => number;
}

export type NewTimelineEvent = Omit<TimelineEvent, 'seq' | 'time'> & { readonly time?: number };

export class Timeline {
  private events: TimelineEvent[] = [];
  private seq = 0;
  private readonly capacity: number;
  private readonly file: string | undefined;
  private readonly listeners = new Set<(e: TimelineEvent) => void>();
  private fd: number | undefined;
  /** lines not yet written */
  private unwritten: string[] = [];
  private writing: Promise<void> | undefined;
  /** lines in the file now */
  private lines = 0;
  /** the last write failed: logged once until one succeeds */
  private failing = false;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: TimelineOptions) {
    this.capacity = Math.max(1, options.capacity ?? DEFAULT_TIMELINE_CAPACITY);
    this.file = options.stateDir ? path.join(options.stateDir, TIMELINE_FILE) : undefined;
    this.now = options.now ?? Date.now;
  }

  /** The file's events, when there is a file (at the start, before the first add). Never throws. */
  open(): void {
    if (!this.file) return;
    const log = this.options.log;
    let text: string | undefined;
    try {
      text = readFileSafeSync(this.file, { ownedBySelf: true, singleLink: true, maxBytes: 2 * this.capacity * MAX_LINE + MAX_LINE });
    } catch (err) {
      if (!(err instanceof FileError && err.errno === 'ENOENT')) this.setAside(`${this.file} cannot be used: ${(err as FileError).reason ?? errorText(err)}`);
    }
    if (text !== undefined) {
      const kept: TimelineEvent[] = [];
      let bad: string | undefined;
      let lineNo = 0;
      for (const line of text.split('\n')) {
        lineNo++;
        if (line === '') continue;
        const e = parseLine(line);
        if (typeof e === 'string') bad ??= `line ${lineNo}: ${e}`;
        else if (kept.length > 0 && e.seq <= kept[kept.length - 1]!.seq) bad ??= `line ${lineNo}: seq ${e.seq} does not follow ${kept[kept.length - 1]!.seq}`;
        else kept.push(e);
      }
      this.events = kept.slice(-this.capacity);
      this.seq = kept.length > 0 ? kept[kept.length - 1]!.seq : 0;
      this.lines = kept.length;
      if (bad !== undefined) {
        this.setAside(`${this.file} holds what alived does not write (${bad}); its ${kept.length} good events are kept`);
        this.lines = 0;
        // the good events go to a new file
        this.unwritten = this.events.map((e) => JSON.stringify(e));
      }
    }
    this.openFile();
    if (this.unwritten.length > 0) this.flush();
    log.debug({ file: this.file, events: this.events.length }, `timeline: ${this.events.length} events read back from ${this.file}`);
  }

  private setAside(message: string): void {
    const file = this.file!;
    let where = `moved aside as ${path.basename(file)}.bad`;
    try {
      fs.renameSync(file, `${file}.bad`);
    } catch (err) {
      where = `removed: it cannot be moved aside (${errorText(err)})`;
      try {
        fs.rmSync(file, { force: true });
      } catch {
        where = 'left where it is: it can be neither moved aside nor removed; the events are kept in memory only';
      }
    }
    this.options.log.warn({ code: 'ALIVED_STATUS_TIMELINE', file }, `${message}; ${where}`);
  }

  private openFile(): void {
    if (!this.file || this.fd !== undefined) return;
    try {
      this.fd = openAppendSync(this.file, { mode: 0o600 });
    } catch (err) {
      this.fd = undefined;
      this.writeFailed(err);
    }
  }

  /** Adds an event (seq and time given here), tells the listeners, and writes it in the background. */
  add(event: NewTimelineEvent): TimelineEvent {
    const e: TimelineEvent = {
      seq: ++this.seq,
      time: event.time ?? this.now(),
      kind: event.kind,
      subject: clip(event.subject, MAX_SUBJECT),
      before: event.before,
      after: event.after,
      cause: boundCause(event.cause, 0),
    };
    this.events.push(e);
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.options.log.error({ err }, `a timeline listener threw: ${errorText(err)}`);
      }
    }
    if (this.file && !this.closed) {
      this.unwritten.push(JSON.stringify(e));
      if (this.unwritten.length > MAX_UNWRITTEN) this.unwritten.splice(0, this.unwritten.length - MAX_UNWRITTEN);
      this.flush();
    }
    return e;
  }

  /** events with seq > since, oldest first, the newest `limit` of them */
  query(q: { readonly since?: number; readonly limit?: number } = {}): TimelineEvent[] {
    const since = q.since ?? 0;
    let i = this.events.length;
    while (i > 0 && this.events[i - 1]!.seq > since) i--;
    const out = this.events.slice(i);
    return q.limit !== undefined && out.length > q.limit ? out.slice(out.length - q.limit) : out;
  }

  subscribe(listener: (e: TimelineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.events.length;
  }

  /** what is being written and what waits, written (or failed) */
  async close(): Promise<void> {
    this.flush();
    while (this.writing) await this.writing;
    this.closed = true;
    this.listeners.clear();
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // nothing left to write through it
      }
      this.fd = undefined;
    }
  }

  private flush(): void {
    if (this.writing || this.unwritten.length === 0 || !this.file) return;
    this.writing = this.writeOnce().finally(() => {
      this.writing = undefined;
      // what was added meanwhile; after a failure, the next add tries again
      if (!this.failing) this.flush();
    });
  }

  private async writeOnce(): Promise<void> {
    if (this.lines + this.unwritten.length > 2 * this.capacity) return this.compact();
    this.openFile();
    const fd = this.fd;
    if (fd === undefined) return;
    const lines = this.unwritten;
    this.unwritten = [];
    const data = Buffer.from(lines.join('\n') + '\n');
    try {
      let off = 0;
      while (off < data.length) off += await writeSome(fd, data, off);
      this.lines += lines.length;
      this.writeOk();
    } catch (err) {
      // a partial line may be in the file: the next start sets the file aside and keeps its good lines
      this.unwritten = lines.concat(this.unwritten);
      this.writeFailed(err);
    }
  }

  /** The file rewritten with the events kept, in one rename. */
  private async compact(): Promise<void> {
    const file = this.file!;
    this.unwritten = [];
    const text = this.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    try {
      await writeFileAtomic(file, text, { mode: 0o600 });
      if (this.fd !== undefined) fs.closeSync(this.fd);
      this.fd = undefined;
      this.lines = this.events.length;
      this.openFile();
      this.writeOk();
    } catch (err) {
      this.unwritten = this.events.map((e) => JSON.stringify(e));
      this.writeFailed(err);
    }
  }

  private writeOk(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.log.notice({ code: 'ALIVED_STATUS_TIMELINE', file: this.file }, `timeline: writing ${this.file} works again`);
  }

  private writeFailed(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    const why = err instanceof FileError ? err.reason : errorText(err);
    this.options.log.error(
      { code: 'ALIVED_STATUS_TIMELINE', file: this.file, err: why },
      `timeline: cannot write ${this.file}: ${why}; the events are kept in memory and written with the next event once it can be`,
    );
  }
}

/** one write(2) of what is left of `buf` from `off`, off the event loop */
function writeSome(fd: number, buf: Buffer, off: number): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : resolve(n))));
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function boundCause(c: Cause, depth: number): Cause {
  const facts = c.facts ? Object.fromEntries(Object.entries(c.facts).slice(0, MAX_FACTS)) : undefined;
  return {
    kind: c.kind,
    text: clip(c.text, MAX_TEXT),
    ...(facts ? { facts } : {}),
    ...(c.because && depth < MAX_DEPTH ? { because: boundCause(c.because, depth + 1) } : {}),
  };
}

function isFact(v: unknown): v is Fact {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** why `v` is not a cause alived writes, or undefined */
function causeProblem(v: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return 'causes nested too deep';
  if (typeof v !== 'object' || v === null) return 'a cause that is not an object';
  const c = v as Record<string, unknown>;
  if (typeof c.kind !== 'string' || !CAUSE_KINDS.has(c.kind as CauseKind)) return `cause kind ${JSON.stringify(c.kind)}`;
  if (typeof c.text !== 'string' || c.text.length > MAX_TEXT) return 'a cause without text';
  if (c.facts !== undefined) {
    if (typeof c.facts !== 'object' || c.facts === null || Array.isArray(c.facts)) return 'cause facts that are not an object';
    const entries = Object.entries(c.facts);
    if (entries.length > MAX_FACTS || entries.some(([, f]) => !isFact(f))) return 'cause facts that are not plain values';
  }
  return c.because === undefined ? undefined : causeProblem(c.because, depth + 1);
}

/** One line of the file as an event, or why it is not one. */
export function parseLine(line: string): TimelineEvent | string {
  if (line.length > MAX_LINE) return `a line of ${line.length} characters`;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const e = v as Record<string, unknown>;
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) return 'no valid seq';
  if (typeof e.time !== 'number' || !Number.isFinite(e.time) || e.time < 0) return 'no valid time';
  if (typeof e.kind !== 'string' || !KINDS.has(e.kind as TimelineKind)) return `kind ${JSON.stringify(e.kind)}`;
  if (typeof e.subject !== 'string' || e.subject.length > MAX_SUBJECT) return 'no valid subject';
  if (!isFact(e.before) || !isFact(e.after)) return 'before or after is not a plain value';
  const why = causeProblem(e.cause, 0);
  if (why) return why;
  return { seq: e.seq as number, time: e.time, kind: e.kind as TimelineKind, subject: e.subject, before: e.before, after: e.after, cause: e.cause as Cause };
}
