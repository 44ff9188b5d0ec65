import { test } from 'node:test';
import assert from 'node:assert/strict';
import { masterDownIntervalUs, skewTimeUs, VrrpMachine, type MachineEffects, type MachineOptions, type ReceivedAdvert } from '../../core/vrrp/machine';
import { checkAdvert, encodeAdvert } from '../../core/vrrp/packet';
import { newCounters, type Clock, type TimerHandle, type VrrpCounters, type VrrpState } from '../../core/vrrp/types';

/** Time that moves only when told to, firing due timers in order of their time, then of their creation. */
class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  advanceTo(end: number): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }

  get pending(): number {
    return this.timers.size;
  }
}

type Event =
  | { t: number; kind: 'advert'; priority: number; advertIntCs: number }
  | { t: number; kind: 'becomeMaster' | 'leaveMaster' }
  | { t: number; kind: 'transition'; from: VrrpState; to: VrrpState; reason: string }
  | { t: number; kind: 'rxLowerPriority'; adv: ReceivedAdvert };

function harness(opts: Partial<MachineOptions> = {}, hooks: Partial<MachineEffects> = {}) {
  const clock = new FakeClock();
  const counters = newCounters();
  const events: Event[] = [];
  const notes: string[] = [];
  const effects: MachineEffects = {
    sendAdvert: (priority, advertIntCs) => {
      events.push({ t: clock.now(), kind: 'advert', priority, advertIntCs });
      hooks.sendAdvert?.(priority, advertIntCs);
    },
    becomeMaster: () => {
      events.push({ t: clock.now(), kind: 'becomeMaster' });
      hooks.becomeMaster?.();
    },
    leaveMaster: () => {
      events.push({ t: clock.now(), kind: 'leaveMaster' });
      hooks.leaveMaster?.();
    },
    transition: (from, to, reason) => {
      events.push({ t: clock.now(), kind: 'transition', from, to, reason });
      hooks.transition?.(from, to, reason);
    },
    rxLowerPriority: (adv) => events.push({ t: clock.now(), kind: 'rxLowerPriority', adv }),
    note: (m) => notes.push(m),
  };
  const m = new VrrpMachine(
    {
      name: 'VI_1',
      version: 2,
      priority: 100,
      advertIntCs: 100,
      initialState: 'BACKUP',
      preempt: true,
      preemptDelayMs: 0,
      localAddress: '10.99.0.12',
      clock,
      ...opts,
    },
    effects,
    counters,
  );
  const take = (): Event[] => events.splice(0);
  const transitions = (): string[] =>
    events.filter((e): e is Extract<Event, { kind: 'transition' }> => e.kind === 'transition').map((e) => `${e.t} ${e.from}->${e.to}`);
  const adverts = (): Array<[number, number]> =>
    events.filter((e): e is Extract<Event, { kind: 'advert' }> => e.kind === 'advert').map((e) => [e.t, e.priority]);
  return { m, clock, counters, events, notes, take, transitions, adverts };
}

/** advances to master through the down timer, and forgets what happened on the way */
function becomeMasterByTimeout(h: ReturnType<typeof harness>): void {
  h.m.start();
  h.clock.advance(h.m.masterDownIntervalMs);
  assert.equal(h.m.state, 'MASTER');
  h.take();
}

test("Skew_Time and Master_Down_Interval use keepalived's integer microseconds", () => {
  assert.equal(skewTimeUs(2, 100, 100), 609_375);
  assert.equal(masterDownIntervalUs(2, 100, 100), 3_609_375);
  assert.equal(skewTimeUs(3, 100, 100), 609_375);
  // v3 at 0.1 s: 156 x 10 cs / 256 = 60.9375 ms, kept at whole microseconds as keepalived keeps it
  assert.equal(skewTimeUs(3, 100, 10), 60_937);
  assert.equal(masterDownIntervalUs(3, 100, 10), 360_937);
  assert.equal(skewTimeUs(2, 255, 100), 3906);
  assert.equal(masterDownIntervalUs(2, 100, 100, 1), 1_609_375);
});

