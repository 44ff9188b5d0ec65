import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ApiServer } from '../../core/api/server';
import { ApiToken, type ApiSettings } from '../../core/api/settings';
import type { ApiRoute } from '../../core/api/types';
import { memoryLogger } from '../helpers/log';
import { tmpDir } from '../helpers/config';
import { DOC, event, fakeActions, FakeProvider, OUTBOX, PLUGINS } from './fixture';
import { hold, ids, readEvents, send, type Answer, type Where } from './http';

const TOKEN = 'tok-3f9a1c7e5b2d4068a1b2';

const pluginRoutes: { def: ApiRoute; owner: string }[] = [
  {
    owner: 'metrics',
    def: {
      method: 'GET',
      path: '/metrics',
      description: 'Prometheus metrics',
      handle: () => ({ status: 200, contentType: 'text/plain; version=0.0.4', body: 'keepalived_up 1\n' }),
    },
  },
  {
    owner: 'echo',
    def: {
      method: 'GET',
      path: '/v1/echo/:word/:n',
      description: 'the parameters back',
      handle: (req) => ({ status: 200, body: { params: req.params, transport: req.transport } }),
    },
  },
  {
    owner: 'broken',
    def: {
      method: 'GET',
      path: '/v1/broken',
      description: 'always fails',
      handle: () => {
        throw new Error('the broken route broke');
      },
    },
  },
  {
    owner: 'echo',
    def: { method: 'POST', path: '/v1/echo', description: 'the body back', handle: (req) => ({ status: 200, body: { body: req.body as object } }) },
  },
];

const dir = tmpDir('alived-api-');
const socketPath = path.join(dir, 'run', 'alived.sock');
const provider = new FakeProvider();
const actions = fakeActions();
const { log, records } = memoryLogger();
const answers: Answer[] = [];

function settings(over: Partial<ApiSettings> = {}): ApiSettings {
  return {
    socket: { path: socketPath, mode: 0o660, group: null },
    tcp: [{ host: '127.0.0.1', port: 0 }],
    token: new ApiToken(TOKEN),
    tls: null,
    maxConnections: 64,
    maxStreamClients: 3,
    ...over,
  };
}

const server = new ApiServer({ provider, actions, routes: () => pluginRoutes, settings: settings(), log, limits: { heartbeatMs: 100 } });
let tcp: Where;
const unix: Where = { socketPath };
const auth = { Authorization: `Bearer ${TOKEN}` };

async function get(where: Where, p: string, headers: Record<string, string> = {}): Promise<Answer> {
  const a = await send(where, 'GET', p, { headers: 'port' in where ? { ...auth, ...headers } : headers });
  answers.push(a);
  return a;
}

async function call(where: Where, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const a = await send(where, method, p, { body: text, headers: { ...(text !== undefined && { 'Content-Type': 'application/json' }), ...headers } });
  answers.push(a);
  return a;
}

function isError(a: Answer, status: number, code: string): void {
  assert.equal(a.status, status, a.text);
  assert.equal(a.json?.error?.code, code, a.text);
  assert.equal(typeof a.json.error.message, 'string');
  assert.match(String(a.headers['content-type']), /^application\/json; charset=utf-8$/);
}

before(async () => {
  await server.start();
  tcp = { port: server.addresses().tcp[0]!.port };
});

after(async () => {
  await server.stop();
});

test('the unix socket is made with mode 0660 in a directory made 0755', () => {
  const st = fs.lstatSync(socketPath);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o755);
  assert.equal(server.addresses().socket, socketPath);
});

test('GET / lists every route, the core ones and the plugins', async () => {
  const a = await get(unix, '/');
  assert.equal(a.status, 200);
  const paths = a.json.routes.map((r: { method: string; path: string }) => `${r.method} ${r.path}`);
  for (const p of [
    'GET /v1/status',
    'GET /v1/instances/:name',
    'GET /v1/virtual-servers',
    'GET /v1/timeline',
    'GET /v1/events',
    'GET /v1/plugins',
    'POST /v1/notify/test',
    'GET /v1/outbox',
    'POST /v1/outbox/retry',
    'DELETE /v1/outbox/:id',
    'GET /metrics',
    'GET /v1/echo/:word/:n',
  ]) {
    assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  }
  assert.ok(a.json.routes.every((r: { description: string }) => typeof r.description === 'string' && r.description.length > 0));
});

