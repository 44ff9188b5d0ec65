import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { AlivedError, type Endpoint } from '../../core/sdk';
import { cmdlineWords, inOwnNetns, listPids, readCmdline, readStat } from '../shared/proc';

/**
 * The probes the presets are made of: a process running in this host's
 * network namespace, an HTTP GET, a line-oriented UNIX / TCP socket
 * command (haproxy's stats socket). Each settles when its signal aborts.
 */

/** the service answered, but not as a healthy one does: the check fails with this message */
export class ProbeFailed extends AlivedError {
  constructor(message: string) {
    super('ALIVED_CHECK_UNHEALTHY', message);
  }
}

/** How a preset finds its process: by name, then by what its command line says. */
export interface ProcessQuery {
  /** /proc/PID/comm */
  readonly comm: string;
  /** the command line (its words joined by spaces) must pass this */
  readonly cmdline?: (line: string) => boolean;
  /** a pid file to read first (nginx's, haproxy's -p, CATALINA_PID) */
  readonly pidfile?: string;
}

/** The pid of a matching process in alived's own network namespace, or why there is none. */
export function findProcess(q: ProcessQuery): { pid: number } | { missing: string } {
  const ok = (pid: number): boolean => {
    const st = readStat(pid);
    if (!st || st.state === 'Z' || st.state === 'X' || st.comm !== q.comm) return false;
    if (q.cmdline) {
      const c = readCmdline(pid);
      if (!c || !q.cmdline(cmdlineWords(c).join(' '))) return false;
    }
    // the one serving this host's addresses: a process of another namespace (container, lab host) is not ours
    return inOwnNetns(pid);
  };
  if (q.pidfile) {
    let text: string;
    try {
      text = fs.readFileSync(q.pidfile, 'utf8');
    } catch (err) {
      return { missing: `pid file ${q.pidfile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) return { missing: `pid file ${q.pidfile} holds no pid` };
    if (ok(pid)) return { pid };
    return { missing: `process ${pid} of ${q.pidfile} is not running (or is not ${q.comm})` };
  }
  for (const pid of listPids()) if (ok(pid)) return { pid };
  return { missing: `no ${q.comm} process${q.cmdline ? ' of that kind' : ''} runs in this network namespace` };
}

/** Whether an address is this host's own (loopback, or on one of its interfaces): only then can its processes be seen. */
export function isLocalAddress(address: string): boolean {
  if (address === '::1' || address.startsWith('127.')) return true;
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.address === address) return true;
  return false;
}

export interface HttpOutcome {
  readonly status: number;
  readonly body: string;
}

/** GET `path` from target; the body up to 64 KiB. */
export function httpGet(target: Endpoint, path: string, host: string | undefined, signal: AbortSignal): Promise<HttpOutcome> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: target.address, port: target.port, path, agent: false, signal, headers: { host: host ?? hostHeader(target), 'user-agent': 'alived' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 65536) body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (err) => reject(err));
      },
    );
    req.on('error', (err) => reject(err));
  });
}

function hostHeader(t: Endpoint): string {
  return net.isIPv6(t.address) ? `[${t.address}]:${t.port}` : `${t.address}:${t.port}`;
}

/** Sends one command to a stats socket (a path, or host:port) and reads until the server closes. */
export function socketCommand(where: { path: string } | Endpoint, command: string, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = 'path' in where ? net.connect(where.path) : net.connect({ host: where.address, port: where.port });
    let out = '';
    const onAbort = (): void => {
      sock.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (d: string) => {
      if (out.length < 1 << 20) out += d;
    });
    sock.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
    sock.on('close', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(out);
    });
  });
}

export function errorWords(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const r = signal.reason as { name?: string } | undefined;
    return r?.name === 'TimeoutError' ? 'timed out' : 'aborted';
  }
  const e = err as NodeJS.ErrnoException;
  if (e instanceof ProbeFailed) return e.message;
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ENOENT':
      return `no such socket (ENOENT)`;
    case 'ECONNRESET':
      return 'connection reset (ECONNRESET)';
  }
  return e?.code ? `${e.message}` : String(e?.message ?? err);
}