test('v2 backup becomes master after exactly Master_Down_Interval: 3000 + 609.375 ms at priority 100, advert 1 s', () => {
  const h = harness();
  assert.equal(h.m.state, 'INIT');
  h.m.start();
  assert.equal(h.m.state, 'BACKUP');
  assert.equal(h.m.masterDownIntervalMs, 3609.375);
  assert.equal(h.m.skewMs, 609.375);
  assert.deepEqual(h.take(), [{ t: 0, kind: 'transition', from: 'INIT', to: 'BACKUP', reason: 'init' }]);
  h.clock.advance(3609.374);
  assert.equal(h.m.state, 'BACKUP');
  assert.deepEqual(h.events, []);
  h.clock.advance(0.001);
  assert.equal(h.m.state, 'MASTER');
  // the VIPs go first, then the advert, as keepalived's vrrp_state_master_tx() does
  assert.deepEqual(h.take(), [
    { t: 3609.375, kind: 'becomeMaster' },
    { t: 3609.375, kind: 'advert', priority: 100, advertIntCs: 100 },
    { t: 3609.375, kind: 'transition', from: 'BACKUP', to: 'MASTER', reason: 'no advert for Master_Down_Interval (3609.375 ms)' },
  ]);
  assert.equal(h.counters.becomeMaster, 1);
  assert.equal(h.counters.advertSent, 1);
});

test('v3 numbers: advert 100 cs as v2; advert 10 cs at priority 100 takes 360.937 ms', () => {
  const a = harness({ version: 3, advertIntCs: 100 });
  a.m.start();
  assert.equal(a.m.masterDownIntervalMs, 3609.375);
  a.clock.advance(3609.375);
  assert.equal(a.m.state, 'MASTER');
  const b = harness({ version: 3, advertIntCs: 10 });
  b.m.start();
  assert.equal(b.m.masterDownIntervalMs, 360.937);
  assert.equal(b.m.skewMs, 60.937);
  b.clock.advanceTo(360.936);
  assert.equal(b.m.state, 'BACKUP');
  b.clock.advanceTo(360.937);
  assert.equal(b.m.state, 'MASTER');
});

test("start(boot): the first Master_Down_Interval counts from the router's start, but only after listening for one advert interval and Skew_Time", () => {
  // v3 at 0.1 s, priority 200: Master_Down_Interval 321.875 ms, Skew_Time 21.875 ms
  const cases = [
    // the daemon started at 0 and listens from 140: 0 + 321.875, later than 140 + 121.875
    { why: 'a quick start', now: 150, since: 0, listening: 140, master: 321.875 },
    // listening from 250: not before 250 + 100 + 21.875
    { why: 'a slow start', now: 260, since: 0, listening: 250, master: 371.875 },
    // listening only after the router's first interval would have run out (a slow startup_script): a whole one from now
    { why: 'a late start', now: 5000, since: -10_000, listening: 5000, master: 5321.875 },
  ];
  for (const c of cases) {
    const h = harness({ version: 3, advertIntCs: 10, priority: 200 });
    h.clock.advanceTo(c.now);
    h.m.start({ since: c.since, listening: c.listening });
    h.clock.advanceTo(c.master - 0.001);
    assert.equal(h.m.state, 'BACKUP', c.why);
    h.clock.advanceTo(c.master);
    assert.equal(h.m.state, 'MASTER', c.why);
  }
  // an advert heard meanwhile restarts the timer as always
  const heard = harness({ version: 3, advertIntCs: 10, priority: 200 });
  heard.clock.advanceTo(150);
  heard.m.start({ since: 0, listening: 140 });
  heard.clock.advanceTo(200);
  heard.m.onAdvert({ priority: 250, advertIntCs: 10, src: '10.99.0.1' });
  heard.clock.advanceTo(521.874);
  assert.equal(heard.m.state, 'BACKUP');
});

test('start(resume): a master whose VRRP process was replaced goes on as master at once (VIPs, then its advert); a fault still wins', () => {
  const h = harness({ version: 3, advertIntCs: 10, priority: 150 });
  h.m.start(undefined, true);
  assert.equal(h.m.state, 'MASTER');
  assert.deepEqual(h.take(), [
    { t: 0, kind: 'becomeMaster' },
    { t: 0, kind: 'advert', priority: 150, advertIntCs: 10 },
    { t: 0, kind: 'transition', from: 'INIT', to: 'MASTER', reason: 'resumed: the VRRP process was restarted while master' },
  ]);
  const f = harness({ version: 3, advertIntCs: 10, priority: 150 });
  f.m.setFault(true, 'interface eth0 down');
  f.m.start(undefined, true);
  assert.equal(f.m.state, 'FAULT');
});

