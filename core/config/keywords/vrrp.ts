import type { Pos } from '../diagnostics';
import type { Token } from '../lexer';
import { block, lines, sub, value, word, type CheckCtx } from '../schema';
import type { Stmt } from '../tree';
import {
  custom,
  duration,
  flag,
  ifname,
  int,
  INVALID,
  ip,
  ipPrefix,
  map,
  name,
  nearest,
  oneOf,
  optBool,
  script,
  sockaddrIp,
  uint,
  type ArgsParser,
  type Family,
  type Invalid,
  type IpAddress,
  type IpPrefix,
  type WordParser,
} from '../values';
import { badWord, clip, childStmt, wordList, namedHeader, newIfname, optionalArg, optionValue, rtName, rtScope } from './common';
import { garpExtraIf, isLinkLocalMulticast6, isMulticast } from './global-defs';
import { trackReference, type TrackReference } from '../track-entry';

/**
 * The VRRP part of keepalived.conf, as keepalived 2.2.8 reads it
 * (keepalived/vrrp/vrrp_parser.c and the address, route and rule parsers):
 * vrrp_instance, vrrp_sync_group, static addresses/routes/rules and their
 * track groups, garp_group, linkbeat_interfaces, interface_up_down_delays
 * and bfd_instance. track_script, track_file and track_process come from
 * the tracker plugins through the vrrp_instance and vrrp_sync_group slots.
 */

const UINT32_MAX = 4294967295;
const INT32_MAX = 2147483647;
const MAX_TIMER_SECS = Math.floor(UINT32_MAX / 1000000);

const u32 = int({ min: 0, max: UINT32_MAX });
const u8 = int({ min: 0, max: 255 });

function fail(ctx: CheckCtx, pos: Pos, message: string, code = 'ALIVED_CONFIG_BAD_VALUE'): Invalid {
  ctx.diags.error(code, pos, message);
  return INVALID;
}

function unknownOption(ctx: CheckCtx, w: Token, what: string, known: readonly string[]): Invalid {
  const hint = nearest(w.text, known);
  return fail(ctx, w.pos, `unknown ${what} option '${clip(w.text)}'${hint ? ` (did you mean '${hint}'?)` : ''}`, 'ALIVED_CONFIG_UNKNOWN_KEYWORD');
}

/** A word that looks like an address (digits with dots, or colons), to tell a bad address from a misspelt option. */
function looksLikeAddress(t: string): boolean {
  return /^[0-9a-fA-F:.]+(\/.*)?$/.test(t) && /[.:]/.test(t);
}

/** a 64-bit number, kept as written */
function u64(what: string): WordParser<string> {
  return {
    describe: '<0..18446744073709551615>',
    parse(w, ctx) {
      if (!/^\d+$/.test(w.text) || BigInt(w.text) > 18446744073709551615n) return badWord(ctx, w, `${what} '${clip(w.text)}' is not a 64-bit number`);
      return w.text;
    },
  };
}

/** one of some words, or else a value of `other` */
function wordOr<W extends string, T>(words: readonly W[], other: WordParser<T>): WordParser<W | T> {
  return {
    describe: `${words.join('|')}|${other.describe}`,
    parse: (w, ctx) => ((words as readonly string[]).includes(w.text) ? (w.text as W) : other.parse(w, ctx)),
  };
}

// ---------------------------------------------------------------------------
// addresses: virtual_ipaddress, virtual_ipaddress_excluded, static_ipaddress

export interface AddressEntry extends IpPrefix {
  /** the interface (dev); default the instance's interface, or default_interface for static addresses */
  dev?: string;
  scope?: string | number;
  /** an IPv4 broadcast address, or '+' / '-' to set / clear the host bits */
  broadcast?: string;
  label?: string;
  peer?: IpPrefix;
  home?: true;
  nodad?: true;
  mngtmpaddr?: true;
  noprefixroute?: true;
  autojoin?: true;
  /** keepalived neither tracks nor restores the address if it is deleted */
  noTrack?: true;
  /** put the address on a VMAC (not static addresses) */
  useVmac?: true;
  /** static addresses: the track_group whose instances go to FAULT if it is deleted */
  trackGroup?: string;
  /** seconds, or 'forever' */
  preferredLft?: number | 'forever';
  pos: Pos;
}

type AddressKind = 'virtual_ipaddress' | 'virtual_ipaddress_excluded' | 'static_ipaddress';

const ADDRESS_FLAGS = { home: 'home', '-nodad': 'nodad', mngtmpaddr: 'mngtmpaddr', noprefixroute: 'noprefixroute', autojoin: 'autojoin', no_track: 'noTrack' } as const;

/** `preferred_lft <SECONDS>|forever` */
const lifetime = wordOr(['forever'], u32);

