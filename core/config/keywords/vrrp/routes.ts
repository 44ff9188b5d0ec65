import type { Pos } from '../../diagnostics';
import type { Token } from '../../lexer';
import type { CheckCtx } from '../../schema';
import {
  custom,
  ifname,
  int,
  INVALID,
  ip,
  nearest,
  oneOf,
  type ArgsParser,
  type Family,
  type Invalid,
  type IpAddress,
  type IpPrefix,
  type WordParser,
} from '../../values';
import { badWord, clip, optionValue, rtName, rtScope } from '../common';
import {
  dsfield,
  FamilyTracker,
  readValueOption,
  realms,
  routeAddress,
  routeTable,
  setTrackGroup,
  storeValue,
  valueOptions,
  type NamedOption,
} from './entry-options';
import { fail, looksLikeAddress, u32, u64, u8, unknownOption, wordOr } from './helpers';

/** Routes: virtual_routes, static_routes */

export interface RouteEncap {
  type: 'ip' | 'ip6' | 'mpls' | 'ila';
  /** mpls labels, ila locator */
  address?: string;
  id?: string;
  dst?: string;
  src?: string;
  tos?: string | number;
  ttl?: number;
  flags?: number;
}

export interface RouteNexthop {
  via?: IpAddress;
  dev?: string;
  /** 1..256 */
  weight?: number;
  onlink?: true;
  realms?: string;
  encap?: RouteEncap;
}

export interface RouteEntry {
  family: Family;
  /** unicast unless a route type was given (blackhole, unreachable, prohibit, local, ...) */
  type: string;
  /** the destination; 'default' for default/any/all */
  dst: IpPrefix | 'default';
  /** preferred source address (`src`) */
  src?: IpAddress;
  /** source prefix (`from`, IPv6 only) */
  from?: IpPrefix | 'default';
  via?: IpAddress;
  dev?: string;
  table?: string | number;
  protocol?: string | number;
  scope?: string | number;
  metric?: number;
  tos?: string | number;
  onlink?: true;
  noTrack?: true;
  trackGroup?: string;
  vrf?: string;
  /** keepalived prepends routes unless add or append is given */
  mode: 'prepend' | 'add' | 'append';
  nexthops: RouteNexthop[];
  encap?: RouteEncap;
  /** route metrics (mtu, advmss, rtt, ...) and other attributes (realms, expires, pref, ...) as written */
  attrs: Record<string, string | number | true>;
  /** metrics given with `lock` */
  locked: string[];
  pos: Pos;
}

const ROUTE_TYPES = ['local', 'nat', 'broadcast', 'brd', 'anycast', 'multicast', 'prohibit', 'unreachable', 'blackhole', 'xresolve', 'unicast', 'throw'];
const ROUTE_OPTIONS = [
  'inet',
  'inet6',
  'src',
  'as',
  'via',
  'gw',
  'from',
  'tos',
  'dsfield',
  'table',
  'protocol',
  'scope',
  'metric',
  'priority',
  'preference',
  'dev',
  'oif',
  'onlink',
  'encap',
  'expires',
  'mtu',
  'hoplimit',
  'advmss',
  'rtt',
  'rttvar',
  'reordering',
  'window',
  'cwnd',
  'ssthresh',
  'realms',
  'rto_min',
  'initcwnd',
  'initrwnd',
  'features',
  'quickack',
  'congctl',
  'pref',
  'ttl-propagate',
  'fastopen_no_cookie',
  'add',
  'prepend',
  'append',
  'or',
  'nexthop',
  'no_track',
  'track_group',
  'vrf',
  'to',
];

