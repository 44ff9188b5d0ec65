import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AH_HEADER_LEN, AH_PROTOCOL, AhSequence, ahIcv, ahKey, encodeAhPacket, parseAh } from '../../core/vrrp/ah';
import { checkAdvert, encodeAdvert, parseIpv4, type AdvertExpectation, type CheckOutcome } from '../../core/vrrp/packet';
import { ipv4Packet } from '../../core/vrrp/socket';
import { newCounters, type Received, type VrrpCounters } from '../../core/vrrp/types';

/**
 * auth_type AH against keepalived 2.2.7's own packets (test/fixtures/vrrp-ah,
 * captured in a lab): every advert verifies with the lab's key, alived
 * encodes the same bytes for the same inputs, and every check of
 * keepalived's vrrp_in_chk_ipsecah rejects what it should, with its counter.
 */

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/vrrp-ah');
const PASS = 's3cret';

interface Captured {
  file: string;
  index: number;
  ip: Buffer;
}

function captured(): Captured[] {
  const out: Captured[] = [];
  for (const line of fs.readFileSync(path.join(FIXTURES, 'ah-hex.txt'), 'utf8').split('\n')) {
    const m = /^(\S+) #(\d+) \d+ ([0-9a-f]+)$/.exec(line.trim());
    if (m) out.push({ file: m[1]!, index: Number(m[2]), ip: Buffer.from(m[3]!, 'hex') });
  }
  return out;
}

const packets = captured();
const mcast = packets.filter((p) => p.file.includes('mcast'));
const unicast = packets.filter((p) => p.file.includes('unicast'));

/** The lab's instance (README.md): VRID 51, VIP 10.99.0.99, advert_int 1, AH with s3cret. */
function expectation(uni: boolean, sequence = new AhSequence(), pass = PASS): AdvertExpectation {
  return { name: 'VI_1', version: 2, family: 4, vrid: 51, advertIntCs: 100, addresses: ['10.99.0.99'], unicast: uni, ah: { key: ahKey(pass), sequence } };
}

function rx(ip: Buffer): Received {
  const parsed = parseIpv4(Buffer.from(ip));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return parsed.rx;
}

function rejected(outcome: CheckOutcome, counter: keyof VrrpCounters, counters: VrrpCounters, reason: RegExp): void {
  assert.equal(outcome.ok, false, 'expected a rejection');
  if (outcome.ok) return;
  assert.equal(outcome.counter, counter, outcome.reason);
  assert.equal(counters[counter], 1, `${counter} counted once`);
  assert.match(outcome.reason, reason);
}

