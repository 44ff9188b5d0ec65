import { AlivedError, isAlivedError } from '../errors';
import { KeywordRegistry, SLOTS, type SlotName } from '../config/registry';
import { lines, sub, type AnyKeyword, type SlotCheck } from '../config/schema';
import type { Logger } from '../log/logger';
import { ALIVED_VERSION } from '../version';
import { createHooks, defaultTapTimeoutMs, isolateTaps, type AlivedHooks, type HookName, type TapFailure } from './hooks';
import { satisfies } from './semver';
import type { AlivedPlugin, CheckerDefinition, NotifierDefinition, PluginApi, TrackerDefinition } from './types';
import type { Pos } from '../config/diagnostics';
import type { ApiRoute } from '../api/types';
import type { PluginInfo, StatusDocument, StatusProvider, TimelineEvent } from '../status/types';

export interface PluginHostOptions {
  log: Logger;
  /** how long one plugin's apply() may take */
  applyTimeoutMs?: number;
  /** how long one onClose handler may take */
  closeTimeoutMs?: number;
  /** how long an async tap may take, per hook */
  tapTimeoutMs?: (hook: HookName) => number;
}

export interface LoadedPlugin {
  readonly name: string;
  readonly version: string;
  readonly builtin: boolean;
  readonly enabledAt: Pos | undefined;
}

export interface Registered<D> {
  readonly def: D;
  readonly owner: string;
}

export interface TapFailureCount {
  readonly hook: HookName;
  readonly tap: string;
  readonly plugin: string | undefined;
  readonly kind: TapFailure;
  count: number;
}

/** Slots a tracker's reference keyword (track_script, ...) is registered into. */
const TRACKER_REFERENCE_SLOTS: SlotName[] = ['vrrp_instance', 'vrrp_sync_group'];

/**
 * Holds the plugins of one daemon (or one `alived -t` run): applies them in
 * order, each within a timeout, owns the hooks and the keyword registry they
 * extend, counts failing taps, and closes them in reverse order.
 */
