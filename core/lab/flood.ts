/**
 * A garbage VRRP flood, run inside a lab host (never elsewhere): IPv4
 * protocol-112 packets aimed at one virtual router (its VRID, to
 * 224.0.0.18 by default) that a correct VRRP daemon must all discard, sent at
 * a steady rate for a while:
 *
 *   checksum   a VRRPv3 advert at priority 255 with a wrong checksum
 *   ttl        a valid VRRPv3 advert at priority 255, but TTL 64 (RFC 9568 5.1.1.3: must be 255)
 *   auth       a VRRPv2 advert at priority 255 with simple-text auth and a wrong password
 *   length     a VRRPv3 advert whose address count says more than the packet holds
 *   truncated  the first 1 to 7 bytes of an advert
 *   malformed  random bytes, the VRID byte set
 *
 * Every packet that could win an election claims priority 255: a daemon that
 * took one for an advert would give up mastership, which is how a flood
 * benchmark sees a parser that accepts garbage.
 *
 *   node flood.js SRC DST VRID PPS DURATION_MS
 *
 * Prints one JSON line when done: {"sent":N,"dropped":N,"errors":N,"t0":"<ns>","t1":"<ns>","byKind":{...}}
 * with t0/t1 on the monotonic clock (process.hrtime, the lab watchers' clock),
 * dropped = packets it had no time to send (the socket fell behind the rate).
 * core/lab/faults.ts flood() runs it.
 */

import { RawSocket } from '../vrrp/raw-socket';

const KINDS = ['checksum', 'ttl', 'auth', 'length', 'truncated', 'malformed'] as const;
export type FloodKind = (typeof KINDS)[number];

export interface FloodReport {
  sent: number;
  /** packets the rate asked for that the socket had no room for */
  dropped: number;
  errors: number;
  /** monotonic ns, as decimal strings (JSON has no bigint) */
  t0: string;
  t1: string;
  byKind: Record<FloodKind, number>;
}

const VRRP_PROTOCOL = 112;
/** how many distinct packets are built up front: the flood's cost is the sending, not the building */
const POOL = 600;
/** the rate is kept in slices of this many ms */
const SLICE_MS = 5;
/** packets handed to the socket and waiting for its buffer to drain, at most */
const MAX_QUEUED = 2000;

function checksum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number));
}

/** VRRPv3 over IPv4: the checksum covers a pseudo-header (RFC 9568 5.2.8) */
function v3Advert(src: string, dst: string, vrid: number, priority: number, addresses: string[], countOverride?: number): Buffer {
  const b = Buffer.alloc(8 + 4 * addresses.length);
  b[0] = (3 << 4) | 1;
  b[1] = vrid;
  b[2] = priority;
  b[3] = countOverride ?? addresses.length;
  b.writeUInt16BE(10, 4); // max advert interval 10 cs
  addresses.forEach((a, i) => ipv4(a).copy(b, 8 + 4 * i));
  const pseudo = Buffer.concat([ipv4(src), ipv4(dst), Buffer.from([0, VRRP_PROTOCOL]), Buffer.from([b.length >> 8, b.length & 0xff])]);
  b.writeUInt16BE(checksum(b, 0xffff - checksum(pseudo)), 6);
  return b;
}

/** VRRPv2 with simple-text auth (type 1): the checksum covers the VRRP packet only */
function v2Advert(vrid: number, priority: number, addresses: string[], password: string): Buffer {
  const b = Buffer.alloc(8 + 4 * addresses.length + 8);
  b[0] = (2 << 4) | 1;
  b[1] = vrid;
  b[2] = priority;
  b[3] = addresses.length;
  b[4] = 1;
  b[5] = 1;
  addresses.forEach((a, i) => ipv4(a).copy(b, 8 + 4 * i));
  Buffer.from(password.padEnd(8, '\0').slice(0, 8)).copy(b, 8 + 4 * addresses.length);
  b.writeUInt16BE(checksum(b), 6);
  return b;
}

function ipPacket(payload: Buffer, src: string, dst: string, ttl: number, id: number): Buffer {
  const p = Buffer.alloc(20 + payload.length);
  p[0] = 0x45;
  p[1] = 0xc0;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(id & 0xffff, 4);
  p[8] = ttl;
  p[9] = VRRP_PROTOCOL;
  ipv4(src).copy(p, 12);
  ipv4(dst).copy(p, 16);
  p.writeUInt16BE(checksum(p.subarray(0, 20)), 10);
  payload.copy(p, 20);
  return p;
}

