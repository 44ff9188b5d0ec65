import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { AlivedError } from '../errors';
import type { StatusDocument, StatusProvider } from '../status/types';
import { TurnBudget } from '../status/turns';
import { acceptsGzip } from './gzip';
import type { ApiRequest, ApiResponse, ApiRoute, DaemonActions } from './types';

const gzipAsync = promisify(zlib.gzip);

/**
 * The core's routes (the list at the top of types.ts), answered from the
 * status provider and the daemon's actions. /v1/events is the server's own
 * (a stream, not one answer): its entry here is for the index and routing.
 */

export const EVENTS_PATH = '/v1/events';

/** `since` / `limit` and the like: a non-negative integer, or undefined when absent */
export function nonNegativeInt(raw: string | null | undefined, name: string): number | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new AlivedError('ALIVED_API_BAD_REQUEST', `${name} must be a non-negative integer, not '${raw.slice(0, 40)}'`);
  return Number(raw);
}

function bodyObject(req: ApiRequest): Record<string, unknown> {
  if (req.body === undefined || req.body === null) return {};
  if (typeof req.body !== 'object' || Array.isArray(req.body)) throw new AlivedError('ALIVED_API_BAD_REQUEST', 'the body must be a JSON object');
  return req.body as Record<string, unknown>;
}

function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new AlivedError('ALIVED_API_BAD_REQUEST', `'${key}' must be a non-empty string`);
  return v;
}

const ok = (body: object) => ({ status: 200, body });

/**
 * The API's readers share one document made at most this long ago: the VRRP
 * part is as old anyway, and the daemon then makes (and serializes) at most
 * one a second however often it is asked.
 */
export const SHARED_STATUS_MS = 1000;
/** After SHARED_STATUS_MS, an answer made of the shared document is still given this much longer while the next is made. */
export const SHARED_STATUS_STALE_MS = 9000;

/** How long an answer made of `doc` may be given to every reader (ApiResponse.shared). */
function sharedFor(doc: StatusDocument): ApiResponse['shared'] {
  return { maxAgeMs: SHARED_STATUS_MS, staleMs: SHARED_STATUS_STALE_MS, ageMs: Math.max(0, Date.now() - doc.generatedAt) };
}

/**
 * JSON.stringify(doc) as UTF-8 bytes, made in parts: a document of
 * thousands of instances and real servers is megabytes, and stringifying it
 * at once would hold the event loop (the checks, the API) for tens of
 * milliseconds. Its two long lists go in parts, a turn of the event loop
 * each (TurnBudget), and each part becomes bytes at once: the megabytes are
 * then in buffers outside the JavaScript heap, not in strings its garbage
 * collector must go over.
 */
export async function serializeInParts(doc: StatusDocument, budget = new TurnBudget()): Promise<Buffer> {
  /** a list's items as JSON, as many a turn as its time allows */
  const list = async (items: readonly object[], out: Buffer[]): Promise<void> => {
    out.push(Buffer.from('['));
    let part: string[] = [];
    let first = true;
    const flush = (): void => {
      if (part.length === 0) return;
      out.push(Buffer.from((first ? '' : ',') + part.join(',')));
      first = false;
      part = [];
    };
    for (const item of items) {
      part.push(JSON.stringify(item));
      if (budget.spent()) {
        flush();
        await budget.next();
      }
    }
    flush();
    out.push(Buffer.from(']'));
  };
  // where the lists go: a string no document holds (a new one each time)
  const MARK = `\u0000${randomUUID()}\u0000`;
  const frame = JSON.stringify({ ...doc, vrrp: { ...doc.vrrp, instances: MARK }, virtualServers: MARK });
  const mark = JSON.stringify(MARK);
  const at = frame.indexOf(mark);
  const rest = frame.slice(at + mark.length);
  const at2 = rest.indexOf(mark);
  const out: Buffer[] = [Buffer.from(frame.slice(0, at))];
  await list(doc.vrrp.instances, out);
  out.push(Buffer.from(rest.slice(0, at2)));
  await list(doc.virtualServers, out);
  out.push(Buffer.from(rest.slice(at2 + mark.length)));
  return concatShared(out);
}

/** Buffer.concat into a SharedArrayBuffer: the bytes reach the API thread without being copied (server.ts). */
export function concatShared(parts: readonly Uint8Array[]): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(parts.reduce((n, p) => n + p.byteLength, 0)));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** How much gzip squeezes: level 1 is a tenth of the default's CPU, and JSON of this shape still comes out about ten times smaller. */
const GZIP_LEVEL = 1;

/** One status document's JSON as bytes, and gzipped once a reader asked for gzip. */
interface StatusBody {
  readonly doc: StatusDocument;
  readonly json: Buffer;
  readonly gzip?: Buffer;
}

/**
 * The bytes of /v1/status, made once per shared document for every reader:
 * while a new document's are being made, readers get the previous ones at
 * once (the document itself is served the same way: stale while
 * revalidate); only the first reader ever waits.
 */
