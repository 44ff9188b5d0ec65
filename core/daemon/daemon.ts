import { compileConfig, type CompileOptions, type CompileResult } from '../config/compile';
import { formatDiagnostic, type Diagnostic } from '../config/diagnostics';
import type { ConfigModel } from '../config/model';
import { AlivedError, errorText } from '../errors';
import type { Logger } from '../log/logger';
import { BUILTIN_PLUGINS } from '../plugin/builtins';
import { PluginHost } from '../plugin/host';
import { ALIVED_VERSION } from '../version';
import type { Level } from '../log/logger';
import { resolveVrrp, type InstanceSettings, type VrrpSettings } from '../vrrp/settings';
import { dropPreforkedVrrpProcess, VrrpSupervisor } from '../vrrp/supervisor';
import { applyTrackGroups, resolveStaticNet } from '../vrrp/static-net-settings';
import { vrrpProcessSettings } from '../vrrp/process-settings';
import { setNoSwap } from '../vrrp/memory-lock';
import { applyUmask } from '../fs/umask';
import { CheckService, tuneHeapForChecks, type CheckServiceStatus } from '../check/service';
import { inLabNamespace } from '../lab/netns';
import type { IpvsService, IpvsStatus } from '../ipvs/service';
import type { LvsSyncDaemon } from '../ipvs/sync-daemon';
import { lvsSyncConfig } from '../ipvs/sync-daemon-config';
import { applyScheduling, vrrpScheduling } from './scheduling';
import { prepareStateDir } from './state-dir';
import type { EngineEvent, EngineStatus, TransitionReport } from '../vrrp/engine';
import { trackerKey, type TrackedState } from '../vrrp/tracking';
import { TrackerService, type TrackerChange } from '../track/service';
import { trackerBlocks } from '../track/plan';
// notify pipeline: every notifier a plugin registers (scripts and FIFOs, mail, webhooks) behind one publish() (docs/notify.md)
import { NotifyPipeline, type NotifyStatus } from '../notify/pipeline';
import { createNotifiers } from '../notify/notifiers';
import { deliveryDefaultsOf } from '../notify/delivery-keywords';
import { runShutdownScript, runStartupScript } from '../notify/lifecycle-scripts';
import type { VrrpTransitionEvent } from '../plugin/events';
import { currentHooks, type AlivedHooks } from '../plugin/hooks';
import { StatusService } from '../status/service';
import { ApiServer } from '../api/server';
import { apiSettingsOf } from '../api/settings';
import { notifyActions } from '../notify/actions';
import type { StatusProvider } from '../status/types';

export interface DaemonOptions {
  configFile: string;
  configId?: string;
  log: Logger;
  /** passed to every compile: host facts, builtins (default BUILTIN_PLUGINS), limits */
  compile?: Partial<Omit<CompileOptions, 'pluginHost' | 'log' | 'configId'>>;
  /** run VRRP (default true; false with -C, --check) */
  vrrp?: boolean;
  /** run the health checks (default true; false with -P, --vrrp) */
  checks?: boolean;
  /** remove alived's IPVS services at stop (default true; false with -I, --dont-release-ipvs) */
  releaseIpvs?: boolean;
  /** the level the VRRP process logs at (its records go through `log`) */
  logLevel?: Level;
  /** --state-dir: the notify outbox goes in `<stateDir>/notify`; none: notifications are kept in memory only */
  stateDir?: string;
  /** --unsafe-state-dir: use a state directory other users can write to, after a warning */
  allowUnsafeStateDir?: boolean;
  /** --instance: names this daemon's files (dumps, the API socket) */
  instance?: string;
  /** events the timeline keeps (default 1,000) */
  timelineCapacity?: number;
  /**
   * Serve the HTTP API (docs/api.md) on its unix socket, and on TCP when the
   * config says so. The alived command's daemon always does; a Daemon made
   * in a program (a test) does only when asked, so it binds no socket
   * another daemon on the host may be using.
   */
  api?: boolean;
}

