import type { LatenessSummary } from './lateness';
import type { Logger } from '../log/logger';
import type { Clock, VrrpCounters, VrrpState } from './types';

/* What the VRRP engine (engine.ts) reports to whoever runs it, and what it is given. */

/** A state change of one instance, as the engine reports it to whoever runs it. */
export interface TransitionReport {
  instance: string;
  from: VrrpState;
  to: VrrpState;
  priority: number;
  reason: string;
  /** epoch ms */
  time: number;
  /** monotonic ms (the clock's) */
  at: number;
  /** the master last heard when it happened (the one preempted or that went silent, the one whose advert won); absent before any advert */
  master?: { address: string; priority: number };
}

/** Other things the engine tells whoever runs it (notify scripts, hooks). */
export type EngineEvent =
  | { type: 'group'; group: string; from: VrrpState | 'INIT'; to: VrrpState; reason: string; time: number }
  | { type: 'deleted'; instance: string; from: VrrpState; priority: number; time: number }
  | { type: 'priority'; instance: string; from: number; to: number; state: VrrpState; reason: string; time: number }
  /** a master heard a lower-priority advert: `priority` is ours, `advertPriority` the sender's */
  | { type: 'rxLowerPri'; instance: string; priority: number; advertPriority: number; from: string; time: number }
  /**
   * A master's VIP or virtual route was removed by someone else: put back
   * (`restored`), or it could not be (`lost`: the instance goes to FAULT).
   * `address` is `10.0.0.1/24 on eth0` or `route ...`; `reason` what the
   * kernel said of the removal, and of the failure to put it back.
   */
  | { type: 'vip'; instance: string; address: string; action: 'restored' | 'lost'; reason: string; time: number };

export interface InstanceStatus {
  name: string;
  state: VrrpState;
  /** its sync group */
  syncGroup?: string;
  /** why it is in FAULT, or what it waits for in INIT */
  fault?: string;
  waiting?: string[];
  vrid: number;
  version: number;
  family: number;
  interface: string;
  priority: number;
  effectivePriority: number;
  master?: { address: string; priority: number };
  sourceAddress?: string;
  /** its advert interval, and the master's as last heard (VRRPv3), centiseconds */
  advertIntCs: number;
  masterAdvertIntCs: number;
  /** when it entered its state (epoch ms) and why, as the state machine said it */
  since?: number;
  reason?: string;
  /** its VIPs (`10.0.0.1/24`), each with its interface and whether it is in the kernel now */
  vips: { address: string; dev: string; present: boolean }[];
  counters: VrrpCounters;
}

/** Everything the engine can tell about itself. */
export interface EngineStatus {
  instances: InstanceStatus[];
  groups?: { name: string; state: VrrpState; members: string[] }[];
  /** packets that reached a VRRP socket for a VRID none of our instances has */
  otherVrids: number;
  /** how late masters' adverts went out after their due time, since this VRRP process started */
  advertLateness?: LatenessSummary;
}

export interface EngineDeps {
  log: Logger;
  clock: Clock;
  /**
   * When this router started (epoch ms): the daemon, or this VRRP process
   * when it replaced one that died. The instances' first Master_Down_Interval
   * counts from it (VrrpMachine.start); without it, from their start.
   */
  startedAt?: number;
  /**
   * Instances that were MASTER in a VRRP process that died just now, each
   * with the time (epoch ms) before which it may go on as master at once;
   * their VIPs are still in place, so they are not cleaned at start.
   */
  resume?: Record<string, number>;
  onTransition?: (t: TransitionReport) => void;
  onEvent?: (e: EngineEvent) => void;
}
