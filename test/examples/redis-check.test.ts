import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { PluginHost } from '../../core/plugin/host';
import { silentLogger } from '../../core/log/logger';
import { compileFile, permissiveHost, PROJECT_ROOT, tmpDir } from '../helpers/config';
import type { Checker } from '../../core/plugin/types';

const EXAMPLE = path.join(PROJECT_ROOT, 'examples/redis-check/keepalived.conf');
const servers: ChildProcess[] = [];
let dir: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startRedis(args: string[] = []): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
    stdio: 'ignore',
  });
  servers.push(proc);
  const t0 = Date.now();
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (up) return { port, proc };
    if (Date.now() - t0 > 10_000) throw new Error('redis-server did not start within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(() => {
  const which = spawnSync('redis-server', ['--version']);
  if (which.error) {
    throw new Error('redis-server is not installed: run `bash scripts/setup-debian.sh` (as root); this test needs a real Redis');
  }
  dir = tmpDir('alived-redis-');
});

after(() => {
  for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
});

async function checkerFor(port: number, block: Record<string, unknown>): Promise<Checker> {
  const host = new PluginHost({ log: silentLogger });
  const r = await compileFile(EXAMPLE, { host: permissiveHost, pluginHost: host });
  assert.deepEqual(r.errors, []);
  const def = host.checkers.get('REDIS_CHECK')!.def;
  const target = { address: '127.0.0.1', port };
  return def.create!({ pos: r.model!.pos, extensions: [], ...block }, { target, realServer: target, log: silentLogger });
}

test('the example config with the plugin validates; its keywords are checked like core ones', async () => {
  const r = await compileFile(EXAMPLE, { host: permissiveHost });
  assert.deepEqual(r.errors, []);
  const rs = r.model!.virtualServer[0]!.realServer[0]!;
  assert.deepEqual(
    rs.extensions.map((e) => e.keyword),
    ['REDIS_CHECK'],
  );
  assert.equal((rs.extensions[0]!.value as { expectRole: string }).expectRole, 'master');

  const broken = fs
    .readFileSync(EXAMPLE, 'utf8')
    .replace('expect_role master\n        }\n    }\n    real_server 192.0.2.22', 'expect_role primary\n        }\n    }\n    real_server 192.0.2.22');
  const b = await compileFile(EXAMPLE, { host: permissiveHost, text: broken });
  assert.deepEqual(b.errors, ["keepalived.conf:26:25: error: 'primary' is not one of master, slave"]);
});

test('REDIS_CHECK against a real redis-server: healthy, wrong role, auth, stopped', async () => {
  const { port, proc } = await startRedis();
  assert.deepEqual(await (await checkerFor(port, { expectRole: 'master' })).check(AbortSignal.timeout(5000)), { ok: true, message: 'PONG' });
  assert.deepEqual(await (await checkerFor(port, { expectRole: 'slave' })).check(AbortSignal.timeout(5000)), {
    ok: false,
    message: 'role is master, expected slave',
  });

  const secured = await startRedis(['--requirepass', 'hunter2hunter2']);
  const good = path.join(dir, 'good.pass');
  const bad = path.join(dir, 'bad.pass');
  fs.writeFileSync(good, 'hunter2hunter2\n');
  fs.writeFileSync(bad, 'nope\n');
  assert.equal((await (await checkerFor(secured.port, { passwordFile: good })).check(AbortSignal.timeout(5000))).ok, true);
  const denied = await (await checkerFor(secured.port, { passwordFile: bad })).check(AbortSignal.timeout(5000));
  assert.equal(denied.ok, false);
  assert.match(denied.message!, /WRONGPASS|invalid password/i);
  const noauth = await (await checkerFor(secured.port, {})).check(AbortSignal.timeout(5000));
  assert.equal(noauth.ok, false);
  assert.match(noauth.message!, /NOAUTH/);

  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  const down = await (await checkerFor(port, {})).check(AbortSignal.timeout(5000));
  assert.equal(down.ok, false);
  assert.match(down.message!, /ECONNREFUSED/);
});

test('REDIS_CHECK against a server that accepts and never answers settles when its signal aborts', async () => {
  const silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  try {
    const port = (silent.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const r = await (await checkerFor(port, {})).check(AbortSignal.timeout(300));
    assert.deepEqual(r, { ok: false, message: 'timed out' });
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    silent.close();
  }
});
