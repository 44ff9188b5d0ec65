import { createHmac, timingSafeEqual } from 'node:crypto';
import { VRRP_PROTOCOL, type ReceivedAh } from './types';

/**
 * VRRPv2 adverts inside an IPsec authentication header (RFC 2402), as
 * keepalived 2.2.7 sends and checks them for `auth_type AH`
 * (keepalived/vrrp/vrrp.c: vrrp_build_ip4, vrrp_build_ipsecah,
 * vrrp_update_pkt, vrrp_in_chk_ipsecah; vrrp_ipsecah.c for the HMAC).
 *
 * The IP packet is protocol 51; its AH header says next header 112 (VRRP),
 * payload length 4 (a 24-byte header), SPI = the sender's IPv4 address,
 * a sequence number, and an ICV of HMAC-MD5-96 keyed with auth_pass (its
 * first 8 bytes, zero-padded) over the IP header with TOS, fragment offset
 * and checksum zeroed (and the TTL, for unicast instances), the AH header
 * with the ICV zeroed, and the VRRP packet. The VRRP packet itself carries
 * auth type 2 and eight zero bytes of authentication data.
 *
 * There is no IPsec security association: one sequence counter per
 * instance serves both for sending (each advert takes the next number) and
 * for the replay check on receive (an advert must carry a number above the
 * highest seen or sent), which is how keepalived keeps a new master's
 * numbers above the old one's. AhSequence is that counter.
 */

/** IPsec AH is IP protocol 51 */
export const AH_PROTOCOL = 51;
/** next header, payload length, reserved (4), SPI (4), sequence number (4), ICV (12) */
export const AH_HEADER_LEN = 24;
/** HMAC-MD5 truncated to 96 bits (RFC 2403) */
export const AH_ICV_LEN = 12;
/** the AH payload length field: the header's length in 32-bit words minus 2 (RFC 2402 2.2) */
export const AH_PAYLOAD_LEN = 4;
const ICV_AT = 12;
/** keepalived keeps auth_pass in 8 bytes, and keys the HMAC with all 8 */
const KEY_LEN = 8;
/** keepalived stops counting above this ("cycled"); a master then restarts from 0 */
const SEQ_LIMIT = 0xfffffffd;
const IPV4_HEADER_LEN = 20;
/** a VRRP header is 8 bytes: keepalived wants that much after the AH header */
const VRRP_HEADER_LEN = 8;

/** The HMAC key for an auth_pass: its first 8 bytes, zero-padded, as keepalived stores it. */
export function ahKey(pass: string): Buffer {
  const out = Buffer.alloc(KEY_LEN);
  Buffer.from(pass, 'utf8').copy(out, 0, 0, KEY_LEN);
  return out;
}

/**
 * The ICV of a packet: `ip` is its IPv4 header (options included), `ah`
 * its AH header, `rest` what follows. Neither buffer is changed: the
 * mutable fields are zeroed in copies.
 */
export function ahIcv(ip: Buffer, ah: Buffer, rest: Buffer, key: Buffer, unicast: boolean): Buffer {
  const ipz = Buffer.from(ip);
  ipz[1] = 0; // TOS
  ipz.writeUInt16BE(0, 6); // flags and fragment offset
  ipz.writeUInt16BE(0, 10); // header checksum
  // keepalived zeroes the TTL only for unicast instances (whose adverts may be routed)
  if (unicast) ipz[8] = 0;
  const ahz = Buffer.from(ah);
  ahz.fill(0, ICV_AT, ICV_AT + AH_ICV_LEN);
  return createHmac('md5', key).update(ipz).update(ahz).update(rest).digest().subarray(0, AH_ICV_LEN);
}

export interface AhPacketToEncode {
  /** the VRRP packet (encodeAdvert with `ah: true`) */
  vrrp: Buffer;
  src: string;
  dst: string;
  ttl: number;
  /** the IP identification; keepalived counts from 1 and never sends 0 (the kernel would fill it in, after the ICV) */
  id: number;
  /** the AH sequence number (AhSequence.next()) */
  seq: number;
  /** ahKey(auth_pass) */
  key: Buffer;
  /** the sending instance is unicast: the TTL is left out of the ICV */
  unicast: boolean;
}

/** The whole IPv4 packet of an AH advert: keepalived's IP header (TOS 0xc0, no DF), the AH header, the VRRP packet. */
export function encodeAhPacket(o: AhPacketToEncode): Buffer {
  const src = ipv4(o.src);
  const dst = ipv4(o.dst);
  const p = Buffer.alloc(IPV4_HEADER_LEN + AH_HEADER_LEN + o.vrrp.length);
  p[0] = 0x45;
  p[1] = 0xc0;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(o.id & 0xffff, 4);
  p[8] = o.ttl;
  p[9] = AH_PROTOCOL;
  src.copy(p, 12);
  dst.copy(p, 16);
  const at = IPV4_HEADER_LEN;
  p[at] = VRRP_PROTOCOL;
  p[at + 1] = AH_PAYLOAD_LEN;
  // the SPI is the source address: there is no security association to number it
  src.copy(p, at + 4);
  p.writeUInt32BE(o.seq >>> 0, at + 8);
  o.vrrp.copy(p, at + AH_HEADER_LEN);
  const icv = ahIcv(p.subarray(0, at), p.subarray(at, at + AH_HEADER_LEN), p.subarray(at + AH_HEADER_LEN), o.key, o.unicast);
  icv.copy(p, at + ICV_AT);
  p.writeUInt16BE(ipChecksum(p.subarray(0, at)), 10);
  return p;
}