test('the address owner starting as MASTER is master at once; below 255 state MASTER waits like BACKUP (keepalived 2.2.8)', () => {
  const owner = harness({ priority: 255, initialState: 'MASTER' });
  owner.m.start();
  assert.equal(owner.m.state, 'MASTER');
  assert.deepEqual(owner.take(), [
    { t: 0, kind: 'becomeMaster' },
    { t: 0, kind: 'advert', priority: 255, advertIntCs: 100 },
    { t: 0, kind: 'transition', from: 'INIT', to: 'MASTER', reason: 'address owner (priority 255)' },
  ]);
  // priority 255 but told to start as BACKUP: keepalived honours the state and runs the election
  const ownerBackup = harness({ priority: 255, initialState: 'BACKUP' });
  ownerBackup.m.start();
  assert.equal(ownerBackup.m.state, 'BACKUP');
  ownerBackup.clock.advance(3003.906);
  assert.equal(ownerBackup.m.state, 'MASTER');
  const wantsMaster = harness({ priority: 150, initialState: 'MASTER' });
  wantsMaster.m.start();
  assert.deepEqual(wantsMaster.transitions(), ['0 INIT->BACKUP']);
  wantsMaster.clock.advance(wantsMaster.m.masterDownIntervalMs);
  assert.equal(wantsMaster.m.state, 'MASTER');
  // start() acts once
  wantsMaster.m.start();
  assert.equal(wantsMaster.m.state, 'MASTER');
});

test('a master advertises every advert interval with its priority and interval', () => {
  const h = harness({ priority: 255, initialState: 'MASTER', version: 3, advertIntCs: 10 });
  h.m.start();
  h.clock.advance(450);
  assert.deepEqual(
    h.adverts().map(([t]) => t),
    [0, 100, 200, 300, 400],
  );
  assert.ok(h.events.filter((e) => e.kind === 'advert').every((e) => e.kind === 'advert' && e.advertIntCs === 10 && e.priority === 255));
  assert.equal(h.counters.advertSent, 5);
});

test('a higher-priority advert sends the master to BACKUP, which removes the VIPs', () => {
  const h = harness();
  becomeMasterByTimeout(h);
  const t0 = h.clock.now();
  h.clock.advance(500);
  h.m.onAdvert({ priority: 150, advertIntCs: 100, src: '10.99.0.11' });
  assert.equal(h.m.state, 'BACKUP');
  assert.deepEqual(h.take(), [
    { t: t0 + 500, kind: 'leaveMaster' },
    { t: t0 + 500, kind: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'Master received advert from 10.99.0.11 with higher priority 150, ours 100' },
  ]);
  assert.deepEqual(h.m.master, { address: '10.99.0.11', priority: 150 });
  assert.equal(h.counters.releaseMaster, 1);
  // no more adverts from us; the new master's silence brings us back after Master_Down_Interval
  h.clock.advance(3609.374);
  assert.deepEqual(h.adverts(), []);
  h.clock.advance(0.001);
  assert.equal(h.m.state, 'MASTER');
});

test('equal priority: the higher address wins, compared as numbers (IPv4 and IPv6)', () => {
  const cases: Array<{ local: string; src: string; wins: 'them' | 'us' }> = [
    { local: '10.99.0.12', src: '10.99.0.13', wins: 'them' },
    { local: '10.99.0.12', src: '10.99.0.11', wins: 'us' },
    // as text '10.0.0.9' > '10.0.0.10'; as numbers it is lower
    { local: '10.0.0.10', src: '10.0.0.9', wins: 'us' },
    { local: '10.0.0.9', src: '10.0.0.10', wins: 'them' },
    { local: 'fe80::12', src: 'fe80::9', wins: 'us' },
    { local: 'fe80::12', src: 'fe80::1:0', wins: 'them' },
    { local: '2001:db8::a', src: '2001:DB8::B', wins: 'them' },
  ];
  for (const c of cases) {
    const h = harness({ version: 3, localAddress: c.local });
    becomeMasterByTimeout(h);
    h.m.onAdvert({ priority: 100, advertIntCs: 100, src: c.src });
    if (c.wins === 'them') {
      assert.equal(h.m.state, 'BACKUP', `${c.src} beats ${c.local}`);
      assert.match(h.transitions()[0]!, /MASTER->BACKUP/);
      assert.match((h.events.find((e) => e.kind === 'transition') as { reason: string }).reason, /same priority 100 but higher IP address/);
    } else {
      assert.equal(h.m.state, 'MASTER', `${c.local} beats ${c.src}`);
      // the lower router hears from us at once
      assert.deepEqual(h.adverts(), [[h.clock.now(), 100]]);
    }
  }
});

