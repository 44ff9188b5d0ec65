import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { AlivedError, isAlivedError, type ErrorCode } from '../errors';
import type { Logger } from '../log/logger';
import type { StatusProvider, TimelineEvent } from '../status/types';
import { errorBody, statusOf } from './errors';
import { acceptsGzip } from './gzip';
import { coreRoutes, EVENTS_PATH, matchPath, nonNegativeInt } from './routes';
import { addressText, tcpListenerProblem, type ApiSettings, type ApiSocketSettings, type ApiTcpListener } from './settings';
import type { ApiRequest, ApiResponse, ApiRoute, DaemonActions } from './types';
import { listenOnSocket, removeSocket, setSocketAccess } from './unix-socket';

/**
 * alived's HTTP API (docs/api.md): the core's routes and the plugins'
 * (api.registerRoute), on the unix socket and on the TCP addresses the
 * config lists.
 *
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

interface Listener {
  readonly transport: 'unix' | 'tcp';
  /** what decides whether a reload restarts it */
  readonly key: string;
  /** `unix socket /run/alived/alived.sock`, `127.0.0.1:9650` */
  readonly name: string;
  readonly server: http.Server;
  /** the unix socket made, to remove at stop */
  socket?: { path: string; ino: number };
}

const JSON_TYPE = 'application/json; charset=utf-8';
const BASE_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

/** An error that answers a request: its code gives the status. */
class Refusal extends AlivedError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** another status than the code's */
    readonly status?: number,
  ) {
    super(code, message);
  }
}

export class ApiServer {
  private settings: ApiSettings;
  private readonly limits: ApiLimits;
  private readonly log: Logger;
  private readonly listeners: Listener[] = [];
  private readonly core: ApiRoute[];
  /** admitted connections, over every listener */
  private connections = 0;
  /** sockets over max_connections: answered 503 and closed */
  private readonly overLimit = new WeakSet<net.Socket>();
  /** open event streams, each with the function that ends it */
  private readonly streams = new Set<() => void>();
  private started = false;

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
    try {
      if (this.settings.socket) await this.openUnix(this.settings.socket);
      for (const l of this.settings.tcp) await this.openTcp(l);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * A reload's new settings: the token and the limits apply to the next
   * request; a listener whose address, TLS or socket changed is restarted,
   * the others (the unix socket among them) stay. A listener that cannot
   * open is an ALIVED_API_LISTEN error, after every other change is made.
   */
  async reconfigure(next: ApiSettings): Promise<void> {
    const prev = this.settings;
    this.settings = next;
    if (!this.started) return;
    const problems: unknown[] = [];
    const unix = this.listeners.find((l) => l.transport === 'unix');
    const wantUnix = next.socket ? unixKey(next.socket) : undefined;
    if (unix && unix.key !== wantUnix) await this.close(unix);
    if (next.socket && (!unix || unix.key !== wantUnix)) {
      await this.openUnix(next.socket).catch((err: unknown) => problems.push(err));
    } else if (unix && next.socket && prev.socket && (prev.socket.mode !== next.socket.mode || prev.socket.group !== next.socket.group)) {
      await setSocketAccess(next.socket.path, next.socket.mode, next.socket.group).catch((err: unknown) => problems.push(err));
    }
    // a listener that may no longer be open (its token gone) matches none: it is closed, and its refusal reported below
    const wanted = new Map(next.tcp.map((l) => [tcpListenerProblem(l, next) ? `refused:${addressText(l)}` : tcpKey(l, next), l]));
    for (const l of this.listeners.filter((x) => x.transport === 'tcp')) if (!wanted.has(l.key)) await this.close(l);
    for (const [key, l] of wanted) {
      if (this.listeners.some((x) => x.key === key)) continue;
      await this.openTcp(l).catch((err: unknown) => problems.push(err));
    }
    if (problems.length > 0) throw problems[0];
  }

  /** Closes every listener, ends the event streams and removes the socket file it made. */
  async stop(): Promise<void> {
    this.started = false;
    for (const end of [...this.streams]) end();
    for (const l of [...this.listeners]) await this.close(l);
  }

  /** Where it listens now: the unix socket's path and each TCP address with the port bound (port 0 in the settings: the kernel's). */
  addresses(): { socket: string | null; tcp: { host: string; port: number }[] } {
    const socket = this.listeners.find((l) => l.transport === 'unix')?.socket?.path ?? null;
    const tcp = this.listeners
      .filter((l) => l.transport === 'tcp')
      .map((l) => {
        const a = l.server.address() as net.AddressInfo;
        return { host: a.address, port: a.port };
      });
    return { socket, tcp };
  }

  // -------------------------------------------------------------------------
  // listeners

  private serverOptions(): http.ServerOptions {
    return {
      maxHeaderSize: this.limits.maxHeaderBytes,
      requestTimeout: this.limits.requestTimeoutMs,
      headersTimeout: this.limits.requestTimeoutMs,
      // how often node looks for requests past their time (its default, 30 s, would let one run three times over)
      connectionsCheckingInterval: Math.max(100, Math.min(1000, this.limits.requestTimeoutMs / 4)),
      keepAliveTimeout: 5000,
    };
  }

  private makeServer(transport: 'unix' | 'tcp', tls: ApiSettings['tls']): http.Server {
    const server = tls
      ? https.createServer({ ...this.serverOptions(), cert: tls.cert, key: tls.key, handshakeTimeout: this.limits.requestTimeoutMs })
      : http.createServer(this.serverOptions());
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(transport, req, res));
    server.on('connection', (socket: net.Socket) => this.onConnection(socket, tls !== null));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
    if (tls) server.on('tlsClientError', () => undefined);
    return server;
  }