function addressEntry(kind: AddressKind): ArgsParser<AddressEntry> {
  const isStatic = kind === 'static_ipaddress';
  const options = ['dev', 'scope', 'broadcast', 'brd', 'label', 'peer', 'preferred_lft', ...Object.keys(ADDRESS_FLAGS), isStatic ? 'track_group' : 'use_vmac'];
  const describe = `<IPADDR>[/<MASK>] [brd <IPADDR>] [dev <STRING>] [scope <SCOPE>] [label <LABEL>] [peer <IPADDR>] [home] [-nodad] [mngtmpaddr] [noprefixroute] [autojoin] [no_track] [preferred_lft <SECONDS>|forever]${isStatic ? ' [track_group <GROUP>]' : ' [use_vmac]'}`;
  return custom(describe, (words, at, keyword, ctx) => {
    const first = words[0];
    if (!first) return fail(ctx, at, `'${keyword}' entry needs an address`, 'ALIVED_CONFIG_MISSING_VALUE');
    const addr = ipPrefix().parse(first, ctx);
    if (addr === INVALID) return INVALID;
    const out: AddressEntry = { ...addr, pos: first.pos };
    const v6 = addr.family === 6;
    let ok = true;
    let brdTok: Token | undefined;
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      const opt = w.text;
      if (Object.prototype.hasOwnProperty.call(ADDRESS_FLAGS, opt)) {
        out[ADDRESS_FLAGS[opt as keyof typeof ADDRESS_FLAGS]] = true;
        continue;
      }
      if (opt === 'use_vmac' && !isStatic) {
        out.useVmac = true;
        continue;
      }
      if (!options.includes(opt)) {
        if (opt === 'track_group' || opt === 'use_vmac') {
          return fail(ctx, w.pos, `'${clip(opt)}' is not allowed in ${keyword}${opt === 'track_group' ? ' (only static addresses have track groups; instances track their own addresses)' : ''}`);
        }
        return unknownOption(ctx, w, 'address', options);
      }
      const vw = optionValue(ctx, words, i, '<VALUE>');
      if (!vw) return INVALID;
      i++;
      switch (opt) {
        case 'dev': {
          if (out.dev !== undefined) return fail(ctx, w.pos, `the device of ${addr.address} is given twice`, 'ALIVED_CONFIG_DUPLICATE');
          const d = ifname.parse(vw, ctx);
          if (d === INVALID) ok = false;
          else out.dev = d;
          break;
        }
        case 'scope': {
          const s = rtScope.parse(vw, ctx);
          if (s === INVALID) ok = false;
          else if (v6) {
            // keepalived passes it on; the kernel gives an IPv6 address the scope of its kind whatever it is told
            ctx.diags.compat(
              'ALIVED_CONFIG_NO_EFFECT',
              w.pos,
              `scope is ignored on the IPv6 address ${addr.address}: the kernel sets an IPv6 address's scope from the address itself (link for fe80::/10, else global), as it does for keepalived`,
            );
          } else out.scope = s;
          break;
        }
        case 'broadcast':
        case 'brd': {
          if (v6) return fail(ctx, w.pos, `an IPv6 address has no broadcast address (${addr.address})`);
          brdTok = w;
          if (vw.text === '+' || vw.text === '-') out.broadcast = vw.text;
          else {
            const b = ip({ family: 4 }).parse(vw, ctx);
            if (b === INVALID) ok = false;
            else out.broadcast = b.address;
          }
          break;
        }
        case 'label': {
          if (vw.text.length > 15) {
            ok = false;
            fail(ctx, vw.pos, `label '${clip(vw.text)}' is longer than 15 characters`);
          } else if (v6) {
            ok = false;
            fail(ctx, w.pos, `an IPv6 address cannot have a label (${addr.address})`);
          } else out.label = vw.text;
          break;
        }
        case 'peer': {
          if (out.peer) return fail(ctx, w.pos, `a peer of ${addr.address} is already given`, 'ALIVED_CONFIG_DUPLICATE');
          const p = ipPrefix().parse(vw, ctx);
          if (p === INVALID) ok = false;
          else if (p.family !== addr.family) {
            fail(ctx, vw.pos, `peer ${clip(vw.text)} is not of the family of ${addr.address}`);
            ok = false;
          } else if (addr.prefix !== undefined && addr.prefix !== (v6 ? 128 : 32)) {
            fail(ctx, first.pos, `${clip(first.text)}: give the prefix length on the peer address, not on the local address`, 'ALIVED_CONFIG_CONFLICT');
            ok = false;
          } else out.peer = p;
          break;
        }
        case 'preferred_lft': {
          const n = lifetime.parse(vw, ctx);
          if (n === INVALID) ok = false;
          else out.preferredLft = n;
          break;
        }
        case 'track_group': {
          const g = name.parse(vw, ctx);
          if (g === INVALID) ok = false;
          else {
            if (out.trackGroup !== undefined) return fail(ctx, w.pos, `track_group is given twice`, 'ALIVED_CONFIG_DUPLICATE');
            out.trackGroup = g;
            ctx.refer('track_group', g, vw.pos, keyword);
          }
          break;
        }
      }
    }
    if (!ok) return INVALID;
    if (out.broadcast !== undefined && out.peer) return fail(ctx, brdTok!.pos, `${addr.address}: a broadcast address and a peer address cannot both be set`, 'ALIVED_CONFIG_CONFLICT');
    if ((out.broadcast === '+' || out.broadcast === '-') && (addr.prefix ?? 32) > 30) {
      return fail(ctx, brdTok!.pos, `${addr.address}: 'brd ${out.broadcast}' needs a prefix of /30 or shorter`);
    }
    if (out.trackGroup !== undefined && out.dev === undefined) {
      return fail(ctx, first.pos, `${addr.address}: a static address with track_group needs dev <INTERFACE>`, 'ALIVED_CONFIG_MISSING_VALUE');
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// routes: virtual_routes, static_routes

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
  'inet', 'inet6', 'src', 'as', 'via', 'gw', 'from', 'tos', 'dsfield', 'table', 'protocol', 'scope', 'metric', 'priority', 'preference',
  'dev', 'oif', 'onlink', 'encap', 'expires', 'mtu', 'hoplimit', 'advmss', 'rtt', 'rttvar', 'reordering', 'window', 'cwnd', 'ssthresh',
  'realms', 'rto_min', 'initcwnd', 'initrwnd', 'features', 'quickack', 'congctl', 'pref', 'ttl-propagate', 'fastopen_no_cookie',
  'add', 'prepend', 'append', 'or', 'nexthop', 'no_track', 'track_group', 'vrf', 'to',
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

/** `<REALM>[/<REALM>]` */
const realms: WordParser<string> = {
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

const dsfield = rtName('dsfield', 255);
const routeTable = rtName('table', UINT32_MAX, ['default', 'main', 'local']);
const routeProtocol = rtName('protocol', 255, ['none', 'redirect', 'kernel', 'boot', 'static', 'gated', 'ra', 'mrt', 'zebra', 'bird', 'babel', 'dnrouted', 'xorp', 'ntk', 'dhcp', 'keepalived']);

/** A route destination or source: an address with an optional prefix, or default/any/all. */
function routeAddress(ctx: CheckCtx, w: Token): IpPrefix | 'default' | Invalid {
  if (w.text === 'default' || w.text === 'any' || w.text === 'all') return 'default';
  return ipPrefix().parse(w, ctx);
}

class FamilyTracker {
  family: Family | undefined;
  constructor(private readonly ctx: CheckCtx, private readonly what: string) {}
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
interface ValueOption {
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
type NamedOption = ValueOption & { key: string };

/** A table of value options by `NAME|ALIAS|...`. */
function valueOptions(spec: Record<string, ValueOption>): Map<string, NamedOption> {
  const table = new Map<string, NamedOption>();
  for (const [names, o] of Object.entries(spec)) {
    const all = names.split('|');
    for (const n of all) table.set(n, { ...o, key: o.attr ? n : (o.key ?? all[0]!) });
  }
  return table;
}

/** Parses the value word `vw` of a value option into `into`: false when it is bad (reported). */
function storeValue(ctx: CheckCtx, vw: Token, o: NamedOption, into: object): boolean {
  const v = o.parser.parse(vw, ctx);
  if (v === INVALID) return false;
  (into as Record<string, unknown>)[o.key] = v;
  return true;
}

/** Reads the value option at words[i] into `into`: 'stop' (value missing, or family conflict), 'bad' (bad value) or 'ok'; all reported. */
function readValueOption(ctx: CheckCtx, words: readonly Token[], i: number, o: NamedOption, fam: FamilyTracker, into: object): 'ok' | 'bad' | 'stop' {
  const vw = optionValue(ctx, words, i, o.describe);
  if (!vw || (o.family && !fam.only(o.family, words[i]!))) return 'stop';
  return storeValue(ctx, vw, o, into) ? 'ok' : 'bad';
}

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
    if (!a) return fail(ctx, typeTok.pos, `'encap ${type}' needs ${type === 'mpls' ? 'a label stack (LABEL[/LABEL...])' : 'a locator (XXXX:XXXX:XXXX:XXXX)'}`, 'ALIVED_CONFIG_MISSING_VALUE');
    const good = type === 'mpls' ? /^\d+(\/\d+)*$/.test(a.text) && a.text.split('/').every((l) => Number(l) <= 1048575) : /^([0-9a-fA-F]{1,4}:){3}[0-9a-fA-F]{1,4}$/.test(a.text);
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
  if (enc.dst === undefined && enc.id === undefined) return fail(ctx, typeTok.pos, `'encap ${type}' needs dst <ADDRESS> or id <ID>`, 'ALIVED_CONFIG_MISSING_VALUE');
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

/** `track_group <GROUP>` of a static route or rule: false when it is given twice (reported) */
function setTrackGroup(ctx: CheckCtx, out: { trackGroup?: string }, vw: Token, keyword: string): boolean {
  if (out.trackGroup !== undefined) {
    fail(ctx, vw.pos, `track_group is given twice`, 'ALIVED_CONFIG_DUPLICATE');
    return false;
  }
  out.trackGroup = vw.text;
  ctx.refer('track_group', vw.text, vw.pos, keyword);
  return true;
}

function routeEntry(allowTrackGroup: boolean): ArgsParser<RouteEntry> {
  const known = allowTrackGroup ? ROUTE_OPTIONS : ROUTE_OPTIONS.filter((o) => o !== 'track_group');
  return custom(
    '[src <IPADDR>] [to] [<TYPE>] <IPADDR>[/<MASK>]|default [via|gw <IPADDR>] [or <IPADDR>] [dev <STRING>] [scope <SCOPE>] [table <TABLE>] [metric <N>] [nexthop ...] [no_track] ...',
    (words, at, keyword, ctx) => {
      const fam = new FamilyTracker(ctx, `a route in ${keyword}`);
      const out: Omit<RouteEntry, 'family' | 'dst'> & { dst?: RouteEntry['dst'] } = {
        type: 'unicast',
        mode: 'prepend',
        nexthops: [],
        attrs: {},
        locked: [],
        pos: words[0]?.pos ?? at,
      };
      let dstTok: Token | undefined;
      let familyFromDefault: Family | undefined;
      let ok = true;
      const need = (i: number, describe: string): Token | undefined => optionValue(ctx, words, i, describe);
      let i = 0;
      for (; i < words.length; i++) {
        const w = words[i]!;
        const opt = w.text;
        const vo = ROUTE_VALUES.get(opt);
        if (vo) {
          const r = readValueOption(ctx, words, i++, vo, fam, vo.attr ? out.attrs : out);
          if (r === 'stop') return INVALID;
          if (r === 'bad') ok = false;
          continue;
        }
        const metric = LOCKABLE.get(opt);
        if (metric) {
          let vw = need(i++, `[lock] <VALUE>`);
          if (!vw) return INVALID;
          if (vw.text === 'lock') {
            out.locked.push(opt);
            vw = need(i++, '<VALUE>');
            if (!vw) return INVALID;
          }
          const v = metric.parse(vw, ctx);
          if (v === INVALID) ok = false;
          else out.attrs[opt] = v;
          continue;
        }
        switch (opt) {
          case 'inet':
          case 'inet6':
            if (!fam.set(opt === 'inet' ? 4 : 6, w, `'${clip(opt)}'`)) return INVALID;
            continue;
          case 'src': {
            const vw = need(i++, '<IPADDR>');
            if (!vw) return INVALID;
            const a = fam.address(vw, 'src');
            if (a === INVALID) return INVALID;
            out.src = a;
            continue;
          }
          case 'as':
            return fail(ctx, w.pos, `'as [to]' (MPLS NAT) is not supported for routes`, 'ALIVED_CONFIG_NOT_SUPPORTED');
          case 'via':
          case 'gw': {
            if (opt === 'gw') ctx.diags.note('ALIVED_CONFIG_DEPRECATED', w.pos, `'gw' is the old spelling of 'via' in routes; accepted`);
            let vw = need(i++, '[inet|inet6] <IPADDR>');
            if (!vw) return INVALID;
            if (vw.text === 'inet' || vw.text === 'inet6') {
              if (!fam.set(vw.text === 'inet' ? 4 : 6, vw, `via ${clip(vw.text)}`)) return INVALID;
              vw = need(i++, '<IPADDR>');
              if (!vw) return INVALID;
            }
            const a = fam.address(vw, 'via');
            if (a === INVALID) return INVALID;
            out.via = a;
            continue;
          }
          case 'from': {
            const vw = need(i++, '<IPADDR>[/<MASK>]');
            if (!vw) return INVALID;
            const a = routeAddress(ctx, vw);
            if (a === INVALID) return INVALID;
            if (a === 'default' || a.family !== 6) return fail(ctx, vw.pos, `'from' in a route is for IPv6 source routing only; use 'src' to set the source address`);
            if (!fam.set(6, vw, `from ${clip(vw.text)}`)) return INVALID;
            out.from = a;
            continue;
          }
          case 'onlink':
            out.onlink = true;
            continue;
          case 'encap': {
            const e = parseEncap(ctx, words, i);
            if (e === INVALID) return INVALID;
            out.encap = e.encap;
            i = e.next - 1;
            continue;
          }
          case 'features': {
            const vw = need(i++, 'ecn');
            if (!vw) return INVALID;
            if (vw.text !== 'ecn') return badWord(ctx, vw, `route feature '${clip(vw.text)}' is not supported: only ecn`);
            out.attrs.features = 'ecn';
            continue;
          }
          case 'add':
          case 'prepend':
          case 'append':
            out.mode = opt;
            continue;
          case 'or': {
            ctx.diags.note('ALIVED_CONFIG_DEPRECATED', w.pos, `'or' in routes is deprecated: use 'nexthop via <A> nexthop via <B>'; accepted`);
            if (out.nexthops.length) return fail(ctx, w.pos, `only one 'or' may be given, and not with nexthop`, 'ALIVED_CONFIG_CONFLICT');
            const vw = need(i++, '<IPADDR>');
            if (!vw) return INVALID;
            const a = fam.address(vw, 'or');
            if (a === INVALID) return INVALID;
            out.nexthops.push(out.via ? { via: out.via } : {}, { via: a });
            out.via = undefined;
            continue;
          }
          case 'nexthop': {
            if (out.nexthops.length) return fail(ctx, w.pos, `nexthop cannot be combined with 'or'`, 'ALIVED_CONFIG_CONFLICT');
            const r = parseNexthops(ctx, words, i, fam);
            if (r === INVALID) return INVALID;
            out.nexthops = r;
            i = words.length;
            continue;
          }
          case 'no_track':
            out.noTrack = true;
            continue;
          case 'track_group': {
            if (!allowTrackGroup) break;
            const vw = need(i++, '<GROUP>');
            if (!vw || !setTrackGroup(ctx, out, vw, keyword)) return INVALID;
            continue;
          }
        }
        // the destination: [to] [<TYPE>] <ADDRESS>
        let d = w;
        if (d.text === 'to') {
          const n = need(i++, '[<TYPE>] <IPADDR>[/<MASK>]');
          if (!n) return INVALID;
          d = n;
        }
        if (ROUTE_TYPES.includes(d.text)) {
          out.type = d.text === 'brd' ? 'broadcast' : d.text;
          const n = words[i + 1];
          if (!n) return fail(ctx, d.pos, `route type '${clip(d.text)}' needs a destination`, 'ALIVED_CONFIG_MISSING_VALUE');
          i++;
          d = n;
        }
        if (d.text === 'default6') {
          ctx.diags.note('ALIVED_CONFIG_DEPRECATED', d.pos, `'default6' is deprecated: write 'inet6 default'; accepted`);
          if (!fam.set(6, d, 'default6')) return INVALID;
          familyFromDefault = 6;
          d = { ...d, text: 'default' };
        }
        if (d.text !== 'default' && d.text !== 'any' && d.text !== 'all' && !looksLikeAddress(d.text)) {
          return unknownOption(ctx, d, 'route', [...known, ...ROUTE_TYPES]);
        }
        const dst = routeAddress(ctx, d);
        if (dst === INVALID) return INVALID;
        if (out.dst !== undefined) return fail(ctx, d.pos, `the route already has the destination ${clip(dstTok!.text)}; '${clip(d.text)}' would replace it`, 'ALIVED_CONFIG_DUPLICATE');
        if (dst !== 'default' && !fam.set(dst.family, d, `destination ${clip(d.text)}`)) return INVALID;
        out.dst = dst;
        dstTok = d;
      }
      if (!ok) return INVALID;
      if (out.dst === undefined) return fail(ctx, words[0]?.pos ?? at, `a route needs a destination (an address, or default)`, 'ALIVED_CONFIG_MISSING_VALUE');
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
      return { ...out, family: fam.family ?? familyFromDefault ?? 4, dst: out.dst } as RouteEntry;
    },
  );
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
        return fail(ctx, w.pos, `unexpected '${clip(opt)}' after nexthop${hint ? ` (did you mean '${hint}'?)` : ''}; route options go before the first nexthop`, 'ALIVED_CONFIG_UNKNOWN_KEYWORD');
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

// ---------------------------------------------------------------------------
// rules: virtual_rules, static_rules

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
  'inet', 'inet6', 'from', 'to', 'table', 'lookup', 'not', 'preference', 'order', 'priority', 'tos', 'dsfield', 'fwmark', 'realms',
  'suppress_prefixlength', 'sup_pl', 'suppress_ifgroup', 'sup_group', 'dev', 'iif', 'oif', 'tunnel-id', 'uidrange', 'l3mdev', 'protocol',
  'ipproto', 'sport', 'dport', 'no_track', 'track_group', 'type', 'goto', 'nop', 'blackhole', 'unreachable', 'prohibit',
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

function ruleEntry(allowTrackGroup: boolean): ArgsParser<RuleEntry> {
  const known = allowTrackGroup ? RULE_OPTIONS : RULE_OPTIONS.filter((o) => o !== 'track_group');
  return custom('[from <IPADDR>[/<MASK>]] [to <IPADDR>[/<MASK>]] table <TABLE>|goto <N>|nop|blackhole|unreachable|prohibit|l3mdev [preference <N>] ...', (words, at, keyword, ctx) => {
    const fam = new FamilyTracker(ctx, `a rule in ${keyword}`);
    const out: Partial<RuleEntry> & { pos: Pos } = { pos: words[0]?.pos ?? at };
    let actionTok: Token | undefined;
    let tableOptionTok: Token | undefined;
    let ok = true;
    const setAction = (a: RuleEntry['action'], w: Token): boolean => {
      if (out.action !== undefined) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', w.pos, `a rule takes one action (table, goto, nop, blackhole, prohibit, unreachable or l3mdev); '${clip(actionTok!.text)}' is already given`);
        return false;
      }
      out.action = a;
      actionTok = w;
      return true;
    };
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      let opt = w.text;
      const need = (describe: string): Token | undefined => {
        const v = optionValue(ctx, words, i, describe);
        if (v) i++;
        return v;
      };
      const vo = RULE_VALUES.get(opt);
      if (vo) {
        const r = readValueOption(ctx, words, i++, vo, fam, out);
        if (r === 'stop') return INVALID;
        if (r === 'bad') ok = false;
        if (vo.tableOnly) tableOptionTok = w;
        continue;
      }
      switch (opt) {
        case 'inet':
        case 'inet6':
          if (!fam.set(opt === 'inet' ? 4 : 6, w, `'${clip(opt)}'`)) return INVALID;
          continue;
        case 'from':
        case 'to': {
          const vw = need('<IPADDR>[/<MASK>]');
          if (!vw) return INVALID;
          const a = routeAddress(ctx, vw);
          if (a === INVALID) return INVALID;
          if (a !== 'default' && !fam.set(a.family, vw, `${opt} ${clip(vw.text)}`)) return INVALID;
          out[opt] = a;
          continue;
        }
        case 'table':
        case 'lookup': {
          const vw = need('<TABLE>');
          if (!vw) return INVALID;
          const t = routeTable.parse(vw, ctx);
          if (t === INVALID) return INVALID;
          if (t === 0) return badWord(ctx, vw, 'table 0 is not valid for a rule');
          if (!setAction('table', w)) return INVALID;
          out.table = t;
          continue;
        }
        case 'not':
          out.not = true;
          continue;
        case 'fwmark': {
          const vw = need('<MARK>[/<MASK>]');
          if (!vw) return INVALID;
          const m = /^(0x[0-9a-fA-F]+|\d+)(?:\/(0x[0-9a-fA-F]+|\d+))?$/.exec(vw.text);
          const val = (s: string): number => (s.startsWith('0x') ? parseInt(s, 16) : Number(s));
          if (!m || val(m[1]!) > UINT32_MAX || (m[2] !== undefined && val(m[2]) > UINT32_MAX)) {
            ok = false;
            badWord(ctx, vw, `'${clip(vw.text)}' is not a firewall mark MARK[/MASK] (32-bit numbers)`);
          } else {
            out.fwmark = val(m[1]!);
            if (m[2] !== undefined) out.fwmask = val(m[2]);
          }
          continue;
        }
        case 'l3mdev':
          if (!setAction('l3mdev', w)) return INVALID;
          continue;
        case 'no_track':
          out.noTrack = true;
          continue;
        case 'track_group': {
          if (!allowTrackGroup) break;
          const vw = need('<GROUP>');
          if (!vw || !setTrackGroup(ctx, out, vw, keyword)) return INVALID;
          continue;
        }
      }
      // [type] goto <N> | nop | blackhole | unreachable | prohibit
      let t = w;
      if (opt === 'type') {
        const n = need('goto|nop|blackhole|unreachable|prohibit');
        if (!n) return INVALID;
        t = n;
        opt = n.text;
      }
      if (opt === 'goto') {
        const vw = need('<PREFERENCE>');
        if (!vw) return INVALID;
        const n = u32.parse(vw, ctx);
        if (n === INVALID) return INVALID;
        if (!setAction('goto', t)) return INVALID;
        out.gotoTarget = n;
        continue;
      }
      if (opt === 'nop' || opt === 'blackhole' || opt === 'unreachable' || opt === 'prohibit') {
        if (!setAction(opt, t)) return INVALID;
        continue;
      }
      if (looksLikeAddress(opt)) return fail(ctx, t.pos, `'${clip(opt)}': an address in a rule follows 'from' or 'to'`);
      return unknownOption(ctx, t, 'rule', known);
    }
    if (!ok) return INVALID;
    if (out.action === undefined) return fail(ctx, out.pos, `a rule needs an action: table <TABLE>, goto <N>, nop, blackhole, unreachable, prohibit or l3mdev`, 'ALIVED_CONFIG_MISSING_VALUE');
    if (out.action === 'goto') {
      if (out.preference === undefined) return fail(ctx, actionTok!.pos, `a goto rule needs a preference lower than its target`, 'ALIVED_CONFIG_MISSING_VALUE');
      if (out.preference >= out.gotoTarget!) return fail(ctx, actionTok!.pos, `goto ${out.gotoTarget} must jump forward: it is not after preference ${out.preference}`, 'ALIVED_CONFIG_CONFLICT');
    }
    if (tableOptionTok && out.action !== 'table') {
      return fail(ctx, tableOptionTok.pos, `'${clip(tableOptionTok.text)}' applies only to rules whose action is table`, 'ALIVED_CONFIG_CONFLICT');
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
      ctx.diags.compat('ALIVED_CONFIG_NO_EFFECT', out.pos, `protocol ${out.protocol} is replaced by keepalived's own (18) because the rule is tracked; add no_track to keep it`);
    }
    return { ...out, family: fam.family ?? 4 } as RuleEntry;
  });
}

// ---------------------------------------------------------------------------
// tracking entries, unicast peers, VMAC

export interface TrackInterfaceEntry {
  interface: string;
  weight?: number;
  reverse?: true;
  pos: Pos;
}

/** `<INTERFACE> [weight <-253..253> [reverse]]` (reverse is only ever true: the one word it takes) */
const trackInterfaceEntry = trackReference({
  kind: 'track_interface',
  describe: '<INTERFACE>',
  needs: 'an interface',
  name: ifname,
  key: 'interface',
  weight: { min: -253, max: 253 },
  reverseWords: ['reverse'],
  wording: 'core',
}) as ArgsParser<TrackInterfaceEntry>;

export type TrackBfdEntry = TrackReference;

/** `<BFD_INSTANCE> [weight <-253..253> [reverse|noreverse]]` */
const trackBfdEntry: ArgsParser<TrackBfdEntry> = trackReference({ kind: 'track_bfd', describe: '<BFD_NAME>', refersTo: 'bfd_instance', weight: { min: -253, max: 253 }, wording: 'core' });

export interface UnicastPeer extends IpAddress {
  minTtl?: number;
  maxTtl?: number;
  pos: Pos;
}

/** `<IPADDR> [min_ttl <0..255>] [max_ttl <0..255>]` */
const unicastPeerEntry: ArgsParser<UnicastPeer> = custom('<IPADDR> [min_ttl <0..255>] [max_ttl <0..255>]', (words, at, keyword, ctx) => {
  const first = words[0];
  if (!first) return fail(ctx, at, `'${keyword}' entry needs an address`, 'ALIVED_CONFIG_MISSING_VALUE');
  const a = sockaddrIp().parse(first, ctx);
  if (a === INVALID) return INVALID;
  const out: UnicastPeer = { ...a, pos: first.pos };
  for (let i = 1; i < words.length; i += 2) {
    const w = words[i]!;
    if (w.text !== 'min_ttl' && w.text !== 'max_ttl') return unknownOption(ctx, w, 'unicast_peer', ['min_ttl', 'max_ttl']);
    const vw = optionValue(ctx, words, i, '<0..255>');
    if (!vw) return INVALID;
    const n = u8.parse(vw, ctx);
    if (n === INVALID) return INVALID;
    if (w.text === 'min_ttl') out.minTtl = n;
    else out.maxTtl = n;
  }
  if ((out.minTtl ?? 0) > (out.maxTtl ?? 255)) {
    return fail(ctx, first.pos, `unicast_peer ${a.address}: min_ttl ${out.minTtl ?? 0} > max_ttl ${out.maxTtl ?? 255} would discard every packet`, 'ALIVED_CONFIG_CONFLICT');
  }
  return out;
});

/** `[<VMAC_INTERFACE_NAME>] [<MAC_ADDRESS>]`; a MAC of 5 octets takes the VRID as its last */
const useVmac = custom('[<INTERFACE>] [<MAC>]', (words, _at, keyword, ctx) => {
  const out: { interface?: string; mac?: string } = {};
  if (words.length > 2) return fail(ctx, words[2]!.pos, `'${keyword}' takes [<INTERFACE>] [<MAC>]; unexpected '${clip(words[2]!.text)}'`, 'ALIVED_CONFIG_EXTRA_VALUE');
  for (const w of words) {
    if (w.text.includes(':')) {
      if (out.mac !== undefined) return fail(ctx, w.pos, `${keyword}: the MAC address is given twice`, 'ALIVED_CONFIG_DUPLICATE');
      const octets = w.text.replace(/:$/, '').split(':');
      if (!(octets.length === 5 || octets.length === 6) || !octets.every((o) => /^[0-9a-fA-F]{1,2}$/.test(o))) {
        return badWord(ctx, w, `'${clip(w.text)}' is not a MAC address (5 or 6 hex octets separated by ':'; with 5, the VRID is the last octet)`);
      }
      const bytes = octets.map((o) => parseInt(o, 16));
      if (bytes[0]! & 1) return badWord(ctx, w, `'${clip(w.text)}' is a multicast MAC address`);
      if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0x5e && bytes[3] === 0 && (bytes[4] === 1 || bytes[4] === 2)) {
        return badWord(ctx, w, `'${clip(w.text)}' is in the VRRP virtual MAC range 00:00:5e:00:01/02:xx, which keepalived uses by default; leave the MAC out`);
      }
      out.mac = w.text;
    } else {
      if (out.interface !== undefined) return fail(ctx, w.pos, `${keyword}: the interface name is given twice`, 'ALIVED_CONFIG_DUPLICATE');
      const n = newIfname.parse(w, ctx);
      if (n === INVALID) return INVALID;
      out.interface = n;
    }
  }
  return out;
});

/** `[<INTERFACE_NAME>] [<IP_ADDRESS>[/<MASK>]] [bridge|private|vepa]` */
const useIpvlan = custom('[<INTERFACE>] [<IPADDR>[/<MASK>]] [bridge|private|vepa]', (words, _at, keyword, ctx) => {
  const out: { interface?: string; address?: IpPrefix; mode?: 'bridge' | 'private' | 'vepa' } = {};
  for (const w of words) {
    const t = w.text;
    if (t === 'bridge' || t === 'private' || t === 'vepa') {
      if (out.mode) return fail(ctx, w.pos, `${keyword}: the mode is given twice`, 'ALIVED_CONFIG_DUPLICATE');
      out.mode = t;
    } else if (looksLikeAddress(t)) {
      if (out.address) return fail(ctx, w.pos, `${keyword}: the address is given twice`, 'ALIVED_CONFIG_DUPLICATE');
      const a = ipPrefix().parse(w, ctx);
      if (a === INVALID) return INVALID;
      out.address = a;
    } else {
      if (out.interface !== undefined) return fail(ctx, w.pos, `${keyword}: the interface name is given twice`, 'ALIVED_CONFIG_DUPLICATE');
      const n = newIfname.parse(w, ctx);
      if (n === INVALID) return INVALID;
      out.interface = n;
    }
  }
  return out;
});

/** notify_deleted may stand alone (then `notify` gets DELETED instead of FAULT) or name a script. */
const optScript: ArgsParser<true | ReturnType<typeof script.parse>> = custom(`[${script.describe}]`, (words, at, keyword, ctx) =>
  words.length === 0 ? true : script.parse(words, at, keyword, ctx),
);

const multicastDst: WordParser<IpAddress> = {
  describe: '<MULTICAST IPADDR>',
  parse(w, ctx) {
    const a = sockaddrIp().parse(w, ctx);
    if (a === INVALID) return INVALID;
    if (a.family === 4 && !isMulticast(a.address)) return badWord(ctx, w, `mcast_dst_ip ${clip(w.text)} is not a multicast address`);
    if (a.family === 6 && !isLinkLocalMulticast6(a.address)) return badWord(ctx, w, `mcast_dst_ip ${clip(w.text)} is not a link-local multicast address (ffX2::)`);
    return a;
  },
};

// ---------------------------------------------------------------------------
// authentication

/** Secrets never appear in messages: this parser does not echo its words. */
const authPass: ArgsParser<string> = custom('<PASSWORD>', (words, at, keyword, ctx) => {
  if (words.length === 0) return fail(ctx, at, `'${keyword}' needs a password`, 'ALIVED_CONFIG_MISSING_VALUE');
  if (words.length > 1) return fail(ctx, words[1]!.pos, `'${keyword}' takes one word; quote a password that has blanks`, 'ALIVED_CONFIG_EXTRA_VALUE');
  const p = words[0]!.text;
  if (p.length === 0) return fail(ctx, words[0]!.pos, `'${keyword}' is empty`);
  if (p.length > 8 && !warnedLongPass.has(ctx)) {
    warnedLongPass.add(ctx);
    ctx.diags.compat(
      'ALIVED_CONFIG_NO_EFFECT',
      words[0]!.pos,
      `auth_pass is longer than 8 characters: VRRP keeps only the first 8 (as keepalived does), so peers with the same first 8 characters authenticate`,
    );
  }
  return p;
});
const warnedLongPass = new WeakSet<object>();

const authType: WordParser<'PASS' | 'AH'> = oneOf(['PASS', 'AH'] as const);

const authenticationSchema = block(
  {
    auth_type: word(authType).doc('PASS (a password in the advert) or AH (an IPsec AH header with an HMAC-MD5-96 of the packet; IPv4 VRRPv2 only)'),
    auth_pass: value(authPass).doc('the password (PASS) or the HMAC key (AH); only the first 8 characters are used'),
  },
  {
    check: (v: { authType?: string; authPass?: string; pos: Pos }, ctx) => {
      if (v.authType && v.authPass === undefined) {
        ctx.diags.compat(
          'ALIVED_CONFIG_MISSING_REQUIRED',
          v.pos,
          `authentication with auth_type ${v.authType} and no auth_pass is ignored, as keepalived ignores it: adverts carry no authentication and need none`,
        );
      } else if (!v.authType && v.authPass !== undefined) {
        ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, `authentication without auth_type: auth_pass is not used; add auth_type PASS or AH`);
      }
    },
  },
);

// ---------------------------------------------------------------------------
// vrrp_instance

const gratuitous = {
  garp_master_delay: word(int({ min: 0, max: MAX_TIMER_SECS })).doc('seconds before the second set of gratuitous ARPs; default global vrrp_garp_master_delay'),
  garp_master_repeat: word(int({ min: 1, max: UINT32_MAX })),
  garp_master_refresh: word(int({ min: 0, max: UINT32_MAX })),
  garp_master_refresh_repeat: word(int({ min: 1, max: UINT32_MAX })),
  garp_lower_prio_delay: word(int({ min: 0, max: MAX_TIMER_SECS })).doc('seconds before a second set of gratuitous ARPs after a lower-priority advert; default global vrrp_garp_lower_prio_delay'),
  garp_lower_prio_repeat: word(int({ min: 0, max: INT32_MAX })).doc('gratuitous ARPs sent at a time when a master hears a lower priority; default global vrrp_garp_lower_prio_repeat'),
};

export const vrrpInstanceSchema = block(
  {
    state: word(oneOf(['MASTER', 'BACKUP'])).once().doc('initial state; default BACKUP, or MASTER when priority is 255'),
    interface: word(ifname)
      .required()
      .validate((v, ctx, stmt) => {
        if (v === 'lo') ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', stmt.args[0]!.pos, `the loopback interface cannot carry VRRP`);
      })
      .doc('the interface VRRP runs on (alived requires it, also with unicast)'),
    vrf: word(ifname).feature('vrrp-more').doc('VRF to run in, for unicast without interface'),
    use_vmac: value(useVmac).feature('vmac').doc('[<NAME>] [<MAC>]: run on a macvlan with the virtual MAC'),
    use_vmac_addr: value(flag).feature('vmac-addr'),
    vmac_xmit_base: value(flag).feature('vmac'),
    use_ipvlan: value(useIpvlan).feature('ipvlan'),
    native_ipv6: value(flag).deprecated('the virtual addresses determine the address family'),
    dont_track_primary: value(flag).feature('vrrp-track').doc('ignore faults of the instance interface'),
    track_interface: lines(trackInterfaceEntry).feature('vrrp-track'),
    track_bfd: lines(trackBfdEntry).feature('bfd'),
    mcast_src_ip: word(sockaddrIp()),
    unicast_src_ip: word(sockaddrIp()),
    mcast_dst_ip: word(multicastDst),
    track_src_ip: value(flag).feature('vrrp-more'),
    unicast_peer: lines(unicastPeerEntry),
    unicast_fault_no_peer: value(flag).feature('vrrp-more'),
    unicast_ttl: word(u8),
    check_unicast_src: value(flag),
    old_unicast_checksum: value(optionalArg(oneOf(['never']))).feature('vrrp-more'),
    v3_checksum_as_v2: value(optBool).feature('vrrp-more'),
    virtual_router_id: word(int({ min: 1, max: 255 })).required(),
    version: word(int({ min: 2, max: 3 })).doc('default global vrrp_version (2); IPv6 instances use 3'),
    priority: word(int({ min: 1, max: 255 })).doc('1..255; default 255 with state MASTER, else 100; 255 is the address owner'),
    advert_int: word(duration({ min: 0.01, max: 255 })).default(1).doc('seconds; VRRPv2: whole seconds 1..255; VRRPv3: 0.01..40.95'),
    virtual_ipaddress: lines(addressEntry('virtual_ipaddress')),
    virtual_ipaddress_excluded: lines(addressEntry('virtual_ipaddress_excluded')),
    no_virtual_ipaddress: value(flag),
    promote_secondaries: value(flag).feature('vrrp-more'),
    virtual_routes: lines(routeEntry(false)),
    virtual_rules: lines(ruleEntry(false)).feature('vrrp-more'),
    accept: value(flag).feature('vrrp-firewall'),
    no_accept: value(flag).feature('vrrp-firewall'),
    skip_check_adv_addr: value(optBool),
    strict_mode: value(optBool).feature('vrrp-strict'),
    preempt: value(flag),
    nopreempt: value(flag),
    preempt_delay: word(duration({ min: 0, max: 1000 })).doc('seconds, 0..1000'),
    debug: word(int({ min: 0, max: 4 })).feature('vrrp-more'),
    notify_master: value(script).feature('notify-script'),
    notify_backup: value(script).feature('notify-script'),
    notify_fault: value(script).feature('notify-script'),
    notify_stop: value(script).feature('notify-script'),
    notify_deleted: value(optScript).feature('notify-script'),
    notify: value(script).feature('notify-script'),
    notify_master_rx_lower_pri: value(script).feature('notify-script'),
    notify_priority_changes: value(optBool).feature('notify-script'),
    smtp_alert: value(optBool).feature('notify-mail'),
    lvs_sync_daemon_interface: word(ifname).feature('lvs-sync').deprecated("use 'lvs_sync_daemon <INTERFACE> inst <VRRP_INSTANCE>' in global_defs"),
    ...gratuitous,
    down_timer_adverts: word(int({ min: 1, max: 100 })).doc('adverts missed before the master is down; default 3'),
    timer_expired_backup: value(optionalArg(int({ min: 1, max: 254 }))).feature('vrrp-more'),
    garp_extra_if: value(garpExtraIf(0)).feature('vmac').alias('vmac_garp_intvl', { deprecated: true }),
    lower_prio_no_advert: value(optBool).feature('vrrp'),
    higher_prio_send_advert: value(optBool).feature('vrrp'),
    kernel_rx_buf_size: word(uint()),
    linkbeat_use_polling: value(flag).feature('vrrp-more').deprecated('use a linkbeat_interfaces block'),
    authentication: sub(authenticationSchema),
  },
  {
    header: namedHeader,
    feature: 'vrrp',
    slot: 'vrrp_instance',
    defines: { kind: 'vrrp_instance', name: (v: { name: string }) => v.name },
    check: (v: unknown, ctx: CheckCtx, stmt: Stmt): void => checkInstance(v as Instance, ctx, stmt),
  },
);

// ---------------------------------------------------------------------------
// vrrp_sync_group

/** `group { VI_1 VI_2 ... }`: names of vrrp_instances, on one line or many */
function instanceList(usedBy: string) {
  return wordList(name, { allowEmpty: false, onWord: (n, w, ctx) => ctx.refer('vrrp_instance', n, w.pos, usedBy) });
}

export const vrrpSyncGroupSchema = block(
  {
    group: instanceList('vrrp_sync_group').required().doc('the vrrp_instances that change state together'),
    track_interface: lines(trackInterfaceEntry).feature('vrrp-track'),
    track_bfd: lines(trackBfdEntry).feature('bfd'),
    notify_master: value(script).feature('notify-script'),
    notify_backup: value(script).feature('notify-script'),
    notify_fault: value(script).feature('notify-script'),
    notify_stop: value(script).feature('notify-script'),
    notify: value(script).feature('notify-script'),
    notify_priority_changes: value(optBool).feature('notify-script'),
    smtp_alert: value(optBool).feature('notify-mail'),
    sync_group_tracking_weight: value(flag).alias('global_tracking', {
      deprecated: true,
      note: 'use track_interface, track_script and track_file on the sync group',
    }),
  },
  {
    header: namedHeader,
    feature: 'vrrp-sync',
    slot: 'vrrp_sync_group',
    defines: { kind: 'vrrp_sync_group', name: (v: { name: string }) => v.name },
    check: (v: { name: string; trackInterface?: TrackInterfaceEntry[]; trackBfd?: TrackBfdEntry[] }, ctx: CheckCtx): void =>
      checkDuplicateTracks(v, `vrrp_sync_group ${v.name}`, ctx),
  },
);

// ---------------------------------------------------------------------------
// other VRRP blocks

/** `track_group NAME { group { VI_1 ... } }`: instances that go to FAULT when a static address, route or rule of the group is lost */
export const trackGroupSchema = block(
  { group: instanceList('track_group').required() },
  { header: namedHeader, feature: 'static-net', defines: { kind: 'track_group', name: (v: { name: string }) => v.name } },
);

/** garp_group { garp_interval, gna_interval, interface | interfaces { } } */
export const garpGroupSchema = block(
  {
    garp_interval: word(duration({ min: 0, max: 2147.483647 })).doc('seconds between gratuitous ARPs on these interfaces'),
    gna_interval: word(duration({ min: 0, max: 2147.483647 })).doc('seconds between unsolicited NAs on these interfaces'),
    interface: word(ifname),
    interfaces: wordList(ifname, { allowEmpty: false }),
  },
  {
    feature: 'vrrp',
    check: (v: { garpInterval?: number; gnaInterval?: number; interface?: string; interfaces?: string[]; pos: Pos }, ctx) => {
      if (v.garpInterval === undefined && v.gnaInterval === undefined) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', v.pos, `garp_group needs garp_interval or gna_interval`);
      }
      if (v.interface === undefined && v.interfaces === undefined) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', v.pos, `garp_group needs interface <NAME> or interfaces { ... }`);
      } else if (v.interface !== undefined && v.interfaces !== undefined) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `garp_group takes interface or interfaces, not both`);
      }
      for (const [k, val] of [['garp_interval', v.garpInterval], ['gna_interval', v.gnaInterval]] as const) {
        if (val !== undefined && val >= 1) ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, `${k} ${val} is very large (seconds between messages)`);
      }
    },
  },
);