test('a lower-priority advert makes the master advertise at once and restart its interval', () => {
  const h = harness({ priority: 255, initialState: 'MASTER' });
  h.m.start();
  h.clock.advance(1400);
  h.take();
  h.m.onAdvert({ priority: 100, advertIntCs: 100, src: '10.99.0.13' });
  assert.equal(h.m.state, 'MASTER');
  assert.deepEqual(h.take(), [
    { t: 1400, kind: 'advert', priority: 255, advertIntCs: 100 },
    { t: 1400, kind: 'rxLowerPriority', adv: { priority: 100, advertIntCs: 100, src: '10.99.0.13' } },
  ]);
  assert.match(h.notes.at(-1)!, /^\(VI_1\) Received advert from 10\.99\.0\.13 with lower priority 100, ours 255, forcing new election$/);
  // keepalived's dispatcher restarts the interval: the next advert is 1 s after this one, not at 2000
  h.clock.advance(999);
  assert.deepEqual(h.adverts(), []);
  h.clock.advance(1);
  assert.deepEqual(h.adverts(), [[2400, 255]]);
});

test('lower_prio_no_advert: the master stays quiet and keeps its cadence', () => {
  const h = harness({ priority: 255, initialState: 'MASTER', lowerPrioNoAdvert: true });
  h.m.start();
  h.clock.advance(1400);
  h.take();
  h.m.onAdvert({ priority: 100, advertIntCs: 100, src: '10.99.0.13' });
  assert.deepEqual(h.take(), [{ t: 1400, kind: 'rxLowerPriority', adv: { priority: 100, advertIntCs: 100, src: '10.99.0.13' } }]);
  h.clock.advance(600);
  assert.deepEqual(h.adverts(), [[2000, 255]]);
});

test('higher_prio_send_advert: the master advertises once more before it yields', () => {
  const h = harness({ higherPrioSendAdvert: true });
  becomeMasterByTimeout(h);
  h.m.onAdvert({ priority: 200, advertIntCs: 100, src: '10.99.0.11' });
  assert.deepEqual(
    h.take().map((e) => e.kind),
    ['advert', 'leaveMaster', 'transition'],
  );
  assert.equal(h.m.state, 'BACKUP');
});

test("a backup's timers count from the advert's arrival (at), not from when it was checked", () => {
  const h = harness({ version: 3, advertIntCs: 10 });
  h.m.start();
  h.clock.advance(50);
  // read at 49.7 ms, handed over after 0.3 ms of parsing and checks
  h.m.onAdvert({ priority: 150, advertIntCs: 10, src: '10.99.0.11', at: 49.7 });
  h.clock.advanceTo(49.7 + 360.936);
  assert.equal(h.m.state, 'BACKUP');
  h.clock.advanceTo(49.7 + 360.937);
  assert.equal(h.m.state, 'MASTER');
  // priority 0: Skew_Time from its arrival; an arrival stamped in the future (or NaN) counts from now
  const z = harness({ version: 3, advertIntCs: 10 });
  z.m.start();
  z.clock.advance(100);
  z.m.onAdvert({ priority: 0, advertIntCs: 10, src: '10.99.0.11', at: 99.5 });
  z.clock.advanceTo(99.5 + 60.936);
  assert.equal(z.m.state, 'BACKUP');
  z.clock.advanceTo(99.5 + 60.937);
  assert.equal(z.m.state, 'MASTER');
  const f = harness({ version: 3, advertIntCs: 10 });
  f.m.start();
  f.clock.advance(100);
  f.m.onAdvert({ priority: 150, advertIntCs: 10, src: '10.99.0.11', at: 150 });
  f.clock.advanceTo(100 + 360.936);
  assert.equal(f.m.state, 'BACKUP');
  f.m.onAdvert({ priority: 150, advertIntCs: 10, src: '10.99.0.11', at: Number.NaN });
  f.clock.advanceTo(100 + 360.936 + 360.936);
  assert.equal(f.m.state, 'BACKUP');
  f.clock.advanceTo(100 + 360.936 + 360.937);
  assert.equal(f.m.state, 'MASTER');
});

