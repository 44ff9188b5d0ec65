/**
 * The events that flow through alived's hooks. Every arrow of the data flow
 * in DESIGN.md is one of these.
 */

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP' | 'DELETED';

export interface VrrpTransitionEvent {
  /** an instance or a sync group */
  readonly kind: 'instance' | 'group';
  readonly name: string;
  readonly from: VrrpState;
  readonly to: VrrpState;
  readonly priority: number;
  /** why: 'master down timer', 'higher priority advert', 'tracker fault', 'shutdown', ... */
  readonly reason: string;
  /** milliseconds since the epoch */
  readonly time: number;
}

export interface PriorityChangeEvent {
  readonly instance: string;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
  readonly time: number;
}

export interface TrackerChangeEvent {
  /** the tracker keyword (vrrp_script, track_file, ...) */
  readonly type: string;
  readonly name: string;
  readonly up: boolean;
  /** the weight the tracker now adds to the priorities that follow it */
  readonly weight: number;
  readonly time: number;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly protocol?: 'tcp' | 'udp' | 'sctp';
}

export interface CheckResultEvent {
  /** the checker keyword (TCP_CHECK, HTTP_GET, ...) */
  readonly checker: string;
  readonly virtualServer: string;
  readonly realServer: Endpoint;
  readonly ok: boolean;
  readonly message: string;
  readonly durationMs: number;
  readonly time: number;
}

export interface RealServerChangeEvent {
  readonly virtualServer: string;
  readonly realServer: Endpoint;
  readonly up: boolean;
  readonly weight: number;
  readonly reason: string;
  readonly time: number;
}

export interface QuorumChangeEvent {
  readonly virtualServer: string;
  readonly up: boolean;
  /** the summed weight of live real servers, and the quorum it is compared with */
  readonly alive: number;
  readonly quorum: number;
  readonly time: number;
}

/** What notifiers receive: one event about to be delivered. */
export type NotifyEvent =
  | ({ readonly type: 'vrrp' } & VrrpTransitionEvent)
  | ({ readonly type: 'real-server' } & RealServerChangeEvent)
  | ({ readonly type: 'quorum' } & QuorumChangeEvent)
  | { readonly type: 'daemon'; readonly what: 'start' | 'stop' | 'reload'; readonly time: number };

export interface ReloadInfo {
  /** the files of the new config */
  readonly files: readonly string[];
  readonly time: number;
}

export interface ShutdownInfo {
  readonly signal: string | undefined;
  readonly time: number;
}
