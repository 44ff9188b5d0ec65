import { test } from 'node:test';
import assert from 'node:assert/strict';
import { causeLine, explain, instanceTrackers, priorityCause, stateCause, trackerCause, transitionCause } from '../../core/status/causes';
import type { TrackerStatus } from '../../core/track/service';

/** Causes join what the VRRP process says to what the main process knows, into one chain that reads as the why. */

const settings = {
  tracks: [
    { type: 'vrrp_script', name: 'chk_nginx', weight: -60, reverse: false },
    { type: 'vrrp_script', name: 'chk_disk', weight: 0, reverse: false },
    { type: 'track_file', name: 'load', weight: 2, reverse: false },
  ],
};

function trackers(list: TrackerStatus[]): Map<string, TrackerStatus> {
  return new Map(list.map((t) => [`${t.type} ${t.name}`, t]));
}

test('a failed tracker, the priority it makes, and the master that wins: one chain', () => {
  const ts = instanceTrackers(
    settings,
    trackers([
      { type: 'vrrp_script', name: 'chk_nginx', plugin: 'track-script', up: false, message: 'exit 1: "connection refused"', since: 5 },
      { type: 'vrrp_script', name: 'chk_disk', plugin: 'track-script', up: true, since: 5 },
    ]),
  );
  assert.deepEqual(
    ts.map((t) => [t.name, t.state, t.effect]),
    [
      ['chk_nginx', 'down', -60],
      ['chk_disk', 'up', 0],
      ['load', 'unknown', 0],
    ],
  );
  const p = priorityCause(150, 90, ts)!;
  assert.equal(p.text, 'priority 150 - 60 = 90');
  assert.equal(p.because?.text, 'tracker chk_nginx failed (exit 1: "connection refused")');
  const t = transitionCause('BACKUP', 'Master received advert from 10.0.0.12 with higher priority 100, ours 90', {
    priority: p,
    effectivePriority: 90,
    trackers: ts,
  });
  assert.equal(t.kind, 'advert');
  assert.deepEqual(t.facts, { from: '10.0.0.12', priority: 100, ours: 90 });
  assert.equal(explain('BACKUP', t), `BACKUP because tracker chk_nginx failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < 10.0.0.12's 100`);
});

test('a backup that hears a higher master is backup because of it, even when its last transition was its start', () => {
  const c = stateCause(
    'BACKUP',
    { kind: 'start', text: 'started as backup (init)' },
    { priority: null, effectivePriority: 100, trackers: [], fault: null, waiting: [], master: { address: '10.0.0.2', priority: 150 } },
  );
  assert.equal(explain('BACKUP', c), `BACKUP because priority 100 < 10.0.0.2's 150`);
  const np = stateCause('BACKUP', null, {
    priority: null,
    effectivePriority: 200,
    trackers: [],
    fault: null,
    waiting: [],
    nopreempt: true,
    master: { address: '10.0.0.2', priority: 150 },
  });
  assert.match(causeLine(np!), /^nopreempt: 10\.0\.0\.2 stays master/);
});

test('a fault names its tracker and what it said; a takeover names the silent master', () => {
  const ts = instanceTrackers(settings, trackers([{ type: 'vrrp_script', name: 'chk_disk', plugin: 'track-script', up: false, message: 'exit 2', since: 1 }]));
  const f = stateCause('FAULT', null, { priority: null, effectivePriority: 100, trackers: ts, fault: 'vrrp_script chk_disk failed', waiting: [] })!;
  assert.equal(f.kind, 'fault');
  assert.equal(causeLine(f), 'tracker chk_disk failed (exit 2) -> vrrp_script chk_disk failed');
  const m = transitionCause('MASTER', 'no advert for Master_Down_Interval (3609 ms)', {
    priority: null,
    effectivePriority: 100,
    trackers: [],
    master: { address: '10.0.0.1', priority: 150 },
  });
  assert.equal(m.text, 'no advert from the master 10.0.0.1 for Master_Down_Interval (3609 ms)');
  const pre = transitionCause('MASTER', 'no advert for Master_Down_Interval (3609 ms)', {
    priority: null,
    effectivePriority: 200,
    trackers: [],
    master: { address: '10.0.0.1', priority: 150 },
  });
  assert.match(pre.text, /^preempting 10\.0\.0\.1/);
  assert.equal(transitionCause('MASTER', 'something new', { priority: null, effectivePriority: 1, trackers: [] }).kind, 'other');
});

test('track_file values and reverse weights count as keepalived counts them', () => {
  const ts = instanceTrackers(
    { tracks: [{ type: 'track_file', name: 'load', weight: 2, reverse: true }] },
    trackers([{ type: 'track_file', name: 'load', plugin: 'track-file', up: true, value: 10, since: 1 }]),
  );
  assert.equal(ts[0]!.effect, -20);
  assert.equal(priorityCause(100, 80, ts)!.text, 'priority 100 - 20 = 80');
  assert.equal(priorityCause(100, 100, []), null);
});

test('a priority the trackers do not explain names the tracked interfaces', () => {
  assert.equal(priorityCause(150, 90, [])!.text, 'priority 150 - 60 (tracked interfaces) = 90');
  assert.equal(transitionCause('FAULT', 'tracked interface mon0 down', { priority: null, effectivePriority: 1, trackers: [] }).kind, 'interface');
});

test("a tracker's cause outside an instance carries no weight or effect it does not have", () => {
  const c = trackerCause({ type: 'vrrp_script', name: 'chk', state: 'down', value: null, lastResult: 'exit 1' });
  assert.equal(c.text, 'tracker chk failed (exit 1)');
  assert.equal('weight' in c.facts!, false);
  assert.equal('effect' in c.facts!, false);
});