test('priority 0: a backup takes over after Skew_Time alone; a master answers at once', () => {
  const h = harness();
  h.m.start();
  h.clock.advance(1000);
  h.m.onAdvert({ priority: 150, advertIntCs: 100, src: '10.99.0.11' });
  h.clock.advance(500);
  h.m.onAdvert({ priority: 0, advertIntCs: 100, src: '10.99.0.11' });
  h.clock.advance(609.374);
  assert.equal(h.m.state, 'BACKUP');
  h.clock.advance(0.001);
  assert.equal(h.m.state, 'MASTER');
  assert.equal(h.clock.now(), 2109.375);
  assert.match((h.events.find((e) => e.kind === 'transition' && e.to === 'MASTER') as { reason: string }).reason, /priority 0.*Skew_Time 609\.375 ms/);
  h.take();
  h.clock.advance(300);
  h.m.onAdvert({ priority: 0, advertIntCs: 100, src: '10.99.0.13' });
  assert.equal(h.m.state, 'MASTER');
  assert.deepEqual(h.adverts(), [[2409.375, 100]]);
});

test("v3: a backup adopts the master's advert interval; as master it goes back to its own", () => {
  const h = harness({ version: 3, advertIntCs: 100 });
  h.m.start();
  h.m.onAdvert({ priority: 150, advertIntCs: 10, src: '10.99.0.11' });
  assert.equal(h.m.masterAdvertIntCs, 10);
  assert.equal(h.m.masterDownIntervalMs, 360.937);
  assert.match(h.notes.at(-1)!, /advertisement interval updated from 1000ms to 100ms by master/);
  h.clock.advance(360.937);
  assert.equal(h.m.state, 'MASTER');
  assert.equal(h.m.masterAdvertIntCs, 100);
  assert.deepEqual(
    h.events.filter((e) => e.kind === 'advert'),
    [{ t: 360.937, kind: 'advert', priority: 100, advertIntCs: 100 }],
  );
  // a demoted v3 master times the new master by the new master's interval
  h.m.onAdvert({ priority: 200, advertIntCs: 50, src: '10.99.0.11' });
  assert.equal(h.m.state, 'BACKUP');
  assert.equal(h.m.masterAdvertIntCs, 50);
  // v2 never adopts (a mismatch does not even pass the checks)
  const v2 = harness();
  v2.m.start();
  v2.m.onAdvert({ priority: 150, advertIntCs: 300, src: '10.99.0.11' });
  assert.equal(v2.m.masterAdvertIntCs, 100);
  assert.equal(v2.m.masterDownIntervalMs, 3609.375);
});

/** a master at `priority` advertising every second from `from` to `to` (ms) */
function feed(h: ReturnType<typeof harness>, priority: number, from: number, to: number, src = '10.99.0.11'): void {
  for (let t = from; t <= to; t += 1000) {
    h.clock.advanceTo(t);
    h.m.onAdvert({ priority, advertIntCs: 100, src });
  }
}

test('preempt: a lower-priority master is ignored and replaced when the down timer runs out; nopreempt follows it', () => {
  const pre = harness({ priority: 150 });
  pre.m.start();
  feed(pre, 100, 1000, 3000);
  // 3000 + 106/256 s = 3414.062 ms from the start, adverts or not
  pre.clock.advanceTo(3414.061);
  assert.equal(pre.m.state, 'BACKUP');
  pre.clock.advanceTo(3414.062);
  assert.equal(pre.m.state, 'MASTER');
  assert.match(pre.notes[0]!, /received lower priority \(100\) advert from 10\.99\.0\.11 - discarding/);
  assert.deepEqual(pre.m.master, { address: '10.99.0.11', priority: 100 });

  const nopre = harness({ priority: 150, preempt: false });
  nopre.m.start();
  feed(nopre, 100, 1000, 10000);
  assert.equal(nopre.m.state, 'BACKUP');
  nopre.clock.advanceTo(13414.061);
  assert.equal(nopre.m.state, 'BACKUP');
  nopre.clock.advanceTo(13414.062);
  assert.equal(nopre.m.state, 'MASTER');
});

test('nopreempt does not apply to the address owner or to state MASTER (keepalived clears it)', () => {
  const h = harness({ priority: 255, initialState: 'BACKUP', preempt: false });
  h.m.start();
  feed(h, 100, 1000, 3000);
  h.clock.advanceTo(3003.906);
  assert.equal(h.m.state, 'MASTER');
  const m = harness({ priority: 150, initialState: 'MASTER', preempt: false, preemptDelayMs: 60_000 });
  m.m.start();
  feed(m, 100, 1000, 3000);
  m.clock.advanceTo(3414.062);
  assert.equal(m.m.state, 'MASTER');
});

