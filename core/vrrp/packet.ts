import { timingSafeEqual } from 'node:crypto';
import { bytesToIp, ipToBytes } from '../net/address';
import { AH_PROTOCOL, parseAh, verifyAh, type AhExpectation } from './ah';
import { VRRP_PROTOCOL, VRRP_TTL, type Advert, type IpFamily, type Received, type VrrpCounters, type VrrpVersion } from './types';

/**
 * The VRRP packet codec (RFC 3768 for v2, RFC 5798 for v3) and the checks a
 * received advert passes before the state machine sees it.
 *
 * encodeAdvert() builds the VRRP packet only; the socket puts the IP header in
 * front. parseIpv4() takes apart what a raw AF_INET socket delivers (the whole
 * IP packet). checkAdvert() is keepalived 2.2.8's vrrp_check_packet()
 * (keepalived/vrrp/vrrp.c) check for check, in its order, with its log texts:
 * the order decides which counter a packet with two faults lands in, and the
 * texts are what operators grep for.
 */

/** version/type, VRID, priority, count, auth type + adver int (v2) or rsvd + max adver int (v3), checksum */
export const VRRP_HEADER_LEN = 8;
/** v2 authentication data, present whatever the auth type (RFC 3768 5.3.10) */
export const VRRP_AUTH_LEN = 8;
const TYPE_ADVERTISEMENT = 1;
const AUTH_NONE = 0;
const AUTH_PASS = 1;
/** IPsec AH (auth_type AH): the VRRP packet sits in an IPsec AH header (ah.ts) */
const AUTH_AH = 2;
/** v3's max adver int has 12 bits */
const V3_MAX_ADVERT_INT_CS = 0x0fff;

// ---------------------------------------------------------------------------
// addresses

/**
 * Numeric order of two addresses of one family: 1 when `a` is higher, -1 when
 * lower, 0 when equal. Addresses of different families (or unreadable ones)
 * compare equal, as keepalived's vrrp_saddr_cmp() treats them: no tie-break.
 */
export function compareAddresses(a: string, b: string): number {
  const x = ipToBytes(a);
  const y = ipToBytes(b);
  if (!x || !y || x.length !== y.length) return 0;
  return Math.sign(Buffer.compare(x, y));
}

function isMulticast(bytes: Buffer): boolean {
  // 224.0.0.0/4 and ff00::/8
  return bytes.length === 4 ? (bytes[0]! & 0xf0) === 0xe0 : bytes[0] === 0xff;
}

// ---------------------------------------------------------------------------
// checksum

