import {
  prepareScript,
  ScriptRunner,
  signalName,
  spawnErrorWords,
  type Logger,
  type RunOutcome,
  type ScriptUserName,
  type Tracker,
  type TrackerContext,
  type TrackerState,
} from '../../core/sdk';
import { ScriptResult, type ResultStart } from './result';

/**
 * One vrrp_script running, as keepalived 2.2.8 runs it
 * (vrrp_scheduler.c vrrp_script_thread(), vrrp_script_child_thread()):
 *
 * - The first run starts at once, then one every `interval` seconds, counted
 *   from the start of each run.
 * - A run that is still going when the next is due is not doubled: the next
 *   is skipped ("Track script X is already running, expect idle - skipping
 *   run"). keepalived 2.2.8 logs that line and then starts the run all the
 *   same, a regression of 2.2.x; its intent, and every earlier version,
 *   skip.
 * - Exit status 0 is a success; another status, a signal, a command that
 *   cannot start, or `timeout` (default: the interval) is a failure. At the
 *   timeout the script's process group gets SIGTERM, then SIGKILL 2 s later;
 *   runs are skipped until it is gone.
 * - Successes and failures count towards rise and fall (ScriptResult).
 * - Before the first run, the user is resolved (`user`, else script_user,
 *   else keepalived_script, else alived's own) and the script is checked
 *   (script security); a script that may not run is disabled, as keepalived
 *   disables it: the instances go on as if they did not track it.
 */

export interface VrrpScriptConfig {
  name: string;
  script: { command: string; argv: string[] };
  interval: number;
  timeout?: number;
  weight: { value: number; reverse: boolean };
  rise: number;
  fall: number;
  user?: ScriptUserName;
  initFail?: true;
}

/** global_defs settings a script needs, read when the tracker starts */
export interface ScriptGlobals {
  readonly scriptUser?: ScriptUserName;
  readonly scriptSecurity?: boolean;
}

/** Between a configured script and its runs: its user, then the checks script security makes. */
export type PrepareScript = (
  script: { readonly argv: readonly string[]; readonly user?: string; readonly group?: string },
  opts: { readonly scriptUser?: ScriptUserName; readonly scriptSecurity: boolean },
) => Promise<
  | { readonly ok: true; readonly argv: readonly string[]; readonly uid?: number; readonly gid?: number; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly path: string }
>;

export interface ScriptTrackerOptions {
  readonly globals?: () => ScriptGlobals;
  /** default core/script/security.ts's prepareScript() */
  readonly prepare?: PrepareScript;
  /** milliseconds in one configured second; tests shorten it */
  readonly secondMs?: number;
}

/** keepalived's text for a run's outcome, and whether it is a success */
function verdictOf(o: RunOutcome): { success: boolean; words: string; status?: number } {
  switch (o.kind) {
    case 'exit':
      return o.code === 0
        ? { success: true, words: 'succeeded', status: 0 }
        : { success: false, words: `failed (exited with status ${o.code})`, status: o.code };
    case 'signal':
      return { success: false, words: `failed (due to signal ${signalName(o.signal)})` };
    case 'timeout':
      return { success: false, words: 'timed_out' };
    case 'aborted':
      return { success: false, words: 'aborted' };
    case 'error':
      return { success: false, words: `failed (cannot run: ${spawnErrorWords(o.error)})` };
  }
}

/** A run in a few words for the status: `exit 1: "connection refused"` (the last line the script wrote to stderr). */
export function messageOf(o: RunOutcome): string {
  const said = (stderr: string): string => {
    const line = stderr.trim().split('\n').pop()?.trim() ?? '';
    return line ? `: ${JSON.stringify(line.slice(0, 200))}` : '';
  };
  switch (o.kind) {
    case 'exit':
      return `exit ${o.code}${said(o.stderr)}`;
    case 'signal':
      return `killed by ${signalName(o.signal)}${said(o.stderr)}`;
    case 'timeout':
      return 'timed out';
    case 'aborted':
      return 'aborted';
    case 'error':
      return `cannot run: ${spawnErrorWords(o.error)}`;
  }
}

