import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_PLUGINS } from '../../core/plugin/builtins';
import { currentHooks } from '../../core/plugin/hooks';
import { block, oneOf, trackerHeader, trackReference, word, type AlivedPlugin, type TrackerChangeEvent } from '../../core/sdk';
import { TrackerService, type TrackerChange } from '../../core/track/service';
import { compileText, noErrors, tmpDir, type Compiled } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * The tracker service with the built-in trackers on real scripts and
 * files, and third-party tracker plugins that break their contract: which
 * blocks run, what it passes on, what a reload keeps, and that a broken
 * plugin is logged and counted as down while the others go on. Real
 * seconds: vrrp_script intervals of 1 s.
 */

const dir = tmpDir('alived-track-service-');
fs.chmodSync(dir, 0o755);
let seq = 0;
const file = (name: string): string => path.join(dir, `${++seq}-${name}`);

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (f: string): string[] => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);
function trailing(ls: readonly string[], v: string): number {
  let n = 0;
  for (let i = ls.length - 1; i >= 0 && ls[i] === v; i--) n++;
  return n;
}

/** A script whose exit status is the number in `rc`; each run appends its status to `runs`. */
function statusScript(initial: number): { rc: string; runs: string; path: string } {
  const rc = file('rc');
  const runs = file('runs');
  fs.writeFileSync(rc, `${initial}\n`);
  const p = file('status.sh');
  fs.writeFileSync(p, `#!/bin/sh\ns=$(cat ${rc}); echo $s >> ${runs}; exit $s\n`, { mode: 0o755 });
  return { rc, runs, path: p };
}

const vi = (tracks: string, name = 'VI_1', vrid = 51) =>
  `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n  priority 100\n  virtual_ipaddress {\n    192.168.1.${vrid}/24\n  }\n${tracks}}\n`;

// ---------------------------------------------------------------------------
// a third-party tracker plugin that breaks its contract in the way its block says

type Mode = 'ok' | 'create-throws' | 'start-throws' | 'not-boolean' | 'nan' | 'stop-throws' | 'stop-hangs' | 'no-object';

const misbehaving: AlivedPlugin = {
  name: 'acme-misbehaving',
  version: '1.0.0',
  apply(api) {
    api.registerTracker({
      keyword: 'acme_track',
      schema: block(
        { mode: word(oneOf(['ok', 'create-throws', 'start-throws', 'not-boolean', 'nan', 'stop-throws', 'stop-hangs', 'no-object'])).required() },
        { header: trackerHeader, defines: { kind: 'acme_track', name: (v: { name: string }) => v.name } },
      ),
      defines: 'acme_track',
      reference: {
        keyword: 'track_acme',
        entry: trackReference({ kind: 'track_acme', describe: '<NAME>', refersTo: 'acme_track', weight: { min: -253, max: 253 }, wording: 'plugin' }),
      },
      create(config: { mode: Mode }) {
        if (config.mode === 'create-throws') throw new Error('no licence key');
        if (config.mode === 'no-object') return undefined as never;
        return {
          start(report) {
            if (config.mode === 'start-throws') throw new TypeError('cannot read properties of undefined');
            if (config.mode === 'not-boolean') {
              report({ up: 'yes' } as never);
              setTimeout(() => report({ up: true }), 50);
              return;
            }
            if (config.mode === 'nan') return report({ up: true, value: NaN });
            report({ up: true });
          },
          stop() {
            if (config.mode === 'stop-throws') throw new Error('already closed');
            if (config.mode === 'stop-hangs') return new Promise<void>(() => {});
          },
        };
      },
    });
  },
};

interface Run {
  service: TrackerService;
  changes: TrackerChange[];
  hookEvents: TrackerChangeEvent[];
  records: ReturnType<typeof memoryLogger>['records'];
  compiled: Compiled;
}

const services: TrackerService[] = [];
after(async () => {
  for (const s of services) await s.stop();
});

async function compile(text: string): Promise<Compiled> {
  const r = await compileText(text, {}, { builtins: [...BUILTIN_PLUGINS, misbehaving] });
  noErrors(r);
  // the daemon runs configLoaded before it starts trackers: plugins read global_defs there
  await r.pluginHost.hooks.configLoaded.promise(r.model!);
  return r;
}

function tapHook(r: Compiled, into: TrackerChangeEvent[]): void {
  r.pluginHost.hooks.trackerChange.tap('test', (e) => {
    into.push(e);
  });
}

