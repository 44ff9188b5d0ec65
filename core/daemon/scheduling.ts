import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Logger } from '../log/logger';

/**
 * The SCHED_RR priority the VRRP process gets when the config sets no
 * vrrp_rt_priority (keepalived's default is normal scheduling). Without it the
 * VRRP process waits for a CPU behind whatever else runs: health checks in the
 * same daemon keep both CPUs busy in bursts (bench/vrrp-under-checks.ts:
 * advert jitter p99 11.4 ms with 10,000 TCP_CHECKs, 17.8 ms with 2,000
 * HTTP_GETs), and even on a quiet node the processes its own adverts wake
 * (a capture, a peer) preempted it in the middle of a send, by up to 4 ms
 * (bench/vrrp-load.ts, one instance at 0.1 s: p99 1.4-4.2 ms without it,
 * 1.2-2.0 with it; 200 instances at 1 s: 2.8-3.3 ms without, 1.65-1.95 with). The
 * lowest real-time priority is enough to run before every normal process and
 * stays below any real-time task an operator runs. `vrrp_rt_priority 0` turns
 * it off.
 */
export const DEFAULT_VRRP_RT_PRIORITY = 1;

export interface VrrpSchedulingInput {
  /** global_defs vrrp_priority */
  vrrpPriority?: number;
  /** global_defs vrrp_rt_priority (0: no real time) */
  vrrpRtPriority?: number;
}

/**
 * How the VRRP process is scheduled: keepalived's vrrp_priority and
 * vrrp_rt_priority as configured; without vrrp_rt_priority, real time at
 * DEFAULT_VRRP_RT_PRIORITY (`defaulted`); `vrrp_rt_priority 0` (an alived
 * extension) keeps normal scheduling.
 */
export function vrrpScheduling(g: VrrpSchedulingInput | undefined): Scheduling & { defaulted: boolean } {
  const s: Scheduling & { defaulted: boolean } = { defaulted: false };
  if (g?.vrrpPriority !== undefined) s.nice = g.vrrpPriority;
  if (g?.vrrpRtPriority !== undefined) {
    if (g.vrrpRtPriority > 0) s.rtPriority = g.vrrpRtPriority;
  } else {
    s.rtPriority = DEFAULT_VRRP_RT_PRIORITY;
    s.defaulted = true;
  }
  return s;
}

export interface Scheduling {
  /** nice value (vrrp_priority / checker_priority), -20..19 */
  nice?: number;
  /** SCHED_RR priority (vrrp_rt_priority / checker_rt_priority), 1..99 */
  rtPriority?: number;
}

/**
 * keepalived's process scheduling for one of its processes: a nice value, and
 * real-time round-robin scheduling. Real time is what keeps VRRP adverts on
 * time when checks, scripts and other processes keep both CPUs busy (measured:
 * advert jitter p99 9–10 ms under 10,000 checks/s without it, under 2 ms with
 * it). Node.js cannot call sched_setscheduler(2), so alived asks chrt(1)
 * (util-linux) to do it. A failure is logged, never fatal: VRRP still runs;
 * as an error when the config asked for it, as a warning for the default.
 */
export function applyScheduling(pid: number, what: string, s: Scheduling & { defaulted?: boolean }, log: Logger): void {
  if (s.nice !== undefined) {
    try {
      // every thread: setpriority(2) and chrt -p alone change one thread on Linux, which left
      // V8's and libuv's helper threads at normal priority behind the main thread (measured in the
      // bench's watchers: main threads at SCHED_RR 50 looped 0.95 s; all threads real time, 0.1 s)
      for (const tid of threadsOf(pid)) os.setPriority(tid, s.nice);
      log.info({ pid, nice: s.nice }, `${what} (pid ${pid}) runs at nice ${s.nice}`);
    } catch (err) {
      log.error({ pid, err: (err as Error).message }, `${what} (pid ${pid}): cannot set nice ${s.nice}: ${(err as Error).message}`);
    }
  }
  if (s.rtPriority !== undefined) {
    const r = spawnSync('chrt', ['-a', '-r', '-p', String(s.rtPriority), String(pid)], { encoding: 'utf8', timeout: 5000 });
    if (r.status === 0) log.info({ pid, rtPriority: s.rtPriority }, `${what} (pid ${pid}) runs with real-time priority ${s.rtPriority} (SCHED_RR)`);
    else {
      const why = r.error
        ? (r.error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'chrt (util-linux) is not installed'
          : r.error.message
        : (r.stderr || `chrt exited ${r.status}`).trim();
      if (s.defaulted) {
        log.warn(
          { pid, rtPriority: s.rtPriority },
          `${what} (pid ${pid}): cannot set real-time priority ${s.rtPriority} (alived's default; vrrp_rt_priority 0 turns it off): ${why}`,
        );
      } else log.error({ pid, rtPriority: s.rtPriority }, `${what} (pid ${pid}): cannot set real-time priority ${s.rtPriority}: ${why}`);
    }
  }
}

/** The process's threads (its own id first); just the id when /proc cannot say (the call then reports the error). */
function threadsOf(pid: number): number[] {
  try {
    const tids = fs
      .readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .filter((t) => t !== pid);
    return [pid, ...tids];
  } catch {
    return [pid];
  }
}
