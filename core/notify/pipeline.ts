import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger';
import { AlivedError, errorText } from '../errors';
import type { AlivedHooks } from '../plugin/hooks';
import type { DeliveryInfo, NotifyEvent } from '../plugin/events';
import type { DeliveryOptions, Notifier } from '../plugin/types';
import { describeEvent, eventSource, eventState } from './describe';
import { Outbox, type OutboxEntry, type OutboxStatus } from './outbox';

/**
 * The one way notifications leave alived. The daemon publishes every event
 * (VRRP transitions, priority changes and lower-priority adverts, real-server
 * and quorum changes, VIPs put back, the checks' smtp_alerts, daemon start,
 * reload and stop) once; each notifier (mail, webhooks, scripts and FIFOs, any plugin's) takes
 * the events it accepts and gets them delivered on its own:
 *
 * - isolated: each notifier, and each event source within it, has its own
 *   queue; a dead, slow or hanging server holds up only that queue (and VRRP
 *   runs in a process of its own anyway);
 * - in order per source (an instance, a sync group, a real server, a virtual
 *   server): an event waits until the one before it is delivered or given up;
 * - retried with exponential backoff and jitter, up to `retryMaxMs` between
 *   attempts, until `maxAgeMs` after it was accepted; then it expires, and
 *   that is logged (ALIVED_NOTIFY_EXPIRED) — nothing accepted is dropped
 *   silently;
 * - durable: an accepted event is written to the outbox (Outbox) before it
 *   is first delivered and removed once done, so a crash or a restart
 *   delivers it after the next start;
 * - flapping coalesced: more than `coalesceLimit` events of one source within
 *   `coalesceWindowMs` are held and delivered as one `flapping` summary at the
 *   end of the window. Held events are in the outbox too (marked held): when
 *   alived dies inside a window, the next start sums them up and sends that.
 *
 * An `immediate` notifier (notify-script: keepalived's scripts and FIFOs) is
 * delivered from publish() itself, in publish order, never queued, retried
 * or kept (keepalived starts them and never looks back); at stop() it is
 * closed first, within IMMEDIATE_CLOSE_TIMEOUT_MS.
 */

export const DELIVERY_DEFAULTS: Required<DeliveryOptions> = {
  retryInitialMs: 1000,
  retryMaxMs: 30_000,
  maxAgeMs: 3_600_000,
  attemptTimeoutMs: 30_000,
  coalesceLimit: 5,
  coalesceWindowMs: 60_000,
  durable: true,
};

/** how long a deliver() may go on after its signal aborted before it counts as failed */
const SETTLE_GRACE_MS = 1000;
/** how long stop() waits for queues to drain before leaving the rest in the outbox */
const DEFAULT_DRAIN_MS = 3000;
const CLOSE_TIMEOUT_MS = 2000;
/**
 * How long an immediate notifier's close() may take at stop(): notify-script
 * waits for its last notifications to start their scripts, gives the
 * scripts their second, then lets the FIFO scripts read to the end.
 */
const IMMEDIATE_CLOSE_TIMEOUT_MS = 15_000;

export interface SinkSpec {
  /** unique: `<keyword>:<name>` (`webhook:ops`, `mail:keepalived`, `script:notify`) */
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  /** the plugin that provides it, for logs */
  readonly plugin?: string;
  readonly notifier: Notifier;
  readonly options?: DeliveryOptions;
  /** delivered from publish(): no queue, outbox, retry or coalescing (notify scripts and FIFOs) */
  readonly immediate?: boolean;
  /** a logger for this notifier; default the pipeline's */
  readonly log?: Logger;
}

export interface NotifierStatus {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly plugin?: string;
  readonly durable: boolean;
  /** waiting or being delivered */
  readonly pending: number;
  /** deliveries started and not settled: one per source, or every running one of an immediate notifier (scripts) */
  readonly inFlight: number;
  /** sources whose next event failed at least once and waits for its next attempt */
  readonly retrying: number;
  /** events held for a flapping summary */
  readonly held: number;
  readonly accepted: number;
  readonly sent: number;
  /** failed for good (the notifier said not to retry) */
  readonly failed: number;
  /** given up at their max age, or at a reload that removed the notifier */
  readonly expired: number;
  /** events folded into flapping summaries */
  readonly coalesced: number;
  readonly attempts: number;
  readonly lastSentAt?: number;
  readonly lastError?: string;
  readonly lastErrorAt?: number;
  /** ms since the oldest pending event was accepted */
  readonly oldestPendingMs?: number;
}

export interface NotifyStatus {
  /** the outbox directory, when there is one */
  readonly outbox: string | undefined;
  readonly durable: boolean;
  /** the outbox's own health: failed writes (a full disk), entries kept in memory only, files moved aside at the start */
  readonly outboxHealth: OutboxStatus;
  readonly published: number;
  readonly notifiers: readonly NotifierStatus[];
}

