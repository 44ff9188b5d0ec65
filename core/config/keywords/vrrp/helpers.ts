import type { Pos } from '../../diagnostics';
import type { Token } from '../../lexer';
import type { CheckCtx } from '../../schema';
import { int, INVALID, nearest, type Invalid, type WordParser } from '../../values';
import { badWord, clip } from '../common';

/** Numbers and small parsers the VRRP keywords share. */

export const UINT32_MAX = 4294967295;
export const INT32_MAX = 2147483647;
export const MAX_TIMER_SECS = Math.floor(UINT32_MAX / 1000000);

export const u32 = int({ min: 0, max: UINT32_MAX });
export const u8 = int({ min: 0, max: 255 });

export function fail(ctx: CheckCtx, pos: Pos, message: string, code = 'ALIVED_CONFIG_BAD_VALUE'): Invalid {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

export function unknownOption(ctx: CheckCtx, w: Token, what: string, known: readonly string[]): Invalid {
  const hint = nearest(w.text, known);
  return fail(ctx, w.pos, `unknown ${what} option '${clip(w.text)}'${hint ? ` (did you mean '${hint}'?)` : ''}`, 'ALIVED_CONFIG_UNKNOWN_KEYWORD');
}

/** A word that looks like an address (digits with dots, or colons), to tell a bad address from a misspelt option. */
export function looksLikeAddress(t: string): boolean {
  return /^[0-9a-fA-F:.]+(\/.*)?$/.test(t) && /[.:]/.test(t);
}

/** a 64-bit number, kept as written */
export function u64(what: string): WordParser<string> {
  return {
    describe: '<0..18446744073709551615>',
    parse(w, ctx) {
      if (!/^\d+$/.test(w.text) || BigInt(w.text) > 18446744073709551615n) return badWord(ctx, w, `${what} '${clip(w.text)}' is not a 64-bit number`);
      return w.text;
    },
  };
}

/** one of some words, or else a value of `other` */
export function wordOr<W extends string, T>(words: readonly W[], other: WordParser<T>): WordParser<W | T> {
  return {
    describe: `${words.join('|')}|${other.describe}`,
    parse: (w, ctx) => ((words as readonly string[]).includes(w.text) ? (w.text as W) : other.parse(w, ctx)),
  };
}