export interface ReloadOutcome {
  applied: boolean;
  diagnostics: Diagnostic[];
}

/** how long a stop waits for a reload under way before it goes on without it */
const RELOAD_GRACE_MS = 5000;

export class ConfigInvalidError extends AlivedError {
  constructor(readonly result: CompileResult) {
    super('ALIVED_DAEMON_CONFIG_INVALID', `the config has ${result.errorCount} error${result.errorCount === 1 ? '' : 's'}`);
  }
}

/**
 * The daemon's lifecycle: build (compile the config and apply the plugins,
 * touching no network), start, reload, stop. Signals are wired by the CLI,
 * so tests drive a Daemon directly.
 *
 * An invalid config never runs half-applied: build() refuses it, and a
 * reload with errors leaves the running config in place.
 */
export class Daemon {
  private stopping: Promise<void> | undefined;
  /** SIGTERM / SIGINT came: the VIPs are released and no VRRP process starts any more */
  private stopRequested = false;
  private reloading: Promise<ReloadOutcome> | undefined;
  /** the reload that follows the running one, asked for while it ran */
  private nextReload: Promise<ReloadOutcome> | undefined;
  private vrrp: VrrpSupervisor | undefined;
  private trackers: TrackerService | undefined;
  /** every notifier behind one publish() */
  private notifications: NotifyPipeline | undefined;
  /**
   * The daemon's hooks, the same object for its whole life: each hook is the
   * running plugin host's (see currentHooks()), so the parts that fire
   * events are given it once and a reload hands nothing over.
   */
  private readonly hooks: AlivedHooks = currentHooks(() => this.host.hooks);
  /** every tracker's last state, by trackerKey(): what a new VRRP process starts with */
  private readonly trackerStates: Record<string, TrackedState> = {};
  private checks: CheckService | undefined;
  private ipvs: IpvsService | undefined;
  /** lvs_sync_daemon: IPVS's connection sync, following a VRRP instance */
  private lvsSync: LvsSyncDaemon | undefined;
  private vrrpSettingsJson: string | undefined;
  /** the settings the VRRP process runs with (for the status: weights, base priorities) */
  private vrrpSettingsNow: VrrpSettings | undefined;
  /** the status model: every surface (API, metrics, dumps, alived status) reads it */
  private readonly statusService: StatusService;
  /** the HTTP API (docs/api.md): the unix socket, and TCP when the config says so */
  private api: ApiServer | undefined;
  reloads = 0;

  private constructor(
    private readonly options: DaemonOptions,
    private host: PluginHost,
    private current: CompileResult,
  ) {
    this.statusService = new StatusService({
      log: options.log.child({ subsystem: 'status' }),
      configFile: options.configFile,
      ...(options.stateDir ? { stateDir: options.stateDir } : {}),
      ...(options.instance ? { instance: options.instance } : {}),
      ...(options.timelineCapacity ? { timelineCapacity: options.timelineCapacity } : {}),
      sources: {
        vrrp: () => this.vrrp?.status(),
        vrrpSettings: () => this.vrrpSettingsNow,
        trackers: () => this.trackers?.states() ?? [],
        checks: (perPart) => this.checks?.statusParts(perPart),
        notify: () => this.notifications?.status(),
        vrrpPid: () => this.vrrp?.pid,
        plugins: () => this.host.pluginInfos(),
      },
    });
    this.statusService.setConfig(current.files);
    host.setStatusProvider(this.statusService);
  }

  static async build(options: DaemonOptions): Promise<Daemon> {
    const result = await Daemon.compile(options);
    if (!result.ok) {
      await result.pluginHost.close();
      throw new ConfigInvalidError(result);
    }
    return new Daemon(options, result.pluginHost, result);
  }

  private static async compile(options: DaemonOptions): Promise<CompileResult> {
    const host = new PluginHost({ log: options.log });
    return compileConfig(options.configFile, {
      ...options.compile,
      builtins: options.compile?.builtins ?? BUILTIN_PLUGINS,
      configId: options.configId,
      pluginHost: host,
      log: options.log,
    });
  }

