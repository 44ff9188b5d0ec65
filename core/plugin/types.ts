import type { StatusProvider } from '../status/types';
import type { ApiRoute } from '../api/types';
import type { Pos } from '../config/diagnostics';
import type { SlotName } from '../config/registry';
import type { AnyKeyword, BlockSchema, SlotCheck } from '../config/schema';
import type { ArgsParser } from '../config/values';
import type { Logger } from '../log/logger';
import type { DeliveryInfo, Endpoint, NotifyEvent } from './events';
import type { ConfigModel } from '../config/model';
import type { AlivedHooks } from './hooks';

/**
 * The plugin contract. A plugin is a module whose default export (or
 * `module.exports`) is `{ name, version, apply(api) }`. Built-in checks,
 * trackers and notifiers are plugins of exactly this shape.
 *
 * `apply()` runs when the config is compiled — by `alived -t` too — so it
 * only registers keywords and taps hooks. Sockets, timers and child
 * processes start in a checker's `create()`, a hook, or later.
 */
export interface AlivedPlugin<Options = unknown> {
  readonly name: string;
  readonly version: string;
  /** the alived versions it works with, e.g. `>=0.1.0 <1.0.0`; checked before apply() */
  readonly alived?: string;
  /** the keywords of its options block in `plugins { "<module>" { ... } }` */
  readonly options?: BlockSchema<Options>;
  apply(api: PluginApi<Options>): void | Promise<void>;
}

export interface PluginApi<Options = unknown> {
  /** the plugin's options from the config, validated by its `options` schema */
  readonly options: Options | undefined;
  /** where the plugin was enabled in the config (undefined for built-ins) */
  readonly enabledAt: Pos | undefined;
  readonly hooks: AlivedHooks;
  /** a child logger that names the plugin */
  readonly log: Logger;
  readonly alivedVersion: string;
  registerChecker<C>(def: CheckerDefinition<C>): void;
  registerTracker<C, R>(def: TrackerDefinition<C, R>): void;
  registerNotifier<C>(def: NotifierDefinition<C>): void;
  /**
   * The checker registered for a block keyword (TCP_CHECK, a plugin's own),
   * by whichever plugin registered it; undefined when none is. Look it up
   * when it is needed (in a tracker's create()), not in apply(): plugins
   * applied later register theirs afterwards. vrrp_check runs any checker this way.
   */
  findChecker(keyword: string): CheckerDefinition<unknown> | undefined;
  /** any other keyword, into one of the slots (root, global_defs, vrrp_instance, ...) */
  registerKeyword(slot: SlotName, name: string, keyword: AnyKeyword): void;
  /**
   * A check across a block of a slot once its keywords are parsed (and valid),
   * for rules that tie a plugin's keywords to each other or to the block's own:
   * it reports through ctx.diags, at the positions in `stmt`. Runs at -t too.
   */
  registerBlockCheck(slot: SlotName, check: SlotCheck): void;
  /** runs when the daemon stops, in reverse order of plugins */
  onClose(fn: () => void | Promise<void>): void;
  /**
   * What alived is doing now, its timeline and each new event (docs/status.md).
   * Read it when it is needed, not in apply(): under `alived -t` no daemon
   * runs and snapshot() rejects with ALIVED_STATUS_UNAVAILABLE.
   */
  readonly status: StatusProvider;
  /** a route of the HTTP API (docs/status.md): GET routes are served on every listener, others on the unix socket only */
  registerRoute(route: ApiRoute): void;
}

export interface CheckResult {
  readonly ok: boolean;
  /** why, for the log: `connection refused`, `status 503` */
  readonly message?: string;
  /** a new weight for the real server (MISC_CHECK's misc_dynamic) */
  readonly weight?: number;
}

export interface Checker {
  /** One check. It must settle when `signal` aborts (connect_timeout). */
  check(signal: AbortSignal): Promise<CheckResult>;
  close?(): void | Promise<void>;
}

export interface CheckerContext {
  /** where to connect: connect_ip / connect_port, else the real server */
  readonly target: Endpoint;
  readonly realServer: Endpoint;
  readonly log: Logger;
}

export interface CheckerDefinition<C> {
  /** the block keyword inside real_server, e.g. `TCP_CHECK` */
  readonly keyword: string;
  /** its sub-keywords */
  readonly schema: BlockSchema<C>;
  /** builds a checker for one real server; a definition without it is accepted in configs but not run */
  readonly create?: (config: C, ctx: CheckerContext) => Checker;
  /**
   * The checker's own defaults, used when neither its block, its real_server
   * nor its virtual_server sets them (keepalived's default_retry and
   * default_delay_before_retry): retry 1 and delay_before_retry 1 s unless
   * given; `'delay_loop'` makes delay_before_retry the checker's delay_loop.
   */
  readonly defaults?: { readonly retry?: number; readonly delayBeforeRetry?: number | 'delay_loop' };
  /**
   * Seconds one check may take before the scheduler aborts its signal with
   * a TimeoutError. Unset (or undefined for a config): connect_timeout
   * (the block's, else the real server's, else the virtual server's), or the
   * virtual server's delay_loop for a checker without connect_timeout
   * (MISC_CHECK without misc_timeout).
   */
  readonly timeout?: (config: C) => number | undefined;
  /**
   * The body of the mail (smtp_alert) sent when a checker of this kind goes
   * up (`up` true) or down, given the result's message: keepalived's
   * checkers each have theirs (`=> TCP CHECK failed on service <=`). Unset,
   * or a throw: `=> CHECK succeed on service <=` / `=> CHECK failed on service <=`.
   */
  readonly alertText?: (up: boolean, message: string) => string;
}

