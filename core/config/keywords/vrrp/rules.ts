import type { Pos } from '../../diagnostics';
import type { Token } from '../../lexer';
import type { CheckCtx } from '../../schema';
import { custom, ifname, int, INVALID, type ArgsParser, type Family, type Invalid, type IpPrefix, type WordParser } from '../../values';
import { badWord, clip, optionValue, rtName } from '../common';
import { dsfield, FamilyTracker, readValueOption, realms, routeAddress, routeTable, setTrackGroup, valueOptions } from './entry-options';
import { fail, INT32_MAX, looksLikeAddress, u32, u64, u8, UINT32_MAX, unknownOption } from './helpers';

/** Rules: virtual_rules, static_rules */

export interface RuleEntry {
  family: Family;
  /** to_tbl (table/lookup, l3mdev), goto, nop, blackhole, unreachable, prohibit */
  action: 'table' | 'l3mdev' | 'goto' | 'nop' | 'blackhole' | 'unreachable' | 'prohibit';
  table?: string | number;
  gotoTarget?: number;
  from?: IpPrefix | 'default';
  to?: IpPrefix | 'default';
  not?: true;
  preference?: number;
  tos?: string | number;
  fwmark?: number;
  fwmask?: number;
  realms?: string;
  suppressPrefixlength?: number;
  suppressIfgroup?: string | number;
  iif?: string;
  oif?: string;
  tunnelId?: string;
  uidrange?: { start: number; end: number };
  protocol?: number;
  ipproto?: string | number;
  sport?: { start: number; end: number };
  dport?: { start: number; end: number };
  noTrack?: true;
  trackGroup?: string;
  pos: Pos;
}

const RULE_OPTIONS = [
  'inet',
  'inet6',
  'from',
  'to',
  'table',
  'lookup',
  'not',
  'preference',
  'order',
  'priority',
  'tos',
  'dsfield',
  'fwmark',
  'realms',
  'suppress_prefixlength',
  'sup_pl',
  'suppress_ifgroup',
  'sup_group',
  'dev',
  'iif',
  'oif',
  'tunnel-id',
  'uidrange',
  'l3mdev',
  'protocol',
  'ipproto',
  'sport',
  'dport',
  'no_track',
  'track_group',
  'type',
  'goto',
  'nop',
  'blackhole',
  'unreachable',
  'prohibit',
];

/** `<PORT>[-<PORT>]` */
const portRange: WordParser<{ start: number; end: number }> = {
  describe: '<PORT>[-<PORT>]',
  parse(w, ctx) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(w.text);
    if (!m || Number(m[1]) > 65535 || Number(m[2] ?? m[1]) > 65535) return badWord(ctx, w, `'${clip(w.text)}' is not a port or PORT-PORT range (0..65535)`);
    return { start: Number(m[1]), end: Number(m[2] ?? m[1]) };
  },
};

/** `<UID>-<UID>` */
const uidRange: WordParser<{ start: number; end: number }> = {
  describe: '<UID>-<UID>',
  parse(w, ctx) {
    const m = /^(\d+)-(\d+)$/.exec(w.text);
    if (!m || Number(m[1]) > UINT32_MAX || Number(m[2]) > UINT32_MAX) return badWord(ctx, w, `'${clip(w.text)}' is not a uid range FIRST-LAST`);
    return { start: Number(m[1]), end: Number(m[2]) };
  },
};

/** the rule options of one value word: the rest are read by ruleEntry itself */
const RULE_VALUES = valueOptions({
  'preference|order|priority': { describe: '<NUMBER>', parser: u32 },
  'tos|dsfield': { describe: '<DSFIELD>', parser: dsfield },
  realms: { describe: '<REALMS>', parser: realms, family: 4, tableOnly: true },
  'suppress_prefixlength|sup_pl': { key: 'suppressPrefixlength', describe: '<LENGTH>', parser: int({ min: 0, max: INT32_MAX }), tableOnly: true },
  'suppress_ifgroup|sup_group': { key: 'suppressIfgroup', describe: '<GROUP>', parser: rtName('interface group', INT32_MAX), tableOnly: true },
  'dev|iif': { key: 'iif', describe: '<INTERFACE>', parser: ifname },
  oif: { describe: '<INTERFACE>', parser: ifname },
  'tunnel-id': { key: 'tunnelId', describe: '<ID>', parser: u64('tunnel-id') },
  uidrange: { describe: '<UID>-<UID>', parser: uidRange },
  protocol: { describe: '<0..255>', parser: u8 },
  ipproto: { describe: '<PROTOCOL>', parser: rtName('IP protocol', 255) },
  sport: { describe: '<PORT>[-<PORT>]', parser: portRange },
  dport: { describe: '<PORT>[-<PORT>]', parser: portRange },
});