  get model(): ConfigModel {
    return this.current.model!;
  }

  get pluginHost(): PluginHost {
    return this.host;
  }

  /** the resolved config tree, for -d */
  get tree(): CompileResult['tree'] {
    return this.current.tree;
  }

  get files(): readonly string[] {
    return this.current.files;
  }

  private starting: Promise<void> | undefined;

  /** Logs the config's warnings, tells the plugins the config is loaded, starts VRRP. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const log = this.options.log;
    log.notice({ version: ALIVED_VERSION, config: this.options.configFile }, `Starting alived v${ALIVED_VERSION}`);
    logDiagnostics(log, this.current.diagnostics);
    // before any file the config makes alived create
    applyUmask(this.model.globalDefs?.umask, log);
    // a state directory another user could write to is refused before anything is read from it
    if (this.options.stateDir) {
      prepareStateDir(this.options.stateDir, { allowUnsafe: this.options.allowUnsafeStateDir, warn: (m) => log.warn({ code: 'ALIVED_DAEMON_STATE_DIR' }, m) });
    }
    // the outbox first: another live alived using the same --state-dir stops this one here (ALIVED_NOTIFY_OUTBOX_LOCKED)
    this.notifications = new NotifyPipeline({
      log: log.child({ subsystem: 'notify' }),
      stateDir: this.options.stateDir,
      hooks: this.hooks,
      onDelivery: (d) => this.statusService.delivery(d),
    });
    this.notifications.open();
    // the timeline of the last run, read back; this start is its next event
    this.statusService.open();
    this.statusService.started();
    if (this.options.api) await this.startApi();
    await this.hooks.configLoaded.promise(this.model);
    log.info({ plugins: this.host.plugins.map((p) => p.name) }, 'Configuration loaded');
    // keepalived runs startup_script before its VRRP and checker processes start, and waits for it (up to its timeout)
    await runStartupScript(this.model, { log });
    // the notifiers are ready (notify-script's FIFOs open, their scripts started) before anything can be notified
    await this.setNotifiers();
    if (this.options.checks !== false) {
      if ((this.model.virtualServer ?? []).length > 0) tuneHeapForChecks();
      const g = this.model.globalDefs;
      // the checks run in this process: checker_priority / checker_rt_priority apply to it
      const sched = {
        ...(g?.checkerPriority !== undefined ? { nice: g.checkerPriority } : {}),
        ...(g?.checkerRtPriority !== undefined ? { rtPriority: g.checkerRtPriority } : {}),
      };
      if (sched.nice !== undefined || sched.rtPriority !== undefined) applyScheduling(process.pid, 'the checker process', sched, log);
      if (g?.checkerNoSwap) setNoSwap(true, 'the checker process', log);
      if ((this.model.virtualServer ?? []).length > 0) this.ipvs = this.createIpvs();
      // real-server and quorum changes (notify_up/down, quorum_up/down, FIFO lines, webhooks) and smtp_alerts, through the pipeline
      this.checks = new CheckService({
        log,
        hooks: this.hooks,
        onNotify: (e) => {
          this.statusService.notifyEvent(e);
          this.notifications?.publish(e);
        },
        ...(this.ipvs ? await this.ipvs.open(this.model) : {}),
      });
      this.checks.start(this.model, this.host);
      await this.ipvs?.start(this.model, this.checks, this.host.hooks);
    }
    await this.configureLvsSync();
    await this.startVrrp(true);
    this.notifications.publish({ type: 'daemon', what: 'start', time: Date.now() });
  }

  /**
   * The HTTP API. It serves the status, so it comes up before VRRP and the
   * checks; a listener that cannot open (ALIVED_API_LISTEN: a live daemon
   * on the socket, a directory others can write) is logged and the daemon
   * goes on without it: failover matters more than its window.
   */
  private async startApi(): Promise<void> {
    const log = this.options.log.child({ subsystem: 'api' });
    try {
      const settings = apiSettingsOf(this.model, { stateDir: this.options.stateDir, instance: this.options.instance });
      const api = new ApiServer({
        provider: this.statusService,
        ...(this.notifications ? { actions: notifyActions(this.notifications) } : {}),
        routes: () => this.host.routes,
        settings,
        log,
      });
      await api.start();
      this.api = api;
    } catch (err) {
      log.error({ code: 'ALIVED_API_LISTEN', err: errorText(err) }, `the HTTP API is off: ${errorText(err)}`);
    }
  }

