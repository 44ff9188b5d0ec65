import { isLoopback } from '../config/keywords/alived-api';
import type { ConfigModel } from '../config/model';
import { AlivedError } from '../errors';
import { readFileSafeSync } from '../fs/safe-file';
import { readSecretFile, readTokenFile } from './secret-file';
import { ApiToken } from './token';
import { defaultSocketPath } from './socket-path';

export { ApiToken } from './token';

/**
 * What the API server serves on, from the config's `alived_api { }` block
 * and the command line (apiSettingsOf). Files (the token, the TLS key and
 * certificate) are read when the settings are made, at start and at each
 * reload, so a reload picks up a new token or a renewed certificate.
 */

export interface ApiTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface ApiTcpListener {
  /** an IP address (IPv6 without brackets) */
  readonly host: string;
  /** 0: a port the kernel chooses (tests) */
  readonly port: number;
}

export interface ApiSocketSettings {
  readonly path: string;
  /** permission bits, default 0660 */
  readonly mode: number;
  /** a group name or number to chown the socket to */
  readonly group: string | null;
}

export interface ApiSettings {
  /** null: no unix socket (`socket off`) */
  readonly socket: ApiSocketSettings | null;
  readonly tcp: readonly ApiTcpListener[];
  /** required on TCP when set; a TCP listener off loopback is refused without one */
  readonly token: ApiToken | null;
  /** TLS on every TCP listener */
  readonly tls: ApiTls | null;
  /** connections open at once over every listener (default 64) */
  readonly maxConnections: number;
  /** /v1/events clients at once (default 16) */
  readonly maxStreamClients: number;
}

export const API_DEFAULTS = { socketMode: 0o660, maxConnections: 64, maxStreamClients: 16 } as const;

/** The settings of a config without `alived_api`: the unix socket only. */
export function defaultApiSettings(flags: { stateDir?: string | undefined; instance?: string | undefined } = {}): ApiSettings {
  return {
    socket: { path: defaultSocketPath(flags), mode: API_DEFAULTS.socketMode, group: null },
    tcp: [],
    token: null,
    tls: null,
    maxConnections: API_DEFAULTS.maxConnections,
    maxStreamClients: API_DEFAULTS.maxStreamClients,
  };
}

function refused(what: string, why: string): AlivedError {
  return new AlivedError('ALIVED_API_LISTEN', `the HTTP API cannot listen on ${what}: ${why}`);
}

/**
 * The API's settings from a validated config and the command line
 * (`stateDir`: --state-dir as given; `instance`: --instance). Reads the
 * token and TLS files: a file that went missing or changed since the
 * config was checked is an AlivedError ALIVED_API_LISTEN naming it.
 */
export function apiSettingsOf(model: Pick<ConfigModel, 'alivedApi'>, flags: { stateDir?: string | undefined; instance?: string | undefined }): ApiSettings {
  const b = model.alivedApi;
  const base = defaultApiSettings(flags);
  if (!b) return base;
  const tcp = b.listen.map((l) => ({ host: l.host, port: l.port }));
  const where = tcp.map((l) => addressText(l)).join(', ');
  let token: ApiToken | null = null;
  if (b.tokenFile !== undefined) {
    const r = readTokenFile(b.tokenFile);
    if ('problem' in r) throw refused(where || 'TCP', `token_file: ${r.problem}`);
    token = new ApiToken(r.token);
  }
  let tls: ApiTls | null = null;
  if (b.tlsCert !== undefined && b.tlsKey !== undefined) {
    let cert: Buffer;
    try {
      cert = Buffer.from(readFileSafeSync(b.tlsCert));
    } catch (err) {
      throw refused(where || 'TCP', `tls_cert: ${(err as Error).message}`);
    }
    const key = readSecretFile(b.tlsKey);
    if ('problem' in key) throw refused(where || 'TCP', `tls_key: ${key.problem}`);
    tls = { certFile: b.tlsCert, keyFile: b.tlsKey, cert, key: Buffer.from(key.text) };
  }
  return {
    socket: b.socket === 'off' ? null : { path: b.socket ?? base.socket!.path, mode: b.socketMode, group: b.socketGroup ?? null },
    tcp,
    token,
    tls,
    maxConnections: b.maxConnections,
    maxStreamClients: b.maxStreamClients,
  };
}

/** `127.0.0.1:9650`, `[::1]:9650` */
export function addressText(l: { host: string; port: number }): string {
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

/** Why a TCP listener may not open with these settings (off loopback without a token), or undefined. */
export function tcpListenerProblem(l: ApiTcpListener, s: Pick<ApiSettings, 'token'>): string | undefined {
  if (s.token === null && !isLoopback(l.host)) return 'it is not a loopback address and no token_file is set';
  return undefined;
}
