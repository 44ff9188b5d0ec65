import * as net from 'node:net';
import { errorText } from '../errors';
import type { IpAddress } from '../config/values';
import type { Endpoint } from '../plugin/events';

/**
 * What alived's network checks and `alived genhash` share about a socket:
 * where to connect from and to (the checker's bindto / bind_port / bind_if),
 * the words of their messages, and acting once when a signal aborts.
 */

/** The connection keywords a checker's config carries (checkerConnectionFields). */
export interface ConnectionConfig {
  readonly bindto?: IpAddress;
  readonly bindPort?: number;
  readonly bindIf?: string;
  readonly fwmark?: number;
}

const isLinkLocal6 = (address: string): boolean => net.isIPv6(address) && /^fe[89ab][0-9a-f]:/i.test(address);

/** An address as sockets take it: an IPv6 link-local one needs its interface (bind_if) as the scope. */
export function scoped(address: string, bindIf: string | undefined): string {
  return bindIf && isLinkLocal6(address) && !address.includes('%') ? `${address}%${bindIf}` : address;
}

/** `127.0.0.1:80`, `[::1]:80`: how messages name an endpoint. */
export function hostPort(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/** net.connect() options for a TCP check of `target`, from bindto / bind_port / bind_if. */
export function tcpConnectOptions(target: Endpoint, config: ConnectionConfig): net.TcpNetConnectOpts {
  const opts: net.TcpNetConnectOpts = { host: scoped(target.address, config.bindIf), port: target.port };
  if (config.bindto) opts.localAddress = scoped(config.bindto.address, config.bindIf);
  // a bind_port without bindto binds the wildcard address of the target's family, as keepalived's socket_bind_connect()
  else if (config.bindPort !== undefined) opts.localAddress = net.isIPv6(target.address) ? '::' : '0.0.0.0';
  if (config.bindPort !== undefined) opts.localPort = config.bindPort;
  return opts;
}

/** The words for an error of a socket, DNS or TLS: what happened, then the code operators search for. */
export function describeError(err: unknown): string {
  return errorText(err, { explain: true });
}

/**
 * 'timed out' when the scheduler aborted at connect_timeout (an
 * AbortSignal.timeout() or a TimeoutError reason), else 'aborted' with the
 * reason given: a reload or a shutdown is not the server's fault.
 */
export function abortWords(signal: AbortSignal): string {
  const r = signal.reason as { name?: unknown; message?: unknown } | undefined;
  if (r && r.name === 'TimeoutError') return 'timed out';
  const why = r && typeof r.message === 'string' && r.message ? r.message : undefined;
  return why ? `aborted (${why})` : 'aborted';
}

/** Runs `fn` once when `signal` aborts (at once if it already has); returns the function that stops listening. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    queueMicrotask(fn);
    return () => {};
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}
