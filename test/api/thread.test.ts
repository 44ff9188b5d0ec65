import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import { ApiServer } from '../../core/api/server';
import { ApiToken, type ApiSettings } from '../../core/api/settings';
import type { ApiResponse, ApiRoute } from '../../core/api/types';
import { memoryLogger } from '../helpers/log';
import { tmpDir } from '../helpers/config';
import { FakeProvider } from './fixture';
import { send, type Where } from './http';

/*
 * The API thread: listeners, limits and token there, and the answers routes
 * share (ApiResponse.shared) given there without the daemon's thread.
 */

const TOKEN = 'tok-api-thread-7c1e9b';
const dir = tmpDir('alived-api-thread-');
const socketPath = path.join(dir, 'alived.sock');
const unix: Where = { socketPath };
let tcp: Where;
const { log, records } = memoryLogger();

/** a route that counts how often it is asked, and says how long its answer may be shared */
function counting(p: string, shared: ApiResponse['shared'], extra: Partial<ApiResponse> = {}): { def: ApiRoute; owner: string; calls: () => number } {
  let calls = 0;
  return {
    owner: 'test',
    calls: () => calls,
    def: {
      method: 'GET',
      path: p,
      description: 'counts',
      handle: (req) => {
        calls++;
        return { status: 200, contentType: 'text/plain', body: `${p} answer ${calls} ${req.query.toString()}`, ...(shared && { shared }), ...extra };
      },
    },
  };
}

const fresh = counting('/v1/fresh', { maxAgeMs: 60_000 });
const short = counting('/v1/short', { maxAgeMs: 1000, staleMs: 60_000 });
const unshared = counting('/v1/unshared', undefined);
const gzipBody = Buffer.from('x'.repeat(4000));
const zipped = counting('/v1/zipped', { maxAgeMs: 60_000 }, { body: gzipBody, gzip: zlib.gzipSync(gzipBody) });
/**
 * a route that answers after `delayMs` (on a timer: the daemon's thread stays free), shared for 1 s
 * and stale for 0.5 s more while `sharing` says so; it counts its calls and how many were under way at once
 */
const slow = (() => {
  let calls = 0;
  let running = 0;
  let most = 0;
  const r = {
    owner: 'test',
    sharing: true,
    delayMs: 300,
    calls: () => calls,
    /** the most calls under way at once since the last reset() */
    most: () => most,
    reset: () => (most = running),
    def: {
      method: 'GET',
      path: '/v1/slow',
      description: 'answers late',
      handle: async (): Promise<ApiResponse> => {
        const n = ++calls;
        most = Math.max(most, ++running);
        await sleep(r.delayMs);
        running--;
        return { status: 200, contentType: 'text/plain', body: `slow answer ${n}`, ...(r.sharing && { shared: { maxAgeMs: 1000, staleMs: 500 } }) };
      },
    } as ApiRoute,
  };
  return r;
})();
const routes = [fresh, short, unshared, zipped, slow];

const settings: ApiSettings = {
  socket: { path: socketPath, mode: 0o660, group: null },
  tcp: [{ host: '127.0.0.1', port: 0 }],
  token: new ApiToken(TOKEN),
  tls: null,
  maxConnections: 64,
  maxStreamClients: 4,
};
const server = new ApiServer({ provider: new FakeProvider(), routes: () => routes, settings, log });

before(async () => {
  await server.start();
  tcp = { port: server.addresses().tcp[0]!.port };
});