test('the status routes answer from the provider, as JSON that is not cached', async () => {
  const s = await get(unix, '/v1/status');
  assert.equal(s.status, 200);
  assert.equal(s.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(s.headers['cache-control'], 'no-store');
  assert.deepEqual(s.json, DOC);
  assert.deepEqual((await get(unix, '/v1/instances/VI_1')).json, DOC.vrrp.instances[0]);
  isError(await get(unix, '/v1/instances/VI_9'), 404, 'ALIVED_API_NOT_FOUND');
  assert.deepEqual((await get(unix, '/v1/virtual-servers')).json, { virtualServers: DOC.virtualServers });
  assert.deepEqual((await get(unix, '/v1/plugins')).json, { plugins: PLUGINS });
  assert.deepEqual((await get(unix, '/v1/outbox')).json, { entries: OUTBOX });
  // the same over TCP, with the token
  assert.deepEqual((await get(tcp, '/v1/status')).json, DOC);
  assert.deepEqual((await get(tcp, '/v1/instances/VI_1')).json, DOC.vrrp.instances[0]);
});

test('/v1/status goes gzipped to a client whose Accept-Encoding takes gzip, as it is to the others', async () => {
  const zipped = async (acceptEncoding: string): Promise<Answer> => {
    // the first answer after a client asked for gzip may still be the bytes made before: the next is gzipped
    for (let i = 0; i < 20; i++) {
      const a = await get(unix, '/v1/status', { 'Accept-Encoding': acceptEncoding });
      if (a.headers['content-encoding'] === 'gzip') return a;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`no gzipped answer to Accept-Encoding: ${acceptEncoding}`);
  };
  for (const accept of ['gzip', 'deflate, gzip;q=0.5', 'br;q=1, *;q=0.1']) {
    const a = await zipped(accept);
    assert.equal(a.headers.vary, 'Accept-Encoding');
    assert.equal(Number(a.headers['content-length']), a.raw.length);
    assert.deepEqual(JSON.parse(zlib.gunzipSync(a.raw).toString('utf8')), DOC);
  }
  for (const accept of [undefined, 'identity', 'gzip;q=0', 'br', '*;q=0']) {
    const a = await get(unix, '/v1/status', accept === undefined ? {} : { 'Accept-Encoding': accept });
    assert.equal(a.headers['content-encoding'], undefined, `Accept-Encoding: ${accept}`);
    assert.deepEqual(a.json, DOC);
  }
  // HEAD: the gzipped answer's headers, no body
  const head = await send(unix, 'HEAD', '/v1/status', { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(head.headers['content-encoding'], 'gzip');
  assert.equal(head.raw.length, 0);
});

test('/v1/timeline takes since and limit as non-negative integers', async () => {
  assert.deepEqual(
    (await get(unix, '/v1/timeline')).json.events.map((e: { seq: number }) => e.seq),
    [1, 2, 3],
  );
  assert.deepEqual(
    (await get(unix, '/v1/timeline?since=1')).json.events.map((e: { seq: number }) => e.seq),
    [2, 3],
  );
  assert.deepEqual(
    (await get(unix, '/v1/timeline?limit=1')).json.events.map((e: { seq: number }) => e.seq),
    [3],
  );
  assert.deepEqual((await get(unix, '/v1/timeline?since=0&limit=0')).json.events, []);
  for (const q of ['since=-1', 'since=abc', 'limit=1.5', 'limit=', 'since=1e3']) isError(await get(unix, `/v1/timeline?${q}`), 400, 'ALIVED_API_BAD_REQUEST');
});

test('unknown paths are 404, a known path with another method 405 with Allow', async () => {
  isError(await get(unix, '/v1/nothing'), 404, 'ALIVED_API_NOT_FOUND');
  isError(await get(unix, '/v1/status/extra'), 404, 'ALIVED_API_NOT_FOUND');
  const m = await call(unix, 'DELETE', '/v1/status');
  isError(m, 405, 'ALIVED_API_METHOD');
  assert.equal(m.headers.allow, 'GET, HEAD');
  isError(await call(unix, 'PUT', '/v1/outbox/e-1'), 405, 'ALIVED_API_METHOD');
  isError(await get(unix, '/v1/instances/%E0%A4%A'), 400, 'ALIVED_API_BAD_REQUEST');
  // HEAD is GET without the body, the event stream's included
  const h = await send(unix, 'HEAD', '/v1/status');
  assert.equal(h.status, 200);
  assert.equal(h.text, '');
  assert.ok(Number(h.headers['content-length']) > 100);
  assert.equal((await send(unix, 'HEAD', '/v1/events')).headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(provider.listeners.size, 0);
});

test('the actions run on the unix socket', async () => {
  assert.deepEqual((await call(unix, 'POST', '/v1/notify/test', { notifier: 'webhook:ops' })).json, { results: [{ id: 'webhook:ops', ok: true, ms: 12 }] });
  assert.deepEqual((await call(unix, 'POST', '/v1/notify/test')).json, { results: [{ id: 'webhook:ops', ok: true, ms: 12 }] });
  isError(await call(unix, 'POST', '/v1/notify/test', { notifier: 'nope' }), 404, 'ALIVED_API_NOT_FOUND');
  isError(await call(unix, 'POST', '/v1/notify/test', { notifier: 5 }), 400, 'ALIVED_API_BAD_REQUEST');
  isError(await call(unix, 'POST', '/v1/notify/test', [1]), 400, 'ALIVED_API_BAD_REQUEST');
  assert.deepEqual((await call(unix, 'POST', '/v1/outbox/retry', {})).json, { retried: 1 });
  assert.deepEqual((await call(unix, 'POST', '/v1/outbox/retry', { id: 'e-1' })).json, { retried: 1 });
  isError(await call(unix, 'POST', '/v1/outbox/retry', { id: 'e-9' }), 404, 'ALIVED_API_NOT_FOUND');
  assert.deepEqual((await call(unix, 'DELETE', '/v1/outbox/e-1')).json, { dropped: 'e-1' });
  isError(await call(unix, 'DELETE', '/v1/outbox/e-9'), 404, 'ALIVED_API_NOT_FOUND');
  assert.deepEqual(actions.calls, ['notifyTest webhook:ops', 'notifyTest *', 'notifyTest nope', 'retry *', 'retry e-1', 'drop e-1', 'drop e-9']);
});

test('a body that is not JSON is 400; one over 64 KiB is 413', async () => {
  const bad = await send(unix, 'POST', '/v1/echo', { body: '{"a":', headers: { 'Content-Type': 'application/json' } });
  isError(bad, 400, 'ALIVED_API_BAD_REQUEST');
  assert.deepEqual((await call(unix, 'POST', '/v1/echo', { a: 1 })).json, { body: { a: 1 } });
  const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
  isError(await send(unix, 'POST', '/v1/echo', { body: big, headers: { 'Content-Type': 'application/json' } }), 413, 'ALIVED_API_TOO_LARGE');
  // without a Content-Length: chunked, cut at the limit
  isError(await send(unix, 'POST', '/v1/echo', { body: big, headers: { 'Transfer-Encoding': 'chunked' } }), 413, 'ALIVED_API_TOO_LARGE');
  // headers over 16 KiB
  const h = await send(unix, 'GET', '/v1/status', { headers: { 'X-Pad': 'y'.repeat(20 * 1024) } });
  assert.equal(h.status, 431);
  assert.equal(h.json.error.code, 'ALIVED_API_TOO_LARGE');
  // the server still answers
  assert.equal((await get(unix, '/v1/status')).status, 200);
});

test('plugin routes: parameters, their content type, and a failure is a 500 with its message, logged once', async () => {
  const e = await get(unix, '/v1/echo/hello%20world/7');
  assert.deepEqual(e.json, { params: { word: 'hello world', n: '7' }, transport: 'unix' });
  assert.equal((await get(tcp, '/v1/echo/a/b')).json.transport, 'tcp');
  const m = await get(tcp, '/metrics');
  assert.equal(m.status, 200);
  assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4');
  assert.equal(m.text, 'keepalived_up 1\n');
  const before = records.filter((r) => r.msg === 'HTTP API route failed').length;
  const b = await get(unix, '/v1/broken');
  isError(b, 500, 'ALIVED_API_FAILED');
  assert.equal(b.json.error.message, 'the broken route broke');
  assert.doesNotMatch(b.text, /at .*\.js/);
  const failed = records.filter((r) => r.msg === 'HTTP API route failed');
  assert.equal(failed.length, before + 1);
  assert.equal(failed.at(-1)!.fields.path, '/v1/broken');
});

test('a provider that cannot give the status is a 503', async () => {
  const { AlivedError } = await import('../../core/errors');
  provider.failSnapshot = new AlivedError('ALIVED_STATUS_UNAVAILABLE', 'the VRRP process has not reported yet');
  try {
    isError(await get(unix, '/v1/status'), 503, 'ALIVED_STATUS_UNAVAILABLE');
  } finally {
    provider.failSnapshot = undefined;
  }
});

test('TCP needs the bearer token; actions over TCP are forbidden', async () => {
  const none = await send(tcp, 'GET', '/v1/status');
  isError(none, 401, 'ALIVED_API_UNAUTHORIZED');
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="alived"');
  answers.push(none);
  const wrong = await send(tcp, 'GET', '/v1/status', { headers: { Authorization: 'Bearer tok-3f9a1c7e5b2d4068a1b3' } });
  isError(wrong, 401, 'ALIVED_API_UNAUTHORIZED');
  answers.push(wrong);
  isError(await send(tcp, 'GET', '/v1/status', { headers: { Authorization: TOKEN } }), 401, 'ALIVED_API_UNAUTHORIZED');
  isError(await send(tcp, 'GET', '/v1/status', { headers: { Authorization: `Bearer ${TOKEN}x` } }), 401, 'ALIVED_API_UNAUTHORIZED');
  // no route is told to someone without the token
  isError(await send(tcp, 'GET', '/nothing'), 401, 'ALIVED_API_UNAUTHORIZED');
  assert.equal((await get(tcp, '/v1/status')).status, 200);
  assert.equal((await send(tcp, 'GET', '/v1/status', { headers: { Authorization: `bearer  ${TOKEN}` } })).status, 200);
  isError(await call(tcp, 'POST', '/v1/notify/test', {}, auth), 403, 'ALIVED_API_FORBIDDEN');
  isError(await call(tcp, 'POST', '/v1/outbox/retry', {}, auth), 403, 'ALIVED_API_FORBIDDEN');
  isError(await call(tcp, 'DELETE', '/v1/outbox/e-1', undefined, auth), 403, 'ALIVED_API_FORBIDDEN');
  isError(await call(tcp, 'POST', '/v1/echo', {}, auth), 403, 'ALIVED_API_FORBIDDEN');
  // the unix socket takes no token
  assert.equal((await send(unix, 'GET', '/v1/status')).status, 200);
});

test('/v1/events replays the events after since or Last-Event-ID, then sends new ones in order', async () => {
  const s = await readEvents(unix, '/v1/events?since=1', {
    until: (raw) => ids(raw).includes(5),
    onOpen: () => {
      setTimeout(() => {
        provider.emit(event(4));
        provider.emit(event(5));
      }, 50);
    },
  });
  s.close();
  assert.equal(s.status, 200);
  assert.deepEqual(ids(s.raw), [2, 3, 4, 5]);
  assert.match(s.raw, /^id: 2\nevent: timeline\ndata: \{"seq":2,/m);
  const data = s.raw
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));
  assert.deepEqual(data[0], provider.events[1]);
  const l = await readEvents(tcp, '/v1/events', { headers: { ...auth, 'Last-Event-ID': '3' }, until: (raw) => ids(raw).includes(5) });
  l.close();
  assert.deepEqual(ids(l.raw), [4, 5]);
  const bad = await send(unix, 'GET', '/v1/events?since=x');
  isError(bad, 400, 'ALIVED_API_BAD_REQUEST');
  isError(await send(unix, 'GET', '/v1/events', { headers: { 'Last-Event-ID': '-3' } }), 400, 'ALIVED_API_BAD_REQUEST');
});

test('/v1/events without since sends only new events; pings keep it open; closing it unsubscribes', async () => {
  const s = await readEvents(unix, '/v1/events', {
    until: (raw) => ids(raw).length > 0 && raw.includes(': ping'),
    onOpen: () => setTimeout(() => provider.emit(event(6)), 50),
  });
  assert.deepEqual(ids(s.raw), [6]);
  assert.equal(provider.listeners.size, 1);
  s.close();
  const deadline = Date.now() + 3000;
  while (provider.listeners.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(provider.listeners.size, 0);
});

test('more event-stream clients than max_stream_clients get 429', async () => {
  const open = await Promise.all([1, 2, 3].map(() => readEvents(unix, '/v1/events', { until: () => true })));
  try {
    const busy = await send(unix, 'GET', '/v1/events');
    isError(busy, 429, 'ALIVED_API_BUSY');
  } finally {
    for (const o of open) o.close();
  }
  const deadline = Date.now() + 3000;
  while (provider.listeners.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const again = await readEvents(unix, '/v1/events', { until: () => true });
  assert.equal(again.status, 200);
  again.close();
});

test('the token appears in no log line and no answer', () => {
  const logged = records.map((r) => JSON.stringify(r)).join('\n');
  assert.ok(records.length > 0);
  assert.ok(!logged.includes(TOKEN), 'the token is in the log');
  const sent = answers.map((a) => a.text + JSON.stringify(a.headers)).join('\n');
  assert.ok(answers.length > 20);
  assert.ok(!sent.includes(TOKEN), 'the token is in an answer');
  assert.equal(JSON.stringify(settings()).includes(TOKEN), false);
  assert.equal(String(new ApiToken(TOKEN)), '[redacted]');
});

test('connections over max_connections are answered 503 ALIVED_API_BUSY', async () => {
  const small = new ApiServer({ provider, routes: () => [], settings: settings({ socket: null, maxConnections: 2, token: null }), log });
  await small.start();
  try {
    const where: Where = { port: small.addresses().tcp[0]!.port };
    const held = [await hold(where), await hold(where)];
    try {
      await new Promise((r) => setTimeout(r, 50));
      isError(await send(where, 'GET', '/v1/status'), 503, 'ALIVED_API_BUSY');
    } finally {
      for (const s of held) s.destroy();
    }
    const deadline = Date.now() + 3000;
    let a = await send(where, 'GET', '/v1/status');
    while (a.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      a = await send(where, 'GET', '/v1/status');
    }
    assert.equal(a.status, 200);
  } finally {
    await small.stop();
  }
});

test('stop() ends the event streams and removes the socket it made', async () => {
  const p = path.join(dir, 'stop', 'alived.sock');
  const s = new ApiServer({ provider, routes: () => [], settings: settings({ socket: { path: p, mode: 0o600, group: 'nogroup' }, tcp: [] }), log });
  await s.start();
  assert.equal(fs.lstatSync(p).mode & 0o777, 0o600);
  assert.equal(fs.lstatSync(p).gid, 65534);
  const stream = readEvents({ socketPath: p }, '/v1/events', { until: () => false, timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 100));
  await s.stop();
  const ended = await stream;
  assert.equal(ended.status, 200);
  assert.equal(fs.existsSync(p), false);
});

test('reconfigure: a new token applies at once, the unix socket stays, changed TCP listeners are restarted', async () => {
  const p = path.join(dir, 'reconf', 'alived.sock');
  const first = settings({ socket: { path: p, mode: 0o660, group: null } });
  const s = new ApiServer({ provider, routes: () => [], settings: first, log });
  await s.start();
  try {
    const ino = fs.lstatSync(p).ino;
    const port = s.addresses().tcp[0]!.port;
    const other = 'another-token-0123456789';
    await s.reconfigure({ ...first, token: new ApiToken(other), tcp: [{ host: '127.0.0.1', port }] });
    // the TCP listener's address changed (port 0 -> the port): restarted on it
    assert.equal(s.addresses().tcp[0]!.port, port);
    isError(await send({ port }, 'GET', '/v1/status', { headers: auth }), 401, 'ALIVED_API_UNAUTHORIZED');
    assert.equal((await send({ port }, 'GET', '/v1/status', { headers: { Authorization: `Bearer ${other}` } })).status, 200);
    await s.reconfigure({ ...first, token: new ApiToken(other), tcp: [{ host: '127.0.0.1', port }], socket: { path: p, mode: 0o640, group: null } });
    assert.equal(fs.lstatSync(p).ino, ino);
    assert.equal(fs.lstatSync(p).mode & 0o777, 0o640);
    // without a token, a listener off loopback closes and the reload says why
    const anyAddr = { host: '0.0.0.0', port: 0 };
    await s.reconfigure({ ...first, tcp: [anyAddr] });
    assert.equal(s.addresses().tcp[0]!.host, '0.0.0.0');
    await assert.rejects(s.reconfigure({ ...first, token: null, tcp: [anyAddr] }), {
      code: 'ALIVED_API_LISTEN',
      message: /0\.0\.0\.0:0: it is not a loopback address/,
    });
    assert.deepEqual(s.addresses().tcp, []);
    await s.reconfigure({ ...first, tcp: [] });
    assert.deepEqual(s.addresses().tcp, []);
    assert.equal(fs.lstatSync(p).ino, ino);
  } finally {
    await s.stop();
  }
});

test('listen failures are ALIVED_API_LISTEN naming the address; off loopback without a token is refused', async () => {
  const port = server.addresses().tcp[0]!.port;
  const taken = new ApiServer({ provider, routes: () => [], settings: settings({ socket: null, tcp: [{ host: '127.0.0.1', port }] }), log });
  await assert.rejects(taken.start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ALIVED_API_LISTEN');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
    return true;
  });
  const open = new ApiServer({ provider, routes: () => [], settings: settings({ socket: null, tcp: [{ host: '0.0.0.0', port: 0 }], token: null }), log });
  await assert.rejects(open.start(), /cannot listen on 0\.0\.0\.0:0: it is not a loopback address and no token_file is set/);
  const v6 = new ApiServer({ provider, routes: () => [], settings: settings({ socket: null, tcp: [{ host: '::1', port: 0 }], token: null }), log });
  await v6.start();
  try {
    assert.equal(v6.addresses().tcp[0]!.host, '::1');
    assert.equal((await send({ host: '::1', port: v6.addresses().tcp[0]!.port }, 'GET', '/v1/plugins')).status, 200);
  } finally {
    await v6.stop();
  }
});

test('a request not sent in time is a 408; an event stream lives past that time', async () => {
  const quick = new ApiServer({ provider, routes: () => [], settings: settings({ socket: null, token: null }), log, limits: { requestTimeoutMs: 400 } });
  await quick.start();
  try {
    const port = quick.addresses().tcp[0]!.port;
    const s = await hold({ port });
    s.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n');
    const answer = await new Promise<string>((resolve, reject) => {
      let got = '';
      const timer = setTimeout(() => reject(new Error(`no answer within 5 s: ${got}`)), 5000);
      s.setEncoding('utf8');
      s.on('data', (c: string) => (got += c));
      s.on('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"ALIVED_API_BAD_REQUEST"/);
    const stream = await readEvents({ port }, '/v1/events', {
      until: (raw) => ids(raw).includes(9),
      onOpen: () => setTimeout(() => provider.emit(event(9)), 1500),
    });
    stream.close();
    assert.deepEqual(ids(stream.raw), [9]);
  } finally {
    await quick.stop();
  }
});
