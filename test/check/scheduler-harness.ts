import assert from 'node:assert/strict';
import { CheckScheduler, type CheckNotifyEvent, type CheckSchedulerOptions } from '../../core/check/scheduler';
import type { CheckClock, CheckTimer } from '../../core/check/clock';
import { planChecks } from '../../core/check/plan';
import type { VirtualServerPool } from '../../core/check/pool';
import type { LogRecord } from '../../core/log/logger';
import { PluginHost } from '../../core/plugin/host';
import { currentHooks } from '../../core/plugin/hooks';
import {
  block,
  checkerCommonFields,
  checkerConnectionFields,
  int,
  word,
  type AlivedPlugin,
  type CheckAlertEvent,
  type CheckResult,
  type CheckResultEvent,
  type QuorumChangeEvent,
  type RealServerChangeEvent,
} from '../../core/sdk';
import { CheckScripts } from '../../plugins/notify-script/check-scripts';
import { STOP_SCRIPT_TIMEOUT_MS } from '../../plugins/notify-script/script-notifier';
import { compileText } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * A fake clock, fake checkers and recorders for the scheduler's unit tests:
 * time moves only when a test advances it, checkers answer what the test
 * says each target does, and notifications, hooks, alerts and pools are
 * recorded. `scripts` are the notify_up / notify_down / quorum_up /
 * quorum_down each notification runs, found as the notifier finds them
 * (plugins/notify-script/check-scripts.ts, a reload taking the new config first).
 */

