import type { Logger, Tracker, TrackerContext, TrackerState } from '../../core/sdk';
import { sharedWatcher, type AddHow, type ProcessWatcher, type RemoveHow, type WatchedProcess } from './watcher';

/**
 * One vrrp_track_process, as keepalived 2.2.8 counts it
 * (core/track_process.c):
 *
 * - A process matches by its name (/proc/PID/comm, at most 15 characters),
 *   or with full_command (or parameters after the name, or param_match)
 *   by its command line: the first argument equal to the name, then the
 *   parameters: all of them exactly (no param_match, or param_match alone),
 *   the configured ones first and anything after (partial), or the
 *   configured ones first with the last one a prefix (initial).
 * - The child of a counted process counts too, from its fork until it
 *   execs something that does not match.
 * - The quorum is met while quorum <= count <= quorum_max (quorum_max 0:
 *   while none runs). "Quorum gained/lost for tracked process NAME".
 * - fork_delay: a quorum crossed by a fork takes effect that long after
 *   (unless a pending terminate_delay is cancelled by it); terminate_delay:
 *   a quorum crossed by an exit takes effect that long after (unless it
 *   cancels a pending fork_delay). A change of name or command line, or a
 *   new process (exec), takes effect at once. When the delay ends the
 *   quorum is evaluated again.
 */

export interface VrrpTrackProcessConfig {
  name: string;
  process: { name: string; params: string[] };
  paramMatch?: 'exact' | 'initial' | 'partial';
  fullCommand?: true;
  weight: { value: number; reverse: boolean };
  quorum: number;
  quorumMax?: number;
  delay?: number;
  forkDelay?: number;
  terminateDelay?: number;
}

export interface ProcessTrackerOptions {
  /** default the watcher all process trackers of the daemon share */
  readonly watcher?: ProcessWatcher;
}

export type ParamMatch = 'none' | 'exact' | 'initial' | 'partial';

/** How a tracker matches processes; pure, for the tests too. */
export interface ProcessMatcher {
  readonly fullCommand: boolean;
  matches(p: { readonly stat: { readonly comm: string }; readonly cmdline?: Buffer }): boolean;
}

export function processMatcher(config: Pick<VrrpTrackProcessConfig, 'process' | 'paramMatch' | 'fullCommand'>): ProcessMatcher {
  const name = config.process.name;
  const params = config.process.params;
  // keepalived: parameters after the name mean full_command with an exact match unless param_match says otherwise
  const fullCommand = config.fullCommand === true || params.length > 0 || config.paramMatch !== undefined;
  const mode: ParamMatch = !fullCommand ? 'none' : (config.paramMatch ?? (params.length > 0 ? 'exact' : 'none'));
  // the parameters as keepalived keeps them: each ended by a NUL
  const want = Buffer.from(params.map((p) => `${p}\0`).join(''), 'utf8');
  const nameBuf = Buffer.from(name, 'utf8');
  return {
    fullCommand,
    matches(p) {
      if (!fullCommand) return p.stat.comm === name;
      const cmd = p.cmdline;
      if (!cmd || cmd.length === 0) return false;
      const end = cmd.indexOf(0);
      const first = end < 0 ? cmd : cmd.subarray(0, end);
      if (!first.equals(nameBuf)) return false;
      if (mode === 'none') return true;
      const got = end < 0 ? Buffer.alloc(0) : cmd.subarray(end + 1);
      return checkParams(mode, want, params.length > 0, got);
    },
  };
}

/** keepalived's check_params() */
function checkParams(mode: ParamMatch, want: Buffer, haveParams: boolean, got: Buffer): boolean {
  if (mode === 'exact' && !haveParams && got.length === 0) return true;
  if (got.length < want.length) return false;
  if (mode === 'exact') return got.length === want.length && (!haveParams || got.equals(want));
  if (!haveParams) return true;
  if (mode === 'partial') return got.subarray(0, want.length).equals(want);
  // initial: the last parameter is a prefix
  return want.length === 1 || got.subarray(0, want.length - 1).equals(want.subarray(0, want.length - 1));
}

export function createProcessTracker(config: VrrpTrackProcessConfig, ctx: TrackerContext, opts: ProcessTrackerOptions = {}): Tracker {
  const log: Logger = ctx.log;
  const name = config.name;
  const quorumMax = config.quorumMax ?? Number.POSITIVE_INFINITY;
  const quorum = config.quorumMax === 0 ? 0 : config.quorum;
  const forkMs = (config.forkDelay ?? config.delay ?? 0) * 1000;
  const terminateMs = (config.terminateDelay ?? config.delay ?? 0) * 1000;
  const matcher = processMatcher(config);
  let count = 0;
  let up: boolean | undefined;
  let forkTimer: NodeJS.Timeout | undefined;
  let terminateTimer: NodeJS.Timeout | undefined;
  let report: (s: TrackerState) => void = () => {};
  let unsubscribe: (() => void) | undefined;
  let stopped = false;

  const inRange = (): boolean => count >= quorum && count <= quorumMax;

  function update(now: boolean): void {
    if (stopped || now === up) return;
    const first = up === undefined;
    up = now;
    if (!first || !now) log.info({ process: name, count, up: now }, `Quorum ${now ? 'gained' : 'lost'} for tracked process ${name}`);
    report({ up: now });
  }

  function cancel(which: 'fork' | 'terminate'): boolean {
    const t = which === 'fork' ? forkTimer : terminateTimer;
    if (!t) return false;
    clearTimeout(t);
    if (which === 'fork') forkTimer = undefined;
    else terminateTimer = undefined;
    return true;
  }

  function later(which: 'fork' | 'terminate', ms: number): void {
    const t = setTimeout(() => {
      if (which === 'fork') forkTimer = undefined;
      else terminateTimer = undefined;
      update(inRange());
    }, ms);
    if (which === 'fork') forkTimer = t;
    else terminateTimer = t;
  }

  function added(_pid: number, how: AddHow): void {
    if (up === undefined) {
      count++;
      return;
    }
    count++;
    if (count !== quorum && count !== quorumMax + 1) return;
    if (cancel('terminate')) return update(inRange());
    if (how === 'fork' && forkMs > 0) {
      cancel('fork');
      return later('fork', forkMs);
    }
    update(inRange());
  }

  function removed(_pid: number, how: RemoveHow): void {
    const before = count;
    count = Math.max(0, count - 1);
    if (up === undefined) return;
    if (before !== quorum && count !== quorumMax) return;
    if (cancel('fork')) return update(inRange());
    if (how === 'exit' && terminateMs > 0) {
      cancel('terminate');
      return later('terminate', terminateMs);
    }
    update(inRange());
  }

  return {
    start(r) {
      report = r;
      const watcher = opts.watcher ?? sharedWatcher(log);
      unsubscribe = watcher.subscribe({
        fullCommand: matcher.fullCommand,
        matches: (p: WatchedProcess) => matcher.matches(p),
        added,
        removed,
        ready: () => {
          log.info(
            { process: name, count, quorum, quorumMax: Number.isFinite(quorumMax) ? quorumMax : undefined },
            `Tracked process ${name}: ${count} running`,
          );
          update(inRange());
        },
      });
    },
    stop() {
      stopped = true;
      cancel('fork');
      cancel('terminate');
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}