  /** A reload's API settings: the listeners that changed are restarted. */
  private async reconfigureApi(): Promise<void> {
    if (!this.api) return this.startApi();
    try {
      await this.api.reconfigure(apiSettingsOf(this.model, { stateDir: this.options.stateDir, instance: this.options.instance }));
    } catch (err) {
      this.options.log.error({ code: 'ALIVED_API_LISTEN', err: errorText(err) }, `the HTTP API after the reload: ${errorText(err)}`);
    }
  }

  /** The IPVS side; loaded only with virtual servers: a VRRP-only daemon does not carry the generic netlink client (~9 MB). */
  private createIpvs(): IpvsService {
    const { IpvsService: Ipvs } = require('../ipvs/service') as typeof import('../ipvs/service');
    return new Ipvs({ log: this.options.log, release: this.options.releaseIpvs !== false });
  }

  /** lvs_sync_daemon of the current config (loaded only when a config has one); none stops what runs */
  private async configureLvsSync(): Promise<void> {
    const c = lvsSyncConfig(this.model, { vrrp: this.options.vrrp !== false, checks: this.options.checks !== false });
    if (c && !this.lvsSync) {
      const { LvsSyncDaemon: Sync } = require('../ipvs/sync-daemon') as typeof import('../ipvs/sync-daemon');
      const sync = (this.lvsSync = new Sync({ log: this.options.log }));
      // a reload brings the keyword to instances that run already: their states now (transitions from here on count first)
      if (this.vrrp) for (const i of (await this.vrrp.status()).instances) sync.instanceState(i.name, i.state, { ifUnknown: true });
    }
    await this.lvsSync?.configure(c);
  }

  /** The VRRP settings of the current config, or undefined when it has no vrrp_instance nor static entry (or VRRP is off). */
  private vrrpSettings(): VrrpSettings | undefined {
    if (this.options.vrrp === false) return undefined;
    const instances = this.model.vrrpInstance ?? [];
    // static addresses, routes and rules are the VRRP process's, as in keepalived, with or without instances
    const statics = resolveStaticNet(this.model);
    if (instances.length === 0 && !statics) return undefined;
    const settings = resolveVrrp(this.model.globalDefs as Parameters<typeof resolveVrrp>[0], instances, {
      syncGroups: this.model.vrrpSyncGroup ?? [],
      trackerBlocks: trackerBlocks(this.model, this.host),
      warn: (message) => this.options.log.warn({}, message),
    });
    applyTrackGroups(settings.instances, this.model);
    const vrrpProcess = vrrpProcessSettings(this.model.globalDefs);
    return { ...settings, ...(statics ? { statics } : {}), ...(vrrpProcess ? { vrrpProcess } : {}) };
  }

