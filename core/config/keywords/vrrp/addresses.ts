import type { Pos } from '../../diagnostics';
import type { Token } from '../../lexer';
import type { CheckCtx } from '../../schema';
import { custom, ifname, INVALID, ip, ipPrefix, name, type ArgsParser, type Invalid, type IpPrefix } from '../../values';
import { clip, optionValue, rtScope } from '../common';
import { fail, u32, unknownOption, wordOr } from './helpers';

/** Addresses: virtual_ipaddress, virtual_ipaddress_excluded, static_ipaddress */

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

const ADDRESS_FLAGS = {
  home: 'home',
  '-nodad': 'nodad',
  mngtmpaddr: 'mngtmpaddr',
  noprefixroute: 'noprefixroute',
  autojoin: 'autojoin',
  no_track: 'noTrack',
} as const;

/** `preferred_lft <SECONDS>|forever` */
const lifetime = wordOr(['forever'], u32);

/** One address entry being read. */
interface AddressReader {
  readonly ctx: CheckCtx;
  readonly keyword: string;
  /** the address's word */
  readonly first: Token;
  readonly addr: IpPrefix;
  readonly out: AddressEntry;
  /** the brd word, once read */
  brdTok: Token | undefined;
  /** false once a bad value was reported: the entry fails after the rest is read */
  ok: boolean;
}

export function addressEntry(kind: AddressKind): ArgsParser<AddressEntry> {
  const isStatic = kind === 'static_ipaddress';
  const options = ['dev', 'scope', 'broadcast', 'brd', 'label', 'peer', 'preferred_lft', ...Object.keys(ADDRESS_FLAGS), isStatic ? 'track_group' : 'use_vmac'];
  const describe = `<IPADDR>[/<MASK>] [brd <IPADDR>] [dev <STRING>] [scope <SCOPE>] [label <LABEL>] [peer <IPADDR>] [home] [-nodad] [mngtmpaddr] [noprefixroute] [autojoin] [no_track] [preferred_lft <SECONDS>|forever]${isStatic ? ' [track_group <GROUP>]' : ' [use_vmac]'}`;
  return custom(describe, (words, at, keyword, ctx) => {
    const first = words[0];
    if (!first) return fail(ctx, at, `'${keyword}' entry needs an address`, 'ALIVED_CONFIG_MISSING_VALUE');
    const addr = ipPrefix().parse(first, ctx);
    if (addr === INVALID) return INVALID;
    const a: AddressReader = { ctx, keyword, first, addr, out: { ...addr, pos: first.pos }, brdTok: undefined, ok: true };
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      const opt = w.text;
      if (Object.prototype.hasOwnProperty.call(ADDRESS_FLAGS, opt)) {
        a.out[ADDRESS_FLAGS[opt as keyof typeof ADDRESS_FLAGS]] = true;
        continue;
      }
      if (opt === 'use_vmac' && !isStatic) {
        a.out.useVmac = true;
        continue;
      }
      if (!options.includes(opt)) {
        if (opt === 'track_group' || opt === 'use_vmac') {
          return fail(
            ctx,
            w.pos,
            `'${clip(opt)}' is not allowed in ${keyword}${opt === 'track_group' ? ' (only static addresses have track groups; instances track their own addresses)' : ''}`,
          );
        }
        return unknownOption(ctx, w, 'address', options);
      }
      const vw = optionValue(ctx, words, i, '<VALUE>');
      if (!vw) return INVALID;
      i++;
      if (readAddressOption(a, w, vw) === INVALID) return INVALID;
    }
    if (!a.ok) return INVALID;
    return finishAddress(a);
  });
}

