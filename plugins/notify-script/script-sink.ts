import type { Notifier, NotifyEvent } from '../../core/sdk';
import type { ScriptNotifier } from './script-notifier';

/**
 * keepalived's notify scripts and FIFO lines as a notifier: VRRP
 * transitions run the VRRP notify scripts and write their FIFO lines;
 * real-server changes run notify_up / notify_down and write the `RS ...`
 * lines, quorum changes quorum_up / quorum_down and the `VS ...` lines
 * (notify_fifo, lvs_notify_fifo); a master's lower-priority advert runs
 * notify_master_rx_lower_pri and writes its line, a priority change writes
 * its line when the instance has notify_priority_changes (only those are
 * accepted), and a state said again after a reload writes its line. The
 * pipeline delivers to it `immediate`ly: from publish() itself, in order,
 * with no queue, outbox, retry or coalescing, so keepalived's order and
 * fire-and-forget semantics hold (ScriptNotifier starts the scripts in the
 * order the notifications came and never waits for them). A delivery is
 * done once its scripts have started and its line is written; it fails when
 * a script could not be started (refused by script security, no such user),
 * which the status counts.
 */
export function scriptNotifier(n: ScriptNotifier): Notifier {
  return {
    accepts: (e) =>
      e.type === 'vrrp' ||
      e.type === 'real-server' ||
      e.type === 'quorum' ||
      e.type === 'master-rx-lower-pri' ||
      e.type === 'vrrp-state' ||
      (e.type === 'priority' && n.notifiesPriorityChanges(e.instance)),
    deliver(e: NotifyEvent): Promise<void> {
      switch (e.type) {
        case 'vrrp':
          return n.transition(e);
        case 'real-server':
          return n.realServerChange(e);
        case 'quorum':
          return n.virtualServerChange(e);
        case 'priority':
          return n.priorityChange(e.instance, e.state, e.to);
        case 'master-rx-lower-pri':
          return n.masterRxLowerPri(e.instance, e.priority);
        case 'vrrp-state':
          return n.fifoState(e.kind, e.name, e.state, e.priority);
        default:
          return Promise.resolve();
      }
    },
  };
}

/**
 * The same notifier as a notify pipeline takes it without a plugin host
 * (a pipeline built by hand, as the check service's tests build one), under
 * the id the plugin gives it: `script:notify`, delivered immediately.
 */
export function scriptSink(n: ScriptNotifier): { id: string; kind: string; name: string; notifier: Notifier; immediate: true } {
  return { id: 'script:notify', kind: 'script', name: 'notify', notifier: scriptNotifier(n), immediate: true };
}
