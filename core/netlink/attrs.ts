/**
 * Netlink attributes (struct nlattr): building them for a request and
 * reading them from an answer. rtnetlink (core/vrrp/rtnl.ts, vmac.ts) and
 * generic netlink (core/ipvs/client.ts) share them. Numbers are in host
 * order (little endian here) unless the name says big endian (be16), as the
 * kernel reads them.
 */

/** A netlink attribute: header (length, type), payload, padding to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** A nested attribute: its payload is the attributes `parts`. */
export function nest(type: number, parts: Buffer[]): Buffer {
  return attr(type, Buffer.concat(parts));
}

export function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

/** a 16-bit number in network order (ports) */
export function be16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** a NUL-terminated string */
export function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
}

/** The attributes of a buffer by type (the first of each; the nested and byte-order flags are masked off). */
export function parseAttrs(b: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let at = 0; at + 4 <= b.length;) {
    const len = b.readUInt16LE(at);
    const type = b.readUInt16LE(at + 2) & 0x3fff;
    if (len < 4 || at + len > b.length) break;
    if (!out.has(type)) out.set(type, b.subarray(at + 4, at + len));
    at += (len + 3) & ~3;
  }
  return out;
}

// readers of an attribute's payload: 0 or '' when it is absent or short

export const getU16 = (b: Buffer | undefined): number => (b && b.length >= 2 ? b.readUInt16LE(0) : 0);
export const getU32 = (b: Buffer | undefined): number => (b && b.length >= 4 ? b.readUInt32LE(0) : 0);
export const getBe16 = (b: Buffer | undefined): number => (b && b.length >= 2 ? b.readUInt16BE(0) : 0);
/** a string up to its NUL */
export const getStr = (b: Buffer | undefined): string => (b ? b.toString('utf8').replace(/\0.*$/s, '') : '');
/** a 64-bit counter (as a number), or a 32-bit one when the payload is shorter */
export function getU64(b: Buffer | undefined): number {
  if (!b) return 0;
  if (b.length >= 8) return Number(b.readBigUInt64LE(0));
  return getU32(b);
}
