import { AsyncParallelHook, AsyncSeriesHook, SyncHook } from 'tapable';
import type {
  CheckResultEvent,
  NotifyEvent,
  PriorityChangeEvent,
  QuorumChangeEvent,
  RealServerChangeEvent,
  ReloadInfo,
  ShutdownInfo,
  TrackerChangeEvent,
  VrrpTransitionEvent,
} from './events';
import type { ConfigModel } from '../config/model';

/**
 * Every hook of alived, in one place. docs/hooks.md describes the same list;
 * a test keeps the two equal. No hook may bail: a tap observes, it cannot
 * veto. Taps are isolated (see `isolateTaps`): one that throws, rejects or
 * hangs is logged with its name, counted, and skipped.
 */
export interface AlivedHooks {
  /** After the config is compiled and valid, before anything runs. Async series. Args: the model. */
  readonly configLoaded: AsyncSeriesHook<[ConfigModel]>;
  /** On SIGHUP, after the new config compiled cleanly, before it is applied. Async series. Args: reload info. */
  readonly beforeReload: AsyncSeriesHook<[ReloadInfo]>;
  /** After a reload is applied. Async series. Args: reload info. */
  readonly afterReload: AsyncSeriesHook<[ReloadInfo]>;
  /** When the daemon stops, before plugins close. Async series. Args: signal and time. */
  readonly shutdown: AsyncSeriesHook<[ShutdownInfo]>;
  /** Every result of every checker, up or down. Sync. */
  readonly checkResult: SyncHook<[CheckResultEvent]>;
  /** A real server went up or down after retry / rise / fall. Sync. */
  readonly realServerChange: SyncHook<[RealServerChangeEvent]>;
  /** A tracker's state or weight changed. Sync. */
  readonly trackerChange: SyncHook<[TrackerChangeEvent]>;
  /** An instance's effective priority changed. Sync. */
  readonly priorityChange: SyncHook<[PriorityChangeEvent]>;
  /** An instance or sync group changed state. Sync; fires before notifications go out. */
  readonly vrrpTransition: SyncHook<[VrrpTransitionEvent]>;
  /** A virtual server gained or lost quorum. Sync. */
  readonly quorumChange: SyncHook<[QuorumChangeEvent]>;
  /** An event about to be delivered; notifiers tap here. Async parallel: one slow notifier delays no other. */
  readonly notify: AsyncParallelHook<[NotifyEvent]>;
}

export type HookName = keyof AlivedHooks;

export const HOOK_NAMES: readonly HookName[] = [
  'configLoaded',
  'beforeReload',
  'afterReload',
  'shutdown',
  'checkResult',
  'realServerChange',
  'trackerChange',
  'priorityChange',
  'vrrpTransition',
  'quorumChange',
  'notify',
];

/** Order of taps on one hook: lower stages run first. Use these, never bare numbers. */
export const STAGE_FIRST = -100;
export const STAGE_DEFAULT = 0;
export const STAGE_LAST = 100;

export function createHooks(): AlivedHooks {
  const hooks: AlivedHooks = {
    configLoaded: new AsyncSeriesHook(['model'], 'configLoaded'),
    beforeReload: new AsyncSeriesHook(['reload'], 'beforeReload'),
    afterReload: new AsyncSeriesHook(['reload'], 'afterReload'),
    shutdown: new AsyncSeriesHook(['shutdown'], 'shutdown'),
    checkResult: new SyncHook(['result'], 'checkResult'),
    realServerChange: new SyncHook(['change'], 'realServerChange'),
    trackerChange: new SyncHook(['change'], 'trackerChange'),
    priorityChange: new SyncHook(['change'], 'priorityChange'),
    vrrpTransition: new SyncHook(['transition'], 'vrrpTransition'),
    quorumChange: new SyncHook(['change'], 'quorumChange'),
    notify: new AsyncParallelHook(['event'], 'notify'),
  };
  return Object.freeze(hooks);
}

export type TapFailure = 'threw' | 'rejected' | 'timeout';

export interface TapIsolation {
  /** how long an async tap may take before it is given up on */
  timeoutMs: (hook: HookName) => number;
  /** who registered a tap, for the log: the plugin being applied when it was tapped */
  ownerOf: () => string | undefined;
  onFailure: (hook: HookName, tap: string, owner: string | undefined, kind: TapFailure, err: unknown) => void;
}

type AnyFn = (...args: unknown[]) => unknown;

/**
 * Wraps every tap, present and future, so that it cannot break its hook:
 * a throw or a rejection is reported and turned into "no result"; an async
 * tap that does not settle in time is reported and left behind.
 */
export function isolateTaps(hooks: AlivedHooks, iso: TapIsolation): void {
  for (const name of HOOK_NAMES) {
    const hook = hooks[name] as unknown as {
      intercept(i: { register: (tap: { type: string; name: string; fn: AnyFn }) => unknown }): void;
    };
    hook.intercept({
      register: (tap) => {
        const owner = iso.ownerOf();
        const fn = tap.fn;
        const fail = (kind: TapFailure, err: unknown): void => iso.onFailure(name, tap.name, owner, kind, err);
        if (tap.type === 'sync') {
          return {
            ...tap,
            fn: (...args: unknown[]) => {
              try {
                return fn(...args);
              } catch (err) {
                fail('threw', err);
                return undefined;
              }
            },
          };
        }
        if (tap.type === 'promise') {
          return {
            ...tap,
            fn: (...args: unknown[]) =>
              settleWithin(
                () => fn(...args) as Promise<unknown>,
                iso.timeoutMs(name),
                (kind, err) => fail(kind, err),
              ),
          };
        }
        // callback style
        return {
          ...tap,
          fn: (...args: unknown[]) => {
            const cb = args.pop() as (err?: unknown, result?: unknown) => void;
            const p = new Promise<unknown>((resolve, reject) => {
              fn(...args, (err: unknown, result: unknown) => (err ? reject(err) : resolve(result)));
            });
            void settleWithin(() => p, iso.timeoutMs(name), (kind, err) => fail(kind, err)).then((r) => cb(null, r));
          },
        };
      },
    });
  }
}

async function settleWithin(run: () => Promise<unknown>, ms: number, fail: (kind: TapFailure, err: unknown) => void): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), ms);
    });
    let work: Promise<unknown>;
    try {
      work = Promise.resolve(run());
    } catch (err) {
      fail('threw', err);
      return undefined;
    }
    const r = await Promise.race([work.then((v) => ({ v }), (err: unknown) => ({ err })), timeout]);
    if (r === TIMED_OUT) {
      fail('timeout', new Error(`did not settle within ${ms} ms`));
      return undefined;
    }
    if ('err' in r) {
      fail('rejected', r.err);
      return undefined;
    }
    return r.v;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const TIMED_OUT = Symbol('timed out');