  /** first: the daemon's start, whose time the instances' first Master_Down_Interval counts from */
  private async startVrrp(first = false): Promise<void> {
    // a stop came (during the start or a reload): no VRRP process that would take the VIPs again
    if (this.stopRequested) return;
    const settings = this.vrrpSettings();
    this.vrrpSettingsJson = settings ? JSON.stringify(settings) : undefined;
    this.vrrpSettingsNow = settings;
    if (!settings) {
      dropPreforkedVrrpProcess();
      return;
    }
    if (!this.trackers) {
      this.trackers = new TrackerService({ log: this.options.log, hooks: this.hooks, onChange: (c) => this.onTrackerChange(c) });
      this.trackers.start(this.model, this.host);
    }

    // the test runner sets this: a test that starts VRRP outside a lab would send it on a real network
    if (process.env.ALIVED_REQUIRE_LAB === '1' && !inLabNamespace()) {
      throw new AlivedError('ALIVED_LAB_FAILED', 'refusing to run VRRP outside a lab namespace (ALIVED_REQUIRE_LAB=1): start this daemon through a Lab');
    }
    this.vrrp = new VrrpSupervisor({
      settings,
      ...(first ? { startedAt: performance.timeOrigin } : {}),
      log: this.options.log,
      level: this.options.logLevel ?? 'info',
      onTransition: (t) => this.onVrrpTransition(t),
      onEvent: (e) => this.onVrrpEvent(e),
      onDeath: (d) => this.statusService.vrrpProcessDied(d),
      onSpawn: (pid) => {
        const sched = vrrpScheduling(this.model.globalDefs);
        if (sched.defaulted) {
          this.options.log.info(
            { pid },
            'the VRRP process gets real-time scheduling (SCHED_RR 1) so adverts stay on time whatever else runs (vrrp_rt_priority 0 turns this off)',
          );
        }
        if (sched.nice !== undefined || sched.rtPriority !== undefined) applyScheduling(pid, 'VRRP process', sched, this.options.log);
      },
    });
    this.vrrp.setTrackers(this.trackerStates);
    await this.vrrp.start();
  }

  private onTrackerChange(c: TrackerChange): void {
    const state: TrackedState = { up: c.up, ...(c.value !== undefined ? { value: c.value } : {}), ...(c.disabled !== undefined ? { disabled: true } : {}) };
    const key = trackerKey(c.type, c.name);
    this.statusService.tracker(c, this.trackerStates[key]?.up);
    this.trackerStates[key] = state;
    this.vrrp?.setTrackers({ [key]: state });
  }

  /**
   * The notifiers of the current config and plugin host, in the order the
   * plugins registered them (notify-script's scripts and FIFOs first, then
   * mail, webhooks, third parties'); resolves once they are ready.
   */
  private async setNotifiers(): Promise<void> {
    const p = this.notifications;
    if (!p) return;
    p.setDefaults(deliveryDefaultsOf(this.model.extensions));
    p.setSinks(createNotifiers(this.model, this.host, this.options.log.child({ subsystem: 'notify' }), (id) => p.notifierOf(id)));
    await p.ready();
  }

  private onVrrpTransition(t: TransitionReport): void {
    this.lvsSync?.instanceState(t.instance, t.to);
    this.vrrpTransition({ kind: 'instance', name: t.instance, from: t.from, to: t.to, priority: t.priority, reason: t.reason, time: t.time }, t.master);
  }

  /** A transition of an instance or group: the hook, then the notification (scripts and FIFO lines in keepalived's order, mail, webhooks). */
  private vrrpTransition(e: VrrpTransitionEvent, master?: { address: string; priority: number }): void {
    this.statusService.transition(e, master);
    this.hooks.vrrpTransition.call(e);
    if (e.to !== 'INIT') this.notifications?.publish({ type: 'vrrp', ...e });
  }

  private onVrrpEvent(e: EngineEvent): void {
    switch (e.type) {
      case 'group':
        this.vrrpTransition({ kind: 'group', name: e.group, from: e.from, to: e.to, priority: 0, reason: e.reason, time: e.time });
        break;
      case 'deleted':
        this.vrrpTransition({
          kind: 'instance',
          name: e.instance,
          from: e.from,
          to: 'DELETED',
          priority: e.priority,
          reason: 'removed by reload',
          time: e.time,
        });
        break;
      case 'priority': {
        const change = { instance: e.instance, from: e.from, to: e.to, state: e.state, reason: e.reason, time: e.time };
        this.statusService.priority(change);
        this.hooks.priorityChange.call(change);
        this.notifications?.publish({ type: 'priority', ...change });
        break;
      }
      case 'rxLowerPri':
        this.notifications?.publish({
          type: 'master-rx-lower-pri',
          instance: e.instance,
          priority: e.priority,
          advertPriority: e.advertPriority,
          sender: e.from,
          time: e.time,
        });
        break;
      case 'vip': {
        const vip = { type: 'vip' as const, instance: e.instance, address: e.address, action: e.action, reason: e.reason, time: e.time };
        this.statusService.notifyEvent(vip);
        this.notifications?.publish(vip);
        break;
      }
    }
  }