export function createScriptTracker(config: VrrpScriptConfig, ctx: TrackerContext, opts: ScriptTrackerOptions = {}): Tracker {
  const log: Logger = ctx.log;
  const name = config.name;
  const second = opts.secondMs ?? 1000;
  const intervalMs = config.interval * second;
  const timeoutMs = (config.timeout ?? config.interval) * second;
  const start: ResultStart = ctx.previous ? { up: ctx.previous.up } : config.initFail ? 'failed' : 'init';
  const result = new ScriptResult(config.rise, config.fall, start);
  const runner = new ScriptRunner();
  const abort = new AbortController();
  let report: (s: TrackerState) => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** a run is in flight (its outcome not in yet) */
  let running = false;
  let lastStatus: number | undefined;
  let prepared: { argv: readonly string[]; uid?: number; gid?: number } | undefined;
  let nextAt = 0;

  function schedule(): void {
    if (stopped) return;
    const now = performance.now();
    // runs keep their rhythm; after a stall the next one is due an interval from now, not a burst
    nextAt = nextAt + intervalMs > now ? nextAt + intervalMs : now + intervalMs;
    timer = setTimeout(tick, nextAt - now);
  }

  function tick(): void {
    timer = undefined;
    if (stopped) return;
    schedule();
    // after a timeout the outcome is in but the group is still being killed (SIGTERM, SIGKILL 2 s later)
    if (running || runner.pending > 0) {
      log.info({ script: name }, `Track script ${name} is ${running ? 'already running' : 'being timed out'}, expect idle - skipping run`);
      return;
    }
    void run();
  }

  async function run(): Promise<void> {
    const p = prepared!;
    running = true;
    let outcome: RunOutcome;
    try {
      outcome = await runner.run({ argv: p.argv, uid: p.uid, gid: p.gid, timeoutMs, signal: abort.signal });
    } catch (err) {
      outcome = { kind: 'error', error: err as NodeJS.ErrnoException };
    }
    running = false;
    if (stopped) return;
    const v = verdictOf(outcome);
    if (v.status !== undefined && v.status !== lastStatus) log.info({ script: name, status: v.status }, `Script \`${name}\` now returning ${v.status}`);
    lastStatus = v.status;
    const turned = result.record(v.success);
    const message = messageOf(outcome);
    if (turned === undefined) {
      // no change of state: the run's words still reach the status (the service passes on no change)
      if (result.up !== undefined) report({ up: result.up, message });
      return;
    }
    log.info({ script: name, up: turned }, `VRRP_Script(${name}) ${v.words}`);
    report({ up: turned, message });
  }

  async function begin(): Promise<void> {
    const g = opts.globals?.() ?? {};
    const prepare = opts.prepare ?? prepareScript;
    let p: Awaited<ReturnType<PrepareScript>>;
    try {
      p = await prepare(
        { argv: config.script.argv, user: config.user?.user, group: config.user?.group },
        { scriptUser: g.scriptUser, scriptSecurity: g.scriptSecurity === true },
      );
    } catch (err) {
      p = { ok: false, reason: (err as Error)?.message ?? String(err), path: config.script.argv[0] ?? '' };
    }
    if (stopped) return;
    if (!p.ok) {
      log.warn({ script: name, path: p.path, reason: p.reason }, `Disabling track script ${name}: '${p.path}': ${p.reason}`);
      stopped = true;
      ctx.disable(`script '${p.path}': ${p.reason}`);
      return;
    }
    for (const w of p.warnings) log.warn({ script: name }, w);
    prepared = { argv: p.argv, uid: p.uid, gid: p.gid };
    nextAt = performance.now();
    tick();
  }

  return {
    start(r) {
      report = r;
      const up = result.up;
      // init_fail, or the verdict a reload carried over, is known before any run
      if (up !== undefined) report({ up });
      void begin();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      abort.abort();
      // SIGKILL to every group still running; their exits are reaped
      runner.close();
      return runner.idle();
    },
  };
}
