import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Client, buildConnector } from 'undici';

/**
 * undici is loaded at the first check, not with the plugin: a daemon
 * without HTTP checks (a VRRP-only node) does not carry its ~20 MB.
 */
let undiciModule: typeof import('undici') | undefined;
function undici(): typeof import('undici') {
  undiciModule ??= require('undici') as typeof import('undici');
  return undiciModule;
}
import type { Endpoint } from '../../core/sdk';
import { abortWords, describeError, hostPort, onAbort, tcpConnectOptions, type ConnectionConfig } from '../shared/net';
import type { HttpProtocol } from './index';

/**
 * One GET as keepalived's HTTP_GET / SSL_GET and genhash send it
 * (check_http.c http_request()): a new connection per request, the Host
 * header set, `User-Agent: KeepAliveClient`, the whole body read and its MD5
 * computed. Used by the checkers and by `alived genhash`.
 *
 * undici writes the request; alived's own connector makes the socket, so
 * that bindto / bind_port apply, SNI is sent only when asked (undici would
 * send the Host header as SNI), the certificate is verified only when asked,
 * and a timeout names the step it interrupted.
 */

export interface TlsSettings {
  /** the SNI name; none: no SNI (keepalived sends one only with enable_sni) */
  readonly servername?: string;
  /** verify the chain, the dates and the name; keepalived never does */
  readonly verify: boolean;
  /** the name the certificate must carry when verifying; default the address connected to */
  readonly verifyName?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly passphrase?: string;
  /** send a close_notify before closing (tls_compliant); keepalived's default is a quiet shutdown */
  readonly compliant: boolean;
}

export interface HttpRequestSpec {
  readonly target: Endpoint;
  readonly connection: ConnectionConfig;
  /** undefined: plain HTTP */
  readonly tls?: TlsSettings;
  readonly path: string;
  /** the Host header */
  readonly host: string;
  readonly protocol: HttpProtocol;
  /** how many bytes of the body to keep (for a regex); the digest always covers all of it */
  readonly keepBytes: number;
  readonly signal: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** MD5 of the body, lower-case hex, as genhash prints it */
  readonly digest: string;
  readonly bodyBytes: number;
  /** the first keepBytes bytes of the body */
  readonly body: Buffer;
  /** the body was longer than what was kept */
  readonly truncated: boolean;
}

export type HttpOutcome = { readonly ok: true; readonly response: HttpResponse } | { readonly ok: false; readonly reason: string };

/** the step a request is at, in the words a timeout reports */
type Step = 'connecting' | 'in the TLS handshake' | 'waiting for the response' | 'reading the body';

/** undici's code for an aborted request, stable across copies of the package */
const ABORTED = new Set(['UND_ERR_ABORTED', 'ABORT_ERR']);

/** The request line and headers as the server receives them, for genhash -v. */
export function describeRequest(spec: Pick<HttpRequestSpec, 'path' | 'host' | 'protocol'>): string[] {
  const version = spec.protocol === '1.1' ? '1.1' : '1.0';
  return [`GET ${spec.path} HTTP/${version}`, `host: ${spec.host}`, ...(spec.protocol === '1.0' ? [] : ['connection: close']), 'user-agent: KeepAliveClient'];
}

/**
 * undici writes every request as HTTP/1.1 with `connection: close` (asked
 * for by `reset`). keepalived's http_protocol 1.0 and 1.0C send HTTP/1.0,
 * 1.0 without a Connection header (check_http.c request_template): the
 * request line (and header) is rewritten in the one write that carries
 * them, the first on the connection. A test sees what the server receives.
 */
