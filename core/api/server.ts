import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AlivedError, isAlivedError, type ErrorCode } from '../errors';
import type { Logger } from '../log/logger';
import type { StatusProvider, TimelineEvent } from '../status/types';
import { errorBody, statusOf } from './errors';
import { Refusal } from './refusal';
import { coreRoutes, EVENTS_PATH, matchPath, nonNegativeInt } from './routes';
import { addressText, tcpListenerProblem, type ApiSettings } from './settings';
import type { FromThread, ThreadAddresses, ThreadRequest, ThreadSettings, ToThread, WireAnswer } from './thread-protocol';
import { ApiToken } from './token';
import type { ApiRequest, ApiResponse, ApiRoute, DaemonActions } from './types';

/**
 * alived's HTTP API (docs/api.md): the core's routes and the plugins'
 * (api.registerRoute), on the unix socket and on the TCP addresses the
 * config lists.
 *
 * - The listeners are in a thread of their own (api-thread.ts), which
 *   holds the connections and the limits, checks the token, and gives the
 *   answers routes share (ApiResponse.shared: /v1/status, /metrics) without
 *   the daemon's thread. The rest comes here: routing, the routes'
 *   handlers, the event streams' events.
 * - GET is served everywhere; POST and DELETE (the daemon's actions) only
 *   on the unix socket, whose file mode says who may use it.
 * - Over TCP, a request must carry `Authorization: Bearer TOKEN` when a
 *   token is set; it is compared in constant time and never logged nor
 *   echoed. A TCP listener off loopback without a token is refused.
 * - Limits: connections over every listener, event-stream clients, header
 *   and body size, time to send a request. Every error is JSON
 *   `{ error: { code, message } }` with its HTTP status.
 */

export const API_LIMITS = {
  /** node's maxHeaderSize per listener */
  maxHeaderBytes: 16 * 1024,
  /** a POST body larger is a 413 */
  maxBodyBytes: 64 * 1024,
  /** the time to send a whole request (headers and body) */
  requestTimeoutMs: 10_000,
  /** the event stream's `: ping` comment */
  heartbeatMs: 15_000,
  /** an event-stream client this far behind (bytes not yet sent) is dropped */
  maxStreamBacklogBytes: 1 << 20,
} as const;

export type ApiLimits = { -readonly [K in keyof typeof API_LIMITS]: number };

