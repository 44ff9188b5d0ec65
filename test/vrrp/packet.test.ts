import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkAdvert,
  compareAddresses,
  decodeAdvert,
  encodeAdvert,
  parseIpv4,
  peekVrid,
  type AdvertExpectation,
  type CheckOutcome,
} from '../../core/vrrp/packet';
import { newCounters, type Received, type VrrpCounters } from '../../core/vrrp/types';
import { bytesToIp, ipToBytes } from '../../core/net/address';

/** test/fixtures in the source tree (tests run from dist/test/vrrp; fixtures are not compiled) */
const VECTORS = path.resolve(__dirname, '../../../test/fixtures/vrrp-vectors');

interface Frame {
  file: string;
  index: number;
  bytes: Buffer;
}

/** The IPv4 frames of golden-hex.txt: "<pcap> #<n> <time> len=<n> <hex of the ethernet frame>". */
function goldenFrames(): Frame[] {
  const out: Frame[] = [];
  for (const line of fs.readFileSync(path.join(VECTORS, 'golden-hex.txt'), 'utf8').split('\n')) {
    const m = /^(\S+) #(\d+) \S+ len=(\d+) ([0-9a-f]+)$/.exec(line.trim());
    if (!m) continue;
    const bytes = Buffer.from(m[4]!, 'hex');
    assert.equal(bytes.length, Number(m[3]), `${m[1]} #${m[2]}: length field`);
    if (bytes.readUInt16BE(12) !== 0x0800) continue; // the gratuitous ARPs
    out.push({ file: m[1]!, index: Number(m[2]), bytes });
  }
  return out;
}

/** The lab's configuration (README.md): VRID 51, VIP 10.99.0.99, v2 with PASS s3cret, v3 at 1 s and 0.1 s. */
function labExpectation(file: string): AdvertExpectation {
  if (file.startsWith('golden-v2')) {
    return { name: 'VI_1', version: 2, family: 4, vrid: 51, advertIntCs: 100, authPass: 's3cret', addresses: ['10.99.0.99'], unicast: false };
  }
  return { name: 'VI_1', version: 3, family: 4, vrid: 51, advertIntCs: file.includes('adv0.1') ? 10 : 100, addresses: ['10.99.0.99'], unicast: false };
}

const ipPacket = (f: Frame): Buffer => Buffer.from(f.bytes.subarray(14));

function rxOf(f: Frame): Received {
  const parsed = parseIpv4(ipPacket(f));
  assert.ok(parsed.ok, `${f.file} #${f.index}: ${parsed.ok ? '' : parsed.reason}`);
  return parsed.rx;
}

function rejected(outcome: CheckOutcome, counter: keyof VrrpCounters, counters: VrrpCounters, reason?: RegExp): void {
  assert.equal(outcome.ok, false, 'expected a rejection');
  if (outcome.ok) return;
  assert.equal(outcome.counter, counter, outcome.reason);
  assert.equal(counters[counter], 1, `${counter} counted once`);
  if (reason) assert.match(outcome.reason, reason);
}

/** counters that moved, by how much */
function delta(before: VrrpCounters, after: VrrpCounters): Partial<Record<keyof VrrpCounters, number>> {
  const d: Partial<Record<keyof VrrpCounters, number>> = {};
  for (const k of Object.keys(before) as Array<keyof VrrpCounters>) if (after[k] !== before[k]) d[k] = after[k] - before[k];
  return d;
}

const frames = goldenFrames();

test('the fixture holds v2 and v3 adverts from both nodes, priority 0 ones included', () => {
  const seen = new Set(frames.map((f) => `${f.file.replace(/\.pcap$/, '')} prio ${f.bytes[14 + 20 + 2]}`));
  for (const want of [
    'golden-v2-adv1 prio 101',
    'golden-v2-adv1 prio 100',
    'golden-v2-adv1 prio 0',
    'golden-v3-adv1 prio 101',
    'golden-v3-adv1 prio 100',
    'golden-v3-adv1 prio 0',
    'golden-v3-adv0.1 prio 101',
    'golden-v3-adv0.1 prio 0',
  ]) {
    assert.ok(seen.has(want), want);
  }
});