export type ParsedAh = { ok: true; ah: ReceivedAh; payload: Buffer } | { ok: false; reason: string; ignore?: true };

/**
 * The AH header of a received protocol-51 packet whose IPv4 header is
 * `ihl` bytes long. Too short for the AH header and a VRRP header: a
 * failure with keepalived's log text. An AH header for another protocol is
 * not VRRP at all: `ignore` (keepalived drops it without a count).
 */
export function parseAh(buf: Buffer, ihl: number): ParsedAh {
  if (buf.length < ihl + AH_HEADER_LEN + VRRP_HEADER_LEN) return { ok: false, reason: `IPv4 VRRP packet with AH too short - ${buf.length} bytes` };
  const header = buf.subarray(ihl, ihl + AH_HEADER_LEN);
  const nextHeader = header[0]!;
  if (nextHeader !== VRRP_PROTOCOL) return { ok: false, ignore: true, reason: `an IPsec AH packet for protocol ${nextHeader}, not VRRP` };
  return {
    ok: true,
    ah: { ipHeader: buf.subarray(0, ihl), header, spi: header.readUInt32BE(4), seq: header.readUInt32BE(8) },
    payload: buf.subarray(ihl + AH_HEADER_LEN),
  };
}

/**
 * keepalived's `ipsecah_counter`: the highest AH sequence number this
 * instance sent or accepted, and whether it ran past 0xfffffffd ("cycled").
 */
export class AhSequence {
  seq = 0;
  cycled = false;

  /** The number of the next advert sent (once per advert, whatever its destinations). */
  next(): number {
    if (this.seq > SEQ_LIMIT) this.cycled = true;
    else this.seq++;
    return this.seq;
  }

  /** The replay check: a number above the highest seen is accepted and becomes the highest. */
  accept(seq: number): boolean {
    if (seq > this.seq) {
      this.seq = seq;
      return true;
    }
    return false;
  }

  /**
   * A master that hears a lower priority continues above that advert's
   * number (before it answers), as keepalived does: the other router
   * accepts the answer whatever it had counted itself.
   */
  syncAbove(seq: number): void {
    this.seq = (seq + 1) >>> 0;
    this.cycled = false;
  }

  /** Becoming master after the counter cycled: it starts again from 0. */
  becomingMaster(): void {
    if (!this.cycled) return;
    this.cycled = false;
    this.seq = 0;
  }

  /** An advert from a master accepted (in BACKUP, or yielding to it): the counter has not cycled for this router. */
  heardMaster(): void {
    this.cycled = false;
  }
}

export interface AhExpectation {
  /** ahKey(auth_pass) */
  key: Buffer;
  /** the instance's counter: an accepted advert moves it */
  sequence: AhSequence;
  /** the instance is in BACKUP: an accepted advert clears the counter's cycled flag */
  backup?: boolean;
}

/**
 * keepalived's vrrp_in_chk_ipsecah() on an AH advert: the ICV, then the SPI
 * (the source address), then the sequence number, which must be above the
 * counter's and becomes its value. Returns why it fails (counted as
 * authFailure by the caller), or undefined. `who` starts the reason
 * ("(VI_1) ").
 */
export function verifyAh(ah: ReceivedAh, payload: Buffer, expect: AhExpectation, unicast: boolean, who: string): string | undefined {
  const icv = ahIcv(ah.ipHeader, ah.header, payload, expect.key, unicast);
  // constant time: how much of the ICV matched must not leak through the time a rejection takes
  if (!timingSafeEqual(icv, ah.header.subarray(ICV_AT, ICV_AT + AH_ICV_LEN))) {
    return `${who}IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !`;
  }
  const saddr = ah.ipHeader.readUInt32BE(12);
  if (ah.spi !== saddr) {
    return `${who}IPSEC AH : invalid IPSEC SPI value. ${hex32(ah.spi)} and expect ${hex32(saddr)} (the source address)`;
  }
  const before = expect.sequence.seq;
  if (!expect.sequence.accept(ah.seq)) {
    return `${who}IPSEC-AH : sequence number ${ah.seq} already processed. Packet dropped. Local(${before})`;
  }
  if (expect.backup) expect.sequence.heardMaster();
  return undefined;
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function ipv4(text: string): Buffer {
  const parts = text.split('.');
  const bytes = parts.map(Number);
  if (parts.length !== 4 || bytes.some((b, i) => !/^\d{1,3}$/.test(parts[i]!) || b > 255)) throw new RangeError(`IPsec AH: '${text}' is not an IPv4 address`);
  return Buffer.from(bytes);
}

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
