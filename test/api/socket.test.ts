import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiServer } from '../../core/api/server';
import type { ApiSettings } from '../../core/api/settings';
import { defaultSocketPath } from '../../core/api/socket-path';
import { memoryLogger } from '../helpers/log';
import { tmpDir } from '../helpers/config';
import { asNobody, NOBODY_UID, sharedDir, victimFile } from '../helpers/hostile';
import { FakeProvider } from './fixture';
import { send } from './http';

const { log } = memoryLogger();

function apiAt(socketPath: string): ApiServer {
  const settings: ApiSettings = {
    socket: { path: socketPath, mode: 0o660, group: null },
    tcp: [],
    token: null,
    tls: null,
    maxConnections: 8,
    maxStreamClients: 2,
  };
  return new ApiServer({ provider: new FakeProvider(), routes: () => [], settings, log });
}

async function refused(socketPath: string, re: RegExp): Promise<void> {
  await assert.rejects(apiAt(socketPath).start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ALIVED_API_LISTEN');
    assert.ok(err.message.includes(socketPath), err.message);
    assert.match(err.message, re);
    return true;
  });
}

test('defaultSocketPath: /run/alived/alived.sock; per --instance; under --state-dir', () => {
  assert.equal(defaultSocketPath(), '/run/alived/alived.sock');
  assert.equal(defaultSocketPath({ instance: 'b' }), '/run/alived/alived_b.sock');
  assert.equal(defaultSocketPath({ stateDir: '/srv/alived-b' }), '/srv/alived-b/alived.sock');
  assert.equal(defaultSocketPath({ stateDir: '/srv/alived-b', instance: 'b' }), '/srv/alived-b/alived.sock');
  // the state directories used without --state-dir count as not given
  assert.equal(defaultSocketPath({ stateDir: '/var/lib/alived' }), '/run/alived/alived.sock');
  assert.equal(defaultSocketPath({ stateDir: '/var/lib/alived/instance/b', instance: 'b' }), '/run/alived/alived_b.sock');
});

test('a stale socket (its daemon died) is removed and replaced', async () => {
  const p = path.join(tmpDir('alived-sock-'), 'alived.sock');
  // a process that binds the socket and dies without removing it
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => process.kill(process.pid, 'SIGKILL'))`], {
    timeout: 10_000,
  });
  assert.equal(r.signal, 'SIGKILL');
  const stale = fs.lstatSync(p);
  assert.ok(stale.isSocket());
  assert.equal(stale.mode & 0o777, 0o777 & ~process.umask());
  const api = apiAt(p);
  await api.start();
  try {
    // the daemon's own socket (the kernel may give it the stale one's inode number)
    assert.equal(fs.lstatSync(p).mode & 0o777, 0o660);
    assert.equal((await send({ socketPath: p }, 'GET', '/v1/plugins')).status, 200);
  } finally {
    await api.stop();
  }
});

test('a socket a live daemon answers on is refused, naming --instance and --state-dir', async () => {
  const p = path.join(tmpDir('alived-sock-'), 'alived.sock');
  const first = apiAt(p);
  await first.start();
  try {
    await refused(p, /another alived answers on it.*--instance NAME or --state-dir DIR/);
    // the first one still answers
    assert.equal((await send({ socketPath: p }, 'GET', '/v1/plugins')).status, 200);
  } finally {
    await first.stop();
  }
});

test('a symbolic link at the path is refused, never followed nor removed', async () => {
  const dir = tmpDir('alived-sock-');
  const victim = victimFile(dir);
  const p = path.join(dir, 'alived.sock');
  fs.symlinkSync(victim, p);
  fs.lchownSync(p, NOBODY_UID, NOBODY_UID);
  await refused(p, /symbolic link/);
  assert.ok(fs.lstatSync(p).isSymbolicLink());
  assert.equal(fs.readFileSync(victim, 'utf8'), 'root:secret:19000:0:99999:7:::\n');
  assert.equal(fs.statSync(victim).mode & 0o777, 0o600);
  // a dangling one too
  fs.rmSync(p);
  fs.symlinkSync(path.join(dir, 'nothing'), p);
  await refused(p, /symbolic link/);
  assert.equal(fs.existsSync(path.join(dir, 'nothing')), false);
});

test('a regular file at the path is refused and left as it is', async () => {
  const dir = tmpDir('alived-sock-');
  const p = path.join(dir, 'alived.sock');
  fs.writeFileSync(p, 'data');
  await refused(p, /a regular file is there, not a socket/);
  assert.equal(fs.readFileSync(p, 'utf8'), 'data');
});

test('a directory other users can write is refused, whatever they planted there', async () => {
  const shared = sharedDir();
  const victim = victimFile(tmpDir('alived-victim-'));
  const p = path.join(shared, 'alived.sock');
  asNobody(`ln -s ${victim} ${p}`);
  await refused(p, /directory .* is writable by other users/);
  assert.equal(fs.lstatSync(p).uid, NOBODY_UID);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'root:secret:19000:0:99999:7:::\n');
  // empty, it is refused as well: someone could plant a link between the check and the bind
  const empty = path.join(sharedDir(), 'alived.sock');
  await refused(empty, /writable by other users/);
  assert.equal(fs.existsSync(empty), false);
  // a directory of its own below it is made 0755 and used: /tmp is sticky
  const own = path.join(sharedDir(), 'run', 'alived.sock');
  const api = apiAt(own);
  await api.start();
  await api.stop();
});

test("a directory that is a symbolic link, or another user's, is refused", async () => {
  const dir = tmpDir('alived-sock-');
  fs.mkdirSync(path.join(dir, 'real'), { mode: 0o755 });
  fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
  await refused(path.join(dir, 'link', 'alived.sock'), /directory .* is a symbolic link/);
  fs.mkdirSync(path.join(dir, 'nobodys'), { mode: 0o755 });
  fs.chownSync(path.join(dir, 'nobodys'), NOBODY_UID, NOBODY_UID);
  await refused(path.join(dir, 'nobodys', 'alived.sock'), new RegExp(`belongs to uid ${NOBODY_UID}`));
});
