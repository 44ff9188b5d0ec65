import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { parentPort } from 'node:worker_threads';
import { AlivedError, isAlivedError } from '../errors';
import { errorBody, statusOf } from './errors';
import { acceptsGzip } from './gzip';
import { Refusal } from './refusal';
import type { FromThread, ThreadLimits, ThreadSettings, ThreadTcpListener, ToThread, WireAnswer } from './thread-protocol';
import { ApiToken } from './token';
import { listenOnSocket, removeSocket, setSocketAccess } from './unix-socket';

/**
 * The API thread (a worker thread the ApiServer starts): the listeners and
 * what is done before a request reaches a route: connection and size
 * limits, the bearer token, the request's body. Each request then goes to
 * the daemon's thread (server.ts), which routes and answers it, except the
 * GETs this thread holds a shared answer for: an answer a route made for
 * every reader (ApiResponse.shared: /v1/status, /metrics) is given here
 * while it is fresh, and while it is stale but within its time, at once,
 * with one request to the daemon's thread for the next. So a scraper is not
 * held by what holds the daemon's event loop: the checks, its garbage
 * collector, the document being made.
 */

const JSON_TYPE = 'application/json; charset=utf-8';
const BASE_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
/** shared answers held at once (one per path and query): a client asking for many queries cannot fill memory */
export const MAX_SHARED_ANSWERS = 32;

interface Listener {
  readonly transport: 'unix' | 'tcp';
  /** what decides whether a reconfiguration restarts it */
  readonly key: string;
  /** `unix socket /run/alived/alived.sock`, `127.0.0.1:9650` */
  readonly name: string;
  readonly server: http.Server;
  /** the unix socket made, to remove at stop */
  socket?: { path: string; ino: number };
}

/** A shared answer and its times (performance.now()). */
interface SharedAnswer {
  readonly version: number;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly gzip: Buffer | undefined;
  freshUntil: number;
  staleUntil: number;
  /** a request for the next one is out */
  renewing: boolean;
}

/** What the API thread sends: a body and its headers, gzipped when the client takes it and it has the gzip. */
interface Payload {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
  readonly gzip?: Buffer | undefined;
}

/** a request parked behind another for the same key, with its body to ask again */
interface Parked {
  readonly w: Waiting;
  readonly body: string | undefined;
}

interface Waiting {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly transport: 'unix' | 'tcp';
  /** a GET's path and query: what a shared answer is held by */
  readonly key: string | null;
}