function sendAsProtocol(sock: net.Socket, protocol: HttpProtocol): void {
  if (protocol === '1.1') return;
  const write = sock.write;
  sock.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]): boolean {
    sock.write = write;
    if (typeof chunk === 'string' && chunk.startsWith('GET ')) {
      const nl = chunk.indexOf('\r\n');
      let head = chunk.slice(0, nl).replace(/ HTTP\/1\.1$/, ' HTTP/1.0') + chunk.slice(nl);
      if (protocol === '1.0') head = head.replace('\r\nconnection: close\r\n', '\r\n');
      chunk = head;
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof sock.write;
}

/** The Host header keepalived sends: the virtualhost, else the address and port connected to (http_request()). */
export function hostHeader(target: Endpoint, virtualhost: string | undefined): string {
  return virtualhost ?? hostPort(target.address, target.port);
}

export async function httpGet(spec: HttpRequestSpec): Promise<HttpOutcome> {
  const { signal } = spec;
  let step: Step = 'connecting';
  const abortedReason = (): string => `${abortWords(signal)} ${step}`;
  if (signal.aborted) return { ok: false, reason: abortedReason() };

  const connect: buildConnector.connector = (_opts, callback) => {
    let answered = false;
    const answer = (err: Error | null, sock?: net.Socket): void => {
      if (answered) return;
      answered = true;
      if (err) callback(err, null);
      else callback(null, sock!);
    };
    const base = tcpConnectOptions(spec.target, spec.connection);
    let sock: net.Socket;
    if (spec.tls) {
      const t = spec.tls;
      const verifyName = t.verifyName ?? spec.target.address;
      const tlsSock = tls.connect({
        ...base,
        servername: t.servername,
        rejectUnauthorized: t.verify,
        // the name checked is the virtualhost (or the address), not the SNI, which may be off
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(verifyName, cert),
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        passphrase: t.passphrase,
        ALPNProtocols: ['http/1.1'],
      });
      tlsSock.once('connect', () => (step = 'in the TLS handshake'));
      tlsSock.once('secureConnect', () => {
        step = 'waiting for the response';
        answer(null, tlsSock);
      });
      if (t.compliant) sendCloseNotifyOnClose(tlsSock);
      sock = tlsSock;
    } else {
      sock = net.connect(base);
      sock.once('connect', () => {
        step = 'waiting for the response';
        answer(null, sock);
      });
    }
    sendAsProtocol(sock, spec.protocol);
    // undici adds its own listeners once it has the socket; until then this one keeps an error from crashing the process
    sock.on('error', (err) => answer(err));
    // undici acts on an abort only once the request has a connection: until then, the abort is the connector's to act on
    const stop = onAbort(signal, () => sock.destroy(new Error(`${abortWords(signal)} ${step}`)));
    sock.once('close', stop);
    if (spec.tls) sock.once('secureConnect', stop);
    else sock.once('connect', stop);
    return sock;
  };

  let client: Client | undefined;
  try {
    client = new (undici().Client)(`${spec.tls ? 'https' : 'http'}://${hostPort(spec.target.address.replace(/%.*$/, ''), spec.target.port)}`, {
      connect,
      // the scheduler's signal bounds the whole check (connect_timeout); undici's own timers would race it with other words
      headersTimeout: 0,
      bodyTimeout: 0,
      pipelining: 1,
    });
    const res = await client.request({
      method: 'GET',
      path: spec.path,
      headers: { host: spec.host, 'user-agent': 'KeepAliveClient' },
      // one request per connection, closed after the response, as keepalived: checks see a fresh connect every time
      reset: true,
      signal,
    });
    step = 'reading the body';
    const md5 = createHash('md5');
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let bodyBytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      md5.update(chunk);
      bodyBytes += chunk.length;
      if (keptBytes < spec.keepBytes) {
        const part = chunk.subarray(0, spec.keepBytes - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
    }
    return {
      ok: true,
      response: {
        status: res.statusCode,
        statusText: (res as { statusText?: string }).statusText ?? '',
        headers: res.headers,
        digest: md5.digest('hex'),
        bodyBytes,
        body: Buffer.concat(kept),
        truncated: bodyBytes > keptBytes,
      },
    };
  } catch (err) {
    return { ok: false, reason: failureWords(err, step, signal, abortedReason) };
  } finally {
    // closes the socket whatever happened (the body may be unread after an abort); nothing to wait for
    client?.destroy().catch(() => {});
  }
}

function failureWords(err: unknown, step: Step, signal: AbortSignal, abortedReason: () => string): string {
  const code = (err as { code?: unknown })?.code;
  if (signal.aborted || (typeof code === 'string' && ABORTED.has(code))) return abortedReason();
  if (code === 'UND_ERR_SOCKET') {
    // undici's "other side closed": the server closed or reset the connection
    const cause = (err as { cause?: { code?: unknown } }).cause;
    if (cause?.code === 'ECONNRESET') return `${describeError(cause)} ${step}`;
    return step === 'reading the body' ? 'the server closed the connection before the end of the body' : 'the server closed the connection without answering';
  }
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'the body is not as long as its Content-Length says';
  if ((err as Error)?.name === 'HTTPParserError' || (typeof code === 'string' && code.startsWith('HPE_'))) {
    return `the response is not valid HTTP: ${(err as Error).message.replace(/^Response does not match the HTTP\/1\.1 protocol \((.*)\)$/, '$1')}`;
  }
  return step === 'connecting' || step === 'in the TLS handshake' ? describeError(err) : `${describeError(err)} ${step}`;
}

/**
 * undici destroys a connection once its response is complete; with
 * tls_compliant the server gets a TLS close_notify first (what
 * SSL_shutdown() sends when keepalived does not set a quiet shutdown).
 */
function sendCloseNotifyOnClose(sock: tls.TLSSocket): void {
  const destroyNow = sock.destroy.bind(sock);
  let closing = false;
  sock.destroy = (err?: Error): tls.TLSSocket => {
    // client.destroy() comes right after: the close_notify already on its way is not cut short
    if (closing) return sock;
    const graceful = !err || (err as { code?: unknown }).code === 'UND_ERR_INFO';
    if (!graceful || sock.destroyed || !sock.writable || sock.writableEnded) return destroyNow(err);
    closing = true;
    const timer = setTimeout(() => destroyNow(), CLOSE_NOTIFY_GRACE_MS);
    timer.unref();
    sock.end(() => {
      clearTimeout(timer);
      destroyNow();
    });
    return sock;
  };
}

/** how long a close_notify may take to leave before the socket is destroyed anyway */
const CLOSE_NOTIFY_GRACE_MS = 1000;