/** `<INTERFACE> [MII|ETHTOOL|IOCTL]` */
const linkbeatEntry = map(tuple2(ifname, oneOf(['MII', 'ETHTOOL', 'IOCTL'])), (t) => ({ interface: t[0], type: t[1] }));

/** `<INTERFACE> <DOWN_DELAY> [<UP_DELAY>]`, seconds up to 255; up defaults to down */
const upDownDelayEntry = custom('<INTERFACE> <DOWN_SECONDS> [<UP_SECONDS>]', (words, at, keyword, ctx) => {
  const d = duration({ min: 0, max: 255 });
  if (words.length < 2) return fail(ctx, words[0]?.pos ?? at, `an entry of '${keyword}' needs an interface and a down delay: <INTERFACE> <DOWN_SECONDS> [<UP_SECONDS>]`, 'ALIVED_CONFIG_MISSING_VALUE');
  if (words.length > 3) return fail(ctx, words[3]!.pos, `unexpected '${clip(words[3]!.text)}' in ${keyword}`, 'ALIVED_CONFIG_EXTRA_VALUE');
  const iface = ifname.parse(words[0]!, ctx);
  const down = d.parse(words[1]!, ctx);
  const up = words[2] ? d.parse(words[2], ctx) : down;
  if (iface === INVALID || down === INVALID || up === INVALID) return INVALID;
  return { interface: iface, down, up, pos: words[0]!.pos };
});

