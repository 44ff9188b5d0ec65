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
 * Every hook of alived, declared once: its tapable class and arguments, when
 * it fires (`fires`, the text docs/hooks.md shows; a test keeps the two
 * equal), and for an async hook how long one tap may take before it is
 * given up on (`timeoutMs`; a sync tap cannot be timed). `AlivedHooks`,
 * `HOOK_NAMES` and the plugin host's time limits are derived from this
 * table. No hook may bail: a tap observes, it cannot veto. Taps are isolated
 * (see `isolateTaps`): one that throws, rejects or hangs is logged with its
 * name, counted, and skipped.
 */
export const HOOKS = {
  /** After the config is compiled and valid, before anything runs; again after each applied reload. Args: the model. */
  configLoaded: {
    create: () => new AsyncSeriesHook<[ConfigModel]>(['model'], 'configLoaded'),
    fires: 'once the config compiled with no error and every plugin is applied, before anything runs; again after each applied reload',
    timeoutMs: 10_000,
  },
  /** On SIGHUP, after the new config compiled cleanly, before it is applied (taps of the old plugins). Args: reload info. */
  beforeReload: {
    create: () => new AsyncSeriesHook<[ReloadInfo]>(['reload'], 'beforeReload'),
    fires: 'on SIGHUP, after the new config compiled with no error, before it replaces the running one (taps of the *old* plugins)',
    timeoutMs: 10_000,
  },
  /** After a reload is applied (taps of the new plugins). Args: reload info. */
  afterReload: {
    create: () => new AsyncSeriesHook<[ReloadInfo]>(['reload'], 'afterReload'),
    fires: 'after a reload is applied (taps of the *new* plugins)',
    timeoutMs: 10_000,
  },
  /** When the daemon stops, before plugins close. Args: signal and time. */
  shutdown: {
    create: () => new AsyncSeriesHook<[ShutdownInfo]>(['shutdown'], 'shutdown'),
    fires: 'on SIGTERM / SIGINT, once VRRP, the checks and the notifiers have stopped, before plugins close',
    timeoutMs: 10_000,
  },
  /** Every result of every checker, up or down. */
  checkResult: {
    create: () => new SyncHook<[CheckResultEvent]>(['result'], 'checkResult'),
    fires: 'every result of every checker, up or down',
  },
  /** A real server went up or down after retry / rise / fall. */
  realServerChange: {
    create: () => new SyncHook<[RealServerChangeEvent]>(['change'], 'realServerChange'),
    fires: 'a real server went up or down (after retry / rise / fall)',
  },
  /** A tracker's state or weight changed. */
  trackerChange: {
    create: () => new SyncHook<[TrackerChangeEvent]>(['change'], 'trackerChange'),
    fires: "a tracker's state or weight changed (vrrp_script after rise / fall, track_file, track_process, ...)",
  },
  /** An instance's effective priority changed. */
  priorityChange: {
    create: () => new SyncHook<[PriorityChangeEvent]>(['change'], 'priorityChange'),
    fires: "a VRRP instance's effective priority changed (its trackers' weights); before the notification goes out",
  },
  /** An instance or sync group changed state; fires before notifications go out. */
  vrrpTransition: {
    create: () => new SyncHook<[VrrpTransitionEvent]>(['transition'], 'vrrpTransition'),
    fires: 'an instance or sync group changed state; before the notifications go out',
  },
  /** A virtual server gained or lost quorum. */
  quorumChange: {
    create: () => new SyncHook<[QuorumChangeEvent]>(['change'], 'quorumChange'),
    fires: 'a virtual server gained or lost quorum',
  },
  /** An event published to the notifiers, as it is published. Async parallel: observers only; deliver through registerNotifier. */
  notify: {
    create: () => new AsyncParallelHook<[NotifyEvent]>(['event'], 'notify'),
    fires: 'every event published to the notifiers, as it is published (observe it here; deliver through `registerNotifier`)',
    timeoutMs: 60_000,
  },
} as const satisfies Record<string, HookSpec>;

interface HookSpec {
  /** a new, untapped hook of its tapable class */
  readonly create: () => object;
  /** when it fires, as docs/hooks.md says it */
  readonly fires: string;
  /** async hooks: how long one tap may take */
  readonly timeoutMs?: number;
}

/** The hooks object: one hook of each kind in HOOKS. */
export type AlivedHooks = { readonly [K in keyof typeof HOOKS]: ReturnType<(typeof HOOKS)[K]['create']> };

export type HookName = keyof AlivedHooks;

/** every hook's name, in the order of HOOKS (and of docs/hooks.md) */
export const HOOK_NAMES: readonly HookName[] = Object.keys(HOOKS) as HookName[];

/** How long one async tap of `hook` may take by default (a sync hook's taps are not timed: 0). */
export function defaultTapTimeoutMs(hook: HookName): number {
  const spec: HookSpec = HOOKS[hook];
  return spec.timeoutMs ?? 0;
}

/** Order of taps on one hook: lower stages run first. Use these, never bare numbers. */
export const STAGE_FIRST = -100;
export const STAGE_DEFAULT = 0;
export const STAGE_LAST = 100;

export function createHooks(): AlivedHooks {
  const hooks = {} as Record<HookName, object>;
  for (const name of HOOK_NAMES) hooks[name] = HOOKS[name].create();
  return Object.freeze(hooks) as AlivedHooks;
}

/**
 * One hooks object that stays the same while what it reaches changes: each
 * of its hooks is, whenever it is read, that hook of `current()` (the
 * daemon's running plugin host, which a reload replaces). The daemon owns
 * one for its whole life and gives it once to the parts that fire events
 * (the notify pipeline, the checks, the trackers): an event reaches the
 * taps of the plugins of the config running when it fires. Plugins tap
 * their host's own hooks (`api.hooks`), which come and go with their config.
 */
export function currentHooks(current: () => AlivedHooks): AlivedHooks {
  const hooks = {} as Record<HookName, object>;
  for (const name of HOOK_NAMES) Object.defineProperty(hooks, name, { get: () => current()[name], enumerable: true });
  return Object.freeze(hooks) as AlivedHooks;
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
            void settleWithin(
              () => p,
              iso.timeoutMs(name),
              (kind, err) => fail(kind, err),
            ).then((r) => cb(null, r));
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
    const r = await Promise.race([
      work.then(
        (v) => ({ v }),
        (err: unknown) => ({ err }),
      ),
      timeout,
    ]);
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