  /** State and counters of every VRRP instance ([] without VRRP). */
  vrrpStatus(): Promise<EngineStatus> {
    return this.vrrp ? this.vrrp.status() : Promise.resolve({ instances: [], otherVrids: 0 });
  }

  /** The resolved settings of the VRRP instances the VRRP process runs now ([] without VRRP). */
  vrrpInstanceSettings(): InstanceSettings[] {
    return this.vrrpSettingsJson ? (JSON.parse(this.vrrpSettingsJson) as VrrpSettings).instances : [];
  }

  /** Virtual servers, real servers and checkers with their states (undefined without checks). */
  checkStatus(): CheckServiceStatus | undefined {
    return this.checks?.status();
  }

  /** Delivery results of every notifier: sent, retrying, failed, expired, pending (undefined before start). */
  notifyStatus(): NotifyStatus | undefined {
    return this.notifications?.status();
  }

  /** IPVS services alived programmed, with their counters and those of their real servers (undefined without checks). */
  ipvsStatus(): Promise<IpvsStatus | undefined> {
    return this.ipvs ? this.ipvs.status() : Promise.resolve(undefined);
  }

  /** The status model: the document, the timeline, each new event (docs/status.md). */
  get status(): StatusProvider {
    return this.statusService;
  }

  /**
   * Pings the VRRP process (the systemd watchdog asks): whether it answered
   * within timeoutMs, or undefined when the config runs none (-C, or no
   * vrrp_instance nor static entry). False while it restarts.
   */
  pingVrrp(timeoutMs: number): Promise<boolean> | undefined {
    if (!this.vrrpSettingsNow) return undefined;
    return this.vrrp ? this.vrrp.ping(timeoutMs) : Promise.resolve(false);
  }

  /** pid of the VRRP process, while it runs */
  get vrrpPid(): number | undefined {
    return this.vrrp?.pid;
  }

  /**
   * SIGHUP: compile the config again. With errors, log them with their
   * positions and keep the running config. Without, swap to the new config
   * and its plugins; the old plugins close.
   *
   * Reloads never overlap, and none is lost: a reload asked for while one
   * runs (the file may have changed since that one read it) queues one more,
   * which reads the file when it starts. Any number asked for during one
   * reload make that one follow-up; each of them gets its outcome.
   */
  reload(): Promise<ReloadOutcome> {
    if (this.nextReload) return this.nextReload;
    if (!this.reloading) return this.startReload();
    this.options.log.notice({ config: this.options.configFile }, 'SIGHUP during a reload: another reload follows with the newest config');
    const settled = this.reloading.then(
      () => undefined,
      () => undefined,
    );
    this.nextReload = settled.then(() => {
      this.nextReload = undefined;
      // a stop that came meanwhile wins: it waited for the running reload only
      if (this.stopping) {
        this.options.log.notice({ config: this.options.configFile }, 'the reload that was to follow is dropped: alived is stopping');
        return { applied: false, diagnostics: [] };
      }
      return this.startReload();
    });
    return this.nextReload;
  }

  private startReload(): Promise<ReloadOutcome> {
    const at = Date.now();
    const started = performance.now();
    const run: Promise<ReloadOutcome> = this.doReload()
      .then((r) => {
        this.statusService.reloaded({ ...r, at, durationMs: performance.now() - started });
        return r;
      })
      .finally(() => {
        if (this.reloading === run) this.reloading = undefined;
      });
    this.reloading = run;
    return run;
  }

