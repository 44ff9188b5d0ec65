import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses as text and as network-order bytes: the one parser and the
 * one formatter of core (VRRP packets, rtnetlink, IPVS). IPv6 text comes
 * out in RFC 5952's canonical form, what `ip addr` and ipvsadm print.
 */

function ipv4Bytes(text: string): Buffer | undefined {
  if (!isIPv4(text)) return undefined;
  return Buffer.from(text.split('.').map(Number));
}

function ipv6Bytes(text: string): Buffer | undefined {
  // a zone ("fe80::1%eth0") names the link, not a part of the address
  let s = text.replace(/%.*$/, '');
  if (!isIPv6(s)) return undefined;
  if (s.includes('.')) {
    // an embedded dotted quad (::ffff:10.0.0.1) is the last two groups
    const at = s.lastIndexOf(':');
    const v4 = ipv4Bytes(s.slice(at + 1));
    if (!v4) return undefined;
    s = `${s.slice(0, at + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const gap = s.indexOf('::');
  let words: number[];
  if (gap >= 0) {
    const left = groups(s.slice(0, gap));
    const right = groups(s.slice(gap + 2));
    words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    words = groups(s);
  }
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) return undefined;
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/**
 * The address as network-order bytes (4 or 16), or undefined when it is not
 * an IP address (of `family`, when given). A zone id (fe80::1%eth0) is ignored.
 */
export function ipToBytes(text: string, family?: 4 | 6): Buffer | undefined {
  if (family !== 6) {
    const b = ipv4Bytes(text);
    if (b || family === 4) return b;
  }
  return ipv6Bytes(text);
}

/** Text of 4 or 16 address bytes; IPv6 in RFC 5952's form (lowercase, the longest run of two or more zero groups as ::, the first of equal runs). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The canonical text of an address (so '2001:DB8::0:1' and '2001:db8::1' compare equal), or the text itself if it is not one. */
export function canonicalIp(text: string): string {
  const b = ipToBytes(text);
  return b ? bytesToIp(b) : text;
}
