import type { Checker, CheckerDefinition, CheckResult, ExtensionValue, Logger, Tracker, TrackerContext, TrackerState } from '../../core/sdk';

/**
 * One vrrp_check running: its checker (whatever plugin registered it)
 * built once with the address it names (connect_ip, else 127.0.0.1) and
 * run every `interval` seconds, from the start of each check, never two at
 * once (a check still running when the next is due makes that one wait). A
 * check that has not settled after `timeout` is aborted and fails.
 * Successes and failures count towards rise and fall as a vrrp_script's
 * do; the first result decides the first state (keepalived's init state),
 * or it starts down with init_fail. A reload that changes the block starts
 * a new checker from the old state; the old checker is closed.
 */

export interface VrrpCheckConfig {
  name: string;
  interval: number;
  timeout?: number;
  weight: { value: number; reverse: boolean };
  rise: number;
  fall: number;
  initFail?: true;
  extensions: ExtensionValue[];
}

export interface CheckTrackerOptions {
  readonly findChecker: (keyword: string) => CheckerDefinition<unknown> | undefined;
}

/** rise/fall counting: up after `rise` successes in a row, down after `fall` failures in a row; from unknown, the first result decides. */
export class CheckResultCount {
  private ok = 0;
  private ko = 0;
  constructor(
    private readonly rise: number,
    private readonly fall: number,
    public up: boolean | undefined,
  ) {}

  /** records a result; returns the new state when it changed */
  record(success: boolean): boolean | undefined {
    if (success) {
      this.ko = 0;
      this.ok++;
      if (this.up === true) return undefined;
      if (this.up === undefined || this.ok >= this.rise) return (this.up = true);
    } else {
      this.ok = 0;
      this.ko++;
      if (this.up === false) return undefined;
      if (this.up === undefined || this.ko >= this.fall) return (this.up = false);
    }
    return undefined;
  }
}

export function createCheckTracker(config: VrrpCheckConfig, ctx: TrackerContext, opts: CheckTrackerOptions): Tracker {
  const log: Logger = ctx.log;
  const name = config.name;
  const ext = config.extensions[0]!;
  const inner = ext.value as { connectIp?: { address: string }; connectPort?: number; connectTimeout?: number };
  const target = { address: inner.connectIp?.address ?? '127.0.0.1', port: inner.connectPort ?? 0, protocol: 'tcp' as const };
  const intervalMs = config.interval * 1000;
  let report: (s: TrackerState) => void = () => {};
  let checker: Checker | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;
  let current: AbortController | undefined;
  let nextAt = 0;
  let lastMessage: string | undefined;
  const start = ctx.previous ? ctx.previous.up : config.initFail ? false : undefined;
  const count = new CheckResultCount(config.rise, config.fall, start);

  function timeoutMs(def: CheckerDefinition<unknown>): number {
    const s = config.timeout ?? def.timeout?.(ext.value) ?? inner.connectTimeout ?? config.interval;
    return Math.max(1, Math.round(s * 1000));
  }

  function schedule(): void {
    if (stopped) return;
    const now = performance.now();
    nextAt = nextAt + intervalMs > now ? nextAt + intervalMs : now + intervalMs;
    timer = setTimeout(tick, nextAt - now);
  }

  function tick(): void {
    timer = undefined;
    if (stopped) return;
    schedule();
    // a check never doubles: a slow one makes the next wait for it
    if (running) return;
    running = once().finally(() => (running = undefined));
  }

  async function once(): Promise<void> {
    const def = opts.findChecker(ext.keyword)!;
    const ac = new AbortController();
    current = ac;
    const ms = timeoutMs(def);
    const t = setTimeout(() => ac.abort(new DOMException(`the check did not finish within ${ms} ms`, 'TimeoutError')), ms);
    let r: CheckResult;
    try {
      // a checker must settle when its signal aborts; one that does not is given up on a little later
      r = await Promise.race([
        checker!.check(ac.signal),
        new Promise<CheckResult>((resolve) => {
          const late = setTimeout(() => resolve({ ok: false, message: `timed out after ${ms} ms (the checker did not settle)` }), ms + 1000);
          late.unref();
          ac.signal.addEventListener('abort', () => late.refresh(), { once: true });
        }),
      ]);
    } catch (err) {
      r = { ok: false, message: `the checker threw: ${(err as Error)?.message ?? String(err)}` };
    } finally {
      clearTimeout(t);
      current = undefined;
    }
    if (stopped) return;
    const ok = r?.ok === true;
    const message = typeof r?.message === 'string' ? r.message : ok ? 'succeeded' : 'failed';
    const turned = count.record(ok);
    if (turned !== undefined) {
      log.info({ check: name, checker: ext.keyword, up: turned, result: message }, `VRRP_Check(${name}) ${turned ? 'succeeded' : 'failed'}: ${message}`);
      lastMessage = message;
      report({ up: turned });
    } else if (!ok && message !== lastMessage) {
      log.debug({ check: name, checker: ext.keyword, result: message }, `VRRP_Check(${name}) ${message}`);
      lastMessage = message;
    }
  }

  return {
    start(r) {
      report = r;
      const def = opts.findChecker(ext.keyword);
      if (!def?.create) {
        stopped = true;
        ctx.disable(def ? `${ext.keyword} cannot run (its plugin registers no create())` : `no plugin provides ${ext.keyword}`);
        return;
      }
      try {
        checker = def.create(ext.value, { target, realServer: target, log: log.child({ checker: ext.keyword }) });
      } catch (err) {
        stopped = true;
        ctx.disable(`${ext.keyword}: create() failed: ${(err as Error)?.message ?? String(err)}`);
        return;
      }
      if (count.up !== undefined) report({ up: count.up });
      nextAt = performance.now();
      tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const c = checker;
      checker = undefined;
      current?.abort(new DOMException('the tracker stopped', 'AbortError'));
      await running?.catch(() => undefined);
      await c?.close?.();
    },
  };
}