function tuple2<A, B>(a: WordParser<A>, b: WordParser<B>): ArgsParser<[A, B | undefined]> {
  return custom(`${a.describe} [${b.describe}]`, (words, at, keyword, ctx) => {
    if (words.length === 0) return fail(ctx, at, `'${keyword}' entry needs ${a.describe}`, 'ALIVED_CONFIG_MISSING_VALUE');
    if (words.length > 2) return fail(ctx, words[2]!.pos, `unexpected '${clip(words[2]!.text)}' in ${keyword}`, 'ALIVED_CONFIG_EXTRA_VALUE');
    const x = a.parse(words[0]!, ctx);
    const y = words[1] ? b.parse(words[1], ctx) : undefined;
    return x === INVALID || y === INVALID ? INVALID : [x, y];
  });
}

/** bfd_instance NAME { ... }: a BFD session (RFC 5880) that VRRP instances track with track_bfd */
export const bfdInstanceSchema = block(
  {
    neighbor_ip: word(ip()).required().alias('neighbour_ip'),
    source_ip: word(ip()),
    min_rx: word(duration({ min: 0.001, max: 4294967 })).doc('milliseconds (resolution 1us); default 10'),
    min_tx: word(duration({ min: 0.001, max: 4294967 })).doc('milliseconds; default 10'),
    idle_tx: word(duration({ min: 1, max: 4294967 })).doc('milliseconds; default 1000'),
    multiplier: word(int({ min: 1, max: 255 })).doc('missed packets before down; default 5'),
    passive: value(flag),
    ttl: word(int({ min: 1, max: 255 })).alias('hoplimit').doc('default 255 (IPv4), 64 (IPv6)'),
    max_hops: word(int({ min: -1, max: 255 })),
    multihop: value(optBool),
    weight: value(
      custom('<-253..253> [reverse]', (words, at, keyword, ctx) => {
        const w = tuple2(int({ min: -253, max: 253 }), oneOf(['reverse'])).parse(words, at, keyword, ctx);
        return w === INVALID ? INVALID : { weight: w[0], reverse: w[1] === 'reverse' };
      }),
    ),
    vrrp: value(flag).doc('send events only to VRRP'),
    checker: value(flag).doc('send events only to the checkers'),
  },
  {
    header: custom('<NAME>', (words, at, keyword, ctx) => {
      const h = namedHeader.parse(words, at, keyword, ctx);
      if (h !== INVALID && h.name.length > 31) return fail(ctx, words[0]!.pos, `bfd_instance name '${h.name}' is longer than 31 characters`);
      return h;
    }),
    feature: 'bfd',
    defines: { kind: 'bfd_instance', name: (v: { name: string }) => v.name },
    check: (v: { neighborIp: IpAddress; sourceIp?: IpAddress; maxHops?: number; ttl?: number; name: string; pos: Pos }, ctx) => {
      if (v.sourceIp && v.sourceIp.family !== v.neighborIp.family) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `bfd_instance ${v.name}: source_ip and neighbor_ip are of different address families`);
      }
      const ttl = v.ttl ?? (v.neighborIp.family === 4 ? 255 : 64);
      if (v.maxHops !== undefined && v.maxHops > ttl) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `bfd_instance ${v.name}: max_hops ${v.maxHops} exceeds the ttl/hoplimit ${ttl}`);
      }
    },
  },
);