  private async openUnix(s: ApiSocketSettings): Promise<void> {
    const server = this.makeServer('unix', null);
    const made = await listenOnSocket(server, s.path, s.mode, s.group);
    this.listeners.push({ transport: 'unix', key: unixKey(s), name: `unix socket ${s.path}`, server, socket: { path: s.path, ino: made.ino } });
    this.log.info({ socket: s.path, mode: '0' + s.mode.toString(8) }, 'HTTP API listening on its unix socket');
  }

  private async openTcp(l: ApiTcpListener): Promise<void> {
    const name = addressText(l);
    const problem = tcpListenerProblem(l, this.settings);
    if (problem) throw new AlivedError('ALIVED_API_LISTEN', `the HTTP API cannot listen on ${name}: ${problem}`);
    const server = this.makeServer('tcp', this.settings.tls);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void =>
        reject(
          new AlivedError('ALIVED_API_LISTEN', `the HTTP API cannot listen on ${name}: ${err.code ?? ''} ${err.message}`.replace(/ {2}/, ' '), { cause: err }),
        );
      server.once('error', onError);
      server.listen({ host: l.host, port: l.port, ipv6Only: l.host.includes(':') }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.listeners.push({ transport: 'tcp', key: tcpKey(l, this.settings), name, server });
    const a = server.address() as net.AddressInfo;
    this.log.info(
      { address: addressText({ host: a.address, port: a.port }), tls: this.settings.tls !== null, token: this.settings.token !== null },
      'HTTP API listening on TCP',
    );
  }

  private async close(l: Listener): Promise<void> {
    const i = this.listeners.indexOf(l);
    if (i >= 0) this.listeners.splice(i, 1);
    await new Promise<void>((resolve) => {
      l.server.close(() => resolve());
      l.server.closeAllConnections();
    });
    if (l.socket) removeSocket(l.socket.path, l.socket.ino);
    this.log.info({ listener: l.name }, 'HTTP API listener closed');
  }

  // -------------------------------------------------------------------------
  // connections and requests

  private onConnection(socket: net.Socket, tls: boolean): void {
    if (this.connections >= this.settings.maxConnections) {
      if (tls) {
        // no HTTP answer before the TLS handshake: the connection is closed
        socket.destroy();
        return;
      }
      this.overLimit.add(socket);
      socket.setTimeout(this.limits.requestTimeoutMs, () => socket.destroy());
      return;
    }
    this.connections++;
    socket.once('close', () => this.connections--);
  }

  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'ALIVED_API_TOO_LARGE', `the request's headers are over ${this.limits.maxHeaderBytes} bytes`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'ALIVED_API_BAD_REQUEST', `the request was not sent within ${this.limits.requestTimeoutMs / 1000} s`]
          : [400, 'Bad Request', 'ALIVED_API_BAD_REQUEST', 'the request is not valid HTTP'];
    const body = JSON.stringify(errorBody(code, message));
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${JSON_TYPE}\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  private onRequest(transport: 'unix' | 'tcp', req: http.IncomingMessage, res: http.ServerResponse): void {
    this.serve(transport, req, res).catch((err: unknown) => {
      if (err instanceof Refusal) return this.sendError(req, res, err.code, err.message, err.headers, err.status);
      if (isAlivedError(err) && statusOf(err.code) !== 500) return this.sendError(req, res, err.code, err.message);
      // a route that failed: its message, never its stack
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ method: req.method, path: pathOf(req.url), err: message }, 'HTTP API route failed');
      this.sendError(req, res, 'ALIVED_API_FAILED', message);
    });
  }

  private async serve(transport: 'unix' | 'tcp', req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.overLimit.has(req.socket)) {
      // 503, not 429: the server is full, whoever asks
      throw new Refusal('ALIVED_API_BUSY', `too many connections to the API (max_connections ${this.settings.maxConnections})`, { Connection: 'close' }, 503);
    }
    const token = this.settings.token;
    if (transport === 'tcp' && token !== null && !token.matches(req.headers.authorization)) {
      throw new Refusal(
        'ALIVED_API_UNAUTHORIZED',
        req.headers.authorization === undefined ? 'this listener needs Authorization: Bearer <token>' : 'the bearer token is not the right one',
        { 'WWW-Authenticate': 'Bearer realm="alived"' },
      );
    }
    let url: URL;
    let segments: string[];
    try {
      url = new URL(req.url ?? '/', 'http://alived.invalid');
      segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new Refusal('ALIVED_API_BAD_REQUEST', 'the request path is malformed');
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    const routes = [...this.core.map((def) => ({ def, owner: 'core' })), ...this.opts.routes()];
    if (segments.length === 0) {
      if (method !== 'GET') throw new Refusal('ALIVED_API_METHOD', `${method} is not served at /; GET is`, { Allow: 'GET, HEAD' });
      return this.send(req, res, {
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
      const allow = [...methods].flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
      throw new Refusal('ALIVED_API_METHOD', `${method.slice(0, 20)} is not served at ${url.pathname.slice(0, 200)}; ${[...methods].join(', ')} is`, {
        Allow: allow,
      });
    }
    if (route.def.method !== 'GET' && transport === 'tcp') {
      throw new Refusal('ALIVED_API_FORBIDDEN', `${route.def.method} ${route.def.path} is an action: actions are taken on the unix socket only`);
    }
    const body = await this.readBody(req, method === 'POST');
    if (route.owner === 'core' && route.def.path === EVENTS_PATH) {
      // HEAD: the headers of a stream, without opening one
      if (req.method === 'HEAD') return this.send(req, res, { status: 200, contentType: 'text/event-stream; charset=utf-8', body: '' });
      return this.stream(req, res, url);
    }
    const answer = await route.def.handle({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      transport,
      body,
      params: params!,
    } satisfies ApiRequest);
    this.send(req, res, answer);
  }

  /** The request's body: parsed JSON for a POST (undefined when empty), read and dropped otherwise; 413 past the limit. */
  private async readBody(req: http.IncomingMessage, parse: boolean): Promise<unknown> {
    const max = this.limits.maxBodyBytes;
    const tooLarge = (): Refusal => new Refusal('ALIVED_API_TOO_LARGE', `the request body is over ${max} bytes`, { Connection: 'close' });
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      req.resume();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) {
        req.resume();
        throw tooLarge();
      }
      if (parse) chunks.push(chunk);
    }
    if (!parse || size === 0) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new Refusal('ALIVED_API_BAD_REQUEST', 'the request body is not valid JSON');
    }
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, answer: ApiResponse): void {
    const isRaw = typeof answer.body === 'string' || Buffer.isBuffer(answer.body);
    const zipped = answer.gzip !== undefined && acceptsGzip(req.headers['accept-encoding']);
    const payload = zipped ? answer.gzip! : isRaw ? (answer.body as string | Buffer) : JSON.stringify(answer.body);
    const headers: Record<string, string | number> = {
      ...answer.headers,
      ...BASE_HEADERS,
      'Content-Type': answer.contentType ?? JSON_TYPE,
      'Content-Length': Buffer.byteLength(payload),
      ...(answer.gzip !== undefined && { Vary: 'Accept-Encoding' }),
      ...(zipped && { 'Content-Encoding': 'gzip' }),
    };
    res.writeHead(answer.status, headers);
    res.end(req.method === 'HEAD' ? undefined : payload);
  }

  private sendError(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    status?: number,
  ): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.send(req, res, { status: status ?? statusOf(code), body: errorBody(code, message), headers });
  }

  // -------------------------------------------------------------------------
  // the event stream

  private stream(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const lastId = req.headers['last-event-id'];
    const since = nonNegativeInt(
      url.searchParams.get('since') ?? (typeof lastId === 'string' ? lastId.trim() : undefined),
      url.searchParams.has('since') ? 'since' : 'Last-Event-ID',
    );
    if (this.streams.size >= this.settings.maxStreamClients) {
      throw new Refusal('ALIVED_API_BUSY', `too many event-stream clients (max_stream_clients ${this.settings.maxStreamClients})`);
    }
    res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    let last = since ?? -1;
    // events that come while the backlog is sent wait here, so none is lost nor sent twice
    let waiting: TimelineEvent[] | null = [];
    const write = (e: TimelineEvent): void => {
      if (e.seq <= last) return;
      last = e.seq;
      res.write(`id: ${e.seq}\nevent: timeline\ndata: ${JSON.stringify(e)}\n\n`);
      // a client that does not read is dropped rather than held in memory
      if (res.writableLength > this.limits.maxStreamBacklogBytes) end();
    };
    const unsubscribe = this.opts.provider.subscribe((e) => (waiting ? waiting.push(e) : write(e)));
    const heartbeat = setInterval(() => res.write(': ping\n\n'), this.limits.heartbeatMs);
    heartbeat.unref();
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      this.streams.delete(end);
      res.end();
    };
    this.streams.add(end);
    res.once('close', end);
    if (since !== undefined) for (const e of this.opts.provider.timeline({ since })) write(e);
    const held = waiting;
    waiting = null;
    for (const e of held) write(e);
  }
}

function unixKey(s: ApiSocketSettings): string {
  return `unix:${s.path}`;
}

function tcpKey(l: ApiTcpListener, s: ApiSettings): string {
  const tls = s.tls ? createHash('sha256').update(s.tls.cert).update(s.tls.key).digest('hex') : 'plain';
  return `tcp:${addressText(l)}:${tls}`;
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0]!.slice(0, 200);
}