test('preempt_delay: counted from the first lower-priority advert; until then such a master is followed', () => {
  const h = harness({ priority: 150, preemptDelayMs: 5000 });
  h.m.start();
  feed(h, 100, 1000, 12000);
  // delay started at 1000, so adverts up to 5000 reset the timer; from 6000 on they are ignored
  assert.match(h.notes.join('\n'), /start preempt delay \(5\)/);
  assert.deepEqual(h.transitions(), ['0 INIT->BACKUP', '8414.062 BACKUP->MASTER']);
  // a higher-priority advert stops the delay: it starts again from the next lower one
  const g = harness({ priority: 150, preemptDelayMs: 5000 });
  g.m.start();
  feed(g, 100, 1000, 3000);
  g.clock.advanceTo(3500);
  g.m.onAdvert({ priority: 200, advertIntCs: 100, src: '10.99.0.13' });
  assert.match(g.notes.at(-1)!, /stop preempt delay/);
  feed(g, 100, 4000, 20000);
  // restarted at 4000: adverts to 8000 followed, from 9000 ignored, master at 8000 + 3414.062
  assert.deepEqual(g.transitions(), ['0 INIT->BACKUP', '11414.062 BACKUP->MASTER']);
});

test("setPriority moves a backup's running timer by the change in its length", () => {
  const h = harness();
  h.m.start();
  h.clock.advance(1000);
  // 200: skew 56/256 s = 218.75 ms; deadline 3609.375 -> 3218.75
  h.m.setPriority(200);
  assert.equal(h.m.priority, 200);
  assert.equal(h.m.masterDownIntervalMs, 3218.75);
  h.clock.advanceTo(3218.749);
  assert.equal(h.m.state, 'BACKUP');
  h.clock.advanceTo(3218.75);
  assert.equal(h.m.state, 'MASTER');

  // lowering it pushes the deadline out
  const l = harness();
  l.m.start();
  l.m.setPriority(1);
  l.clock.advanceTo(3609.375);
  assert.equal(l.m.state, 'BACKUP');
  l.clock.advanceTo(3996.093);
  assert.equal(l.m.state, 'MASTER');

  // during the Skew_Time after a priority-0 advert, the skew is what moves
  const s = harness();
  s.m.start();
  s.clock.advance(100);
  s.m.onAdvert({ priority: 0, advertIntCs: 100, src: '10.99.0.11' });
  s.m.setPriority(200);
  s.clock.advanceTo(318.749);
  assert.equal(s.m.state, 'BACKUP');
  s.clock.advanceTo(318.75);
  assert.equal(s.m.state, 'MASTER');

  // a change that puts the deadline in the past fires at once
  const p = harness({ priority: 1 });
  p.m.start();
  p.clock.advance(3500);
  p.m.setPriority(254);
  assert.equal(p.m.state, 'BACKUP');
  p.clock.advance(0);
  assert.equal(p.m.state, 'MASTER');

  assert.throws(() => p.m.setPriority(0), /priority must be an integer in 1\.\.255/);
});

test('a master whose priority falls keeps advertising, with the new priority, until a better router takes over', () => {
  const h = harness({ priority: 200 });
  becomeMasterByTimeout(h);
  h.m.setPriority(50);
  assert.equal(h.m.state, 'MASTER');
  h.clock.advance(2000);
  assert.deepEqual(
    h.adverts().map(([, p]) => p),
    [50, 50],
  );
  h.m.onAdvert({ priority: 100, advertIntCs: 100, src: '10.99.0.11' });
  assert.equal(h.m.state, 'BACKUP');
});

