import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateTracking, trackerKey, type TrackedState } from '../../core/vrrp/tracking';
import type { TrackSetting, TrackInterfaceSetting } from '../../core/vrrp/settings';

/** keepalived's priority rules (vrrp_track.c), evaluated from the trackers' current states */

function ev(
  priority: number,
  tracks: TrackSetting[],
  states: Record<string, TrackedState>,
  ifs: TrackInterfaceSetting[] = [],
  up: Record<string, boolean> = {},
) {
  return evaluateTracking({ priority, tracks, trackInterfaces: ifs }, new Map(Object.entries(states)), (n) => up[n] === true);
}
const script = (weight: number, reverse = false, name = 'chk'): TrackSetting => ({ type: 'vrrp_script', name, weight, reverse });
const file = (weight: number, reverse = false, name = 'tf'): TrackSetting => ({ type: 'track_file', name, weight, reverse });
const k = (name = 'chk') => trackerKey('vrrp_script', name);

test('a script with a negative weight subtracts while failing; a positive one adds while succeeding; reverse turns both round', () => {
  assert.equal(ev(100, [script(-20)], { [k()]: { up: true } }).priority, 100);
  assert.equal(ev(100, [script(-20)], { [k()]: { up: false } }).priority, 80);
  assert.equal(ev(100, [script(15)], { [k()]: { up: true } }).priority, 115);
  assert.equal(ev(100, [script(15)], { [k()]: { up: false } }).priority, 100);
  assert.equal(ev(100, [script(15, true)], { [k()]: { up: true } }).priority, 85);
  assert.equal(ev(100, [script(-20, true)], { [k()]: { up: false } }).priority, 120);
  assert.equal(ev(100, [script(-20, true)], { [k()]: { up: true } }).priority, 100);
});

test('weight 0: a failing script means FAULT (a succeeding one with reverse); before its first result the instance waits in INIT', () => {
  assert.match(ev(100, [script(0)], { [k()]: { up: false } }).fault ?? '', /vrrp_script chk failed/);
  assert.equal(ev(100, [script(0)], { [k()]: { up: true } }).fault, undefined);
  assert.match(ev(100, [script(0, true)], { [k()]: { up: true } }).fault ?? '', /succeeded \(reverse\)/);
  assert.deepEqual(ev(100, [script(0)], {}).waiting, ['vrrp_script chk']);
  // a weighted script adds nothing and holds nothing before its first result
  const w = ev(100, [script(-20)], {});
  assert.equal(w.priority, 100);
  assert.deepEqual(w.waiting, []);
});

test('the priority stays within 1..254; an address owner is never adjusted', () => {
  assert.equal(ev(250, [script(10), script(10, false, 'b')], { [k()]: { up: true }, [k('b')]: { up: true } }).priority, 254);
  assert.equal(ev(10, [script(-50)], { [k()]: { up: false } }).priority, 1);
  assert.equal(ev(255, [script(-50)], { [k()]: { up: false } }).priority, 255);
  assert.match(ev(255, [script(0)], { [k()]: { up: false } }).fault ?? '', /failed/, 'a fault still applies to the owner');
});

test('track_file: the number times the weight, capped at 253; -254 or less is FAULT; weight 0: non-zero is FAULT', () => {
  const f = trackerKey('track_file', 'tf');
  assert.equal(ev(100, [file(1)], { [f]: { up: true, value: -30 } }).priority, 70);
  assert.equal(ev(100, [file(3)], { [f]: { up: true, value: 5 } }).priority, 115);
  assert.equal(ev(100, [file(-2)], { [f]: { up: true, value: 5 } }).priority, 90);
  assert.equal(ev(100, [file(2, true)], { [f]: { up: true, value: 5 } }).priority, 90);
  assert.equal(ev(1, [file(1)], { [f]: { up: true, value: 300 } }).priority, 254, '253 at most from one file');
  assert.match(ev(100, [file(1)], { [f]: { up: true, value: -254 } }).fault ?? '', /status -254/);
  assert.match(ev(100, [file(0)], { [f]: { up: true, value: 7 } }).fault ?? '', /track_file tf/);
  assert.equal(ev(100, [file(0)], { [f]: { up: true, value: 0 } }).fault, undefined);
  assert.match(ev(100, [file(0, true)], { [f]: { up: true, value: 0 } }).fault ?? '', /track_file tf/);
});

test('track_interface: without weight down means FAULT; with a weight it moves the priority', () => {
  const ifs = (weight: number, reverse = false): TrackInterfaceSetting[] => [{ ifname: 'eth1', weight, reverse }];
  assert.match(ev(100, [], {}, ifs(0), { eth1: false }).fault ?? '', /tracked interface eth1 down/);
  assert.equal(ev(100, [], {}, ifs(0), { eth1: true }).fault, undefined);
  assert.equal(ev(100, [], {}, ifs(-30), { eth1: false }).priority, 70);
  assert.equal(ev(100, [], {}, ifs(-30), { eth1: true }).priority, 100);
  assert.equal(ev(100, [], {}, ifs(10), { eth1: true }).priority, 110);
  assert.equal(ev(100, [], {}, ifs(10, true), { eth1: true }).priority, 90);
});
