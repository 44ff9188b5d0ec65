import type { Logger } from '../log/logger';
import { nativeAddon } from './packet-socket';

interface MemoryAddon {
  /** returns how many madvise() import slots it redirected (see native/process.c) */
  lockMemory(): number;
  unlockMemory(): void;
}

let locked = false;

/**
 * vrrp_no_swap / checker_no_swap: the process's memory is locked
 * (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT), keepalived's
 * set_process_dont_swap), so a host short of memory never pages it out and
 * a takeover never waits for the disk. Node has no call for it: it is in
 * alived's addon (native/process.c), which also keeps V8 alive under it
 * (V8 aborts when the kernel refuses to discard locked pages: the addon
 * retries those as MADV_DONTNEED_LOCKED). `on` false unlocks what an earlier
 * config locked (a reload without the keyword). A failure is logged, never
 * fatal.
 */
export function setNoSwap(on: boolean, what: string, log: Logger): void {
  if (on === locked) return;
  try {
    const lib = nativeAddon() as Partial<MemoryAddon>;
    if (typeof lib.lockMemory !== 'function' || typeof lib.unlockMemory !== 'function')
      throw new Error('the addon is older than this alived: rebuild it (npm run build:native in the alived checkout)');
    if (on) {
      const slots = lib.lockMemory();
      if (slots === 0)
        log.warn({ pid: process.pid }, `${what} (pid ${process.pid}): no madvise() import to redirect was found; V8 may abort when it returns memory`);
    } else lib.unlockMemory();
    locked = on;
    log.info(
      { pid: process.pid },
      on ? `${what} (pid ${process.pid}) is locked in memory (no swap)` : `${what} (pid ${process.pid}) is no longer locked in memory`,
    );
  } catch (err) {
    log.error(
      { pid: process.pid, err: (err as Error).message },
      `${what} (pid ${process.pid}): cannot ${on ? 'lock' : 'unlock'} its memory: ${(err as Error).message}`,
    );
  }
}
