import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { applyScheduling, DEFAULT_VRRP_RT_PRIORITY, vrrpScheduling } from '../../core/daemon/scheduling';
import { memoryLogger } from '../helpers/log';

test('vrrp_priority / vrrp_rt_priority: every thread of a process gets its nice value and SCHED_RR priority; a failure is logged, not thrown', async () => {
  // a Node process: its V8 and libuv helper threads exist from the start
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const tids = fs.readdirSync(`/proc/${child.pid}/task`).map(Number);
    assert.ok(tids.length > 1, `one thread only: ${tids}`);
    const { log, records } = memoryLogger();
    applyScheduling(child.pid!, 'VRRP process', { nice: 5, rtPriority: 7 }, log);
    for (const tid of tids) {
      assert.equal(os.getPriority(tid), 5, `thread ${tid}`);
      const chrt = spawnSync('chrt', ['-p', String(tid)], { encoding: 'utf8' });
      assert.match(chrt.stdout, /SCHED_RR/, `thread ${tid}: ${chrt.stdout}`);
      assert.match(chrt.stdout, /priority: 7/, `thread ${tid}: ${chrt.stdout}`);
    }
    assert.ok(records.some((r) => /runs with real-time priority 7 \(SCHED_RR\)/.test(r.msg)));

    applyScheduling(999_999_999, 'VRRP process', { nice: 1, rtPriority: 3 }, log);
    const errors = records.filter((r) => r.level === 'error').map((r) => r.msg);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0]!, /cannot set nice 1/);
    assert.match(errors[1]!, /cannot set real-time priority 3/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('the VRRP process: real time by default; vrrp_rt_priority wins, 0 turns it off', () => {
  assert.deepEqual(vrrpScheduling(undefined), { defaulted: true, rtPriority: DEFAULT_VRRP_RT_PRIORITY });
  assert.deepEqual(vrrpScheduling({}), { defaulted: true, rtPriority: DEFAULT_VRRP_RT_PRIORITY });
  assert.deepEqual(vrrpScheduling({ vrrpRtPriority: 20 }), { defaulted: false, rtPriority: 20 });
  assert.deepEqual(vrrpScheduling({ vrrpRtPriority: 0 }), { defaulted: false });
  assert.deepEqual(vrrpScheduling({ vrrpPriority: -5 }), { defaulted: true, nice: -5, rtPriority: DEFAULT_VRRP_RT_PRIORITY });
});

test('a default real-time priority that cannot be set is a warning that says how to turn it off; one the config asked for is an error', () => {
  const { log, records } = memoryLogger();
  applyScheduling(999_999_999, 'VRRP process', { rtPriority: 1, defaulted: true }, log);
  applyScheduling(999_999_999, 'VRRP process', { rtPriority: 5 }, log);
  assert.deepEqual(
    records.filter((r) => r.level === 'warn' || r.level === 'error').map((r) => r.level),
    ['warn', 'error'],
  );
  assert.match(records.find((r) => r.level === 'warn')!.msg, /cannot set real-time priority 1 \(alived's default; vrrp_rt_priority 0 turns it off\)/);
});
