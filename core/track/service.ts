import type { ConfigModel } from '../config/model';
import type { Logger } from '../log/logger';
import type { AlivedHooks } from '../plugin/hooks';
import type { Tracker, TrackerContext, TrackerState } from '../plugin/types';
import { trackerEffect, type TrackWeight } from './effect';
import { planTrackers, type TrackerDefinitions, type TrackerPlan } from './plan';

/**
 * The trackers of a running daemon, in the main process: one per tracker
 * block that an instance or sync group references (vrrp_script,
 * track_file, and every other tracker a plugin registers), each built by
 * its plugin's create(). It passes on every change of their states, fires
 * the trackerChange hook, keeps the trackers that a reload leaves the same
 * (with their rise/fall counts and state), and holds plugins to their
 * contract: a tracker whose create(), start() or stop() throws, or that
 * reports something that is not a state, is logged with its plugin and
 * counts as down; it never stops the daemon.
 */

/** what the service needs of a plugin host (the daemon's PluginHost) */
export type TrackerPluginHost = TrackerDefinitions;

/** A tracker's state changed. */
export interface TrackerChange {
  /** the block's keyword (its current spelling): vrrp_script, track_file, ... */
  readonly type: string;
  readonly name: string;
  readonly plugin: string;
  /** down also while disabled */
  readonly up: boolean;
  /** the number a track_file reads */
  readonly value?: number;
  /** the tracker cannot run (script refused, not found, no such user): track as if not referenced */
  readonly disabled?: string;
  /** milliseconds since the epoch */
  readonly time: number;
}

/** A tracker's current state. */
export interface TrackerStatus {
  readonly type: string;
  readonly name: string;
  readonly plugin: string;
  /** undefined until its first report (a script before its first result: keepalived's init state) */
  readonly up: boolean | undefined;
  readonly value?: number;
  readonly disabled?: string;
  /** what it last said of itself (TrackerState.message) */
  readonly message?: string;
  /** when the state last changed (ms since the epoch); when it started while it has not reported */
  readonly since: number;
}

export interface TrackerServiceOptions {
  readonly log: Logger;
  /** every change of a tracker's state, the first report included */
  readonly onChange?: (change: TrackerChange) => void;
  /** milliseconds since the epoch; default Date.now */
  readonly now?: () => number;
  /** how long one tracker's stop() may take at reload or stop; default 2 s */
  readonly stopTimeoutMs?: number;
  /** where trackerChange fires: the daemon's one hooks object, the same across reloads (currentHooks) */
  readonly hooks?: AlivedHooks;
}

const DEFAULT_STOP_TIMEOUT_MS = 2000;

/** One running tracker: its plan, the plugin's object, and the last state it reported. */
class Entry {
  tracker: Tracker | undefined;
  state: TrackerState | undefined;
  disabled: string | undefined;
  /** the last message it reported */
  message: string | undefined;
  since: number;
  /** the last report was not a state: logged once until a good one comes */
  garbage = false;
  /** create() or start() threw */
  broken = false;
  stopped = false;
  readonly log: Logger;

  constructor(
    public plan: TrackerPlan,
    log: Logger,
    now: number,
  ) {
    this.since = now;
    this.log = log.child({ plugin: plan.plugin, tracker: plan.type, name: plan.name });
  }

  get what(): string {
    return `${this.plan.type} ${this.plan.name} (plugin '${this.plan.plugin}')`;
  }
}

