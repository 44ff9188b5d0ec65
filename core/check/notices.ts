import type { Logger } from '../log/logger';
import type { CheckAlertEvent, CheckResultEvent, NotifyEvent, QuorumChangeEvent, RealServerChangeEvent } from '../plugin/events';
import type { AlivedHooks } from '../plugin/hooks';
import { errorText } from '../errors';
import type { CheckerRun } from './checker-run';
import type { CheckClock } from './clock';
import { realWeight, type RealServerState, type VirtualServerState } from './pool';

/**
 * What the checks tell the rest of alived: the checkResult,
 * realServerChange and quorumChange hooks, and the notifications
 * keepalived's do_rs_notifies() / do_vs_notifies() and smtp_alert() give,
 * which go to `onNotify` (the daemon publishes them to the notifier
 * pipeline). A hook or handler that throws is logged, never passed on.
 */

/**
 * What the checks notify, in keepalived's order: a real server up or down
 * (notify_up / notify_down and the `RS ...` FIFO line go with it), a quorum
 * gained or lost (quorum_up / quorum_down, `VS ...`), and the smtp_alerts
 * (`check-alert`: smtp_alert(SMTP_MSG_RS, ...), SMTP_MSG_VS, SMTP_MSG_RS_SHUT).
 */
export type CheckNotifyEvent = Extract<NotifyEvent, { type: 'real-server' | 'quorum' | 'check-alert' }>;

/** the body of a checker's smtp_alert when its plugin names none (keepalived's HTTP_GET and SMTP_CHECK) */
export const DEFAULT_ALERT_TEXT = { up: '=> CHECK succeed on service <=', down: '=> CHECK failed on service <=' } as const;

export class CheckNotices {
  /** global_defs' no_checker_emails of the running plan */
  noCheckerEmails = false;

  constructor(
    private readonly clock: CheckClock,
    private readonly log: Logger,
    private readonly onNotify: ((event: CheckNotifyEvent) => void) | undefined,
    /** the hooks events go through (the daemon's, the same across reloads) */
    private readonly hooks: AlivedHooks | undefined,
  ) {}

  /**
   * do_rs_notifies(): the realServerChange hook, and the notification that
   * runs notify_up / notify_down and writes the `RS ...` FIFO line
   */
  rsNotifies(vs: VirtualServerState, rs: RealServerState, reason: string, stopping: boolean): void {
    const e: RealServerChangeEvent = {
      virtualServer: vs.plan.name,
      realServer: rs.plan.endpoint,
      up: rs.alive,
      weight: realWeight(rs.effectiveWeight),
      reason,
      ...(stopping ? { stopping: true } : {}),
      time: this.clock.epochNow(),
    };
    this.callHook('realServerChange', e);
    this.notify({ type: 'real-server', ...e });
  }

  /**
   * do_vs_notifies(): the quorumChange hook, the notification that runs
   * quorum_up / quorum_down and writes the `VS ...` FIFO line, then the VS
   * smtp_alert
   */
  vsNotifies(vs: VirtualServerState, init: boolean, threshold: number, weightSum: number, stopping: boolean): void {
    if (stopping && !vs.plan.omega) return;
    const p = vs.plan;
    const up = vs.quorumUp;
    const e: QuorumChangeEvent = {
      virtualServer: p.name,
      up,
      alive: weightSum,
      quorum: p.quorum,
      ...(stopping ? { stopping: true } : {}),
      time: this.clock.epochNow(),
    };
    this.callHook('quorumChange', e);
    this.notify({ type: 'quorum', ...e });
    if (p.smtpAlert) {
      const what = up ? (init ? 'Starting with quorum up' : 'Gained quorum') : init ? 'Starting with quorum down' : 'Lost quorum';
      this.alert({
        kind: 'virtual-server',
        virtualServer: p.name,
        state: up ? 'UP' : 'DOWN',
        message: stopping ? '=> Shutting down <=' : `=> ${what} ${p.quorum}+${p.hysteresis}=${threshold} <= ${weightSum} <=`,
        time: this.clock.epochNow(),
      });
    }
  }

  /**
   * The smtp_alert of a checker's epilog, on a change of the server, or on
   * every change of the checker without no_checker_emails. As smtp_alert()
   * (SMTP_MSG_RS), the subject says the real server's state, which stays
   * DOWN when one checker comes back while another still fails; the body is
   * the checker's own text (`=> TCP CHECK succeed on service <=`).
   */
  checkerAlert(run: CheckerRun, rsWasAlive: boolean, checkerUp: boolean, result: string): void {
    const rs = run.rs;
    if (!rs.plan.smtpAlert) return;
    if (rsWasAlive === rs.alive && this.noCheckerEmails) return;
    this.alert({
      kind: 'real-server',
      virtualServer: run.vs.plan.name,
      service: rs.plan.name,
      realServer: rs.plan.endpoint,
      checker: run.plan.keyword,
      state: rs.alive ? 'UP' : 'DOWN',
      checkerState: checkerUp ? 'UP' : 'DOWN',
      message: this.alertText(run, checkerUp, result),
      time: this.clock.epochNow(),
    });
  }

  /** the checker plugin's text for its alert (alertText), else keepalived's default */
  private alertText(run: CheckerRun, up: boolean, result: string): string {
    const own = run.plan.def.alertText;
    if (own) {
      try {
        const text = own(up, result);
        if (typeof text === 'string' && text) return text;
      } catch (err) {
        run.log.error(
          { code: 'ALIVED_CHECKER_FAILED', plugin: run.plan.plugin, err },
          `Checker ${run.what} of plugin '${run.plan.plugin}': alertText() threw: ${errorText(err)}; keepalived's default text is mailed`,
        );
      }
    }
    return up ? DEFAULT_ALERT_TEXT.up : DEFAULT_ALERT_TEXT.down;
  }

  alert(a: CheckAlertEvent): void {
    this.notify({ type: 'check-alert', ...a });
  }

  private notify(e: CheckNotifyEvent): void {
    try {
      this.onNotify?.(e);
    } catch (err) {
      this.log.error({ err, event: e.type }, 'notification handler threw; notification dropped');
    }
  }

  checkResult(run: CheckerRun, ok: boolean, message: string, durationMs: number, time: number): void {
    const hook = this.hooks?.checkResult;
    // building 10,000 events a second for nobody is not free (isUsed() counts the isolation interceptor too)
    if (!hook || hook.taps.length === 0) return;
    const e: CheckResultEvent = { checker: run.plan.keyword, virtualServer: run.vs.plan.name, realServer: run.rs.plan.endpoint, ok, message, durationMs, time };
    try {
      hook.call(e);
    } catch (err) {
      this.log.error({ err, hook: 'checkResult' }, 'hook checkResult threw past its isolation');
    }
  }

  private callHook(name: 'realServerChange', e: RealServerChangeEvent): void;
  private callHook(name: 'quorumChange', e: QuorumChangeEvent): void;
  private callHook(name: 'realServerChange' | 'quorumChange', e: RealServerChangeEvent | QuorumChangeEvent): void {
    const hook = this.hooks?.[name] as { call(e: unknown): void; taps: unknown[] } | undefined;
    if (!hook || hook.taps.length === 0) return;
    try {
      hook.call(e);
    } catch (err) {
      // the plugin host isolates its taps; a bare hooks object (tests, embedders) may not
      this.log.error({ err, hook: name }, `hook ${name} threw past its isolation`);
    }
  }
}
