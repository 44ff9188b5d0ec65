import { errorText } from '../errors';
import type { Logger } from '../log/logger';
import type { StatusDocument, StatusProvider, TimelineKind } from '../status/types';
import { monotonicUsec, sdNotify, type SystemdEnvironment } from './sd-notify';

/**
 * What alived tells systemd under `Type=notify` (docs/systemd.md):
 *
 * - READY=1 once the daemon's start is done (the VRRP process runs its
 *   instances, the checks run), with STATUS= a one-line summary;
 * - STATUS= again when instances change state, real servers go up or down,
 *   a pool gains or loses quorum, the VRRP process dies: at most once per
 *   STATUS_MIN_INTERVAL_MS, the last change always told;
 * - RELOADING=1 with MONOTONIC_USEC at SIGHUP, READY=1 when the reloads
 *   asked for are done, applied or rejected (the STATUS says which);
 * - STOPPING=1 at stop;
 * - WATCHDOG=1 every WATCHDOG_USEC/2 while the VRRP process answers: the
 *   main process pings it over its IPC channel, and the watchdog is fed only
 *   when an answer came within the last half period. A hung or stopped VRRP
 *   process (or main process) stops the pings, and systemd restarts the
 *   service after WatchdogSec=.
 */

/** the shortest time between two STATUS= updates of state changes */
export const STATUS_MIN_INTERVAL_MS = 1000;

/** what the notifier needs of the daemon */
export interface NotifiedDaemon {
  readonly status: StatusProvider;
  /**
   * Pings the VRRP process: whether it answered within timeoutMs, or
   * undefined when the config runs no VRRP process (the watchdog then
   * follows the main process alone).
   */
  pingVrrp(timeoutMs: number): Promise<boolean> | undefined;
}

/** the events whose change shows in the summary */
const SUMMARY_EVENTS: ReadonlySet<TimelineKind> = new Set(['vrrp-transition', 'group-transition', 'real-server', 'quorum', 'vrrp-process']);

function count(n: number, what: string): string {
  return `${n} ${what}`;
}

/**
 * The one-line summary STATUS= carries (systemctl status shows it):
 * `VRRP: 1 master, 2 backup, 0 fault; IPVS: 2/2 virtual servers with quorum, 5/6 real servers up`.
 */
export function statusSummary(doc: StatusDocument): string {
  const parts: string[] = [];
  const instances = doc.vrrp.instances;
  if (instances.length > 0) {
    const by = (s: string): number => instances.filter((i) => i.state === s).length;
    const other = instances.length - by('MASTER') - by('BACKUP') - by('FAULT');
    parts.push(`VRRP: ${by('MASTER')} master, ${by('BACKUP')} backup, ${by('FAULT')} fault${other > 0 ? `, ${other} starting` : ''}`);
  } else if (doc.daemon.vrrpProcess && doc.daemon.vrrpProcess.pid === null) parts.push('VRRP: the VRRP process is restarting');
  const vs = doc.virtualServers;
  if (vs.length > 0) {
    const rs = vs.flatMap((v) => v.realServers);
    parts.push(
      `IPVS: ${vs.filter((v) => v.quorumUp).length}/${count(vs.length, 'virtual servers with quorum')}, ${rs.filter((r) => r.up).length}/${count(rs.length, 'real servers up')}`,
    );
  }
  return parts.length > 0 ? parts.join('; ') : 'running (no VRRP instance, no virtual server)';
}

export class SystemdNotifier {
  private readonly send: (fields: readonly (readonly [string, string | number])[]) => void;
  private readonly clock: () => number;
  private failing = false;
  private stopped = false;
  private isReady = false;
  private reloadsPending = 0;
  /** the outcome of the last reload, said in the STATUS until the next one */
  private reloadNote: string | undefined;
  private lastStatus: string | undefined;
  private lastStatusAt = -Infinity;
  private statusTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  /** when the VRRP process last answered a ping (performance.now()) */
  private lastPong = -Infinity;
  /** watchdog pings sent, and those held back because the VRRP process did not answer */
  watchdogSent = 0;
  watchdogHeld = 0;

  constructor(
    private readonly env: SystemdEnvironment,
    private readonly daemon: NotifiedDaemon,
    private readonly log: Logger,
    options: { send?: (socket: string, fields: readonly (readonly [string, string | number])[]) => void; monotonicUsec?: () => number } = {},
  ) {
    const send = options.send ?? sdNotify;
    this.send = (fields) => send(env.notifySocket, fields);
    this.clock = options.monotonicUsec ?? monotonicUsec;
  }

  /** The daemon's start is done: READY=1 with the summary; the watchdog and the STATUS updates start. */
  async ready(): Promise<void> {
    if (this.stopped || this.isReady) return;
    const line = await this.summary();
    if (this.stopped) return;
    this.isReady = true;
    this.notify([['READY', 1], ...this.statusField(line)]);
    this.unsubscribe = this.daemon.status.subscribe((e) => {
      if (SUMMARY_EVENTS.has(e.kind)) this.scheduleStatus();
    });
    this.startWatchdog();
  }

  /** SIGHUP: the service is reloading until every reload asked for is done (reloaded()). */
  reloading(): void {
    if (this.stopped) return;
    this.reloadsPending++;
    this.notify([
      ['RELOADING', 1],
      ['MONOTONIC_USEC', Math.floor(this.clock())],
      ['STATUS', 'Reloading the configuration'],
    ]);
  }

