import * as http from 'node:http';
import * as https from 'node:https';
import { AlivedError, ERROR_CODES, type ErrorCode } from '../errors';

/**
 * The client side of alived's HTTP API, for the CLI and for tests.
 *
 *   const doc = await apiRequest({ socketPath: defaultSocketPath(flags) }, 'GET', '/v1/status');
 *   for await (const ev of apiStream({ socketPath }, '/v1/events?since=0')) console.log(ev.data);
 *
 * An answer with an error is thrown as an AlivedError with the server's code
 * and message; a daemon that cannot be reached (no socket, refused, timed
 * out) as ALIVED_API_UNREACHABLE naming where it was looked for.
 */

/** Where the API is: the unix socket, or a TCP URL (`https://10.0.0.1:9650`) with its token and the CA that signed its certificate. */
export type ApiTarget =
  | { readonly socketPath: string; readonly timeoutMs?: number }
  | { readonly url: string; readonly token?: string; readonly ca?: string | Buffer; readonly timeoutMs?: number };

/** One Server-Sent Event: `data` parsed as JSON (a TimelineEvent on /v1/events). */
export interface ApiStreamEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: unknown;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function describe(target: ApiTarget): string {
  return 'socketPath' in target ? `unix socket ${target.socketPath}` : new URL(target.url).origin;
}

function unreachable(target: ApiTarget, why: string, cause?: unknown): AlivedError {
  const hint =
    'socketPath' in target ? ': is alived running? A daemon started with --instance or --state-dir has a socket of its own: give the CLI the same flags' : '';
  return new AlivedError(
    'ALIVED_API_UNREACHABLE',
    `cannot reach alived's API at ${describe(target)} (${why})${hint}`,
    cause === undefined ? undefined : { cause },
  );
}

function requestOptions(
  target: ApiTarget,
  method: string,
  path: string,
  headers: Record<string, string>,
): { mod: typeof http | typeof https; opts: https.RequestOptions } {
  if ('socketPath' in target) return { mod: http, opts: { socketPath: target.socketPath, method, path, headers } };
  const base = new URL(target.url);
  const mod = base.protocol === 'https:' ? https : http;
  const prefix = base.pathname.replace(/\/$/, '');
  const auth: Record<string, string> = target.token !== undefined ? { Authorization: `Bearer ${target.token}` } : {};
  return {
    mod,
    opts: {
      host: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port || (base.protocol === 'https:' ? 443 : 80),
      method,
      path: prefix + path,
      headers: { ...headers, ...auth },
      ...(target.ca !== undefined && { ca: target.ca }),
    },
  };
}

/** The error a non-2xx answer carries, as an AlivedError with the server's code. */
function answerError(status: number, text: string): AlivedError {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      const code = (Object.hasOwn(ERROR_CODES, e.code) ? e.code : 'ALIVED_API_FAILED') as ErrorCode;
      return new AlivedError(code, e.message);
    }
  } catch {
    // not JSON: said below
  }
  return new AlivedError('ALIVED_API_FAILED', `the API answered HTTP ${status}: ${text.slice(0, 200)}`);
}

function connectError(target: ApiTarget, err: NodeJS.ErrnoException): AlivedError {
  if (err instanceof AlivedError) return err;
  const code = err.code ?? '';
  if (code === 'EACCES') return unreachable(target, "permission denied: run as root or as a member of the socket's group", err);
  return unreachable(target, code || err.message, err);
}

/**
 * One request: the answer's JSON (text for another content type). `path`
 * holds the query (`/v1/timeline?since=10`); `body` is sent as JSON.
 */
export function apiRequest<T = unknown>(target: ApiTarget, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (payload !== undefined) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) });
  const { mod, opts } = requestOptions(target, method, path, headers);
  const timeoutMs = target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<T>((resolve, reject) => {
    const req = mod.request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(connectError(target, err)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return reject(answerError(status, text));
        if (!/^application\/json/.test(res.headers['content-type'] ?? '')) return resolve(text as T);
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          reject(new AlivedError('ALIVED_API_FAILED', 'the API answered with JSON that does not parse'));
        }
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(unreachable(target, `no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err) => reject(connectError(target, err)));
    req.end(payload);
  });
}

/**
 * A stream of Server-Sent Events (`/v1/events?since=SEQ`), each `data`
 * parsed as JSON; `: ping` comments are skipped. It ends when the server
 * closes the stream or `signal` aborts; breaking out of the loop closes it.
 */
export async function* apiStream(target: ApiTarget, path: string, opts: { signal?: AbortSignal; lastEventId?: string } = {}): AsyncGenerator<ApiStreamEvent> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (opts.lastEventId !== undefined) headers['Last-Event-ID'] = opts.lastEventId;
  const { mod, opts: reqOpts } = requestOptions(target, 'GET', path, headers);
  const timeoutMs = target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const req = mod.request({ ...reqOpts, ...(opts.signal && { signal: opts.signal }) });
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(unreachable(target, `no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    req.once('response', (r) => {
      clearTimeout(timer);
      resolve(r);
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.name === 'AbortError' ? err : connectError(target, err));
    });
    req.end();
  });
  try {
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
      throw answerError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
    }
    let buffer = '';
    res.setEncoding('utf8');
    try {
      for await (const chunk of res as AsyncIterable<string>) {
        buffer += chunk.replace(/\r\n?/g, '\n');
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const ev = parseEvent(block);
          if (ev) yield ev;
        }
      }
    } catch (err) {
      // an abort by the caller ends the stream; anything else is the connection failing
      if (opts.signal?.aborted) return;
      throw connectError(target, err as NodeJS.ErrnoException);
    }
  } finally {
    req.destroy();
  }
}

/** One event's lines: `id:`, `event:`, `data:` (joined by newlines); comments and empty blocks give nothing. */
function parseEvent(block: string): ApiStreamEvent | undefined {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  const text = data.join('\n');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { id, event, data: parsed };
}
