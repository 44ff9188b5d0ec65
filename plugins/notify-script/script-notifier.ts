import {
  bounded,
  formatService,
  NOTIFY_SCRIPT_TIMEOUT_MS,
  ScriptLauncher,
  type ConfigModel,
  type Logger,
  type QuorumChangeEvent,
  type RealServerChangeEvent,
  type RunOutcome,
  type ScriptLine,
  type ScriptToRun,
  type VrrpInstanceConfig,
  type VrrpState,
  type VrrpSyncGroupConfig,
  type VrrpTransitionEvent,
} from '../../core/sdk';
import { CheckScripts } from './check-scripts';
import { NotifyFifos, realServerFifoLine, virtualServerFifoLine, vrrpFifoLine, type NotifyFifo } from './fifo';

/**
 * keepalived's notify scripts and FIFO lines, in the daemon's process. On each
 * transition of a VRRP instance or sync group (vrrp_notify.c), in this order,
 *
 * 1. the state's own script (notify_master, notify_backup, notify_fault,
 *    notify_stop, notify_deleted) with its own arguments only;
 * 2. `notify` with four more arguments: `INSTANCE|GROUP NAME STATE PRIORITY`
 *    (a group's priority is 0);
 * 3. the line `INSTANCE "NAME" STATE PRIORITY` (`GROUP ...`) to notify_fifo
 *    and vrrp_notify_fifo.
 *
 * On each change of a real server or of a quorum the checks report
 * (ipwrapper.c do_rs_notifies(), do_vs_notifies()): notify_up / notify_down
 * (quorum_up / quorum_down) with its own arguments only, then `RS ...`
 * (`VS ...`) to notify_fifo and lvs_notify_fifo.
 *
 * Scripts are started, never waited for: each runs in a process group of its
 * own, as its user, and is killed with its group after NOTIFY_SCRIPT_TIMEOUT_MS
 * (keepalived never times them; STOP scripts, and omega's at shutdown, get
 * keepalived's 1 s). A script that hangs delays nothing: the next
 * notification starts its scripts at once.
 */

/** keepalived gives the scripts of a STOP transition 1 s (TIMER_HZ), then kills them */
export const STOP_SCRIPT_TIMEOUT_MS = 1000;
/** how long stop() waits for queued notifications to start their scripts */
const DISPATCH_WAIT_MS = 5000;

export interface ScriptNotifierOptions {
  readonly log: Logger;
  /** how long a notify script may run before its group is killed; default NOTIFY_SCRIPT_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** the same for the scripts of a STOP transition; default STOP_SCRIPT_TIMEOUT_MS */
  readonly stopTimeoutMs?: number;
}

interface ScriptJob {
  readonly script: ScriptToRun;
  readonly what: string;
  readonly timeoutMs: number;
}

const STATE_KEYWORD: Partial<Record<VrrpState, 'notifyMaster' | 'notifyBackup' | 'notifyFault' | 'notifyStop'>> = {
  MASTER: 'notifyMaster',
  BACKUP: 'notifyBackup',
  FAULT: 'notifyFault',
  STOP: 'notifyStop',
};

export class ScriptNotifier {
  private readonly log: Logger;
  private readonly launcher: ScriptLauncher;
  private readonly fifos: NotifyFifos;
  private model: ConfigModel | undefined;
  private instances = new Map<string, VrrpInstanceConfig>();
  /** instances removed by the last reload: their notify_deleted / notify_fault still apply */
  private retired = new Map<string, VrrpInstanceConfig>();
  private groups = new Map<string, VrrpSyncGroupConfig>();
  private groupOf = new Map<string, VrrpSyncGroupConfig>();
  /** notify_up / notify_down and quorum_up / quorum_down (a reload keeps the removed servers') */
  private readonly checkScripts = new CheckScripts();
  /** notifications start their scripts and write their lines in the order they came */
  private queue: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  /** set by stop() once the last notifications are dispatched: later ones are dropped */
  private closed = false;

  constructor(private readonly opts: ScriptNotifierOptions) {
    this.log = opts.log;
    const settings = {
      scriptUser: () => this.model?.globalDefs?.scriptUser,
      scriptSecurity: () => this.model?.globalDefs?.enableScriptSecurity === true,
    };
    this.launcher = new ScriptLauncher({ log: this.log, ...settings, timeoutMs: opts.timeoutMs ?? NOTIFY_SCRIPT_TIMEOUT_MS });
    this.fifos = new NotifyFifos({ log: this.log, ...settings });
  }

