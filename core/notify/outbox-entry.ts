import type { NotifyEvent } from '../plugin/events';

/**
 * The shape of an outbox entry, and its check. An entry is read back from
 * a directory that outlives the daemon: a crash, a full disk, an editor or
 * another program may have left anything there. Nothing read from it is
 * used before it has been checked field by field against this schema;
 * validateEntry() says what is wrong, in words, and never throws.
 */

export interface OutboxEntry {
  readonly v: 1;
  /** the idempotency key */
  readonly id: string;
  readonly sequence: number;
  /** the notifier: `smtp_alert:keepalived`, `webhook:ops` */
  readonly sink: string;
  readonly source: string;
  readonly acceptedAt: number;
  readonly event: NotifyEvent;
  /**
   * held for a flapping summary: not delivered on its own. At a start, the
   * held entries of a source left by the last run become one summary.
   */
  readonly held?: true;
}

/** the largest sequence number alived hands out: far beyond any real count, and exact in a double */
export const MAX_SEQUENCE = 1e15;
/** a flapping summary may hold summaries; deeper nesting is not something alived writes */
const MAX_DEPTH = 3;
const MAX_TEXT = 4096;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const VRRP_STATES = ['INIT', 'BACKUP', 'MASTER', 'FAULT', 'STOP', 'DELETED'];

type Check = (v: unknown, at: string, depth: number) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v, at) =>
  typeof v !== 'string' ? `${at} is not a string` : v.length > MAX_TEXT ? `${at} is longer than ${MAX_TEXT} characters` : undefined;
const time: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e14 ? undefined : `${at} is not a time in ms since the epoch`);
const num: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${at} is not a finite number`);
const bool: Check = (v, at) => (typeof v === 'boolean' ? undefined : `${at} is not true or false`);
const oneOf =
  (values: readonly string[]): Check =>
  (v, at) =>
    typeof v === 'string' && values.includes(v) ? undefined : `${at} is not one of ${values.join(', ')}`;
const optional =
  (c: Check): Check =>
  (v, at, d) =>
    v === undefined ? undefined : c(v, at, d);
const object =
  (fields: Record<string, Check>): Check =>
  (v, at, d) => {
    if (!isObject(v)) return `${at} is not an object`;
    for (const [k, c] of Object.entries(fields)) {
      const why = c(v[k], `${at}.${k}`, d);
      if (why) return why;
    }
    return undefined;
  };

const endpoint = object({ address: str, port: num, protocol: optional(oneOf(['tcp', 'udp', 'sctp'])) });

/** a test notification is never kept in the outbox: an entry of one is not an event this alived delivers */
const EVENTS: Record<Exclude<NotifyEvent['type'], 'test'>, Record<string, Check>> = {
  vrrp: { kind: oneOf(['instance', 'group']), name: str, from: oneOf(VRRP_STATES), to: oneOf(VRRP_STATES), priority: num, reason: str, time },
  'real-server': { virtualServer: str, realServer: endpoint, up: bool, weight: num, reason: str, stopping: optional(bool), time },
  quorum: { virtualServer: str, up: bool, alive: num, quorum: num, stopping: optional(bool), time },
  'check-alert': {
    kind: oneOf(['real-server', 'virtual-server']),
    virtualServer: str,
    service: optional(str),
    realServer: optional(endpoint),
    checker: optional(str),
    state: oneOf(['UP', 'DOWN']),
    checkerState: optional(oneOf(['UP', 'DOWN'])),
    message: str,
    time,
  },
  vip: { instance: str, address: str, action: oneOf(['restored', 'lost']), reason: str, time },
  priority: { instance: str, from: num, to: num, state: oneOf(VRRP_STATES), reason: str, time },
  'master-rx-lower-pri': { instance: str, priority: num, advertPriority: num, sender: str, time },
  'vrrp-state': { kind: oneOf(['instance', 'group']), name: str, state: oneOf(VRRP_STATES), priority: num, time },
  flapping: {
    source: str,
    count: (v, at) => (Number.isSafeInteger(v) && (v as number) > 0 ? undefined : `${at} is not a positive integer`),
    first: (v, at, d) => event(v, at, d + 1),
    last: (v, at, d) => event(v, at, d + 1),
    states: (v, at) =>
      Array.isArray(v) && v.length <= 100_000 && v.every((s) => typeof s === 'string' && s.length <= 64) ? undefined : `${at} is not a list of states`,
    spanMs: num,
    time,
  },
  daemon: { what: oneOf(['start', 'stop', 'reload']), time },
};

/** why `v` is not a NotifyEvent alived can deliver, or undefined when it is one */
export function event(v: unknown, at = 'event', depth = 0): string | undefined {
  if (depth > MAX_DEPTH) return `${at} nests deeper than ${MAX_DEPTH} summaries`;
  if (!isObject(v)) return `${at} is not an object`;
  const type = v.type;
  if (typeof type !== 'string' || !Object.hasOwn(EVENTS, type))
    return `${at}.type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'} is not an event type this alived knows`;
  return object(EVENTS[type as keyof typeof EVENTS])(v, at, depth);
}

/**
 * The entry, when `raw` is one alived can deliver; a string saying what is
 * wrong otherwise. `sink` is the notifier whose folder the file is in:
 * an entry in another notifier's folder is not trusted.
 */
export function validateEntry(raw: unknown, expect: { sink?: string; sequence?: number; id?: string } = {}): OutboxEntry | string {
  if (!isObject(raw)) return 'not a JSON object';
  if (raw.v !== 1) return `version ${JSON.stringify(raw.v)?.slice(0, 20) ?? 'undefined'} is not 1`;
  if (typeof raw.id !== 'string' || !UUID_RE.test(raw.id)) return 'id is not a UUID';
  const seq = raw.sequence;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1 || (seq as number) > MAX_SEQUENCE)
    return `sequence ${String(seq).slice(0, 30)} is not an integer from 1 to ${MAX_SEQUENCE}`;
  const why = str(raw.sink, 'sink', 0) ?? str(raw.source, 'source', 0) ?? time(raw.acceptedAt, 'acceptedAt', 0) ?? event(raw.event);
  if (why) return why;
  if (raw.held !== undefined && raw.held !== true) return 'held is neither true nor absent';
  if (expect.sink !== undefined && raw.sink !== expect.sink)
    return `its notifier '${String(raw.sink).slice(0, 80)}' is not the one of its folder ('${expect.sink}')`;
  if (expect.sequence !== undefined && raw.sequence !== expect.sequence)
    return `its sequence ${String(seq)} is not the one of its file name (${expect.sequence})`;
  if (expect.id !== undefined && raw.id !== expect.id) return 'its id is not the one of its file name';
  return raw as unknown as OutboxEntry;
}
