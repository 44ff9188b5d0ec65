import * as net from 'node:net';
import { lines, type CheckCtx, type Keyword } from '../schema';
import type { Token } from '../lexer';
import { clip, custom, INVALID, name, nearest, type ArgsParser, type WordParser } from '../values';

export { clip };

/** A word echoed in a message, shortened when it is very long. */

/** `NAME` of a named block: `vrrp_instance VI_1 {`. */
export const namedHeader: ArgsParser<{ name: string }> = custom('<NAME>', (words, at, keyword, ctx) => {
  if (words.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a name: ${keyword} <NAME> { ... }`);
    return INVALID;
  }
  if (words.length > 1) {
    ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[1]!.pos, `'${keyword}' takes one name; unexpected '${clip(words[1]!.text)}'`);
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

// ---------------------------------------------------------------------------
// shared by global-defs.ts and vrrp.ts

/** Reports a bad value at a word and returns INVALID. */
export function badWord(ctx: CheckCtx, word: Token, message: string, code = 'ALIVED_CONFIG_BAD_VALUE'): typeof INVALID {
  ctx.diags.error(code, word.pos, message);
  return INVALID;
}

/** The words after an option that takes a value; reports a missing value. */
export function optionValue(ctx: CheckCtx, words: readonly Token[], i: number, describe: string): Token | undefined {
  const v = words[i + 1];
  if (!v) ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', words[i]!.pos, `option '${words[i]!.text}' needs a value: ${words[i]!.text} ${describe}`);
  return v;
}

/** A host name or an IP address (smtp_server): keepalived resolves names. */
export const hostOrIp: WordParser<string> = {
  describe: '<IP|HOSTNAME>',
  parse(word, ctx) {
    const t = word.text;
    if (net.isIP(t) !== 0) return t;
    if (/^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/.test(t)) return t;
    return badWord(ctx, word, `'${clip(t)}' is neither an IP address nor a host name`);
  },
};

/**
 * A number or a name from one of iproute2's tables (rt_tables, rt_protos,
 * rt_realms, rt_dsfield): keepalived accepts the names the host defines in
 * /etc/iproute2, so any name-like word is accepted here.
 */
export function rtName(what: string, max: number, known: readonly string[] = []): WordParser<string | number> {
  return {
    describe: `<${what} NUMBER 0..${max}|NAME>`,
    parse(word, ctx) {
      const t = word.text;
      if (/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) {
        const n = t.startsWith('0x') ? parseInt(t, 16) : Number(t);
        if (n > max) {
          ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', word.pos, `${what} ${clip(t)} is out of range: expected 0..${max} or a name`);
          return INVALID;
        }
        return n;
      }
      if (known.includes(t)) return t;
      if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(t)) return t;
      return badWord(ctx, word, `'${clip(t)}' is not a ${what} number or name`);
    },
  };
}

/** iproute2's scopes: a number or one of the names it always knows. */
export const SCOPE_NAMES = ['global', 'nowhere', 'host', 'link', 'site'] as const;
export const rtScope: WordParser<string | number> = {
  describe: '<global|site|link|host|nowhere|0..255>',
  parse(word, ctx) {
    const t = word.text;
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) {
      const n = t.startsWith('0x') ? parseInt(t, 16) : Number(t);
      if (n > 255) {
        ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', word.pos, `scope ${clip(t)} is out of range: expected 0..255 or a scope name`);
        return INVALID;
      }
      return n;
    }
    if ((SCOPE_NAMES as readonly string[]).includes(t)) return t;
    const hint = nearest(t, SCOPE_NAMES);
    return badWord(ctx, word, `'${clip(t)}' is not a scope: expected ${SCOPE_NAMES.join(', ')} or a number${hint ? ` (did you mean '${hint}'?)` : ''}`);
  },
};

/** An interface name as the kernel accepts it for a new interface (VMAC, ipvlan): no '/', ':' or blanks, not '.' or '..'. */
export const newIfname: WordParser<string> = {
  describe: '<INTERFACE>',
  parse(word, ctx) {
    const t = word.text;
    if (t.length === 0 || t.length > 15 || /[\s/:]/.test(t) || t === '.' || t === '..') {
      return badWord(ctx, word, `'${clip(t)}' is not a valid interface name (1 to 15 characters, no '/', ':' or blanks)`);
    }
    return t;
  },
};

/**
 * A keyword that may stand alone or take one word: `nftables` or
 * `nftables my_table`. Alone gives `true`.
 */
export function optionalArg<T>(w: WordParser<T>): ArgsParser<T | true> {
  return custom(`[${w.describe}]`, (words, _at, keyword, ctx) => {
    if (words.length === 0) return true;
    if (words.length > 1) {
      ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[1]!.pos, `'${keyword}' takes [${w.describe}]; unexpected '${clip(words[1]!.text)}'`);
      return INVALID;
    }
    return w.parse(words[0]!, ctx);
  });
}

/**
 * A block of words read as one list, as keepalived's read_value_block reads
 * it: `group { VI_1 VI_2 }` and one name per line are the same. `onWord`
 * sees each word (to record a reference).
 */
export function wordList<T>(w: WordParser<T>, opts: { allowEmpty?: boolean; onWord?: (value: T, word: Token, ctx: CheckCtx) => void } = {}): Keyword<T[]> {
  const entry = custom(`${w.describe}...`, (words, _at, _keyword, ctx) => {
    const out: T[] = [];
    let ok = true;
    for (const word of words) {
      const v = w.parse(word, ctx);
      if (v === INVALID) ok = false;
      else {
        opts.onWord?.(v, word, ctx);
        out.push(v);
      }
    }
    return ok ? out : INVALID;
  });
  // each line gives a list; the validator flattens them into one, in place
  const kw = lines(entry, { allowEmpty: opts.allowEmpty ?? true }).validate((v) => {
    const flat = v.flat();
    // not splice(0, n, ...flat): a list of 100,000 words would be as many arguments, past the stack
    (v as unknown[]).length = 0;
    for (const x of flat) (v as unknown[]).push(x);
  });
  return kw as unknown as Keyword<T[]>;
}
