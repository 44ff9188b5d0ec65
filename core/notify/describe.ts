import { formatService } from '../check/format';
import type { NotifyEvent } from '../plugin/events';

/**
 * How notify events are named: the source an event belongs to (the unit of
 * ordering and of flap coalescing), its new state, and one readable line,
 * for logs and for notifiers that render text (Slack, Teams).
 */

/**
 * `vrrp:instance:VI_1`, `vrrp:group:G1`, `real-server:[10.0.0.1]:tcp:80/[10.0.0.2]:tcp:80`, `quorum:[10.0.0.1]:tcp:80`, `vip:VI_1`,
 * `priority:VI_1`, `rx-lower-pri:VI_1`, `vrrp-state:instance:VI_1`, `daemon`, `test`
 */
export function eventSource(e: NotifyEvent): string {
  switch (e.type) {
    case 'vrrp':
      return `vrrp:${e.kind}:${e.name}`;
    case 'real-server':
      return `real-server:${e.virtualServer}/${formatService(e.realServer.address, e.realServer.port, e.realServer.protocol)}`;
    case 'quorum':
      return `quorum:${e.virtualServer}`;
    case 'check-alert':
      return e.kind === 'real-server' ? `real-server:${e.virtualServer}/${e.service ?? ''}` : `quorum:${e.virtualServer}`;
    case 'vip':
      return `vip:${e.instance}`;
    case 'priority':
      return `priority:${e.instance}`;
    case 'master-rx-lower-pri':
      return `rx-lower-pri:${e.instance}`;
    case 'vrrp-state':
      return `vrrp-state:${e.kind}:${e.name}`;
    case 'flapping':
      return e.source;
    case 'daemon':
      return 'daemon';
    case 'test':
      return 'test';
  }
}

/** The state an event leaves its source in: `MASTER`, `UP`, `DOWN`, `start` */
export function eventState(e: NotifyEvent): string {
  switch (e.type) {
    case 'vrrp':
      return e.to;
    case 'real-server':
    case 'quorum':
      return e.up ? 'UP' : 'DOWN';
    case 'check-alert':
      return e.state;
    case 'vip':
      return e.action;
    case 'priority':
      return String(e.to);
    case 'master-rx-lower-pri':
      return 'MASTER_RX_LOWER_PRI';
    case 'vrrp-state':
      return e.state;
    case 'flapping':
      return eventState(e.last);
    case 'daemon':
      return e.what;
    case 'test':
      return 'test';
  }
}

/** The state before the event, where there is one */
export function eventPreviousState(e: NotifyEvent): string | undefined {
  switch (e.type) {
    case 'vrrp':
      return e.from;
    case 'real-server':
    case 'quorum':
      return e.up ? 'DOWN' : 'UP';
    case 'check-alert':
      return e.state === 'UP' ? 'DOWN' : 'UP';
    case 'vip':
      return 'removed';
    case 'priority':
      return String(e.from);
    case 'master-rx-lower-pri':
    case 'vrrp-state':
      return undefined;
    case 'flapping':
      return eventPreviousState(e.first);
    case 'daemon':
    case 'test':
      return undefined;
  }
}

/** One line: `VRRP instance VI_1: BACKUP -> MASTER (priority 150)` */
export function describeEvent(e: NotifyEvent): string {
  switch (e.type) {
    case 'vrrp':
      return `VRRP ${e.kind === 'group' ? 'sync group' : 'instance'} ${e.name}: ${e.from} -> ${e.to}${e.kind === 'instance' ? ` (priority ${e.priority})` : ''}`;
    case 'real-server':
      return `real server ${formatService(e.realServer.address, e.realServer.port, e.realServer.protocol)} of virtual server ${e.virtualServer}: ${e.up ? 'UP' : 'DOWN'}${e.reason ? ` (${e.reason})` : ''}`;
    case 'quorum':
      return `virtual server ${e.virtualServer}: quorum ${e.up ? 'gained' : 'lost'} (${e.alive} alive, quorum ${e.quorum})`;
    case 'check-alert':
      return e.kind === 'real-server'
        ? `real server ${e.service ?? '?'} of virtual server ${e.virtualServer}: ${e.state} ${e.message}`
        : `virtual server ${e.virtualServer}: ${e.state} ${e.message}`;
    case 'vip':
      return `VRRP instance ${e.instance}: ${e.address} was removed by someone else; ${e.action === 'restored' ? 'put back' : 'cannot be put back, the instance goes to FAULT'}`;
    case 'priority':
      return `VRRP instance ${e.instance}: priority ${e.from} -> ${e.to} (${e.state}${e.reason ? `, ${e.reason}` : ''})`;
    case 'master-rx-lower-pri':
      return `VRRP instance ${e.instance}: MASTER (priority ${e.priority}) received an advert of priority ${e.advertPriority} from ${e.sender}`;
    case 'vrrp-state':
      return `VRRP ${e.kind === 'group' ? 'sync group' : 'instance'} ${e.name}: ${e.state}${e.kind === 'instance' ? ` (priority ${e.priority})` : ''}, said again after a reload`;
    case 'flapping':
      return `${sourceText(e.source)} flapping: ${e.count} changes in ${Math.round(e.spanMs / 1000)} s (${e.states.join(' -> ')}); now ${eventState(e.last)}`;
    case 'daemon':
      return `alived ${e.what === 'start' ? 'started' : e.what === 'stop' ? 'stopping' : 'reloaded'}`;
    case 'test':
      return e.text;
  }
}

/** `vrrp:instance:VI_1` -> `VRRP instance VI_1` */
export function sourceText(source: string): string {
  const [kind, ...rest] = source.split(':');
  const tail = rest.join(':');
  switch (kind) {
    case 'vrrp': {
      const [k, ...name] = tail.split(':');
      return `VRRP ${k === 'group' ? 'sync group' : 'instance'} ${name.join(':')}`;
    }
    case 'real-server': {
      const slash = tail.lastIndexOf('/');
      return `real server ${tail.slice(slash + 1)} of virtual server ${tail.slice(0, slash)}`;
    }
    case 'quorum':
      return `virtual server ${tail}`;
    case 'vip':
      return `VIPs of VRRP instance ${tail}`;
    case 'priority':
      return `priority of VRRP instance ${tail}`;
    case 'rx-lower-pri':
      return `lower-priority adverts to VRRP instance ${tail}`;
    case 'vrrp-state': {
      const [k, ...name] = tail.split(':');
      return `state of VRRP ${k === 'group' ? 'sync group' : 'instance'} ${name.join(':')}`;
    }
    default:
      return source;
  }
}