  /**
   * Takes the config: opens the FIFOs (creating them), starts their scripts,
   * and checks every notify script now (refusals and keepalived's SECURITY
   * VIOLATION warning are logged at start, not at the first transition).
   * Call it before the VRRP instances start. Never rejects.
   */
  async start(model: ConfigModel): Promise<void> {
    this.take(model);
    await Promise.all([this.fifos.reconcile(model.globalDefs), this.audit()]);
  }

  /**
   * A reloaded config: notify scripts and users come from it from now on;
   * an instance it removed keeps its old scripts for its DELETED
   * notification (send that before or after calling reload, either works),
   * a real or virtual server it removed its notify_down / quorum_down (call
   * reload before the check service's, which notifies the removal and
   * the new servers).
   * A FIFO whose settings did not change stays open with its script.
   */
  async reload(model: ConfigModel): Promise<void> {
    if (this.stopping) return;
    const old = this.instances;
    this.take(model);
    this.retired = new Map([...old].filter(([name]) => !this.instances.has(name)));
    this.launcher.forgetUsers();
    await Promise.all([this.fifos.reconcile(model.globalDefs), this.audit()]);
  }

  private take(model: ConfigModel): void {
    this.model = model;
    this.instances = new Map(model.vrrpInstance.map((i) => [i.name, i]));
    this.groups = new Map(model.vrrpSyncGroup.map((g) => [g.name, g]));
    this.groupOf = new Map(model.vrrpSyncGroup.flatMap((g) => g.group.map((i) => [i, g] as const)));
    this.checkScripts.take(model);
  }

  private async audit(): Promise<void> {
    const list: Array<{ script: ScriptToRun; what: string }> = [];
    const add = (s: unknown, what: string): void => {
      const script = scriptOf(s);
      if (script) list.push({ script, what });
    };
    for (const i of this.instances.values()) {
      for (const k of ['notifyMaster', 'notifyBackup', 'notifyFault', 'notifyStop', 'notifyDeleted', 'notify', 'notifyMasterRxLowerPri'] as const) {
        add(i[k], `${keyword(k)} of VRRP instance ${i.name}`);
      }
    }
    for (const g of this.groups.values()) {
      for (const k of ['notifyMaster', 'notifyBackup', 'notifyFault', 'notifyStop', 'notify'] as const) add(g[k], `${keyword(k)} of VRRP sync group ${g.name}`);
    }
    // keepalived's checker process audits its own scripts, with its own warning
    await Promise.all([this.launcher.audit(list, ''), this.launcher.audit(this.checkScripts.all(), 'check ')]);
  }

  /**
   * An instance or a sync group changed state. The daemon sends every
   * transition keepalived notifies: MASTER, BACKUP, FAULT; STOP for each
   * instance and then each group at shutdown; DELETED for an instance a
   * reload removed. INIT is not notified. For DELETED, keepalived's rules:
   * without notify_deleted the instance is reported as FAULT (its
   * notify_fault runs, `notify` gets FAULT), and nothing at all when it
   * was already in FAULT; with notify_deleted, notify_deleted's script (if it
   * names one) runs and `notify` gets DELETED.
   *
   * Resolves once the scripts have started and the line is written; rejects
   * when a script could not be started (refused by script security, no such
   * user: the launcher has logged why), which counts as a failed delivery.
   */
  transition(e: VrrpTransitionEvent): Promise<void> {
    if (e.to === 'INIT') return DONE;
    if (e.kind === 'group') return this.groupTransition(e);
    const cfg = this.instances.get(e.name) ?? this.retired.get(e.name);
    let state: VrrpState = e.to;
    if (state === 'DELETED' && !cfg?.notifyDeleted) {
      if (e.from === 'FAULT') return DONE;
      state = 'FAULT';
    }
    const jobs: ScriptJob[] = [];
    const timeoutMs = state === 'STOP' ? this.stopTimeout : this.notifyTimeout;
    const own = scriptOf(state === 'DELETED' ? cfg?.notifyDeleted : cfg?.[STATE_KEYWORD[state]!]);
    if (own) jobs.push({ script: own, what: `notify_${state.toLowerCase()} of VRRP instance ${e.name}`, timeoutMs });
    if (cfg?.notify)
      jobs.push({
        script: withArgs(cfg.notify, ['INSTANCE', e.name, state, String(Math.trunc(e.priority))]),
        what: `notify of VRRP instance ${e.name}`,
        timeoutMs,
      });
    return this.dispatch(jobs, () => this.fifos.writeVrrp(vrrpFifoLine('instance', e.name, state, e.priority)));
  }

