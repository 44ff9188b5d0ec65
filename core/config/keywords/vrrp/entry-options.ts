import type { Token } from '../../lexer';
import type { CheckCtx } from '../../schema';
import { INVALID, ip, ipPrefix, type Family, type Invalid, type IpAddress, type IpPrefix, type WordParser } from '../../values';
import { badWord, clip, optionValue, rtName } from '../common';
import { fail, UINT32_MAX } from './helpers';

/**
 * What route and rule entries share: value options read from a table, the
 * address family an entry settles on, addresses that may be `default`,
 * realms, tables and track_group.
 */

/** `<REALM>[/<REALM>]` */
export const realms: WordParser<string> = {
  describe: '[<FROM_REALM>/]<TO_REALM>',
  parse(w, ctx) {
    const parts = w.text.split('/');
    if (parts.length > 2) return badWord(ctx, w, `'${clip(w.text)}' is not a realm or FROM/TO realms`);
    for (const p of parts) {
      const r = rtName('realm', 65535).parse({ ...w, text: p }, ctx);
      if (r === INVALID) return INVALID;
    }
    return w.text;
  },
};

export const dsfield = rtName('dsfield', 255);
export const routeTable = rtName('table', UINT32_MAX, ['default', 'main', 'local']);

/** A route destination or source: an address with an optional prefix, or default/any/all. */
export function routeAddress(ctx: CheckCtx, w: Token): IpPrefix | 'default' | Invalid {
  if (w.text === 'default' || w.text === 'any' || w.text === 'all') return 'default';
  return ipPrefix().parse(w, ctx);
}

export class FamilyTracker {
  family: Family | undefined;
  constructor(
    private readonly ctx: CheckCtx,
    private readonly what: string,
  ) {}
  set(f: Family, w: Token, detail: string): boolean {
    if (this.family === undefined) {
      this.family = f;
      return true;
    }
    if (this.family === f) return true;
    this.ctx.diags.error('ALIVED_CONFIG_CONFLICT', w.pos, `${this.what} mixes IPv4 and IPv6 (${detail})`);
    return false;
  }
  /** an option `w` of one family only */
  only(f: Family, w: Token): boolean {
    return this.set(f, w, `'${clip(w.text)}' is IPv${f} only`);
  }
  /** an address, of the entry's family; `what` names it in a conflict */
  address(w: Token, what: string): IpAddress | Invalid {
    const a = ip().parse(w, this.ctx);
    if (a === INVALID || !this.set(a.family, w, `${what} ${clip(w.text)}`)) return INVALID;
    return a;
  }
}

/**
 * An option that takes one value word and stores it as parsed: the shape of
 * most route and rule options. A missing value or a family conflict stops the
 * entry; a bad value is reported, and fails the entry once the rest is read.
 */
export interface ValueOption {
  describe: string;
  parser: WordParser<unknown>;
  /** the entry's field; default the first of the option's names */
  key?: string;
  /** routes: an attribute, kept in attrs under the option as written */
  attr?: true;
  /** the option is for this family only */
  family?: Family;
  /** rules: the option applies only to rules whose action is table */
  tableOnly?: true;
}

/** a value option under one of its names, with the field it sets */
export type NamedOption = ValueOption & { key: string };

/** A table of value options by `NAME|ALIAS|...`. */
export function valueOptions(spec: Record<string, ValueOption>): Map<string, NamedOption> {
  const table = new Map<string, NamedOption>();
  for (const [names, o] of Object.entries(spec)) {
    const all = names.split('|');
    for (const n of all) table.set(n, { ...o, key: o.attr ? n : (o.key ?? all[0]!) });
  }
  return table;
}

/** Parses the value word `vw` of a value option into `into`: false when it is bad (reported). */
export function storeValue(ctx: CheckCtx, vw: Token, o: NamedOption, into: object): boolean {
  const v = o.parser.parse(vw, ctx);
  if (v === INVALID) return false;
  (into as Record<string, unknown>)[o.key] = v;
  return true;
}

/** Reads the value option at words[i] into `into`: 'stop' (value missing, or family conflict), 'bad' (bad value) or 'ok'; all reported. */
export function readValueOption(ctx: CheckCtx, words: readonly Token[], i: number, o: NamedOption, fam: FamilyTracker, into: object): 'ok' | 'bad' | 'stop' {
  const vw = optionValue(ctx, words, i, o.describe);
  if (!vw || (o.family && !fam.only(o.family, words[i]!))) return 'stop';
  return storeValue(ctx, vw, o, into) ? 'ok' : 'bad';
}

/** `track_group <GROUP>` of a static route or rule: false when it is given twice (reported) */
export function setTrackGroup(ctx: CheckCtx, out: { trackGroup?: string }, vw: Token, keyword: string): boolean {
  if (out.trackGroup !== undefined) {
    fail(ctx, vw.pos, `track_group is given twice`, 'ALIVED_CONFIG_DUPLICATE');
    return false;
  }
  out.trackGroup = vw.text;
  ctx.refer('track_group', vw.text, vw.pos, keyword);
  return true;
}