/** The option `w` with its value `vw`: a bad value is reported and fails the entry later; INVALID stops it now. */
function readAddressOption(a: AddressReader, w: Token, vw: Token): true | Invalid {
  const { ctx, out, addr } = a;
  const v6 = addr.family === 6;
  switch (w.text) {
    case 'dev': {
      if (out.dev !== undefined) return fail(ctx, w.pos, `the device of ${addr.address} is given twice`, 'ALIVED_CONFIG_DUPLICATE');
      const d = ifname.parse(vw, ctx);
      if (d === INVALID) a.ok = false;
      else out.dev = d;
      return true;
    }
    case 'scope':
      return readScope(a, w, vw);
    case 'broadcast':
    case 'brd':
      return readBroadcast(a, w, vw);
    case 'label': {
      if (vw.text.length > 15) {
        a.ok = false;
        fail(ctx, vw.pos, `label '${clip(vw.text)}' is longer than 15 characters`);
      } else if (v6) {
        a.ok = false;
        fail(ctx, w.pos, `an IPv6 address cannot have a label (${addr.address})`);
      } else out.label = vw.text;
      return true;
    }
    case 'peer':
      return readPeer(a, w, vw);
    case 'preferred_lft': {
      const n = lifetime.parse(vw, ctx);
      if (n === INVALID) a.ok = false;
      else out.preferredLft = n;
      return true;
    }
    case 'track_group': {
      const g = name.parse(vw, ctx);
      if (g === INVALID) a.ok = false;
      else {
        if (out.trackGroup !== undefined) return fail(ctx, w.pos, `track_group is given twice`, 'ALIVED_CONFIG_DUPLICATE');
        out.trackGroup = g;
        ctx.refer('track_group', g, vw.pos, a.keyword);
      }
      return true;
    }
  }
  return true;
}

/** `scope <SCOPE>`: kept for IPv4; the kernel sets an IPv6 address's scope itself */
function readScope(a: AddressReader, w: Token, vw: Token): true {
  const s = rtScope.parse(vw, a.ctx);
  if (s === INVALID) a.ok = false;
  else if (a.addr.family === 6) {
    // keepalived passes it on; the kernel gives an IPv6 address the scope of its kind whatever it is told
    a.ctx.diags.compat(
      'ALIVED_CONFIG_NO_EFFECT',
      w.pos,
      `scope is ignored on the IPv6 address ${a.addr.address}: the kernel sets an IPv6 address's scope from the address itself (link for fe80::/10, else global), as it does for keepalived`,
    );
  } else a.out.scope = s;
  return true;
}

/** `brd <IPADDR>|+|-`: IPv4 only */
function readBroadcast(a: AddressReader, w: Token, vw: Token): true | Invalid {
  if (a.addr.family === 6) return fail(a.ctx, w.pos, `an IPv6 address has no broadcast address (${a.addr.address})`);
  a.brdTok = w;
  if (vw.text === '+' || vw.text === '-') a.out.broadcast = vw.text;
  else {
    const b = ip({ family: 4 }).parse(vw, a.ctx);
    if (b === INVALID) a.ok = false;
    else a.out.broadcast = b.address;
  }
  return true;
}

/** `peer <IPADDR>[/<MASK>]`: of the address's family; the prefix goes on the peer */
function readPeer(a: AddressReader, w: Token, vw: Token): true | Invalid {
  const { ctx, addr } = a;
  if (a.out.peer) return fail(ctx, w.pos, `a peer of ${addr.address} is already given`, 'ALIVED_CONFIG_DUPLICATE');
  const p = ipPrefix().parse(vw, ctx);
  if (p === INVALID) a.ok = false;
  else if (p.family !== addr.family) {
    fail(ctx, vw.pos, `peer ${clip(vw.text)} is not of the family of ${addr.address}`);
    a.ok = false;
  } else if (addr.prefix !== undefined && addr.prefix !== (addr.family === 6 ? 128 : 32)) {
    fail(ctx, a.first.pos, `${clip(a.first.text)}: give the prefix length on the peer address, not on the local address`, 'ALIVED_CONFIG_CONFLICT');
    a.ok = false;
  } else a.out.peer = p;
  return true;
}

/** What keepalived requires of a whole address entry. */
function finishAddress(a: AddressReader): AddressEntry | Invalid {
  const { ctx, out, addr } = a;
  if (out.broadcast !== undefined && out.peer)
    return fail(ctx, a.brdTok!.pos, `${addr.address}: a broadcast address and a peer address cannot both be set`, 'ALIVED_CONFIG_CONFLICT');
  if ((out.broadcast === '+' || out.broadcast === '-') && (addr.prefix ?? 32) > 30) {
    return fail(ctx, a.brdTok!.pos, `${addr.address}: 'brd ${out.broadcast}' needs a prefix of /30 or shorter`);
  }
  if (out.trackGroup !== undefined && out.dev === undefined) {
    return fail(ctx, a.first.pos, `${addr.address}: a static address with track_group needs dev <INTERFACE>`, 'ALIVED_CONFIG_MISSING_VALUE');
  }
  return out;
}
