import { formatService } from '../check/format';
import type { NotifyEvent } from '../plugin/events';
import type { Notifier } from '../plugin/types';
import type { SinkSpec } from './pipeline';
import type { ScriptNotifier } from './script-notifier';

/**
 * keepalived's notify scripts and FIFO lines as a notifier of the pipeline:
 * VRRP transitions run the notify scripts and write the FIFO lines, real
 * server and quorum changes write their lvs_notify_fifo / notify_fifo lines.
 * It is `immediate`: called from publish() itself, in order, with no queue,
 * outbox, retry or coalescing, so keepalived's order and fire-and-forget
 * semantics hold (ScriptNotifier starts the scripts in the order the
 * notifications came and never waits for them).
 */
export function scriptSink(n: ScriptNotifier): SinkSpec {
  const notifier: Notifier = {
    accepts: (e) => e.type === 'vrrp' || e.type === 'real-server' || e.type === 'quorum',
    deliver(e: NotifyEvent): Promise<void> {
      switch (e.type) {
        case 'vrrp':
          n.transition(e);
          break;
        case 'real-server':
          n.realServerChange(e.virtualServer, formatService(e.realServer.address, e.realServer.port, e.realServer.protocol), e.up);
          break;
        case 'quorum':
          n.virtualServerChange(e.virtualServer, e.up);
          break;
        default:
          return Promise.resolve();
      }
      // resolves once this notification's scripts have started and its line is written
      return n.dispatched();
    },
  };
  return { id: 'script:notify', kind: 'script', name: 'notify', notifier, immediate: true };
}
