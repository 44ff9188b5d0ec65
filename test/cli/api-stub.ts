import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { TimelineEvent } from '../../core/status/types';
import type { DaemonActions } from '../../core/api/types';
import { AlivedError, isAlivedError } from '../../core/errors';
import { tmpDir } from '../helpers/config';
import { EVENTS, OUTBOX, PLUGINS, STATUS, TEST_RESULTS } from './status-fixtures';

/**
 * A small real HTTP server on a unix socket in a temporary directory that
 * answers the API's routes (core/api/types.ts) with the literal documents of
 * status-fixtures.ts, the way the daemon's API does: JSON bodies, JSON
 * errors `{ error: { code, message } }`, and Server-Sent Events on
 * /v1/events. It records what it was asked.
 */

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly body: unknown;
}

export interface ApiStub {
  readonly dir: string;
  readonly socketPath: string;
  readonly seen: SeenRequest[];
  /** sends one timeline event to every /v1/events client */
  push(e: TimelineEvent): void;
  /** resolves when this many /v1/events clients are connected */
  streamClients(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const error = (res: http.ServerResponse, status: number, code: string, message: string): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message } }));
};

async function actionRoute(actions: DaemonActions, route: string, body: unknown): Promise<unknown> {
  const b = (body ?? {}) as { notifier?: string; id?: string };
  if (route === 'POST /v1/notify/test') return { results: await actions.notifyTest(b.notifier) };
  if (route === 'GET /v1/outbox') return { entries: actions.outbox() };
  if (route === 'POST /v1/outbox/retry') return { retried: actions.outboxRetry(b.id) };
  if (route.startsWith('DELETE /v1/outbox/')) {
    const id = decodeURIComponent(route.slice('DELETE /v1/outbox/'.length));
    if (!(await actions.outboxDrop(id))) throw new AlivedError('ALIVED_API_NOT_FOUND', `no outbox entry '${id}'`);
    return { dropped: id };
  }
  throw new AlivedError('ALIVED_API_NOT_FOUND', `no route ${route}`);
}

const json = (res: http.ServerResponse, body: unknown): void => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/**
 * With `actions`, the action routes (notify test, outbox) are answered by
 * them, as the daemon's API does, an AlivedError becoming its JSON error.
 */
export async function startApiStub(opts: { dir?: string; socketName?: string; actions?: DaemonActions } = {}): Promise<ApiStub> {
  const dir = opts.dir ?? tmpDir('alived-cli-api-');
  const socketPath = path.join(dir, opts.socketName ?? 'alived.sock');
  const seen: SeenRequest[] = [];
  const streams = new Set<http.ServerResponse>();
  let outbox = [...OUTBOX];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        return error(res, 400, 'ALIVED_API_BAD_REQUEST', 'the body is not JSON');
      }
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      const url = new URL(req.url ?? '/', 'http://alived');
      const route = `${req.method} ${url.pathname}`;
      if (opts.actions && (url.pathname === '/v1/notify/test' || url.pathname.startsWith('/v1/outbox'))) {
        actionRoute(opts.actions, route, body).then(
          (answer) => json(res, answer),
          (e: unknown) =>
            isAlivedError(e) ? error(res, e.code === 'ALIVED_API_NOT_FOUND' ? 404 : 400, e.code, e.message) : error(res, 500, 'ALIVED_API_FAILED', String(e)),
        );
        return;
      }
      if (route === 'GET /v1/status') return json(res, STATUS);
      if (route === 'GET /v1/plugins') return json(res, { plugins: PLUGINS });
      if (route === 'GET /v1/timeline') {
        const since = Number(url.searchParams.get('since') ?? 0);
        const limit = Number(url.searchParams.get('limit') ?? 1000);
        return json(res, { events: EVENTS.filter((e) => e.seq > since).slice(-limit) });
      }
      if (route === 'GET /v1/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(': alived event stream\n\n');
        const since = Number(url.searchParams.get('since') ?? 0);
        // as the API does: the kept events after `since` first
        for (const e of EVENTS.filter((x) => x.seq > since)) res.write(`id: ${e.seq}\nevent: timeline\ndata: ${JSON.stringify(e)}\n\n`);
        streams.add(res);
        res.on('close', () => streams.delete(res));
        return;
      }
      if (route === 'POST /v1/notify/test') {
        const name = (body as { notifier?: string } | undefined)?.notifier;
        if (name === undefined) return json(res, { results: TEST_RESULTS });
        const hit = TEST_RESULTS.filter((r) => r.id === name || r.id.startsWith(`${name}:`));
        if (!hit.length)
          return error(res, 404, 'ALIVED_API_NOT_FOUND', `no notifier '${name}'; the notifiers are: ${TEST_RESULTS.map((r) => r.id).join(', ')}`);
        return json(res, { results: hit });
      }
      if (route === 'GET /v1/outbox') return json(res, { entries: outbox });
      if (route === 'POST /v1/outbox/retry') return json(res, { retried: outbox.length });
      if (req.method === 'DELETE' && url.pathname.startsWith('/v1/outbox/')) {
        const id = decodeURIComponent(url.pathname.slice('/v1/outbox/'.length));
        const e = outbox.find((x) => x.id === id || x.id.startsWith(id));
        if (!e) return error(res, 404, 'ALIVED_API_NOT_FOUND', `no outbox entry '${id}'`);
        outbox = outbox.filter((x) => x !== e);
        return json(res, { dropped: e.id });
      }
      return error(res, 404, 'ALIVED_API_NOT_FOUND', `no route ${route}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    dir,
    socketPath,
    seen,
    push(e) {
      for (const s of streams) s.write(`id: ${e.seq}\nevent: timeline\ndata: ${JSON.stringify(e)}\n\n`);
    },
    async streamClients(n, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (streams.size < n) {
        if (Date.now() > until) throw new Error(`no ${n} event-stream clients within ${timeoutMs} ms (${streams.size})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close() {
      for (const s of streams) s.end();
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          fs.rmSync(socketPath, { force: true });
          resolve();
        });
      });
    },
  };
}