/** A seeded xorshift: every run sends the same packets. */
function generator(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/** One packet of each kind in turn, POOL of them, built once. */
export function floodPackets(src: string, dst: string, vrid: number, count = POOL): Array<{ kind: FloodKind; packet: Buffer }> {
  const rand = generator(0x9e3779b9);
  // the VIP a real master of this router would list: nothing here depends on it being right
  const addrs = ['10.99.0.99'];
  const out: Array<{ kind: FloodKind; packet: Buffer }> = [];
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % KINDS.length]!;
    let payload: Buffer;
    let ttl = 255;
    switch (kind) {
      case 'checksum':
        payload = v3Advert(src, dst, vrid, 255, addrs);
        payload.writeUInt16BE(payload.readUInt16BE(6) ^ (1 + rand(0xfffe)), 6);
        break;
      case 'ttl':
        payload = v3Advert(src, dst, vrid, 255, addrs);
        ttl = 64;
        break;
      case 'auth':
        payload = v2Advert(vrid, 255, addrs, `bad${rand(100_000)}`);
        break;
      case 'length':
        payload = v3Advert(src, dst, vrid, 255, addrs, 2 + rand(10));
        break;
      case 'truncated':
        payload = v3Advert(src, dst, vrid, 255, addrs).subarray(0, 1 + rand(7));
        break;
      case 'malformed': {
        payload = Buffer.alloc(8 + rand(40));
        for (let j = 0; j < payload.length; j++) payload[j] = rand(256);
        payload[1] = vrid;
        break;
      }
    }
    out.push({ kind, packet: ipPacket(payload, src, dst, ttl, i) });
  }
  return out;
}

function main(argv: string[]): void {
  const [src, dst, vridText, ppsText, durationText] = argv;
  const vrid = Number(vridText);
  const pps = Number(ppsText);
  const durationMs = Number(durationText);
  if (!src || !dst || !(vrid >= 1 && vrid <= 255) || !(pps > 0) || !(durationMs > 0)) {
    process.stderr.write('usage: flood.js SRC DST VRID PPS DURATION_MS\n');
    process.exit(2);
  }
  // opened here: importing this module for floodPackets() opens no socket
  const sock = RawSocket.open({ family: 4, protocol: VRRP_PROTOCOL });
  sock.setOption(0 /* IPPROTO_IP */, 3 /* IP_HDRINCL */, 1);
  sock.setOption(1 /* SOL_SOCKET */, 25 /* SO_BINDTODEVICE */, Buffer.from('eth0\0'));

  const pool = floodPackets(src, dst, vrid);
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<FloodKind, number>;
  let next = 0;
  let queued = 0;
  let sent = 0;
  let dropped = 0;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(durationMs) * 1_000_000n;
  let due = 0;

  // every slice: as many packets as the rate owes since t0, so a late timer catches up
  const slice = setInterval(() => {
    const now = process.hrtime.bigint();
    const elapsedNs = Number((now < end ? now : end) - t0);
    const owed = Math.floor((elapsedNs / 1e9) * pps) - due;
    due += owed;
    for (let i = 0; i < owed; i++) {
      if (queued >= MAX_QUEUED) {
        dropped++;
        continue;
      }
      const { kind, packet } = pool[next++ % pool.length]!;
      byKind[kind]++;
      queued++;
      // the callback runs at once when the kernel takes the packet, later when the socket buffer is full
      sock.send(packet, dst, (err) => {
        queued--;
        if (err) errors++;
        else sent++;
      });
    }
    if (now >= end) {
      clearInterval(slice);
      finish();
    }
  }, SLICE_MS);

  function finish(): void {
    const t1 = process.hrtime.bigint();
    // what is still queued goes out or fails within a moment; bounded all the same
    const deadline = Date.now() + 2000;
    const wait = setInterval(() => {
      if (queued > 0 && Date.now() < deadline) return;
      clearInterval(wait);
      const report: FloodReport = { sent, dropped: dropped + queued, errors, t0: String(t0), t1: String(t1), byKind };
      process.stdout.write(`${JSON.stringify(report)}\n`);
      sock.close();
      process.exit(0);
    }, 10);
  }
  process.on('SIGTERM', () => finish());
}

if (require.main === module) main(process.argv.slice(2));