export class FakeClock implements CheckClock {
  t = 0;
  readonly epoch = 1_700_000_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void; seq: number }>();
  randomValue = 0.5;

  now(): number {
    return this.t;
  }
  epochNow(): number {
    return this.epoch + this.t;
  }
  setTimer(ms: number, fn: () => void): CheckTimer {
    const id = ++this.seq;
    // as Node's setTimeout: at least 1 ms, so a timer re-armed for now still lets time pass
    this.timers.set(id, { at: this.t + Math.max(1, ms), fn, seq: id });
    return { id } as unknown as CheckTimer;
  }
  clearTimer(timer: CheckTimer): void {
    this.timers.delete((timer as unknown as { id: number }).id);
  }
  random(): number {
    return this.randomValue;
  }
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promise chains run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flush();
    for (;;) {
      let next: { id: number; at: number; fn: () => void; seq: number } | undefined;
      for (const [id, tm] of this.timers) {
        if (tm.at > end) continue;
        if (!next || tm.at < next.at || (tm.at === next.at && tm.seq < next.seq)) next = { id, ...tm };
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

/** lets every pending promise callback run */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

/** What a fake target does when checked. */
export type Behaviour =
  | 'up'
  | 'down'
  /** settles (down) only when the signal aborts */
  | 'hang'
  /** never settles, not even on abort */
  | 'never'
  | 'throw'
  | 'reject'
  | 'garbage'
  | 'not-promise'
  /** holds the (fake) event loop for 3 s before returning an up result */
  | 'block'
  | { readonly weight: number }
  | ((signal: AbortSignal) => Promise<CheckResult>);

export interface Checked {
  readonly target: string;
  readonly at: number;
}

export class FakeWorld {
  readonly behaviour = new Map<string, Behaviour>();
  readonly checks: Checked[] = [];
  created = 0;
  closed = 0;
  /** targets whose create() throws */
  readonly broken = new Set<string>();
  constructor(private readonly clock: FakeClock) {}

  set(target: string, b: Behaviour): void {
    this.behaviour.set(target, b);
  }

  /** times at which `target` was checked */
  times(target: string): number[] {
    return this.checks.filter((c) => c.target === target).map((c) => c.at);
  }

  plugin(name = 'fake-checks'): AlivedPlugin {
    const world = this;
    return {
      name,
      version: '1.0.0',
      apply(api) {
        api.registerChecker({
          keyword: 'FAKE_CHECK',
          schema: block({ ...checkerConnectionFields, ...checkerCommonFields, tag: word(int({ min: 0, max: 100 })) }),
          create(_config, ctx) {
            const target = `${ctx.target.address}:${ctx.target.port}`;
            if (world.broken.has(target)) throw new Error('cannot build this checker');
            world.created++;
            return {
              check(signal: AbortSignal): Promise<CheckResult> {
                world.checks.push({ target, at: world.clock.now() });
                const b = world.behaviour.get(target) ?? 'up';
                if (typeof b === 'function') return b(signal);
                if (typeof b === 'object') return Promise.resolve({ ok: true, message: `weight ${b.weight}`, weight: b.weight });
                switch (b) {
                  case 'up':
                    return Promise.resolve({ ok: true, message: `${target} up` });
                  case 'down':
                    return Promise.resolve({ ok: false, message: `${target} refused` });
                  case 'hang':
                    return new Promise((resolve) =>
                      signal.addEventListener('abort', () => resolve({ ok: false, message: `${target} timed out` }), { once: true }),
                    );
                  case 'never':
                    return new Promise(() => {});
                  case 'throw':
                    throw new Error('checker bug');
                  case 'reject':
                    return Promise.reject(new Error('socket exploded'));
                  case 'garbage':
                    return Promise.resolve({ ok: 'yes' } as unknown as CheckResult);
                  case 'not-promise':
                    return { ok: true } as unknown as Promise<CheckResult>;
                  case 'block':
                    world.clock.t += 3000;
                    return Promise.resolve({ ok: true, message: 'late but fine' });
                }
              },
              close() {
                world.closed++;
              },
            };
          },
        });
      },
    };
  }
}

export interface Ran {
  readonly argv: readonly string[];
  readonly what: string;
  readonly timeoutMs: number | undefined;
  readonly at: number;
}

export interface Harness {
  readonly clock: FakeClock;
  readonly world: FakeWorld;
  readonly sched: CheckScheduler;
  readonly host: PluginHost;
  /** every notification, in order */
  readonly notified: CheckNotifyEvent[];
  readonly scripts: Ran[];
  readonly results: CheckResultEvent[];
  readonly changes: RealServerChangeEvent[];
  readonly quorum: QuorumChangeEvent[];
  readonly alerts: CheckAlertEvent[];
  readonly pools: VirtualServerPool[];
  readonly records: LogRecord[];
  /** log messages at info and above */
  lines(): string[];
  /** compiles `text` (with a new plugin host, as the daemon does) and reloads */
  reload(text: string): Promise<void>;
}

/** the virtual server around some real servers: delay_loop 10, TCP, NAT, rr */
export function vs(body: string, head = ''): string {
  return `${head}
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  delay_loop 10
${body}
}
`;
}

async function compileWith(text: string, world: FakeWorld, log: ReturnType<typeof memoryLogger>['log']) {
  const host = new PluginHost({ log });
  const { BUILTIN_PLUGINS } = await import('../../core/plugin/builtins');
  const r = await compileText(text, {}, { pluginHost: host, builtins: [...BUILTIN_PLUGINS, world.plugin()] });
  assert.deepEqual(r.errors, [], `config errors:\n${r.errors.join('\n')}\n${text}`);
  await host.hooks.configLoaded.promise(r.model!);
  return { host, model: r.model! };
}

export async function harness(text: string, opts: Partial<CheckSchedulerOptions> & { random?: number } = {}): Promise<Harness> {
  const clock = new FakeClock();
  if (opts.random !== undefined) clock.randomValue = opts.random;
  const world = new FakeWorld(clock);
  const { log, records } = memoryLogger('debug');
  const notified: CheckNotifyEvent[] = [];
  const scripts: Ran[] = [];
  const results: CheckResultEvent[] = [];
  const changes: RealServerChangeEvent[] = [];
  const quorum: QuorumChangeEvent[] = [];
  const alerts: CheckAlertEvent[] = [];
  const checkScripts = new CheckScripts();
  const pools: VirtualServerPool[] = [];
  const tap = (host: PluginHost): void => {
    host.hooks.checkResult.tap('test', (e) => void results.push(e));
    host.hooks.realServerChange.tap('test', (e) => void changes.push(e));
    host.hooks.quorumChange.tap('test', (e) => void quorum.push(e));
  };
  let { host, model } = await compileWith(text, world, log);
  tap(host);
  checkScripts.take(model);
  const onNotify = (e: CheckNotifyEvent): void => {
    notified.push(e);
    if (e.type === 'check-alert') {
      const { type: _type, ...a } = e;
      alerts.push(a);
      return;
    }
    const s = e.type === 'real-server' ? checkScripts.forRealServer(e) : checkScripts.forQuorum(e);
    if (s) scripts.push({ argv: s.script.argv, what: s.what, timeoutMs: e.stopping ? STOP_SCRIPT_TIMEOUT_MS : undefined, at: clock.now() });
  };
  const sched = new CheckScheduler({
    clock,
    log,
    onNotify,
    onPoolChange: (p) => pools.push(p),
    // as the daemon's: one hooks object whose hooks are those of the host running now
    hooks: currentHooks(() => host.hooks),
    ...opts,
  });
  sched.start(planChecks(model, host.checkers));
  await flush();
  const h: Harness = {
    clock,
    world,
    sched,
    get host() {
      return host;
    },
    notified,
    scripts,
    results,
    changes,
    quorum,
    alerts,
    pools,
    records,
    lines: () => records.filter((r) => r.level !== 'debug').map((r) => r.msg),
    async reload(next: string) {
      const old = host;
      ({ host, model } = await compileWith(next, world, log));
      tap(host);
      checkScripts.take(model);
      await sched.reload(planChecks(model, host.checkers));
      await old.close();
      await flush();
    },
  };
  return h;
}

/** the pool of the first virtual server now: `address:port weight` (with `(inhibited)` / `(sorry)`) */
export function poolOf(h: Harness, index = 0): string[] {
  return h.sched
    .pools()
    [index]!.destinations.map((d) => `${d.address}:${d.port} ${d.weight}${d.inhibited ? ' (inhibited)' : ''}${d.role === 'sorry' ? ' (sorry)' : ''}`);
}