export const vrrpRootFields = {
  vrrp_instance: sub(vrrpInstanceSchema).repeatable(),
  vrrp_sync_group: sub(vrrpSyncGroupSchema).repeatable(),
  track_group: sub(trackGroupSchema).repeatable().feature('static-net'),
  static_ipaddress: lines(addressEntry('static_ipaddress')).repeatable().feature('static-net').doc('addresses keepalived keeps configured, whatever the VRRP state'),
  static_routes: lines(routeEntry(true)).repeatable().feature('static-net'),
  static_rules: lines(ruleEntry(true)).repeatable().feature('static-net'),
  garp_group: sub(garpGroupSchema).repeatable().feature('vrrp-more'),
  linkbeat_interfaces: lines(linkbeatEntry).repeatable().feature('vrrp-more').doc('interfaces whose link state is polled (MII, ETHTOOL or IOCTL) rather than read from netlink'),
  interface_up_down_delays: lines(upDownDelayEntry).repeatable().feature('vrrp-more'),
  bfd_instance: sub(bfdInstanceSchema).repeatable().feature('bfd'),
};

// ---------------------------------------------------------------------------
// checks

export type Instance = Exclude<ReturnType<typeof vrrpInstanceSchema.parseBlock>, Invalid>;
type SyncGroup = Exclude<ReturnType<typeof vrrpSyncGroupSchema.parseBlock>, Invalid>;
type TrackGroup = Exclude<ReturnType<typeof trackGroupSchema.parseBlock>, Invalid>;

