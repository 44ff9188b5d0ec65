import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';

/** Where a test sends its request: the unix socket or a TCP port on loopback (TLS with `ca`). */
export type Where = { socketPath: string } | { port: number; host?: string; ca?: string };

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
  /** the body's bytes as they came (gzipped when Content-Encoding says so) */
  raw: Buffer;
}

/** One raw HTTP request, with a time limit; the answer whatever its status. */
export function send(where: Where, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  const tls = 'ca' in where && where.ca !== undefined;
  const mod = tls ? https : http;
  const target = 'socketPath' in where ? { socketPath: where.socketPath } : { host: where.host ?? '127.0.0.1', port: where.port, ...(tls && { ca: where.ca }) };
  return new Promise((resolve, reject) => {
    const req = mod.request({ ...target, method, path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = raw.toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, raw });
      });
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A plain connection held open (counts against max_connections). */
export function hold(where: Where): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = 'socketPath' in where ? net.connect({ path: where.socketPath }) : net.connect({ host: '127.0.0.1', port: where.port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads Server-Sent Events from a raw stream until `until` says enough or the time is up. */
export function readEvents(
  where: Where,
  path: string,
  opts: { headers?: Record<string, string>; until: (raw: string) => boolean; onOpen?: () => void; timeoutMs?: number },
): Promise<{ status: number; raw: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const target = 'socketPath' in where ? { socketPath: where.socketPath } : { host: '127.0.0.1', port: where.port };
    const req = http.request({ ...target, method: 'GET', path, headers: opts.headers, agent: false }, (res) => {
      let raw = '';
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`the stream did not give what was expected within ${opts.timeoutMs ?? 5000} ms; got: ${raw}`));
      }, opts.timeoutMs ?? 5000);
      const check = (): void => {
        if (opts.until(raw)) {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, raw, close: () => req.destroy() });
        }
      };
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        raw += c;
        check();
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, raw, close: () => req.destroy() });
      });
      opts.onOpen?.();
      check();
    });
    req.on('error', reject);
    req.end();
  });
}

/** The `id:` lines of a raw event stream, as numbers. */
export function ids(raw: string): number[] {
  return [...raw.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
}