  private groupTransition(e: VrrpTransitionEvent): Promise<void> {
    // keepalived has no DELETED notification for a sync group
    if (e.to === 'DELETED') return DONE;
    const cfg = this.groups.get(e.name);
    const jobs: ScriptJob[] = [];
    const timeoutMs = e.to === 'STOP' ? this.stopTimeout : this.notifyTimeout;
    const own = scriptOf(cfg?.[STATE_KEYWORD[e.to]!]);
    if (own) jobs.push({ script: own, what: `notify_${e.to.toLowerCase()} of VRRP sync group ${e.name}`, timeoutMs });
    if (cfg?.notify) jobs.push({ script: withArgs(cfg.notify, ['GROUP', e.name, e.to, '0']), what: `notify of VRRP sync group ${e.name}`, timeoutMs });
    return this.dispatch(jobs, () => this.fifos.writeVrrp(vrrpFifoLine('group', e.name, e.to, 0)));
  }

  /**
   * The master received an advert of lower priority (vrrp.c: after it sends
   * its own advert and GARPs): notify_master_rx_lower_pri runs with its own
   * arguments only, then `INSTANCE "NAME" MASTER_RX_LOWER_PRI PRIORITY` (our
   * effective priority) goes to the FIFOs. `notify` is not called.
   */
  masterRxLowerPri(instance: string, priority: number): Promise<void> {
    const script = scriptOf(this.instances.get(instance)?.notifyMasterRxLowerPri);
    const jobs: ScriptJob[] = script ? [{ script, what: `notify_master_rx_lower_pri of VRRP instance ${instance}`, timeoutMs: this.notifyTimeout }] : [];
    return this.dispatch(jobs, () => this.fifos.writeVrrp(vrrpFifoLine('instance', instance, 'MASTER_RX_LOWER_PRI', priority)));
  }

  /**
   * An instance's effective priority changed. With notify_priority_changes
   * (the instance's, else its sync group's, else global_defs'
   * vrrp_notify_priority_changes) the FIFOs get `INSTANCE "NAME"
   * MASTER_PRIORITY PRIORITY` (BACKUP_PRIORITY in any other state); no
   * script runs.
   */
  priorityChange(instance: string, state: VrrpState, priority: number): Promise<void> {
    if (!this.notifiesPriorityChanges(instance)) return DONE;
    const what = state === 'MASTER' ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY';
    return this.dispatch([], () => this.fifos.writeVrrp(vrrpFifoLine('instance', instance, what, priority)));
  }

  notifiesPriorityChanges(instance: string): boolean {
    const own = this.instances.get(instance)?.notifyPriorityChanges;
    if (own !== undefined) return own;
    const group = this.groupOf.get(instance)?.notifyPriorityChanges;
    if (group !== undefined) return group;
    return this.model?.globalDefs?.vrrpNotifyPriorityChanges === true;
  }

  /** A state line to the FIFOs only, no script (keepalived's fifo_write_vrrp_states_on_reload; a group's priority is 0). */
  fifoState(kind: 'instance' | 'group', name: string, state: VrrpState, priority: number): Promise<void> {
    return this.dispatch([], () => this.fifos.writeVrrp(vrrpFifoLine(kind, name, state, kind === 'group' ? 0 : priority)));
  }

  /**
   * A virtual server gained or lost quorum (do_vs_notifies()): quorum_up or
   * quorum_down with its own arguments, then `VS [10.0.0.1]:tcp:80 UP|DOWN`
   * to notify_fifo and lvs_notify_fifo (the virtual server as the check
   * service names it, keepalived's FMT_VS). At shutdown (`stopping`, with
   * omega) the script gets keepalived's 1 s. Resolves and rejects as transition().
   */
  virtualServerChange(e: Pick<QuorumChangeEvent, 'virtualServer' | 'up' | 'stopping'>): Promise<void> {
    const s = this.checkScripts.forQuorum(e);
    const jobs: ScriptJob[] = s ? [{ ...s, timeoutMs: e.stopping ? this.stopTimeout : this.notifyTimeout }] : [];
    return this.dispatch(jobs, () => this.fifos.writeLvs(virtualServerFifoLine(e.virtualServer, e.up)));
  }

  /**
   * A real server went up or down (do_rs_notifies()): notify_up or
   * notify_down with its own arguments, then `RS [10.0.0.2]:tcp:80
   * [10.0.0.1]:tcp:80 UP|DOWN` to notify_fifo and lvs_notify_fifo. At
   * shutdown (`stopping`) the script gets 1 s. Resolves and rejects as transition().
   */
  realServerChange(e: Pick<RealServerChangeEvent, 'virtualServer' | 'realServer' | 'up' | 'stopping'>): Promise<void> {
    const s = this.checkScripts.forRealServer(e);
    const jobs: ScriptJob[] = s ? [{ ...s, timeoutMs: e.stopping ? this.stopTimeout : this.notifyTimeout }] : [];
    const rs = formatService(e.realServer.address, e.realServer.port, e.realServer.protocol);
    return this.dispatch(jobs, () => this.fifos.writeLvs(realServerFifoLine(e.virtualServer, rs, e.up)));
  }