/** `<N>[s|sec|secs|ms|msec|msecs]`: ip route's rtt times */
const rttTime: WordParser<string> = {
  describe: '<TIME>[s|ms]',
  parse(w, ctx) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)(s|secs?|ms|msecs?)?$/i.exec(w.text);
    if (!m) return badWord(ctx, w, `'${clip(w.text)}' is not a time (e.g. 200ms, 1.5s, or a number of milliseconds)`);
    const ms = Number(m[1]) * (m[2] && !/^m/i.test(m[2]) ? 1000 : 1);
    if (m[2] && ms > 120000) return badWord(ctx, w, `${clip(w.text)} is out of range: at most 120s`, 'ALIVED_CONFIG_OUT_OF_RANGE');
    return w.text;
  },
};

/** the route metrics, which may be locked (`mtu lock 1400`), and their values */
const LOCKABLE = new Map<string, WordParser<string | number>>([
  ['mtu', u32],
  ['advmss', u32],
  ['rtt', rttTime],
  ['rttvar', rttTime],
  ['reordering', u32],
  ['cwnd', u32],
  ['ssthresh', u32],
  ['rto_min', rttTime],
  ['congctl', { describe: '<ALGORITHM>', parse: (w) => w.text }],
]);

const routeProtocol = rtName('protocol', 255, [
  'none',
  'redirect',
  'kernel',
  'boot',
  'static',
  'gated',
  'ra',
  'mrt',
  'zebra',
  'bird',
  'babel',
  'dnrouted',
  'xorp',
  'ntk',
  'dhcp',
  'keepalived',
]);

/** an address of one family, kept as its text */
function addressText(family: Family): WordParser<string> {
  const p = ip({ family });
  return {
    describe: p.describe,
    parse(w, ctx) {
      const a = p.parse(w, ctx);
      return a === INVALID ? INVALID : a.address;
    },
  };
}

/** the options of `encap ip` (family 4) and `encap ip6` (6), which name tos and ttl tc and hoplimit */
function encapOptions(family: Family): Map<string, NamedOption> {
  const [tos, ttl] = family === 4 ? ['tos', 'ttl'] : ['tc', 'hoplimit'];
  return valueOptions({
    id: { describe: '<ID>', parser: u64('encap id') },
    dst: { describe: '<IPADDR>', parser: addressText(family) },
    src: { describe: '<IPADDR>', parser: addressText(family) },
    [tos]: { key: 'tos', describe: '<DSFIELD>', parser: dsfield },
    [ttl]: { key: 'ttl', describe: '<0..255>', parser: u8 },
    flags: { describe: '<0..65535>', parser: int({ min: 0, max: 65535 }) },
  });
}
const ENCAP_OPTIONS = { ip: encapOptions(4), ip6: encapOptions(6) };

function parseEncap(ctx: CheckCtx, words: readonly Token[], i: number): { encap: RouteEncap; next: number } | Invalid {
  const typeTok = words[i + 1];
  if (!typeTok) return fail(ctx, words[i]!.pos, `'encap' needs a type: ip, ip6, mpls or ila`, 'ALIVED_CONFIG_MISSING_VALUE');
  const type = typeTok.text;
  let j = i + 2;
  if (type === 'mpls' || type === 'ila') {
    const a = words[j];
    if (!a)
      return fail(
        ctx,
        typeTok.pos,
        `'encap ${type}' needs ${type === 'mpls' ? 'a label stack (LABEL[/LABEL...])' : 'a locator (XXXX:XXXX:XXXX:XXXX)'}`,
        'ALIVED_CONFIG_MISSING_VALUE',
      );
    const good =
      type === 'mpls'
        ? /^\d+(\/\d+)*$/.test(a.text) && a.text.split('/').every((l) => Number(l) <= 1048575)
        : /^([0-9a-fA-F]{1,4}:){3}[0-9a-fA-F]{1,4}$/.test(a.text);
    if (!good) return badWord(ctx, a, `'${clip(a.text)}' is not ${type === 'mpls' ? 'an MPLS label stack' : 'an ILA locator'}`);
    return { encap: { type, address: a.text }, next: j + 1 };
  }
  if (type !== 'ip' && type !== 'ip6') return badWord(ctx, typeTok, `'${clip(type)}' is not an encap type: expected ip, ip6, mpls or ila`);
  const enc: RouteEncap = { type };
  const keys = ENCAP_OPTIONS[type];
  while (j + 1 < words.length && keys.has(words[j]!.text)) {
    if (!storeValue(ctx, words[j + 1]!, keys.get(words[j]!.text)!, enc)) return INVALID;
    j += 2;
  }
  if (enc.dst === undefined && enc.id === undefined)
    return fail(ctx, typeTok.pos, `'encap ${type}' needs dst <ADDRESS> or id <ID>`, 'ALIVED_CONFIG_MISSING_VALUE');
  return { encap: enc, next: j };
}