async function startService(text: string, opts: { stopTimeoutMs?: number; onChangeThrows?: boolean } = {}): Promise<Run> {
  const compiled = await compile(text);
  const { log, records } = memoryLogger('debug');
  const changes: TrackerChange[] = [];
  const hookEvents: TrackerChangeEvent[] = [];
  tapHook(compiled, hookEvents);
  const run = { compiled } as Run;
  const service = new TrackerService({
    log,
    // as the daemon's: one hooks object whose hooks are those of the config running now (reload() below moves it)
    hooks: currentHooks(() => run.compiled.pluginHost.hooks),
    stopTimeoutMs: opts.stopTimeoutMs,
    onChange: (c) => {
      changes.push(c);
      if (opts.onChangeThrows) throw new Error('handler bug');
    },
  });
  services.push(service);
  service.start(compiled.model!, compiled.pluginHost);
  return Object.assign(run, { service, changes, hookEvents, records });
}

/** reloads the service with `next`, whose plugin host's hooks are then the ones that fire */
async function reload(r: Run, next: Compiled): Promise<void> {
  r.compiled = next;
  await r.service.reload(next.model!, next.pluginHost);
}

const find = (cs: readonly TrackerChange[], type: string, name: string) => cs.filter((c) => c.type === type && c.name === name);

test('the referenced trackers run, vrrp_track_file as track_file; an unreferenced vrrp_script never runs', async () => {
  const s = statusScript(0);
  const unusedRan = file('unused-ran');
  const tf = file('tf');
  const old = file('old');
  fs.writeFileSync(old, '3\n');
  const r = await startService(`
vrrp_script chk {
  script ${s.path}
  weight 20
}
vrrp_script unused {
  script "/bin/sh -c 'touch ${unusedRan}'"
}
track_file tf {
  file ${tf}
  weight -10
}
vrrp_track_file old {
  file ${old}
}
${vi('  track_script {\n    chk\n  }\n  track_file {\n    tf\n  }\n')}
${vi('  track_file {\n    old weight 2\n  }\n', 'VI_2', 52)}
`);
  assert.ok(await waitUntil(() => find(r.changes, 'vrrp_script', 'chk').length === 1, 3000));
  assert.deepEqual(
    r.changes.map(({ time, ...c }) => c).sort((a, b) => a.name.localeCompare(b.name)),
    [
      { type: 'vrrp_script', name: 'chk', plugin: 'track-script', up: true },
      { type: 'track_file', name: 'old', plugin: 'track-file', up: true, value: 3 },
      { type: 'track_file', name: 'tf', plugin: 'track-file', up: true, value: 0 },
    ],
  );
  assert.ok(r.changes.every((c) => typeof c.time === 'number' && Math.abs(c.time - Date.now()) < 5000));
  const states = r.service
    .states()
    .map(({ since, ...st }) => st)
    .sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(states, [
    { type: 'vrrp_script', name: 'chk', plugin: 'track-script', up: true, message: 'exit 0' },
    { type: 'track_file', name: 'old', plugin: 'track-file', up: true, value: 3 },
    { type: 'track_file', name: 'tf', plugin: 'track-file', up: true, value: 0 },
  ]);
  // the hook: the weight each now adds with its block's own weight
  const hook = Object.fromEntries(r.hookEvents.map((e) => [e.name, e.weight]));
  assert.deepEqual(hook, { chk: 20, tf: 0, old: 3 });
  fs.writeFileSync(tf, '30\n');
  assert.ok(await waitUntil(() => r.hookEvents.some((e) => e.name === 'tf' && e.up === false), 3000), 'tf: 30 x -10 = -300 is FAULT');
  assert.equal(r.hookEvents.find((e) => e.name === 'tf' && e.up === false)!.weight, 0);
  await sleep(1200);
  assert.equal(fs.existsSync(unusedRan), false, 'keepalived frees a script nobody tracks');
  assert.ok(r.records.some((x) => x.msg === 'vrrp_script unused is not tracked by any vrrp_instance or vrrp_sync_group; not run'));
  await r.service.stop();
  assert.deepEqual(r.service.states(), []);
});

test('a tracker referenced only by a sync group runs', async () => {
  const s = statusScript(1);
  const r = await startService(`
vrrp_script grp {
  script ${s.path}
}
${vi('')}
${vi('', 'VI_2', 52)}
vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
  track_script {
    grp
  }
}
`);
  assert.ok(await waitUntil(() => r.changes.length === 1, 3000));
  assert.deepEqual(
    r.changes.map(({ time, ...c }) => c),
    [{ type: 'vrrp_script', name: 'grp', plugin: 'track-script', up: false }],
  );
  await r.service.stop();
});

