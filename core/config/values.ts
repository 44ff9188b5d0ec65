import * as net from 'node:net';
import type { Pos } from './diagnostics';
import type { Token } from './lexer';
import { splitCommandLine } from './lexer';
import { redactUrlSecrets } from '../log/url-secrets';
import type { CheckCtx } from './schema';

/**
 * Parsers for the values keywords take: single words (an integer, an
 * address) and whole argument lists (a script line, an address with options).
 * Each reports its own errors at the word's position and returns INVALID.
 */

export const INVALID: unique symbol = Symbol('alived.invalid');
export type Invalid = typeof INVALID;

export interface WordParser<T> {
  /** how the value is written, for messages and docs: `<INTEGER 1..255>` */
  readonly describe: string;
  parse(word: Token, ctx: CheckCtx): T | Invalid;
}

export interface ArgsParser<T> {
  readonly describe: string;
  /** `at` is where the keyword stands, for messages about missing words */
  parse(words: readonly Token[], at: Pos, keyword: string, ctx: CheckCtx): T | Invalid;
}

/**
 * A word as messages quote it: control characters shown as \xHH, long words
 * cut, so a pasted blob or a binary file does not flood the output; a
 * secret in a URL masked before the cut, which could leave half of it.
 */
export const clip = (word: string): string => {
  const s = redactUrlSecrets(word);
  const cut = s.length > 64 ? `${s.slice(0, 61)}...` : s;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
};

function bad(ctx: CheckCtx, word: Token, message: string): Invalid {
  ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', word.pos, message);
  return INVALID;
}

// ---------------------------------------------------------------------------
// words

export interface IntOptions {
  min?: number;
  max?: number;
  /** also accept 0x.. */
  hex?: boolean;
}

export function int(opts: IntOptions = {}): WordParser<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const range = opts.min !== undefined || opts.max !== undefined ? ` ${opts.min ?? '..'}..${opts.max ?? ''}` : '';
  return {
    describe: `<INTEGER${range}>`,
    parse(word, ctx) {
      const t = word.text;
      const re = opts.hex ? /^[+-]?(0x[0-9a-fA-F]+|\d+)$/ : /^[+-]?\d+$/;
      if (!re.test(t)) return bad(ctx, word, `'${clip(t)}' is not an integer`);
      const neg = t.startsWith('-');
      const body = t.replace(/^[+-]/, '');
      const n = (neg ? -1 : 1) * (body.startsWith('0x') ? parseInt(body, 16) : Number(body));
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', word.pos, `${clip(t)} is out of range: expected ${min}..${max}`);
        return INVALID;
      }
      return n;
    },
  };
}

export function uint(opts: { max?: number } = {}): WordParser<number> {
  return int({ min: 0, max: opts.max ?? 4294967295 });
}

export interface DurationOptions {
  /** seconds */
  min?: number;
  max?: number;
}

/** A time in seconds with an optional fraction, as keepalived's <TIMER>: `2.71828`, `3`. */
export function duration(opts: DurationOptions = {}): WordParser<number> {
  const min = opts.min ?? 0;
  const max = opts.max ?? 4294967;
  return {
    describe: `<SECONDS ${min}..${max}>`,
    parse(word, ctx) {
      const t = word.text;
      if (!/^\d+(\.\d{0,6})?$|^\.\d{1,6}$/.test(t)) return bad(ctx, word, `'${clip(t)}' is not a time in seconds (e.g. 3 or 0.5, at most 6 decimals)`);
      const n = Number(t);
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', word.pos, `${clip(t)} is out of range: expected ${min}..${max} seconds`);
        return INVALID;
      }
      return n;
    },
  };
}

export function decimal(opts: { min?: number; max?: number; places?: number } = {}): WordParser<number> {
  const min = opts.min ?? -Number.MAX_VALUE;
  const max = opts.max ?? Number.MAX_VALUE;
  const places = opts.places ?? 6;
  return {
    describe: `<DECIMAL${opts.min !== undefined ? ` ${min}..${max}` : ''}>`,
    parse(word, ctx) {
      const t = word.text;
      if (!new RegExp(`^[+-]?(\\d+(\\.\\d{0,${places}})?|\\.\\d{1,${places}})$`).test(t)) return bad(ctx, word, `'${clip(t)}' is not a decimal number`);
      const n = Number(t);
      if (n < min || n > max) {
        ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', word.pos, `${clip(t)} is out of range: expected ${min}..${max}`);
        return INVALID;
      }
      return n;
    },
  };
}

