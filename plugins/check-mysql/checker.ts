import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { AlivedError, type Checker, type CheckerContext, type CheckResult } from '../../core/sdk';
import { abortWords, hostPort, tcpConnectOptions } from '../shared/net';
import type { MysqlCheckConfig } from './index';

/**
 * One MYSQL_CHECK: a connection kept open between checks (one login, not
 * one per check), dropped on any connection error, timeout or abort, and
 * closed when the checker closes (reload that replaces it, stop) and after
 * every reload (closeAllConnections): the password file or the accounts may
 * have changed. A check runs the query, then the conditions configured:
 * read_only, then the replica's threads and lag (SHOW REPLICA STATUS, or
 * SHOW SLAVE STATUS on servers that lack it).
 *
 * The password never appears in a message: mysql2's errors name the user
 * and whether a password was used, nothing more.
 */

type Mysql = typeof import('mysql2');
type Connection = import('mysql2').Connection;

export interface MysqlCheckerOptions {
  /** milliseconds a connection attempt may take when the config sets no connect_timeout; default 5000 */
  readonly connectTimeoutMs?: number;
}

let mysql: Mysql | undefined;
/** loaded at the first check: a daemon without MYSQL_CHECK never loads mysql2 */
function driver(): Mysql {
  mysql ??= require('mysql2') as Mysql;
  return mysql;
}

const live = new Set<{ drop(): void }>();

/** Closes every MYSQL_CHECK connection (after a reload, at stop); the next check of each logs in again. */
export function closeAllConnections(): void {
  for (const c of live) c.drop();
}

class CheckFailed extends AlivedError {
  constructor(message: string) {
    super('ALIVED_CHECK_UNHEALTHY', message);
  }
}

/** Node's codes for a certificate chain that tls_ca (or the system CAs) does not vouch for */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

function errorWords(err: unknown): string {
  const e = err as { code?: unknown; errno?: unknown; sqlMessage?: unknown; message?: unknown };
  if (typeof e?.sqlMessage === 'string') return `${e.sqlMessage}${typeof e.code === 'string' ? ` (${e.code})` : ''}`;
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ETIMEDOUT':
      return 'connection timed out (ETIMEDOUT)';
    case 'PROTOCOL_CONNECTION_LOST':
      return 'the server closed the connection';
    case 'HANDSHAKE_NO_SSL_SUPPORT':
      return 'TLS: the server does not offer it (HANDSHAKE_NO_SSL_SUPPORT)';
  }
  const m = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' && !m.includes(e.code) ? `${m} (${e.code})` : m;
}

export function createMysqlChecker(config: MysqlCheckConfig, ctx: CheckerContext, opts: MysqlCheckerOptions = {}): Checker {
  return new MysqlChecker(config, { address: ctx.target.address, port: ctx.target.port || 3306 }, opts);
}

class MysqlChecker implements Checker {
  private readonly where: string;
  private readonly connectTimeoutMs: number;
  private conn: Connection | undefined;
  private closed = false;
  private lastPassword: string | undefined;
  private readonly entry = { drop: (): void => this.drop() };

  constructor(
    private readonly config: MysqlCheckConfig,
    private readonly target: { readonly address: string; readonly port: number },
    opts: MysqlCheckerOptions,
  ) {
    this.where = `MYSQL_CHECK ${hostPort(target.address, target.port)}`;
    this.connectTimeoutMs = config.connectTimeout !== undefined ? Math.max(1, Math.round(config.connectTimeout * 1000)) : (opts.connectTimeoutMs ?? 5000);
    this.lastPassword = config.password;
    live.add(this.entry);
  }

  async check(signal: AbortSignal): Promise<CheckResult> {
    const { where } = this;
    if (this.closed) return { ok: false, message: `${where}: closed` };
    try {
      let c = this.conn;
      if (!c) {
        c = await this.connect(signal);
        if (this.closed) {
          c.destroy();
          return { ok: false, message: `${where}: closed` };
        }
        this.conn = c;
      }
      await this.query(c, this.config.query, signal);
      const notes = [...(await this.readOnly(c, signal)), ...(await this.replica(c, signal))];
      return { ok: true, message: `${where}: ${clipSql(this.config.query)} ok${notes.length ? `; ${notes.join(', ')}` : ''}` };
    } catch (err) {
      const pw = this.lastPassword;
      if (err instanceof CheckFailed) return { ok: false, message: maskSecrets(`${where}: ${err.message}`, pw) };
      this.drop();
      return { ok: false, message: maskSecrets(`${where}: ${errorWords(err)}`, pw) };
    }
  }