test('reload: an unchanged vrrp_script keeps running with its fall count and reports nothing; a changed one restarts with its state; a removed one stops', async () => {
  const s = statusScript(0);
  const gone = statusScript(0);
  const tf = file('tf');
  const config = (extra: string, interval: number, withGone: boolean) => `${extra}
vrrp_script chk {
  script ${s.path}
  fall 3
}
vrrp_script other {
  script ${gone.path}
  interval ${interval}
}
track_file tf {
  file ${tf}
}
${vi(`  track_script {\n    chk\n${withGone ? '    other\n' : ''}  }\n  track_file {\n    tf\n  }\n`)}
`;
  const r = await startService(config('', 1, true));
  assert.ok(await waitUntil(() => r.changes.length === 3, 3000));
  fs.writeFileSync(s.rc, '1\n');
  assert.ok(await waitUntil(() => trailing(lines(s.runs), '1') === 2, 4000), 'two failures: still OK with fall 3');
  assert.equal(find(r.changes, 'vrrp_script', 'chk').length, 1);
  const runsBefore = lines(s.runs).length;

  // the same blocks written elsewhere in the file: positions differ, the trackers are the same
  const again = await compile(config('# moved\n\n\n', 1, true));
  tapHook(again, r.hookEvents);
  await reload(r, again);
  await sleep(100);
  assert.equal(lines(s.runs).length, runsBefore, 'not restarted: a new tracker would run at once');
  assert.equal(r.changes.length, 3, 'nothing re-reported');
  assert.ok(await waitUntil(() => find(r.changes, 'vrrp_script', 'chk').length === 2, 3000), 'the third failure is KO');
  const ko = find(r.changes, 'vrrp_script', 'chk')[1]!;
  assert.equal(ko.up, false);
  assert.equal(trailing(lines(s.runs), '1'), 3, 'the count went on across the reload');

  // `other` changes interval: restarted, its OK carried over (no report); tf unchanged
  const otherRuns = lines(gone.runs).length;
  const changed = await compile(config('', 2, true));
  await reload(r, changed);
  assert.ok(await waitUntil(() => lines(gone.runs).length > otherRuns, 1000), 'a restarted script runs at once');
  await sleep(100);
  assert.equal(find(r.changes, 'vrrp_script', 'other').length, 1, 'same state: no report');
  assert.ok(r.records.some((x) => x.msg === "vrrp_script other (plugin 'track-script'): changed; restarted"));

  // `other` no longer referenced: stopped
  const removed = await compile(config('', 2, false));
  await reload(r, removed);
  const stoppedAt = lines(gone.runs).length;
  await sleep(2500);
  assert.equal(lines(gone.runs).length, stoppedAt, 'a tracker nobody references stops');
  assert.deepEqual(
    r.service
      .states()
      .map((st) => st.name)
      .sort(),
    ['chk', 'tf'],
  );
  await r.service.stop();
});