test('fault in master: priority 0 first, then the VIPs go; no adverts or takeovers in FAULT; clearing it goes to BACKUP', () => {
  const h = harness();
  becomeMasterByTimeout(h);
  const t = h.clock.now();
  h.m.setFault(true, 'interface eth0 down');
  assert.equal(h.m.state, 'FAULT');
  assert.deepEqual(h.take(), [
    { t, kind: 'advert', priority: 0, advertIntCs: 100 },
    { t, kind: 'leaveMaster' },
    { t, kind: 'transition', from: 'MASTER', to: 'FAULT', reason: 'interface eth0 down' },
  ]);
  assert.equal(h.counters.priZeroSent, 1);
  assert.equal(h.counters.releaseMaster, 1);
  h.m.onAdvert({ priority: 50, advertIntCs: 100, src: '10.99.0.11' });
  h.clock.advance(60_000);
  assert.deepEqual(h.take(), []);
  assert.equal(h.clock.pending, 0);
  h.m.setFault(true, 'again');
  assert.deepEqual(h.take(), []);
  h.m.setFault(false, 'interface eth0 up');
  assert.equal(h.m.state, 'BACKUP');
  assert.deepEqual(h.take(), [{ t: t + 60_000, kind: 'transition', from: 'FAULT', to: 'BACKUP', reason: 'interface eth0 up' }]);
  h.clock.advance(3609.375);
  assert.equal(h.m.state, 'MASTER');
});

test('fault in backup, and a fault set before start', () => {
  const h = harness();
  h.m.start();
  h.m.setFault(true, 'track_script chk down');
  assert.deepEqual(h.transitions(), ['0 INIT->BACKUP', '0 BACKUP->FAULT']);
  assert.deepEqual(h.adverts(), []);
  h.clock.advance(10_000);
  assert.equal(h.m.state, 'FAULT');
  const early = harness({ priority: 255, initialState: 'MASTER' });
  early.m.setFault(true, 'interface missing');
  early.m.start();
  assert.equal(early.m.state, 'FAULT');
  assert.deepEqual(early.transitions(), ['0 INIT->FAULT']);
  // keepalived brings even the owner back through BACKUP
  early.m.setFault(false, 'interface up');
  assert.equal(early.m.state, 'BACKUP');
  early.clock.advance(3003.906);
  assert.equal(early.m.state, 'MASTER');
});

test('stop(): a master sends one priority-0 advert and leaves master; a second stop does nothing', () => {
  const h = harness();
  becomeMasterByTimeout(h);
  const t = h.clock.now();
  h.m.stop();
  assert.equal(h.m.state, 'STOP');
  assert.deepEqual(h.take(), [
    { t, kind: 'advert', priority: 0, advertIntCs: 100 },
    { t, kind: 'leaveMaster' },
    { t, kind: 'transition', from: 'MASTER', to: 'STOP', reason: 'stopped' },
  ]);
  h.m.stop();
  h.m.onAdvert({ priority: 50, advertIntCs: 100, src: '10.99.0.11' });
  h.m.setFault(true, 'x');
  h.m.setFault(false, 'y');
  h.m.setPriority(120);
  h.clock.advance(10_000);
  assert.deepEqual(h.take(), []);
  assert.equal(h.clock.pending, 0);
  assert.equal(h.counters.priZeroSent, 1);
  // a backup just stops
  const b = harness();
  b.m.start();
  b.m.stop('shutdown');
  assert.deepEqual(b.transitions(), ['0 INIT->BACKUP', '0 BACKUP->STOP']);
  assert.deepEqual(b.adverts(), []);
  assert.equal(b.clock.pending, 0);
});

test('two address owners: the one that hears the other lowers itself to 254 and yields', () => {
  const h = harness({ priority: 255, initialState: 'MASTER', localAddress: '10.99.0.12' });
  h.m.start();
  h.take();
  h.m.onAdvert({ priority: 255, advertIntCs: 100, src: '10.99.0.11' });
  assert.equal(h.m.priority, 254);
  assert.equal(h.m.state, 'BACKUP');
  assert.match(h.notes.join('\n'), /CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner/);
});

test('adverts outside BACKUP and MASTER are ignored', () => {
  const h = harness();
  h.m.onAdvert({ priority: 0, advertIntCs: 100, src: '10.99.0.11' });
  assert.equal(h.m.state, 'INIT');
  assert.deepEqual(h.take(), []);
});

test('effects that call back into the machine see a consistent state', () => {
  // a daemon that stops the instance while it announces mastership
  const h: ReturnType<typeof harness> = harness({ priority: 255, initialState: 'MASTER' }, { becomeMaster: () => h.m.stop('shutdown during takeover') });
  h.m.start();
  assert.equal(h.m.state, 'STOP');
  assert.deepEqual(
    h.take().map((e) => (e.kind === 'advert' ? `advert ${e.priority}` : e.kind === 'transition' ? `${e.from}->${e.to}` : e.kind)),
    // stopped before its first advert: the priority-0 advert is the only one
    ['becomeMaster', 'advert 0', 'leaveMaster', 'MASTER->STOP'],
  );
  assert.equal(h.clock.pending, 0);
});