/** The 16-bit one's complement sum (RFC 1071), not yet folded, added to `sum`. */
function onesSum(buf: Buffer, sum = 0): number {
  const even = buf.length & ~1;
  for (let i = 0; i < even; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length & 1) sum += buf[buf.length - 1]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The v3 pseudo-header: RFC 768's for IPv4, RFC 8200 8.1's for IPv6, next header 112. */
function pseudoHeader(src: Buffer, dst: Buffer, length: number): Buffer {
  if (src.length === 4) {
    const p = Buffer.alloc(12);
    src.copy(p, 0);
    dst.copy(p, 4);
    p[9] = VRRP_PROTOCOL;
    p.writeUInt16BE(length, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  src.copy(p, 0);
  dst.copy(p, 16);
  p.writeUInt32BE(length, 32);
  p[39] = VRRP_PROTOCOL;
  return p;
}

/** The checksum to put in `packet` (its checksum field must be zero), with the pseudo-header when one is given. */
function computeChecksum(packet: Buffer, pseudo?: Buffer): number {
  return ~fold(onesSum(packet, pseudo ? onesSum(pseudo) : 0)) & 0xffff;
}

/** A packet with its checksum in place sums to 0xffff: RFC 1071's verification. */
function checksumHolds(packet: Buffer, pseudo?: Buffer): boolean {
  return fold(onesSum(packet, pseudo ? onesSum(pseudo) : 0)) === 0xffff;
}

// ---------------------------------------------------------------------------
// encoding

/** The 8 bytes of v2 PASS authentication data: the password's first 8 bytes, zero-padded, as keepalived stores auth_pass. */
export function passAuthData(pass: string): Buffer {
  const out = Buffer.alloc(VRRP_AUTH_LEN);
  Buffer.from(pass, 'utf8').copy(out, 0, 0, VRRP_AUTH_LEN);
  return out;
}

export interface AdvertToEncode {
  version: VrrpVersion;
  family: IpFamily;
  vrid: number;
  /** 0..255; 0 tells the backups the master is leaving */
  priority: number;
  /** centiseconds: a whole number of seconds for v2, 1..4095 for v3 */
  advertIntCs: number;
  /** the virtual addresses, all of `family` */
  addresses: string[];
  /** v2 simple text password (auth_type PASS); absent: no authentication */
  authPass?: string;
  /** v2 auth_type AH: auth type 2, the authentication data left zero (the IPsec AH header around it is ah.ts's) */
  ah?: boolean;
  /** v3: source and destination of the IP packet, for the pseudo-header checksum */
  src?: string;
  dst?: string;
}

function checkInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`VRRP advert: ${what} must be an integer in ${min}..${max}, not ${v}`);
}

/**
 * The VRRP packet of an advert, checksum included. Throws (RangeError) on
 * input no VRRP packet can carry: that is a bug in the caller, not traffic.
 */
export function encodeAdvert(a: AdvertToEncode): Buffer {
  if (a.version !== 2 && a.version !== 3) throw new RangeError(`VRRP advert: version must be 2 or 3, not ${String(a.version)}`);
  if (a.family !== 4 && a.family !== 6) throw new RangeError(`VRRP advert: family must be 4 or 6, not ${String(a.family)}`);
  if (a.version === 2 && a.family === 6) throw new RangeError('VRRP advert: VRRPv2 is IPv4 only (RFC 3768); IPv6 needs version 3');
  checkInt('vrid', a.vrid, 1, 255);
  checkInt('priority', a.priority, 0, 255);
  checkInt('address count', a.addresses.length, 0, 255);
  if (a.version === 2) {
    if (a.advertIntCs % 100 !== 0) throw new RangeError(`VRRP advert: VRRPv2 carries whole seconds, and ${a.advertIntCs} cs is not`);
    checkInt('advert interval (seconds)', a.advertIntCs / 100, 1, 255);
  } else {
    checkInt('advert interval (centiseconds)', a.advertIntCs, 1, V3_MAX_ADVERT_INT_CS);
    if (a.authPass !== undefined || a.ah) throw new RangeError('VRRP advert: VRRPv3 has no authentication (RFC 5798 removed it)');
  }
  const alen = a.family === 4 ? 4 : 16;
  const auth = a.version === 2 ? VRRP_AUTH_LEN : 0;
  const pkt = Buffer.alloc(VRRP_HEADER_LEN + a.addresses.length * alen + auth);
  pkt[0] = (a.version << 4) | TYPE_ADVERTISEMENT;
  pkt[1] = a.vrid;
  pkt[2] = a.priority;
  pkt[3] = a.addresses.length;
  if (a.version === 2) {
    if (a.authPass !== undefined && a.ah) throw new RangeError('VRRP advert: auth_type is PASS or AH, not both');
    pkt[4] = a.ah ? AUTH_AH : a.authPass !== undefined ? AUTH_PASS : AUTH_NONE;
    pkt[5] = a.advertIntCs / 100;
  } else {
    pkt.writeUInt16BE(a.advertIntCs & V3_MAX_ADVERT_INT_CS, 4);
  }
  a.addresses.forEach((addr, i) => {
    const b = ipToBytes(addr, a.family);
    if (!b) throw new RangeError(`VRRP advert: ${JSON.stringify(addr)} is not an IPv${a.family} address`);
    b.copy(pkt, VRRP_HEADER_LEN + i * alen);
  });
  if (a.version === 2 && a.authPass !== undefined) passAuthData(a.authPass).copy(pkt, pkt.length - VRRP_AUTH_LEN);
  let pseudo: Buffer | undefined;
  if (a.version === 3) {
    const src = a.src === undefined ? undefined : ipToBytes(a.src, a.family);
    const dst = a.dst === undefined ? undefined : ipToBytes(a.dst, a.family);
    if (!src || !dst)
      throw new RangeError(`VRRP advert: VRRPv3 needs the IPv${a.family} source and destination for its checksum (src ${String(a.src)}, dst ${String(a.dst)})`);
    pseudo = pseudoHeader(src, dst, pkt.length);
  }
  pkt.writeUInt16BE(computeChecksum(pkt, pseudo), 6);
  return pkt;
}

// ---------------------------------------------------------------------------
// receiving

/**
 * `protocol` says which instances a failure concerns (112: those without
 * auth_type AH, 51: those with it); `ignore`: not VRRP at all (an IPsec AH
 * packet for another protocol), dropped without a count as keepalived does.
 */
export type ParsedIpv4 = { ok: true; rx: Received } | { ok: false; reason: string; vrid?: number; protocol?: number; ignore?: true };

/**
 * What a raw AF_INET socket hands over: the IPv4 header (options included, by
 * IHL), then the VRRP packet, or (protocol 51, auth_type AH) the IPsec AH
 * header and then the VRRP packet: `rx.ah` holds the AH header. A failure names what is wrong; when the header
 * was readable and the payload holds a VRID, `vrid` says which instance the
 * packet was for, so that its packetLenErr can be counted (keepalived counts
 * a total length that disagrees with what arrived there). Never throws.
 */
export function parseIpv4(buf: Buffer): ParsedIpv4 {
  if (buf.length < 20) return { ok: false, reason: `IPv4 VRRP packet too short - ${buf.length} bytes` };
  const version = buf[0]! >> 4;
  if (version !== 4) return { ok: false, reason: `IP version ${version} in an IPv4 packet` };
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < 20) return { ok: false, reason: `IPv4 header length ${ihl} is below the minimum 20` };
  if (buf.length < ihl) return { ok: false, reason: `IPv4 VRRP packet too short - ${buf.length} bytes, header alone is ${ihl}` };
  const protocol = buf[9]!;
  if (protocol !== VRRP_PROTOCOL && protocol !== AH_PROTOCOL)
    return { ok: false, reason: `IP protocol ${protocol} is neither VRRP (${VRRP_PROTOCOL}) nor IPsec AH (${AH_PROTOCOL})` };
  let payload = buf.subarray(ihl);
  let ah: Received['ah'];
  if (protocol === AH_PROTOCOL) {
    const parsed = parseAh(buf, ihl);
    if (!parsed.ok) return { ok: false, reason: parsed.reason, protocol, ...(parsed.ignore ? { ignore: true as const } : {}) };
    payload = parsed.payload;
    ah = parsed.ah;
  }
  const vrid = payload.length >= 2 ? payload[1] : undefined;
  const totalLength = buf.readUInt16BE(2);
  if (totalLength !== buf.length) {
    return {
      ok: false,
      reason: `ip_tot_len mismatch against received length. ${totalLength} and received ${buf.length}`,
      protocol,
      ...(vrid === undefined ? {} : { vrid }),
    };
  }
  return {
    ok: true,
    rx: {
      family: 4,
      src: bytesToIp(buf.subarray(12, 16)),
      dst: bytesToIp(buf.subarray(16, 20)),
      ttl: buf[8]!,
      payload,
      ...(ah ? { ah } : {}),
    },
  };
}