/** The address family keepalived deduces: from the VIPs, else unicast peers, source and destination addresses; IPv4 by default. */
export function instanceFamily(v: Instance): Family {
  return (
    v.virtualIpaddress?.[0]?.family ??
    v.unicastPeer?.[0]?.family ??
    v.unicastSrcIp?.family ??
    v.mcastSrcIp?.family ??
    v.mcastDstIp?.family ??
    v.useIpvlan?.address?.family ??
    (v.nativeIpv6 ? 6 : 4)
  );
}

/** The VRRP version: explicit, 3 for IPv6, else global vrrp_version (default 2). */
export function instanceVersion(v: Instance, globalVersion: number | undefined): number {
  return v.version ?? (instanceFamily(v) === 6 ? 3 : globalVersion ?? 2);
}

/** keepalived refuses tracking the same interface or BFD instance twice in one list */
function checkDuplicateTracks(
  v: { trackInterface?: TrackInterfaceEntry[]; trackBfd?: TrackBfdEntry[] },
  where: string,
  ctx: CheckCtx,
): void {
  const lists: Array<[string, Array<{ key: string; pos: Pos }>]> = [
    ['track_interface', (v.trackInterface ?? []).map((t) => ({ key: t.interface, pos: t.pos }))],
    ['track_bfd', (v.trackBfd ?? []).map((t) => ({ key: t.name, pos: t.pos }))],
  ];
  for (const [kw, entries] of lists) {
    const seen = new Map<string, Pos>();
    for (const e of entries) {
      const prev = seen.get(e.key);
      if (prev) ctx.diags.error('ALIVED_CONFIG_DUPLICATE', e.pos, `${where}: ${kw} lists ${e.key} twice (first at line ${prev.line})`);
      else seen.set(e.key, e.pos);
    }
  }
}