after(async () => {
  await server.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Holds this thread (the daemon's, for the server) for `ms`, with no turn of its event loop. */
function hold(ms: number): number {
  const end = Date.now() + ms;
  while (Date.now() < end);
  return end;
}

test("a shared answer is given while the daemon's thread is held; other requests wait for it", async () => {
  assert.equal((await send(unix, 'GET', '/v1/fresh')).text, '/v1/fresh answer 1 ');
  // a client in another process: asks for each path once it reads `go`, and says when each answer came
  const client = spawn(
    process.execPath,
    [
      '-e',
      `const http = require('http');
       const get = (p) => new Promise((resolve) => http.get({ socketPath: process.argv[1], path: p, agent: false }, (res) => {
         let t = ''; res.on('data', (c) => (t += c)); res.on('end', () => resolve({ path: p, at: Date.now(), status: res.statusCode, text: t }));
       }).on('error', (e) => resolve({ path: p, error: e.message })));
       process.stdout.write('ready\\n');
       process.stdin.once('data', async () => {
         const out = await Promise.all(['/v1/fresh', '/v1/fresh', '/v1/unshared', '/v1/fresh'].map(get));
         process.stdout.write(JSON.stringify(out) + '\\n');
       });`,
      socketPath,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  client.stdout.setEncoding('utf8');
  client.stdout.on('data', (c: string) => (out += c));
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready\n') && Date.now() < deadline) await sleep(10);
  assert.ok(out.includes('ready\n'), 'the client did not start');
  client.stdin.write('go\n');
  const heldUntil = hold(3000);
  const exited = new Promise((r) => client.once('exit', r));
  while (!out.includes('[') && Date.now() < deadline) await sleep(10);
  client.kill();
  await exited;
  const answers = JSON.parse(out.slice(out.indexOf('['))) as { path: string; at: number; status: number; text: string }[];
  for (const a of answers.filter((x) => x.path === '/v1/fresh')) {
    assert.equal(a.text, '/v1/fresh answer 1 ');
    assert.ok(a.at < heldUntil, `the shared answer came ${a.at - heldUntil} ms after the daemon's thread was free again`);
  }
  const other = answers.find((x) => x.path === '/v1/unshared')!;
  assert.equal(other.status, 200);
  assert.ok(other.at >= heldUntil, 'a route that does not share its answer was answered while its thread was held');
  assert.equal(fresh.calls(), 1);
});

test('within maxAgeMs every reader gets the one answer; then the stale one while the next is asked, then the next', async () => {
  assert.equal((await send(unix, 'GET', '/v1/short')).text, '/v1/short answer 1 ');
  const texts = await Promise.all(Array.from({ length: 10 }, () => send(unix, 'GET', '/v1/short').then((a) => a.text)));
  assert.deepEqual(new Set(texts), new Set(['/v1/short answer 1 ']));
  assert.equal(short.calls(), 1);
  await sleep(1100);
  // stale: given at once, and the route asked once for the next, however many ask
  const stale = await Promise.all(Array.from({ length: 5 }, () => send(unix, 'GET', '/v1/short').then((a) => a.text)));
  assert.deepEqual(new Set(stale), new Set(['/v1/short answer 1 ']));
  const deadline = Date.now() + 5000;
  while (short.calls() < 2 && Date.now() < deadline) await sleep(5);
  assert.equal(short.calls(), 2);
  let next = '';
  while (Date.now() < deadline && (next = (await send(unix, 'GET', '/v1/short')).text) !== '/v1/short answer 2 ') await sleep(5);
  assert.equal(next, '/v1/short answer 2 ');
  assert.equal(short.calls(), 2);
  // another query is another answer
  assert.equal((await send(unix, 'GET', '/v1/short?x=1')).text, '/v1/short answer 3 x=1');
  assert.equal((await send(unix, 'GET', '/v1/short?x=1')).text, '/v1/short answer 3 x=1');
  // a route that does not share is asked each time
  await send(unix, 'GET', '/v1/unshared');
  const before = unshared.calls();
  await send(unix, 'GET', '/v1/unshared');
  assert.equal(unshared.calls(), before + 1);
});

test('a shared answer goes to no TCP client without the token; gzip and HEAD as for any answer', async () => {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  assert.equal((await send(tcp, 'GET', '/v1/fresh', { headers: auth })).status, 200);
  const denied = await send(tcp, 'GET', '/v1/fresh');
  assert.equal(denied.status, 401);
  assert.ok(!denied.text.includes('answer'), denied.text);
  assert.equal((await send(tcp, 'GET', '/v1/fresh', { headers: { Authorization: 'Bearer wrong' } })).status, 401);
  const z = await send(unix, 'GET', '/v1/zipped', { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(z.headers['content-encoding'], 'gzip');
  assert.deepEqual(zlib.gunzipSync(z.raw), gzipBody);
  const plain = await send(unix, 'GET', '/v1/zipped');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers.vary, 'Accept-Encoding');
  assert.deepEqual(plain.raw, gzipBody);
  const head = await send(unix, 'HEAD', '/v1/zipped');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(gzipBody.length));
  assert.equal(head.raw.length, 0);
  assert.equal(zipped.calls(), 1);
});

test('a key whose shared answer is out of time: readers at once cost the route one call and all get its answer, even when the first has gone', async () => {
  assert.equal((await send(unix, 'GET', '/v1/slow')).text, 'slow answer 1');
  await sleep(1600);
  const texts = await Promise.all(Array.from({ length: 10 }, () => send(unix, 'GET', '/v1/slow').then((a) => a.text)));
  assert.deepEqual(new Set(texts), new Set(['slow answer 2']));
  assert.equal(slow.calls(), 2);
  // the first reader hangs up before the answer: the others still get it, from the one call
  await sleep(1600);
  slow.delayMs = 1500;
  try {
    const first = http.get({ socketPath, path: '/v1/slow', agent: false });
    first.on('error', () => undefined);
    const deadline = Date.now() + 5000;
    while (slow.calls() < 3 && Date.now() < deadline) await sleep(5);
    const rest = Promise.all(Array.from({ length: 5 }, () => send(unix, 'GET', '/v1/slow').then((a) => a.text)));
    await sleep(100);
    first.destroy();
    assert.deepEqual(new Set(await rest), new Set(['slow answer 3']));
    assert.equal(slow.calls(), 3);
  } finally {
    slow.delayMs = 300;
  }
});

test('a key whose route stops sharing: the readers that waited are each asked, and later readers are not held behind one another', async () => {
  await send(unix, 'GET', '/v1/slow');
  await sleep(1600);
  slow.sharing = false;
  slow.delayMs = 1500;
  try {
    const calls = slow.calls();
    const first = await Promise.all(Array.from({ length: 5 }, () => send(unix, 'GET', '/v1/slow')));
    for (const a of first) assert.equal(a.status, 200);
    // one call, then one for each of the four that waited for it
    assert.equal(slow.calls(), calls + 5);
    assert.equal(new Set(first.map((a) => a.text)).size, 5);
    slow.reset();
    await Promise.all(Array.from({ length: 4 }, () => send(unix, 'GET', '/v1/slow')));
    assert.equal(slow.most(), 4);
  } finally {
    slow.sharing = true;
    slow.delayMs = 300;
  }
});

test('the unix socket is bound in a private directory that is gone once it listens', () => {
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f !== 'alived.sock'),
    [],
  );
  assert.equal(fs.lstatSync(socketPath).mode & 0o777, 0o660);
});

test('an API thread that dies is replaced: the listeners come back, and it is logged', async () => {
  const thread = (server as unknown as { thread: Worker }).thread;
  await thread.terminate();
  assert.ok(
    records.some((r) => /the HTTP API thread stopped/.test(r.msg)),
    'not logged',
  );
  const deadline = Date.now() + 10_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = await send(unix, 'GET', '/v1/unshared').then(
      (a) => a.status,
      () => 0,
    );
    if (status === 200) break;
    await sleep(50);
  }
  assert.equal(status, 200);
  assert.equal(server.addresses().socket, socketPath);
  const port = server.addresses().tcp[0]?.port;
  assert.ok(port !== undefined && port > 0);
  assert.equal((await send({ port }, 'GET', '/v1/unshared', { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
});