test('every captured keepalived advert parses, passes the checks and decodes to the lab values', () => {
  for (const f of frames) {
    const what = `${f.file} #${f.index}`;
    const rx = rxOf(f);
    const fromN1 = rx.src === '10.99.0.11';
    assert.ok(fromN1 || rx.src === '10.99.0.12', what);
    assert.equal(rx.dst, '224.0.0.18', what);
    assert.equal(rx.ttl, 255, what);
    assert.equal(rx.family, 4, what);
    assert.equal(peekVrid(rx.payload), 51, what);
    const expect = labExpectation(f.file);
    const counters = newCounters();
    const outcome = checkAdvert(rx, expect, counters);
    assert.ok(outcome.ok, `${what}: ${outcome.ok ? '' : outcome.reason}`);
    const a = outcome.advert;
    assert.equal(a.version, expect.version, what);
    assert.equal(a.type, 1, what);
    assert.equal(a.vrid, 51, what);
    assert.ok(a.priority === 0 || a.priority === (fromN1 ? 101 : 100), `${what}: priority ${a.priority}`);
    assert.equal(a.advertIntCs, expect.advertIntCs, what);
    assert.deepEqual(a.addresses, ['10.99.0.99'], what);
    assert.equal(a.checksum, rx.payload.readUInt16BE(6), what);
    if (expect.version === 2) {
      assert.equal(a.authType, 1, what);
      assert.deepEqual(a.authData, Buffer.from('s3cret\0\0', 'latin1'), what);
    } else {
      assert.equal(a.authType, 0, what);
      assert.equal(a.authData, undefined, what);
    }
    assert.deepEqual(outcome.notes, [], what);
    assert.deepEqual(delta(newCounters(), counters), a.priority === 0 ? { advertRcvd: 1, priZeroRcvd: 1 } : { advertRcvd: 1 }, what);
  }
});

test('encodeAdvert reproduces every captured advert byte for byte from the VRRP header on, checksum included', () => {
  for (const f of frames) {
    const rx = rxOf(f);
    const a = decodeAdvert(rx.payload, 4)!;
    const expect = labExpectation(f.file);
    const encoded = encodeAdvert({
      version: expect.version,
      family: 4,
      vrid: 51,
      priority: a.priority,
      advertIntCs: expect.advertIntCs,
      addresses: ['10.99.0.99'],
      ...(expect.authPass !== undefined ? { authPass: expect.authPass } : {}),
      src: rx.src,
      dst: rx.dst,
    });
    assert.equal(encoded.toString('hex'), rx.payload.toString('hex'), `${f.file} #${f.index}`);
  }
});

test('the v3 checksum covers the IPv4 pseudo-header: another source gives another checksum, v2 does not care', () => {
  const base = { family: 4 as const, vrid: 51, priority: 101, advertIntCs: 100, addresses: ['10.99.0.99'], dst: '224.0.0.18' };
  const a = encodeAdvert({ ...base, version: 3, src: '10.99.0.11' });
  const b = encodeAdvert({ ...base, version: 3, src: '10.99.0.12' });
  assert.notEqual(a.readUInt16BE(6), b.readUInt16BE(6));
  assert.deepEqual(a.subarray(8), b.subarray(8));
  const v2a = encodeAdvert({ ...base, version: 2, src: '10.99.0.11' });
  const v2b = encodeAdvert({ ...base, version: 2, src: '10.99.0.12' });
  assert.deepEqual(v2a, v2b);
  // a v3 advert checked against the wrong source fails its checksum
  const counters = newCounters();
  const out = checkAdvert(
    { family: 4, src: '10.99.0.12', dst: '224.0.0.18', ttl: 255, payload: a },
    { ...labExpectation('golden-v3-adv1'), name: 'VI_1' },
    counters,
  );
  rejected(out, 'checksumErr', counters, /^\(VI_1\) Invalid VRRPv3 checksum$/);
});

// ---------------------------------------------------------------------------
// rejections, from mutated copies of real packets

const v2Frame = frames.find((f) => f.file.startsWith('golden-v2') && f.bytes[14 + 22] === 101)!;
const v3Frame = frames.find((f) => f.file === 'golden-v3-adv1.pcap' && f.bytes[14 + 22] === 101)!;

function mutate(f: Frame, fn: (ip: Buffer) => void): Received {
  const ip = ipPacket(f);
  fn(ip);
  const parsed = parseIpv4(ip);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return parsed.rx;
}

