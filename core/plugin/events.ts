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

/** A VRRP instance's effective priority changed (a tracker's weight came or went). */
export interface PriorityChangeEvent {
  readonly instance: string;
  readonly from: number;
  readonly to: number;
  /** the instance's state when it changed: keepalived's FIFO line says MASTER_PRIORITY or BACKUP_PRIORITY */
  readonly state: VrrpState;
  /** why: `tracking` */
  readonly reason: string;
  readonly time: number;
}

/**
 * A master received an advert of lower priority than its own and answered
 * it with its own advert (and GARPs): keepalived's notify_master_rx_lower_pri.
 */
export interface LowerPriorityAdvertEvent {
  readonly instance: string;
  /** the master's own effective priority */
  readonly priority: number;
  /** the priority in the advert it received */
  readonly advertPriority: number;
  /** the address the advert came from */
  readonly sender: string;
  readonly time: number;
}

/**
 * The state of an instance or sync group, said again: after a reload, for
 * every instance and group, when global_defs has
 * fifo_write_vrrp_states_on_reload (keepalived writes these lines to its
 * notify FIFOs). Nothing changed state.
 */
export interface VrrpStateEvent {
  readonly kind: 'instance' | 'group';
  readonly name: string;
  readonly state: VrrpState;
  /** the instance's effective priority; 0 for a group */
  readonly priority: number;
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
  /** alived is stopping (`omega`): keepalived gives notify_down 1 s then */
  readonly stopping?: boolean;
  readonly time: number;
}

export interface QuorumChangeEvent {
  readonly virtualServer: string;
  readonly up: boolean;
  /** the summed weight of live real servers, and the quorum it is compared with */
  readonly alive: number;
  readonly quorum: number;
  /** alived is stopping (`omega`): keepalived gives quorum_down 1 s then */
  readonly stopping?: boolean;
  readonly time: number;
}

/**
 * keepalived's smtp_alert of the checks (smtp_alert(SMTP_MSG_RS / SMTP_MSG_VS
 * / SMTP_MSG_RS_SHUT)): the check service decides when one is due, with the
 * smtp_alert settings of the real and virtual server and no_checker_emails.
 */
export interface CheckAlertEvent {
  readonly kind: 'real-server' | 'virtual-server';
  /** `[10.0.0.1]:tcp:80` */
  readonly virtualServer: string;
  /** `[10.0.0.2]:tcp:80` (real-server alerts) */
  readonly service?: string;
  readonly realServer?: Endpoint;
  /** the checker keyword whose result caused it */
  readonly checker?: string;
  /**
   * The real server's state after the change (keepalived's subject says
   * it: `checker->rs->alive`), or the virtual server's quorum. A checker
   * that comes back while another checker of its server still fails leaves
   * the server DOWN: `state` is DOWN, `checkerState` UP.
   */
  readonly state: 'UP' | 'DOWN';
  /** for a checker's alert: the checker's own new state (the body says it) */
  readonly checkerState?: 'UP' | 'DOWN';
  /** keepalived's text: `=> TCP CHECK failed on service <=`, `=> Lost quorum 2+0=2 > 1 <=` */
  readonly message: string;
  readonly time: number;
}

/**
 * A master's VIP or virtual route was removed by someone else (a network
 * manager, an administrator, its interface going away) and alived put it
 * back, or could not (the instance goes to FAULT, so the backup takes over).
 */
export interface VipChangeEvent {
  /** the VRRP instance that holds it */
  readonly instance: string;
  /** `10.0.0.1/24 on eth0`, or `route 10.2.0.0/16 via 10.0.0.254` */
  readonly address: string;
  readonly action: 'restored' | 'lost';
  /** what the kernel reported of the removal, and why it could not be put back */
  readonly reason: string;
  readonly time: number;
}

/**
 * Events of one source that came faster than a notifier's coalescing allows
 * (flapping), delivered as one summary in their place.
 */
export interface FlappingSummaryEvent {
  /** the source: `vrrp:instance:VI_1`, `real-server:[10.0.0.1]:tcp:80/[10.0.0.2]:tcp:80` */
  readonly source: string;
  /** how many events this summary stands for */
  readonly count: number;
  /** the first and the last of them */
  readonly first: NotifyEvent;
  readonly last: NotifyEvent;
  /** the states the source went through, oldest first (`BACKUP`, `MASTER`, `UP`, ...) */
  readonly states: readonly string[];
  /** milliseconds from the first to the last */
  readonly spanMs: number;
  readonly time: number;
}

/**
 * A test notification (`alived notify test`): sent to one notifier or to
 * every one that takes it, through its real deliver(), to check that SMTP or
 * a webhook works without a failover. Never published, never kept in the
 * outbox, never retried.
 */
export interface TestNotificationEvent {
  /** one line saying what it is and where it comes from */
  readonly text: string;
  readonly time: number;
}

/** What notifiers receive: one event about to be delivered. */
export type NotifyEvent =
  | ({ readonly type: 'vrrp' } & VrrpTransitionEvent)
  | ({ readonly type: 'real-server' } & RealServerChangeEvent)
  | ({ readonly type: 'quorum' } & QuorumChangeEvent)
  | ({ readonly type: 'check-alert' } & CheckAlertEvent)
  | ({ readonly type: 'vip' } & VipChangeEvent)
  | ({ readonly type: 'priority' } & PriorityChangeEvent)
  | ({ readonly type: 'master-rx-lower-pri' } & LowerPriorityAdvertEvent)
  | ({ readonly type: 'vrrp-state' } & VrrpStateEvent)
  | ({ readonly type: 'flapping' } & FlappingSummaryEvent)
  | { readonly type: 'daemon'; readonly what: 'start' | 'stop' | 'reload'; readonly time: number }
  | ({ readonly type: 'test' } & TestNotificationEvent);

/** What a notifier learns of the delivery of one event, beside the event itself. */
export interface DeliveryInfo {
  /** unique per accepted event, the same on every attempt and after a restart: an idempotency key */
  readonly id: string;
  /** increases with every event the daemon accepts, across restarts (there may be gaps) */
  readonly sequence: number;
  /** 1 for the first attempt */
  readonly attempt: number;
  /** when the event was accepted (ms since the epoch) */
  readonly acceptedAt: number;
}

export interface ReloadInfo {
  /** the files of the new config */
  readonly files: readonly string[];
  readonly time: number;
}

export interface ShutdownInfo {
  readonly signal: string | undefined;
  readonly time: number;
}
