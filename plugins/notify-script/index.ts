import { ALIVED_VERSION, type AlivedPlugin, type ConfigModel, type Notifier, type NotifierContext, type NotifyEvent } from '../../core/sdk';
import { CheckScripts } from './check-scripts';
import { ScriptNotifier } from './script-notifier';
import { scriptNotifier } from './script-sink';

export { ScriptNotifier, STOP_SCRIPT_TIMEOUT_MS, type ScriptNotifierOptions } from './script-notifier';
export { scriptNotifier, scriptSink } from './script-sink';
export { CheckScripts, type CheckScript } from './check-scripts';
export {
  NotifyFifo,
  NotifyFifos,
  fifoSpecs,
  vrrpFifoLine,
  virtualServerFifoLine,
  realServerFifoLine,
  FIFO_SCRIPT_EXIT_WAIT_MS,
  type FifoKind,
  type FifoSpec,
} from './fifo';

/**
 * keepalived's notify scripts and FIFOs as a notifier plugin: notify,
 * notify_master / backup / fault / stop / deleted and
 * notify_master_rx_lower_pri of the VRRP instances and sync groups,
 * notify_up / notify_down and quorum_up / quorum_down of the virtual
 * servers, and the lines of notify_fifo, vrrp_notify_fifo and
 * lvs_notify_fifo (with their scripts), with script_user and
 * enable_script_security. Their keywords are keepalived's, in the core's
 * schema (as notify-mail's keepalived keywords are), so a keepalived.conf
 * reads the same with or without this plugin; it registers one notifier,
 * `script:notify`, configured from them when the config has any of them. It receives every event as any
 * notifier does, from the notify pipeline, immediately (from publish(), in
 * order: keepalived's order of scripts, FIFO lines and mail).
 *
 * The notifier lives across reloads: the one a reload creates takes over
 * its predecessor's FIFOs, scripts and queue (ctx.previous) and reloads
 * them with the new config; only the last one stops them, when the
 * pipeline closes it at shutdown.
 */

const PLUGIN_NAME = 'notify-script';

/** The notifier of one config: a view of the ScriptNotifier it shares with the notifiers of earlier and later configs. */
class ScriptNotifierOfConfig implements Notifier {
  private readonly deliveries: Notifier;
  private readonly started: Promise<void>;
  /** a reload's notifier took the ScriptNotifier over: closing this one leaves it running */
  private handedOver = false;

  constructor(
    private readonly scripts: ScriptNotifier,
    model: ConfigModel,
    reload: boolean,
  ) {
    this.deliveries = scriptNotifier(scripts);
    // start() opens the FIFOs and checks every script; reload() takes the new config, keeping what did not change
    this.started = reload ? scripts.reload(model) : scripts.start(model);
  }

  static create(model: ConfigModel, ctx: NotifierContext): ScriptNotifierOfConfig {
    const previous = ctx.previous instanceof ScriptNotifierOfConfig ? ctx.previous : undefined;
    if (!previous) return new ScriptNotifierOfConfig(new ScriptNotifier({ log: ctx.log }), model, false);
    previous.handedOver = true;
    return new ScriptNotifierOfConfig(previous.scripts, model, true);
  }

  /** Resolves once the FIFOs are open and the scripts checked (the daemon waits for it before anything is notified). */
  ready(): Promise<void> {
    return this.started;
  }

  accepts(e: NotifyEvent): boolean {
    return this.deliveries.accepts!(e);
  }

  deliver(e: NotifyEvent, signal: AbortSignal, info: Parameters<Notifier['deliver']>[2]): Promise<void> {
    return this.deliveries.deliver(e, signal, info);
  }

  /**
   * At shutdown, after the last notifications: waits for them to start their
   * scripts, gives running scripts their time, closes the FIFOs (see
   * ScriptNotifier.stop()). Nothing when a reload's notifier took over.
   */
  close(): Promise<void> {
    return this.handedOver ? Promise.resolve() : this.scripts.stop();
  }
}

const INSTANCE_KEYWORDS = ['notify', 'notifyMaster', 'notifyBackup', 'notifyFault', 'notifyStop', 'notifyDeleted', 'notifyMasterRxLowerPri'] as const;
const GROUP_KEYWORDS = ['notify', 'notifyMaster', 'notifyBackup', 'notifyFault', 'notifyStop'] as const;

/**
 * Whether a config gives the notifier anything to do: a notify script of an
 * instance, a sync group, a real or a virtual server, or a notify FIFO. A
 * config with none has no `script:notify` notifier, as it has nothing to
 * run or write (a reload to such a config stops the FIFOs and scripts of
 * the one before).
 */
function runsAnything(model: ConfigModel): boolean {
  const g = model.globalDefs;
  if (g?.notifyFifo || g?.vrrpNotifyFifo || g?.lvsNotifyFifo) return true;
  if (model.vrrpInstance.some((i) => INSTANCE_KEYWORDS.some((k) => i[k] !== undefined))) return true;
  if (model.vrrpSyncGroup.some((sg) => GROUP_KEYWORDS.some((k) => sg[k] !== undefined))) return true;
  const checks = new CheckScripts();
  checks.take(model);
  return checks.all().length > 0;
}

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  alived: `>=${ALIVED_VERSION}`,
  apply(api) {
    api.registerNotifier<ConfigModel>({
      // no block of its own: configured from keepalived's keywords (notify_*, *_notify_fifo, script_user)
      keyword: 'script',
      immediate: true,
      configure: (model) => (runsAnything(model) ? [{ name: 'notify', config: model }] : []),
      create: (model, ctx) => ScriptNotifierOfConfig.create(model, ctx),
    });
  },
};

export default plugin;