/** the route options of one value word: the rest are read by routeEntry itself */
const ROUTE_VALUES = valueOptions({
  'tos|dsfield': { describe: '<DSFIELD>', parser: dsfield },
  table: { describe: '<TABLE>', parser: routeTable },
  protocol: { describe: '<PROTOCOL>', parser: routeProtocol },
  scope: { describe: '<SCOPE>', parser: rtScope },
  'metric|priority|preference': { describe: '<NUMBER>', parser: u32 },
  'dev|oif': { describe: '<INTERFACE>', parser: ifname },
  vrf: { describe: '<VRF>', parser: ifname },
  expires: { describe: '<SECONDS>', parser: u32, attr: true, family: 6 },
  pref: { describe: 'low|medium|high|<0..255>', parser: wordOr(['low', 'medium', 'high'], u8), attr: true, family: 6 },
  realms: { describe: '<REALMS>', parser: realms, attr: true, family: 4 },
  hoplimit: { describe: '<NUMBER>', parser: u8, attr: true },
  'window|initcwnd|initrwnd': { describe: '<NUMBER>', parser: u32, attr: true },
  'quickack|fastopen_no_cookie': { describe: '<NUMBER>', parser: int({ min: 0, max: 1 }), attr: true },
  'ttl-propagate': { describe: 'enabled|disabled', parser: oneOf(['enabled', 'disabled']), attr: true },
});

/** a route entry while it is read: its destination comes last of all */
type RouteSoFar = Omit<RouteEntry, 'family' | 'dst'> & { dst?: RouteEntry['dst'] };

/** One route entry being read, word by word. */
interface RouteReader {
  readonly ctx: CheckCtx;
  readonly words: readonly Token[];
  readonly keyword: string;
  readonly allowTrackGroup: boolean;
  readonly fam: FamilyTracker;
  readonly out: RouteSoFar;
  /** the word being read */
  i: number;
  /** the destination's word, once read */
  dstTok: Token | undefined;
  /** `default6` names the family */
  familyFromDefault: Family | undefined;
  /** false once a bad value was reported: the entry fails after the rest is read */
  ok: boolean;
}

/** The value of the option at words[i], moving past it (a missing value is reported). */
function routeValue(r: RouteReader, describe: string): Token | undefined {
  return optionValue(r.ctx, r.words, r.i++, describe);
}

export function routeEntry(allowTrackGroup: boolean): ArgsParser<RouteEntry> {
  return custom(
    '[src <IPADDR>] [to] [<TYPE>] <IPADDR>[/<MASK>]|default [via|gw <IPADDR>] [or <IPADDR>] [dev <STRING>] [scope <SCOPE>] [table <TABLE>] [metric <N>] [nexthop ...] [no_track] ...',
    (words, at, keyword, ctx) => {
      const r: RouteReader = {
        ctx,
        words,
        keyword,
        allowTrackGroup,
        fam: new FamilyTracker(ctx, `a route in ${keyword}`),
        out: { type: 'unicast', mode: 'prepend', nexthops: [], attrs: {}, locked: [], pos: words[0]?.pos ?? at },
        i: 0,
        dstTok: undefined,
        familyFromDefault: undefined,
        ok: true,
      };
      for (; r.i < words.length; r.i++) if (readRouteWord(r) === INVALID) return INVALID;
      if (!r.ok) return INVALID;
      return finishRoute(r, words[0]?.pos ?? at);
    },
  );
}