/** The VRID of a VRRP packet, which sockets demultiplex instances by; undefined when the payload is too short to hold one. */
export function peekVrid(payload: Buffer): number | undefined {
  return payload.length >= 2 ? payload[1] : undefined;
}

/**
 * The fields of a VRRP packet, unchecked beyond its length: undefined when the
 * payload is not exactly the header, `count` addresses and (v2 over IPv4) the
 * authentication data.
 */
export function decodeAdvert(payload: Buffer, family: IpFamily): Advert | undefined {
  if (payload.length < VRRP_HEADER_LEN || payload.length !== expectedLength(payload, family)) return undefined;
  const version = payload[0]! >> 4;
  const alen = family === 4 ? 4 : 16;
  const count = payload[3]!;
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = VRRP_HEADER_LEN + i * alen;
    addresses.push(bytesToIp(payload.subarray(at, at + alen)));
  }
  const v2 = version === 2;
  const authType = v2 ? payload[4]! : 0;
  return {
    version: version as VrrpVersion,
    type: payload[0]! & 0x0f,
    vrid: payload[1]!,
    priority: payload[2]!,
    advertIntCs: v2 ? payload[5]! * 100 : payload.readUInt16BE(4) & V3_MAX_ADVERT_INT_CS,
    authType,
    ...(v2 && authType === AUTH_PASS ? { authData: Buffer.from(payload.subarray(payload.length - VRRP_AUTH_LEN)) } : {}),
    addresses,
    checksum: payload.readUInt16BE(6),
  };
}