/** One rule entry being read, word by word. */
interface RuleReader {
  readonly ctx: CheckCtx;
  readonly words: readonly Token[];
  readonly keyword: string;
  readonly allowTrackGroup: boolean;
  readonly fam: FamilyTracker;
  readonly out: Partial<RuleEntry> & { pos: Pos };
  /** the word being read */
  i: number;
  /** the word that gave the action, once read */
  actionTok: Token | undefined;
  /** the last option that applies only to rules whose action is table */
  tableOptionTok: Token | undefined;
  /** false once a bad value was reported: the entry fails after the rest is read */
  ok: boolean;
}

/** The value of the option at words[i], moving past it (a missing value is reported). */
function ruleValue(r: RuleReader, describe: string): Token | undefined {
  const v = optionValue(r.ctx, r.words, r.i, describe);
  if (v) r.i++;
  return v;
}

export function ruleEntry(allowTrackGroup: boolean): ArgsParser<RuleEntry> {
  return custom(
    '[from <IPADDR>[/<MASK>]] [to <IPADDR>[/<MASK>]] table <TABLE>|goto <N>|nop|blackhole|unreachable|prohibit|l3mdev [preference <N>] ...',
    (words, at, keyword, ctx) => {
      const r: RuleReader = {
        ctx,
        words,
        keyword,
        allowTrackGroup,
        fam: new FamilyTracker(ctx, `a rule in ${keyword}`),
        out: { pos: words[0]?.pos ?? at },
        i: 0,
        actionTok: undefined,
        tableOptionTok: undefined,
        ok: true,
      };
      for (; r.i < words.length; r.i++) if (readRuleWord(r) === INVALID) return INVALID;
      if (!r.ok) return INVALID;
      return finishRule(r);
    },
  );
}

/** a rule takes one action: false (reported) when it has one already */
function setAction(r: RuleReader, a: RuleEntry['action'], w: Token): boolean {
  if (r.out.action !== undefined) {
    r.ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      w.pos,
      `a rule takes one action (table, goto, nop, blackhole, prohibit, unreachable or l3mdev); '${clip(r.actionTok!.text)}' is already given`,
    );
    return false;
  }
  r.out.action = a;
  r.actionTok = w;
  return true;
}

/** The word at r.i: a value option, another option, or else an action. */
function readRuleWord(r: RuleReader): true | Invalid {
  const w = r.words[r.i]!;
  const vo = RULE_VALUES.get(w.text);
  if (vo) {
    const res = readValueOption(r.ctx, r.words, r.i++, vo, r.fam, r.out);
    if (res === 'stop') return INVALID;
    if (res === 'bad') r.ok = false;
    if (vo.tableOnly) r.tableOptionTok = w;
    return true;
  }
  const done = readRuleOption(r, w);
  return done === 'action' ? readAction(r, w) : done;
}

/** The options with words of their own; 'action' when the word is none of them. */
function readRuleOption(r: RuleReader, w: Token): true | Invalid | 'action' {
  const { ctx, out, fam } = r;
  const opt = w.text;
  switch (opt) {
    case 'inet':
    case 'inet6':
      return fam.set(opt === 'inet' ? 4 : 6, w, `'${clip(opt)}'`) || INVALID;
    case 'from':
    case 'to': {
      const vw = ruleValue(r, '<IPADDR>[/<MASK>]');
      if (!vw) return INVALID;
      const a = routeAddress(ctx, vw);
      if (a === INVALID) return INVALID;
      if (a !== 'default' && !fam.set(a.family, vw, `${opt} ${clip(vw.text)}`)) return INVALID;
      out[opt] = a;
      return true;
    }
    case 'table':
    case 'lookup': {
      const vw = ruleValue(r, '<TABLE>');
      if (!vw) return INVALID;
      const t = routeTable.parse(vw, ctx);
      if (t === INVALID) return INVALID;
      if (t === 0) return badWord(ctx, vw, 'table 0 is not valid for a rule');
      if (!setAction(r, 'table', w)) return INVALID;
      out.table = t;
      return true;
    }
    case 'not':
      out.not = true;
      return true;
    case 'fwmark':
      return readFwmark(r);
    case 'l3mdev':
      return setAction(r, 'l3mdev', w) || INVALID;
    case 'no_track':
      out.noTrack = true;
      return true;
    case 'track_group': {
      if (!r.allowTrackGroup) return 'action';
      const vw = ruleValue(r, '<GROUP>');
      return (vw && setTrackGroup(ctx, out, vw, r.keyword)) || INVALID;
    }
  }
  return 'action';
}