  /** One reload asked for by reloading() is done: applied, rejected for the errors it found, or failed. */
  async reloaded(outcome: { applied: true } | { applied: false; errors: number } | { failed: string }): Promise<void> {
    if ('failed' in outcome) this.reloadNote = `reload failed (${outcome.failed})`;
    else if (outcome.applied) this.reloadNote = undefined;
    else this.reloadNote = `reload rejected: ${count(outcome.errors, outcome.errors === 1 ? 'error' : 'errors')} in the new config, the running config goes on`;
    this.reloadsPending = Math.max(0, this.reloadsPending - 1);
    if (this.reloadsPending > 0 || this.stopped) return;
    const line = await this.summary();
    if (this.stopped || this.reloadsPending > 0) return;
    this.notify([['READY', 1], ...this.statusField(line)]);
  }

  /** SIGTERM / SIGINT: STOPPING=1; nothing more is sent but what stopping() and failed() say. */
  stopping(): void {
    if (this.stopped) return;
    this.close();
    this.stopped = true;
    this.notify([
      ['STOPPING', 1],
      ['STATUS', 'Stopping'],
    ]);
  }

  /** The start failed: the reason, for `systemctl status`, before the process exits. */
  failed(reason: string): void {
    this.notify([['STATUS', `start failed: ${reason}`]]);
  }

  /** Stops the timers and the subscription. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.statusTimer);
    clearInterval(this.watchdogTimer);
    clearInterval(this.pingTimer);
    this.statusTimer = this.watchdogTimer = this.pingTimer = undefined;
  }

  private notify(fields: readonly (readonly [string, string | number])[]): void {
    try {
      this.send(fields);
      if (this.failing) this.log.notice({ socket: this.env.notifySocket }, `systemd's notify socket ${this.env.notifySocket} takes messages again`);
      this.failing = false;
    } catch (err) {
      // once per run of failures: a watchdog ping every few seconds must not fill the log
      if (!this.failing) {
        this.log.error(
          { code: 'ALIVED_DAEMON_SYSTEMD_NOTIFY', socket: this.env.notifySocket, err: errorText(err) },
          `cannot send ${fields.map(([k]) => k).join(', ')} to systemd's notify socket ${this.env.notifySocket}: ${errorText(err)}`,
        );
      }
      this.failing = true;
    }
  }

  private statusField(line: string): [string, string][] {
    this.lastStatus = line;
    this.lastStatusAt = performance.now();
    return [['STATUS', line]];
  }

  private async summary(): Promise<string> {
    let line: string;
    try {
      line = statusSummary(await this.daemon.status.snapshot());
    } catch (err) {
      line = `running (status unavailable: ${errorText(err)})`;
    }
    return this.reloadNote ? `${this.reloadNote}; ${line}` : line;
  }

  /** A state change: the STATUS follows, at most once per STATUS_MIN_INTERVAL_MS, and never misses the last change. */
  private scheduleStatus(): void {
    if (this.statusTimer || this.stopped) return;
    const wait = Math.max(0, this.lastStatusAt + STATUS_MIN_INTERVAL_MS - performance.now());
    this.statusTimer = setTimeout(() => {
      void this.summary().then((line) => {
        this.statusTimer = undefined;
        // a reload in progress says so until it is done; its READY=1 brings the new summary
        if (this.stopped || this.reloadsPending > 0) return;
        if (line === this.lastStatus) return;
        this.notify(this.statusField(line));
      });
    }, wait);
    this.statusTimer.unref();
  }

  private startWatchdog(): void {
    const usec = this.env.watchdogUsec;
    if (usec === undefined) return;
    const periodMs = Math.max(1, Math.floor(usec / 2000));
    // the VRRP process is asked more often than the watchdog is fed, so one late answer or a restart of a few
    // hundred milliseconds does not cost a ping: the watchdog wants an answer within the last half period
    const pingMs = Math.max(1, Math.min(1000, Math.floor(periodMs / 2)));
    const ping = (): void => {
      const answer = this.daemon.pingVrrp(pingMs);
      if (answer === undefined) this.lastPong = performance.now();
      else void answer.then((ok) => (ok ? (this.lastPong = performance.now()) : undefined));
    };
    ping();
    this.pingTimer = setInterval(ping, pingMs);
    this.pingTimer.unref();
    let holding = 0;
    const feed = (): void => {
      if (this.stopped) return;
      if (performance.now() - this.lastPong <= periodMs) {
        if (holding > 0) this.log.notice({ held: holding }, 'the VRRP process answers again: the systemd watchdog is fed again');
        holding = 0;
        this.watchdogSent++;
        this.notify([['WATCHDOG', 1]]);
      } else {
        this.watchdogHeld++;
        if (holding++ % 10 === 0) {
          this.log.error(
            { held: holding },
            `the VRRP process has not answered for ${Math.round(performance.now() - this.lastPong)} ms: systemd's watchdog is not fed (systemd restarts alived after WatchdogSec=)`,
          );
        }
      }
    };
    // the first ping went out at ready(); its answer feeds the watchdog at once
    setTimeout(feed, Math.min(pingMs, periodMs)).unref();
    this.watchdogTimer = setInterval(feed, periodMs);
    this.watchdogTimer.unref();
  }
}
