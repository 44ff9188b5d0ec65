import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger, Tracker, TrackerContext, TrackerState } from '../../core/sdk';
import { parseTrackedNumber, READ_BYTES } from './number';

/**
 * One track_file watched, as keepalived 2.2.8 watches it
 * (trackers/track_file.c):
 *
 * - The path is resolved at start (symbolic links, `.`, `..`): the file's
 *   real path when it exists, else its directory's real path and its name.
 *   A directory that does not exist disables the tracker ("Track file
 *   directory for X does not exist - removing").
 * - The directory is watched, not the file (inotify in keepalived, fs.watch
 *   here, which is inotify on Linux), so the file may be created, written,
 *   replaced by a rename, or deleted.
 * - The number is read when the file is written or moved in; a file deleted
 *   or moved away counts as 0; so does a file missing at start.
 *   keepalived reads on IN_CLOSE_WRITE, once the writer has closed the file;
 *   fs.watch reports each write instead, so a read waits until the file has
 *   been quiet for `settleMs` (default 50 ms): `echo 1 > file` truncates
 *   before it writes, and a read in between would see an empty file (0).
 * - init_file writes VALUE (default 0) at startup when the file does not
 *   exist, and over an existing regular file with `overwrite`; never at a
 *   reload. An existing file that is not a regular file is an error with
 *   `overwrite` (keepalived: "Cannot initialise track file X - it is not a
 *   regular file") and the tracker is disabled. keepalived 2.2.8's code
 *   writes the file even without `overwrite`; its manual page, and alived,
 *   leave an existing file alone.
 *
 * It reports { value: the number, up: not FAULT with the block's own weight }.
 */

export interface TrackFileConfig {
  name: string;
  file: string;
  weight: { value: number; reverse: boolean };
  initFile?: { value: number; overwrite: boolean };
}

export interface FileTrackerOptions {
  /** how long the file must be quiet after a change before it is read; default 50 ms */
  readonly settleMs?: number;
}

export const DEFAULT_SETTLE_MS = 50;

/** Whether `value` leaves the tracker out of FAULT with the block's own weight (keepalived's status > -254). */
export function fileUp(value: number, weight: { value: number; reverse: boolean }): boolean {
  if (weight.value === 0) return weight.reverse ? value !== 0 : value === 0;
  return value * weight.value * (weight.reverse ? -1 : 1) > -254;
}

/** The real path to watch: the file's when it exists, else its directory's plus its name; a string says why there is none. */
export function resolveTrackedPath(file: string): { path: string; exists: boolean } | string {
  try {
    return { path: fs.realpathSync(file), exists: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `track file ${file} is not accessible (${(err as NodeJS.ErrnoException).code}) - ignoring`;
  }
  const dir = path.dirname(file);
  try {
    const real = fs.realpathSync(dir);
    if (!fs.statSync(real).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    return { path: path.join(real, path.basename(file)), exists: false };
  } catch {
    return `Track file directory ${dir} does not exist - removing`;
  }
}

/** keepalived's init_file at startup; a string says why the tracker cannot run. */
export function initTrackFile(file: string, init: { value: number; overwrite: boolean }, log: Logger): string | undefined {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    st = undefined;
  }
  if (st && !init.overwrite) return undefined;
  if (st && !st.isFile()) return `Cannot initialise track file ${file} - it is not a regular file`;
  try {
    fs.writeFileSync(file, `${init.value}\n`);
    log.info({ file, value: init.value }, `Track file ${file} initialised to ${init.value}`);
  } catch (err) {
    log.error({ file, err }, `Unable to initialise track file ${file}: ${(err as Error).message}`);
  }
  return undefined;
}

/** The number in the file now: 0 when it is missing or empty; undefined when it is not a valid number (keep the last). */
function readNumber(file: string, log: Logger): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    // keepalived: a file it cannot open counts as 0
    return 0;
  }
  let text = '';
  try {
    const buf = Buffer.alloc(READ_BYTES);
    const n = fs.readSync(fd, buf, 0, READ_BYTES, 0);
    text = buf.toString('latin1', 0, n);
  } catch {
    text = '';
  } finally {
    fs.closeSync(fd);
  }
  const r = parseTrackedNumber(text);
  if ('invalid' in r) {
    log.info({ file, read: r.invalid }, `Invalid number ${r.invalid} read from ${file} - ignoring`);
    return undefined;
  }
  return r.value;
}

export function createFileTracker(config: TrackFileConfig, ctx: TrackerContext, opts: FileTrackerOptions = {}): Tracker {
  const log = ctx.log;
  const settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  let watcher: fs.FSWatcher | undefined;
  let settle: NodeJS.Timeout | undefined;
  let stopped = false;
  let value = 0;
  let report: (s: TrackerState) => void = () => {};
  let file = config.file;
  let base = path.basename(file);

  function publish(v: number): void {
    value = v;
    report({ up: fileUp(v, config.weight), value: v });
  }

  function readNow(): void {
    settle = undefined;
    if (stopped) return;
    const v = readNumber(file, log);
    if (v === undefined || v === value) return;
    log.info({ file, value: v }, `Track file ${config.name} (${file}) now ${v}`);
    publish(v);
  }

  function changed(_event: string, filename: string | Buffer | null): void {
    if (stopped) return;
    // no name: the kernel's queue overflowed or the platform gives none; read to be sure
    if (filename !== null && filename.toString() !== base) return;
    if (settle) clearTimeout(settle);
    settle = setTimeout(readNow, settleMs);
  }

  return {
    start(r) {
      report = r;
      if (config.initFile && !ctx.reload) {
        const why = initTrackFile(config.file, config.initFile, log);
        if (why) {
          stopped = true;
          ctx.disable(why);
          return;
        }
      }
      const where = resolveTrackedPath(config.file);
      if (typeof where === 'string') {
        stopped = true;
        ctx.disable(where);
        return;
      }
      file = where.path;
      base = path.basename(file);
      try {
        watcher = fs.watch(path.dirname(file), { persistent: false }, changed);
        watcher.on('error', (err) => {
          log.error({ file, err }, `Track file ${config.name}: watching ${path.dirname(file)} failed (${err.message}); its value stays ${value}`);
        });
      } catch (err) {
        log.error({ file, err }, `Track file ${config.name}: cannot watch ${path.dirname(file)}: ${(err as Error).message}; its value stays as read now`);
      }
      // a file missing at start is 0 (keepalived reads only a file that exists)
      const v = where.exists ? readNumber(file, log) : 0;
      publish(v ?? 0);
    },
    stop() {
      stopped = true;
      if (settle) clearTimeout(settle);
      settle = undefined;
      watcher?.close();
      watcher = undefined;
    },
  };
}