  private get notifyTimeout(): number {
    return this.opts.timeoutMs ?? NOTIFY_SCRIPT_TIMEOUT_MS;
  }

  private get stopTimeout(): number {
    return this.opts.stopTimeoutMs ?? STOP_SCRIPT_TIMEOUT_MS;
  }

  /**
   * Users and checks are looked up for every script at once; then, in the
   * order notifications came, the scripts start one after the other (a
   * start is a spawn, not a wait for the script) and the FIFO line follows.
   * The promise says how this notification went (see transition()); it is
   * marked handled, so callers that fire and forget may ignore it.
   */
  private dispatch(jobs: readonly ScriptJob[], line: () => void): Promise<void> {
    if (this.closed) return handled(Promise.reject(new Error('alived is stopping: notify scripts and FIFOs are closed')));
    const prepared = jobs.map((j) => this.launcher.prepare(j.script, j.what));
    const step = this.queue.then(async () => {
      const ready = await Promise.all(prepared);
      const notRun: string[] = [];
      ready.forEach((r, i) => {
        if (r.kind === 'ready') void this.launcher.launch(r, { timeoutMs: jobs[i]!.timeoutMs });
        else notRun.push(`${jobs[i]!.what} not run (${notRunWhy(r)})`);
      });
      line();
      return notRun;
    });
    this.queue = step.then(
      () => undefined,
      (err: unknown) => this.log.error({ err }, 'notify dispatch failed'),
    );
    return handled(
      step.then((notRun) => {
        if (notRun.length) throw new Error(notRun.join('; '));
      }),
    );
  }

  /** Resolves once every notification so far has started its scripts and written its line. */
  dispatched(): Promise<void> {
    return this.queue;
  }

  /** Resolves once every notification so far is dispatched and its scripts have ended. */
  async idle(): Promise<void> {
    await this.queue;
    await this.launcher.idle();
  }

  /** counters for the status model */
  counts(): { started: number; failed: number; running: number } {
    return this.launcher.counts();
  }

  /** the open FIFOs, for tests and status */
  get openFifos(): readonly NotifyFifo[] {
    return this.fifos.all;
  }

  /**
   * After the last transitions (STOP of every instance, then of every
   * group): waits for queued notifications to start their scripts, gives
   * running scripts STOP_SCRIPT_TIMEOUT_MS to end, kills what is left with
   * its group (keepalived's scripts die with its VRRP process), then closes
   * the FIFOs (their scripts read to the end, then are stopped). Bounded;
   * never rejects.
   */
  stop(): Promise<void> {
    return (this.stopping ??= this.doStop());
  }

  private async doStop(): Promise<void> {
    await bounded(this.queue, DISPATCH_WAIT_MS);
    this.closed = true;
    await bounded(this.launcher.idle(), this.stopTimeout + 500);
    this.launcher.close();
    await bounded(this.launcher.idle(), 1000);
    await this.fifos.close();
  }
}

const DONE: Promise<void> = Promise.resolve();

/** `p`, with a rejection nobody waits for kept from being an unhandled one */
function handled(p: Promise<void>): Promise<void> {
  p.catch(() => undefined);
  return p;
}

function notRunWhy(r: RunOutcome): string {
  switch (r.kind) {
    case 'error':
      return r.error.message;
    case 'aborted':
      return 'alived is stopping';
    default:
      return r.kind;
  }
}

/**
 * The script a keyword names, as the launcher takes it (logs then quote
 * each word as keepalived's cmd_str() does); notify_deleted may stand alone
 * (`true`) and then names none.
 */
function scriptOf(x: unknown): ScriptToRun | undefined {
  if (typeof x !== 'object' || x === null || !Array.isArray((x as ScriptLine).argv)) return undefined;
  const s = x as ScriptLine;
  return { argv: s.argv, user: s.user, group: s.group };
}

/** keepalived's notify_script_exec(): the configured words, then the extra arguments */
function withArgs(script: ScriptLine, extra: readonly string[]): ScriptToRun {
  return { argv: [...script.argv, ...extra], user: script.user, group: script.group };
}

function keyword(k: string): string {
  return k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}