/** The word at r.i: a value option, a route metric, another option, or else the destination. */
function readRouteWord(r: RouteReader): true | Invalid {
  const opt = r.words[r.i]!.text;
  const vo = ROUTE_VALUES.get(opt);
  if (vo) {
    const res = readValueOption(r.ctx, r.words, r.i++, vo, r.fam, vo.attr ? r.out.attrs : r.out);
    if (res === 'stop') return INVALID;
    if (res === 'bad') r.ok = false;
    return true;
  }
  const metric = LOCKABLE.get(opt);
  if (metric) return readMetric(r, opt, metric);
  const done = readRouteOption(r);
  return done === 'destination' ? readDestination(r) : done;
}

/** `mtu [lock] <VALUE>` and the other metrics that may be locked */
function readMetric(r: RouteReader, opt: string, metric: WordParser<string | number>): true | Invalid {
  let vw = routeValue(r, `[lock] <VALUE>`);
  if (!vw) return INVALID;
  if (vw.text === 'lock') {
    r.out.locked.push(opt);
    vw = routeValue(r, '<VALUE>');
    if (!vw) return INVALID;
  }
  const v = metric.parse(vw, r.ctx);
  if (v === INVALID) r.ok = false;
  else r.out.attrs[opt] = v;
  return true;
}

/** The options with words of their own; 'destination' when the word is none of them. */
function readRouteOption(r: RouteReader): true | Invalid | 'destination' {
  const { ctx, out, fam } = r;
  const w = r.words[r.i]!;
  const opt = w.text;
  switch (opt) {
    case 'inet':
    case 'inet6':
      return fam.set(opt === 'inet' ? 4 : 6, w, `'${clip(opt)}'`) || INVALID;
    case 'src': {
      const vw = routeValue(r, '<IPADDR>');
      const a = vw ? fam.address(vw, 'src') : INVALID;
      if (a === INVALID) return INVALID;
      out.src = a;
      return true;
    }
    case 'as':
      return fail(ctx, w.pos, `'as [to]' (MPLS NAT) is not supported for routes`, 'ALIVED_CONFIG_NOT_SUPPORTED');
    case 'via':
    case 'gw':
      return readVia(r, w);
    case 'from':
      return readFrom(r);
    case 'onlink':
      out.onlink = true;
      return true;
    case 'encap': {
      const e = parseEncap(ctx, r.words, r.i);
      if (e === INVALID) return INVALID;
      out.encap = e.encap;
      r.i = e.next - 1;
      return true;
    }
    case 'features': {
      const vw = routeValue(r, 'ecn');
      if (!vw) return INVALID;
      if (vw.text !== 'ecn') return badWord(ctx, vw, `route feature '${clip(vw.text)}' is not supported: only ecn`);
      out.attrs.features = 'ecn';
      return true;
    }
    case 'add':
    case 'prepend':
    case 'append':
      out.mode = opt;
      return true;
    case 'or':
      return readOr(r, w);
    case 'nexthop': {
      if (out.nexthops.length) return fail(ctx, w.pos, `nexthop cannot be combined with 'or'`, 'ALIVED_CONFIG_CONFLICT');
      const hops = parseNexthops(ctx, r.words, r.i, fam);
      if (hops === INVALID) return INVALID;
      out.nexthops = hops;
      r.i = r.words.length;
      return true;
    }
    case 'no_track':
      out.noTrack = true;
      return true;
    case 'track_group': {
      if (!r.allowTrackGroup) return 'destination';
      const vw = routeValue(r, '<GROUP>');
      return (vw && setTrackGroup(ctx, out, vw, r.keyword)) || INVALID;
    }
  }
  return 'destination';
}