  close(): void {
    this.closed = true;
    this.drop();
    live.delete(this.entry);
  }

  private drop(): void {
    const c = this.conn;
    this.conn = undefined;
    // destroy, not end(): a hanging server must not keep a close waiting
    c?.destroy();
  }

  private password(): string | undefined {
    const { config } = this;
    if (config.password !== undefined) return config.password;
    if (config.passwordFile === undefined) return undefined;
    try {
      return (this.lastPassword = fs.readFileSync(config.passwordFile, 'utf8').split(/\r?\n/)[0]);
    } catch (err) {
      throw new CheckFailed(`cannot read password_file ${config.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  private tlsOptions(): object | undefined {
    const { config } = this;
    const wanted =
      config.tls ?? (config.tlsCa !== undefined || config.tlsCert !== undefined || config.tlsServerName !== undefined || config.tlsVerify !== undefined);
    if (!wanted) return undefined;
    const read = (p: string | undefined): Buffer | undefined => {
      if (p === undefined) return undefined;
      try {
        return fs.readFileSync(p);
      } catch (err) {
        throw new CheckFailed(`cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    return {
      ...(config.tlsCa ? { ca: read(config.tlsCa) } : {}),
      ...(config.tlsCert ? { cert: read(config.tlsCert), key: read(config.tlsKey) } : {}),
      rejectUnauthorized: config.tlsVerify !== false,
      // the name is verified by verifyName(): mysql2 would check a host name only, never an address
      verifyIdentity: false,
    };
  }

  /**
   * Verifies the server certificate's name (tls_server_name, else the
   * address it was reached at) once the TLS handshake is done, before the
   * login is sent; and words a TLS failure for the message, while its own
   * code is still there (mysql2 replaces it with HANDSHAKE_SSL_ERROR).
   */
  private verifyName(c: Connection): void {
    const conn = c as unknown as { startTLS(onSecure: (err?: Error) => void): void; stream: tls.TLSSocket };
    const startTLS = conn.startTLS.bind(c);
    conn.startTLS = (onSecure) =>
      startTLS((err) => {
        const name = this.config.tlsServerName ?? this.target.address;
        const failure = err ?? (this.config.tlsVerify !== false ? tls.checkServerIdentity(name, conn.stream.getPeerCertificate()) : undefined);
        onSecure(failure ? new CheckFailed(this.tlsWords(failure)) : undefined);
      });
  }

  private tlsWords(err: NodeJS.ErrnoException): string {
    const code = err.code ? ` (${err.code})` : '';
    if (err.code && UNTRUSTED.has(err.code))
      return `TLS: the server certificate is not trusted (${this.config.tlsCa ? `tls_ca ${this.config.tlsCa}` : 'the system CAs'}): ${err.message}${code}`;
    return `TLS: ${err.message}${code}`;
  }

  private connect(signal: AbortSignal): Promise<Connection> {
    const { config, target } = this;
    return new Promise((resolve, reject) => {
      const ssl = this.tlsOptions();
      const pw = this.password();
      const c = driver().createConnection({
        // the TLS server name (SNI) when it is a name; the socket is ours
        host: config.tlsServerName ?? target.address,
        port: target.port,
        // our own socket: mysql2 would ignore bindto (localAddress), bind_port and bind_if
        stream: () => net.connect(tcpConnectOptions(target, config)).setNoDelay(true),
        user: config.user,
        ...(pw !== undefined ? { password: pw } : {}),
        ...(config.database ? { database: config.database } : {}),
        connectTimeout: this.connectTimeoutMs,
        ...(ssl ? { ssl } : {}),
        // no type juggling: the check reads a few fields as strings and numbers
        supportBigNumbers: true,
        dateStrings: true,
      });
      if (ssl) this.verifyName(c);
      // a connection error after the check (server gone) must never reach the daemon as an unhandled 'error'
      c.on('error', () => {
        if (this.conn === c) this.conn = undefined;
        c.destroy();
      });
      const onAbort = (): void => {
        c.destroy();
        reject(new CheckFailed(`${abortWords(signal)} connecting`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      c.connect((err) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) return;
        if (err) {
          c.destroy();
          reject(err instanceof CheckFailed ? err : new CheckFailed(errorWords(err)));
        } else resolve(c);
      });
    });
  }

  private query<T = Record<string, unknown>[]>(c: Connection, sql: string, signal: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        // a query that hangs (SELECT SLEEP, a lock) cannot be taken back: the connection goes with it
        if (this.conn === c) this.conn = undefined;
        c.destroy();
        reject(new CheckFailed(`${abortWords(signal)} running '${clipSql(sql)}'`));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      c.query({ sql, rowsAsArray: false }, (err, rows) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) return;
        if (err) {
          if ((err as { fatal?: boolean }).fatal) {
            if (this.conn === c) this.conn = undefined;
            c.destroy();
          }
          reject(new CheckFailed(`'${clipSql(sql)}': ${errorWords(err)}`));
        } else resolve(rows as T);
      });
    });
  }

  /** read_only, when the config asks for it */
  private async readOnly(c: Connection, signal: AbortSignal): Promise<string[]> {
    const want = this.config.readOnly;
    if (want === undefined) return [];
    const rows = await this.query(c, 'SELECT @@global.read_only AS ro', signal);
    const ro = Number(rows[0]?.ro) === 1;
    if (ro !== want) throw new CheckFailed(`read_only is ${ro ? 'ON' : 'OFF'}, expected ${want ? 'ON' : 'OFF'}`);
    return [`read_only ${ro ? 'ON' : 'OFF'}`];
  }

  /** the replica's threads and lag, when the config asks for any of them */
  private async replica(c: Connection, signal: AbortSignal): Promise<string[]> {
    const { config } = this;
    const wantsReplica = config.replicaIoRunning !== undefined || config.replicaSqlRunning !== undefined || config.replicaMaxLag !== undefined;
    if (!wantsReplica) return [];
    const notes: string[] = [];
    const row = await this.replicaStatus(c, signal);
    if (!row) throw new CheckFailed('not a replica (SHOW REPLICA STATUS is empty)');
    const io = String(field(row, 'Replica_IO_Running', 'Slave_IO_Running') ?? '');
    const sql = String(field(row, 'Replica_SQL_Running', 'Slave_SQL_Running') ?? '');
    if (config.replicaIoRunning !== undefined && (io === 'Yes') !== config.replicaIoRunning) {
      const err = String(field(row, 'Last_IO_Error') ?? '');
      throw new CheckFailed(`replica IO thread ${io === 'Yes' ? 'running' : `not running (${io || 'unknown'})`}${err ? `: ${err}` : ''}`);
    }
    if (config.replicaSqlRunning !== undefined && (sql === 'Yes') !== config.replicaSqlRunning) {
      const err = String(field(row, 'Last_SQL_Error') ?? '');
      throw new CheckFailed(`replica SQL thread ${sql === 'Yes' ? 'running' : `not running (${sql || 'unknown'})`}${err ? `: ${err}` : ''}`);
    }
    if (config.replicaMaxLag !== undefined) {
      const lag = field(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master');
      if (lag === null || lag === undefined) throw new CheckFailed('replica lag unknown (Seconds_Behind_Master is NULL: a replica thread is stopped)');
      if (Number(lag) > config.replicaMaxLag) throw new CheckFailed(`replica ${lag} s behind (limit ${config.replicaMaxLag} s)`);
      notes.push(`lag ${lag} s`);
    }
    notes.push(`replica IO ${io}, SQL ${sql}`);
    return notes;
  }

  private async replicaStatus(c: Connection, signal: AbortSignal): Promise<Record<string, unknown> | undefined> {
    let rows: Record<string, unknown>[];
    try {
      rows = await this.query(c, 'SHOW REPLICA STATUS', signal);
    } catch (err) {
      // MySQL before 8.0.22 and MariaDB before 10.5.1 know only the old words
      if (signal.aborted || !(err instanceof CheckFailed) || !/syntax|ER_PARSE_ERROR/i.test(err.message)) throw err;
      rows = await this.query(c, 'SHOW SLAVE STATUS', signal);
    }
    return rows[0];
  }
}

function field(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (n in row) return row[n];
  return undefined;
}

/**
 * A server's words may quote a statement that carries a password (a
 * replica's Last_SQL_Error quotes the failed CREATE USER ... IDENTIFIED BY
 * '...'): such literals, and the configured password anywhere, are masked.
 */
export function maskSecrets(text: string, password?: string): string {
  let out = text.replace(
    /((?:IDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)|PASSWORD\s*(?:=|\()?|MASTER_PASSWORD\s*=|SOURCE_PASSWORD\s*=)\s*(?:PASSWORD\s*\(\s*)?)'(?:[^'\\]|\\.|'')*'/gi,
    "$1'***'",
  );
  if (password && password.length >= 3) out = out.split(password).join('***');
  return out;
}

function clipSql(sql: string): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}
