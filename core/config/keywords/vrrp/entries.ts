import type { Pos } from '../../diagnostics';
import type { Token } from '../../lexer';
import type { CheckCtx } from '../../schema';
import { trackReference, type TrackReference } from '../../track-entry';
import { custom, ifname, INVALID, ipPrefix, script, sockaddrIp, type ArgsParser, type IpAddress, type IpPrefix, type WordParser } from '../../values';
import { badWord, clip, newIfname, optionValue } from '../common';
import { isLinkLocalMulticast6, isMulticast } from '../global-defs';
import { fail, looksLikeAddress, u8, unknownOption } from './helpers';

/** Tracking entries, unicast peers, VMAC */

export interface TrackInterfaceEntry {
  interface: string;
  weight?: number;
  reverse?: true;
  pos: Pos;
}

/** `<INTERFACE> [weight <-253..253> [reverse]]` (reverse is only ever true: the one word it takes) */
export const trackInterfaceEntry = trackReference({
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
export const trackBfdEntry: ArgsParser<TrackBfdEntry> = trackReference({
  kind: 'track_bfd',
  describe: '<BFD_NAME>',
  refersTo: 'bfd_instance',
  weight: { min: -253, max: 253 },
  wording: 'core',
});

export interface UnicastPeer extends IpAddress {
  minTtl?: number;
  maxTtl?: number;
  pos: Pos;
}

/** `<IPADDR> [min_ttl <0..255>] [max_ttl <0..255>]` */
export const unicastPeerEntry: ArgsParser<UnicastPeer> = custom('<IPADDR> [min_ttl <0..255>] [max_ttl <0..255>]', (words, at, keyword, ctx) => {
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
    return fail(
      ctx,
      first.pos,
      `unicast_peer ${a.address}: min_ttl ${out.minTtl ?? 0} > max_ttl ${out.maxTtl ?? 255} would discard every packet`,
      'ALIVED_CONFIG_CONFLICT',
    );
  }
  return out;
});

/** The name of the interface use_vmac or use_ipvlan makes: false when it is bad or given twice (reported). */
function setNewInterface(ctx: CheckCtx, out: { interface?: string }, w: Token, keyword: string): boolean {
  if (out.interface !== undefined) {
    fail(ctx, w.pos, `${keyword}: the interface name is given twice`, 'ALIVED_CONFIG_DUPLICATE');
    return false;
  }
  const n = newIfname.parse(w, ctx);
  if (n === INVALID) return false;
  out.interface = n;
  return true;
}

/** `[<VMAC_INTERFACE_NAME>] [<MAC_ADDRESS>]`; a MAC of 5 octets takes the VRID as its last */
export const useVmac = custom('[<INTERFACE>] [<MAC>]', (words, _at, keyword, ctx) => {
  const out: { interface?: string; mac?: string } = {};
  if (words.length > 2)
    return fail(ctx, words[2]!.pos, `'${keyword}' takes [<INTERFACE>] [<MAC>]; unexpected '${clip(words[2]!.text)}'`, 'ALIVED_CONFIG_EXTRA_VALUE');
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
    } else if (!setNewInterface(ctx, out, w, keyword)) return INVALID;
  }
  return out;
});

/** `[<INTERFACE_NAME>] [<IP_ADDRESS>[/<MASK>]] [bridge|private|vepa]` */
export const useIpvlan = custom('[<INTERFACE>] [<IPADDR>[/<MASK>]] [bridge|private|vepa]', (words, _at, keyword, ctx) => {
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
    } else if (!setNewInterface(ctx, out, w, keyword)) return INVALID;
  }
  return out;
});

/** notify_deleted may stand alone (then `notify` gets DELETED instead of FAULT) or name a script. */
export const optScript: ArgsParser<true | ReturnType<typeof script.parse>> = custom(`[${script.describe}]`, (words, at, keyword, ctx) =>
  words.length === 0 ? true : script.parse(words, at, keyword, ctx),
);

export const multicastDst: WordParser<IpAddress> = {
  describe: '<MULTICAST IPADDR>',
  parse(w, ctx) {
    const a = sockaddrIp().parse(w, ctx);
    if (a === INVALID) return INVALID;
    if (a.family === 4 && !isMulticast(a.address)) return badWord(ctx, w, `mcast_dst_ip ${clip(w.text)} is not a multicast address`);
    if (a.family === 6 && !isLinkLocalMulticast6(a.address))
      return badWord(ctx, w, `mcast_dst_ip ${clip(w.text)} is not a link-local multicast address (ffX2::)`);
    return a;
  },
};

/** keepalived refuses tracking the same interface or BFD instance twice in one list */
export function checkDuplicateTracks(v: { trackInterface?: TrackInterfaceEntry[]; trackBfd?: TrackBfdEntry[] }, where: string, ctx: CheckCtx): void {
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
