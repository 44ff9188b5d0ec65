import * as fs from 'node:fs';

/**
 * Reading /proc: one process's name, parent, state and command line, and
 * the list of processes. Every read is a single open/read/close of a small
 * file with a reused buffer: process tracking reads these for thousands of
 * processes. Shared by track_process and the check presets (a helper
 * module, not a plugin).
 */

export interface ProcStat {
  /** /proc/PID/comm: at most 15 characters */
  readonly comm: string;
  readonly ppid: number;
  /** R, S, D, Z, T, ... */
  readonly state: string;
  /** clock ticks after boot the process started: with the pid, an identity that survives pid reuse */
  readonly start: number;
}

const buf = Buffer.alloc(4096);

/** Reads up to `max` bytes of a /proc file; undefined when it cannot be read (the process is gone). */
export function readProcFile(path: string, max = buf.length): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const into = max <= buf.length ? buf : Buffer.alloc(max);
    const n = fs.readSync(fd, into, 0, max, 0);
    return Buffer.from(into.subarray(0, n));
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** /proc/PID/stat: `pid (comm) state ppid ...`; the comm may hold spaces and parentheses, so it ends at the last ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  const ppid = Number(rest[1]);
  const start = Number(rest[19]);
  if (!Number.isInteger(ppid)) return undefined;
  return { comm: text.slice(open + 1, close), state: rest[0] ?? '', ppid, start: Number.isFinite(start) ? start : 0 };
}

export function readStat(pid: number): ProcStat | undefined {
  const b = readProcFile(`/proc/${pid}/stat`, 1024);
  return b ? parseStat(b.toString('latin1')) : undefined;
}

/** /proc/PID/cmdline as the kernel gives it: the arguments, each ended by a NUL; undefined when gone. */
export function readCmdline(pid: number, max = 4096): Buffer | undefined {
  return readProcFile(`/proc/${pid}/cmdline`, max);
}

/** The pids /proc lists now (processes, not threads). */
export function listPids(): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c < 49 || c > 57) continue;
    const pid = Number(n);
    if (Number.isInteger(pid)) out.push(pid);
  }
  return out;
}

let ownNetns: string | undefined;

/** The network namespace of a process (`net:[4026531840]`); undefined when gone or not readable. */
export function netnsOf(pid: number | 'self'): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Whether the process runs in alived's own network namespace. */
export function inOwnNetns(pid: number): boolean {
  ownNetns ??= netnsOf('self');
  return ownNetns !== undefined && netnsOf(pid) === ownNetns;
}

/** The words of a command line (NUL-separated), without the empty tail. */
export function cmdlineWords(b: Buffer): string[] {
  const s = b.toString('utf8');
  const words = s.split('\0');
  if (words.length > 0 && words[words.length - 1] === '') words.pop();
  return words;
}