test('wrong TTL: ipTtlErr, unless unicast (which may be routed)', () => {
  for (const f of [v2Frame, v3Frame]) {
    const rx = mutate(f, (ip) => (ip[8] = 64));
    const counters = newCounters();
    rejected(checkAdvert(rx, labExpectation(f.file), counters), 'ipTtlErr', counters, /^\(VI_1\) invalid TTL\/HL\. Received 64 and expect 255$/);
    // unicast: no TTL rule without a range; but the multicast destination is now wrong
    const c2 = newCounters();
    rejected(checkAdvert(rx, { ...labExpectation(f.file), unicast: true }, c2), 'addrListErr', c2, /Expected unicast packet but received multicast packet/);
    const unicastRx = { ...rx, dst: '10.99.0.12' };
    const c3 = newCounters();
    const v = labExpectation(f.file);
    if (v.version === 3) {
      // v3's checksum covers the destination; re-encode for the unicast destination
      unicastRx.payload = encodeAdvert({
        version: 3,
        family: 4,
        vrid: 51,
        priority: 101,
        advertIntCs: 100,
        addresses: ['10.99.0.99'],
        src: rx.src,
        dst: '10.99.0.12',
      });
    }
    assert.equal(checkAdvert(unicastRx, { ...v, unicast: true }, c3).ok, true);
    // with the peer's TTL range (check_unicast_src), 64 must lie in it
    const c4 = newCounters();
    const out = checkAdvert(unicastRx, { ...v, unicast: true, minTtl: 200 }, c4);
    assert.equal(out.ok, false);
    assert.equal(!out.ok && out.counter, 'ipTtlErr');
    assert.match(!out.ok ? out.reason : '', /TTL\/HL 64 not in range 200 - 255/);
    // keepalived checks the range after it counted the advert
    assert.deepEqual(delta(newCounters(), c4), { advertRcvd: 1, ipTtlErr: 1 });
  }
});

test('bad checksum: checksumErr, v2 and v3', () => {
  for (const f of [v2Frame, v3Frame]) {
    const rx = mutate(f, (ip) => (ip[20 + 6] ^= 0x01));
    const counters = newCounters();
    rejected(checkAdvert(rx, labExpectation(f.file), counters), 'checksumErr', counters, f === v2Frame ? /Invalid VRRPv2 checksum/ : /Invalid VRRPv3 checksum/);
    // a flipped bit in the addresses is caught the same way
    const rx2 = mutate(f, (ip) => (ip[20 + 8 + 3] ^= 0x80));
    const c2 = newCounters();
    rejected(checkAdvert(rx2, { ...labExpectation(f.file), addresses: ['10.99.0.99'] }, c2), 'checksumErr', c2);
  }
});

test('wrong password: authFailure; wrong or unknown auth type: authTypeMismatch / invalidAuthType', () => {
  const rx = rxOf(v2Frame);
  const c1 = newCounters();
  rejected(checkAdvert(rx, { ...labExpectation(v2Frame.file), authPass: 's3cret!' }, c1), 'authFailure', c1, /^\(VI_1\) received an invalid passwd!$/);
  // only the first 8 bytes count, as keepalived stores auth_pass
  const c1b = newCounters();
  const longer = mutate(v2Frame, () => undefined);
  const encodedLong = encodeAdvert({
    version: 2,
    family: 4,
    vrid: 51,
    priority: 101,
    advertIntCs: 100,
    addresses: ['10.99.0.99'],
    authPass: '12345678-and-more',
  });
  assert.equal(checkAdvert({ ...longer, payload: encodedLong }, { ...labExpectation(v2Frame.file), authPass: '12345678' }, c1b).ok, true);
  const c2 = newCounters();
  rejected(checkAdvert(rx, { ...labExpectation(v2Frame.file), authPass: undefined }, c2), 'authTypeMismatch', c2, /received a 1 auth, expecting 0!/);
  const c3 = newCounters();
  rejected(
    checkAdvert(
      mutate(v2Frame, (ip) => (ip[20 + 4] = 7)),
      labExpectation(v2Frame.file),
      c3,
    ),
    'invalidAuthType',
    c3,
    /Invalid auth type: 7/,
  );
  // IPsec AH (2) is a valid type on the wire, but not a PASS instance's
  const c4 = newCounters();
  rejected(
    checkAdvert(
      mutate(v2Frame, (ip) => (ip[20 + 4] = 2)),
      labExpectation(v2Frame.file),
      c4,
    ),
    'authTypeMismatch',
    c4,
  );
});

