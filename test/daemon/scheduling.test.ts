import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { applyScheduling, DEFAULT_VRRP_RT_PRIORITY, vrrpScheduling } from '../../core/daemon/scheduling';
import { memoryLogger } from '../helpers/log';

test('vrrp_priority / vrrp_rt_priority: a process gets its nice value and SCHED_RR priority; a failure is logged, not thrown', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const { log, records } = memoryLogger();
    applyScheduling(child.pid!, 'VRRP process', { nice: 5, rtPriority: 7 }, log);
    assert.equal(os.getPriority(child.pid!), 5);
    const chrt = spawnSync('chrt', ['-p', String(child.pid)], { encoding: 'utf8' });
    assert.match(chrt.stdout, /SCHED_RR/);
    assert.match(chrt.stdout, /priority: 7/);
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

test('the VRRP process: real time by default only when health checks run in the same daemon; vrrp_rt_priority wins, 0 turns it off', () => {
  assert.deepEqual(vrrpScheduling(undefined, false), { defaulted: false });
  assert.deepEqual(vrrpScheduling(undefined, true), { defaulted: true, rtPriority: DEFAULT_VRRP_RT_PRIORITY });
  assert.deepEqual(vrrpScheduling({ vrrpRtPriority: 20 }, true), { defaulted: false, rtPriority: 20 });
  assert.deepEqual(vrrpScheduling({ vrrpRtPriority: 20 }, false), { defaulted: false, rtPriority: 20 });
  assert.deepEqual(vrrpScheduling({ vrrpRtPriority: 0 }, true), { defaulted: false });
  assert.deepEqual(vrrpScheduling({ vrrpPriority: -5 }, true), { defaulted: true, nice: -5, rtPriority: DEFAULT_VRRP_RT_PRIORITY });
});
