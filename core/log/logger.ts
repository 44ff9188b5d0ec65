import * as fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { openAppendSync } from '../fs/safe-file';
import { redactUrlSecrets } from './url-secrets';

/**
 * One root logger; context through child({ vrrp: 'VI_1' }); the object first,
 * a constant message second. The message is the stable text operators grep
 * for (`(VI_1) Entering MASTER STATE`); the object carries the details.
 * Secrets are redacted by key wherever they appear in the object, and
 * secrets inside URLs (url-secrets.ts) in every string and in the message.
 */

export type Level = 'debug' | 'info' | 'notice' | 'warn' | 'error';

const LEVEL_VALUE: Record<Level, number> = { debug: 10, info: 20, notice: 25, warn: 30, error: 40 };
/** syslog severities */
const SYSLOG_SEVERITY: Record<Level, number> = { debug: 7, info: 6, notice: 5, warn: 4, error: 3 };

export interface LogRecord {
  readonly time: number;
  readonly level: Level;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

export interface LogSink {
  write(record: LogRecord): void;
  close?(): void;
}

export interface Logger {
  debug(obj: Record<string, unknown> | string, msg?: string): void;
  info(obj: Record<string, unknown> | string, msg?: string): void;
  notice(obj: Record<string, unknown> | string, msg?: string): void;
  warn(obj: Record<string, unknown> | string, msg?: string): void;
  error(obj: Record<string, unknown> | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: Level): boolean;
}

/** Keys whose values never reach a log: keepalived's auth_pass (authPass, and ahPass for auth_type AH), SMTP passwords, webhook tokens and secrets. */
const SECRET_KEY =
  /^(auth_?pass|ah_?pass|password|passwd|pass|secret|secret_?file_?content|token|api_?key|authorization|smtp_?password|webhook_?token|hmac_?key)$/i;

export const REDACTED = '[redacted]';

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlSecrets(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const { code, errno } = value as Error & { code?: unknown; errno?: unknown };
    const stack = value.stack === undefined ? undefined : redactUrlSecrets(value.stack);
    return {
      type: value.name,
      message: redactUrlSecrets(value.message),
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof errno === 'string' ? { errno } : {}),
      stack,
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, depth + 1);
  return out;
}

class RootLogger implements Logger {
  constructor(
    private readonly sinks: LogSink[],
    private readonly minLevel: number,
    private readonly bindings: Record<string, unknown>,
  ) {}

  private emit(level: Level, obj: Record<string, unknown> | string, msg?: string): void {
    if (LEVEL_VALUE[level] < this.minLevel) return;
    const fields = typeof obj === 'string' ? {} : obj;
    const message = typeof obj === 'string' ? obj : (msg ?? '');
    const record: LogRecord = {
      time: Date.now(),
      level,
      msg: redactUrlSecrets(message),
      fields: redact({ ...this.bindings, ...fields }) as Record<string, unknown>,
    };
    for (const s of this.sinks) {
      try {
        s.write(record);
      } catch {
        // a broken sink must not take the daemon down
      }
    }
  }