  private async doReload(): Promise<ReloadOutcome> {
    const log = this.options.log;
    // a SIGHUP that arrives while the daemon starts waits for the start to finish
    await this.starting?.catch(() => undefined);
    log.notice({ config: this.options.configFile }, 'Reloading');
    const next = await Daemon.compile(this.options);
    if (!next.ok) {
      logDiagnostics(log, next.diagnostics);
      log.error(
        { code: 'ALIVED_DAEMON_RELOAD_REJECTED', errors: next.errorCount },
        `Reload rejected: the new config has ${next.errorCount} error${next.errorCount === 1 ? '' : 's'}; the running config goes on`,
      );
      await next.pluginHost.close();
      return { applied: false, diagnostics: next.diagnostics };
    }
    const info = { files: next.files, time: Date.now() };
    await this.hooks.beforeReload.promise(info);
    const old = this.host;
    this.host = next.pluginHost;
    this.current = next;
    this.host.setStatusProvider(this.statusService);
    this.statusService.setConfig(next.files);
    this.reloads++;
    logDiagnostics(log, next.diagnostics);
    await this.hooks.configLoaded.promise(this.model);
    applyUmask(this.model.globalDefs?.umask, log);
    if (this.options.checks !== false) setNoSwap(this.model.globalDefs?.checkerNoSwap === true, 'the checker process', log);
    // the notifiers of the new config before the checks reload: notify-script notifies new real servers
    // with the new scripts, and removed ones with their old notify_down
    await this.setNotifiers();
    // checkers move to the new plugins (keeping their states) before the old ones close,
    // so no check runs on a closed plugin and nothing flaps
    if (this.checks && !this.ipvs && (this.model.virtualServer ?? []).length > 0) {
      // the first virtual_server arrives with this reload: IPVS opens now, the checks program their pools through it
      tuneHeapForChecks();
      const ipvs = (this.ipvs = this.createIpvs());
      this.checks.setPoolProgramming(await ipvs.open(this.model));
      await this.checks.reload(this.model, this.host);
      await ipvs.start(this.model, this.checks, this.host.hooks);
    } else {
      await this.checks?.reload(this.model, this.host);
      await this.ipvs?.reload(this.model, this.host.hooks);
    }
    await this.configureLvsSync();
    // trackers too: unchanged ones go on with their rise/fall counts
    await this.trackers?.reload(this.model, this.host);
    await old.close();
    await this.reloadVrrp();
    if (this.options.api) await this.reconfigureApi();
    await this.hooks.afterReload.promise(info);
    this.notifications?.publish({ type: 'daemon', what: 'reload', time: Date.now() });
    log.notice({ reloads: this.reloads }, 'Reload complete');
    return { applied: true, diagnostics: next.diagnostics };
  }

  /**
   * VRRP after a reload: unchanged settings leave the VRRP process alone;
   * changed ones restart it with the new settings (its masters release and
   * the new instances converge again).
   */
  private async reloadVrrp(): Promise<void> {
    const log = this.options.log;
    if (this.stopRequested) return;
    const settings = this.vrrpSettings();
    const json = settings ? JSON.stringify(settings) : undefined;
    if (json === this.vrrpSettingsJson) return;
    this.vrrpSettingsNow = settings;
    if (!settings || !this.vrrp) {
      // VRRP appears or goes away with this config
      await this.vrrp?.stop();
      this.vrrp = undefined;
      if (!settings) {
        await this.trackers?.stop();
        this.trackers = undefined;
      }
      await this.startVrrp();
      return;
    }
    this.vrrpSettingsJson = json;
    const started = process.hrtime.bigint();
    try {
      const counts = await this.vrrp.reload(settings, this.trackerSnapshot());
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (counts) {
        log.notice(
          { ...counts, ms },
          `VRRP reloaded in ${ms.toFixed(1)} ms: ${counts.kept} instance${counts.kept === 1 ? '' : 's'} unchanged, ${counts.updated} updated in place, ${counts.added} added, ${counts.replaced} replaced, ${counts.removed} removed`,
        );
      }
      await this.writeStatesAfterReload();
    } catch (err) {
      log.error({ err: (err as Error).message }, `${(err as Error).message}; restarting the VRRP process with the new config`);
      await this.vrrp?.stop();
      this.vrrp = undefined;
      await this.startVrrp();
    }
  }

