import type { CheckCtx } from '../schema';
import type { Token } from '../lexer';
import { custom, INVALID, name, type ArgsParser } from '../values';

/** `NAME` of a named block: `vrrp_instance VI_1 {`. */
export const namedHeader: ArgsParser<{ name: string }> = custom('<NAME>', (words, at, keyword, ctx) => {
  if (words.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a name: ${keyword} <NAME> { ... }`);
    return INVALID;
  }
  if (words.length > 1) {
    ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[1]!.pos, `'${keyword}' takes one name; unexpected '${words[1]!.text}'`);
    return INVALID;
  }
  const n = name.parse(words[0]!, ctx);
  return n === INVALID ? INVALID : { name: n };
});

/** A list entry that names another object: `track_script { chk_nginx }`. */
export function reference(kind: string, usedBy: string): (word: Token, ctx: CheckCtx) => string {
  return (word, ctx) => {
    ctx.refer(kind, word.text, word.pos, usedBy);
    return word.text;
  };
}
