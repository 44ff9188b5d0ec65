import type { InstanceSettings } from './settings';

/**
 * How tracked objects move an instance's priority or put it in FAULT, as
 * keepalived 2.2.8 computes it (vrrp_track.c), evaluated afresh from the
 * current states instead of by keepalived's increments (the result is the
 * same):
 *
 * - a tracker with a weight W and multiplier M (-1 with `reverse`, else 1):
 *   while up it adds W x M if W > 0; while down it adds W x M if W < 0;
 * - with weight 0 it puts the instance in FAULT while down (while up with
 *   reverse);
 * - a tracker that reports a number (track_file) adds value x W x M, capped
 *   at 253; -254 or less is FAULT; with weight 0 a non-zero number is FAULT
 *   (a zero one with reverse);
 * - a weight-0 tracker that has not reported yet holds the instance in INIT
 *   (keepalived's num_script_init), weighted ones add nothing until they
 *   report;
 * - the priority is base + the sum, kept within 1..254; an address owner
 *   (255) is never adjusted.
 */

export interface TrackedState {
  up: boolean;
  /** a number the tracker reports (track_file's) */
  value?: number;
  /** the tracker cannot run (a refused script, a missing user): tracked as if it were not referenced, as keepalived does */
  disabled?: boolean;
}

export interface TrackingVerdict {
  /** the effective priority */
  priority: number;
  /** why the instance is in FAULT (the first reason); undefined when it is not */
  fault?: string;
  /** weight-0 trackers that have not reported yet: the instance waits in INIT */
  waiting: string[];
}

/** the key of a tracker's state: `vrrp_script chk_nginx` */
export function trackerKey(type: string, name: string): string {
  return `${type} ${name}`;
}

export const MIN_PRIORITY = 1;
export const MAX_TRACKED_PRIORITY = 254;
const FILE_FAULT = -254;
const FILE_CAP = 253;

export function evaluateTracking(
  s: Pick<InstanceSettings, 'priority' | 'tracks' | 'trackInterfaces'>,
  states: ReadonlyMap<string, TrackedState>,
  linkUp: (ifname: string) => boolean,
): TrackingVerdict {
  let total = s.priority;
  let fault: string | undefined;
  const waiting: string[] = [];
  for (const t of s.tracks) {
    const st = states.get(trackerKey(t.type, t.name));
    const m = t.reverse ? -1 : 1;
    if (!st) {
      if (t.weight === 0) waiting.push(`${t.type} ${t.name}`);
      continue;
    }
    if (st.disabled) continue;
    if (typeof st.value === 'number') {
      const status = t.weight === 0 ? ((st.value !== 0) === (m === 1) ? FILE_FAULT : 0) : st.value * t.weight * m;
      if (status <= FILE_FAULT) fault ??= `tracked ${t.type} ${t.name} has status ${status}`;
      else total += Math.min(status, FILE_CAP);
      continue;
    }
    if (t.weight === 0) {
      if (st.up !== (m === 1)) fault ??= `${t.type} ${t.name} ${st.up ? 'succeeded (reverse)' : 'failed'}`;
      continue;
    }
    if (st.up ? t.weight > 0 : t.weight < 0) total += t.weight * m;
  }
  for (const t of s.trackInterfaces) {
    const up = linkUp(t.ifname);
    const m = t.reverse ? -1 : 1;
    if (t.weight === 0) {
      if (up !== (m === 1)) fault ??= `tracked interface ${t.ifname} ${up ? 'up (reverse)' : 'down'}`;
      continue;
    }
    if (up ? t.weight > 0 : t.weight < 0) total += t.weight * m;
  }
  const priority = s.priority === 255 ? 255 : Math.max(MIN_PRIORITY, Math.min(MAX_TRACKED_PRIORITY, total));
  return { priority, ...(fault !== undefined ? { fault } : {}), waiting };
}