  /** fifo_write_vrrp_states_on_reload: every instance's and group's state said again after a reload (keepalived writes them to its FIFOs) */
  private async writeStatesAfterReload(): Promise<void> {
    if (this.model.globalDefs?.fifoWriteVrrpStatesOnReload !== true || !this.vrrp) return;
    const status = await this.vrrp.status();
    const time = Date.now();
    for (const i of status.instances)
      this.notifications?.publish({ type: 'vrrp-state', kind: 'instance', name: i.name, state: i.state, priority: i.effectivePriority, time });
    for (const g of status.groups ?? []) this.notifications?.publish({ type: 'vrrp-state', kind: 'group', name: g.name, state: g.state, priority: 0, time });
  }

  /** every tracker's current state, by trackerKey(), as the tracker service has them now (reported ones only) */
  private trackerSnapshot(): Record<string, TrackedState> {
    for (const k of Object.keys(this.trackerStates)) delete this.trackerStates[k];
    for (const t of this.trackers?.states() ?? []) {
      if (t.up === undefined && t.disabled === undefined) continue;
      this.trackerStates[trackerKey(t.type, t.name)] = {
        up: t.up === true,
        ...(t.value !== undefined ? { value: t.value } : {}),
        ...(t.disabled !== undefined ? { disabled: true } : {}),
      };
    }
    return { ...this.trackerStates };
  }

  /**
   * The first thing SIGTERM / SIGINT does: the VRRP process is told to
   * release (priority 0), by signal. A backup takes over Skew_Time after that
   * advert, so nothing comes before it, not even the rest of stop(); not a
   * reload either: one that runs meanwhile starts no VRRP process any more.
   */
  releaseVrrp(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.vrrp?.releaseNow();
  }

  /**
   * SIGTERM / SIGINT: the shutdown hook, then every plugin closes, last
   * first. A reload that runs is given RELOAD_GRACE_MS to finish (a plugin
   * hook that never returns must not keep alived from stopping); the VIPs
   * are released at once either way.
   */
  stop(signal?: string): Promise<void> {
    this.releaseVrrp();
    this.stopping ??= (async () => {
      const log = this.options.log;
      const reload = this.reloading;
      if (reload) {
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          reload.then(
            () => true,
            () => true,
          ),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(false), RELOAD_GRACE_MS))),
        ]);
        clearTimeout(timer);
        if (!finished) log.warn({ signal }, `the reload under way did not finish within ${RELOAD_GRACE_MS / 1000} s of the stop; alived stops without it`);
      }
      log.notice({ signal }, 'Stopping');
      this.statusService.stopping(signal);
      await this.vrrp?.stop();
      await this.lvsSync?.stop();
      await this.trackers?.stop();
      // the IPVS table first: the checks' last pool changes must not reach it (-I keeps it as it is)
      await this.ipvs?.stop();
      // with omega, the real servers and quorums are notified down (their scripts get 1 s each)
      await this.checks?.stop();
      // the STOP notifications of the instances and groups and the checks' last ones have been published:
      // notify-script closes first (their scripts get a moment, then die with their groups; the FIFOs close),
      // then the others get a few seconds; what is left stays in the outbox
      this.notifications?.publish({ type: 'daemon', what: 'stop', time: Date.now() });
      await this.notifications?.stop();
      await this.hooks.shutdown.promise({ signal, time: Date.now() });
      // the API answers until the plugins whose routes it serves close
      await this.api?.stop();
      await this.host.close();
      await runShutdownScript(this.model, { log });
      await this.statusService.close();
      log.notice({ version: ALIVED_VERSION }, `Stopped alived v${ALIVED_VERSION}`);
    })();
    return this.stopping;
  }
}

function logDiagnostics(log: Logger, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) {
    const line = formatDiagnostic(d);
    if (d.severity === 'error') log.error({ code: d.code }, line);
    else if (d.severity === 'warning') log.warn({ code: d.code }, line);
    else log.info({ code: d.code }, line);
  }
}
