import {
  ALIVED_VERSION,
  block,
  custom,
  duration,
  flag,
  int,
  INVALID,
  oneOf,
  trackerHeader,
  trackerWeight,
  trackReference,
  value,
  word,
  type AlivedPlugin,
  type ArgsParser,
  type CheckCtx,
  type Pos,
  type TrackReference,
  clip,
} from '../../core/sdk';
import { createProcessTracker, type VrrpTrackProcessConfig } from './tracker';
import { setSharedWatcherOptions } from './watcher';

export { createProcessTracker, processMatcher, type ProcessMatcher, type ProcessTrackerOptions, type VrrpTrackProcessConfig } from './tracker';
export { ProcessWatcher, setSharedWatcherOptions, type Subscriber, type WatcherOptions } from './watcher';
export { listPids, readStat, readCmdline, inOwnNetns, netnsOf, cmdlineWords } from '../shared/proc';

/**
 * vrrp_track_process blocks and the track_process lists that reference
 * them, as keepalived 2.2.8 reads them (vrrp_parser.c, track_process.c):
 * whether enough processes of a name (or command line) run moves the
 * priority of the instances and sync groups tracking it.
 */

function error(ctx: CheckCtx, pos: Pos, code: string, message: string): typeof INVALID {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

export interface ProcessSpec {
  /** the process name, or the command when parameters follow */
  name: string;
  /** parameters to match (each word as written, quotes removed) */
  params: string[];
}

/** `<STRING>|<QUOTED_STRING> [<PARAM> ...]` */
const processSpec: ArgsParser<ProcessSpec> = custom('<NAME>|"<PATH>" [<PARAM>...]', (words, at, keyword, ctx) => {
  if (words.length === 0) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `'${keyword}' needs a process name`);
  if (words[0]!.text.length === 0) return error(ctx, words[0]!.pos, 'ALIVED_CONFIG_BAD_VALUE', `the process name is empty`);
  return { name: words[0]!.text, params: words.slice(1).map((w) => w.text) };
});

export interface ProcessWeight {
  value: number;
  reverse: boolean;
}

/** the range of a weight, here and in the track list's entries */
const WEIGHT = { min: -254, max: 254 };

/** `<-254..254> [reverse]` */
const weight: ArgsParser<ProcessWeight> = trackerWeight(WEIGHT);

/** `[initial|partial]`: alone, the parameters must match exactly */
const paramMatch = custom('[initial|partial]', (words, _at, keyword, ctx) => {
  if (words.length === 0) return 'exact' as const;
  if (words.length > 1)
    return error(ctx, words[1]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes [initial|partial]; unexpected '${clip(words[1]!.text)}'`);
  const v = oneOf(['initial', 'partial']).parse(words[0]!, ctx);
  return v === INVALID ? INVALID : v;
});

const delay = duration({ min: 0.000001, max: 3600 });

interface TrackProcess {
  name: string;
  process: ProcessSpec;
  paramMatch?: 'exact' | 'initial' | 'partial';
  fullCommand?: true;
  quorum: number;
  quorumMax?: number;
  pos: Pos;
}

export const vrrpTrackProcessSchema = block(
  {
    process: value(processSpec).required().doc('the process name (as in /proc/PID/status), or a command and parameters'),
    param_match: value(paramMatch).doc('match the parameters exactly (alone), or only the first ones (partial), or the last one as a prefix (initial)'),
    weight: value(weight).default({ value: 0, reverse: false }).doc('-254..254 [reverse]; 0 (default): FAULT while the quorum is not met'),
    quorum: word(int({ min: 1, max: 65535 }))
      .default(1)
      .doc('fewest matching processes for success; default 1'),
    quorum_max: word(int({ min: 0, max: 65535 })).doc('most matching processes for success; 0: success when none runs'),
    delay: word(delay).doc('sets fork_delay and terminate_delay'),
    fork_delay: word(delay).doc('seconds to wait after the quorum is gained'),
    terminate_delay: word(delay).doc('seconds to wait after the quorum is lost'),
    full_command: value(flag).doc('match the whole command line, not the process name'),
  },
  {
    header: trackerHeader,
    feature: 'process-track',
    defines: { kind: 'vrrp_track_process', name: (v: { name: string }) => v.name, keepalived: { firstWins: true, resolvedWhileParsing: true } },
    check: (v: TrackProcess, ctx) => {
      if (v.quorumMax !== undefined && v.quorumMax !== 0 && v.quorum > v.quorumMax) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `vrrp_track_process ${v.name}: quorum ${v.quorum} is greater than quorum_max ${v.quorumMax}`);
      }
      if (v.quorumMax === 0 && v.quorum > 1) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `vrrp_track_process ${v.name}: quorum_max 0 (no process may run) contradicts quorum ${v.quorum}`);
      }
      const byName = !v.fullCommand && v.paramMatch === undefined && v.process.params.length === 0;
      if (byName && v.process.name.length > 15) {
        ctx.diags.warning(
          'ALIVED_CONFIG_NO_EFFECT',
          v.pos,
          `vrrp_track_process ${v.name}: process names are at most 15 characters, so '${clip(v.process.name)}' never matches; use full_command to match the command line`,
        );
      }
    },
  },
);

export type TrackProcessEntry = TrackReference;

/** `<PROCESS_NAME> [weight <-254..254> [reverse|noreverse]]` */
export const trackProcessEntry: ArgsParser<TrackProcessEntry> = trackReference({
  kind: 'track_process',
  describe: '<TRACK_PROCESS>',
  refersTo: 'vrrp_track_process',
  weight: WEIGHT,
  wording: 'plugin',
});

const plugin: AlivedPlugin = {
  name: 'track-process',
  version: ALIVED_VERSION,
  apply(api) {
    // global_defs process_monitor_rcv_bufs: the proc connector socket's receive buffer
    api.hooks.configLoaded.tap('track-process', (model) => {
      const bufs = (model.globalDefs as { processMonitorRcvBufs?: unknown } | undefined)?.processMonitorRcvBufs;
      setSharedWatcherOptions(typeof bufs === 'number' ? { recvBufferSize: bufs } : {});
    });
    api.registerTracker({
      keyword: 'vrrp_track_process',
      schema: vrrpTrackProcessSchema,
      defines: 'vrrp_track_process',
      reference: { keyword: 'track_process', entry: trackProcessEntry },
      create: (config, ctx) => createProcessTracker(config as VrrpTrackProcessConfig, ctx),
    });
  },
};

export default plugin;
