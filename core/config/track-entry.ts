import type { Pos } from './diagnostics';
import type { Token } from './lexer';
import type { CheckCtx } from './schema';
import { clip, custom, int, INVALID, nearest, type ArgsParser, type Invalid, type WordParser } from './values';
import { namedHeader, optionValue } from './keywords/common';

/**
 * What the trackers share: the entries of the lists that name what an
 * instance or sync group tracks (`track_script`, `track_file`,
 * `track_process`, `track_interface`, `track_bfd`), each
 * `NAME [weight <N> [reverse|noreverse]]`, and the tracker blocks' header
 * and `weight <N> [reverse]`.
 */

/** An entry of a track list; the name is under `name`, or the key the spec gives. */
export type TrackReference<K extends string = 'name'> = { [P in K]: string } & {
  /** overrides the tracked object's weight */
  weight?: number;
  /** overrides its reverse (reverse / noreverse) */
  reverse?: boolean;
  pos: Pos;
};

export interface TrackReferenceSpec<K extends string = 'name'> {
  /** the list's keyword, as messages name it: track_script, track_interface, ... */
  kind: string;
  /** the name in the syntax line: '<SCRIPT_NAME>' */
  describe: string;
  /** what an empty entry lacks; default 'a <refersTo> name' */
  needs?: string;
  /** the kind of block the name refers to (checked once the whole config is read) */
  refersTo?: string;
  /** or the name's parser, where it names no block (track_interface: an interface) */
  name?: WordParser<string>;
  /** the entry's key for the name; default 'name' */
  key?: K;
  weight: { min: number; max: number };
  /** the words that may follow the weight; default reverse and noreverse */
  reverseWords?: readonly string[];
  /**
   * how the messages are worded: 'core' as the VRRP keywords' (a wrong word is an unknown option of the
   * list, or of its weight), 'plugin' as the tracker plugins' (an unknown option says what is expected;
   * a wrong word after the weight is a bad value)
   */
  wording: 'core' | 'plugin';
  /** plugin wording: suggest the nearest reverse word for a wrong one */
  reverseHint?: boolean;
}

function error(ctx: CheckCtx, pos: Pos, code: string, message: string): Invalid {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

function didYouMean(hint: string | undefined): string {
  return hint ? ` (did you mean '${hint}'?)` : '';
}

/** `<NAME> [weight <MIN..MAX> [reverse|noreverse]]`: an entry of a track list, as the spec says. */
export function trackReference<K extends string = 'name'>(spec: TrackReferenceSpec<K>): ArgsParser<TrackReference<K>> {
  const range = `<${spec.weight.min}..${spec.weight.max}>`;
  const reverseWords = spec.reverseWords ?? ['reverse', 'noreverse'];
  const after = `[weight ${range} [${reverseWords.join('|')}]]`;
  const needs = spec.needs ?? `a ${spec.refersTo} name`;
  const key = spec.key ?? 'name';
  const weight = int(spec.weight);
  return custom(`${spec.describe} ${after}`, (words, at, keyword, ctx) => {
    const first = words[0];
    if (!first) {
      const message = spec.wording === 'core' ? `'${keyword}' entry needs ${needs}` : `an entry of '${keyword}' needs ${needs}`;
      return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', message);
    }
    let name = first.text;
    if (spec.name) {
      const n = spec.name.parse(first, ctx);
      if (n === INVALID) return INVALID;
      name = n;
    }
    if (spec.refersTo) ctx.refer(spec.refersTo, first.text, first.pos, keyword);
    const out = { [key]: name, pos: first.pos } as TrackReference<K>;
    const opt = words[1];
    if (!opt) return out;
    if (opt.text !== 'weight') {
      const expected = spec.wording === 'core' ? '' : `; expected ${after.slice(1, -1)}`;
      return error(
        ctx,
        opt.pos,
        'ALIVED_CONFIG_UNKNOWN_KEYWORD',
        `unknown ${spec.kind} option '${clip(opt.text)}'${didYouMean(nearest(opt.text, ['weight']))}${expected}`,
      );
    }
    const vw = optionValue(ctx, words, 1, range);
    if (!vw) return INVALID;
    const n = weight.parse(vw, ctx);
    if (n === INVALID) return INVALID;
    out.weight = n;
    const r = words[3];
    if (r) {
      if (!reverseWords.includes(r.text)) return badReverse(ctx, r, reverseWords, spec);
      out.reverse = r.text === 'reverse';
    }
    if (words[4]) return error(ctx, words[4].pos, 'ALIVED_CONFIG_EXTRA_VALUE', `unexpected '${clip(words[4].text)}' in ${keyword}`);
    return out;
  });
}

function badReverse(ctx: CheckCtx, r: Token, reverseWords: readonly string[], spec: TrackReferenceSpec<string>): Invalid {
  const hint = didYouMean(nearest(r.text, reverseWords));
  if (spec.wording === 'core') return error(ctx, r.pos, 'ALIVED_CONFIG_UNKNOWN_KEYWORD', `unknown ${spec.kind} weight option '${clip(r.text)}'${hint}`);
  return error(
    ctx,
    r.pos,
    'ALIVED_CONFIG_BAD_VALUE',
    `unknown weight option '${clip(r.text)}': expected ${reverseWords.join(' or ')}${spec.reverseHint ? hint : ''}`,
  );
}

/** The header of a tracker block, `vrrp_script NAME {`: a name, as every named block's. */
export const trackerHeader: ArgsParser<{ name: string }> = namedHeader;

export interface TrackerWeight {
  /** how far the priority moves; 0: a failure means FAULT */
  value: number;
  reverse: boolean;
}

/** A tracker block's `weight <MIN..MAX> [reverse]`. */
export function trackerWeight(range: { min: number; max: number }): ArgsParser<TrackerWeight> {
  const syntax = `<${range.min}..${range.max}> [reverse]`;
  const weight = int(range);
  return custom(syntax, (words, at, keyword, ctx) => {
    if (words.length === 0) return error(ctx, at, 'ALIVED_CONFIG_MISSING_VALUE', `'${keyword}' needs a value: ${keyword} ${syntax}`);
    if (words.length > 2) return error(ctx, words[2]!.pos, 'ALIVED_CONFIG_EXTRA_VALUE', `'${keyword}' takes ${syntax}; unexpected '${clip(words[2]!.text)}'`);
    const n = weight.parse(words[0]!, ctx);
    if (n === INVALID) return INVALID;
    const r = words[1];
    if (r && r.text !== 'reverse') return error(ctx, r.pos, 'ALIVED_CONFIG_BAD_VALUE', `unknown weight option '${clip(r.text)}': expected reverse`);
    return { value: n, reverse: r !== undefined };
  });
}
