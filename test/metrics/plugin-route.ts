import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BUILTIN_PLUGINS } from '../../core/plugin/builtins';
import { PluginHost } from '../../core/plugin/host';
import type { ApiRequest, ApiResponse } from '../../core/api/types';
import type { StatusProvider } from '../../core/status/types';
import type { LogRecord } from '../../core/log/logger';
import { memoryLogger } from '../helpers/log';

/**
 * The built-in plugins applied on a PluginHost whose api.status answers from
 * `provider`, as a daemon runs them, and the /metrics route they register.
 * metrics-prometheus gets `maxAgeMs` (default 0: no page cache, so a test
 * sees each change of the document at the next scrape).
 */
export async function metricsRoute(
  provider: StatusProvider,
  opts: { maxAgeMs?: number } = {},
): Promise<{ scrape: (headers?: ApiRequest['headers']) => Promise<ApiResponse>; host: PluginHost; records: LogRecord[] }> {
  const { log, records } = memoryLogger();
  const host = new PluginHost({ log });
  for (const p of BUILTIN_PLUGINS) {
    const options = p.name === 'metrics-prometheus' ? { maxAgeMs: opts.maxAgeMs ?? 0 } : undefined;
    await host.apply(p, { builtin: true, options });
  }
  host.setStatusProvider(provider);
  const route = host.routes.find((r) => r.def.method === 'GET' && r.def.path === '/metrics');
  if (!route) throw new Error('no built-in plugin registers GET /metrics');
  const req = (headers: ApiRequest['headers']): ApiRequest => ({
    method: 'GET',
    path: '/metrics',
    query: new URLSearchParams(),
    headers,
    transport: 'tcp',
    body: undefined,
    params: {},
  });
  return { scrape: async (headers = {}) => route.def.handle(req(headers)), host, records };
}

/** The body of a response as text. */
export function bodyText(res: ApiResponse): string {
  if (typeof res.body === 'string') return res.body;
  if (Buffer.isBuffer(res.body)) return res.body.toString('utf8');
  throw new Error('/metrics answered an object, not text');
}

/** Serves `scrape()` as GET /metrics on 127.0.0.1 (port 0, plain node:http), as the API would; returns the address and the closer. */
export async function serveMetrics(scrape: () => Promise<ApiResponse>): Promise<{ target: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrape().then(
      (r) => res.writeHead(r.status, { 'content-type': r.contentType ?? 'text/plain' }).end(bodyText(r)),
      (err) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
