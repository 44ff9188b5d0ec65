/**
 * CPU of process tracking with 2,000 processes on the machine: 2,000 sleep
 * processes run, three vrrp_track_process-like subscribers watch (by name,
 * by name, by command line), and the watcher's CPU is measured over a
 * window, once with the proc connector (events; only on the initial
 * network namespace) and once scanning /proc (as inside a namespace), each
 * with processes coming and going (5 a second). Prints; asserts nothing.
 * BENCH_QUICK=1: 500 processes and a 5 s window.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ProcessWatcher } from '../plugins/track-process/watcher';
import { processMatcher } from '../plugins/track-process/tracker';
import { listPids } from '../plugins/shared/proc';

const QUICK = process.env.BENCH_QUICK === '1';
const N = QUICK ? 500 : 2000;
const WINDOW_MS = QUICK ? 5000 : 15000;

async function main(): Promise<void> {
  const procs: ChildProcess[] = [];
  try {
    for (let i = 0; i < N; i++) {
      procs.push(spawn('/bin/sleep', [`600.${i}`], { stdio: 'ignore' }));
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    console.log(`track-process: ${listPids().length} processes on the machine (${N} sleeps started)`);
    for (const [mode, countAll] of [
      ['events', false],
      ['scan', false],
      ['events', true],
      ['scan', true],
    ] as const) {
      const modes: string[] = [];
      const w = new ProcessWatcher({ mode, onMode: (m, why) => modes.push(why ? `${m} (${why})` : m) });
      const counts = [0, 0, 0];
      const matchers = [
        processMatcher({ process: { name: 'nginx', params: [] } }),
        // counting every sleep (2,000 counted processes) or one name nothing has
        processMatcher({ process: { name: countAll ? 'sleep' : 'tomcat-none', params: [] } }),
        processMatcher({ process: { name: '/bin/sleep', params: ['600.7'] } }),
      ];
      let ready = 0;
      const unsub = matchers.map((m, i) =>
        w.subscribe({
          fullCommand: m.fullCommand,
          matches: (p) => m.matches(p),
          added: () => counts[i]!++,
          removed: () => counts[i]!--,
          ready: () => ready++,
        }),
      );
      while (ready < 3) await new Promise((r) => setTimeout(r, 20));
      // churn from another process (its spawning is not ours to count): 5 short processes a second
      const churn = spawn('/bin/sh', ['-c', 'while :; do /bin/true; /bin/true; /bin/true; /bin/true; /bin/true; sleep 1; done'], { stdio: 'ignore' });
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const c = process.cpuUsage(c0);
      const wall = performance.now() - t0;
      churn.kill('SIGKILL');
      const cpuMs = (c.user + c.system) / 1000;
      console.log(
        `track-process ${modes.join(', ')}, ${countAll ? 'counting all 2,000' : 'counting 1'}: CPU ${cpuMs.toFixed(0)} ms in ${(wall / 1000).toFixed(1)} s = ${((100 * cpuMs) / wall).toFixed(2)} % of a core; ` +
          `counts nginx ${counts[0]} sleep ${counts[1]} cmdline ${counts[2]}; scans ${w.counters.scans}, stat reads ${w.counters.statReads}, cmdline reads ${w.counters.cmdlineReads}, events ${w.counters.events}`,
      );
      for (const u of unsub) u();
      w.stop();
    }
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