test('a tracker plugin that throws or reports garbage is logged with its plugin and tracker, counts as down, and the others go on', async () => {
  const s = statusScript(0);
  const r = await startService(
    `
acme_track c1 {
  mode create-throws
}
acme_track c2 {
  mode start-throws
}
acme_track c3 {
  mode not-boolean
}
acme_track c4 {
  mode nan
}
acme_track c5 {
  mode stop-throws
}
acme_track c6 {
  mode stop-hangs
}
acme_track c7 {
  mode no-object
}
vrrp_script chk {
  script ${s.path}
}
${vi('  track_acme {\n    c1\n    c2\n    c3\n    c4\n    c5\n    c6\n    c7\n  }\n  track_script {\n    chk\n  }\n')}
`,
    { stopTimeoutMs: 300, onChangeThrows: true },
  );
  assert.ok(await waitUntil(() => find(r.changes, 'vrrp_script', 'chk').length === 1, 3000), 'the built-in tracker still works');
  assert.ok(await waitUntil(() => find(r.changes, 'acme_track', 'c3').length === 2, 2000));
  const byName = (n: string) => find(r.changes, 'acme_track', n).map((c) => c.up);
  assert.deepEqual(byName('c1'), [false]);
  assert.deepEqual(byName('c2'), [false]);
  assert.deepEqual(byName('c3'), [false, true], 'garbage is down; a good report after it counts');
  assert.deepEqual(byName('c4'), [false]);
  assert.deepEqual(byName('c5'), [true]);
  assert.deepEqual(byName('c7'), [false]);
  const said = (re: RegExp) => {
    const failed = r.records.filter((x) => x.fields.code === 'ALIVED_TRACKER_FAILED');
    assert.ok(
      failed.some((x) => re.test(x.msg)),
      `${re} in\n${failed.map((x) => x.msg).join('\n')}`,
    );
  };
  said(/^acme_track c1 \(plugin 'acme-misbehaving'\): create\(\) failed: no licence key; counted as down$/);
  said(/^acme_track c2 \(plugin 'acme-misbehaving'\): start\(\) failed: cannot read properties of undefined; counted as down$/);
  said(/^acme_track c3 \(plugin 'acme-misbehaving'\) reported a state whose 'up' is not a boolean; counted as down$/);
  said(/^acme_track c4 \(plugin 'acme-misbehaving'\) reported a state whose 'value' is not a finite number; counted as down$/);
  said(/^acme_track c7 \(plugin 'acme-misbehaving'\): create\(\) failed: create\(\) returned no \{ start\(report\), stop\(\) \} object; counted as down$/);
  assert.ok(r.records.some((x) => x.msg === "acme_track c1 (plugin 'acme-misbehaving'): the tracker change handler threw"));
  const t0 = Date.now();
  await r.service.stop();
  assert.ok(Date.now() - t0 < 2000, 'a stop() that hangs is given up on');
  said(/^acme_track c5 \(plugin 'acme-misbehaving'\): already closed$/);
  said(/^acme_track c6 \(plugin 'acme-misbehaving'\): stop\(\) did not finish within 300 ms$/);
});

test('a vrrp_script that cannot run is disabled: one change with the reason, a state that says so, and a reload tries it again', async () => {
  const cfg = (user: string) => `
vrrp_script chk {
  script /bin/true
  user ${user}
}
${vi('  track_script {\n    chk\n  }\n')}
`;
  const r = await startService(cfg('no-such-user-alived'));
  assert.ok(await waitUntil(() => r.changes.length === 1, 3000));
  const c = r.changes[0]!;
  assert.equal(c.up, false);
  assert.match(c.disabled!, /user 'no-such-user-alived' does not exist/);
  assert.equal(r.service.states()[0]!.disabled, c.disabled);
  assert.ok(
    r.records.some(
      (x) =>
        x.fields.code === 'ALIVED_TRACKER_DISABLED' &&
        x.msg.startsWith("Disabling vrrp_script chk (plugin 'track-script'): script '/bin/true': user 'no-such-user-alived' does not exist"),
    ),
  );
  assert.equal(r.hookEvents.length, 0, 'a disabled tracker is no tracker state');

  const fixed = await compile(cfg('root'));
  await reload(r, fixed);
  assert.ok(await waitUntil(() => r.changes.length === 2, 3000));
  assert.deepEqual(r.changes.map(({ time, ...x }) => x)[1], { type: 'vrrp_script', name: 'chk', plugin: 'track-script', up: true });
  await r.service.stop();
});

test(
  'reload: a change of global script_user or enable_script_security restarts the scripts (with their state), since they run differently',
  { skip: process.getuid?.() === 0 ? false : 'needs root to change user' },
  async () => {
    const out = path.join(dir, `${++seq}-ids`);
    fs.mkdirSync(out, { mode: 0o777 });
    fs.chmodSync(out, 0o777);
    const idFile = path.join(out, 'uid');
    const cfg = (globals: string) => `${globals}
vrrp_script chk {
  script "/bin/sh -c 'id -u > ${idFile}'"
}
${vi('  track_script {\n    chk\n  }\n')}
`;
    const r = await startService(cfg(''));
    assert.ok(await waitUntil(() => r.changes.length === 1 && fs.existsSync(idFile), 3000));
    assert.equal(fs.readFileSync(idFile, 'utf8').trim(), '0');
    fs.rmSync(idFile);
    const next = await compile(cfg('global_defs {\n  script_user nobody\n}\n'));
    await reload(r, next);
    assert.ok(await waitUntil(() => fs.existsSync(idFile) && fs.readFileSync(idFile, 'utf8').trim() !== '', 2000));
    assert.equal(fs.readFileSync(idFile, 'utf8').trim(), execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    assert.equal(r.changes.length, 1, 'still OK: nothing re-reported');
    await r.service.stop();
  },
);
