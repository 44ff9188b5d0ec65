import {
  ALIVED_VERSION,
  block,
  custom,
  flag,
  int,
  INVALID,
  map,
  name,
  nearest,
  script,
  str,
  tuple,
  value,
  word,
  type AlivedPlugin,
  type ArgsParser,
  type CheckCtx,
  type Pos,
  type ScriptLine,
  type Token,
  clip,
} from '../../core/sdk';

/**
 * vrrp_script blocks and the track_script lists that reference them, as
 * keepalived 2.2.8 reads them (vrrp_parser.c, vrrp_track.c). A script's exit
 * status moves the priority of the instances and sync groups tracking it by
 * its weight, or puts them in FAULT when the weight is 0.
 */

const INT32_MAX = 2147483647;
/** keepalived keeps times in microseconds in an unsigned int */
const MAX_SECS = Math.floor(4294967295 / 1000000);

/** a word echoed in a message, shortened when it is very long */

function error(ctx: CheckCtx, pos: Pos, code: string, message: string): typeof INVALID {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

/** `vrrp_script NAME {` */
const header = custom('<NAME>', (words, at, keyword, ctx) => {
  if (words.length === 0) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `'${keyword}' needs a name: ${keyword} <NAME> { ... }`);
  if (words.length > 1) return error(ctx, words[1]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes one name; unexpected '${clip(words[1]!.text)}'`);
  const n = name.parse(words[0]!, ctx);
  return n === INVALID ? INVALID : { name: n };
});

/** keepalived reads only the first word: a command with arguments is quoted; the user is set with `user`. */
const command: ArgsParser<ScriptLine> = custom('<PATH>|"<PATH> <ARGS>"', (words, at, keyword, ctx) => {
  if (words.length > 1) {
    return error(ctx, words[1]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes one word: quote a command that has arguments ("/path/check --arg"), and set its user with 'user'`);
  }
  return script.parse(words, at, keyword, ctx);
});

export interface ScriptWeight {
  /** added to the priority while the script succeeds (positive), or subtracted while it fails (negative) */
  value: number;
  reverse: boolean;
}

/** `<-253..253> [reverse]` */
const weight: ArgsParser<ScriptWeight> = custom('<-253..253> [reverse]', (words, at, keyword, ctx) => {
  if (words.length === 0) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `'${keyword}' needs a value: ${keyword} <-253..253> [reverse]`);
  if (words.length > 2) return error(ctx, words[2]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes <-253..253> [reverse]; unexpected '${clip(words[2]!.text)}'`);
  const n = int({ min: -253, max: 253 }).parse(words[0]!, ctx);
  if (n === INVALID) return INVALID;
  const r = words[1];
  if (r && r.text !== 'reverse') return error(ctx, r.pos, 'ALIVED_CONFIG_BAD_VALUE', `unknown weight option '${clip(r.text)}': expected reverse`);
  return { value: n, reverse: r !== undefined };
});

export const vrrpScriptSchema = block(
  {
    script: value(command).required().doc('the command to run; quote it when it has arguments'),
    interval: word(int({ min: 1, max: MAX_SECS })).default(1).doc('seconds between runs; default 1'),
    timeout: word(int({ min: 1, max: MAX_SECS })).doc('seconds after which a run counts as failed; default the interval'),
    weight: value(weight).default({ value: 0, reverse: false }).doc('priority change, -253..253; 0 (default): FAULT while failed'),
    rise: word(int({ min: 1, max: INT32_MAX })).default(1).doc('successes before OK; default 1'),
    fall: word(int({ min: 1, max: INT32_MAX })).default(1).doc('failures before KO; default 1'),
    user: value(map(tuple([str(), str()], 1), (t) => ({ user: t[0]!, group: t[1] }))).doc('USER [GROUP] to run as; default global script_user'),
    init_fail: value(flag).doc('start in the failed state'),
  },
  { header, defines: { kind: 'vrrp_script', name: (v: { name: string }) => v.name } },
);

export interface TrackScriptEntry {
  name: string;
  /** overrides the script's weight */
  weight?: number;
  /** overrides the script's reverse (reverse / noreverse) */
  reverse?: boolean;
  pos: Pos;
}

/** `<SCRIPT_NAME> [weight <-253..253> [reverse|noreverse]]` */
export const trackScriptEntry: ArgsParser<TrackScriptEntry> = custom('<SCRIPT_NAME> [weight <-253..253> [reverse|noreverse]]', (words, at, keyword, ctx) => {
  const first: Token | undefined = words[0];
  if (!first) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `an entry of '${keyword}' needs a vrrp_script name`);
  ctx.refer('vrrp_script', first.text, first.pos, keyword);
  const out: TrackScriptEntry = { name: first.text, pos: first.pos };
  const opt = words[1];
  if (!opt) return out;
  if (opt.text !== 'weight') {
    const hint = nearest(opt.text, ['weight']);
    return error(ctx, opt.pos, 'ALIVED_CONFIG_UNKNOWN_KEYWORD', `unknown track_script option '${clip(opt.text)}'${hint ? ` (did you mean '${hint}'?)` : ''}; expected weight <-253..253> [reverse|noreverse]`);
  }
  const vw = words[2];
  if (!vw) return error(ctx, opt.pos, 'ALIVED_CONFIG_MISSING_VALUE', `option 'weight' needs a value: weight <-253..253>`);
  const n = int({ min: -253, max: 253 }).parse(vw, ctx);
  if (n === INVALID) return INVALID;
  out.weight = n;
  const r = words[3];
  if (r) {
    if (r.text !== 'reverse' && r.text !== 'noreverse') {
      const hint = nearest(r.text, ['reverse', 'noreverse']);
      return error(ctx, r.pos, 'ALIVED_CONFIG_BAD_VALUE', `unknown weight option '${clip(r.text)}': expected reverse or noreverse${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
    out.reverse = r.text === 'reverse';
  }
  if (words[4]) return error(ctx, words[4].pos, 'ALIVED_CONFIG_EXTRA_VALUE', `unexpected '${clip(words[4].text)}' in ${keyword}`);
  return out;
});

const plugin: AlivedPlugin = {
  name: 'track-script',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerTracker({
      keyword: 'vrrp_script',
      schema: vrrpScriptSchema,
      defines: 'vrrp_script',
      reference: { keyword: 'track_script', entry: trackScriptEntry },
    });
  },
};

export default plugin;
