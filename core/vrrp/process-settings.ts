import type { Logger } from '../log/logger';
import { setNoSwap } from './memory-lock';
import { AutoPriority, autoPrioritySettings, type AutoPrioritySettings } from './auto-priority';
import type { RealClock } from './clock';

/** What the VRRP process does to itself: global_defs vrrp_no_swap, max_auto_priority, min_auto_priority_delay. */
export interface VrrpProcessSettings {
  noSwap: boolean;
  autoPriority?: AutoPrioritySettings;
}

export function vrrpProcessSettings(
  g: { vrrpNoSwap?: boolean; maxAutoPriority?: number | true; minAutoPriorityDelay?: number } | undefined,
): VrrpProcessSettings | undefined {
  const autoPriority = autoPrioritySettings(g);
  if (!g?.vrrpNoSwap && !autoPriority) return undefined;
  return { noSwap: g?.vrrpNoSwap === true, ...(autoPriority ? { autoPriority } : {}) };
}

let auto: AutoPriority | undefined;

/**
 * In the VRRP process, at start and at each reload: locks or unlocks its
 * memory, and has its clock report late timers to the automatic priority
 * increase (or stop reporting them). A priority already raised stays, as in
 * keepalived.
 */
export function applyVrrpProcessSettings(s: VrrpProcessSettings | undefined, clock: RealClock, log: Logger): void {
  setNoSwap(s?.noSwap === true, 'the VRRP process', log);
  if (!s?.autoPriority) {
    auto = undefined;
    clock.onLate = undefined;
    return;
  }
  try {
    if (auto) auto.update(s.autoPriority);
    else auto = new AutoPriority(s.autoPriority, log);
    clock.onLate = auto.late;
  } catch (err) {
    log.error({ err: (err as Error).message }, `max_auto_priority: ${(err as Error).message}`);
  }
}
