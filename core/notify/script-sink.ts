import type { NotifyEvent } from '../plugin/events';
import type { Notifier } from '../plugin/types';
import type { SinkSpec } from './pipeline';
import type { ScriptNotifier } from './script-notifier';

/**
 * keepalived's notify scripts and FIFO lines as a notifier of the pipeline:
 * VRRP transitions run the VRRP notify scripts and write their FIFO lines;
 * real-server changes run notify_up / notify_down and write the `RS ...`
 * lines, quorum changes quorum_up / quorum_down and the `VS ...` lines
 * (notify_fifo, lvs_notify_fifo). It is `immediate`: called from publish()
 * itself, in order, with no queue, outbox, retry or coalescing, so
 * keepalived's order and fire-and-forget semantics hold (ScriptNotifier
 * starts the scripts in the order the notifications came and never waits
 * for them). A delivery is done once its scripts have started and its line
 * is written; it fails when a script could not be started (refused by
 * script security, no such user), which the status counts.
 */
export function scriptSink(n: ScriptNotifier): SinkSpec {
  const notifier: Notifier = {
    accepts: (e) => e.type === 'vrrp' || e.type === 'real-server' || e.type === 'quorum',
    deliver(e: NotifyEvent): Promise<void> {
      switch (e.type) {
        case 'vrrp':
          return n.transition(e);
        case 'real-server':
          return n.realServerChange(e);
        case 'quorum':
          return n.virtualServerChange(e);
        default:
          return Promise.resolve();
      }
    },
  };
  return { id: 'script:notify', kind: 'script', name: 'notify', notifier, immediate: true };
}
