import * as http from 'node:http';
import { AlivedError, ERROR_CODES, type ErrorCode } from '../errors';

/**
 * How the CLI talks to a running daemon: HTTP over the API's unix socket.
 * The subcommands (status-commands.ts) use the small StatusClient interface,
 * so a test or another transport can stand in for the socket.
 */

/** The daemon's socket for the flags it was started with: one rule, the API's (core/api/socket-path.ts). */
export { defaultSocketPath, DEFAULT_SOCKET_DIR as SOCKET_DIR } from '../api/socket-path';

/** One Server-Sent Event. */
export interface StreamEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

export interface StatusClient {
  /** the socket (or address) it talks to, for messages */
  readonly target: string;
  get<T = unknown>(path: string): Promise<T>;
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
  delete<T = unknown>(path: string): Promise<T>;
  /** a Server-Sent Events stream, until the server ends it or `signal` aborts */
  stream(path: string, signal?: AbortSignal): AsyncIterable<StreamEvent>;
}

/** The daemon answered with an error: its code (ALIVED_API_...), message and HTTP status. */
export class ApiAnswerError extends AlivedError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

export interface UnixClientOptions {
  readonly socketPath: string;
  /** what chose the socket, said when it cannot be reached: `--socket`, `--state-dir /x`, or the default */
  readonly chosenBy?: string;
  /** per request, until the whole answer is in (streams: until their headers); default 10000 */
  readonly timeoutMs?: number;
  /** aborts every request (Ctrl-C) */
  readonly signal?: AbortSignal;
}

const MAX_ANSWER_BYTES = 64 << 20;

export class UnixStatusClient implements StatusClient {
  readonly target: string;
  private readonly timeoutMs: number;
  private readonly chosenBy: string;
  private readonly signal: AbortSignal | undefined;

  constructor(opts: UnixClientOptions) {
    this.target = opts.socketPath;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.chosenBy = opts.chosenBy ?? 'the default';
    this.signal = opts.signal;
  }

  get<T>(p: string): Promise<T> {
    return this.request<T>('GET', p);
  }

  post<T>(p: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', p, body);
  }

  delete<T>(p: string): Promise<T> {
    return this.request<T>('DELETE', p);
  }

  private unreachable(err: unknown): AlivedError {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'no such socket (is alived running, and started with these flags?)'
        : e.code === 'ECONNREFUSED'
          ? 'connection refused (no daemon listens on it: a socket left by a stopped alived?)'
          : e.code === 'EACCES'
            ? 'permission denied (the socket is for root and the alived group)'
            : e.code === 'ETIMEDOUT'
              ? `no answer within ${this.timeoutMs / 1000} s`
              : (e.message ?? String(err));
    return new AlivedError(
      'ALIVED_API_UNREACHABLE',
      `cannot reach alived's API at ${this.target} (${this.chosenBy}): ${why}. ` +
        'Give the flags the daemon was started with: --state-dir DIR (socket DIR/alived.sock), --instance NAME (/run/alived/alived_NAME.sock), or --socket PATH',
      { cause: err },
    );
  }

  private request<T>(method: string, p: string, body?: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request({
        socketPath: this.target,
        method,
        path: p,
        headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
        ...(this.signal ? { signal: this.signal } : {}),
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), this.timeoutMs);
      let answered = false;
      req.on('error', (err) => {
        clearTimeout(timer);
        if (this.signal?.aborted) return reject(err);
        reject(
          answered ? new AlivedError('ALIVED_API_UNREACHABLE', `alived's API at ${this.target}: the answer broke off: ${err.message}`) : this.unreachable(err),
        );
      });
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the answer is over ${MAX_ANSWER_BYTES >> 20} MB`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300 && json !== undefined) return resolve(json as T);
          reject(answerError(status, json, text));
        });
      });
      req.end(payload);
    });
  }

  async *stream(p: string, signal: AbortSignal | undefined = this.signal): AsyncIterable<StreamEvent> {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ socketPath: this.target, method: 'GET', path: p, headers: { accept: 'text/event-stream' }, signal });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), this.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject((err as { name?: string }).name === 'AbortError' ? err : this.unreachable(err));
      });
      req.on('response', (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      req.end();
    });
    if ((res.statusCode ?? 0) !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      throw answerError(res.statusCode ?? 0, json, text);
    }
    res.setEncoding('utf8');
    const parser = new SseParser();
    try {
      for await (const chunk of res) for (const ev of parser.push(chunk as string)) yield ev;
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError' || signal?.aborted) return;
      throw new AlivedError('ALIVED_API_UNREACHABLE', `alived's API at ${this.target}: the event stream broke off: ${(err as Error).message}`);
    }
  }
}

function answerError(status: number, json: unknown, text: string): ApiAnswerError {
  const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' && Object.hasOwn(ERROR_CODES, e.code) ? (e.code as ErrorCode) : 'ALIVED_API_FAILED';
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ' without a body'}`;
  return new ApiAnswerError(code, message, status);
}

/** Server-Sent Events (the WHATWG event-stream format): lines of `field: value`, events ended by a blank line. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  push(chunk: string): StreamEvent[] {
    this.buffer += chunk;
    const out: StreamEvent[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length) out.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
        this.data = [];
        this.event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}