test('wrong VRID: vridErr', () => {
  for (const f of [v2Frame, v3Frame]) {
    const counters = newCounters();
    rejected(checkAdvert(rxOf(f), { ...labExpectation(f.file), vrid: 52 }, counters), 'vridErr', counters, /received VRID 51, expect 52/);
  }
});

test('wrong version: versionErr, both ways', () => {
  const c1 = newCounters();
  rejected(checkAdvert(rxOf(v3Frame), labExpectation(v2Frame.file), c1), 'versionErr', c1, /wrong version\. Received 3 and expect 2/);
  const c2 = newCounters();
  rejected(checkAdvert(rxOf(v2Frame), labExpectation(v3Frame.file), c2), 'versionErr', c2, /wrong version\. Received 2 and expect 3/);
});

test('truncated: packetLenErr in the checks, a reason with the VRID from parseIpv4', () => {
  for (const f of [v2Frame, v3Frame]) {
    const rx = rxOf(f);
    for (let n = 0; n < rx.payload.length; n++) {
      const counters = newCounters();
      const out = checkAdvert({ ...rx, payload: rx.payload.subarray(0, n) }, labExpectation(f.file), counters);
      rejected(out, 'packetLenErr', counters, n < 8 ? /too short, length \d+ and expect at least 8/ : /vrrp packet too short, length \d+ and expect \d+/);
    }
    // one byte too many
    const c2 = newCounters();
    rejected(checkAdvert({ ...rx, payload: Buffer.concat([rx.payload, Buffer.alloc(1)]) }, labExpectation(f.file), c2), 'packetLenErr', c2, /too long/);
    // the IP packet cut short: its total length says more than arrived
    const ip = ipPacket(f);
    const cut = parseIpv4(ip.subarray(0, ip.length - 3));
    assert.equal(cut.ok, false);
    assert.match(!cut.ok ? cut.reason : '', /ip_tot_len mismatch against received length\. \d+ and received \d+/);
    assert.equal(!cut.ok && cut.vrid, 51);
  }
});

test('wrong type: invalidTypeRcvd', () => {
  for (const f of [v2Frame, v3Frame]) {
    const counters = newCounters();
    const rx = mutate(f, (ip) => (ip[20] = (ip[20]! & 0xf0) | 2));
    rejected(checkAdvert(rx, labExpectation(f.file), counters), 'invalidTypeRcvd', counters, /Invalid packet type\. 2 and expect 1/);
  }
});

test('v2 advert interval mismatch: dropped, advertIntervalErr; v3: accepted with a note', () => {
  const c1 = newCounters();
  rejected(
    checkAdvert(rxOf(v2Frame), { ...labExpectation(v2Frame.file), advertIntCs: 200 }, c1),
    'advertIntervalErr',
    c1,
    /advertisement interval mismatch mine=2 sec rcv'd=1 sec/,
  );
  const c2 = newCounters();
  const out = checkAdvert(rxOf(v3Frame), { ...labExpectation(v3Frame.file), advertIntCs: 10 }, c2);
  assert.ok(out.ok);
  assert.equal(out.advert.advertIntCs, 100);
  assert.equal(out.notes.length, 1);
  assert.match(out.notes[0]!, /^\(VI_1\) advert interval 100 cs from 10\.99\.0\.11 differs from ours \(10 cs\)/);
  assert.deepEqual(delta(newCounters(), c2), { advertRcvd: 1 });
});

test('address list: a wrong count or a missing VIP is addrListErr, unless skip_check_adv_addr for the known master', () => {
  const rx = rxOf(v2Frame);
  const c1 = newCounters();
  rejected(
    checkAdvert(rx, { ...labExpectation(v2Frame.file), addresses: ['10.99.0.99', '10.99.0.98'] }, c1),
    'addrListErr',
    c1,
    /unexpected ip number count 1, expected 2!/,
  );
  assert.equal(c1.advertRcvd, 0);
  const c2 = newCounters();
  const out = checkAdvert(rx, { ...labExpectation(v2Frame.file), addresses: ['10.99.0.98'] }, c2);
  assert.equal(out.ok, false);
  assert.match(!out.ok ? out.reason : '', /^\(VI_1\) ip address associated with VRID 51 not present in MASTER advert: 10\.99\.0\.98$/);
  // keepalived counts the advert before it compares the addresses
  assert.deepEqual(delta(newCounters(), c2), { advertRcvd: 1, addrListErr: 1 });
  // skip_check_adv_addr: skipped for the master we know, checked for anyone else
  const skip = { ...labExpectation(v2Frame.file), addresses: ['10.99.0.98', '10.99.0.97'], skipCheckAdvAddr: true };
  assert.equal(checkAdvert(rx, { ...skip, knownMaster: '10.99.0.11' }, newCounters()).ok, true);
  assert.equal(checkAdvert(rx, { ...skip, knownMaster: '10.99.0.12' }, newCounters()).ok, false);
  assert.equal(checkAdvert(rx, skip, newCounters()).ok, false);
});