function posOf(stmt: Stmt | undefined, keyword: string, fallback: Pos, arg = 0): Pos {
  const c = stmt ? childStmt(stmt, keyword) : undefined;
  return c?.args[arg]?.pos ?? c?.name.pos ?? fallback;
}

function checkInstance(v: Instance, ctx: CheckCtx, stmt: Stmt): void {
  const where = `vrrp_instance ${v.name}`;
  const err = (pos: Pos, message: string, code = 'ALIVED_CONFIG_CONFLICT') => ctx.diags.error(code, pos, `${where}: ${message}`);

  checkDuplicateTracks(v, where, ctx);

  // one address family per instance
  const vips = v.virtualIpaddress ?? [];
  const fam = instanceFamily(v);
  const firstVip = vips[0];
  const otherVip = vips.find((x) => x.family !== firstVip?.family);
  if (firstVip && otherVip) {
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      otherVip.pos,
      `${where}: virtual_ipaddress mixes IPv4 and IPv6 (${firstVip.address} and ${otherVip.address}); put the other family in virtual_ipaddress_excluded or another instance`,
    );
  }
  for (const peer of v.unicastPeer ?? []) {
    if (peer.family !== fam) {
      err(peer.pos, `unicast_peer ${peer.address} is IPv${peer.family} but the instance is IPv${fam}`);
      break;
    }
  }
  for (const k of ['unicast_src_ip', 'mcast_src_ip', 'mcast_dst_ip'] as const) {
    const a = k === 'unicast_src_ip' ? v.unicastSrcIp : k === 'mcast_src_ip' ? v.mcastSrcIp : v.mcastDstIp;
    if (a && a.family !== fam) err(posOf(stmt, k, v.pos), `${k} ${a.address} is IPv${a.family} but the instance is IPv${fam}`);
  }

  if (v.vrf !== undefined) {
    err(posOf(stmt, 'vrf', v.pos), `vrf is for unicast instances without an interface; this instance runs on interface ${v.interface}`);
  }
  const unicast = (v.unicastPeer?.length ?? 0) > 0;
  if (v.unicastTtl !== undefined && !unicast) err(posOf(stmt, 'unicast_ttl', v.pos), `unicast_ttl needs unicast_peer`);
  if (v.mcastDstIp && unicast) err(posOf(stmt, 'mcast_dst_ip', v.pos), `mcast_dst_ip is for multicast, but the instance has unicast peers`);
  if (v.useVmac && unicast && !v.vmacXmitBase) err(posOf(stmt, 'use_vmac', v.pos, -1), `use_vmac with unicast peers needs vmac_xmit_base`, 'ALIVED_CONFIG_MISSING_REQUIRED');
  checkVmac(v, ctx, stmt);

  // preemption: what keepalived resets, it resets with a warning here too (vrrp_complete_instance)
  const lastOf = (a: string, b: string) => [...(stmt.block ?? [])].reverse().find((s) => s.name.text === a || s.name.text === b);
  if (v.nopreempt && v.preempt) {
    const last = lastOf('preempt', 'nopreempt')!;
    ctx.diags.compat('ALIVED_CONFIG_CONFLICT', last.name.pos, `${where}: both nopreempt and preempt are set; the later one (${clip(last.name.text)}) counts, as in keepalived`);
    if (last.name.text === 'preempt') delete v.nopreempt;
  }
  delete v.preempt;
  const warn = (pos: Pos, message: string) => ctx.diags.compat('ALIVED_CONFIG_CONFLICT', pos, `${where}: ${message}`);
  if (v.nopreempt && v.priority === 255) {
    warn(posOf(stmt, 'nopreempt', v.pos, -1), `nopreempt has no effect with priority 255 (the address owner always preempts); it is cleared, as keepalived clears it`);
    delete v.nopreempt;
  }
  if (v.state === 'MASTER') {
    if (v.nopreempt) {
      warn(
        posOf(stmt, 'nopreempt', v.pos, -1),
        `nopreempt does not work with state MASTER: it is cleared and the instance preempts, as keepalived does; for nopreempt, use state BACKUP on every node`,
      );
      delete v.nopreempt;
    }
    if (v.preemptDelay) {
      warn(posOf(stmt, 'preempt_delay', v.pos), `preempt_delay does not work with state MASTER: it is cleared and the instance preempts at once, as keepalived does; use state BACKUP for a delay`);
      delete v.preemptDelay;
    }
  }
  if (v.preemptDelay && v.nopreempt) {
    warn(posOf(stmt, 'preempt_delay', v.pos), `preempt_delay has no effect with nopreempt (the instance never preempts); it is reset, as keepalived resets it`);
    delete v.preemptDelay;
  }
  if (v.timerExpiredBackup !== undefined && !v.nopreempt) {
    warn(posOf(stmt, 'timer_expired_backup', v.pos, -1), `timer_expired_backup needs nopreempt; it is reset, as keepalived resets it`);
    delete v.timerExpiredBackup;
  }

  if (v.accept && v.noAccept) {
    const last = [...(stmt.block ?? [])].reverse().find((s) => s.name.text === 'accept' || s.name.text === 'no_accept')!;
    ctx.diags.compat('ALIVED_CONFIG_CONFLICT', last.name.pos, `${where}: both accept and no_accept are set; the later one (${clip(last.name.text)}) counts`);
    // the model keeps the one that counts, for the settings the VRRP process runs with
    if (last.name.text === 'accept') delete v.noAccept;
    else delete v.accept;
  }

}

