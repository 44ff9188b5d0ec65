import {
  ALIVED_VERSION,
  block,
  custom,
  flag,
  int,
  INVALID,
  map,
  script,
  str,
  trackerHeader,
  trackerWeight,
  trackReference,
  tuple,
  value,
  word,
  type AlivedPlugin,
  type ArgsParser,
  type CheckCtx,
  type Pos,
  type ScriptLine,
  type TrackReference,
} from '../../core/sdk';
import { createScriptTracker, type ScriptGlobals, type VrrpScriptConfig } from './tracker';

export { createScriptTracker, type ScriptTrackerOptions, type VrrpScriptConfig } from './tracker';
export { ScriptResult } from './result';

/**
 * vrrp_script blocks and the track_script lists that reference them, as
 * keepalived 2.2.8 reads them (vrrp_parser.c, vrrp_track.c). A script's exit
 * status moves the priority of the instances and sync groups tracking it by
 * its weight, or puts them in FAULT when the weight is 0.
 */

const INT32_MAX = 2147483647;
/** keepalived keeps times in microseconds in an unsigned int */
const MAX_SECS = Math.floor(4294967295 / 1000000);

function error(ctx: CheckCtx, pos: Pos, code: string, message: string): typeof INVALID {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

/** keepalived reads only the first word: a command with arguments is quoted; the user is set with `user`. */
const command: ArgsParser<ScriptLine> = custom('<PATH>|"<PATH> <ARGS>"', (words, at, keyword, ctx) => {
  if (words.length > 1) {
    return error(
      ctx,
      words[1]!.pos,
      'ALIVED_CONFIG_EXTRA_VALUE',
      `'${keyword}' takes one word: quote a command that has arguments ("/path/check --arg"), and set its user with 'user'`,
    );
  }
  return script.parse(words, at, keyword, ctx);
});

export interface ScriptWeight {
  /** added to the priority while the script succeeds (positive), or subtracted while it fails (negative) */
  value: number;
  reverse: boolean;
}

/** the range of a weight, here and in the track list's entries */
const WEIGHT = { min: -253, max: 253 };

/** `<-253..253> [reverse]` */
const weight: ArgsParser<ScriptWeight> = trackerWeight(WEIGHT);

export const vrrpScriptSchema = block(
  {
    script: value(command).required().doc('the command to run; quote it when it has arguments'),
    interval: word(int({ min: 1, max: MAX_SECS }))
      .default(1)
      .doc('seconds between runs; default 1'),
    timeout: word(int({ min: 1, max: MAX_SECS })).doc('seconds after which a run counts as failed; default the interval'),
    weight: value(weight).default({ value: 0, reverse: false }).doc('priority change, -253..253; 0 (default): FAULT while failed'),
    rise: word(int({ min: 1, max: INT32_MAX }))
      .default(1)
      .doc('successes before OK; default 1'),
    fall: word(int({ min: 1, max: INT32_MAX }))
      .default(1)
      .doc('failures before KO; default 1'),
    user: value(map(tuple([str(), str()], 1), (t) => ({ user: t[0]!, group: t[1] }))).doc('USER [GROUP] to run as; default global script_user'),
    init_fail: value(flag).doc('start in the failed state'),
  },
  {
    header: trackerHeader,
    defines: { kind: 'vrrp_script', name: (v: { name: string }) => v.name, keepalived: { firstWins: true, resolvedWhileParsing: true } },
  },
);

export type TrackScriptEntry = TrackReference;

/** `<SCRIPT_NAME> [weight <-253..253> [reverse|noreverse]]` */
export const trackScriptEntry: ArgsParser<TrackScriptEntry> = trackReference({
  kind: 'track_script',
  describe: '<SCRIPT_NAME>',
  refersTo: 'vrrp_script',
  weight: WEIGHT,
  wording: 'plugin',
  reverseHint: true,
});

const PLUGIN_NAME = 'track-script';

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  apply(api) {
    let globals: ScriptGlobals = {};
    // global_defs' script_user and enable_script_security apply to every vrrp_script
    api.hooks.configLoaded.tap(PLUGIN_NAME, (model) => {
      const g = model.globalDefs;
      globals = {
        scriptUser: g?.scriptUser ? { user: g.scriptUser.user, group: g.scriptUser.group } : undefined,
        scriptSecurity: g?.enableScriptSecurity === true,
      };
    });
    api.registerTracker({
      keyword: 'vrrp_script',
      schema: vrrpScriptSchema,
      defines: 'vrrp_script',
      reference: { keyword: 'track_script', entry: trackScriptEntry },
      create: (config, ctx) => createScriptTracker(config as VrrpScriptConfig, ctx, { globals: () => globals }),
    });
  },
};

export default plugin;