/** `fwmark <MARK>[/<MASK>]` */
function readFwmark(r: RuleReader): true | Invalid {
  const vw = ruleValue(r, '<MARK>[/<MASK>]');
  if (!vw) return INVALID;
  const m = /^(0x[0-9a-fA-F]+|\d+)(?:\/(0x[0-9a-fA-F]+|\d+))?$/.exec(vw.text);
  const val = (s: string): number => (s.startsWith('0x') ? parseInt(s, 16) : Number(s));
  if (!m || val(m[1]!) > UINT32_MAX || (m[2] !== undefined && val(m[2]) > UINT32_MAX)) {
    r.ok = false;
    badWord(r.ctx, vw, `'${clip(vw.text)}' is not a firewall mark MARK[/MASK] (32-bit numbers)`);
  } else {
    r.out.fwmark = val(m[1]!);
    if (m[2] !== undefined) r.out.fwmask = val(m[2]);
  }
  return true;
}

/** [type] goto <N> | nop | blackhole | unreachable | prohibit */
function readAction(r: RuleReader, w: Token): true | Invalid {
  let t = w;
  let opt = w.text;
  if (opt === 'type') {
    const n = ruleValue(r, 'goto|nop|blackhole|unreachable|prohibit');
    if (!n) return INVALID;
    t = n;
    opt = n.text;
  }
  if (opt === 'goto') {
    const vw = ruleValue(r, '<PREFERENCE>');
    if (!vw) return INVALID;
    const n = u32.parse(vw, r.ctx);
    if (n === INVALID) return INVALID;
    if (!setAction(r, 'goto', t)) return INVALID;
    r.out.gotoTarget = n;
    return true;
  }
  if (opt === 'nop' || opt === 'blackhole' || opt === 'unreachable' || opt === 'prohibit') return setAction(r, opt, t) || INVALID;
  if (looksLikeAddress(opt)) return fail(r.ctx, t.pos, `'${clip(opt)}': an address in a rule follows 'from' or 'to'`);
  const known = r.allowTrackGroup ? RULE_OPTIONS : RULE_OPTIONS.filter((o) => o !== 'track_group');
  return unknownOption(r.ctx, t, 'rule', known);
}

/** What keepalived requires of a whole rule, and its family. */
function finishRule(r: RuleReader): RuleEntry | Invalid {
  const { ctx, out } = r;
  if (out.action === undefined)
    return fail(
      ctx,
      out.pos,
      `a rule needs an action: table <TABLE>, goto <N>, nop, blackhole, unreachable, prohibit or l3mdev`,
      'ALIVED_CONFIG_MISSING_VALUE',
    );
  if (out.action === 'goto') {
    if (out.preference === undefined) return fail(ctx, r.actionTok!.pos, `a goto rule needs a preference lower than its target`, 'ALIVED_CONFIG_MISSING_VALUE');
    if (out.preference >= out.gotoTarget!)
      return fail(ctx, r.actionTok!.pos, `goto ${out.gotoTarget} must jump forward: it is not after preference ${out.preference}`, 'ALIVED_CONFIG_CONFLICT');
  }
  if (r.tableOptionTok && out.action !== 'table') {
    return fail(ctx, r.tableOptionTok.pos, `'${clip(r.tableOptionTok.text)}' applies only to rules whose action is table`, 'ALIVED_CONFIG_CONFLICT');
  }
  if (out.trackGroup !== undefined && out.iif === undefined) {
    return fail(ctx, out.pos, `a static rule with track_group needs dev <INTERFACE>`, 'ALIVED_CONFIG_MISSING_VALUE');
  }
  if (out.preference === undefined) {
    ctx.diags.compat(
      'ALIVED_CONFIG_NO_EFFECT',
      out.pos,
      `this rule has no preference: keepalived picks one, which is probably not what you want; add preference <N>`,
    );
  }
  if (!out.noTrack && out.protocol !== undefined && out.protocol !== 18) {
    ctx.diags.compat(
      'ALIVED_CONFIG_NO_EFFECT',
      out.pos,
      `protocol ${out.protocol} is replaced by keepalived's own (18) because the rule is tracked; add no_track to keep it`,
    );
  }
  return { ...out, family: r.fam.family ?? 4 } as RuleEntry;
}