test('the fixture holds both nodes adverts, multicast and unicast, priority 0 included, sequence numbers 1 to 12', () => {
  for (const set of [mcast, unicast]) {
    assert.equal(set.length, 12);
    assert.deepEqual(
      set.map((p) => p.ip.readUInt32BE(28)),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    for (const p of set) assert.equal(p.ip[9], AH_PROTOCOL);
  }
});

test('every captured advert parses, verifies with the lab key in order, and decodes to the lab values', () => {
  for (const [set, uni] of [
    [mcast, false],
    [unicast, true],
  ] as const) {
    // what n2 saw (it captured): n1's adverts, then its own; one receiver's counter takes them all in order
    const seq = new AhSequence();
    const counters = newCounters();
    for (const p of set) {
      const r = rx(p.ip);
      assert.ok(r.ah, `${p.file} #${p.index}: an AH header`);
      assert.equal(r.ah.spi, r.ah.ipHeader.readUInt32BE(12), 'SPI = source address');
      assert.equal(r.payload.length, 20, 'the VRRP packet after the AH header');
      const out = checkAdvert(r, expectation(uni, seq), counters);
      assert.ok(out.ok, `${p.file} #${p.index}: ${out.ok ? '' : out.reason}`);
      assert.equal(out.advert.authType, 2);
      assert.equal(out.advert.vrid, 51);
      assert.deepEqual(out.advert.addresses, ['10.99.0.99']);
      assert.equal(seq.seq, r.ah.seq, 'the counter follows the accepted numbers');
      const src = r.src === '10.99.0.11' ? 101 : 100;
      assert.equal(out.advert.priority, p.index === 5 || p.index === 11 ? 0 : src);
    }
    assert.equal(counters.advertRcvd, 12);
    assert.equal(counters.authFailure, 0);
    assert.equal(counters.priZeroRcvd, 2);
  }
});

test('encodeAdvert + encodeAhPacket reproduce every captured advert byte for byte, IP header and ICV included', () => {
  for (const p of [...mcast, ...unicast]) {
    const r = rx(p.ip);
    const uni = p.file.includes('unicast');
    const vrrp = encodeAdvert({ version: 2, family: 4, vrid: 51, priority: r.payload[2]!, advertIntCs: 100, addresses: ['10.99.0.99'], ah: true });
    const built = encodeAhPacket({ vrrp, src: r.src, dst: r.dst, ttl: 255, id: p.ip.readUInt16BE(4), seq: r.ah!.seq, key: ahKey(PASS), unicast: uni });
    assert.equal(built.toString('hex'), p.ip.toString('hex'), `${p.file} #${p.index}`);
  }
});

test("the sequence counter as keepalived keeps it: a backup that heard 1..6 sends 7 when it takes over, and n2's first advert is the captured one", () => {
  const seq = new AhSequence();
  const counters = newCounters();
  for (const p of mcast.slice(0, 6)) assert.ok(checkAdvert(rx(p.ip), expectation(false, seq), counters).ok);
  seq.becomingMaster();
  const seven = seq.next();
  assert.equal(seven, 7);
  const vrrp = encodeAdvert({ version: 2, family: 4, vrid: 51, priority: 100, advertIntCs: 100, addresses: ['10.99.0.99'], ah: true });
  const first = encodeAhPacket({ vrrp, src: '10.99.0.12', dst: '224.0.0.18', ttl: 255, id: 1, seq: seven, key: ahKey(PASS), unicast: false });
  assert.equal(first.toString('hex'), mcast[6]!.ip.toString('hex'));
});

test("a wrong key, a changed byte, a wrong SPI: authFailure with keepalived's texts; TOS, fragment offset, and (unicast) TTL are left out of the ICV", () => {
  const p = mcast[0]!;
  const c1 = newCounters();
  rejected(
    checkAdvert(rx(p.ip), expectation(false, new AhSequence(), 's3cret!'), c1),
    'authFailure',
    c1,
    /^\(VI_1\) IPSEC-AH : invalid IPSEC HMAC-MD5 value\. Due to fields mutation or bad password !$/,
  );
  // only the first 8 bytes of auth_pass count, as keepalived stores it
  assert.ok(checkAdvert(rx(p.ip), expectation(false, new AhSequence(), 's3cret'), newCounters()).ok);
  assert.deepEqual(ahKey('12345678-and-more'), ahKey('12345678'));

  // the priority raised in flight (checksum fixed up): the ICV catches it
  const forged = Buffer.from(p.ip);
  forged[20 + AH_HEADER_LEN + 2] = 255;
  forged.writeUInt16BE(0, 20 + AH_HEADER_LEN + 6);
  forged.writeUInt16BE(
    encodeAdvert({ version: 2, family: 4, vrid: 51, priority: 255, advertIntCs: 100, addresses: ['10.99.0.99'], ah: true }).readUInt16BE(6),
    20 + AH_HEADER_LEN + 6,
  );
  const c2 = newCounters();
  rejected(checkAdvert(rx(forged), expectation(false), c2), 'authFailure', c2, /invalid IPSEC HMAC-MD5 value/);

  // a different SPI with a valid ICV (the key is known): the SPI must be the source address
  const vrrp = encodeAdvert({ version: 2, family: 4, vrid: 51, priority: 101, advertIntCs: 100, addresses: ['10.99.0.99'], ah: true });
  const spi = encodeAhPacket({ vrrp, src: '10.99.0.11', dst: '224.0.0.18', ttl: 255, id: 9, seq: 1, key: ahKey(PASS), unicast: false });
  spi.writeUInt32BE(0x0a630063, 24);
  const resigned = reSign(spi, false);
  const c3 = newCounters();
  rejected(
    checkAdvert(rx(resigned), expectation(false), c3),
    'authFailure',
    c3,
    /^\(VI_1\) IPSEC AH : invalid IPSEC SPI value\. 0x0a630063 and expect 0x0a63000b/,
  );

  // mutable fields: TOS and the fragment field may change on the way; the TTL only for unicast
  const tos = Buffer.from(p.ip);
  tos[1] = 0x00;
  tos.writeUInt16BE(0x4000, 6);
  assert.ok(checkAdvert(rx(tos), expectation(false), newCounters()).ok, 'TOS and DF changed: still valid');
  const u = unicast[0]!;
  const routed = Buffer.from(u.ip);
  routed[8] = 63;
  assert.ok(checkAdvert(rx(routed), expectation(true), newCounters()).ok, 'a unicast advert routed on (TTL 63) verifies');
  // a unicast advert checked as multicast puts its TTL in the ICV, which then fails
  const asMcast = newCounters();
  const out = checkAdvert(rx(u.ip), expectation(false), asMcast);
  assert.equal(!out.ok && out.counter, 'authFailure');
});

/** A packet's ICV computed again after it was changed (what a sender with the key would send); ahIcv is checked against keepalived's packets above. */
function reSign(ip: Buffer, uni: boolean): Buffer {
  const out = Buffer.from(ip);
  ahIcv(out.subarray(0, 20), out.subarray(20, 20 + AH_HEADER_LEN), out.subarray(20 + AH_HEADER_LEN), ahKey(PASS), uni).copy(out, 32);
  return out;
}

test('replays and old numbers: authFailure "already processed"; the counter moves only forward, even for adverts a later check drops', () => {
  const seq = new AhSequence();
  const counters = newCounters();
  const [a, b] = [mcast[1]!, mcast[2]!];
  assert.ok(checkAdvert(rx(b.ip), expectation(false, seq), counters).ok);
  assert.equal(seq.seq, 3);
  const c1 = newCounters();
  rejected(
    checkAdvert(rx(b.ip), expectation(false, seq), c1),
    'authFailure',
    c1,
    /^\(VI_1\) IPSEC-AH : sequence number 3 already processed\. Packet dropped\. Local\(3\)$/,
  );
  const c2 = newCounters();
  rejected(checkAdvert(rx(a.ip), expectation(false, seq), c2), 'authFailure', c2, /sequence number 2 already processed\. Packet dropped\. Local\(3\)/);
  // keepalived checks the advert interval after the AH header: a valid AH advert with another interval moves the counter and is dropped
  const c3 = newCounters();
  const other = checkAdvert(rx(mcast[3]!.ip), { ...expectation(false, seq), advertIntCs: 200 }, c3);
  assert.equal(!other.ok && other.counter, 'advertIntervalErr');
  assert.equal(seq.seq, 4);
});

test('AH where none is expected and none where AH is: authTypeMismatch, as keepalived words it', () => {
  const c1 = newCounters();
  const noAh: AdvertExpectation = { name: 'VI_1', version: 2, family: 4, vrid: 51, advertIntCs: 100, addresses: ['10.99.0.99'], unicast: false };
  rejected(checkAdvert(rx(mcast[0]!.ip), noAh, c1), 'authTypeMismatch', c1, /^\(VI_1\) Received AH header but auth type not AH$/);
  const plain = ipv4Packet(
    encodeAdvert({ version: 2, family: 4, vrid: 51, priority: 101, advertIntCs: 100, addresses: ['10.99.0.99'] }),
    { src: '10.99.0.11', dst: '224.0.0.18', ttl: 255 },
    1,
  );
  const c2 = newCounters();
  rejected(checkAdvert(rx(plain), expectation(false), c2), 'authTypeMismatch', c2, /^\(VI_1\) No AH header but auth type is AH$/);
  // inside an AH header, but the VRRP packet says PASS (1): the auth type in the packet must be 2
  const pass = encodeAhPacket({
    vrrp: encodeAdvert({ version: 2, family: 4, vrid: 51, priority: 101, advertIntCs: 100, addresses: ['10.99.0.99'], authPass: PASS }),
    src: '10.99.0.11',
    dst: '224.0.0.18',
    ttl: 255,
    id: 1,
    seq: 1,
    key: ahKey(PASS),
    unicast: false,
  });
  const c3 = newCounters();
  rejected(checkAdvert(rx(pass), expectation(false), c3), 'authTypeMismatch', c3, /received a 1 auth, expecting 2!/);
});

test('parsing: too short for AH + VRRP header is keepalived\'s "with AH too short"; AH for another protocol is ignored, not counted', () => {
  const p = mcast[0]!.ip;
  const short = Buffer.from(p.subarray(0, 20 + AH_HEADER_LEN + 4));
  short.writeUInt16BE(short.length, 2);
  const s = parseIpv4(short);
  assert.equal(s.ok, false);
  assert.match(!s.ok ? s.reason : '', /^IPv4 VRRP packet with AH too short - 48 bytes$/);
  assert.equal(!s.ok && s.protocol, AH_PROTOCOL);
  assert.equal(!s.ok && s.ignore, undefined);
  const esp = Buffer.from(p);
  esp[20] = 6; // an AH header in front of TCP
  const e = parseIpv4(esp);
  assert.equal(e.ok, false);
  assert.equal(!e.ok && e.ignore, true);
  assert.deepEqual(parseAh(esp, 20), { ok: false, ignore: true, reason: 'an IPsec AH packet for protocol 6, not VRRP' });
  // the total length still has to match what arrived
  const long = Buffer.concat([p, Buffer.alloc(4)]);
  const l = parseIpv4(long);
  assert.match(!l.ok ? l.reason : '', /ip_tot_len mismatch/);
  assert.equal(!l.ok && l.vrid, 51);
});

test('AhSequence: next, accept, sync above a lower priority, and the cycle at 0xfffffffd', () => {
  const s = new AhSequence();
  assert.equal(s.next(), 1);
  assert.equal(s.accept(1), false);
  assert.equal(s.accept(5), true);
  assert.equal(s.next(), 6);
  s.syncAbove(10);
  assert.equal(s.seq, 11);
  assert.equal(s.next(), 12);
  s.syncAbove(0xffffffff);
  assert.equal(s.seq, 0, 'wraps as a uint32');
  s.seq = 0xfffffffd;
  assert.equal(s.next(), 0xfffffffe);
  assert.equal(s.cycled, false);
  assert.equal(s.next(), 0xfffffffe, 'past the limit it stops counting');
  assert.equal(s.cycled, true);
  s.becomingMaster();
  assert.equal(s.seq, 0);
  assert.equal(s.cycled, false);
  s.becomingMaster();
  assert.equal(s.seq, 0);
  s.seq = 7;
  s.becomingMaster();
  assert.equal(s.seq, 7, 'not cycled: a new master continues');
});

test('encodeAdvert with ah: auth type 2, zero authentication data; refuses AH with PASS or on VRRPv3', () => {
  const v = encodeAdvert({ version: 2, family: 4, vrid: 51, priority: 101, advertIntCs: 100, addresses: ['10.99.0.99'], ah: true });
  assert.equal(v[4], 2);
  assert.deepEqual(v.subarray(12), Buffer.alloc(8));
  assert.throws(
    () => encodeAdvert({ version: 2, family: 4, vrid: 51, priority: 101, advertIntCs: 100, addresses: [], ah: true, authPass: 'x' }),
    /PASS or AH, not both/,
  );
  assert.throws(
    () => encodeAdvert({ version: 3, family: 4, vrid: 51, priority: 101, advertIntCs: 100, addresses: [], ah: true, src: '10.0.0.1', dst: '224.0.0.18' }),
    /VRRPv3 has no authentication/,
  );
  assert.throws(
    () => encodeAhPacket({ vrrp: v, src: '10.99.0.300', dst: '224.0.0.18', ttl: 255, id: 1, seq: 1, key: ahKey(PASS), unicast: false }),
    /not an IPv4 address/,
  );
});