test('a multicast instance drops unicast adverts, and the family must match', () => {
  const payload = encodeAdvert({
    version: 3,
    family: 4,
    vrid: 51,
    priority: 100,
    advertIntCs: 100,
    addresses: ['10.99.0.99'],
    src: '10.99.0.12',
    dst: '10.99.0.11',
  });
  const c1 = newCounters();
  rejected(
    checkAdvert({ family: 4, src: '10.99.0.12', dst: '10.99.0.11', ttl: 255, payload }, labExpectation('golden-v3-adv1'), c1),
    'addrListErr',
    c1,
    /Expected multicast packet but received unicast packet/,
  );
  const c2 = newCounters();
  rejected(checkAdvert({ ...rxOf(v3Frame), family: 6 }, labExpectation('golden-v3-adv1'), c2), 'addrListErr', c2, /IPv6 packet on an IPv4 instance/);
});

test('reasons carry the instance name only when it is given', () => {
  const c = newCounters();
  const { name: _name, ...anonymous } = labExpectation(v2Frame.file);
  const out = checkAdvert(rxOf(v2Frame), { ...anonymous, vrid: 9 }, c);
  assert.equal(!out.ok && out.reason, 'received VRID 51, expect 9');
});

// ---------------------------------------------------------------------------
// IPv6

/** An independent RFC 1071 sum over the IPv6 pseudo-header (RFC 8200 8.1) and the packet, byte by byte with BigInt. */
function independentV6Checksum(src: string, dst: string, packet: Buffer): number {
  const bytes = [...ipToBytes(src, 6)!, ...ipToBytes(dst, 6)!, 0, 0, (packet.length >> 8) & 0xff, packet.length & 0xff, 0, 0, 0, 112, ...packet];
  bytes[40 + 6] = 0; // the checksum field counts as zero
  bytes[40 + 7] = 0;
  let sum = 0n;
  for (let i = 0; i < bytes.length; i += 2) sum += (BigInt(bytes[i]!) << 8n) + BigInt(bytes[i + 1] ?? 0);
  while (sum >> 16n) sum = (sum & 0xffffn) + (sum >> 16n);
  return Number(~sum & 0xffffn);
}

test('IPv6 (v3) adverts round-trip, with the checksum over the IPv6 pseudo-header', () => {
  const cases = [
    { src: 'fe80::1', dst: 'ff02::12', addresses: ['2001:db8::99'] },
    { src: 'fe80::200:ff:fe99:11', dst: 'ff02::12', addresses: ['2001:db8:0:1::1', 'fe80::99', '::ffff:10.0.0.1'] },
    { src: '2001:db8::11', dst: '2001:db8::12', addresses: [] },
  ];
  for (const c of cases) {
    const payload = encodeAdvert({ version: 3, family: 6, vrid: 7, priority: 150, advertIntCs: 25, ...c });
    assert.equal(payload.length, 8 + 16 * c.addresses.length);
    assert.equal(payload[0], 0x31);
    assert.equal(payload.readUInt16BE(6), independentV6Checksum(c.src, c.dst, payload), c.src);
    const unicast = !c.dst.startsWith('ff');
    const counters = newCounters();
    const out = checkAdvert(
      { family: 6, src: c.src, dst: c.dst, ttl: unicast ? 64 : 255, payload },
      { name: 'VI_6', version: 3, family: 6, vrid: 7, advertIntCs: 25, addresses: c.addresses, unicast },
      counters,
    );
    assert.ok(out.ok, out.ok ? '' : out.reason);
    assert.equal(out.advert.priority, 150);
    assert.equal(out.advert.advertIntCs, 25);
    assert.deepEqual(
      out.advert.addresses,
      c.addresses.map((a) => bytesToIp(ipToBytes(a, 6)!)),
    );
    // the pseudo-header holds the destination: another one fails
    const c2 = newCounters();
    rejected(
      checkAdvert(
        { family: 6, src: c.src, dst: unicast ? '2001:db8::13' : 'ff02::13', ttl: unicast ? 64 : 255, payload },
        { name: 'VI_6', version: 3, family: 6, vrid: 7, advertIntCs: 25, addresses: c.addresses, unicast },
        c2,
      ),
      'checksumErr',
      c2,
    );
  }
});