/** `via|gw [inet|inet6] <IPADDR>` */
function readVia(r: RouteReader, w: Token): true | Invalid {
  if (w.text === 'gw') r.ctx.diags.note('ALIVED_CONFIG_DEPRECATED', w.pos, `'gw' is the old spelling of 'via' in routes; accepted`);
  let vw = routeValue(r, '[inet|inet6] <IPADDR>');
  if (!vw) return INVALID;
  if (vw.text === 'inet' || vw.text === 'inet6') {
    if (!r.fam.set(vw.text === 'inet' ? 4 : 6, vw, `via ${clip(vw.text)}`)) return INVALID;
    vw = routeValue(r, '<IPADDR>');
    if (!vw) return INVALID;
  }
  const a = r.fam.address(vw, 'via');
  if (a === INVALID) return INVALID;
  r.out.via = a;
  return true;
}

/** `from <IPADDR>[/<MASK>]`: IPv6 source routing */
function readFrom(r: RouteReader): true | Invalid {
  const vw = routeValue(r, '<IPADDR>[/<MASK>]');
  if (!vw) return INVALID;
  const a = routeAddress(r.ctx, vw);
  if (a === INVALID) return INVALID;
  if (a === 'default' || a.family !== 6) return fail(r.ctx, vw.pos, `'from' in a route is for IPv6 source routing only; use 'src' to set the source address`);
  if (!r.fam.set(6, vw, `from ${clip(vw.text)}`)) return INVALID;
  r.out.from = a;
  return true;
}

/** `or <IPADDR>`: the old spelling of two nexthops */
function readOr(r: RouteReader, w: Token): true | Invalid {
  const out = r.out;
  r.ctx.diags.note('ALIVED_CONFIG_DEPRECATED', w.pos, `'or' in routes is deprecated: use 'nexthop via <A> nexthop via <B>'; accepted`);
  if (out.nexthops.length) return fail(r.ctx, w.pos, `only one 'or' may be given, and not with nexthop`, 'ALIVED_CONFIG_CONFLICT');
  const vw = routeValue(r, '<IPADDR>');
  if (!vw) return INVALID;
  const a = r.fam.address(vw, 'or');
  if (a === INVALID) return INVALID;
  out.nexthops.push(out.via ? { via: out.via } : {}, { via: a });
  out.via = undefined;
  return true;
}

/** the destination: [to] [<TYPE>] <ADDRESS> */
function readDestination(r: RouteReader): true | Invalid {
  const { ctx, fam, out } = r;
  let d = r.words[r.i]!;
  if (d.text === 'to') {
    const n = routeValue(r, '[<TYPE>] <IPADDR>[/<MASK>]');
    if (!n) return INVALID;
    d = n;
  }
  if (ROUTE_TYPES.includes(d.text)) {
    out.type = d.text === 'brd' ? 'broadcast' : d.text;
    const n = r.words[r.i + 1];
    if (!n) return fail(ctx, d.pos, `route type '${clip(d.text)}' needs a destination`, 'ALIVED_CONFIG_MISSING_VALUE');
    r.i++;
    d = n;
  }
  if (d.text === 'default6') {
    ctx.diags.note('ALIVED_CONFIG_DEPRECATED', d.pos, `'default6' is deprecated: write 'inet6 default'; accepted`);
    if (!fam.set(6, d, 'default6')) return INVALID;
    r.familyFromDefault = 6;
    d = { ...d, text: 'default' };
  }
  if (d.text !== 'default' && d.text !== 'any' && d.text !== 'all' && !looksLikeAddress(d.text)) {
    const known = r.allowTrackGroup ? ROUTE_OPTIONS : ROUTE_OPTIONS.filter((o) => o !== 'track_group');
    return unknownOption(ctx, d, 'route', [...known, ...ROUTE_TYPES]);
  }
  const dst = routeAddress(ctx, d);
  if (dst === INVALID) return INVALID;
  if (out.dst !== undefined)
    return fail(ctx, d.pos, `the route already has the destination ${clip(r.dstTok!.text)}; '${clip(d.text)}' would replace it`, 'ALIVED_CONFIG_DUPLICATE');
  if (dst !== 'default' && !fam.set(dst.family, d, `destination ${clip(d.text)}`)) return INVALID;
  out.dst = dst;
  r.dstTok = d;
  return true;
}