  debug(obj: Record<string, unknown> | string, msg?: string): void {
    this.emit('debug', obj, msg);
  }
  info(obj: Record<string, unknown> | string, msg?: string): void {
    this.emit('info', obj, msg);
  }
  notice(obj: Record<string, unknown> | string, msg?: string): void {
    this.emit('notice', obj, msg);
  }
  warn(obj: Record<string, unknown> | string, msg?: string): void {
    this.emit('warn', obj, msg);
  }
  error(obj: Record<string, unknown> | string, msg?: string): void {
    this.emit('error', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new RootLogger(this.sinks, this.minLevel, { ...this.bindings, ...bindings });
  }
  isLevelEnabled(level: Level): boolean {
    return LEVEL_VALUE[level] >= this.minLevel;
  }
}

export function createLogger(sinks: LogSink[], level: Level = 'info', bindings: Record<string, unknown> = {}): Logger {
  return new RootLogger(sinks, LEVEL_VALUE[level], bindings);
}

/** A logger that drops everything (tests, `-t` without -l). */
export const silentLogger: Logger = createLogger([], 'error');

// ---------------------------------------------------------------------------
// sinks

function context(fields: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (k === 'err' && v && typeof v === 'object') {
      const e = v as { message?: string; code?: string };
      parts.push(`err=${JSON.stringify(e.code ? `${e.code}: ${e.message}` : e.message)}`);
      continue;
    }
    parts.push(`${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ');
}

/** Readable lines: `2026-11-21T10:00:00.000Z alived[123] INFO (VI_1) Entering MASTER STATE plugin=x` */
export function formatLine(r: LogRecord, ident: string): string {
  const ctx = context(r.fields);
  return `${new Date(r.time).toISOString()} ${ident} ${r.level.toUpperCase()} ${r.msg}${ctx ? ` ${ctx}` : ''}`;
}

export function formatJson(r: LogRecord, ident: string): string {
  return JSON.stringify({ time: new Date(r.time).toISOString(), level: r.level, ident, msg: r.msg, ...r.fields });
}

/**
 * Lines to a stream (the console: stderr). With `levelPrefix`, every line
 * starts with its syslog severity as `<N>` (sd-daemon(3)): journald reads
 * the prefix as the entry's priority and strips it, so a line that spans
 * several lines carries it on each.
 */
export function streamSink(stream: NodeJS.WritableStream, format: 'text' | 'json', ident: string, opts: { levelPrefix?: boolean } = {}): LogSink {
  return {
    write: (r) => {
      const line = format === 'json' ? formatJson(r, ident) : formatLine(r, ident);
      if (!opts.levelPrefix) stream.write(line + '\n');
      else {
        const prefix = `<${SYSLOG_SEVERITY[r.level]}>`;
        stream.write(prefix + line.replace(/\n/g, `\n${prefix}`) + '\n');
      }
    },
  };
}

/**
 * Whether file descriptor `fd` (stderr) is the stream systemd connected to
 * the journal: $JOURNAL_STREAM holds that stream's `device:inode`, and a
 * service whose stderr was redirected elsewhere keeps the variable, so the
 * descriptor itself is compared (sd-daemon(3)).
 */
export function isJournalStream(fd = 2, env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^([0-9]+):([0-9]+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

/**
 * Appends to a file (keepalived's -g); the file is opened once and reopened by
 * `reopen()` (log rotation). It is opened the safe way (core/fs/safe-file.ts):
 * created 0640, never through a symlink, never blocking on a FIFO; a FIFO, a
 * symlink, a device, a hard link or another user's file is refused with a
 * FileError (ALIVED_FILE_UNSAFE) naming the file and what it is. A refused
 * reopen leaves the sink closed: it writes nothing until a reopen succeeds.
 */
export function fileSink(file: string, format: 'text' | 'json', ident: string): LogSink & { reopen(): void } {
  const open = (): number => openAppendSync(file, { mode: 0o640 });
  let fd: number | undefined = open();
  return {
    write: (r) => {
      if (fd !== undefined) fs.writeSync(fd, (format === 'json' ? formatJson(r, ident) : formatLine(r, ident)) + '\n');
    },
    reopen: () => {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
      fd = open();
    },
    close: () => {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}

export const FACILITIES: Record<string, number> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

/**
 * Syslog through util-linux logger(1), fed one line per record with its
 * priority prefix. Node has no unix datagram sockets, and logger knows
 * every syslog socket flavour. When logger or the socket is missing, the
 * sink says so once (on stderr, or to `warn`) and stays quiet.
 *
 * logger reports a missing socket on its stderr and exits; our writes meanwhile
 * fail with EPIPE, often before that text arrives. So the warning is given when
 * the child has closed, with whatever it said, never suppressed by the EPIPE.
 */
export function syslogSink(opts: { facility: number; ident: string; socket?: string; warn?: (line: string) => void }): LogSink {
  const warn = opts.warn ?? ((line: string) => void process.stderr.write(line));
  let child: ChildProcess | undefined;
  let broken = false;
  let warned = false;
  let closing = false;
  const disable = (why: string): void => {
    broken = true;
    if (warned || closing) return;
    warned = true;
    warn(`alived: syslog disabled: ${why}\n`);
  };
  const start = (): void => {
    const args = ['--prio-prefix', '-t', opts.ident, '--socket-errors=on'];
    if (opts.socket) args.push('-u', opts.socket);
    let said = '';
    child = spawn('logger', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    child.on('error', (err) => disable(`cannot run logger(1): ${err.message}`));
    child.stderr?.on('data', (d: Buffer) => {
      if (said.length < 4096) said += d.toString();
    });
    child.on('close', (code, signal) => disable(said.trim() || `logger(1) ended (${signal ?? `exit code ${code}`})`));
    // EPIPE once logger has gone: no more writes; the reason comes with 'close'
    child.stdin?.on('error', () => {
      broken = true;
    });
    // the logger child and its pipes never keep alived's event loop alive
    child.unref();
    for (const pipe of [child.stdin, child.stderr]) (pipe as unknown as { unref?: () => void } | null)?.unref?.();
  };
  return {
    write: (r) => {
      if (broken) return;
      if (!child) start();
      const pri = opts.facility * 8 + SYSLOG_SEVERITY[r.level];
      const ctx = context(r.fields);
      child!.stdin?.write(`<${pri}>${r.msg}${ctx ? ` ${ctx}` : ''}`.replace(/\n/g, ' ') + '\n');
    },
    close: () => {
      closing = true;
      child?.stdin?.end();
    },
  };
}
