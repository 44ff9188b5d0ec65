import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { readSecretFile, readTokenFile } from '../../api/secret-file';
import { readFileSafeSync } from '../../fs/safe-file';
import type { Pos } from '../diagnostics';
import { block, word, type CheckCtx } from '../schema';
import type { Stmt } from '../tree';
import { clip, filePath, int, INVALID, str, type WordParser } from '../values';

/**
 * `alived_api { }`: where alived's HTTP API listens (docs/api.md). alived's
 * own block; keepalived warns about it and goes on. Without it the API is on
 * the unix socket only, at the path the command line's --state-dir and
 * --instance choose (core/api/socket-path.ts).
 */

/** A TCP address of `listen`: `127.0.0.1:9650`, `[::1]:9650`. */
export interface ApiListenAddress {
  /** the IP address, IPv6 without its brackets */
  readonly host: string;
  readonly port: number;
  readonly pos: Pos;
}

const listenAddress: WordParser<ApiListenAddress> = {
  describe: '<ADDRESS:PORT>',
  parse(w, ctx) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(w.text);
    const host = m ? (m[1] ?? m[2]!) : '';
    const fam = net.isIP(host);
    if (!m || fam === 0 || (m[1] !== undefined && fam !== 6) || (m[2] !== undefined && fam !== 4)) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}' is not an address and port: 127.0.0.1:9650, or [::1]:9650 for IPv6`);
      return INVALID;
    }
    const port = Number(m[3]);
    if (port < 1 || port > 65535) {
      ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', w.pos, `port ${port} in '${clip(w.text)}' is out of range: expected 1..65535`);
      return INVALID;
    }
    return { host, port, pos: w.pos };
  },
};

/** `socket PATH` or `socket off` */
const socketPath: WordParser<string | 'off'> = {
  describe: '<PATH>|off',
  parse(w, ctx) {
    if (w.text === 'off') return 'off';
    if (!path.isAbsolute(w.text) || w.text.includes('\0')) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}' is not an absolute path or 'off'`);
      return INVALID;
    }
    if (Buffer.byteLength(w.text) > 107) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}' is longer than a unix socket path may be (107 bytes)`);
      return INVALID;
    }
    return path.normalize(w.text);
  },
};

/** `socket_mode 0660`: octal permission bits */
const octalMode: WordParser<number> = {
  describe: '<OCTAL MODE>',
  parse(w, ctx) {
    if (!/^0?[0-7]{3}$/.test(w.text)) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}' is not an octal file mode such as 0660`);
      return INVALID;
    }
    return parseInt(w.text, 8);
  },
};

const wordPos = (stmt: Stmt): Pos => stmt.args[0]?.pos ?? stmt.name.pos;

function groupExists(name: string): boolean | undefined {
  const r = spawnSync('getent', ['group', name], { timeout: 5000, encoding: 'utf8' });
  if (r.error || r.status === null) return undefined;
  return r.status === 0;
}

export function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1' || /^::ffff:127\./i.test(host);
}

export const alivedApiSchema = block(
  {
    socket: word(socketPath).doc('the unix socket, or off; default /run/alived/alived.sock (per --state-dir / --instance)'),
    socket_mode: word(octalMode).default(0o660).doc("the unix socket's permissions; default 0660"),
    socket_group: word(str({ pattern: /^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/, patternText: 'a group name', maxLength: 64 }))
      .validate((g, ctx, stmt) => {
        if (/^\d+$/.test(g)) return;
        if (groupExists(g) === false) ctx.diags.warning('ALIVED_CONFIG_HOST_FACT', wordPos(stmt), `group '${clip(g)}' does not exist on this host`);
      })
      .doc('the group the unix socket is given (chown)'),
    listen: word(listenAddress).repeatable().doc('a TCP address to serve GET requests on: ADDRESS:PORT, [IPv6]:PORT'),
    token_file: word(filePath())
      .validate((f, ctx, stmt) => {
        const r = readTokenFile(f);
        if ('problem' in r) ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', wordPos(stmt), `token_file: ${r.problem}`);
      })
      .doc('a file whose first line is the bearer token TCP requests must carry (at least 16 characters; not readable by others)'),
    tls_cert: word(filePath())
      .validate((f, ctx, stmt) => {
        try {
          readFileSafeSync(f);
        } catch (err) {
          ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', wordPos(stmt), `tls_cert: ${(err as Error).message}`);
        }
      })
      .doc('the TLS certificate chain (PEM) of the TCP listeners'),
    tls_key: word(filePath())
      .validate((f, ctx, stmt) => {
        const r = readSecretFile(f);
        if ('problem' in r) ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', wordPos(stmt), `tls_key: ${r.problem}`);
      })
      .doc('the private key (PEM) of tls_cert; not readable by others'),
    max_connections: word(int({ min: 1, max: 10000 }))
      .default(64)
      .doc('connections open at once, over every listener; default 64'),
    max_stream_clients: word(int({ min: 1, max: 1000 }))
      .default(16)
      .doc('clients of /v1/events at once; default 16'),
  },
  {
    feature: 'api',
    check: (v: AlivedApiBlock, ctx: CheckCtx, stmt: Stmt) => checkApiBlock(v, ctx, stmt),
  },
);

interface AlivedApiBlock {
  pos: Pos;
  socket?: string;
  socketGroup?: string;
  listen: ApiListenAddress[];
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
}

function posOf(stmt: Stmt, keyword: string): Pos {
  return (stmt.block ?? []).find((s) => s.name.text === keyword)?.name.pos ?? stmt.name.pos;
}

function checkApiBlock(v: AlivedApiBlock, ctx: CheckCtx, stmt: Stmt): void {
  if ((v.tlsCert === undefined) !== (v.tlsKey === undefined)) {
    const given = v.tlsCert !== undefined ? 'tls_cert' : 'tls_key';
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      posOf(stmt, given),
      `alived_api: ${given} needs ${given === 'tls_cert' ? 'tls_key' : 'tls_cert'} too (both or neither)`,
    );
  }
  const seen = new Map<string, Pos>();
  for (const l of v.listen) {
    const key = `${l.host}:${l.port}`;
    const prev = seen.get(key);
    if (prev) ctx.diags.error('ALIVED_CONFIG_DUPLICATE', l.pos, `alived_api: listen ${clip(key)} is already given (at line ${prev.line})`);
    seen.set(key, l.pos);
    if (v.tokenFile === undefined && !isLoopback(l.host)) {
      ctx.diags.error(
        'ALIVED_CONFIG_NOT_SUPPORTED',
        l.pos,
        `alived_api: listen ${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port} is not a loopback address and no token_file is set: anyone who reaches it would read the status; add token_file`,
      );
    }
  }
  if (v.listen.length === 0) {
    for (const k of ['token_file', 'tls_cert', 'tls_key'] as const) {
      if ((stmt.block ?? []).some((s) => s.name.text === k)) {
        ctx.diags.warning(
          'ALIVED_CONFIG_NO_EFFECT',
          posOf(stmt, k),
          `alived_api: ${k} has no effect without a listen address (the unix socket takes no token and no TLS)`,
        );
      }
    }
  }
  if (v.socket === 'off') {
    for (const k of ['socket_mode', 'socket_group'] as const) {
      if ((stmt.block ?? []).some((s) => s.name.text === k))
        ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', posOf(stmt, k), `alived_api: ${k} has no effect with socket off`);
    }
    if (v.listen.length === 0)
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', posOf(stmt, 'socket'), 'alived_api: socket off and no listen address: the API is not served at all');
  }
}
