import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createScriptTracker, ScriptResult, type ScriptTrackerOptions, type VrrpScriptConfig } from '../../plugins/track-script';
import type { Tracker, TrackerContext, TrackerState } from '../../core/sdk';
import { compileText, instance, noErrors, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * vrrp_script with real scripts in a temp dir: rise/fall counted as
 * keepalived counts them, the init state and init_fail, the timeout that
 * kills the whole process group (no process of it survives, no zombie is
 * left), a script that leaves a background child, runs never doubled, the
 * user, and a script that cannot run disabled. Counting tests run on a
 * short second (100 ms: interval 2 is 200 ms); the timeout tests on real
 * seconds.
 */

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('test/plugins/track-script needs root: running scripts as nobody cannot be tested otherwise');
const needsRoot = isRoot ? false : 'needs root to change user (CI runs as root)';

const dir = tmpDir('alived-track-script-');
// scripts run as nobody must reach their files
fs.chmodSync(dir, 0o777);
let seq = 0;
const file = (name: string): string => path.join(dir, `${++seq}-${name}`);

function shellScript(body: string): string {
  const f = file('script.sh');
  fs.writeFileSync(f, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return f;
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the vrrp_script block as the config compiles it: the script line quoted and split as keepalived does */
async function scriptConfig(body: string, globals = ''): Promise<VrrpScriptConfig> {
  const r = await compileText(`${globals}vrrp_script chk {\n${body}\n}\n${instance('  track_script {\n    chk\n  }\n')}`);
  noErrors(r);
  const ext = r.model!.extensions.find((e) => e.keyword === 'vrrp_script')!;
  return ext.value as VrrpScriptConfig;
}

interface Running {
  tracker: Tracker;
  /** the states it reported, each change once (as the tracker service takes them: a message alone is no change) */
  reports: TrackerState[];
  /** the message of every report: each run's words */
  messages: string[];
  /** the lines the script's runs wrote to `runs`, at each report */
  linesAtReport: string[][];
  disabled: string[];
  records: ReturnType<typeof memoryLogger>['records'];
}

const trackers: Tracker[] = [];
after(async () => {
  for (const t of trackers) await t.stop();
});

function start(config: VrrpScriptConfig, opts: ScriptTrackerOptions & { runs?: string; previous?: TrackerState; reload?: boolean } = {}): Running {
  const { log, records } = memoryLogger('debug');
  const disabled: string[] = [];
  const ctx: TrackerContext = {
    log,
    name: config.name,
    reload: opts.reload ?? false,
    ...(opts.previous ? { previous: opts.previous } : {}),
    disable: (why) => disabled.push(why),
  };
  const tracker = createScriptTracker(config, ctx, { secondMs: 100, ...opts });
  trackers.push(tracker);
  const reports: TrackerState[] = [];
  const messages: string[] = [];
  const linesAtReport: string[][] = [];
  tracker.start(({ message, ...state }) => {
    if (message !== undefined) messages.push(message);
    const last = reports[reports.length - 1];
    if (last && last.up === state.up && last.value === state.value) return;
    reports.push(state);
    linesAtReport.push(opts.runs ? lines(opts.runs) : []);
  });
  return { tracker, reports, messages, linesAtReport, disabled, records };
}

const lines = (f: string): string[] => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

/** how many of the last lines equal `v` */
function trailing(ls: readonly string[], v: string): number {
  let n = 0;
  for (let i = ls.length - 1; i >= 0 && ls[i] === v; i--) n++;
  return n;
}

/** A script whose exit status is the number in `rc`; each run appends its status to `runs`. */
function statusScript(initial: number): { rc: string; runs: string; line: string } {
  const rc = file('rc');
  const runs = file('runs');
  fs.writeFileSync(rc, `${initial}\n`);
  const sh = shellScript(`s=$(cat ${rc}); echo $s >> ${runs}; exit $s`);
  return { rc, runs, line: `script ${sh}` };
}

/** processes of process group `pgid` in the process table; `alive`: leave out zombies */
function groupMembers(pgid: number, alive = false): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && !(alive && fields[0] === 'Z')) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Every process of the group dead at once, and gone from the process table
 * soon: alived reaps its script; the script's own children, orphaned when
 * it dies, are reaped by init (here a PID 1 that reaps every 2 s or so).
 */
async function groupGone(pgid: number, ms: number): Promise<void> {
  assert.ok(await waitUntil(() => groupMembers(pgid, true).length === 0, ms), `alive in the group: ${groupMembers(pgid, true).join(' ')}`);
  // the script's own exit is reaped by Node as soon as its SIGCHLD is handled
  assert.ok(await waitUntil(() => ourZombies().length === 0, 1000), `not reaped: ${ourZombies().join(' ')}`);
  assert.ok(await waitUntil(() => groupMembers(pgid).length === 0, 8000), `zombies left in the group: ${groupMembers(pgid).join(' ')}`);
}

/** children of this test process that are zombies (exited, not reaped) */
function ourZombies(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === process.pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// the counting itself (vrrp_script_child_thread)

test('ScriptResult: the first run decides at startup whatever rise and fall say', () => {
  const ok = new ScriptResult(3, 3, 'init');
  assert.equal(ok.up, undefined);
  assert.equal(ok.record(true), true);
  assert.equal(ok.result, 5, 'OK at the top: fall failures to KO');
  const ko = new ScriptResult(3, 3, 'init');
  assert.equal(ko.record(false), false);
  assert.equal(ko.result, 0, 'KO at the bottom: rise successes to OK');
});

test('ScriptResult: fall failures turn OK into KO, rise successes turn it back, flickers reset the count', () => {
  const r = new ScriptResult(2, 3, { up: true });
  assert.deepEqual([r.record(false), r.record(false)], [undefined, undefined]);
  assert.equal(r.up, true);
  assert.equal(r.record(true), undefined, 'a success in OK goes back to the top');
  assert.deepEqual([r.record(false), r.record(false), r.record(false)], [undefined, undefined, false]);
  assert.equal(r.record(true), undefined);
  assert.equal(r.record(false), undefined, 'a failure in KO goes back to 0');
  assert.deepEqual([r.record(true), r.record(true)], [undefined, true]);
});

test('ScriptResult: init_fail starts KO and needs rise successes; a reload carries KO at 0 and OK at the top', () => {
  const f = new ScriptResult(3, 1, 'failed');
  assert.equal(f.up, false);
  assert.deepEqual([f.record(true), f.record(true), f.record(true)], [undefined, undefined, true]);
  const carriedKo = new ScriptResult(2, 2, { up: false });
  assert.deepEqual([carriedKo.record(true), carriedKo.record(true)], [undefined, true]);
  const carriedOk = new ScriptResult(2, 2, { up: true });
  assert.deepEqual([carriedOk.record(false), carriedOk.record(false)], [undefined, false]);
});

test('ScriptResult: rise 1 fall 1 turns on every change of the exit status', () => {
  const r = new ScriptResult(1, 1, 'init');
  assert.deepEqual([r.record(true), r.record(true), r.record(false), r.record(false), r.record(true)], [true, undefined, false, undefined, true]);
});

// ---------------------------------------------------------------------------
// real scripts

test('a failing script turns KO after exactly `fall` failures and OK after exactly `rise` successes', async () => {
  const s = statusScript(0);
  const cfg = await scriptConfig(`  ${s.line}\n  interval 2\n  rise 2\n  fall 3\n  weight -20`);
  const r = start(cfg, { runs: s.runs });
  assert.ok(await waitUntil(() => r.reports.length === 1, 3000), 'the first run reports');
  assert.deepEqual(r.reports[0], { up: true });
  assert.equal(lines(s.runs).length, 1, 'one success is enough at startup');

  fs.writeFileSync(s.rc, '1\n');
  assert.ok(await waitUntil(() => r.reports.length === 2, 5000), 'KO comes');
  assert.deepEqual(r.reports[1], { up: false });
  assert.equal(trailing(r.linesAtReport[1]!, '1'), 3, `KO at the third failure: ${r.linesAtReport[1]!.join(' ')}`);

  fs.writeFileSync(s.rc, '0\n');
  assert.ok(await waitUntil(() => r.reports.length === 3, 5000), 'OK comes back');
  assert.deepEqual(r.reports[2], { up: true });
  assert.equal(trailing(r.linesAtReport[2]!, '0'), 2, `OK at the second success: ${r.linesAtReport[2]!.join(' ')}`);
  assert.ok(r.records.some((x) => x.msg === 'VRRP_Script(chk) failed (exited with status 1)'));
  assert.ok(r.records.some((x) => x.msg === 'Script `chk` now returning 1'));
  assert.ok(r.records.some((x) => x.msg === 'VRRP_Script(chk) succeeded'));
  // every run says its exit in the report's message, the ones that change no state too
  assert.ok(r.messages.filter((m) => m === 'exit 1').length >= 3, r.messages.join(', '));
  assert.ok(r.messages.filter((m) => m === 'exit 0').length >= 3, r.messages.join(', '));
  await r.tracker.stop();
});

test("a run's message is its exit and the last line it wrote to stderr, for the status", async () => {
  const sh = shellScript(`echo "curl: trying" >&2; echo "connection refused" >&2; exit 1`);
  const r = start(await scriptConfig(`  script ${sh}\n  interval 1`));
  assert.ok(await waitUntil(() => r.messages.length >= 1, 3000));
  assert.deepEqual(r.reports, [{ up: false }]);
  assert.equal(r.messages[0], 'exit 1: "connection refused"');
  await r.tracker.stop();
});

test('at startup the first failure is KO at once, even with fall 3', async () => {
  const s = statusScript(1);
  const r = start(await scriptConfig(`  ${s.line}\n  rise 3\n  fall 3`), { runs: s.runs });
  assert.ok(await waitUntil(() => r.reports.length === 1, 3000));
  assert.deepEqual(r.reports, [{ up: false }]);
  assert.equal(r.linesAtReport[0]!.length, 1);
  await r.tracker.stop();
});

test('init_fail: KO before the first run, OK after rise successes', async () => {
  const s = statusScript(0);
  const r = start(await scriptConfig(`  ${s.line}\n  interval 2\n  rise 3\n  init_fail`), { runs: s.runs });
  assert.deepEqual(r.reports, [{ up: false }], 'reported at start, before any run');
  assert.deepEqual(r.linesAtReport[0], []);
  assert.ok(await waitUntil(() => r.reports.length === 2, 5000));
  assert.deepEqual(r.reports[1], { up: true });
  assert.equal(trailing(r.linesAtReport[1]!, '0'), 3, 'three successes');
  await r.tracker.stop();
});

test('a reload that changed the block carries the verdict over: no first-run decision, fall failures to KO', async () => {
  const s = statusScript(1);
  const r = start(await scriptConfig(`  ${s.line}\n  interval 2\n  fall 2`), { runs: s.runs, previous: { up: true }, reload: true });
  assert.deepEqual(r.reports, [{ up: true }], 'the carried verdict is reported at start');
  assert.ok(await waitUntil(() => r.reports.length === 2, 5000));
  assert.deepEqual(r.reports[1], { up: false });
  assert.equal(trailing(r.linesAtReport[1]!, '1'), 2);
  await r.tracker.stop();
});

test('the script line is split as keepalived splits it: quotes group words, the command gets its arguments', async () => {
  const out = file('argv');
  const sh = shellScript(`printf '%s|' "$@" > ${out}`);
  const r = start(await scriptConfig(`  script "${sh} 'a b' c"`));
  assert.ok(await waitUntil(() => r.reports.length === 1, 3000));
  assert.deepEqual(r.reports, [{ up: true }]);
  assert.equal(fs.readFileSync(out, 'utf8'), 'a b|c|');
  await r.tracker.stop();
});

test('a signal and a command that cannot run are failures', async () => {
  const sig = start(await scriptConfig(`  script "/bin/sh -c 'kill -9 $$'"`));
  assert.ok(await waitUntil(() => sig.reports.length === 1, 3000));
  assert.deepEqual(sig.reports, [{ up: false }]);
  assert.ok(
    sig.records.some((x) => x.msg === 'VRRP_Script(chk) failed (due to signal SIGKILL)'),
    JSON.stringify(sig.records.map((x) => x.msg)),
  );
  await sig.tracker.stop();

  // found when checked at start, gone later: each run fails
  const sh = shellScript('exit 0');
  const gone = start(await scriptConfig(`  script ${sh}\n  interval 2`));
  assert.ok(await waitUntil(() => gone.reports.length === 1, 3000));
  fs.rmSync(sh);
  assert.ok(await waitUntil(() => gone.reports.length === 2, 3000));
  assert.deepEqual(gone.reports, [{ up: true }, { up: false }]);
  assert.ok(
    gone.records.some((x) => x.msg === 'VRRP_Script(chk) failed (cannot run: no such file (ENOENT))'),
    JSON.stringify(gone.records.map((x) => x.msg)),
  );
  await gone.tracker.stop();
});

test('a run never overlaps the previous one: a slow script skips runs', async () => {
  const trace = file('trace');
  // 350 ms a run at interval 100 ms (timeout 10 s)
  const sh = shellScript(`echo start >> ${trace}; sleep 0.35; echo end >> ${trace}`);
  const r = start(await scriptConfig(`  script ${sh}\n  interval 1\n  timeout 100`));
  await sleep(1300);
  await r.tracker.stop();
  const t = lines(trace);
  assert.ok(t.length >= 4, t.join(' '));
  for (let i = 1; i < t.length; i++) assert.notEqual(`${t[i - 1]} ${t[i]}`, 'start start', `two runs at once: ${t.join(' ')}`);
  assert.ok(r.records.some((x) => x.msg === 'Track script chk is already running, expect idle - skipping run'));
});

test('a script hanging past its timeout is KO, and its whole process group is killed: nothing survives, no zombie', async () => {
  const pidFile = file('pid');
  const kids = file('kids');
  // a background child in the group, and a foreground one
  const sh = shellScript(`echo $$ > ${pidFile}; sleep 60 & echo $! >> ${kids}; sleep 60`);
  const r = start(await scriptConfig(`  script ${sh}\n  interval 1\n  timeout 1`), { secondMs: 1000 });
  assert.ok(await waitUntil(() => fs.existsSync(pidFile) && lines(kids).length === 1, 3000), 'the script started');
  const pgid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(groupMembers(pgid).length >= 3, 'sh and its two sleeps share the group');
  assert.ok(await waitUntil(() => r.reports.length === 1, 3000), 'the timeout is a result');
  assert.deepEqual(r.reports, [{ up: false }]);
  assert.ok(r.records.some((x) => x.msg === 'VRRP_Script(chk) timed_out'));
  await groupGone(pgid, 4000);
  await r.tracker.stop();
});

test('a script that ignores SIGTERM is killed with SIGKILL 2 s later; runs are skipped meanwhile', async () => {
  const pidFile = file('pid');
  const sh = shellScript(`trap '' TERM; echo $$ >> ${pidFile}; sleep 60 & sleep 60`);
  const r = start(await scriptConfig(`  script ${sh}\n  interval 1\n  timeout 1`), { secondMs: 1000 });
  assert.ok(await waitUntil(() => lines(pidFile).length === 1, 3000));
  const pgid = Number(lines(pidFile)[0]);
  assert.ok(await waitUntil(() => r.reports.length === 1, 3000));
  await sleep(1200);
  assert.ok(groupMembers(pgid, true).length > 0, 'SIGTERM is ignored: the group lives until SIGKILL');
  assert.equal(lines(pidFile).length, 1, 'no second run while the first is being killed');
  await groupGone(pgid, 3000);
  assert.ok(r.records.some((x) => x.msg === 'Track script chk is being timed out, expect idle - skipping run'));
  await r.tracker.stop();
});

test('a script that exits and leaves a background child: its result counts at its exit, runs go on, the child is left alone', async () => {
  const bg = file('bg');
  const sh = shellScript(`sleep 20 & echo $! >> ${bg}; exit 0`);
  const r = start(await scriptConfig(`  script ${sh}\n  interval 2`));
  assert.ok(await waitUntil(() => r.reports.length === 1, 3000));
  assert.deepEqual(r.reports, [{ up: true }]);
  assert.ok(await waitUntil(() => lines(bg).length >= 3, 3000), 'runs go on: the child holding stderr does not make the script "running"');
  await r.tracker.stop();
  const pids = lines(bg).map(Number);
  assert.ok(
    pids.every((p) => fs.existsSync(`/proc/${p}`)),
    'keepalived does not kill what a finished script left running',
  );
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  assert.ok(await waitUntil(() => ourZombies().length === 0, 1000), `not reaped: ${ourZombies().join(' ')}`);
});

test('stop() kills a running script with its group at once', async () => {
  const pidFile = file('pid');
  const sh = shellScript(`echo $$ > ${pidFile}; sleep 60 & sleep 60`);
  const r = start(await scriptConfig(`  script ${sh}\n  interval 5\n  timeout 60`), { secondMs: 1000 });
  assert.ok(await waitUntil(() => fs.existsSync(pidFile), 3000));
  const pgid = Number(fs.readFileSync(pidFile, 'utf8'));
  const t0 = Date.now();
  await r.tracker.stop();
  assert.ok(Date.now() - t0 < 1000, 'stop() resolves once the script is dead');
  await groupGone(pgid, 500);
  assert.deepEqual(r.reports, [], 'nothing is reported after stop()');
});

test('`user nobody` runs the script as nobody; global script_user is the default', { skip: needsRoot }, async () => {
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const own = file('own');
  const a = start(await scriptConfig(`  script "/bin/sh -c 'id -u > ${own}'"\n  user nobody`));
  assert.ok(await waitUntil(() => a.reports.length === 1, 3000));
  assert.deepEqual(a.reports, [{ up: true }]);
  assert.equal(Number(fs.readFileSync(own, 'utf8')), nobody);
  await a.tracker.stop();

  const global = file('global');
  const b = start(await scriptConfig(`  script "/bin/sh -c 'id -u > ${global}'"`), { globals: () => ({ scriptUser: { user: 'nobody' } }) });
  assert.ok(await waitUntil(() => b.reports.length === 1, 3000));
  assert.equal(Number(fs.readFileSync(global, 'utf8')), nobody);
  await b.tracker.stop();
});

test('a script whose user does not exist is disabled, named, and never runs', async () => {
  const ran = file('ran');
  const r = start(await scriptConfig(`  script "/bin/sh -c 'touch ${ran}'"\n  user no-such-user-alived`));
  assert.ok(await waitUntil(() => r.disabled.length === 1, 3000));
  assert.match(r.disabled[0]!, /user 'no-such-user-alived' does not exist/);
  assert.ok(r.records.some((x) => /^Disabling track script chk: '\/bin\/sh': user 'no-such-user-alived' does not exist/.test(x.msg)));
  await sleep(300);
  assert.equal(fs.existsSync(ran), false);
  assert.deepEqual(r.reports, []);
  await r.tracker.stop();
});

test('a refused script (script security) is disabled with its path, before any run', async () => {
  const ran = file('ran');
  const cfg = await scriptConfig(`  script "/bin/sh -c 'touch ${ran}'"`);
  const r = start(cfg, {
    prepare: async (script) => ({ ok: false, reason: '/tmp is writable by every user', path: script.argv[0]! }),
  });
  assert.ok(await waitUntil(() => r.disabled.length === 1, 3000));
  assert.equal(r.disabled[0], "script '/bin/sh': /tmp is writable by every user");
  await sleep(300);
  assert.equal(fs.existsSync(ran), false);
  await r.tracker.stop();
});

test(
  'script security: with enable_script_security a root script that others could change is disabled, naming the path; without it, it runs with a warning',
  { skip: needsRoot },
  async () => {
    const ran = file('ran');
    // `dir` is mode 0777 without the sticky bit: anyone could replace the script
    const sh = shellScript(`touch ${ran}`);
    // with script security there is no fallback to root: name it
    const refused = start(await scriptConfig(`  script ${sh}\n  user root`), { globals: () => ({ scriptSecurity: true }) });
    assert.ok(await waitUntil(() => refused.disabled.length === 1, 3000));
    assert.match(refused.disabled[0]!, new RegExp(`^script '${dir}': ${dir} is writable by every user`));
    await sleep(300);
    assert.equal(fs.existsSync(ran), false);
    assert.deepEqual(refused.reports, []);
    await refused.tracker.stop();

    const warned = start(await scriptConfig(`  script ${sh}`), { globals: () => ({ scriptSecurity: false }) });
    assert.ok(await waitUntil(() => warned.reports.length === 1, 3000));
    assert.deepEqual(warned.reports, [{ up: true }]);
    assert.ok(fs.existsSync(ran));
    assert.ok(
      warned.records.some((x) => x.level === 'warn' && x.msg.startsWith(`Unsafe permissions found for script '${sh}'`)),
      JSON.stringify(warned.records.map((x) => x.msg)),
    );
    await warned.tracker.stop();
  },
);

test('a script that does not exist when the tracker starts is disabled, as keepalived disables it', async () => {
  const missing = path.join(dir, 'no-such-script.sh');
  const r = start(await scriptConfig(`  script ${missing}`));
  assert.ok(await waitUntil(() => r.disabled.length === 1, 3000));
  assert.equal(r.disabled[0], `script '${missing}': no such file (ENOENT)`);
  assert.deepEqual(r.reports, []);
  await r.tracker.stop();
});