function statusBodies(shared: () => Promise<StatusDocument>): (wantGzip: boolean) => Promise<StatusBody> {
  let current: StatusBody | undefined;
  let making: { doc: StatusDocument; body: Promise<StatusBody> } | undefined;
  let gzipAsked = false;
  const make = async (doc: StatusDocument): Promise<StatusBody> => {
    const json = await serializeInParts(doc);
    const gzip = gzipAsked ? concatShared([await gzipAsync(json, { level: GZIP_LEVEL })]) : undefined;
    const body = { doc, json, ...(gzip && { gzip }) };
    if (!current || current.doc.generatedAt <= doc.generatedAt) current = body;
    return body;
  };
  return async (wantGzip) => {
    if (wantGzip) gzipAsked = true;
    const doc = await shared();
    if (current?.doc === doc && (current.gzip || !wantGzip)) return current;
    let next = making?.doc === doc ? making.body : undefined;
    if (!next) {
      const body = make(doc);
      making = { doc, body };
      const done = (): void => {
        if (making?.body === body) making = undefined;
      };
      body.then(done, done);
      next = body;
    }
    // the previous bytes while the new ones are made; gzip comes with the next document
    return current ?? next;
  };
}

export function coreRoutes(provider: StatusProvider, actions: DaemonActions | undefined): ApiRoute[] {
  const shared = (): Promise<StatusDocument> => provider.snapshot({ maxAgeMs: SHARED_STATUS_MS });
  const statusBody = statusBodies(shared);
  const routes: ApiRoute[] = [
    {
      method: 'GET',
      path: '/v1/status',
      description: 'the whole status document',
      handle: async (req) => {
        const body = await statusBody(acceptsGzip(req.headers['accept-encoding']));
        return {
          status: 200,
          contentType: 'application/json; charset=utf-8',
          body: body.json,
          ...(body.gzip && { gzip: body.gzip }),
          shared: sharedFor(body.doc),
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/instances/:name',
      description: 'one VRRP instance',
      handle: async (req) => {
        const doc = await shared();
        const inst = doc.vrrp.instances.find((i) => i.name === req.params.name);
        if (!inst) throw new AlivedError('ALIVED_API_NOT_FOUND', `no VRRP instance '${req.params.name!.slice(0, 80)}'`);
        return ok(inst);
      },
    },
    {
      method: 'GET',
      path: '/v1/virtual-servers',
      description: 'the virtual servers with their real servers and checks',
      handle: async () => {
        const doc = await shared();
        return { ...ok({ virtualServers: doc.virtualServers }), shared: sharedFor(doc) };
      },
    },
    {
      method: 'GET',
      path: '/v1/timeline',
      description: 'the timeline: ?since=SEQ (events after it), ?limit=N (the newest N)',
      handle: (req) => {
        const since = nonNegativeInt(req.query.get('since'), 'since');
        const limit = nonNegativeInt(req.query.get('limit'), 'limit');
        return ok({ events: provider.timeline({ ...(since !== undefined && { since }), ...(limit !== undefined && { limit }) }) });
      },
    },
    {
      method: 'GET',
      path: EVENTS_PATH,
      description: 'each new timeline event as Server-Sent Events; ?since=SEQ or Last-Event-ID replays the ones after it',
      handle: () => {
        throw new AlivedError('ALIVED_API_FAILED', 'the event stream is served by the server itself');
      },
    },
    {
      method: 'GET',
      path: '/v1/plugins',
      description: 'the plugins loaded, with what each registers',
      handle: () => ok({ plugins: provider.plugins() }),
    },
  ];
  if (!actions) return routes;
  routes.push(
    {
      method: 'POST',
      path: '/v1/notify/test',
      description: 'a test message to one notifier ({"notifier": ID}) or to all, through the delivery pipeline (unix socket only)',
      handle: async (req) => {
        const notifier = optionalString(bodyObject(req), 'notifier');
        const results = await actions.notifyTest(notifier);
        if (notifier !== undefined && results.length === 0) throw new AlivedError('ALIVED_API_NOT_FOUND', `no notifier '${notifier.slice(0, 80)}'`);
        return ok({ results });
      },
    },
    {
      method: 'GET',
      path: '/v1/outbox',
      description: 'the notifications waiting for delivery',
      handle: () => ok({ entries: actions.outbox() }),
    },
    {
      method: 'POST',
      path: '/v1/outbox/retry',
      description: 'the next attempt of one entry ({"id": ID}) or of all, now (unix socket only)',
      handle: (req) => {
        const id = optionalString(bodyObject(req), 'id');
        if (id !== undefined && !actions.outbox().some((e) => e.id === id))
          throw new AlivedError('ALIVED_API_NOT_FOUND', `no outbox entry '${id.slice(0, 80)}'`);
        return ok({ retried: actions.outboxRetry(id) });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/outbox/:id',
      description: 'drops one outbox entry for good (unix socket only)',
      handle: async (req) => {
        const id = req.params.id!;
        if (!(await actions.outboxDrop(id))) throw new AlivedError('ALIVED_API_NOT_FOUND', `no outbox entry '${id.slice(0, 80)}'`);
        return ok({ dropped: id });
      },
    },
  );
  return routes;
}

/** A route's path matched against a request's: the `:name` parameters, or undefined when it does not match. */
export function matchPath(pattern: string, segments: readonly string[]): Record<string, string> | undefined {
  const parts = pattern.split('/').filter(Boolean);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = segments[i]!;
    else if (p !== segments[i]) return undefined;
  }
  return params;
}