/** What keepalived requires of a whole route, and its family. */
function finishRoute(r: RouteReader, at: Pos): RouteEntry | Invalid {
  const { ctx, out } = r;
  if (out.dst === undefined) return fail(ctx, at, `a route needs a destination (an address, or default)`, 'ALIVED_CONFIG_MISSING_VALUE');
  if (out.trackGroup !== undefined && out.dev === undefined) {
    return fail(ctx, out.pos, `a static route with track_group needs dev <INTERFACE>`, 'ALIVED_CONFIG_MISSING_VALUE');
  }
  if (!out.noTrack && out.protocol !== undefined && out.protocol !== 'keepalived' && out.protocol !== 18) {
    ctx.diags.compat(
      'ALIVED_CONFIG_NO_EFFECT',
      out.pos,
      `protocol ${out.protocol} is replaced by keepalived's own (18) because the route is tracked; add no_track to keep it`,
    );
  }
  return { ...out, family: r.fam.family ?? r.familyFromDefault ?? 4, dst: out.dst } as RouteEntry;
}

/** the nexthop options but via */
const NEXTHOP_VALUES = valueOptions({
  dev: { describe: '<INTERFACE>', parser: ifname },
  weight: { describe: '<1..256>', parser: int({ min: 1, max: 256 }) },
  realms: { describe: '<REALMS>', parser: realms, family: 4 },
});

function parseNexthops(ctx: CheckCtx, words: readonly Token[], start: number, fam: FamilyTracker): RouteNexthop[] | Invalid {
  const hops: RouteNexthop[] = [];
  let i = start;
  while (i < words.length && words[i]!.text === 'nexthop') {
    const hop: RouteNexthop = {};
    i++;
    for (; i < words.length; i++) {
      const w = words[i]!;
      const opt = w.text;
      if (opt === 'nexthop') break;
      if (opt === 'onlink') {
        hop.onlink = true;
        continue;
      }
      if (opt === 'encap') {
        const e = parseEncap(ctx, words, i);
        if (e === INVALID) return INVALID;
        hop.encap = e.encap;
        i = e.next - 1;
        continue;
      }
      if (opt === 'as') return fail(ctx, w.pos, `'as [to]' (MPLS NAT) is not supported for nexthops`, 'ALIVED_CONFIG_NOT_SUPPORTED');
      if (!['via', 'dev', 'weight', 'realms'].includes(opt)) {
        const hint = nearest(opt, ['via', 'dev', 'weight', 'onlink', 'encap', 'realms', 'nexthop']);
        return fail(
          ctx,
          w.pos,
          `unexpected '${clip(opt)}' after nexthop${hint ? ` (did you mean '${hint}'?)` : ''}; route options go before the first nexthop`,
          'ALIVED_CONFIG_UNKNOWN_KEYWORD',
        );
      }
      let vw = optionValue(ctx, words, i++, '<VALUE>');
      if (!vw) return INVALID;
      const o = NEXTHOP_VALUES.get(opt);
      if (o) {
        if ((o.family && !fam.only(o.family, w)) || !storeValue(ctx, vw, o, hop)) return INVALID;
        continue;
      }
      // via [inet|inet6] <IPADDR>
      if (vw.text === 'inet' || vw.text === 'inet6') {
        if (!fam.set(vw.text === 'inet' ? 4 : 6, vw, `nexthop via ${clip(vw.text)}`)) return INVALID;
        vw = optionValue(ctx, words, i++, '<IPADDR>');
        if (!vw) return INVALID;
      }
      const a = fam.address(vw, 'nexthop via');
      if (a === INVALID) return INVALID;
      hop.via = a;
    }
    hops.push(hop);
  }
  if (i < words.length) return fail(ctx, words[i]!.pos, `unexpected '${words[i]!.text}' after the nexthops`, 'ALIVED_CONFIG_EXTRA_VALUE');
  return hops;
}
