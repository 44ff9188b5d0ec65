import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHooks, currentHooks, defaultTapTimeoutMs, HOOK_NAMES, HOOKS, type AlivedHooks } from '../../core/plugin/hooks';

test('every hook is declared once, in HOOKS: the names, the hooks object and the time limits come from it', () => {
  assert.deepEqual([...HOOK_NAMES], Object.keys(HOOKS));
  const hooks = createHooks();
  assert.deepEqual(Object.keys(hooks), [...HOOK_NAMES]);
  assert.ok(Object.isFrozen(hooks));
  for (const name of HOOK_NAMES) {
    const spec: { fires: string; timeoutMs?: number } = HOOKS[name];
    const sync = hooks[name].constructor.name === 'SyncHook';
    // a sync tap cannot be timed: only async hooks have a time limit
    assert.equal(spec.timeoutMs === undefined, sync, name);
    assert.equal(defaultTapTimeoutMs(name), spec.timeoutMs ?? 0);
  }
});

test('currentHooks: one object whose hooks are those of whatever runs now', () => {
  let running: AlivedHooks = createHooks();
  const stable = currentHooks(() => running);
  const got: string[] = [];
  running.priorityChange.tap('old', (e) => got.push(`old ${e.to}`));
  stable.priorityChange.call({ instance: 'VI_1', from: 100, to: 90, state: 'MASTER', reason: 'tracking', time: 0 });
  // a reload brings new hooks with the new plugins' taps; the stable object reaches them, not the old ones
  running = createHooks();
  running.priorityChange.tap('new', (e) => got.push(`new ${e.to}`));
  stable.priorityChange.call({ instance: 'VI_1', from: 90, to: 80, state: 'MASTER', reason: 'tracking', time: 0 });
  assert.deepEqual(got, ['old 90', 'new 80']);
  assert.equal(stable.notify, running.notify);
  assert.ok(Object.isFrozen(stable));
  assert.deepEqual(Object.keys(stable), [...HOOK_NAMES]);
});
