import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createProcessTracker, processMatcher, ProcessWatcher, type VrrpTrackProcessConfig } from '../../plugins/track-process';
import type { Tracker, TrackerContext, TrackerState } from '../../core/sdk';
import { compileText, instance, noErrors, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * vrrp_track_process against real processes: sleep processes with
 * arguments unique to this run, started, forked, renamed (a write to
 * /proc/PID/comm) and killed, watched both ways: through the proc
 * connector (this test runs in the initial network namespace) and by
 * scanning /proc, as inside a lab namespace where the connector refuses.
 */

const tag = `${process.pid}${Date.now() % 100000}`;
const dir = tmpDir('alived-track-process-');
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** a process whose comm is `name`: a copy of sleep under that name (comm is the executable's base name) */
function binary(name: string): string {
  const p = path.join(dir, name);
  if (!fs.existsSync(p)) fs.copyFileSync('/bin/sleep', p);
  fs.chmodSync(p, 0o755);
  return p;
}

function run(argv: string[]): ChildProcess {
  const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

async function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await done;
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

async function trackConfig(body: string): Promise<VrrpTrackProcessConfig> {
  const r = await compileText(`vrrp_track_process tp {\n${body}\n}\n${instance('  track_process {\n    tp\n  }\n')}`);
  noErrors(r);
  return r.model!.extensions.find((e) => e.keyword === 'vrrp_track_process')!.value as VrrpTrackProcessConfig;
}

const cmd = (words: string[]) => ({ stat: { comm: path.basename(words[0]!).slice(0, 15) }, cmdline: Buffer.from(words.map((w) => `${w}\0`).join('')) });

test('matching: the name (comm), the full command line, param_match exact / partial / initial as keepalived check_params()', () => {
  const m = (process: string, params: string[], extra: Partial<VrrpTrackProcessConfig> = {}) =>
    processMatcher({ process: { name: process, params }, ...extra });
  assert.equal(m('nginx', []).matches(cmd(['nginx', '-g', 'x'])), true);
  assert.equal(m('ngin', []).matches(cmd(['nginx'])), false);
  // by command line: the first argument, then the parameters
  const full = m('/usr/sbin/nginx', [], { fullCommand: true });
  assert.equal(full.matches(cmd(['/usr/sbin/nginx', '-c', 'a.conf'])), true);
  assert.equal(full.matches(cmd(['nginx', '-c', 'a.conf'])), false);
  const exact = m('java', ['-jar', 'app.jar']);
  assert.equal(exact.fullCommand, true);
  assert.equal(exact.matches(cmd(['java', '-jar', 'app.jar'])), true);
  assert.equal(exact.matches(cmd(['java', '-jar', 'app.jar', '-v'])), false);
  assert.equal(exact.matches(cmd(['java', '-jar', 'app.ja'])), false);
  const partial = m('java', ['-jar', 'app.jar'], { paramMatch: 'partial' });
  assert.equal(partial.matches(cmd(['java', '-jar', 'app.jar', '-v'])), true);
  assert.equal(partial.matches(cmd(['java', '-jar', 'app.jar2'])), false);
  const initial = m('java', ['-jar', 'app'], { paramMatch: 'initial' });
  assert.equal(initial.matches(cmd(['java', '-jar', 'app.jar', '-v'])), true);
  assert.equal(initial.matches(cmd(['java', '-ja', 'app.jar'])), false);
  // param_match alone, no parameters: the command must have none
  const none = m('sleep', [], { paramMatch: 'exact' });
  assert.equal(none.matches(cmd(['sleep'])), true);
  assert.equal(none.matches(cmd(['sleep', '1'])), false);
});

function startTracker(config: VrrpTrackProcessConfig, watcher: ProcessWatcher) {
  const { log, records } = memoryLogger('debug');
  const ctx: TrackerContext = { log, name: config.name, reload: false, disable: () => undefined };
  const tracker: Tracker = createProcessTracker(config, ctx, { watcher });
  const reports: TrackerState[] = [];
  tracker.start((s) => reports.push(s));
  const last = () => reports[reports.length - 1];
  const until = async (up: boolean, ms = 3000) => {
    assert.ok(
      await waitUntil(() => last()?.up === up, ms),
      `waiting for up=${up}; reports ${JSON.stringify(reports)}; log ${records.map((r) => r.msg).join(' | ')}`,
    );
  };
  return { tracker, reports, records, last, until };
}

for (const mode of ['events', 'scan'] as const) {
  describe(`watching by ${mode === 'events' ? 'proc connector events' : 'scanning /proc'}`, () => {
    const watchers: ProcessWatcher[] = [];
    const newWatcher = () => {
      const modes: string[] = [];
      const w = new ProcessWatcher({ mode, scanMs: 200, watchMs: 50, onMode: (m) => modes.push(m) });
      watchers.push(w);
      return { w, modes };
    };
    after(() => {
      for (const w of watchers) w.stop();
    });

    test('quorum by name: down with none, up with one, down again when it is killed', async () => {
      const name = `tpa${tag}`.slice(0, 15);
      const bin = binary(name);
      const { w, modes } = newWatcher();
      const t = startTracker(await trackConfig(`  process ${name}\n  weight -10`), w);
      await t.until(false);
      assert.deepEqual(modes, [mode]);
      const c = run([bin, '300']);
      await t.until(true);
      assert.ok(t.records.some((r) => r.msg === `Quorum gained for tracked process tp`));
      const killedAt = Date.now();
      await kill(c);
      await t.until(false);
      // scanning checks counted processes every watchMs (50 ms here)
      assert.ok(Date.now() - killedAt < 1500, `death seen after ${Date.now() - killedAt} ms`);
      await t.tracker.stop();
    });

    test('processes running before the tracker starts count from its first report', async () => {
      const name = `tpe${tag}`.slice(0, 15);
      const bin = binary(name);
      const cs = [run([bin, '300']), run([bin, '300'])];
      await sleep(200);
      const { w } = newWatcher();
      const t = startTracker(await trackConfig(`  process ${name}\n  quorum 2`), w);
      await t.until(true);
      assert.deepEqual(t.reports, [{ up: true }]);
      await kill(cs[0]!);
      await t.until(false);
      await kill(cs[1]!);
      await t.tracker.stop();
    });

    test('quorum and quorum_max: up only with 2 or 3 running; quorum_max 0 is up while none runs', async () => {
      const name = `tpb${tag}`.slice(0, 15);
      const bin = binary(name);
      const { w } = newWatcher();
      const t = startTracker(await trackConfig(`  process ${name}\n  quorum 2\n  quorum_max 3`), w);
      const none = startTracker(await trackConfig(`  process ${name}\n  quorum_max 0`), w);
      await t.until(false);
      await none.until(true);
      const cs = [run([bin, '300'])];
      await none.until(false);
      await sleep(300);
      assert.equal(t.last()?.up, false);
      cs.push(run([bin, '300']));
      await t.until(true);
      cs.push(run([bin, '300']));
      await sleep(400);
      assert.equal(t.last()?.up, true);
      cs.push(run([bin, '300']));
      await t.until(false);
      await kill(cs.pop()!);
      await t.until(true);
      for (const c of cs) await kill(c);
      await t.until(false);
      await none.until(true);
      await t.tracker.stop();
      await none.tracker.stop();
    });

    test('full command line with parameters: only the process with those arguments counts', async () => {
      const { w } = newWatcher();
      const t = startTracker(await trackConfig(`  process /bin/sleep 301.${tag}`), w);
      await t.until(false);
      const other = run(['/bin/sleep', `302.${tag}`]);
      await sleep(500);
      assert.equal(t.last()?.up, false);
      const c = run(['/bin/sleep', `301.${tag}`]);
      await t.until(true);
      await kill(c);
      await t.until(false);
      await kill(other);
      await t.tracker.stop();
    });

    test('terminate_delay: a death takes effect after the delay; a new process within it cancels the loss', async () => {
      const name = `tpc${tag}`.slice(0, 15);
      const bin = binary(name);
      const { w } = newWatcher();
      const t = startTracker(await trackConfig(`  process ${name}\n  terminate_delay 0.8`), w);
      let c = run([bin, '300']);
      await t.until(true);
      await kill(c);
      await sleep(400);
      assert.equal(t.last()?.up, true, 'still up within terminate_delay');
      c = run([bin, '300']);
      await sleep(1000);
      assert.equal(t.last()?.up, true, 'a new process within the delay keeps the quorum');
      const at = Date.now();
      await kill(c);
      await t.until(false);
      assert.ok(Date.now() - at >= 700, `lost after ${Date.now() - at} ms`);
      assert.ok(!t.reports.slice(1).some((r, i) => r.up && t.reports[i]!.up), 'no repeated report');
      await t.tracker.stop();
    });

    test('a process that renames itself (prctl PR_SET_NAME) stops counting', async () => {
      const name = `tpd${tag}`.slice(0, 15);
      // comm is the base name of the path exec'd: a link named like that to python, which renames itself after 0.5 s
      const link = path.join(dir, name);
      if (!fs.existsSync(link)) fs.symlinkSync('/usr/bin/python3', link);
      const { w } = newWatcher();
      const t = startTracker(await trackConfig(`  process ${name}`), w);
      const c = run([link, '-c', "import ctypes, time; time.sleep(0.5); ctypes.CDLL(None).prctl(15, b'renamed', 0, 0, 0); time.sleep(300)"]);
      await t.until(true);
      // scanning re-reads counted processes at each scan (200 ms here)
      await t.until(false);
      await kill(c);
      await t.tracker.stop();
    });

    test('fork_delay: the fork of a counted process counts, and the quorum it makes takes effect after the delay', async () => {
      const code = `import os, time; time.sleep(0.5); os.fork(); time.sleep(300)  # ${tag}`;
      const { w } = newWatcher();
      const t = startTracker(await trackConfig(`  process /usr/bin/python3 -c "${code}"\n  quorum 2\n  fork_delay 0.6`), w);
      await t.until(false);
      const c = spawn('/usr/bin/python3', ['-c', code], { stdio: 'ignore', detached: true });
      children.add(c);
      const started = Date.now();
      await t.until(true, 4000);
      assert.ok(Date.now() - started >= 1000, `quorum after ${Date.now() - started} ms: the fork at 0.5 s, then fork_delay 0.6 s`);
      process.kill(-c.pid!, 'SIGKILL');
      await t.until(false);
      await t.tracker.stop();
    });
  });
}