const toBuffer = (b: Uint8Array | string): Buffer => (typeof b === 'string' ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

class ApiThread {
  private settings: ThreadSettings | null = null;
  private token: ApiToken | null = null;
  private limits!: ThreadLimits;
  private readonly listeners: Listener[] = [];
  /** admitted connections, over every listener */
  private connections = 0;
  /** sockets over max_connections: answered 503 and closed */
  private readonly overLimit = new WeakSet<net.Socket>();
  private nextId = 1;
  /** requests the daemon's thread answers */
  private readonly waiting = new Map<number, Waiting>();
  /** requests for the next shared answer, by the key they renew */
  private readonly renewals = new Map<number, string>();
  /**
   * GETs of a key whose shared answer is out of time, by key: the one asked
   * for it (its id), and the others, parked until its answer comes
   */
  private readonly misses = new Map<string, { readonly id: number; readonly parked: Set<Parked> }>();
  /** the keys of those asked, by id (their client may be gone when the answer comes) */
  private readonly missIds = new Map<number, string>();
  private readonly shared = new Map<string, SharedAnswer>();
  /** open event streams */
  private readonly streams = new Map<number, { res: http.ServerResponse; heartbeat: NodeJS.Timeout }>();

  constructor(private readonly post: (m: FromThread) => void) {}

  async onMessage(m: ToThread): Promise<void> {
    switch (m.type) {
      case 'configure': {
        this.limits = m.limits;
        let error: { code: string; message: string } | undefined;
        try {
          await this.configure(m.settings, m.initial);
        } catch (err) {
          error = { code: isAlivedError(err) ? err.code : 'ALIVED_API_LISTEN', message: err instanceof Error ? err.message : String(err) };
        }
        this.post({ type: 'configured', seq: m.seq, addresses: this.addresses(), ...(error && { error }) });
        return;
      }
      case 'stop':
        await this.stop();
        this.post({ type: 'stopped', seq: m.seq });
        return;
      case 'answer':
        return this.onAnswer(m.id, m.answer);
      case 'event': {
        const s = this.streams.get(m.id);
        if (!s) return;
        s.res.write(m.text);
        // a client that does not read is dropped rather than held in memory
        if (s.res.writableLength > this.limits.maxStreamBacklogBytes) this.endStream(m.id, true);
        return;
      }
      case 'end':
        return this.endStream(m.id, false);
    }
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    this.post({ type: 'log', level, fields, msg });
  }

  // -------------------------------------------------------------------------
  // listeners

  /**
   * The listeners `next` asks for. The first time, all open or none (the
   * error names the address that failed). Later, the token and limits apply
   * to the next request; a listener whose address, TLS or socket changed is
   * restarted, the others stay; a listener that cannot open is the error,
   * after every other change is made.
   */
  private async configure(next: ThreadSettings, initial: boolean): Promise<void> {
    const prev = this.settings;
    this.settings = next;
    this.token = next.tokenDigest ? ApiToken.fromDigest(next.tokenDigest) : null;
    if (initial) {
      try {
        if (next.socket) await this.openUnix(next.socket);
        for (const l of next.tcp) await this.openTcp(l);
      } catch (err) {
        await this.stop();
        throw err;
      }
      return;
    }
    const problems: unknown[] = [];
    const unix = this.listeners.find((l) => l.transport === 'unix');
    const wantUnix = next.socket ? `unix:${next.socket.path}` : undefined;
    if (unix && unix.key !== wantUnix) await this.close(unix);
    if (next.socket && (!unix || unix.key !== wantUnix)) {
      await this.openUnix(next.socket).catch((err: unknown) => problems.push(err));
    } else if (unix && next.socket && prev?.socket && (prev.socket.mode !== next.socket.mode || prev.socket.group !== next.socket.group)) {
      await setSocketAccess(next.socket.path, next.socket.mode, next.socket.group).catch((err: unknown) => problems.push(err));
    }
    // a listener that may no longer be open (its token gone) matches none: it is closed, and its refusal reported below
    const wanted = new Map(next.tcp.map((l) => [l.problem !== null ? `refused:${l.name}` : this.tcpKey(l), l]));
    for (const l of this.listeners.filter((x) => x.transport === 'tcp')) if (!wanted.has(l.key)) await this.close(l);
    for (const [key, l] of wanted) {
      if (this.listeners.some((x) => x.key === key)) continue;
      await this.openTcp(l).catch((err: unknown) => problems.push(err));
    }
    if (problems.length > 0) throw problems[0];
  }

  private async stop(): Promise<void> {
    for (const id of [...this.streams.keys()]) this.endStream(id, false);
    for (const l of [...this.listeners]) await this.close(l);
  }

  private addresses(): { socket: string | null; tcp: { host: string; port: number }[] } {
    const socket = this.listeners.find((l) => l.transport === 'unix')?.socket?.path ?? null;
    const tcp = this.listeners
      .filter((l) => l.transport === 'tcp')
      .map((l) => {
        const a = l.server.address() as net.AddressInfo;
        return { host: a.address, port: a.port };
      });
    return { socket, tcp };
  }

  private tcpKey(l: ThreadTcpListener): string {
    const tls = this.settings?.tls ? createHash('sha256').update(this.settings.tls.cert).update(this.settings.tls.key).digest('hex') : 'plain';
    return `tcp:${l.name}:${tls}`;
  }

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

  private makeServer(transport: 'unix' | 'tcp', tls: ThreadSettings['tls']): http.Server {
    const server = tls
      ? https.createServer({
          ...this.serverOptions(),
          cert: Buffer.from(tls.cert),
          key: Buffer.from(tls.key),
          handshakeTimeout: this.limits.requestTimeoutMs,
        })
      : http.createServer(this.serverOptions());
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(transport, req, res));
    server.on('connection', (socket: net.Socket) => this.onConnection(socket, tls !== null));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
    if (tls) server.on('tlsClientError', () => undefined);
    return server;
  }

  private async openUnix(s: NonNullable<ThreadSettings['socket']>): Promise<void> {
    const server = this.makeServer('unix', null);
    const made = await listenOnSocket(server, s.path, s.mode, s.group);
    this.listeners.push({ transport: 'unix', key: `unix:${s.path}`, name: `unix socket ${s.path}`, server, socket: { path: s.path, ino: made.ino } });
    this.log('info', { socket: s.path, mode: '0' + s.mode.toString(8) }, 'HTTP API listening on its unix socket');
  }

  private async openTcp(l: ThreadTcpListener): Promise<void> {
    if (l.problem !== null) throw new AlivedError('ALIVED_API_LISTEN', `the HTTP API cannot listen on ${l.name}: ${l.problem}`);
    const tls = this.settings!.tls;
    const server = this.makeServer('tcp', tls);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void =>
        reject(
          new AlivedError('ALIVED_API_LISTEN', `the HTTP API cannot listen on ${l.name}: ${err.code ?? ''} ${err.message}`.replace(/ {2}/, ' '), {
            cause: err,
          }),
        );
      server.once('error', onError);
      server.listen({ host: l.host, port: l.port, ipv6Only: l.host.includes(':') }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.listeners.push({ transport: 'tcp', key: this.tcpKey(l), name: l.name, server });
    const a = server.address() as net.AddressInfo;
    const shown = a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    this.log('info', { address: shown, tls: tls !== null, token: this.token !== null }, 'HTTP API listening on TCP');
  }

  private async close(l: Listener): Promise<void> {
    const i = this.listeners.indexOf(l);
    if (i >= 0) this.listeners.splice(i, 1);
    await new Promise<void>((resolve) => {
      l.server.close(() => resolve());
      l.server.closeAllConnections();
    });
    if (l.socket) removeSocket(l.socket.path, l.socket.ino);
    this.log('info', { listener: l.name }, 'HTTP API listener closed');
  }

  // -------------------------------------------------------------------------
  // connections and requests

  private onConnection(socket: net.Socket, tls: boolean): void {
    if (this.connections >= this.settings!.maxConnections) {
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
      const message = err instanceof Error ? err.message : String(err);
      this.log('warn', { method: req.method, path: pathOf(req.url), err: message }, 'HTTP API request failed');
      this.sendError(req, res, 'ALIVED_API_FAILED', message);
    });
  }

  private async serve(transport: 'unix' | 'tcp', req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.overLimit.has(req.socket)) {
      // 503, not 429: the server is full, whoever asks
      throw new Refusal('ALIVED_API_BUSY', `too many connections to the API (max_connections ${this.settings!.maxConnections})`, { Connection: 'close' }, 503);
    }
    if (transport === 'tcp' && this.token !== null && !this.token.matches(req.headers.authorization)) {
      throw new Refusal(
        'ALIVED_API_UNAUTHORIZED',
        req.headers.authorization === undefined ? 'this listener needs Authorization: Bearer <token>' : 'the bearer token is not the right one',
        { 'WWW-Authenticate': 'Bearer realm="alived"' },
      );
    }
    const body = await this.readBody(req);
    const key = req.method === 'GET' || req.method === 'HEAD' ? (req.url ?? '/') : null;
    const held = key !== null ? this.shared.get(key) : undefined;
    if (held) {
      const now = performance.now();
      // an answer without gzip for a client that takes it: served, and the next one asked with gzip
      const fresh = now < held.freshUntil && (held.gzip !== undefined || !acceptsGzip(req.headers['accept-encoding']));
      if (fresh || now < held.staleUntil) {
        if (!fresh) this.renew(key!, held, req, transport);
        return this.send(req, res, held);
      }
      // out of time, on a key known to be shared: the first asks, the others wait for its answer
      const miss = this.misses.get(key!);
      if (miss) return this.park(miss.parked, { w: { req, res, transport, key }, body });
      const id = this.ask({ req, res, transport, key }, body, held.version);
      this.misses.set(key!, { id, parked: new Set() });
      this.missIds.set(id, key!);
      return;
    }
    this.ask({ req, res, transport, key }, body, 0);
  }

  private park(parked: Set<Parked>, p: Parked): void {
    parked.add(p);
    // a client gone meanwhile is not answered
    p.w.res.once('close', () => parked.delete(p));
  }

  /**
   * The answer to a miss asked for its key came (`answer`, when shared):
   * the parked get it. Not shared this time (an error, or the route no longer
   * shares), they are asked one by one, and the key is no longer held.
   */
  private settleMiss(id: number, answer: SharedAnswer | undefined): void {
    const key = this.missIds.get(id);
    if (key === undefined) return;
    this.missIds.delete(id);
    const miss = this.misses.get(key);
    if (miss?.id !== id) return;
    this.misses.delete(key);
    if (!answer) {
      const held = this.shared.get(key);
      if (held && performance.now() >= held.staleUntil) this.shared.delete(key);
    }
    for (const p of miss.parked) {
      if (answer) this.send(p.w.req, p.w.res, answer);
      else this.ask(p.w, p.body, 0);
    }
  }

  /** Sends a request to the daemon's thread; its answer comes in onAnswer. Returns its id. */
  private ask(w: Waiting, body: string | undefined, holds: number): number {
    const id = this.nextId++;
    this.waiting.set(id, w);
    // an answer for a client gone is dropped (a stream's is closed on the daemon's side)
    w.res.once('close', () => {
      if (this.waiting.get(id) === w) this.waiting.delete(id);
    });
    const { req } = w;
    this.post({ type: 'request', id, method: req.method ?? '', url: req.url ?? '/', headers: req.headers, transport: w.transport, body, holds, renew: false });
    return id;
  }

  /** Asks for the next shared answer at `key`, unless that is asked already. */
  private renew(key: string, held: SharedAnswer, req: http.IncomingMessage, transport: 'unix' | 'tcp'): void {
    if (held.renewing) return;
    held.renewing = true;
    const id = this.nextId++;
    this.renewals.set(id, key);
    this.post({ type: 'request', id, method: 'GET', url: key, headers: req.headers, transport, body: undefined, holds: held.version, renew: true });
  }

  private onAnswer(id: number, a: WireAnswer): void {
    const renewed = this.renewals.get(id);
    this.renewals.delete(id);
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    const key = renewed ?? w?.key ?? this.missIds.get(id) ?? null;
    if (a.kind === 'stream') {
      this.settleMiss(id, undefined);
      if (w) this.openStream(id, w.res);
      else this.post({ type: 'closed', id });
      return;
    }
    let answer: Payload | undefined;
    if (a.kind === 'same') {
      const held = key !== null ? this.shared.get(key) : undefined;
      if (!held || held.version !== a.shared.version) {
        // dropped meanwhile: asked again, for the bytes
        this.settleMiss(id, undefined);
        if (w) this.ask(w, undefined, 0);
        else if (held) held.renewing = false;
        return;
      }
      this.setTimes(held, a.shared);
      held.renewing = false;
      answer = held;
      this.settleMiss(id, held);
    } else {
      answer = { status: a.status, headers: a.headers, body: toBuffer(a.body), gzip: a.gzip && toBuffer(a.gzip) };
      if (key !== null && a.shared) this.settleMiss(id, this.hold(key, answer, a.shared));
      else if (renewed !== undefined) {
        // not shared this time (an error): the one held stays until its time is out
        const held = this.shared.get(renewed);
        if (held) held.renewing = false;
      } else this.settleMiss(id, undefined);
    }
    if (w) this.send(w.req, w.res, answer);
  }

  private setTimes(held: SharedAnswer, s: { maxAgeMs: number; staleMs: number; ageMs: number }): void {
    held.freshUntil = performance.now() - s.ageMs + s.maxAgeMs;
    held.staleUntil = held.freshUntil + s.staleMs;
  }

  private hold(key: string, p: Payload, s: { version: number; maxAgeMs: number; staleMs: number; ageMs: number }): SharedAnswer {
    const held: SharedAnswer = {
      version: s.version,
      status: p.status,
      headers: p.headers,
      body: toBuffer(p.body),
      gzip: p.gzip,
      freshUntil: 0,
      staleUntil: 0,
      renewing: false,
    };
    this.setTimes(held, s);
    this.shared.delete(key);
    this.shared.set(key, held);
    // the oldest held goes first
    for (const k of this.shared.keys()) {
      if (this.shared.size <= MAX_SHARED_ANSWERS) break;
      this.shared.delete(k);
    }
    return held;
  }

  /** The request's body as text (undefined when empty); 413 past the limit. */
  private async readBody(req: http.IncomingMessage): Promise<string | undefined> {
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
      chunks.push(chunk);
    }
    return size === 0 ? undefined : Buffer.concat(chunks).toString('utf8');
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, p: Payload): void {
    if (res.headersSent || res.destroyed) return;
    const zipped = p.gzip !== undefined && acceptsGzip(req.headers['accept-encoding']);
    const payload = zipped ? p.gzip! : p.body;
    const headers: Record<string, string | number> = {
      ...p.headers,
      ...BASE_HEADERS,
      'Content-Type': p.headers['Content-Type'] ?? JSON_TYPE,
      'Content-Length': Buffer.byteLength(payload),
      ...(p.gzip !== undefined && { Vary: 'Accept-Encoding' }),
      ...(zipped && { 'Content-Encoding': 'gzip' }),
    };
    res.writeHead(p.status, headers);
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
    this.send(req, res, { status: status ?? statusOf(code), headers, body: JSON.stringify(errorBody(code, message)) });
  }

  // -------------------------------------------------------------------------
  // event streams: the daemon's thread sends the events, this thread the heartbeat

  private openStream(id: number, res: http.ServerResponse): void {
    res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    const heartbeat = setInterval(() => res.write(': ping\n\n'), this.limits.heartbeatMs);
    this.streams.set(id, { res, heartbeat });
    res.once('close', () => this.endStream(id, true));
  }

  /** Ends a stream; `tell`: the daemon's thread did not end it, and is told. */
  private endStream(id: number, tell: boolean): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    clearInterval(s.heartbeat);
    s.res.end();
    if (tell) this.post({ type: 'closed', id });
  }
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0]!.slice(0, 200);
}

if (parentPort) {
  const port = parentPort;
  const thread = new ApiThread((m) => port.postMessage(m));
  // in order: a configure is done before the next message is taken
  let chain = Promise.resolve();
  port.on('message', (m: ToThread) => {
    if (m.type === 'answer' || m.type === 'event' || m.type === 'end') {
      void thread.onMessage(m);
      return;
    }
    chain = chain.then(() => thread.onMessage(m));
  });
}