const TRUE_WORDS = ['true', 'on', 'yes'];
const FALSE_WORDS = ['false', 'off', 'no'];

/** keepalived's <BOOL>: on|off|true|false|yes|no. */
export const bool: WordParser<boolean> = {
  describe: '<on|off|true|false|yes|no>',
  parse(word, ctx) {
    const t = word.text.toLowerCase();
    if (TRUE_WORDS.includes(t)) return true;
    if (FALSE_WORDS.includes(t)) return false;
    return bad(ctx, word, `'${clip(word.text)}' is not a boolean: expected on, off, true, false, yes or no`);
  },
};

export function oneOf<const V extends string>(values: readonly V[], opts: { caseInsensitive?: boolean } = {}): WordParser<V> {
  return {
    describe: `<${values.join('|')}>`,
    parse(word, ctx) {
      const t = word.text;
      const found = values.find((v) => (opts.caseInsensitive ? v.toLowerCase() === t.toLowerCase() : v === t));
      if (found !== undefined) return found;
      const hint = nearest(t, values);
      return bad(ctx, word, `'${clip(t)}' is not one of ${values.join(', ')}${hint ? ` (did you mean '${hint}'?)` : ''}`);
    },
  };
}

export function str(opts: { pattern?: RegExp; patternText?: string; maxLength?: number; minLength?: number } = {}): WordParser<string> {
  return {
    describe: '<STRING>',
    parse(word, ctx) {
      const t = word.text;
      if (opts.minLength !== undefined && t.length < opts.minLength) return bad(ctx, word, `'${clip(t)}' is too short: at least ${opts.minLength} characters`);
      if (opts.maxLength !== undefined && t.length > opts.maxLength)
        return bad(ctx, word, `'${t.slice(0, 40)}' is too long: at most ${opts.maxLength} characters`);
      if (opts.pattern && !opts.pattern.test(t)) return bad(ctx, word, `'${clip(t)}' is not ${opts.patternText ?? `of the form ${opts.pattern.source}`}`);
      return t;
    },
  };
}

/** A name of a config object (instance, script, group). */
export const name: WordParser<string> = str({ pattern: /^[^\s{}]+$/, patternText: 'a name', maxLength: 255 });

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  readonly address: string;
}

export interface IpPrefix extends IpAddress {
  /** undefined when no /len was written */
  readonly prefix: number | undefined;
}

export function ip(opts: { family?: Family } = {}): WordParser<IpAddress> {
  const what = opts.family === 4 ? 'an IPv4 address' : opts.family === 6 ? 'an IPv6 address' : 'an IP address';
  return {
    describe: opts.family === 4 ? '<IPv4>' : opts.family === 6 ? '<IPv6>' : '<IP>',
    parse(word, ctx) {
      const t = word.text;
      const fam = net.isIP(stripZone(t));
      if (fam === 0 || (opts.family && fam !== opts.family)) return bad(ctx, word, `'${clip(t)}' is not ${what}`);
      return { family: fam as Family, address: t };
    },
  };
}

/**
 * An address where keepalived reads it with inet_stosockaddr (unicast_src_ip,
 * unicast_peer, mcast_src_ip, mcast_dst_ip): it cuts the word at the first
 * `-` or `/` and uses what is before, so `10.0.0.2/24` is 10.0.0.2. alived
 * does the same, with a warning naming what it dropped.
 */
export function sockaddrIp(opts: { family?: Family } = {}): WordParser<IpAddress> {
  const plain = ip(opts);
  return {
    describe: plain.describe,
    parse(word, ctx) {
      const t = word.text;
      const cut = t.indexOf('-') >= 0 ? t.indexOf('-') : t.indexOf('/');
      if (cut <= 0) return plain.parse(word, ctx);
      const a = plain.parse({ ...word, text: t.slice(0, cut) }, ctx);
      if (a === INVALID) return INVALID;
      const dropped = t.slice(cut);
      ctx.diags.compat(
        'ALIVED_CONFIG_EXTRA_VALUE',
        word.pos,
        `'${clip(dropped)}' after the address ${a.address} is dropped, as keepalived drops it: the address used is ${a.address}${dropped.startsWith('/') ? ' (a prefix length means nothing here)' : ' (a range is not read here)'}`,
      );
      return a;
    },
  };
}