test('IPv6 hop limit is checked when the socket reports it, the checksum left to the kernel when the destination is unknown', () => {
  const payload = encodeAdvert({
    version: 3,
    family: 6,
    vrid: 7,
    priority: 100,
    advertIntCs: 100,
    addresses: ['2001:db8::99'],
    src: 'fe80::1',
    dst: 'ff02::12',
  });
  const expect: AdvertExpectation = { version: 3, family: 6, vrid: 7, advertIntCs: 100, addresses: ['2001:db8::99'], unicast: false };
  const c1 = newCounters();
  rejected(checkAdvert({ family: 6, src: 'fe80::1', dst: 'ff02::12', ttl: 1, payload }, expect, c1), 'ipTtlErr', c1);
  assert.equal(checkAdvert({ family: 6, src: 'fe80::1', dst: 'ff02::12', ttl: undefined, payload }, expect, newCounters()).ok, true);
  const corrupt = Buffer.from(payload);
  corrupt[6] ^= 0xff;
  assert.equal(checkAdvert({ family: 6, src: 'fe80::1', dst: '', ttl: 255, payload: corrupt }, expect, newCounters()).ok, true);
  assert.equal(checkAdvert({ family: 6, src: 'fe80::1', dst: 'ff02::12', ttl: 255, payload: corrupt }, expect, newCounters()).ok, false);
});

test('encodeAdvert refuses what no VRRP packet can carry', () => {
  const ok = { version: 3 as const, family: 4 as const, vrid: 1, priority: 100, advertIntCs: 100, addresses: ['10.0.0.1'], src: '10.0.0.2', dst: '224.0.0.18' };
  assert.doesNotThrow(() => encodeAdvert(ok));
  assert.throws(() => encodeAdvert({ ...ok, version: 2, family: 6, addresses: ['2001:db8::1'] }), /VRRPv2 is IPv4 only/);
  assert.throws(() => encodeAdvert({ ...ok, vrid: 0 }), /vrid must be an integer in 1\.\.255/);
  assert.throws(() => encodeAdvert({ ...ok, priority: 256 }), /priority/);
  assert.throws(() => encodeAdvert({ ...ok, advertIntCs: 4096 }), /1\.\.4095/);
  assert.throws(() => encodeAdvert({ ...ok, version: 2, advertIntCs: 150 }), /whole seconds/);
  assert.throws(() => encodeAdvert({ ...ok, addresses: ['2001:db8::1'] }), /not an IPv4 address/);
  assert.throws(() => encodeAdvert({ ...ok, src: undefined }), /needs the IPv4 source and destination/);
  assert.throws(() => encodeAdvert({ ...ok, authPass: 'x' }), /no authentication/);
  // v2 needs no addresses for its checksum
  assert.doesNotThrow(() => encodeAdvert({ ...ok, version: 2, src: undefined, dst: undefined }));
});

