import type { LvsMethodName, VirtualServerKey } from '../config/keywords/lvs';
import type { Endpoint } from '../plugin/events';
import { WEIGHT_LIMIT, type RealServerPlan, type ServerPlan, type VirtualServerPlan } from './plan';

/**
 * The state of virtual and real servers as keepalived keeps it
 * (check_data.h: alive, num_failed_checkers, effective_weight,
 * quorum_state_up), and the pool it implies: which servers the virtual
 * service should send traffic to, with which weight. alived computes the
 * pool; programming it into IPVS is the reconciler's job.
 */

/** keepalived's real_weight(): an effective weight clamped to what IPVS takes */
export function realWeight(effective: number): number {
  if (effective < 0) return 0;
  return effective > WEIGHT_LIMIT ? WEIGHT_LIMIT : effective;
}

export interface PoolDestination {
  readonly address: string;
  readonly port: number;
  readonly lvsMethod: LvsMethodName;
  /** the weight to give the destination; 0 keeps it in the table without traffic */
  readonly weight: number;
  readonly role: 'real' | 'sorry';
  /** in the table at weight 0 because of inhibit_on_failure (or sorry_server_inhibit), not serving */
  readonly inhibited: boolean;
}

export interface VirtualServerPool {
  /** `[10.0.0.1]:tcp:80` */
  readonly virtualServer: string;
  readonly key: VirtualServerKey;
  readonly protocol: 'tcp' | 'udp' | 'sctp' | undefined;
  readonly quorumUp: boolean;
  /** the virtual server left the config (reload) or alived stops: remove it */
  readonly removed: boolean;
  readonly destinations: readonly PoolDestination[];
}

export class RealServerState {
  alive = false;
  /** checkers of this server that are down (keepalived's num_failed_checkers) */
  numFailedCheckers = 0;
  /** the configured weight plus what dynamic checkers (misc_dynamic) added */
  effectiveWeight: number;
  /** carried over from the running config by a reload */
  reloaded = false;

  constructor(readonly plan: RealServerPlan) {
    this.effectiveWeight = plan.weight;
  }

  get endpoint(): Endpoint {
    return this.plan.endpoint;
  }
}

export class SorryServerState {
  /** in the pool in place of the real servers (quorum lost) */
  alive = false;
  constructor(readonly plan: ServerPlan) {}
}

export class VirtualServerState {
  quorumUp = false;
  readonly realServers: RealServerState[];
  readonly sorry: SorryServerState | undefined;

  constructor(readonly plan: VirtualServerPlan) {
    this.realServers = plan.realServers.map((p) => new RealServerState(p));
    this.sorry = plan.sorryServer ? new SorryServerState(plan.sorryServer) : undefined;
  }

  /** weigh_live_realservers(): the summed weight of alive real servers */
  weighLive(): number {
    let sum = 0;
    for (const rs of this.realServers) if (rs.alive) sum += realWeight(rs.effectiveWeight);
    return sum;
  }

  /** real servers serve unless the sorry server replaced them (perform_svr_state()'s condition) */
  get realServersServe(): boolean {
    return this.quorumUp || !this.sorry || !this.sorry.alive;
  }

  /**
   * The pool these states imply, as keepalived's ipvs_cmd() calls leave the
   * kernel table: an alive real server serves with its weight unless the
   * sorry server replaced the pool; an inhibit_on_failure server that does
   * not serve stays at weight 0; the sorry server serves (weight 1) while
   * the quorum is lost, and stays at weight 0 with sorry_server_inhibit.
   */
  pool(removed = false): VirtualServerPool {
    const destinations: PoolDestination[] = [];
    if (!removed) {
      const serve = this.realServersServe;
      const sorryId = this.sorry?.plan.id;
      for (const rs of this.realServers) {
        // a sorry server that is also a real server is one destination: the sorry role wins while it serves
        if (rs.plan.id === sorryId && this.sorry!.alive) continue;
        const p = rs.plan;
        if (rs.alive && serve) {
          destinations.push({
            address: p.endpoint.address,
            port: p.endpoint.port,
            lvsMethod: p.lvsMethod,
            weight: realWeight(rs.effectiveWeight),
            role: 'real',
            inhibited: false,
          });
        } else if (p.inhibit) {
          destinations.push({ address: p.endpoint.address, port: p.endpoint.port, lvsMethod: p.lvsMethod, weight: 0, role: 'real', inhibited: true });
        }
      }
      const s = this.sorry;
      if (s && (s.alive || s.plan.inhibit) && !(this.realServers.some((r) => r.plan.id === s.plan.id) && !s.alive)) {
        destinations.push({
          address: s.plan.endpoint.address,
          port: s.plan.endpoint.port,
          lvsMethod: s.plan.lvsMethod,
          weight: s.alive ? s.plan.weight : 0,
          role: 'sorry',
          inhibited: !s.alive,
        });
      }
    }
    return { virtualServer: this.plan.name, key: this.plan.key, protocol: this.plan.protocol, quorumUp: this.quorumUp, removed, destinations };
  }
}