/** What became of one attempt to deliver an event to one notifier. */
export interface DeliveryOutcome {
  readonly notifier: string;
  readonly event: NotifyEvent;
  /** sent; failed and to be tried again; failed for good; given up at its max age */
  readonly outcome: 'sent' | 'retry' | 'failed' | 'expired';
  readonly attempt: number;
  readonly error?: string;
}

/** One event waiting for one notifier (pending()). */
export interface PendingItem {
  /** `<event id>:<notifier>`: what retryNow() and drop() take */
  readonly key: string;
  readonly notifier: string;
  readonly source: string;
  readonly sequence: number;
  readonly acceptedAt: number;
  /** describeEvent(): `VRRP instance VI_1: BACKUP -> MASTER (priority 150)` */
  readonly summary: string;
  readonly attempts: number;
  readonly lastError: string | null;
  /** waiting its turn, being delivered, waiting for its next attempt, or held for a flapping summary */
  readonly state: 'waiting' | 'delivering' | 'retrying' | 'held';
}

/** What deliverTest() reports of one notifier. */
export interface TestDeliveryResult {
  readonly id: string;
  readonly ok: boolean;
  /** how long deliver() took, ms */
  readonly ms: number;
  readonly error?: string;
  /** the notifier does not take test notifications (error says why) */
  readonly skipped?: true;
}

/** The key of one event for one notifier: the event's id is shared by every notifier it went to. */
export function itemKey(eventId: string, notifier: string): string {
  return `${eventId}:${notifier}`;
}

export interface NotifyPipelineOptions {
  readonly log: Logger;
  /** `--state-dir`: the outbox goes in `<stateDir>/notify`; none: in memory only */
  readonly stateDir?: string;
  /** the `notify` hook is called with every published event */
  readonly hooks?: AlivedHooks;
  /** the defaults of every notifier (the notify_delivery block) */
  readonly defaults?: DeliveryOptions;
  /** every outcome of a delivery but the successes of immediate notifiers (scripts and FIFOs): the status timeline's */
  readonly onDelivery?: (d: DeliveryOutcome) => void;
  /** 0 <= r < 1; default Math.random */
  readonly random?: () => number;
  readonly now?: () => number;
}

interface Pending {
  readonly entry: OutboxEntry;
  readonly written: Promise<void>;
  attempts: number;
  lastError?: string;
}

interface Flap {
  times: number[];
  /** in the outbox as `held` entries, until their summary is */
  held: Pending[];
  timer?: NodeJS.Timeout;
}

interface Sink {
  spec: SinkSpec;
  opts: Required<DeliveryOptions>;
  log: Logger;
  readonly queues: Map<string, Pending[]>;
  /** sources with an attempt in flight or a retry waiting */
  readonly busy: Set<string>;
  readonly timers: Map<string, NodeJS.Timeout>;
  readonly inflight: Map<string, AbortController>;
  readonly flaps: Map<string, Flap>;
  /** deliveries of an immediate notifier (scripts) started and not yet settled */
  running: number;
  accepted: number;
  sent: number;
  failed: number;
  expired: number;
  coalesced: number;
  attempts: number;
  lastSentAt?: number;
  lastError?: string;
  lastErrorAt?: number;
  removed: boolean;
}