test('addresses: parse, canonical IPv6 text, numeric order', () => {
  assert.equal(bytesToIp(ipToBytes('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  assert.equal(bytesToIp(ipToBytes('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  assert.equal(bytesToIp(ipToBytes('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1');
  assert.equal(bytesToIp(ipToBytes('::')!), '::');
  assert.equal(bytesToIp(ipToBytes('::ffff:10.0.0.1')!), '::ffff:a00:1');
  assert.equal(bytesToIp(ipToBytes('fe80::1%eth0')!), 'fe80::1');
  assert.equal(ipToBytes('10.0.0.1', 6), undefined);
  assert.equal(ipToBytes('fe80::1', 4), undefined);
  assert.equal(ipToBytes('10.0.0.256'), undefined);
  assert.equal(ipToBytes('nonsense'), undefined);
  // numerically, not as text: '9' sorts after '10' as a string
  assert.equal(compareAddresses('10.0.0.10', '10.0.0.9'), 1);
  assert.equal(compareAddresses('10.0.0.9', '10.0.0.10'), -1);
  assert.equal(compareAddresses('fe80::12', 'fe80::9'), 1);
  assert.equal(compareAddresses('FE80::0:9', 'fe80::9'), 0);
  assert.equal(compareAddresses('10.0.0.1', 'fe80::1'), 0);
});

// ---------------------------------------------------------------------------
// never throws

/** mulberry32: a small seeded generator, so a failure can be replayed */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** checkAdvert's contract on any input: no throw, one counter per rejection (two where keepalived counts the advert first) */
function checkContract(rx: Received, expect: AdvertExpectation, what: string): void {
  const counters = newCounters();
  let out: CheckOutcome;
  try {
    out = checkAdvert(rx, expect, counters);
  } catch (err) {
    assert.fail(`${what}: checkAdvert threw ${(err as Error).stack}`);
  }
  const d = delta(newCounters(), counters);
  if (out.ok) {
    assert.deepEqual(d, out.advert.priority === 0 ? { advertRcvd: 1, priZeroRcvd: 1 } : { advertRcvd: 1 }, what);
  } else {
    assert.equal(typeof out.reason, 'string', what);
    assert.ok(out.reason.length > 0, what);
    const late = counters.advertRcvd === 1 && (out.counter === 'addrListErr' || out.counter === 'ipTtlErr');
    assert.deepEqual(d, late ? { advertRcvd: 1, [out.counter]: 1 } : { [out.counter]: 1 }, `${what}: ${out.reason}`);
  }
}

test('fuzz: random buffers, truncations and bit flips never throw, and count as promised', () => {
  const seed = Number(process.env.ALIVED_FUZZ_SEED ?? 0x5eed);
  const rand = prng(seed);
  const expects = [
    labExpectation('golden-v2-adv1'),
    labExpectation('golden-v3-adv1'),
    { ...labExpectation('golden-v3-adv1'), family: 6 as const, addresses: ['2001:db8::1'] },
  ];
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  for (let i = 0; i < 3000; i++) {
    const buf = bytes(Math.floor(rand() * 90));
    // random IP packets, some with a plausible header so the VRRP checks run
    if (buf.length >= 20 && rand() < 0.7) {
      buf[0] = 0x40 | (5 + Math.floor(rand() * 3));
      buf[9] = 112;
      buf.writeUInt16BE(buf.length, 2);
    }
    let parsed;
    try {
      parsed = parseIpv4(buf);
    } catch (err) {
      assert.fail(`seed ${seed} #${i}: parseIpv4 threw ${(err as Error).message} on ${buf.toString('hex')}`);
    }
    assert.doesNotThrow(() => peekVrid(buf));
    assert.doesNotThrow(() => decodeAdvert(buf, 4));
    assert.doesNotThrow(() => decodeAdvert(buf, 6));
    const rx: Received = parsed.ok ? parsed.rx : { family: 4, src: '10.0.0.1', dst: '224.0.0.18', ttl: 255, payload: buf };
    for (const e of expects)
      checkContract(rx.family === e.family ? rx : { ...rx, family: e.family, src: 'fe80::1', dst: 'ff02::12' }, e, `seed ${seed} #${i} ${buf.toString('hex')}`);
  }
  // every truncation and every single-bit flip of the real packets
  for (const f of frames.filter((x) => x.index === 0)) {
    const ip = ipPacket(f);
    const expect = labExpectation(f.file);
    for (let n = 0; n <= ip.length; n++) {
      const parsed = parseIpv4(ip.subarray(0, n));
      if (parsed.ok) checkContract(parsed.rx, expect, `${f.file} cut at ${n}`);
      checkContract({ ...rxOf(f), payload: ip.subarray(20, Math.max(20, n)) }, expect, `${f.file} payload cut at ${n}`);
    }
    for (let bit = 0; bit < ip.length * 8; bit++) {
      const flipped = Buffer.from(ip);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      const parsed = parseIpv4(flipped);
      if (parsed.ok) checkContract(parsed.rx, expect, `${f.file} bit ${bit}`);
    }
  }
  // garbage addresses in a hand-made Received
  checkContract({ family: 4, src: 'garbage', dst: 'also garbage', ttl: 255, payload: rxOf(v3Frame).payload }, labExpectation(v3Frame.file), 'bad addresses');
});
