import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { apiRequest, apiStream, type ApiStreamEvent } from '../../core/api/client';
import { ApiServer } from '../../core/api/server';
import { ApiToken, type ApiSettings } from '../../core/api/settings';
import { memoryLogger } from '../helpers/log';
import { tmpDir } from '../helpers/config';
import { DOC, event, fakeActions, FakeProvider } from './fixture';
import { send } from './http';

const TOKEN = 'client-token-7d1e4b9a0c3f';
const dir = tmpDir('alived-tls-');
const socketPath = path.join(dir, 'alived.sock');
const provider = new FakeProvider();
const { log, records } = memoryLogger();
let server: ApiServer;
let port: number;
let ca: string;

before(async () => {
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=alived test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, `openssl req failed (install openssl): ${r.stderr}`);
  ca = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  const settings: ApiSettings = {
    socket: { path: socketPath, mode: 0o660, group: null },
    tcp: [{ host: '127.0.0.1', port: 0 }],
    token: new ApiToken(TOKEN),
    tls: { certFile: 'cert.pem', keyFile: 'key.pem', cert: Buffer.from(ca), key: fs.readFileSync(path.join(dir, 'key.pem')) },
    maxConnections: 16,
    maxStreamClients: 4,
  };
  server = new ApiServer({ provider, actions: fakeActions(), routes: () => [], settings, log });
  await server.start();
  port = server.addresses().tcp[0]!.port;
});

after(async () => {
  await server.stop();
});

test('TLS on TCP: a client that trusts the certificate gets the status with the token', async () => {
  const url = `https://127.0.0.1:${port}`;
  assert.deepEqual(await apiRequest({ url, token: TOKEN, ca }, 'GET', '/v1/status'), DOC);
  await assert.rejects(apiRequest({ url, ca }, 'GET', '/v1/status'), { code: 'ALIVED_API_UNAUTHORIZED' });
  await assert.rejects(apiRequest({ url, token: TOKEN, ca }, 'POST', '/v1/notify/test', {}), { code: 'ALIVED_API_FORBIDDEN' });
  // one that does not trust it cannot connect
  await assert.rejects(apiRequest({ url, token: TOKEN }, 'GET', '/v1/status'), { code: 'ALIVED_API_UNREACHABLE' });
  // plain HTTP to the TLS port is not answered with the status
  await assert.rejects(send({ port }, 'GET', '/v1/status', { headers: { Authorization: `Bearer ${TOKEN}` } }));
});

test("apiRequest over the unix socket: answers, and the server's errors as AlivedErrors with its code", async () => {
  const target = { socketPath };
  assert.deepEqual(await apiRequest(target, 'GET', '/v1/instances/VI_1'), DOC.vrrp.instances[0]);
  assert.deepEqual(await apiRequest(target, 'POST', '/v1/notify/test', { notifier: 'webhook:ops' }), { results: [{ id: 'webhook:ops', ok: true, ms: 12 }] });
  assert.deepEqual(await apiRequest(target, 'DELETE', '/v1/outbox/e-1'), { dropped: 'e-1' });
  await assert.rejects(apiRequest(target, 'GET', '/v1/instances/VI_9'), {
    name: 'AlivedError',
    code: 'ALIVED_API_NOT_FOUND',
    message: "no VRRP instance 'VI_9'",
  });
  await assert.rejects(apiRequest(target, 'GET', '/v1/timeline?since=-1'), { code: 'ALIVED_API_BAD_REQUEST' });
});

test('apiRequest: no socket, or nobody on it, is ALIVED_API_UNREACHABLE naming the socket', async () => {
  const missing = path.join(dir, 'none.sock');
  await assert.rejects(apiRequest({ socketPath: missing }, 'GET', '/v1/status'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ALIVED_API_UNREACHABLE');
    assert.ok(err.message.includes(missing), err.message);
    assert.match(err.message, /ENOENT.*--instance or --state-dir/);
    return true;
  });
  const stale = path.join(dir, 'stale.sock');
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`], {
    timeout: 10_000,
  });
  assert.equal(r.signal, 'SIGKILL');
  await assert.rejects(apiRequest({ socketPath: stale }, 'GET', '/v1/status'), /cannot reach alived's API at unix socket .*stale\.sock \(ECONNREFUSED\)/);
});

test('apiStream yields the events in order, each parsed, and closes when the loop ends', async () => {
  const got: ApiStreamEvent[] = [];
  const timer = setTimeout(() => provider.emit(event(4)), 100);
  for await (const ev of apiStream({ socketPath }, '/v1/events?since=2')) {
    got.push(ev);
    if (got.length === 2) break;
  }
  clearTimeout(timer);
  assert.deepEqual(
    got.map((e) => [e.id, e.event, (e.data as { seq: number }).seq]),
    [
      ['3', 'timeline', 3],
      ['4', 'timeline', 4],
    ],
  );
  const deadline = Date.now() + 3000;
  while (provider.listeners.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(provider.listeners.size, 0);
  // over TLS with the token, from Last-Event-ID
  const tls: ApiStreamEvent[] = [];
  for await (const ev of apiStream({ url: `https://127.0.0.1:${port}`, token: TOKEN, ca }, '/v1/events', { lastEventId: '3' })) {
    tls.push(ev);
    break;
  }
  assert.equal(tls[0]!.id, '4');
  // an error answer is thrown
  await assert.rejects(
    async () => {
      for await (const ev of apiStream({ socketPath }, '/v1/events?since=x')) assert.fail(String(ev));
    },
    { code: 'ALIVED_API_BAD_REQUEST' },
  );
});

test('the token is in no log record', () => {
  assert.ok(records.length > 0);
  assert.ok(
    !records
      .map((r) => JSON.stringify(r))
      .join('\n')
      .includes(TOKEN),
  );
});