export class PluginHost {
  readonly hooks: AlivedHooks;
  readonly registry = new KeywordRegistry();
  readonly checkers = new Map<string, Registered<CheckerDefinition<any>>>();
  readonly trackers = new Map<string, Registered<TrackerDefinition<any, any>>>();
  readonly notifiers = new Map<string, Registered<NotifierDefinition<any>>>();
  readonly plugins: LoadedPlugin[] = [];
  /** the routes plugins added to the HTTP API, in the order they registered them */
  readonly routes: Array<Registered<ApiRoute>> = [];
  /** the daemon's status provider, once a daemon runs this host's plugins (none under alived -t) */
  private statusProvider: StatusProvider | undefined;
  private readonly failures = new Map<string, TapFailureCount>();
  private readonly closers: Array<{ plugin: string; fn: () => void | Promise<void> }> = [];
  private applying: string | undefined;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly options: PluginHostOptions) {
    this.log = options.log;
    this.hooks = createHooks();
    isolateTaps(this.hooks, {
      timeoutMs: (hook) => options.tapTimeoutMs?.(hook) ?? defaultTapTimeoutMs(hook),
      ownerOf: () => this.applying,
      onFailure: (hook, tap, owner, kind, err) => this.tapFailed(hook, tap, owner, kind, err),
    });
  }

  private tapFailed(hook: HookName, tap: string, owner: string | undefined, kind: TapFailure, err: unknown): void {
    const key = `${hook}\0${tap}\0${owner ?? ''}\0${kind}`;
    let f = this.failures.get(key);
    if (!f) this.failures.set(key, (f = { hook, tap, plugin: owner, kind, count: 0 }));
    f.count++;
    this.log.error(
      { code: 'ALIVED_PLUGIN_TAP_FAILED', hook, tap, plugin: owner, failure: kind, count: f.count, err },
      `hook ${hook}: tap '${tap}'${owner && owner !== tap ? ` of plugin '${owner}'` : ''} ${kind === 'timeout' ? 'timed out' : kind}; skipped`,
    );
  }

  /** The daemon's status provider: what api.status answers from. */
  setStatusProvider(provider: StatusProvider): void {
    this.statusProvider = provider;
  }

  /** api.status: the daemon's provider, whenever a plugin asks (it is set after apply()) */
  private readonly status: StatusProvider = {
    snapshot: (): Promise<StatusDocument> =>
      this.statusProvider
        ? this.statusProvider.snapshot()
        : Promise.reject(new AlivedError('ALIVED_STATUS_UNAVAILABLE', 'no daemon runs these plugins (alived -t): there is no status')),
    timeline: (query): readonly TimelineEvent[] => this.statusProvider?.timeline(query) ?? [],
    subscribe: (listener) => this.statusProvider?.subscribe(listener) ?? (() => undefined),
    plugins: (): readonly PluginInfo[] => this.statusProvider?.plugins() ?? [],
  };

  /** Every loaded plugin with what it registered, for the status API and `alived plugins`. */
  pluginInfos(): PluginInfo[] {
    const owned = <D>(m: ReadonlyMap<string, Registered<D>>, owner: string): string[] => [...m.entries()].filter(([, r]) => r.owner === owner).map(([k]) => k);
    return this.plugins.map((p) => ({
      name: p.name,
      version: p.version,
      builtin: p.builtin,
      enabledAt: p.enabledAt ? `${p.enabledAt.file}:${p.enabledAt.line}:${p.enabledAt.col}` : null,
      keywords: SLOTS.flatMap((slot) =>
        this.registry
          .names(slot)
          .filter((n) => this.registry.entry(slot, n)?.owner === p.name)
          .map((n) => `${slot}/${n}`),
      ),
      checkers: owned(this.checkers, p.name),
      trackers: owned(this.trackers, p.name),
      notifiers: owned(this.notifiers, p.name),
    }));
  }

  /** Failing taps so far, for the status model. */
  tapFailures(): TapFailureCount[] {
    return [...this.failures.values()].map((f) => ({ ...f }));
  }

  /**
   * Checks a plugin against the contract and runs its apply(). Throws an
   * AlivedError (with a stable code) when the plugin is not acceptable,
   * fails, or does not finish in time; what it registered before failing is
   * left registered only if it succeeded.
   */
  async apply(plugin: AlivedPlugin<any>, opts: { options?: unknown; enabledAt?: Pos; builtin?: boolean } = {}): Promise<void> {
    validatePlugin(plugin);
    if (this.plugins.some((p) => p.name === plugin.name)) {
      throw new AlivedError('ALIVED_PLUGIN_DUPLICATE', `plugin '${plugin.name}' is loaded twice`);
    }
    if (plugin.alived !== undefined && !satisfies(ALIVED_VERSION, plugin.alived)) {
      throw new AlivedError(
        'ALIVED_PLUGIN_VERSION',
        `plugin '${plugin.name}' ${plugin.version} needs alived ${plugin.alived}; this is alived ${ALIVED_VERSION}`,
      );
    }
    const name = plugin.name;
    const api = this.apiFor(plugin, opts.options, opts.enabledAt);
    const timeoutMs = this.options.applyTimeoutMs ?? 5000;
    this.applying = name;
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = plugin.apply(api);
      if (result && typeof (result as Promise<void>).then === 'function') {
        await Promise.race([
          result,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new AlivedError('ALIVED_PLUGIN_APPLY_TIMEOUT', `plugin '${name}' did not finish apply() within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
      }
    } catch (err) {
      if (isAlivedError(err)) throw err;
      throw new AlivedError('ALIVED_PLUGIN_LOAD_FAILED', `plugin '${name}' failed in apply(): ${(err as Error)?.message ?? String(err)}`, { cause: err });
    } finally {
      if (timer) clearTimeout(timer);
      this.applying = undefined;
    }
    this.plugins.push({ name, version: plugin.version, builtin: opts.builtin ?? false, enabledAt: opts.enabledAt });
  }

  private apiFor(plugin: AlivedPlugin<any>, options: unknown, enabledAt: Pos | undefined): PluginApi<any> {
    const owner = plugin.name;
    const log = this.log.child({ plugin: owner });
    const host = this;
    return Object.freeze({
      options,
      enabledAt,
      hooks: this.hooks,
      log,
      alivedVersion: ALIVED_VERSION,
      registerChecker(def: CheckerDefinition<any>) {
        requireString(def?.keyword, `plugin '${owner}': registerChecker needs a keyword`);
        // acted on once the check scheduler runs checkers (feature 'checker'), whoever provides the check
        host.registry.register('real_server', def.keyword, sub(def.schema).feature('checker').repeatable(), owner);
        host.checkers.set(def.keyword, { def, owner });
      },
      registerTracker(def: TrackerDefinition<any, any>) {
        requireString(def?.reference?.keyword, `plugin '${owner}': registerTracker needs reference.keyword`);
        const feature = 'vrrp-track';
        if (def.keyword) {
          if (!def.schema) throw new AlivedError('ALIVED_PLUGIN_INVALID', `plugin '${owner}': tracker '${def.keyword}' has no schema`);
          host.registry.register('root', def.keyword, sub(def.schema).feature(feature).repeatable(), owner);
        }
        for (const slot of TRACKER_REFERENCE_SLOTS) {
          host.registry.register(slot, def.reference.keyword, lines(def.reference.entry).feature(feature), owner);
        }
        host.trackers.set(def.reference.keyword, { def, owner });
      },
      registerNotifier(def: NotifierDefinition<any>) {
        requireString(def?.keyword, `plugin '${owner}': registerNotifier needs a keyword`);
        if (def.schema) host.registry.register('root', def.keyword, sub(def.schema).feature('notify').repeatable(), owner);
        else if (typeof def.configure !== 'function') {
          throw new AlivedError('ALIVED_PLUGIN_INVALID', `plugin '${owner}': notifier '${def.keyword}' has neither a schema nor configure()`);
        }
        host.notifiers.set(def.keyword, { def, owner });
      },
      findChecker(keyword: string) {
        return host.checkers.get(keyword)?.def as CheckerDefinition<unknown> | undefined;
      },
      registerKeyword(slot: SlotName, name: string, keyword: AnyKeyword) {
        host.registry.register(slot, name, keyword, owner);
      },
      registerBlockCheck(slot: SlotName, check: SlotCheck) {
        host.registry.registerCheck(slot, check, owner);
      },
      status: this.status,
      registerRoute(route: ApiRoute) {
        if (typeof route?.handle !== 'function' || !['GET', 'POST', 'DELETE'].includes(route.method)) {
          throw new AlivedError(
            'ALIVED_PLUGIN_INVALID',
            `plugin '${owner}': registerRoute needs { method: GET | POST | DELETE, path, description, handle(req) }`,
          );
        }
        if (typeof route.path !== 'string' || !/^\/[\w.:/-]*$/.test(route.path)) {
          throw new AlivedError(
            'ALIVED_PLUGIN_INVALID',
            `plugin '${owner}': route path '${String(route.path)}' must start with / and hold only letters, digits, . _ - : /`,
          );
        }
        const taken = host.routes.find((r) => r.def.method === route.method && r.def.path === route.path);
        if (taken)
          throw new AlivedError('ALIVED_PLUGIN_DUPLICATE', `plugin '${owner}': route ${route.method} ${route.path} is registered by '${taken.owner}' already`);
        host.routes.push({ def: route, owner });
      },
      onClose(fn: () => void | Promise<void>) {
        if (typeof fn !== 'function') throw new AlivedError('ALIVED_PLUGIN_INVALID', `plugin '${owner}': onClose needs a function`);
        host.closers.push({ plugin: owner, fn });
      },
    });
  }

  /** Runs every onClose handler, last plugin first, each within its timeout; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const timeoutMs = this.options.closeTimeoutMs ?? 5000;
    for (const { plugin, fn } of [...this.closers].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } catch (err) {
        this.log.error({ code: 'ALIVED_PLUGIN_CLOSE_FAILED', plugin, err }, `plugin '${plugin}': onClose failed`);
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
  }
}

function requireString(v: unknown, message: string): void {
  if (typeof v !== 'string' || v.length === 0) throw new AlivedError('ALIVED_PLUGIN_INVALID', message);
}

/** The contract: `{ name, version, apply }`, with an optional `alived` range and `options` schema. */
export function validatePlugin(p: unknown, where = 'the module'): asserts p is AlivedPlugin<any> {
  const fail = (why: string): never => {
    throw new AlivedError('ALIVED_PLUGIN_INVALID', `${where} is not an alived plugin: ${why}`);
  };
  if (typeof p !== 'object' || p === null) fail('it exports no object (expected { name, version, apply(api) })');
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || !/^[@a-zA-Z0-9][\w./@-]*$/.test(o.name)) fail(`'name' must be a non-empty string of letters, digits and . _ - / @`);
  if (typeof o.version !== 'string' || o.version.length === 0) fail(`plugin '${String(o.name)}' has no 'version' string`);
  if (typeof o.apply !== 'function') fail(`plugin '${String(o.name)}' has no apply(api) function`);
  if (o.alived !== undefined && typeof o.alived !== 'string') fail(`plugin '${String(o.name)}': 'alived' must be a version range string`);
  if (
    o.options !== undefined &&
    (typeof o.options !== 'object' || o.options === null || typeof (o.options as { parseBlock?: unknown }).parseBlock !== 'function')
  ) {
    fail(`plugin '${String(o.name)}': 'options' must be a schema made with block() from alived`);
  }
}