/** keepalived's expected_vrrp_pkt_len(): the v2 auth data counts only over IPv4, by the packet's own version. */
function expectedLength(payload: Buffer, family: IpFamily): number {
  const v2 = payload[0]! >> 4 === 2;
  return VRRP_HEADER_LEN + (family === 4 && v2 ? VRRP_AUTH_LEN : 0) + payload[3]! * (family === 4 ? 4 : 16);
}

/** What an instance expects of an advert: its own configuration, seen by the receive checks. */
export interface AdvertExpectation {
  /** the instance name; when given, reasons and notes start with "(name) " as keepalived's log lines do */
  name?: string;
  version: VrrpVersion;
  family: IpFamily;
  vrid: number;
  /** the configured advert interval; v2 adverts must carry the same */
  advertIntCs: number;
  /** v2 auth_type PASS with this auth_pass; absent: no authentication */
  authPass?: string;
  /** v2 auth_type AH: the key and the instance's sequence counter (ah.ts); adverts must come inside an AH header */
  ah?: AhExpectation;
  /** the instance's virtual addresses, for the address list check */
  addresses: string[];
  /** unicast_peer configured: adverts must come unicast, and TTL 255 is not required */
  unicast: boolean;
  /**
   * The sending peer's min_ttl / max_ttl, for unicast adverts. keepalived
   * checks them only under check_unicast_src, after it found the source among
   * the peers: pass them only then.
   */
  minTtl?: number;
  maxTtl?: number;
  /**
   * skip_check_adv_addr: do not check the address list of adverts from the
   * master already known (`knownMaster`). keepalived skips it only in BACKUP
   * and only for the master it last heard, so pass `knownMaster` in BACKUP
   * (VrrpMachine.master?.address) and leave it out in MASTER.
   */
  skipCheckAdvAddr?: boolean;
  knownMaster?: string;
}

export type CheckOutcome = { ok: true; advert: Advert; notes: string[] } | { ok: false; counter: keyof VrrpCounters; reason: string };

function reject(counters: VrrpCounters, counter: keyof VrrpCounters, reason: string): CheckOutcome {
  counters[counter]++;
  return { ok: false, counter, reason };
}

/**
 * keepalived 2.2.8's vrrp_check_packet() on a received VRRP packet, plus the
 * two checks it makes before: the VRID (its sockets find the instance by it)
 * and the family (one socket per family). A rejection increments one counter
 * and says why; an accepted advert increments advertRcvd (and priZeroRcvd for
 * priority 0) and may carry notes. Two rejections come after keepalived has
 * counted the packet as an advert (length, version, type and checksum were
 * right), so they increment advertRcvd as well as their counter: an address
 * list that lacks one of our VIPs (addrListErr) and a unicast TTL outside
 * minTtl..maxTtl (ipTtlErr). Never throws.
 */
