import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monotonicUsec, sdNotify, takeSystemdEnvironment } from '../../core/daemon/sd-notify';
import { statusSummary } from '../../core/daemon/systemd';
import type { StatusDocument } from '../../core/status/types';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { processAlive } from '../helpers/process';
import { NotifyReceiver, monotonicNowUsec } from './notify-receiver';

/**
 * The notify protocol's pieces: the environment systemd sets, the send
 * through the addon to a path and to an abstract socket, the clock, the
 * summary; and a daemon that runs only the checks (-C, no VRRP process),
 * whose watchdog follows its main process alone.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.splice(0)) await c();
});

test("takeSystemdEnvironment: the socket and this pid's watchdog, removed from the environment", () => {
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '10000000', WATCHDOG_PID: '42', OTHER: 'x' };
  assert.deepEqual(takeSystemdEnvironment(env, 42), { notifySocket: '/run/systemd/notify', watchdogUsec: 10_000_000 });
  assert.deepEqual(env, { OTHER: 'x' }, 'no child inherits them');
  assert.deepEqual(
    takeSystemdEnvironment({ NOTIFY_SOCKET: '@abstract', WATCHDOG_USEC: '10000000', WATCHDOG_PID: '43' }, 42),
    { notifySocket: '@abstract' },
    "another pid's watchdog",
  );
  assert.deepEqual(takeSystemdEnvironment({ NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '0' }, 42), { notifySocket: '/s' });
  assert.equal(takeSystemdEnvironment({}, 42), undefined, 'no socket: nothing is sent');
  assert.equal(takeSystemdEnvironment({ NOTIFY_SOCKET: 'vsock:2:1234' }, 42), undefined, 'an address this protocol cannot reach');
  assert.equal(takeSystemdEnvironment({ NOTIFY_SOCKET: '@' }, 42), undefined);
});

test('sdNotify: one datagram of KEY=VALUE lines to a path and to an abstract name; a value cannot add a field', async () => {
  const dir = tmpDir('alived-sd-');
  for (const address of [path.join(dir, 'n.sock'), `@alived-test-${process.pid}`]) {
    const r = await NotifyReceiver.listen(address, dir);
    closers.push(() => r.close());
    sdNotify(address, [
      ['READY', 1],
      ['STATUS', 'two\nlines'],
    ]);
    const m = await r.next('the message', () => true);
    assert.equal(m.text, 'READY=1\nSTATUS=two lines');
    assert.equal(m.pid, process.pid);
  }
  assert.throws(
    () => sdNotify(path.join(dir, 'nobody.sock'), [['READY', 1]]),
    (err: NodeJS.ErrnoException) => err.syscall === 'sendto',
  );
  assert.throws(() => sdNotify('relative', [['READY', 1]]), /EINVAL|Invalid argument/);
});

test('monotonicUsec reads CLOCK_MONOTONIC', () => {
  const a = monotonicNowUsec();
  const b = monotonicUsec();
  const c = monotonicNowUsec();
  assert.ok(a <= b && b <= c, `${a} <= ${b} <= ${c}`);
});

test('statusSummary: instances by state, virtual servers with quorum, real servers up', () => {
  const inst = (state: string) => ({ state }) as unknown;
  const rs = (up: boolean) => ({ up }) as unknown;
  const doc = {
    daemon: { vrrpProcess: { pid: 1 } },
    vrrp: { instances: [inst('MASTER'), inst('BACKUP'), inst('BACKUP'), inst('FAULT'), inst('INIT')] },
    virtualServers: [
      { quorumUp: true, realServers: [rs(true), rs(false)] },
      { quorumUp: false, realServers: [rs(false)] },
    ],
  } as unknown as StatusDocument;
  assert.equal(statusSummary(doc), 'VRRP: 1 master, 2 backup, 1 fault, 1 starting; IPVS: 1/2 virtual servers with quorum, 1/3 real servers up');
  assert.equal(
    statusSummary({ daemon: { vrrpProcess: null }, vrrp: { instances: [] }, virtualServers: [] } as unknown as StatusDocument),
    'running (no VRRP instance, no virtual server)',
  );
});

test('a daemon without a VRRP process (-C), on an abstract socket: READY=1, the watchdog fed by the main process, STOPPING=1', async () => {
  const dir = tmpDir('alived-sd-');
  const r = await NotifyReceiver.listen(`@alived-sd-${process.pid}`, dir);
  closers.push(() => r.close());
  fs.writeFileSync(path.join(dir, 'alived.conf'), 'global_defs {\n  router_id C\n}\n');
  let out = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, '-n', '-l', '-G', '-C', '-f', 'alived.conf', '-p', path.join(dir, 'pid'), '--state-dir', path.join(dir, 'state')],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NOTIFY_SOCKET: r.address, WATCHDOG_USEC: '400000' },
    },
  );
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  closers.push(async () => {
    if (child.pid !== undefined && processAlive(child.pid)) {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGKILL');
      await exited;
    }
  });
  const ready = await r.next('READY=1', (m) => m.fields.READY === '1', 0, 15_000);
  assert.equal(ready.fields.STATUS, 'running (no VRRP instance, no virtual server)');
  assert.equal(ready.pid, child.pid);
  const start = r.messages.length;
  await new Promise((res) => setTimeout(res, 1000));
  const pings = r.messages.slice(start).filter((m) => m.fields.WATCHDOG === '1').length;
  assert.ok(pings >= 4 && pings <= 6, `${pings} pings in 1 s at a 0.2 s period`);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  await r.next('STOPPING=1', (m) => m.fields.STOPPING === '1', start);
  assert.equal(await exited, 0, out);
});