export function ipPrefix(opts: { family?: Family } = {}): WordParser<IpPrefix> {
  return {
    describe: opts.family === 4 ? '<IPv4>[/<LEN>]' : opts.family === 6 ? '<IPv6>[/<LEN>]' : '<IP>[/<LEN>]',
    parse(word, ctx) {
      const t = word.text;
      const slash = t.indexOf('/');
      const addr = slash < 0 ? t : t.slice(0, slash);
      const fam = net.isIP(stripZone(addr));
      if (fam === 0 || (opts.family && fam !== opts.family)) {
        return bad(
          ctx,
          word,
          `'${clip(t)}' is not ${opts.family === 4 ? 'an IPv4' : opts.family === 6 ? 'an IPv6' : 'an IP'} address with an optional /prefix`,
        );
      }
      let prefix: number | undefined;
      if (slash >= 0) {
        const p = t.slice(slash + 1);
        const maxLen = fam === 4 ? 32 : 128;
        if (!/^\d{1,3}$/.test(p) || Number(p) > maxLen) return bad(ctx, word, `'/${clip(p)}' in '${clip(t)}' is not a prefix length 0..${maxLen}`);
        prefix = Number(p);
      }
      return { family: fam as Family, address: addr, prefix };
    },
  };
}

function stripZone(a: string): string {
  const pct = a.indexOf('%');
  return pct >= 0 ? a.slice(0, pct) : a;
}

export const port: WordParser<number> = { ...int({ min: 0, max: 65535 }), describe: '<PORT>' };

/** An interface name; one this host lacks is a warning, so a config can be checked elsewhere. */
export const ifname: WordParser<string> = {
  describe: '<INTERFACE>',
  parse(word, ctx) {
    const t = word.text;
    if (t.length === 0 || t.length > 15 || /[\s/]/.test(t))
      return bad(ctx, word, `'${clip(t)}' is not an interface name (1 to 15 characters, no '/' or blanks)`);
    if (ctx.host.interfaceExists(t) === false) {
      ctx.diags.warning('ALIVED_CONFIG_HOST_FACT', word.pos, `interface '${clip(t)}' does not exist on this host`);
    }
    return t;
  },
};

/** A file path; one this host lacks is a warning. */
export function filePath(opts: { mustExist?: boolean } = {}): WordParser<string> {
  return {
    describe: '<PATH>',
    parse(word, ctx) {
      const t = word.text;
      if (t.length === 0) return bad(ctx, word, 'the path is empty');
      if (opts.mustExist && ctx.host.fileExists(t) === false) {
        ctx.diags.warning('ALIVED_CONFIG_HOST_FACT', word.pos, `file '${clip(t)}' does not exist on this host`);
      }
      return t;
    },
  };
}

/** A mail recipient: keepalived takes any word, a local user name included. */
export const email: WordParser<string> = str({ pattern: /^[^\s@]+(@[^\s@]+)?$/, patternText: 'a mail address (user@domain or a local user)' });

export const hexString: WordParser<string> = str({ pattern: /^[0-9a-fA-F]+$/, patternText: 'a hexadecimal string' });

// ---------------------------------------------------------------------------
// argument lists