export function checkAdvert(rx: Received, expect: AdvertExpectation, counters: VrrpCounters): CheckOutcome {
  const who = expect.name === undefined ? '' : `(${expect.name}) `;
  const p = rx.payload;
  if (rx.family !== expect.family) {
    return reject(counters, 'addrListErr', `${who}received an IPv${rx.family} packet on an IPv${expect.family} instance`);
  }
  if (p.length < VRRP_HEADER_LEN) {
    return reject(counters, 'packetLenErr', `${who}vrrp packet too short, length ${p.length} and expect at least ${VRRP_HEADER_LEN}`);
  }
  if (p[1] !== expect.vrid) {
    return reject(counters, 'vridErr', `${who}received VRID ${p[1]}, expect ${expect.vrid}`);
  }
  // an AH header exactly when the instance expects one (keepalived's sockets are per protocol, so this is rare)
  if ((rx.ah !== undefined) !== (expect.ah !== undefined)) {
    return reject(counters, 'authTypeMismatch', rx.ah ? `${who}Received AH header but auth type not AH` : `${who}No AH header but auth type is AH`);
  }

  // MUST verify that the packet holds the whole VRRP packet: length by the count of addresses
  const expectedLen = expectedLength(p, rx.family);
  if (p.length !== expectedLen) {
    return reject(counters, 'packetLenErr', `${who}vrrp packet too ${p.length > expectedLen ? 'long' : 'short'}, length ${p.length} and expect ${expectedLen}`);
  }

  // MUST verify TTL / hop limit 255, which proves the sender is on the link (not for unicast, which may be routed)
  if (!expect.unicast && rx.ttl !== undefined && rx.ttl !== VRRP_TTL) {
    return reject(counters, 'ipTtlErr', `${who}invalid TTL/HL. Received ${rx.ttl} and expect ${VRRP_TTL}`);
  }

  const version = p[0]! >> 4;
  if (version !== expect.version) {
    return reject(counters, 'versionErr', `${who}wrong version. Received ${version} and expect ${expect.version}`);
  }

  if (version === 2) {
    const authType = p[4]!;
    if (authType !== AUTH_NONE && authType !== AUTH_PASS && authType !== AUTH_AH) {
      return reject(counters, 'invalidAuthType', `${who}Invalid auth type: ${authType}`);
    }
    const wanted = expect.ah ? AUTH_AH : expect.authPass !== undefined ? AUTH_PASS : AUTH_NONE;
    if (authType !== wanted) {
      return reject(counters, 'authTypeMismatch', `${who}received a ${authType} auth, expecting ${wanted}!`);
    }
    if (expect.authPass !== undefined) {
      // constant time: how many leading bytes matched must not leak through the time a rejection takes
      const got = p.subarray(p.length - VRRP_AUTH_LEN);
      if (!timingSafeEqual(got, passAuthData(expect.authPass))) {
        return reject(counters, 'authFailure', `${who}received an invalid passwd!`);
      }
    }
    if (expect.ah && rx.ah) {
      // the ICV, the SPI, then the replay check, which moves the instance's sequence counter
      const bad = verifyAh(rx.ah, p, expect.ah, expect.unicast, who);
      if (bad) return reject(counters, 'authFailure', bad);
    }
    // v2 peers must agree on the interval; keepalived drops the packet "to prevent concurrent VRID running"
    if (p[5]! * 100 !== expect.advertIntCs) {
      return reject(counters, 'advertIntervalErr', `${who}advertisement interval mismatch mine=${fmtSeconds(expect.advertIntCs)} sec rcv'd=${p[5]} sec`);
    }
  }

  const type = p[0]! & 0x0f;
  if (type !== TYPE_ADVERTISEMENT) {
    return reject(counters, 'invalidTypeRcvd', `${who}Invalid packet type. ${type} and expect ${TYPE_ADVERTISEMENT}`);
  }

  const count = p[3]!;
  const checkAddresses = !(expect.skipCheckAdvAddr && expect.knownMaster !== undefined && sameAddress(rx.src, expect.knownMaster));
  if (checkAddresses && count !== expect.addresses.length) {
    return reject(counters, 'addrListErr', `${who}received an unexpected ip number count ${count}, expected ${expect.addresses.length}!`);
  }

  const dst = rx.dst === '' ? undefined : ipToBytes(rx.dst, rx.family);
  const checksumReason = verifyChecksum(p, version, rx, dst);
  if (checksumReason) return reject(counters, 'checksumErr', `${who}${checksumReason}`);

  // multicast instances take multicast adverts only, unicast ones unicast only
  if (dst && isMulticast(dst) === expect.unicast) {
    return reject(
      counters,
      'addrListErr',
      `${who}Expected ${expect.unicast ? 'un' : 'mult'}icast packet but received ${expect.unicast ? 'mult' : 'un'}icast packet`,
    );
  }

  // correct type, version and length: keepalived counts it as an advert from here on
  counters.advertRcvd++;
  const advert = decodeAdvert(p, rx.family)!;
  const notes: string[] = [];

  if (checkAddresses) {
    // RFC 3768 7.1 / 5798 7.1 "MAY verify the IP addresses": keepalived drops on any mismatch
    const carried = new Set(advert.addresses);
    for (const vip of expect.addresses) {
      const b = ipToBytes(vip, rx.family);
      if (!b || !carried.has(bytesToIp(b))) {
        counters.addrListErr++;
        return { ok: false, counter: 'addrListErr', reason: `${who}ip address associated with VRID ${expect.vrid} not present in MASTER advert: ${vip}` };
      }
    }
    if (expect.unicast && (expect.minTtl !== undefined || expect.maxTtl !== undefined)) {
      const min = expect.minTtl ?? 0;
      const max = expect.maxTtl ?? 255;
      if (rx.ttl !== undefined && (rx.ttl < min || rx.ttl > max)) {
        return reject(counters, 'ipTtlErr', `${who}TTL/HL ${rx.ttl} not in range ${min} - ${max}`);
      }
    }
  }

  if (version === 3 && advert.advertIntCs !== expect.advertIntCs) {
    notes.push(`${who}advert interval ${advert.advertIntCs} cs from ${rx.src} differs from ours (${expect.advertIntCs} cs); a backup follows the master's`);
  }
  if (advert.priority === 0) counters.priZeroRcvd++;
  return { ok: true, advert, notes };
}

/**
 * Why the checksum is wrong, or undefined when it holds. v2 sums the VRRP
 * packet alone; v3 adds the pseudo-header. keepalived leaves IPv6 to the
 * kernel (IPV6_CHECKSUM); we check it too when the socket told us the
 * destination, and rely on the kernel when it could not (dst '').
 */
function verifyChecksum(p: Buffer, version: number, rx: Received, dst: Buffer | undefined): string | undefined {
  if (version === 2) return checksumHolds(p) ? undefined : 'Invalid VRRPv2 checksum';
  if (rx.family === 6 && rx.dst === '') return undefined;
  const src = ipToBytes(rx.src, rx.family);
  if (!src || !dst) return `Invalid VRRPv3 checksum: cannot build the pseudo-header from ${rx.src} > ${rx.dst}`;
  return checksumHolds(p, pseudoHeader(src, dst, p.length)) ? undefined : 'Invalid VRRPv3 checksum';
}

function sameAddress(a: string, b: string): boolean {
  const x = ipToBytes(a);
  const y = ipToBytes(b);
  return x !== undefined && y !== undefined && x.equals(y);
}

function fmtSeconds(cs: number): string {
  return String(cs / 100);
}
