import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectivePriority, trackerEffect } from '../../core/track/effect';

/**
 * What a tracker's state does to an instance, checked against keepalived
 * 2.2.8's arithmetic: process_script_update_priority() and
 * initialise_track_script_state() for up/down trackers (the contribution
 * they add up to, from any order of changes), and
 * process_update_vrrp_track_file_status() for numbers.
 */

const w = (value: number, reverse = false) => ({ value, reverse });

test('up/down trackers: a positive weight is added while up, a negative one while down; reverse turns the sign', () => {
  assert.deepEqual(trackerEffect({ up: true }, w(20)), { fault: false, adjust: 20 });
  assert.deepEqual(trackerEffect({ up: false }, w(20)), { fault: false, adjust: 0 });
  assert.deepEqual(trackerEffect({ up: true }, w(-20)), { fault: false, adjust: 0 });
  assert.deepEqual(trackerEffect({ up: false }, w(-20)), { fault: false, adjust: -20 });
  assert.deepEqual(trackerEffect({ up: true }, w(20, true)), { fault: false, adjust: -20 });
  assert.deepEqual(trackerEffect({ up: false }, w(20, true)), { fault: false, adjust: 0 });
  assert.deepEqual(trackerEffect({ up: true }, w(-20, true)), { fault: false, adjust: 0 });
  assert.deepEqual(trackerEffect({ up: false }, w(-20, true)), { fault: false, adjust: 20 });
});

test("up/down trackers: keepalived's incremental updates land on the same contributions, whatever the order", () => {
  // process_script_update_priority(): from the init state only the state's own side applies; after it, +/-|w| x m per turn
  for (const weight of [20, -20]) {
    for (const m of [1, -1]) {
      let total = 0;
      const fromInit = (ok: boolean) => (ok ? (weight > 0 ? weight * m : 0) : weight < 0 ? weight * m : 0);
      const turn = (ok: boolean) => (ok ? Math.abs(weight) * m : -Math.abs(weight) * m);
      for (const first of [true, false]) {
        total = fromInit(first);
        let up = first;
        for (let i = 0; i < 4; i++) {
          up = !up;
          total += turn(up);
          const e = trackerEffect({ up }, w(weight, m === -1));
          assert.deepEqual(e, { fault: false, adjust: total }, `weight ${weight} m ${m} first ${first} step ${i}`);
        }
      }
    }
  }
});

test('weight 0: FAULT while down, or while up with reverse', () => {
  assert.deepEqual(trackerEffect({ up: false }, w(0)), { fault: true });
  assert.deepEqual(trackerEffect({ up: true }, w(0)), { fault: false, adjust: 0 });
  assert.deepEqual(trackerEffect({ up: true }, w(0, true)), { fault: true });
  assert.deepEqual(trackerEffect({ up: false }, w(0, true)), { fault: false, adjust: 0 });
});

test('numbers: value x weight (x -1 with reverse), at most 253, FAULT at -254 and below; weight 0: FAULT on non-zero (zero with reverse)', () => {
  assert.deepEqual(trackerEffect({ up: true, value: 5 }, w(10)), { fault: false, adjust: 50 });
  assert.deepEqual(trackerEffect({ up: true, value: 5 }, w(10, true)), { fault: false, adjust: -50 });
  assert.deepEqual(trackerEffect({ up: true, value: 100 }, w(10)), { fault: false, adjust: 253 });
  assert.deepEqual(trackerEffect({ up: true, value: -253 }, w(1)), { fault: false, adjust: -253 });
  assert.deepEqual(trackerEffect({ up: false, value: -254 }, w(1)), { fault: true });
  assert.deepEqual(trackerEffect({ up: false, value: 2147483648 }, w(-254)), { fault: true });
  assert.deepEqual(trackerEffect({ up: true, value: 0 }, w(7, true)), { fault: false, adjust: 0 });
  assert.deepEqual(trackerEffect({ up: false, value: 1 }, w(0)), { fault: true });
  assert.deepEqual(trackerEffect({ up: true, value: 0 }, w(0)), { fault: false, adjust: 0 });
  assert.deepEqual(trackerEffect({ up: false, value: 0 }, w(0, true)), { fault: true });
  assert.deepEqual(trackerEffect({ up: true, value: -3 }, w(0, true)), { fault: false, adjust: 0 });
});

test('no state yet: no effect; the priority is base plus adjustments in 1..254, and 255 is never adjusted', () => {
  assert.equal(trackerEffect(undefined, w(20)), undefined);
  assert.equal(effectivePriority(100, [20, -30]), 90);
  assert.equal(effectivePriority(100, [-200]), 1);
  assert.equal(effectivePriority(200, [100]), 254);
  assert.equal(effectivePriority(255, [-100]), 255);
});