export class TrackerService {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly hooks: AlivedHooks | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: TrackerServiceOptions) {
    this.log = opts.log.child({ subsystem: 'track' });
    this.now = opts.now ?? Date.now;
    this.hooks = opts.hooks;
  }

  /** Starts a tracker for every referenced tracker block of `model`, with the definitions `host` registered. */
  start(model: ConfigModel, host: TrackerPluginHost): void {
    if (this.started) throw new Error('TrackerService.start() called twice; use reload()');
    this.started = true;
    for (const plan of this.plan(model, host)) this.launch(new Entry(plan, this.log, this.now()), false, undefined);
  }

  /**
   * Applies a reloaded config: a tracker whose block is the same (keyword,
   * name, plugin and every setting) goes on untouched, with its counts and
   * state, and reports nothing; a changed one is replaced by a new one that
   * gets the old one's state (`ctx.previous`) and reports only a change of
   * it; a removed one stops; a new one starts.
   */
  async reload(model: ConfigModel, host: TrackerPluginHost): Promise<void> {
    if (!this.started) return this.start(model, host);
    if (this.stopping) return;
    const plans = this.plan(model, host);
    const wanted = new Set(plans.map((p) => p.key));
    const stops: Array<Promise<void>> = [];
    for (const [key, e] of this.entries) {
      if (wanted.has(key)) continue;
      this.entries.delete(key);
      e.log.info(`${e.what}: no longer tracked; stopped`);
      stops.push(this.halt(e));
    }
    for (const plan of plans) {
      const old = this.entries.get(plan.key);
      // a disabled or broken tracker is tried again: the script, its user or the plugin may have been fixed
      if (old && old.plan.identity === plan.identity && !old.disabled && !old.broken) {
        old.plan = plan;
        continue;
      }
      const e = new Entry(plan, this.log, old?.since ?? this.now());
      if (old) {
        // what the VRRP side last heard stays the state: the new tracker's report of the same is no change
        e.state = old.disabled ? undefined : old.state;
        stops.push(this.halt(old));
        e.log.info(`${e.what}: ${old.plan.identity === plan.identity ? 'tried again' : 'changed; restarted'}`);
      }
      this.launch(e, true, old && !old.disabled && !old.broken ? old.state : undefined);
    }
    await Promise.all(stops);
  }

  /** Stops every tracker (their running scripts are killed); resolves when they have stopped, each within its time. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const all = [...this.entries.values()];
      this.entries.clear();
      await Promise.all(all.map((e) => this.halt(e)));
    })();
    return this.stopping;
  }

  /** The state of every tracker, for the VRRP process when it (re)starts. */
  states(): TrackerStatus[] {
    return [...this.entries.values()].map((e) => ({
      type: e.plan.type,
      name: e.plan.name,
      plugin: e.plan.plugin,
      up: e.disabled ? false : e.state?.up,
      ...(e.state?.value !== undefined && !e.disabled ? { value: e.state.value } : {}),
      ...(e.disabled ? { disabled: e.disabled } : {}),
      ...(e.message !== undefined ? { message: e.message } : {}),
      since: e.since,
    }));
  }

  private plan(model: ConfigModel, host: TrackerPluginHost): TrackerPlan[] {
    const r = planTrackers(model, host);
    for (const u of r.unused)
      this.log.warn({ tracker: u.type, name: u.name }, `${u.type} ${u.name} is not tracked by any vrrp_instance or vrrp_sync_group; not run`);
    for (const n of r.notRun)
      this.log.warn(
        { tracker: n.type, name: n.name, plugin: n.plugin },
        `${n.type} ${n.name}: plugin '${n.plugin}' does not run its trackers; accepted, not run`,
      );
    return r.run;
  }

  private launch(e: Entry, reload: boolean, previous: TrackerState | undefined): void {
    this.entries.set(e.plan.key, e);
    const ctx: TrackerContext = {
      log: e.log,
      name: e.plan.name,
      reload,
      ...(previous ? { previous: { ...previous } } : {}),
      disable: (reason: string) => this.disable(e, reason),
    };
    try {
      const t = e.plan.def.create!(e.plan.config, ctx);
      if (!t || typeof t.start !== 'function' || typeof t.stop !== 'function') throw new Error('create() returned no { start(report), stop() } object');
      e.tracker = t;
    } catch (err) {
      this.broken(e, 'create() failed', err);
      return;
    }
    try {
      e.tracker.start((s) => this.report(e, s));
    } catch (err) {
      this.broken(e, 'start() failed', err);
      void this.halt(e);
    }
  }

  private report(e: Entry, s: unknown): void {
    if (e.stopped || e.disabled || this.entries.get(e.plan.key) !== e) return;
    const state = readState(s);
    if (typeof state === 'string') {
      if (!e.garbage) {
        e.log.error({ code: 'ALIVED_TRACKER_FAILED', plugin: e.plan.plugin, reported: describe(s) }, `${e.what} reported ${state}; counted as down`);
      }
      e.garbage = true;
      this.apply(e, { up: false });
      return;
    }
    e.garbage = false;
    this.apply(e, state);
  }

  /** A tracker that broke its contract counts as down. */
  private broken(e: Entry, what: string, err: unknown): void {
    e.broken = true;
    e.log.error(
      { code: 'ALIVED_TRACKER_FAILED', plugin: e.plan.plugin, err },
      `${e.what}: ${what}: ${(err as Error)?.message ?? String(err)}; counted as down`,
    );
    this.apply(e, { up: false });
  }

  private disable(e: Entry, reason: string): void {
    if (e.stopped || e.disabled || this.entries.get(e.plan.key) !== e) return;
    e.disabled = String(reason);
    e.since = this.now();
    e.log.warn({ code: 'ALIVED_TRACKER_DISABLED', reason: e.disabled }, `Disabling ${e.what}: ${e.disabled}; instances go on as if they did not track it`);
    this.emit(e, { type: e.plan.type, name: e.plan.name, plugin: e.plan.plugin, up: false, disabled: e.disabled, time: e.since });
    void this.halt(e, false);
  }

  private apply(e: Entry, s: TrackerState): void {
    const prev = e.state;
    if (s.message !== undefined) e.message = s.message;
    if (prev && prev.up === s.up && prev.value === s.value) return;
    e.state = s;
    e.since = this.now();
    const change: TrackerChange = {
      type: e.plan.type,
      name: e.plan.name,
      plugin: e.plan.plugin,
      up: s.up,
      ...(s.value !== undefined ? { value: s.value } : {}),
      time: e.since,
    };
    this.emit(e, change);
    const weight = blockWeight(e.plan.config);
    const effect = trackerEffect(s, weight);
    this.hooks?.trackerChange.call({
      type: e.plan.type,
      name: e.plan.name,
      up: s.up,
      weight: effect && !effect.fault ? effect.adjust : 0,
      time: e.since,
    });
  }

  private emit(e: Entry, change: TrackerChange): void {
    try {
      this.opts.onChange?.(change);
    } catch (err) {
      e.log.error({ err }, `${e.what}: the tracker change handler threw`);
    }
  }

  /** Stops one tracker within its time; never throws. `forget`: it is gone from the service. */
  private async halt(e: Entry, forget = true): Promise<void> {
    if (e.stopped) return;
    e.stopped = true;
    if (forget && this.entries.get(e.plan.key) === e) this.entries.delete(e.plan.key);
    const t = e.tracker;
    if (!t) return;
    const ms = this.opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      // called now, not in a later tick: a replaced tracker's script is killed before its successor's first run
      const done = t.stop();
      await Promise.race([
        Promise.resolve(done),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`stop() did not finish within ${ms} ms`)), ms);
        }),
      ]);
    } catch (err) {
      e.log.error({ code: 'ALIVED_TRACKER_FAILED', plugin: e.plan.plugin, err }, `${e.what}: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

/** the longest tracker message kept */
const MAX_MESSAGE = 300;

/** A report as the service takes it, or why it is not a state. */
function readState(s: unknown): TrackerState | string {
  try {
    if (typeof s !== 'object' || s === null) return 'no state object';
    const { up, value, message } = s as { up?: unknown; value?: unknown; message?: unknown };
    if (typeof up !== 'boolean') return `a state whose 'up' is not a boolean`;
    // a message is words for people: anything else is dropped, a long one cut
    const words = typeof message === 'string' ? { message: message.slice(0, MAX_MESSAGE) } : {};
    if (value === undefined) return { up, ...words };
    if (typeof value !== 'number' || !Number.isFinite(value)) return `a state whose 'value' is not a finite number`;
    return { up, value, ...words };
  } catch {
    return 'a state that cannot be read';
  }
}

function describe(s: unknown): string {
  try {
    const j = JSON.stringify(s);
    return j === undefined ? String(s) : j.slice(0, 200);
  } catch {
    return String(s);
  }
}

/** The block's own `weight <N> [reverse]`, as the tracker plugins declare it; 0 without one. */
function blockWeight(config: unknown): TrackWeight {
  const w = (config as { weight?: { value?: unknown; reverse?: unknown } } | null)?.weight;
  return typeof w?.value === 'number' ? { value: w.value, reverse: w.reverse === true } : { value: 0, reverse: false };
}