/** Backoff before attempt `attempt + 1`: initial x 2^(attempt-1), capped, with "equal jitter" (half fixed, half random). */
export function backoffMs(attempt: number, opts: Pick<Required<DeliveryOptions>, 'retryInitialMs' | 'retryMaxMs'>, random: () => number = Math.random): number {
  const base = Math.min(opts.retryMaxMs, opts.retryInitialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}

export class NotifyPipeline {
  private readonly log: Logger;
  private readonly outbox: Outbox;
  private readonly hooks: AlivedHooks | undefined;
  private defaults: Required<DeliveryOptions>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly sinks = new Map<string, Sink>();
  /** entries read from the outbox whose notifier is not set up yet */
  private orphans: OutboxEntry[] = [];
  private opened = false;
  private sinksSet = false;
  /** no new attempt starts (stop() after its drain) */
  private closed = false;
  private stopping: Promise<void> | undefined;
  private published = 0;
  private readonly onDelivery: ((d: DeliveryOutcome) => void) | undefined;

  constructor(opts: NotifyPipelineOptions) {
    this.log = opts.log;
    this.onDelivery = opts.onDelivery;
    this.outbox = new Outbox({ stateDir: opts.stateDir, log: opts.log });
    this.hooks = opts.hooks;
    this.defaults = { ...DELIVERY_DEFAULTS, ...clean(opts.defaults) };
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Reads the outbox: what it holds is delivered once setSinks() names its
   * notifiers. Throws ALIVED_NOTIFY_OUTBOX_LOCKED when another live alived
   * uses the same state directory.
   */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.orphans = this.outbox.open();
    if (this.orphans.length) {
      this.log.notice(
        { outbox: this.outbox.dir, pending: this.orphans.length },
        `notify outbox: ${this.orphans.length} notification${this.orphans.length === 1 ? '' : 's'} accepted before the last stop will be delivered`,
      );
    }
  }

  /** The defaults of every notifier (notify_delivery); applies to notifiers set from now on. */
  setDefaults(defaults: DeliveryOptions | undefined): void {
    this.defaults = { ...DELIVERY_DEFAULTS, ...clean(defaults) };
  }

  /**
   * The notifiers of the (new) config. A notifier whose id is already here
   * keeps its queues and counters and takes the new notifier object (the old
   * one is closed); a new one starts with what the outbox holds for it; one
   * that is gone has its pending events given up, each logged.
   */
  setSinks(specs: readonly SinkSpec[]): void {
    this.open();
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.id)) {
        this.log.error({ code: 'ALIVED_NOTIFY_FAILED', notifier: spec.id }, `notifier '${spec.id}' is configured twice; the second is ignored`);
        continue;
      }
      seen.add(spec.id);
      const opts = { ...this.defaults, ...clean(spec.options), ...(spec.immediate ? { durable: false, coalesceLimit: 0 } : {}) };
      const old = this.sinks.get(spec.id);
      if (old) {
        if (old.spec.notifier !== spec.notifier) void closeNotifier(old.spec, old.log);
        old.spec = spec;
        old.opts = opts;
        old.log = spec.log ?? this.log.child({ notifier: spec.id });
        continue;
      }
      const sink: Sink = {
        spec,
        opts,
        log: spec.log ?? this.log.child({ notifier: spec.id }),
        queues: new Map(),
        busy: new Set(),
        timers: new Map(),
        inflight: new Map(),
        flaps: new Map(),
        running: 0,
        accepted: 0,
        sent: 0,
        failed: 0,
        expired: 0,
        coalesced: 0,
        attempts: 0,
        removed: false,
      };
      this.sinks.set(spec.id, sink);
    }
    for (const [id, sink] of this.sinks) {
      if (seen.has(id)) continue;
      this.removeSink(sink, 'its notifier is no longer configured');
    }
    // what the outbox held: to its notifier, in sequence order; the rest is given up, each logged
    const orphans = this.orphans;
    this.orphans = [];
    /** held for a flapping summary when the last run ended: by notifier, then source */
    const held = new Map<Sink, Map<string, OutboxEntry[]>>();
    for (const e of orphans) {
      const sink = this.sinks.get(e.sink);
      if (e.held && sink && !sink.spec.immediate) {
        let bySource = held.get(sink);
        if (!bySource) held.set(sink, (bySource = new Map()));
        const list = bySource.get(e.source);
        if (list) list.push(e);
        else bySource.set(e.source, [e]);
        continue;
      }
      if (!sink || sink.spec.immediate) {
        this.log.error(
          { code: 'ALIVED_NOTIFY_EXPIRED', notifier: e.sink, sequence: e.sequence, id: e.id, event: describeEvent(e.event) },
          `notification #${e.sequence} for '${e.sink}' given up: its notifier is no longer configured (${describeEvent(e.event)})`,
        );
        void this.outbox.remove(e);
        continue;
      }
      this.enqueue(sink, { entry: e, written: Promise.resolve(), attempts: 0 });
    }
    for (const [sink, bySource] of held) {
      for (const [source, entries] of bySource) {
        sink.log.warn(
          { notifier: sink.spec.id, source, held: entries.length },
          `notifier '${sink.spec.id}': ${entries.length} notification${entries.length === 1 ? '' : 's'} of ${source} held for a flapping summary when alived last stopped; sent now as one summary`,
        );
        this.summarize(
          sink,
          source,
          entries.map((entry) => ({ entry, written: Promise.resolve(), attempts: 0 })),
        );
      }
    }
    this.sinksSet = true;
    for (const sink of this.sinks.values()) for (const source of sink.queues.keys()) this.pump(sink, source);
  }

  /**
   * One event for every notifier that accepts it. Synchronous and quick:
   * immediate notifiers (scripts, FIFOs) are called here, in order; the
   * others are queued (and written to the outbox) and delivered on their own.
   */
  publish(event: NotifyEvent): void {
    this.published++;
    const hooks = this.hooks;
    if (hooks) void hooks.notify.promise(event).catch(() => undefined);
    const source = eventSource(event);
    let id: string | undefined;
    let sequence = 0;
    for (const sink of this.sinks.values()) {
      let wanted: boolean;
      try {
        wanted = sink.spec.notifier.accepts ? sink.spec.notifier.accepts(event) === true : true;
      } catch (err) {
        this.attemptFailedLog(sink, `accepts() threw: ${errorText(err, { redact: true })}`);
        continue;
      }
      if (!wanted) continue;
      if (id === undefined) {
        id = randomUUID();
        sequence = this.outbox.sequence();
      }
      if (sink.spec.immediate) {
        this.deliverNow(sink, event, { id, sequence, attempt: 1, acceptedAt: this.now() });
        continue;
      }
      this.intake(sink, event, source, id, sequence);
    }
  }

  private deliverNow(sink: Sink, event: NotifyEvent, info: DeliveryInfo): void {
    sink.accepted++;
    sink.attempts++;
    sink.running++;
    let p: Promise<void>;
    try {
      p = Promise.resolve(sink.spec.notifier.deliver(event, new AbortController().signal, info));
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => {
        sink.running--;
        sink.sent++;
        sink.lastSentAt = this.now();
      },
      (err: unknown) => {
        sink.running--;
        sink.failed++;
        sink.lastError = errorText(err, { redact: true });
        sink.lastErrorAt = this.now();
        this.outcome({ notifier: sink.spec.id, event, outcome: 'failed', attempt: 1, error: sink.lastError });
        sink.log.error(
          { code: 'ALIVED_NOTIFY_FAILED', notifier: sink.spec.id, err },
          `notifier '${sink.spec.id}' failed on ${describeEvent(event)}: ${errorText(err, { redact: true })}`,
        );
      },
    );
  }

  /** coalescing: more than coalesceLimit events of a source in coalesceWindowMs are held for a summary */
  private intake(sink: Sink, event: NotifyEvent, source: string, id: string, sequence: number): void {
    const { coalesceLimit: limit, coalesceWindowMs: windowMs } = sink.opts;
    if (!limit || this.closed) {
      this.accept(sink, event, source, id, sequence);
      return;
    }
    const now = this.now();
    let f = sink.flaps.get(source);
    if (!f) sink.flaps.set(source, (f = { times: [], held: [] }));
    f.times = f.times.filter((t) => now - t < windowMs);
    if (f.held.length > 0 || f.times.length >= limit) {
      if (f.held.length === 0) {
        sink.log.warn(
          { notifier: sink.spec.id, source, limit, windowMs },
          `notifier '${sink.spec.id}': ${source} is flapping (more than ${limit} events in ${windowMs / 1000} s); the next are summed up in one notification`,
        );
        f.timer = setTimeout(() => this.flushFlap(sink, source), windowMs);
        f.timer.unref?.();
      }
      const entry: OutboxEntry = { v: 1, id, sequence, sink: sink.spec.id, source, acceptedAt: this.now(), event, held: true };
      f.held.push({ entry, written: sink.opts.durable ? this.outbox.put(entry) : Promise.resolve(), attempts: 0 });
      sink.coalesced++;
      return;
    }
    f.times.push(now);
    this.accept(sink, event, source, id, sequence);
  }

  private flushFlap(sink: Sink, source: string): void {
    const f = sink.flaps.get(source);
    if (!f || f.held.length === 0) return;
    if (f.timer) clearTimeout(f.timer);
    f.timer = undefined;
    const held = f.held;
    f.held = [];
    f.times = [this.now()];
    this.summarize(sink, source, held);
  }

  /** One `flapping` summary for held events; they leave the outbox once it is there. */
  private summarize(sink: Sink, source: string, held: readonly Pending[]): void {
    const events = held.map((p) => p.entry.event);
    const first = events[0]!;
    const last = events[events.length - 1]!;
    const summary: NotifyEvent = {
      type: 'flapping',
      source,
      count: events.length,
      first,
      last,
      states: events.map(eventState),
      spanMs: Math.max(0, last.time - first.time),
      time: this.now(),
    };
    const p = this.accept(sink, summary, source, randomUUID(), this.outbox.sequence());
    void p.written.then(() => Promise.all(held.map((h) => h.written.then(() => this.outbox.remove(h.entry)))));
  }

  private accept(sink: Sink, event: NotifyEvent, source: string, id: string, sequence: number): Pending {
    const entry: OutboxEntry = { v: 1, id, sequence, sink: sink.spec.id, source, acceptedAt: this.now(), event };
    const written = sink.opts.durable ? this.outbox.put(entry) : Promise.resolve();
    sink.accepted++;
    const p: Pending = { entry, written, attempts: 0 };
    this.enqueue(sink, p);
    if (this.sinksSet) this.pump(sink, source);
    return p;
  }

  private enqueue(sink: Sink, p: Pending): void {
    let q = sink.queues.get(p.entry.source);
    if (!q) sink.queues.set(p.entry.source, (q = []));
    q.push(p);
  }

  /** Starts the next attempt of a source, unless one is in flight or waiting. */
  private pump(sink: Sink, source: string): void {
    if (this.closed || sink.removed || sink.busy.has(source)) return;
    const q = sink.queues.get(source);
    while (q && q.length) {
      const p = q[0]!;
      if (this.now() - p.entry.acceptedAt >= sink.opts.maxAgeMs) {
        q.shift();
        this.expire(sink, p, `not delivered within ${Math.round(sink.opts.maxAgeMs / 1000)} s`);
        continue;
      }
      sink.busy.add(source);
      void this.attempt(sink, source, p);
      return;
    }
    sink.queues.delete(source);
  }

  private async attempt(sink: Sink, source: string, p: Pending): Promise<void> {
    p.attempts++;
    sink.attempts++;
    const ac = new AbortController();
    sink.inflight.set(source, ac);
    const timeoutMs = sink.opts.attemptTimeoutMs;
    const abortTimer = setTimeout(() => ac.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    let guard: NodeJS.Timeout | undefined;
    const started = this.now();
    const info: DeliveryInfo = { id: p.entry.id, sequence: p.entry.sequence, attempt: p.attempts, acceptedAt: p.entry.acceptedAt };
    let error: unknown;
    try {
      const work = Promise.resolve().then(() => sink.spec.notifier.deliver(p.entry.event, ac.signal, info));
      // a deliver() that ignores its signal is left behind SETTLE_GRACE_MS after the abort
      const late = new Promise<never>((_, reject) => {
        const onAbort = (): void => {
          guard = setTimeout(
            () => reject(new Error(`${errorText(ac.signal.reason, { redact: true })}; deliver() did not settle after its signal aborted`)),
            SETTLE_GRACE_MS,
          );
        };
        if (ac.signal.aborted) onAbort();
        else ac.signal.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([work, late]);
    } catch (err) {
      error = err ?? new Error('deliver() rejected');
    } finally {
      clearTimeout(abortTimer);
      if (guard) clearTimeout(guard);
      sink.inflight.delete(source);
    }
    const q = sink.queues.get(source);
    if (sink.removed) return; // given up meanwhile (reload removed the notifier)
    if (q?.[0] !== p) {
      // dropped on request while it was being delivered: the source goes on with its next event
      sink.busy.delete(source);
      this.pump(sink, source);
      return;
    }
    const ms = this.now() - started;
    if (error === undefined) {
      q.shift();
      sink.sent++;
      sink.lastSentAt = this.now();
      this.outcome({ notifier: sink.spec.id, event: p.entry.event, outcome: 'sent', attempt: p.attempts });
      sink.log.info(
        { notifier: sink.spec.id, source, sequence: p.entry.sequence, id: p.entry.id, attempt: p.attempts, ms },
        `notifier '${sink.spec.id}': sent ${describeEvent(p.entry.event)}${p.attempts > 1 ? ` (attempt ${p.attempts})` : ''}`,
      );
      void p.written.then(() => this.outbox.remove(p.entry));
      sink.busy.delete(source);
      this.pump(sink, source);
      return;
    }
    const why = errorText(error, { redact: true });
    p.lastError = why;
    sink.lastError = why;
    sink.lastErrorAt = this.now();
    const retry = (error as { retry?: unknown }).retry !== false;
    this.outcome({ notifier: sink.spec.id, event: p.entry.event, outcome: retry ? 'retry' : 'failed', attempt: p.attempts, error: why });
    if (!retry) {
      q.shift();
      sink.failed++;
      sink.log.error(
        { code: 'ALIVED_NOTIFY_FAILED', notifier: sink.spec.id, source, sequence: p.entry.sequence, id: p.entry.id, attempt: p.attempts },
        `notifier '${sink.spec.id}': ${describeEvent(p.entry.event)} failed for good: ${why}`,
      );
      void p.written.then(() => this.outbox.remove(p.entry));
      sink.busy.delete(source);
      this.pump(sink, source);
      return;
    }
    if (this.closed) {
      sink.busy.delete(source);
      return;
    }
    const remaining = sink.opts.maxAgeMs - (this.now() - p.entry.acceptedAt);
    const delay = Math.max(0, Math.min(backoffMs(p.attempts, sink.opts, this.random), remaining));
    sink.log.warn(
      { code: 'ALIVED_NOTIFY_RETRY', notifier: sink.spec.id, source, sequence: p.entry.sequence, id: p.entry.id, attempt: p.attempts, retryInMs: delay },
      `notifier '${sink.spec.id}': ${describeEvent(p.entry.event)} not delivered (attempt ${p.attempts}): ${why}; next attempt in ${(delay / 1000).toFixed(1)} s`,
    );
    const t = setTimeout(() => {
      sink.timers.delete(source);
      sink.busy.delete(source);
      this.pump(sink, source);
    }, delay);
    sink.timers.set(source, t);
  }

  private attemptFailedLog(sink: Sink, why: string): void {
    sink.lastError = why;
    sink.lastErrorAt = this.now();
    sink.log.error({ code: 'ALIVED_NOTIFY_FAILED', notifier: sink.spec.id }, `notifier '${sink.spec.id}': ${why}`);
  }

  private outcome(d: DeliveryOutcome): void {
    try {
      this.onDelivery?.(d);
    } catch (err) {
      this.log.error({ err }, `the delivery outcome handler threw: ${errorText(err)}`);
    }
  }

  private expire(sink: Sink, p: Pending, why: string): void {
    sink.expired++;
    this.outcome({ notifier: sink.spec.id, event: p.entry.event, outcome: 'expired', attempt: p.attempts, error: why });
    sink.log.error(
      {
        code: 'ALIVED_NOTIFY_EXPIRED',
        notifier: sink.spec.id,
        source: p.entry.source,
        sequence: p.entry.sequence,
        id: p.entry.id,
        attempts: p.attempts,
        lastError: p.lastError,
      },
      `notifier '${sink.spec.id}': notification #${p.entry.sequence} given up after ${p.attempts} attempt${p.attempts === 1 ? '' : 's'}, ${why}${p.lastError ? ` (last error: ${p.lastError})` : ''}: ${describeEvent(p.entry.event)}`,
    );
    void p.written.then(() => this.outbox.remove(p.entry));
  }

  private removeSink(sink: Sink, why: string): void {
    sink.removed = true;
    this.sinks.delete(sink.spec.id);
    for (const t of sink.timers.values()) clearTimeout(t);
    for (const f of sink.flaps.values()) {
      if (f.timer) clearTimeout(f.timer);
      for (const p of f.held) this.expire(sink, p, why);
      f.held = [];
    }
    for (const ac of sink.inflight.values()) ac.abort(new Error('notifier removed'));
    for (const q of sink.queues.values()) for (const p of q) this.expire(sink, p, why);
    sink.queues.clear();
    void closeNotifier(sink.spec, sink.log);
  }

  /**
   * Resolves once every notifier set is ready to take events (its ready(),
   * if it has one: notify-script opens its FIFOs); a rejection is logged.
   */
  async ready(): Promise<void> {
    await Promise.all(
      [...this.sinks.values()].map(async (s) => {
        try {
          await s.spec.notifier.ready?.();
        } catch (err) {
          s.log.error(
            { code: 'ALIVED_NOTIFY_FAILED', notifier: s.spec.id, err },
            `notifier '${s.spec.id}': ready() failed: ${errorText(err, { redact: true })}`,
          );
        }
      }),
    );
  }

  /** The notifier object of an id now (a reload hands it to its successor as `previous`). */
  notifierOf(id: string): Notifier | undefined {
    return this.sinks.get(id)?.spec.notifier;
  }

  /** Delivery results of every notifier, for the status model. */
  status(): NotifyStatus {
    const now = this.now();
    return {
      outbox: this.outbox.durable ? this.outbox.dir : undefined,
      durable: this.outbox.durable,
      outboxHealth: this.outbox.status(),
      published: this.published,
      notifiers: [...this.sinks.values()].map((s) => {
        let pending = 0;
        let oldest: number | undefined;
        let retrying = 0;
        for (const q of s.queues.values()) {
          pending += q.length;
          if (q[0]) {
            oldest = Math.min(oldest ?? Infinity, q[0].entry.acceptedAt);
            if (q[0].attempts > 0 && !s.inflight.has(q[0].entry.source)) retrying++;
          }
        }
        let held = 0;
        for (const f of s.flaps.values()) held += f.held.length;
        return {
          id: s.spec.id,
          kind: s.spec.kind,
          name: s.spec.name,
          ...(s.spec.plugin ? { plugin: s.spec.plugin } : {}),
          durable: s.opts.durable && this.outbox.durable,
          pending,
          // an immediate notifier's deliveries run side by side: each running one counts
          inFlight: s.inflight.size + s.running,
          retrying,
          held,
          accepted: s.accepted,
          sent: s.sent,
          failed: s.failed,
          expired: s.expired,
          coalesced: s.coalesced,
          attempts: s.attempts,
          ...(s.lastSentAt !== undefined ? { lastSentAt: s.lastSentAt } : {}),
          ...(s.lastError !== undefined ? { lastError: s.lastError, lastErrorAt: s.lastErrorAt } : {}),
          ...(oldest !== undefined ? { oldestPendingMs: now - oldest } : {}),
        };
      }),
    };
  }

  /** Every event waiting for a notifier (queued, being delivered, or held for a flapping summary), oldest first. */
  pending(): PendingItem[] {
    const out: PendingItem[] = [];
    for (const { sink, p, held } of this.eachPending()) {
      out.push({
        key: itemKey(p.entry.id, sink.spec.id),
        notifier: sink.spec.id,
        source: p.entry.source,
        sequence: p.entry.sequence,
        acceptedAt: p.entry.acceptedAt,
        summary: describeEvent(p.entry.event),
        attempts: p.attempts,
        lastError: p.lastError ?? null,
        state: held
          ? 'held'
          : sink.inflight.has(p.entry.source) && sink.queues.get(p.entry.source)?.[0] === p
            ? 'delivering'
            : p.attempts > 0
              ? 'retrying'
              : 'waiting',
      });
    }
    return out.sort((a, b) => a.sequence - b.sequence || a.notifier.localeCompare(b.notifier));
  }

  private *eachPending(): Generator<{ sink: Sink; p: Pending; held: boolean }> {
    for (const sink of this.sinks.values()) {
      for (const q of sink.queues.values()) for (const p of q) yield { sink, p, held: false };
      for (const f of sink.flaps.values()) for (const p of f.held) yield { sink, p, held: true };
    }
  }

  /**
   * The next attempt now, instead of after its backoff: of the source of
   * the entry `key` names (pending() gives the keys), or of every source.
   * A source has one attempt at a time, in order, so an entry behind
   * another makes the one before it go now. Events held for a flapping
   * summary are summed up and sent now. Returns how many sources start an
   * attempt (one already being delivered counts none).
   */
  retryNow(key?: string): number {
    const sources = new Map<Sink, Set<string>>();
    const flaps = new Map<Sink, Set<string>>();
    for (const { sink, p, held } of this.eachPending()) {
      if (key !== undefined && itemKey(p.entry.id, sink.spec.id) !== key) continue;
      const into = held ? flaps : sources;
      let set = into.get(sink);
      if (!set) into.set(sink, (set = new Set()));
      set.add(p.entry.source);
    }
    let n = 0;
    for (const [sink, set] of flaps) {
      for (const source of set) {
        this.flushFlap(sink, source);
        n++;
      }
    }
    for (const [sink, set] of sources) {
      for (const source of set) {
        const t = sink.timers.get(source);
        if (t) {
          clearTimeout(t);
          sink.timers.delete(source);
          sink.busy.delete(source);
        }
        if (sink.busy.has(source) || this.closed) continue;
        this.pump(sink, source);
        if (sink.busy.has(source)) n++;
      }
    }
    if (n > 0) this.log.notice({ entry: key ?? null, sources: n }, `notify: next attempt now, on request, for ${n} source${n === 1 ? '' : 's'}`);
    return n;
  }

  /**
   * Removes one waiting event for good (from memory and from the outbox),
   * logged; one being delivered is aborted. Resolves false when there is
   * none by that key.
   */
  async drop(key: string): Promise<boolean> {
    for (const { sink, p, held } of this.eachPending()) {
      if (itemKey(p.entry.id, sink.spec.id) !== key) continue;
      const source = p.entry.source;
      if (held) {
        const f = sink.flaps.get(source)!;
        f.held.splice(f.held.indexOf(p), 1);
      } else {
        const q = sink.queues.get(source)!;
        const head = q[0] === p;
        q.splice(q.indexOf(p), 1);
        if (head) {
          const ac = sink.inflight.get(source);
          const t = sink.timers.get(source);
          if (ac) {
            // the attempt ends, sees its event gone and goes on with the next (attempt())
            ac.abort(new Error('dropped on request'));
          } else {
            if (t) clearTimeout(t);
            sink.timers.delete(source);
            sink.busy.delete(source);
            this.pump(sink, source);
          }
        }
        if (q.length === 0 && !sink.busy.has(source)) sink.queues.delete(source);
      }
      sink.log.warn(
        { notifier: sink.spec.id, source, sequence: p.entry.sequence, id: p.entry.id, attempts: p.attempts },
        `notifier '${sink.spec.id}': notification #${p.entry.sequence} dropped on request after ${p.attempts} attempt${p.attempts === 1 ? '' : 's'}: ${describeEvent(p.entry.event)}`,
      );
      await p.written;
      await this.outbox.remove(p.entry);
      return true;
    }
    return false;
  }

  /**
   * A test notification: delivered at once to the notifiers `ids` names
   * (default every one), through each one's own deliver() with its attempt
   * timeout, once, outside the queues and the outbox, never retried and
   * not counted in the status. A notifier whose accepts() declines it is
   * reported as skipped (notify scripts and FIFOs get keepalived's
   * arguments only).
   */
  async deliverTest(event: Extract<NotifyEvent, { type: 'test' }>, ids?: readonly string[]): Promise<TestDeliveryResult[]> {
    // the notifiers are being closed
    if (this.stopping) throw new AlivedError('ALIVED_NOTIFY_FAILED', 'alived is stopping: no test notification now');
    const sinks = ids ? ids.map((id) => this.sinks.get(id)).filter((s): s is Sink => s !== undefined) : [...this.sinks.values()];
    return Promise.all(sinks.map((sink) => this.testOne(sink, event)));
  }

  private async testOne(sink: Sink, event: NotifyEvent): Promise<TestDeliveryResult> {
    const id = sink.spec.id;
    let wanted: boolean;
    try {
      wanted = sink.spec.notifier.accepts ? sink.spec.notifier.accepts(event) === true : true;
    } catch (err) {
      return { id, ok: false, ms: 0, error: `accepts() threw: ${errorText(err, { redact: true })}` };
    }
    if (!wanted) {
      const why = sink.spec.immediate
        ? "not delivered: notify scripts and FIFOs get keepalived's arguments only, and there is no test notification among them"
        : 'not delivered: this notifier does not take test notifications';
      return { id, ok: false, ms: 0, skipped: true, error: why };
    }
    const timeoutMs = sink.opts.attemptTimeoutMs;
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let guard: NodeJS.Timeout | undefined;
    const started = performance.now();
    const info: DeliveryInfo = { id: randomUUID(), sequence: 0, attempt: 1, acceptedAt: this.now() };
    let error: unknown;
    try {
      const work = Promise.resolve().then(() => sink.spec.notifier.deliver(event, ac.signal, info));
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
          guard = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms; deliver() did not settle after its signal aborted`)), SETTLE_GRACE_MS);
        }, timeoutMs);
      });
      await Promise.race([work, late]);
    } catch (err) {
      error = err ?? new Error('deliver() rejected');
    } finally {
      clearTimeout(timer);
      clearTimeout(guard);
    }
    const ms = Math.round((performance.now() - started) * 10) / 10;
    if (error === undefined) {
      sink.log.info({ notifier: id, ms }, `notifier '${id}': test notification sent`);
      return { id, ok: true, ms };
    }
    const why = errorText(error, { redact: true });
    sink.log.warn({ notifier: id, ms }, `notifier '${id}': test notification failed: ${why}`);
    return { id, ok: false, ms, error: why };
  }

  /** Resolves when no event is pending or held anywhere, or after timeoutMs (false then). */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let busy = false;
      for (const s of this.sinks.values()) {
        if (s.queues.size > 0) busy = true;
        for (const f of s.flaps.values()) if (f.held.length) busy = true;
      }
      if (!busy) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * At shutdown, after the last events (STOP of the instances, the checks'
   * last alerts): held flapping events become their summaries, deliveries go
   * on for up to `drainMs`, then attempts in flight are aborted and what is
   * left stays in the outbox for the next start (logged), and every notifier
   * closes. Bounded; never rejects.
   */
  stop(opts: { drainMs?: number } = {}): Promise<void> {
    return (this.stopping ??= this.doStop(opts.drainMs ?? DEFAULT_DRAIN_MS));
  }

  private async doStop(drainMs: number): Promise<void> {
    // immediate notifiers have every event already: they close first (their scripts get their time meanwhile)
    const immediate = [...this.sinks.values()].filter((s) => s.spec.immediate);
    await Promise.all(immediate.map((s) => closeNotifier(s.spec, s.log, IMMEDIATE_CLOSE_TIMEOUT_MS)));
    for (const sink of this.sinks.values()) for (const source of [...sink.flaps.keys()]) this.flushFlap(sink, source);
    await this.drained(drainMs);
    this.closed = true;
    for (const sink of this.sinks.values()) {
      for (const t of sink.timers.values()) clearTimeout(t);
      sink.timers.clear();
      for (const f of sink.flaps.values()) if (f.timer) clearTimeout(f.timer);
      for (const ac of sink.inflight.values()) ac.abort(new Error('alived is stopping'));
    }
    // attempts in flight settle (or are left behind) within the grace
    const until = Date.now() + SETTLE_GRACE_MS + 200;
    while ([...this.sinks.values()].some((s) => s.inflight.size > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    for (const sink of this.sinks.values()) {
      let left = 0;
      const writes: Promise<void>[] = [];
      for (const q of sink.queues.values()) {
        left += q.length;
        for (const p of q) writes.push(p.written);
      }
      await Promise.all(writes);
      if (left === 0) continue;
      if (sink.opts.durable && this.outbox.durable) {
        sink.log.warn(
          { notifier: sink.spec.id, pending: left, outbox: this.outbox.dir },
          `notifier '${sink.spec.id}': ${left} notification${left === 1 ? '' : 's'} not delivered yet; kept in the outbox for the next start`,
        );
      } else {
        for (const q of sink.queues.values()) for (const p of q) this.expire(sink, p, 'alived stopped and the notifier keeps no outbox');
      }
    }
    await Promise.all([...this.sinks.values()].filter((s) => !s.spec.immediate).map((s) => closeNotifier(s.spec, s.log)));
    // the outbox is complete on disk: the next daemon may take it
    this.outbox.close();
  }
}

async function closeNotifier(spec: SinkSpec, log: Logger, timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
  if (!spec.notifier.close) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => spec.notifier.close!()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    log.error({ code: 'ALIVED_NOTIFY_FAILED', notifier: spec.id, err }, `notifier '${spec.id}': close() failed: ${errorText(err, { redact: true })}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function clean(o: DeliveryOptions | undefined): DeliveryOptions {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as DeliveryOptions;
}

/** An error a notifier throws when retrying cannot help (a 4xx answer, a refused recipient): the event fails for good. */
export function permanentFailure(message: string, cause?: unknown): AlivedError & { retry: false } {
  const err = new AlivedError('ALIVED_NOTIFY_FAILED', message, cause !== undefined ? { cause } : undefined) as AlivedError & { retry: false };
  err.retry = false;
  return err;
}