/** use_vmac and its companions, within one instance. */
function checkVmac(v: Instance, ctx: CheckCtx, stmt: Stmt): void {
  const where = `vrrp_instance ${v.name}`;
  if (v.vmacXmitBase && !v.useVmac) {
    ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', posOf(stmt, 'vmac_xmit_base', v.pos, -1), `${where}: vmac_xmit_base has no effect without use_vmac`);
  }
  if (v.useVmac?.interface !== undefined && v.useVmac.interface === v.interface) {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', posOf(stmt, 'use_vmac', v.pos), `${where}: the VMAC cannot have the name of the instance's interface ${v.interface}`);
  }
  // the per-address option: VMACs for addresses on other interfaces (keepalived's use_vmac_addr), not made yet
  for (const e of [...(v.virtualIpaddress ?? []), ...(v.virtualIpaddressExcluded ?? [])]) {
    if (e.useVmac) ctx.useFeature('vmac-addr', 'use_vmac (address option)', e.pos);
  }
}

/** VMAC names across instances: each its own, and none the interface of an instance (keepalived refuses a name in use). */
function checkVmacNames(instances: readonly Instance[], stmtOf: ReadonlyMap<Instance, Stmt>, ctx: CheckCtx): void {
  const named = new Map<string, Instance>();
  const interfaces = new Map<string, Instance>();
  for (const inst of instances) if (!interfaces.has(inst.interface)) interfaces.set(inst.interface, inst);
  for (const inst of instances) {
    const name = inst.useVmac?.interface;
    if (name === undefined) continue;
    const pos = posOf(stmtOf.get(inst), 'use_vmac', inst.pos);
    const prev = named.get(name);
    const base = interfaces.get(name);
    if (prev) {
      // keepalived deletes the first instance's VMAC to make this one, and the first loses its interface: alived keeps both working
      ctx.diags.compat(
        'ALIVED_CONFIG_DUPLICATE',
        pos,
        `vrrp_instance ${inst.name}: VMAC ${name} is already the VMAC of vrrp_instance ${prev.name} at line ${prev.pos.line}; keepalived would delete that one to make this one, leaving ${prev.name} without its interface: alived gives this instance a VMAC of its own, named as keepalived names a VMAC without a name (vmac_prefix.VRID)`,
      );
    } else if (base && inst.interface !== name) {
      ctx.diags.error('ALIVED_CONFIG_CONFLICT', pos, `vrrp_instance ${inst.name}: VMAC ${name} is the interface of vrrp_instance ${base.name} at line ${base.pos.line}`);
    } else named.set(name, inst);
  }
}

/** Checks that depend on the VRRP version (explicit, deduced or from global vrrp_version); strict mode's changes are vrrp-strict.ts's. */
function checkVersion(v: Instance, version: number, ctx: CheckCtx, stmt: Stmt | undefined, strict: boolean): void {
  const where = `vrrp_instance ${v.name}`;
  const fam = instanceFamily(v);
  if (version === 2 && fam === 6 && !strict) {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', posOf(stmt, 'version', v.pos), `${where}: VRRPv2 is IPv4 only (RFC 3768); IPv6 instances use version 3`);
  }
  if (version === 3 && v.authentication && !strict) {
    // keepalived drops it ("does not support authentication. Ignoring.") and runs; the settings carry none for VRRPv3
    ctx.diags.compat(
      'ALIVED_CONFIG_CONFLICT',
      v.authentication.pos,
      fam === 6 && v.authentication.authType === 'AH'
        ? `${where}: auth_type AH is IPv4 only (IPv6 instances use VRRPv3, which has no authentication): the authentication block is ignored, as keepalived ignores it`
        : `${where}: VRRPv3 has no authentication: the authentication block is ignored and adverts carry none, as keepalived does; remove it, or use version 2`,
    );
  }
  if (version === 2 && v.authentication?.authType === 'AH' && v.state === 'MASTER' && (v.priority ?? 255) !== 255) {
    ctx.diags.compat(
      'ALIVED_CONFIG_CONFLICT',
      posOf(stmt, 'state', v.pos),
      `${where}: state MASTER does not go with auth_type AH below priority 255 (a node must hear the master's AH sequence number before it takes over): it starts as BACKUP, as keepalived does`,
    );
  }
  const adv = v.advertInt;
  const advPos = posOf(stmt, 'advert_int', v.pos);
  if (version === 2) {
    if (!Number.isInteger(adv)) {
      ctx.diags.error(
        'ALIVED_CONFIG_BAD_VALUE',
        advPos,
        `${where}: advert_int ${adv}: VRRPv2 advertises in whole seconds (1..255); use an integer, or version 3 for intervals down to 0.01`,
      );
    }
  } else {
    if (adv > 40.95) {
      ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', advPos, `${where}: advert_int ${adv} is out of range for VRRPv3: expected 0.01..40.95 seconds`);
    } else if (Math.abs(Math.round(adv * 100) - adv * 100) > 1e-6) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', advPos, `${where}: advert_int ${adv}: VRRPv3 advertises in units of 10 ms (centiseconds)`);
    }
  }
  const hasVips = (v.virtualIpaddress?.length ?? 0) > 0;
  if (!hasVips && !v.noVirtualIpaddress) {
    if (version === 3) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', v.pos, `${where}: VRRPv3 needs at least one virtual_ipaddress (or no_virtual_ipaddress)`);
    } else if (!strict) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, `${where}: no virtual_ipaddress; add no_virtual_ipaddress if that is intended`);
    }
  }
}

interface RootModel {
  globalDefs?: { vrrpVersion?: number; vrrpStrict?: true; vrrpMcastGroup4?: string; vrrpMcastGroup6?: string; pos: Pos };
  vrrpInstance?: Instance[];
  vrrpSyncGroup?: SyncGroup[];
  trackGroup?: TrackGroup[];
}

/**
 * Checks across blocks: versions and strict mode from global_defs, VRIDs
 * unique per interface and family (and multicast group, or overlapping
 * unicast peers), one sync group per instance, trackers in sync groups.
 */
export function checkVrrpRoot(model: RootModel, ctx: CheckCtx, rootStmt?: Stmt): void {
  const instances = model.vrrpInstance ?? [];
  // by position, not by search: a config may have thousands of instances
  const stmtAt = new Map<Pos, Stmt>();
  for (const s of rootStmt?.block ?? []) stmtAt.set(s.name.pos, s);
  const stmtOf = new Map<Instance, Stmt>();
  for (const inst of instances) {
    const s = stmtAt.get(inst.pos);
    if (s) stmtOf.set(inst, s);
  }
  const globalVersion = model.globalDefs?.vrrpVersion;
  for (const inst of instances) {
    const stmt = stmtOf.get(inst);
    // strict mode runs an IPv6 instance as VRRPv3 whatever its version says (vrrp-strict.ts warns)
    const strict = inst.strictMode ?? model.globalDefs?.vrrpStrict === true;
    checkVersion(inst, strict && instanceFamily(inst) === 6 ? 3 : instanceVersion(inst, globalVersion), ctx, stmt, strict);
  }

  // VRIDs: an instance is compared with the earlier ones of its VRID, family and interface
  const seenBy = new Map<string, Instance[]>();
  for (const inst of instances) {
    const fam = instanceFamily(inst);
    const key = `${inst.virtualRouterId}|${fam}|${inst.interface}`;
    let seen = seenBy.get(key);
    if (!seen) seenBy.set(key, (seen = []));
    const unicast = (inst.unicastPeer?.length ?? 0) > 0;
    const mcast = (i: Instance): string =>
      i.mcastDstIp?.address ?? (fam === 4 ? model.globalDefs?.vrrpMcastGroup4 ?? '224.0.0.18' : model.globalDefs?.vrrpMcastGroup6 ?? 'ff02::12');
    const prev = seen.find((p) => {
      if (p.virtualRouterId !== inst.virtualRouterId || instanceFamily(p) !== fam || p.interface !== inst.interface) return false;
      const pUnicast = (p.unicastPeer?.length ?? 0) > 0;
      if (pUnicast !== unicast) return false;
      if (!unicast) return mcast(p) === mcast(inst);
      const src = (i: Instance) => i.unicastSrcIp?.address ?? i.mcastSrcIp?.address;
      if (src(p) && src(inst) && src(p) !== src(inst)) return false;
      return (p.unicastPeer ?? []).some((a) => (inst.unicastPeer ?? []).some((b) => a.address === b.address));
    });
    if (prev) {
      ctx.diags.error(
        'ALIVED_CONFIG_CONFLICT',
        posOf(stmtOf.get(inst), 'virtual_router_id', inst.pos),
        `vrrp_instance ${inst.name}: virtual_router_id ${inst.virtualRouterId} is already used on ${inst.interface} (IPv${fam}${unicast ? ', same unicast peers' : ''}) by vrrp_instance ${prev.name} at line ${prev.pos.line}`,
      );
    } else seen.push(inst);
  }

  checkVmacNames(instances, stmtOf, ctx);

  // sync groups
  const memberOf = new Map<string, SyncGroup>();
  for (const g of model.vrrpSyncGroup ?? []) {
    for (const n of g.group) {
      const other = memberOf.get(n);
      if (other && other !== g) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', g.pos, `vrrp_sync_group ${g.name}: vrrp_instance ${n} is already in vrrp_sync_group ${other.name} (line ${other.pos.line}); an instance belongs to one sync group`);
      } else memberOf.set(n, g);
    }
    if (new Set(g.group).size === 1) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', g.pos, `vrrp_sync_group ${g.name} has only one member, which is probably not what you want`);
    }
  }
  for (const inst of instances) {
    const g = memberOf.get(inst.name);
    const owner = inst.priority === 255;
    if (!(g && !g.syncGroupTrackingWeight) && !owner) continue;
    for (const t of inst.trackInterface ?? []) {
      if (t.weight) {
        ctx.diags.error(
          'ALIVED_CONFIG_CONFLICT',
          t.pos,
          `vrrp_instance ${inst.name}: track_interface ${t.interface} has weight ${t.weight}, which ${owner ? 'the address owner (priority 255) ignores' : `vrrp_sync_group ${g!.name} ignores unless it sets sync_group_tracking_weight`}`,
        );
      }
    }
  }
}
