import type { TrackerState } from '../plugin/types';

/**
 * What one tracker's state does to one VRRP instance (or sync group) that
 * tracks it with a given weight, as keepalived 2.2.8 computes it
 * (vrrp_track.c, trackers/track_file.c). Every tracker follows one of two
 * rules:
 *
 * - up/down (vrrp_script, track_process, track_interface, and any tracker
 *   that reports no `value`): with weight 0, FAULT while down (while up
 *   with `reverse`). Otherwise, with m = -1 for `reverse` and 1 without,
 *   the priority moves by max(weight, 0) x m while up and by
 *   min(weight, 0) x m while down: a positive weight is added while up, a
 *   negative one added while down.
 * - a number (track_file, and any tracker that reports a `value`): with
 *   weight 0, FAULT while the number is not 0 (while it is 0 with
 *   `reverse`). Otherwise value x weight x m; at -254 or below it is FAULT,
 *   above 253 it counts as 253.
 *
 * The instance's priority is its base plus the adjustments of everything it
 * tracks, clamped to 1..254; an address owner (255) is never adjusted. A
 * tracker that has not reported yet (a script before its first result)
 * adjusts nothing; with weight 0, keepalived holds the instance in FAULT
 * (quietly, no notify) until its first result, except for a script added by
 * a reload.
 */

export interface TrackWeight {
  readonly value: number;
  readonly reverse: boolean;
}

export type TrackerEffect = { readonly fault: true } | { readonly fault: false; readonly adjust: number };

/** keepalived's fault floor for a number times a weight (process_update_vrrp_track_file_status()) */
export const TRACK_FILE_FAULT = -254;
/** the largest adjustment one tracker can make */
export const MAX_ADJUST = 253;

/** The effect of `state` with `weight`; undefined while the tracker has not reported. */
export function trackerEffect(state: TrackerState | undefined, weight: TrackWeight): TrackerEffect | undefined {
  if (!state) return undefined;
  const m = weight.reverse ? -1 : 1;
  const w = weight.value;
  if (state.value !== undefined) {
    if (w === 0) return (state.value !== 0) !== weight.reverse ? { fault: true } : { fault: false, adjust: 0 };
    const s = state.value * w * m;
    if (s <= TRACK_FILE_FAULT) return { fault: true };
    // + 0: no -0 from a reversed 0
    return { fault: false, adjust: Math.min(s, MAX_ADJUST) + 0 };
  }
  if (w === 0) return state.up === weight.reverse ? { fault: true } : { fault: false, adjust: 0 };
  return { fault: false, adjust: (state.up ? Math.max(w, 0) : Math.min(w, 0)) * m + 0 };
}

/** The priority of an instance: base plus adjustments, clamped to 1..254; 255 (the address owner) is never adjusted. */
export function effectivePriority(base: number, adjustments: readonly number[]): number {
  if (base === 255) return 255;
  const total = adjustments.reduce((a, b) => a + b, base);
  return total < 1 ? 1 : total > 254 ? 254 : total;
}