export interface TrackerDefinition<C, R> {
  /** a top-level named block defining trackers, e.g. `vrrp_script` (none for track_interface) */
  readonly keyword?: string;
  readonly schema?: BlockSchema<C>;
  /** what references name: `vrrp_script` blocks are referenced by their names */
  readonly defines?: string;
  /** the block of references inside vrrp_instance and vrrp_sync_group, e.g. `track_script` */
  readonly reference: { readonly keyword: string; readonly entry: ArgsParser<R> };
  /** builds the tracker of one block; a definition without it is accepted in configs but not run */
  readonly create?: (config: C, ctx: TrackerContext) => Tracker;
}

export interface TrackerContext {
  /** a logger naming the plugin and the tracker */
  readonly log: Logger;
  /** the block's name (`vrrp_script NAME`) */
  readonly name: string;
  /** created by a reload (SIGHUP), not at startup: keepalived initialises nothing then (no init_file) */
  readonly reload: boolean;
  /**
   * At a reload, the last state of the tracker of the same keyword and name
   * that this one replaces because its block changed: keepalived carries a
   * script's result over a reload rather than starting again.
   */
  readonly previous?: TrackerState;
  /**
   * The tracker cannot run (keepalived's "Disabling track script ..."): its
   * script is refused, not found or its user does not exist. The instances
   * and sync groups that reference it go on as if they did not. Final.
   */
  disable(reason: string): void;
}

export interface TrackerState {
  /** the verdict: a script's OK/KO after rise/fall; for a track_file, not in FAULT with its block's weight */
  readonly up: boolean;
  /** the number a track_file reads (its priority effect is value x weight) */
  readonly value?: number;
  /** what it last saw, in a few words (a script's exit and last line of stderr): shown in the status as the tracker's last result; a change of it alone is no change of state */
  readonly message?: string;
}

export interface Tracker {
  /** Starts watching; `report` is called with the first known state and on every change of it. */
  start(report: (state: TrackerState) => void): void;
  /** Stops for good: no report after it; running scripts are killed. */
  stop(): void | Promise<void>;
}

export interface NotifierDefinition<C> {
  /** a top-level block configuring it, e.g. `webhook`; the first part of its notifiers' ids (`webhook:ops`) */
  readonly keyword: string;
  /**
   * The block's keywords. Without a schema no block is registered: the
   * notifier is configured from other keywords only, and `configure` is
   * required (notify-script: keepalived's notify_* and *_notify_fifo).
   */
  readonly schema?: BlockSchema<C>;
  readonly create?: (config: C, ctx: NotifierContext) => Notifier;
  /**
   * The notifiers to create from a config. Default: one per block of
   * `keyword`, named by its `name` (or the keyword). A notifier configured
   * elsewhere (notify-mail: keepalived's global_defs) returns its own list.
   */
  readonly configure?: (model: ConfigModel, blocks: readonly C[]) => ReadonlyArray<{ readonly name: string; readonly config: C }>;
  /** how the pipeline delivers to a notifier of this config (retries, age, coalescing); default the notify_delivery block's */
  readonly delivery?: (config: C) => DeliveryOptions | undefined;
  /**
   * Delivered from publish() itself, in publish order: no queue, outbox,
   * retry or coalescing, and `delivery` does not apply. For notifiers that only start something and
   * never wait for it (notify-script: keepalived starts its scripts and
   * writes its FIFO lines that way). deliver() must return at once.
   */
  readonly immediate?: boolean;
}

export interface NotifierContext {
  /** a logger naming the plugin and the notifier */
  readonly log: Logger;
  /** the notifier's name: the block's (`webhook ops`), or the one configure() gave */
  readonly name: string;
  /** the whole config (global_defs' router_id, the instances' smtp_alert, ...) */
  readonly model: ConfigModel;
  /** at a reload, the notifier of the same id this one replaces (to carry state over); it is closed afterwards */
  readonly previous?: Notifier;
}

/**
 * One notifier. The pipeline (core/notify) calls accepts() when an event is
 * published, keeps the accepted ones in its outbox, and calls deliver() until
 * it resolves, with retries, in order per event source. deliver() must
 * settle when `signal` aborts; a rejection is retried unless the error says
 * `retry: false` (permanentFailure()).
 */
export interface Notifier {
  /** whether this notifier wants the event; quick and synchronous. Default: every event */
  accepts?(event: NotifyEvent): boolean;
  deliver(event: NotifyEvent, signal: AbortSignal, info: DeliveryInfo): Promise<void>;
  /**
   * Resolves once the notifier can take events (notify-script: its FIFOs
   * are open). The daemon waits for every notifier's, at the start before
   * anything is published, and at a reload before the new config's events;
   * a rejection is logged. Default: ready at once.
   */
  ready?(): Promise<void>;
  close?(): void | Promise<void>;
}

/** How the pipeline delivers to one notifier; unset fields take the defaults (docs/notify.md). */
export interface DeliveryOptions {
  /** first retry after about this many ms (exponential backoff with jitter from there); default 1000 */
  readonly retryInitialMs?: number;
  /** the longest wait between two attempts; default 30000 */
  readonly retryMaxMs?: number;
  /** an event not delivered this long after it was accepted is given up on (logged); default 3600000 */
  readonly maxAgeMs?: number;
  /** one attempt may take this long before its signal aborts; default 30000 */
  readonly attemptTimeoutMs?: number;
  /** more than `coalesceLimit` events of one source within `coalesceWindowMs` become one summary; 0 turns it off. Default 5 in 60000 */
  readonly coalesceLimit?: number;
  readonly coalesceWindowMs?: number;
  /** kept in the outbox across a crash or restart; default true */
  readonly durable?: boolean;
}
