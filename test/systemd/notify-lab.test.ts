import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { waitFor } from '../helpers/lab';
import { processAlive } from '../helpers/process';
import { NotifyReceiver, monotonicNowUsec, type NotifyMessage } from './notify-receiver';

/**
 * alived as a `Type=notify` service, against a real notify socket the test
 * listens on (NOTIFY_SOCKET, with the watchdog: WATCHDOG_USEC=1 s, so a
 * WATCHDOG=1 every 0.5 s). The daemon runs one VRRP instance on a lab host,
 * started the way the unit starts it (-n, console logs). Through start, a
 * state change, a good and a bad reload, the VRRP process stopped and
 * continued, and stop, the socket gets exactly what systemd needs, and
 * every message comes from the main process.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const WATCHDOG_USEC = 1_000_000;
const PERIOD_MS = WATCHDOG_USEC / 2000;

let lab: Lab;
let dir: string;
let receiver: NotifyReceiver;
let daemon: ChildProcess;
let output = '';
let spawnedAt = 0;
let vrrpPid = 0;

const config = (priority: number, extra = ''): string => `global_defs {
  router_id SD1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    10.96.0.100/24
  }
}
${extra}`;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({ name: 'sdnotify', hosts: [{ name: 'n1', ip: '10.96.0.11' }] });
  dir = tmpDir('alived-sd-notify-');
  receiver = await NotifyReceiver.listen(path.join(dir, 'notify.sock'), dir);
  fs.writeFileSync(path.join(dir, 'alived.conf'), config(100));
  spawnedAt = performance.now();
  daemon = lab.spawn(
    'n1',
    [process.execPath, BIN, '-n', '-l', '-G', '-f', path.join(dir, 'alived.conf'), '-p', path.join(dir, 'alived.pid'), '--state-dir', path.join(dir, 'state')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: String(WATCHDOG_USEC) },
    },
  );
  daemon.stdout!.on('data', (d) => (output += d));
  daemon.stderr!.on('data', (d) => (output += d));
});

after(async () => {
  if (daemon?.pid !== undefined && processAlive(daemon.pid)) {
    if (vrrpPid > 1 && processAlive(vrrpPid)) process.kill(vrrpPid, 'SIGCONT');
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGKILL');
    await exited;
  }
  await receiver?.close();
  await lab?.destroy();
});

const from = (m: NotifyMessage): number => m.n + 1;

test('READY=1 with a STATUS summary once VRRP runs, from the main process; no child has the socket', async () => {
  const ready = await receiver
    .next('READY=1', (m) => m.fields.READY === '1', 0, 20_000)
    .catch((err: Error) => {
      throw new Error(`${err.message}\nalived's output:\n${output}`);
    });
  const ms = performance.now() - spawnedAt;
  console.log(`spawn to READY=1: ${ms.toFixed(0)} ms`);
  assert.equal(ready.pid, daemon.pid, 'sent by the main process (NotifyAccess=main)');
  assert.match(ready.fields.STATUS ?? '', /^VRRP: \d master, \d backup, 0 fault/);
  assert.match(output, /Entering BACKUP STATE/, 'the VRRP instance runs before READY=1');
  // the VRRP process is the main process's child running child.js; its environment has no notify socket
  vrrpPid = await waitFor('the VRRP process', () => {
    const kids = fs.readFileSync(`/proc/${daemon.pid}/task/${daemon.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.find((k) => fs.readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('child.js'));
  });
  const env = fs.readFileSync(`/proc/${vrrpPid}/environ`, 'utf8').split('\0');
  assert.ok(!env.some((e) => /^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=/.test(e)), 'the VRRP process inherits no notify variable');
});

test('STATUS follows a state change: the instance becomes master', async () => {
  const m = await receiver.next('STATUS with 1 master', (x) => /^VRRP: 1 master, 0 backup/.test(x.fields.STATUS ?? ''), 0, 15_000);
  assert.equal(m.pid, daemon.pid);
  assert.equal(m.fields.READY, undefined, 'a plain STATUS update');
});

test('WATCHDOG=1 every WATCHDOG_USEC/2 while the VRRP process answers', async () => {
  const start = receiver.messages.length;
  await new Promise((r) => setTimeout(r, PERIOD_MS * 6 + 100));
  const pings = receiver.messages.slice(start).filter((m) => m.fields.WATCHDOG === '1');
  assert.ok(pings.length >= 5 && pings.length <= 7, `${pings.length} pings in 6 periods`);
  for (const p of pings) assert.equal(p.pid, daemon.pid);
  const gaps = pings.slice(1).map((p, i) => (p.at - pings[i]!.at) / 1000);
  // the period, give or take a loaded machine's timer lateness
  for (const g of gaps) assert.ok(g > PERIOD_MS * 0.5 && g < PERIOD_MS * 1.8, `gaps ${gaps.map((x) => x.toFixed(0)).join(' ')} ms`);
});

test('the VRRP process stopped (SIGSTOP): no more WATCHDOG=1; continued (SIGCONT): the pings come back', async () => {
  // never 0: kill(0) would stop the test's own process group
  assert.ok(vrrpPid > 1, 'the VRRP process was found');
  process.kill(vrrpPid, 'SIGSTOP');
  const stoppedAt = monotonicNowUsec();
  try {
    // a ping answered just before the stop still counts for one half period
    await new Promise((r) => setTimeout(r, PERIOD_MS * 4));
    const late = receiver.messages.filter((m) => m.fields.WATCHDOG === '1' && m.at > stoppedAt + (PERIOD_MS * 1.5 + 100) * 1000);
    assert.deepEqual(
      late.map((m) => (m.at - stoppedAt) / 1000),
      [],
      'no watchdog ping later than 1.5 periods after the stop',
    );
    await waitFor('the log line', () => (/the VRRP process has not answered/.test(output) ? true : undefined), 5000);
  } finally {
    process.kill(vrrpPid, 'SIGCONT');
  }
  const contAt = monotonicNowUsec();
  const back = await receiver.next('WATCHDOG=1 after SIGCONT', (m) => m.fields.WATCHDOG === '1' && m.at > contAt, 0, PERIOD_MS * 4);
  assert.ok((back.at - contAt) / 1000 < PERIOD_MS * 3);
  await waitFor('the log line', () => (/the VRRP process answers again/.test(output) ? true : undefined), 5000);
});

test('a good reload: RELOADING=1 with MONOTONIC_USEC, then READY=1', async () => {
  fs.writeFileSync(path.join(dir, 'alived.conf'), config(110));
  const start = receiver.messages.length;
  const before = monotonicNowUsec();
  daemon.kill('SIGHUP');
  const reloading = await receiver.next('RELOADING=1', (m) => m.fields.RELOADING === '1', start);
  const stamp = Number(reloading.fields.MONOTONIC_USEC);
  // CLOCK_MONOTONIC: after the test read it before the signal, before the receiver read it on arrival
  assert.ok(stamp >= before && stamp <= reloading.at, `MONOTONIC_USEC ${stamp} between ${before} and ${reloading.at}`);
  const ready = await receiver.next('READY=1 after the reload', (m) => m.fields.READY === '1', from(reloading));
  assert.equal(ready.pid, daemon.pid);
  assert.match(ready.fields.STATUS ?? '', /^VRRP: 1 master/);
  assert.doesNotMatch(ready.fields.STATUS ?? '', /reject/);
  assert.match(output, /Reload complete/);
});

test('a bad reload: RELOADING=1, then READY=1 with a STATUS saying it was rejected and the old config runs', async () => {
  fs.writeFileSync(path.join(dir, 'alived.conf'), config(110, 'vrrp_instance VI_2 {\n  prioirty 5\n}\n'));
  const start = receiver.messages.length;
  daemon.kill('SIGHUP');
  const reloading = await receiver.next('RELOADING=1', (m) => m.fields.RELOADING === '1', start);
  const ready = await receiver.next('READY=1 after the rejected reload', (m) => m.fields.READY === '1', from(reloading));
  assert.match(ready.fields.STATUS ?? '', /^reload rejected: \d+ errors? in the new config, the running config goes on; VRRP: 1 master/);
  // the next good reload clears it
  fs.writeFileSync(path.join(dir, 'alived.conf'), config(110));
  const again = receiver.messages.length;
  daemon.kill('SIGHUP');
  const ok = await receiver.next('READY=1 after the good reload', (m) => m.fields.READY === '1', again);
  assert.doesNotMatch(ok.fields.STATUS ?? '', /reject/);
});

test('SIGTERM: STOPPING=1, then the daemon exits 0', async () => {
  const start = receiver.messages.length;
  const exited = new Promise<number | null>((r) => daemon.once('exit', (code) => r(code)));
  daemon.kill('SIGTERM');
  const stopping = await receiver.next('STOPPING=1', (m) => m.fields.STOPPING === '1', start);
  assert.equal(stopping.pid, daemon.pid);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('no exit within 15 s'), 15_000)))]);
  clearTimeout(timer);
  assert.equal(code, 0, output);
  const afterStop = receiver.messages.slice(from(stopping)).filter((m) => m.fields.WATCHDOG === '1' || m.fields.READY === '1');
  assert.deepEqual(afterStop, [], 'nothing but STATUS after STOPPING=1');
});