export interface ApiServerOptions {
  provider: StatusProvider;
  /** the daemon's actions (POST, DELETE); without them, those routes are not served */
  actions?: DaemonActions;
  /** the plugin host's routes, asked at each request (a reload swaps the host) */
  routes: () => readonly { def: ApiRoute; owner: string }[];
  settings: ApiSettings;
  log: Logger;
  /** tests: other limits than API_LIMITS */
  limits?: Partial<ApiLimits>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** after the API thread died: the time before a new one is started */
export const API_THREAD_RESTART_MS = 1000;
/** shared answers remembered (by path and query), as many as the API thread holds */
const MAX_SENT = 32;

/**
 * Bytes to post to the API thread. Bytes in a SharedArrayBuffer go as they
 * are, shared, not copied (the big ones: the status document's, the
 * metrics page's); others are copied, and a view of part of a larger
 * buffer is copied alone, or the whole buffer would be.
 */
function wireBytes(b: Buffer): Uint8Array {
  if (b.buffer instanceof SharedArrayBuffer) return b;
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

export class ApiServer {
  private settings: ApiSettings;
  private readonly limits: ApiLimits;
  private readonly log: Logger;
  private readonly core: ApiRoute[];
  private thread: Worker | undefined;
  private started = false;
  private seq = 0;
  /** commands sent to the API thread, by seq */
  private readonly pending = new Map<number, { resolve: (m: FromThread) => void; reject: (err: Error) => void }>();
  private addrs: ThreadAddresses = { socket: null, tcp: [] };
  /** open event streams, each with the function that ends it */
  private readonly streams = new Map<number, () => void>();
  /** the last shared answer sent for each path and query */
  private readonly sent = new Map<string, { version: number; body: unknown; gzip: unknown }>();
  private version = 0;

  constructor(private readonly opts: ApiServerOptions) {
    this.settings = opts.settings;
    this.limits = { ...API_LIMITS, ...opts.limits };
    this.log = opts.log;
    this.core = coreRoutes(opts.provider, opts.actions);
  }

  /** Opens every listener; on a failure closes the ones opened and throws ALIVED_API_LISTEN naming the address. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const error = await this.configure(true);
    if (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * A reload's new settings: the token and the limits apply to the next
   * request; a listener whose address, TLS or socket changed is restarted,
   * the others (the unix socket among them) stay. A listener that cannot
   * open is an ALIVED_API_LISTEN error, after every other change is made.
   */
  async reconfigure(next: ApiSettings): Promise<void> {
    this.settings = next;
    if (!this.started) return;
    const error = await this.configure(false);
    if (error) throw error;
  }

  /** Closes every listener, ends the event streams, removes the socket file it made, and stops the API thread. */
  async stop(): Promise<void> {
    this.started = false;
    for (const end of [...this.streams.values()]) end();
    const thread = this.thread;
    if (!thread) return;
    try {
      await this.command(thread, (seq) => ({ type: 'stop', seq }));
    } catch {
      // the thread is gone: its listeners with it
    }
    this.thread = undefined;
    this.addrs = { socket: null, tcp: [] };
    await thread.terminate();
  }

  /** Where it listens now: the unix socket's path and each TCP address with the port bound (port 0 in the settings: the kernel's). */
  addresses(): { socket: string | null; tcp: { host: string; port: number }[] } {
    return { socket: this.addrs.socket, tcp: this.addrs.tcp.map((a) => ({ ...a })) };
  }

  // -------------------------------------------------------------------------
  // the API thread

  /** Sends the settings to the API thread (started when there is none); the error it met, if any. */
  private async configure(initial: boolean): Promise<AlivedError | undefined> {
    let thread = this.thread;
    if (!thread) {
      thread = this.startThread();
      initial = true;
    }
    const s = this.settings;
    const settings: ThreadSettings = {
      socket: s.socket,
      tcp: s.tcp.map((l) => ({ host: l.host, port: l.port, name: addressText(l), problem: tcpListenerProblem(l, s) ?? null })),
      tokenDigest: s.token ? ApiToken.digestOf(s.token) : null,
      tls: s.tls ? { cert: s.tls.cert, key: s.tls.key } : null,
      maxConnections: s.maxConnections,
    };
    const r = await this.command(thread, (seq) => ({ type: 'configure', seq, settings, limits: this.limits, initial }));
    if (r.type !== 'configured') return undefined;
    this.addrs = r.addresses;
    return r.error && new AlivedError(r.error.code as ErrorCode, r.error.message);
  }

  private startThread(): Worker {
    const thread = new Worker(path.join(__dirname, 'api-thread.js'));
    thread.on('message', (m: FromThread) => this.onMessage(m));
    const gone = (err: Error): void => this.threadGone(thread, err);
    thread.on('error', gone);
    thread.on('exit', (code) => gone(new Error(`the API thread exited (code ${code})`)));
    this.thread = thread;
    return thread;
  }

  private command(thread: Worker, make: (seq: number) => ToThread): Promise<FromThread> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      thread.postMessage(make(seq));
    });
  }

  /** The API thread died (a fault in it): what waited on it fails, and a new one takes the listeners after a second. */
  private threadGone(thread: Worker, err: Error): void {
    if (this.thread !== thread) return;
    this.thread = undefined;
    this.addrs = { socket: null, tcp: [] };
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const end of [...this.streams.values()]) end();
    this.sent.clear();
    if (!this.started) return;
    this.log.error({ err: err.message }, `the HTTP API thread stopped (${err.message}); a new one is started in ${API_THREAD_RESTART_MS / 1000} s`);
    setTimeout(() => {
      if (!this.started || this.thread) return;
      this.configure(true).then(
        (error) => error && this.log.error({ code: error.code, err: error.message }, `the HTTP API after its thread restarted: ${error.message}`),
        (e: unknown) => this.log.error({ err: String(e) }, 'the HTTP API thread could not be started again'),
      );
    }, API_THREAD_RESTART_MS).unref();
  }

  private post(m: ToThread): void {
    this.thread?.postMessage(m);
  }

  private onMessage(m: FromThread): void {
    switch (m.type) {
      case 'configured':
      case 'stopped': {
        const p = this.pending.get(m.seq);
        this.pending.delete(m.seq);
        p?.resolve(m);
        return;
      }
      case 'request':
        void this.answer(m).then((answer) => answer && this.post({ type: 'answer', id: m.id, answer }));
        return;
      case 'closed':
        this.streams.get(m.id)?.();
        return;
      case 'log':
        this.log[m.level]({ ...m.fields }, m.msg);
        return;
    }
  }

  // -------------------------------------------------------------------------
  // requests

  /** The answer to a request; null when it is an event stream, already answered. */
  private async answer(m: ThreadRequest): Promise<WireAnswer | null> {
    try {
      return await this.route(m);
    } catch (err) {
      if (err instanceof Refusal) return errorAnswer(err.code, err.message, err.headers, err.status);
      if (isAlivedError(err) && statusOf(err.code) !== 500) return errorAnswer(err.code, err.message);
      // a route that failed: its message, never its stack
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ method: m.method, path: m.url.split('?')[0]!.slice(0, 200), err: message }, 'HTTP API route failed');
      return errorAnswer('ALIVED_API_FAILED', message);
    }
  }

  private async route(m: ThreadRequest): Promise<WireAnswer | null> {
    let url: URL;
    let segments: string[];
    try {
      url = new URL(m.url, 'http://alived.invalid');
      segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new Refusal('ALIVED_API_BAD_REQUEST', 'the request path is malformed');
    }
    const method = m.method === 'HEAD' ? 'GET' : m.method;
    const routes = [...this.core.map((def) => ({ def, owner: 'core' })), ...this.opts.routes()];
    if (segments.length === 0) {
      if (method !== 'GET') throw new Refusal('ALIVED_API_METHOD', `${method} is not served at /; GET is`, { Allow: 'GET, HEAD' });
      return this.wire(m, {
        status: 200,
        body: { routes: routes.map((r) => ({ method: r.def.method, path: r.def.path, description: r.def.description })) },
      });
    }
    let route: { def: ApiRoute; owner: string } | undefined;
    let params: Record<string, string> | undefined;
    const methods = new Set<string>();
    for (const r of routes) {
      const p = matchPath(r.def.path, segments);
      if (!p) continue;
      methods.add(r.def.method);
      if (!route && r.def.method === method) {
        route = r;
        params = p;
      }
    }
    if (methods.size === 0) throw new Refusal('ALIVED_API_NOT_FOUND', `no route at ${url.pathname.slice(0, 200)} (GET / lists them)`);
    if (!route) {
      const allow = [...methods].flatMap((x) => (x === 'GET' ? ['GET', 'HEAD'] : [x])).join(', ');
      throw new Refusal('ALIVED_API_METHOD', `${method.slice(0, 20)} is not served at ${url.pathname.slice(0, 200)}; ${[...methods].join(', ')} is`, {
        Allow: allow,
      });
    }
    if (route.def.method !== 'GET' && m.transport === 'tcp') {
      throw new Refusal('ALIVED_API_FORBIDDEN', `${route.def.method} ${route.def.path} is an action: actions are taken on the unix socket only`);
    }
    let body: unknown;
    if (method === 'POST' && m.body !== undefined) {
      try {
        body = JSON.parse(m.body) as unknown;
      } catch {
        throw new Refusal('ALIVED_API_BAD_REQUEST', 'the request body is not valid JSON');
      }
    }
    if (route.owner === 'core' && route.def.path === EVENTS_PATH) {
      // HEAD: the headers of a stream, without opening one
      if (m.method === 'HEAD') return this.wire(m, { status: 200, contentType: 'text/event-stream; charset=utf-8', body: '' });
      this.stream(m, url);
      return null;
    }
    const answer = await route.def.handle({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: m.headers,
      transport: m.transport,
      body,
      params: params!,
    } satisfies ApiRequest);
    return this.wire(m, answer);
  }

  /** A route's answer as it goes to the API thread; a shared one it holds already (the same bytes) goes as its new age only. */
  private wire(m: ThreadRequest, answer: ApiResponse): WireAnswer {
    const raw = typeof answer.body === 'string' || Buffer.isBuffer(answer.body);
    const text = raw ? (answer.body as string | Buffer) : JSON.stringify(answer.body);
    const body = typeof text === 'string' ? text : wireBytes(text);
    const headers = { ...answer.headers, 'Content-Type': answer.contentType ?? JSON_TYPE };
    const gzip = answer.gzip && wireBytes(answer.gzip);
    const s = answer.shared;
    if (!s || answer.status !== 200 || (m.method !== 'GET' && m.method !== 'HEAD') || !(s.maxAgeMs > 0)) {
      return { kind: 'body', status: answer.status, headers, body, ...(gzip && { gzip }) };
    }
    const times = { maxAgeMs: s.maxAgeMs, staleMs: Math.max(0, s.staleMs ?? 0), ageMs: Math.max(0, s.ageMs ?? 0) };
    const last = this.sent.get(m.url);
    if (last && last.version === m.holds && last.body === answer.body && last.gzip === answer.gzip) {
      return { kind: 'same', shared: { ...times, version: last.version } };
    }
    const version = ++this.version;
    this.sent.delete(m.url);
    this.sent.set(m.url, { version, body: answer.body, gzip: answer.gzip });
    for (const k of this.sent.keys()) {
      if (this.sent.size <= MAX_SENT) break;
      this.sent.delete(k);
    }
    return { kind: 'body', status: answer.status, headers, body, ...(gzip && { gzip }), shared: { ...times, version } };
  }

  // -------------------------------------------------------------------------
  // the event stream

  /** Opens an event stream: the API thread is told first, then gets the events replayed and each new one, in order. */
  private stream(m: ThreadRequest, url: URL): void {
    const lastId = m.headers['last-event-id'];
    const since = nonNegativeInt(
      url.searchParams.get('since') ?? (typeof lastId === 'string' ? lastId.trim() : undefined),
      url.searchParams.has('since') ? 'since' : 'Last-Event-ID',
    );
    if (this.streams.size >= this.settings.maxStreamClients) {
      throw new Refusal('ALIVED_API_BUSY', `too many event-stream clients (max_stream_clients ${this.settings.maxStreamClients})`);
    }
    const id = m.id;
    this.post({ type: 'answer', id, answer: { kind: 'stream' } });
    let last = since ?? -1;
    // events that come while the backlog is sent wait here, so none is lost nor sent twice
    let waiting: TimelineEvent[] | null = [];
    const write = (e: TimelineEvent): void => {
      if (e.seq <= last) return;
      last = e.seq;
      this.post({ type: 'event', id, text: `id: ${e.seq}\nevent: timeline\ndata: ${JSON.stringify(e)}\n\n` });
    };
    const unsubscribe = this.opts.provider.subscribe((e) => (waiting ? waiting.push(e) : write(e)));
    const end = (): void => {
      if (!this.streams.delete(id)) return;
      unsubscribe();
      this.post({ type: 'end', id });
    };
    this.streams.set(id, end);
    if (since !== undefined) for (const e of this.opts.provider.timeline({ since })) write(e);
    const held = waiting;
    waiting = null;
    for (const e of held) write(e);
  }
}

function errorAnswer(code: string, message: string, headers: Record<string, string> = {}, status?: number): WireAnswer {
  return {
    kind: 'body',
    status: status ?? statusOf(code),
    headers: { ...headers, 'Content-Type': JSON_TYPE },
    body: JSON.stringify(errorBody(code, message)),
  };
}