function missing(ctx: CheckCtx, at: Pos, keyword: string, describe: string): Invalid {
  ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a value: ${keyword} ${describe}`);
  return INVALID;
}

function extra(ctx: CheckCtx, word: Token, keyword: string, describe: string): void {
  ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', word.pos, `'${keyword}' takes ${describe ? describe : 'no value'}; unexpected '${clip(word.text)}'`);
}

/** Exactly one word. */
export function one<T>(w: WordParser<T>): ArgsParser<T> {
  return {
    describe: w.describe,
    parse(words, at, keyword, ctx) {
      if (words.length === 0) return missing(ctx, at, keyword, w.describe);
      if (words.length > 1) {
        extra(ctx, words[1]!, keyword, w.describe);
        return INVALID;
      }
      return w.parse(words[0]!, ctx);
    },
  };
}

/**
 * No word at all: the keyword alone means true. keepalived's handlers of such
 * keywords never read a value, so `nopreempt 1` or `enable_script_security
 * True` runs there with the flag on and the word ignored, whatever it says:
 * alived does the same, with a warning (an error under --strict).
 */
export const flag: ArgsParser<true> = {
  describe: '',
  parse(words, _at, keyword, ctx) {
    if (words.length > 0) ignoredAfterFlag(ctx, words, keyword);
    return true;
  },
};

function ignoredAfterFlag(ctx: CheckCtx, words: readonly Token[], keyword: string): void {
  const text = clip(words.map((w) => w.text).join(' '));
  const off = words.length === 1 && /^(0|off|false|no)$/i.test(words[0]!.text);
  ctx.diags.compat(
    'ALIVED_CONFIG_EXTRA_VALUE',
    words[0]!.pos,
    `'${keyword}' takes no value; '${text}' is ignored and '${keyword}' is on${off ? ` (not off: remove the line to turn it off)` : ''}, as in keepalived`,
  );
}

/** The keyword alone means true; a <BOOL> may follow. */
export const optBool: ArgsParser<boolean> = {
  describe: '[<BOOL>]',
  parse(words, _at, keyword, ctx) {
    if (words.length === 0) return true;
    if (words.length > 1) {
      extra(ctx, words[1]!, keyword, '[<BOOL>]');
      return INVALID;
    }
    return bool.parse(words[0]!, ctx);
  },
};

/**
 * The keyword alone means true, for keepalived flags whose handler never
 * reads a value (`ha_suspend`, `ops`, `alpha` in virtual_server): keepalived
 * ignores words after them, so a word draws a warning, not an error, and the
 * flag is on whatever the word says.
 */
export const bareFlag: ArgsParser<boolean> = {
  describe: '',
  parse(words, _at, keyword, ctx) {
    if (words.length > 0) ignoredAfterFlag(ctx, words, keyword);
    return true;
  },
};

type Outs<P extends readonly WordParser<unknown>[]> = { -readonly [K in keyof P]: P[K] extends WordParser<infer T> ? T : never };

/** Fixed words in order; the ones from `required` on may be left out. */
export function tuple<const P extends readonly WordParser<unknown>[]>(
  parsers: P,
  required = parsers.length,
): ArgsParser<Partial<Outs<P>> & { length: number }> {
  const describe = parsers.map((p, i) => (i < required ? p.describe : `[${p.describe}]`)).join(' ');
  return {
    describe,
    parse(words, at, keyword, ctx) {
      if (words.length < required) return missing(ctx, words[words.length - 1]?.pos ?? at, keyword, describe);
      if (words.length > parsers.length) {
        extra(ctx, words[parsers.length]!, keyword, describe);
        return INVALID;
      }
      const out: unknown[] = [];
      let ok = true;
      words.forEach((w, i) => {
        const v = parsers[i]!.parse(w, ctx);
        if (v === INVALID) ok = false;
        out.push(v);
      });
      return ok ? (out as unknown as Partial<Outs<P>> & { length: number }) : INVALID;
    },
  };
}

/** One or more words of one kind. */
export function many<T>(w: WordParser<T>, opts: { min?: number; max?: number } = {}): ArgsParser<T[]> {
  const min = opts.min ?? 1;
  const describe = `${w.describe}...`;
  return {
    describe,
    parse(words, at, keyword, ctx) {
      if (words.length < min) return missing(ctx, at, keyword, describe);
      if (opts.max !== undefined && words.length > opts.max) {
        extra(ctx, words[opts.max]!, keyword, describe);
        return INVALID;
      }
      const out: T[] = [];
      let ok = true;
      for (const word of words) {
        const v = w.parse(word, ctx);
        if (v === INVALID) ok = false;
        else out.push(v);
      }
      return ok ? out : INVALID;
    },
  };
}

/** All the words, joined with single blanks (free text such as a router id or a subject). */
export const text: ArgsParser<string> = {
  describe: '<TEXT>',
  parse(words, at, keyword, ctx) {
    if (words.length === 0) return missing(ctx, at, keyword, '<TEXT>');
    return words.map((w) => w.text).join(' ');
  },
};

export interface ScriptLine {
  /** the command as written */
  readonly command: string;
  /** the command split into words, escapes decoded */
  readonly argv: string[];
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly pos: Pos;
}

/**
 * keepalived's script line: `<PATH>|"<PATH> <ARGS>" [<USER> [<GROUP>]]`.
 * A path this host lacks is a warning.
 */
export const script: ArgsParser<ScriptLine> = {
  describe: '<SCRIPT>|"<SCRIPT> <ARGS>" [<USER> [<GROUP>]]',
  parse(words, at, keyword, ctx) {
    if (words.length === 0) return missing(ctx, at, keyword, this.describe);
    if (words.length > 3) {
      extra(ctx, words[3]!, keyword, this.describe + ' (quote a command that has arguments)');
      return INVALID;
    }
    const cmd = words[0]!;
    const split = splitCommandLine(cmd.text);
    if (split.error) return bad(ctx, cmd, `script '${clip(cmd.text)}': ${split.error}`);
    if (split.argv.length === 0) return bad(ctx, cmd, 'the script is empty');
    const exe = split.argv[0]!;
    if (exe.startsWith('/') && ctx.host.fileExists(exe) === false) {
      ctx.diags.warning('ALIVED_CONFIG_HOST_FACT', cmd.pos, `script '${clip(exe)}' does not exist on this host`);
    }
    return { command: cmd.text, argv: split.argv, user: words[1]?.text, group: words[2]?.text, pos: cmd.pos };
  },
};

export interface OptionSpec {
  /** value parser for `name VALUE` options; `null` for flags that stand alone */
  readonly [name: string]: WordParser<unknown> | null;
}

export type OptionValues<O extends OptionSpec> = {
  -readonly [K in keyof O]?: O[K] extends WordParser<infer T> ? T : true;
};

/**
 * Positional words followed by options in any order (`weight 10`, `dev eth0`,
 * `home`), as in virtual_ipaddress, track_interface or unicast_peer entries.
 */
export function withOptions<const P extends readonly WordParser<unknown>[], O extends OptionSpec>(
  positional: P,
  options: O,
  opts: { required?: number } = {},
): ArgsParser<{ args: Partial<Outs<P>>; options: OptionValues<O> }> {
  const required = opts.required ?? positional.length;
  const optNames = Object.keys(options);
  const describe = [
    ...positional.map((p, i) => (i < required ? p.describe : `[${p.describe}]`)),
    ...optNames.map((n) => (options[n] ? `[${n} ${options[n]!.describe}]` : `[${n}]`)),
  ].join(' ');
  return {
    describe,
    parse(words, at, keyword, ctx) {
      const args: unknown[] = [];
      const values: Record<string, unknown> = {};
      let ok = true;
      let i = 0;
      for (; i < positional.length && i < words.length; i++) {
        if (i >= required && Object.prototype.hasOwnProperty.call(options, words[i]!.text)) break;
        const v = positional[i]!.parse(words[i]!, ctx);
        if (v === INVALID) ok = false;
        args.push(v);
      }
      if (args.length < required) return missing(ctx, at, keyword, describe);
      while (i < words.length) {
        const w = words[i]!;
        if (!Object.prototype.hasOwnProperty.call(options, w.text)) {
          const hint = nearest(w.text, optNames);
          ctx.diags.error(
            'ALIVED_CONFIG_UNKNOWN_KEYWORD',
            w.pos,
            `unknown option '${clip(w.text)}' for '${keyword}'${hint ? ` (did you mean '${hint}'?)` : ''}; expected ${describe}`,
          );
          return INVALID;
        }
        const p = options[w.text];
        if (Object.prototype.hasOwnProperty.call(values, w.text)) {
          ctx.diags.warning('ALIVED_CONFIG_DUPLICATE', w.pos, `option '${w.text}' is given twice; the later one counts`);
        }
        if (p === null || p === undefined) {
          values[w.text] = true;
          i++;
          continue;
        }
        const vw = words[i + 1];
        if (!vw) {
          ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', w.pos, `option '${w.text}' needs a value: ${w.text} ${p.describe}`);
          return INVALID;
        }
        const v = p.parse(vw, ctx);
        if (v === INVALID) ok = false;
        values[w.text] = v;
        i += 2;
      }
      return ok ? { args: args as Partial<Outs<P>>, options: values as OptionValues<O> } : INVALID;
    },
  };
}

/** A parser written by hand, for forms the combinators above do not cover. */
export function custom<T>(describe: string, parse: (words: readonly Token[], at: Pos, keyword: string, ctx: CheckCtx) => T | Invalid): ArgsParser<T> {
  return { describe, parse };
}

/** Maps a parsed value; the function may report and return INVALID. */
export function map<A, B>(p: ArgsParser<A>, f: (a: A, words: readonly Token[], ctx: CheckCtx) => B | Invalid): ArgsParser<B> {
  return {
    describe: p.describe,
    parse(words, at, keyword, ctx) {
      const a = p.parse(words, at, keyword, ctx);
      return a === INVALID ? INVALID : f(a, words, ctx);
    },
  };
}

// ---------------------------------------------------------------------------

/** The closest candidate by edit distance, if it is close enough to be a likely typo. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase(), bestD);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.min(3, Math.floor(Math.max(word.length, best.length) / 3)));
  if (bestD <= limit) return best;
  // a prefix or containment of a long keyword is a likely miss as well
  if (word.length >= 4 && (best.startsWith(word) || word.startsWith(best))) return best;
  return undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  if (a.length > 64 || b.length > 64) return a === b ? 0 : cap;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1);
    row[0] = i;
    rows.push(row);
  }
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    let rowMin = Infinity;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin >= cap) return cap;
  }
  return rows[a.length]![b.length]!;
}