test('counters: become master, release master, adverts sent, priority 0 sent', () => {
  const h = harness();
  becomeMasterByTimeout(h);
  h.clock.advance(2000);
  h.m.onAdvert({ priority: 150, advertIntCs: 100, src: '10.99.0.11' });
  h.clock.advance(3609.375);
  h.m.stop();
  const c: VrrpCounters = h.counters;
  assert.equal(c.becomeMaster, 2);
  assert.equal(c.releaseMaster, 1);
  // 1 on takeover + 2 in 2 s, 1 on the second takeover, 1 priority 0
  assert.equal(c.advertSent, 5);
  assert.equal(c.priZeroSent, 1);
});

test('the options keepalived would refuse are refused', () => {
  assert.throws(() => harness({ priority: 0 }), /priority must be an integer in 1\.\.255/);
  assert.throws(() => harness({ advertIntCs: 0 }), /advert interval/);
  assert.throws(() => harness({ downTimerAdverts: 101 }), /down timer adverts/);
  assert.throws(() => harness({ preemptDelayMs: -1 }), /preempt delay/);
});

// ---------------------------------------------------------------------------
// two machines on one simulated link, through the codec

test('two routers on a wire: election, steady state, and takeover after SIGTERM at Skew_Time', () => {
  const clock = new FakeClock();
  type Node = { m: VrrpMachine; counters: VrrpCounters; address: string; log: string[] };
  const nodes: Node[] = [];
  const make = (address: string, priority: number): Node => {
    const counters = newCounters();
    const node: Node = { m: undefined as unknown as VrrpMachine, counters, address, log: [] };
    node.m = new VrrpMachine(
      { name: 'VI_1', version: 3, priority, advertIntCs: 10, initialState: 'BACKUP', preempt: true, preemptDelayMs: 0, localAddress: address, clock },
      {
        sendAdvert: (prio, intCs) => {
          const payload = encodeAdvert({
            version: 3,
            family: 4,
            vrid: 51,
            priority: prio,
            advertIntCs: intCs,
            addresses: ['10.99.0.99'],
            src: address,
            dst: '224.0.0.18',
          });
          for (const other of nodes) {
            if (other === node) continue;
            const out = checkAdvert(
              { family: 4, src: address, dst: '224.0.0.18', ttl: 255, payload },
              { name: 'VI_1', version: 3, family: 4, vrid: 51, advertIntCs: 10, addresses: ['10.99.0.99'], unicast: false },
              other.counters,
            );
            assert.ok(out.ok, out.ok ? '' : out.reason);
            // delivered after the current call returns, as a socket would
            clock.setTimer(0, () => other.m.onAdvert({ priority: out.advert.priority, advertIntCs: out.advert.advertIntCs, src: address }));
          }
        },
        becomeMaster: () => node.log.push(`${clock.now()} +vip`),
        leaveMaster: () => node.log.push(`${clock.now()} -vip`),
        transition: (from, to) => node.log.push(`${clock.now()} ${from}->${to}`),
      },
      counters,
    );
    nodes.push(node);
    return node;
  };
  const n1 = make('10.99.0.11', 101);
  const n2 = make('10.99.0.12', 100);
  n1.m.start();
  n2.m.start();
  // n1's down timer (300 + 60.546 ms) runs out first; its advert holds n2 in BACKUP
  clock.advance(2000);
  assert.equal(n1.m.state, 'MASTER');
  assert.equal(n2.m.state, 'BACKUP');
  assert.deepEqual(n1.log, ['0 INIT->BACKUP', '360.546 +vip', '360.546 BACKUP->MASTER']);
  assert.deepEqual(n2.m.master, { address: '10.99.0.11', priority: 101 });
  n1.m.stop();
  clock.advance(0);
  // n2 heard priority 0: Skew_Time 60.937 ms later it is master
  clock.advance(60.936);
  assert.equal(n2.m.state, 'BACKUP');
  clock.advance(0.001);
  assert.equal(n2.m.state, 'MASTER');
  assert.equal(n2.counters.priZeroRcvd, 1);
  assert.ok(n2.counters.advertRcvd > 10);
});
