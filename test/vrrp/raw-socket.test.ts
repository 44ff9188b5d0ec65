import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { RawSocket } from '../../core/vrrp/raw-socket';
import { ipv4Packet } from '../../core/vrrp/socket';
import { useLab, waitFor } from '../helpers/lab';

/**
 * The addon's raw IP sockets (native/raw_socket.c through RawSocket), what
 * VRRP sends on and the lab's pinger pings with: on loopback in this
 * namespace (ICMP echo to 127.0.0.1 and ::1, a header-included packet), and
 * behind a full socket buffer in a lab namespace.
 */

const QUEUE = path.join(__dirname, '..', 'fixtures', 'raw-socket', 'queue.js');

function echoRequest(id: number, seq: number, type: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = type;
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  if (type === 8) {
    let sum = 0;
    for (let i = 0; i < b.length; i += 2) sum += b.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, 2);
  }
  return b;
}

test('ICMP on loopback: an echo request goes out, the reply comes back with its source (IPv4 with its header, IPv6 without)', async () => {
  const id = process.pid & 0xffff;
  for (const [family, dst, protocol, request, reply] of [
    [4, '127.0.0.1', 1, 8, 0],
    // the kernel computes ICMPv6 checksums itself
    [6, '::1', 58, 128, 129],
  ] as const) {
    const got: { type: number; src: string }[] = [];
    const sock = RawSocket.open({
      family,
      protocol,
      onPacket: (b, src) => {
        const at = family === 4 ? (b[0]! & 0x0f) * 4 : 0;
        if (b.length >= at + 8 && b.readUInt16BE(at + 4) === id) got.push({ type: b[at]!, src });
      },
      onError: (err) => assert.fail(err),
    });
    try {
      let bytes: number | undefined;
      sock.send(echoRequest(id, 1, request), dst, (err, n) => {
        assert.ifError(err);
        bytes = n;
      });
      // out at once: the callback ran before send() returned
      assert.equal(bytes, 16);
      assert.equal(sock.queued, 0);
      await waitFor(`the IPv${family} echo reply`, () => (got.some((g) => g.type === reply) ? true : undefined), 5000);
      assert.equal(got.find((g) => g.type === reply)!.src, dst);
    } finally {
      sock.close();
    }
  }
});

test('IP_HDRINCL: the header goes out as written (TTL, id, TOS), as VrrpChannel sends adverts', async () => {
  const seen: Buffer[] = [];
  const rx = RawSocket.open({ family: 4, protocol: 112, onPacket: (b) => seen.push(b) });
  const tx = RawSocket.open({ family: 4, protocol: 112 });
  try {
    tx.setOption(0 /* IPPROTO_IP */, 3 /* IP_HDRINCL */, 1);
    const payload = Buffer.from('alived raw socket test');
    tx.send(ipv4Packet(payload, { src: '127.0.0.1', dst: '127.0.0.1', ttl: 77 }, 0x4242), '127.0.0.1', (err) => assert.ifError(err));
    const p = await waitFor('the packet', () => seen.find((b) => b.subarray(20).equals(payload)), 5000);
    assert.equal(p[1], 0xc0, 'TOS');
    assert.equal(p.readUInt16BE(4), 0x4242, 'id');
    assert.equal(p[8], 77, 'TTL');
    assert.equal(p[9], 112, 'protocol');
  } finally {
    tx.close();
    rx.close();
  }
});

test('errors: bad arguments throw before any socket exists; system errors carry code, errno and syscall; a closed socket says EBADF', () => {
  assert.throws(() => RawSocket.open({ family: 5 as 4, protocol: 112 }), RangeError);
  assert.throws(() => RawSocket.open({ family: 4, protocol: 0 }), RangeError);
  assert.throws(() => RawSocket.open({ family: 4, protocol: 112, onPacket: 42 as never }), TypeError);
  const sock = RawSocket.open({ family: 4, protocol: 253 });
  let bad: Error | null = null;
  sock.send(Buffer.alloc(1), 'not-an-address', (err) => (bad = err));
  assert.match(String(bad), /RangeError: sendRaw: address is not an IPv4 address/);
  assert.throws(
    () => sock.setOption(0, 99999, 1),
    (err: Error & { code?: string; errno?: number; syscall?: string }) => err.code === 'ENOPROTOOPT' && err.errno! < 0 && err.syscall === 'setsockopt',
  );
  sock.close();
  sock.close();
  assert.equal(sock.isOpen, false);
  let closed: (Error & { code?: string }) | null = null;
  sock.send(Buffer.alloc(1), '127.0.0.1', (err) => (closed = err));
  assert.equal(closed!.code, 'EBADF');
  assert.throws(() => sock.setOption(1, 7, 1), { code: 'EBADF' });
});

test('a socket that only sends never holds the event loop; one that receives holds it until closed', () => {
  const mod = JSON.stringify(path.join(__dirname, '../../core/vrrp/raw-socket.js'));
  const sendOnly = spawnSync(process.execPath, ['-e', `require(${mod}).RawSocket.open({ family: 4, protocol: 253 })`], { timeout: 10_000 });
  assert.equal(sendOnly.status, 0, 'a send-only socket left open: the process ends by itself');
  const receiving = spawnSync(
    process.execPath,
    [
      '-e',
      `const s = require(${mod}).RawSocket.open({ family: 4, protocol: 253, onPacket() {} }); const t0 = Date.now(); setTimeout(() => { s.close(); console.log(Date.now() - t0); }, 300).unref();`,
    ],
    { timeout: 10_000, encoding: 'utf8' },
  );
  assert.equal(receiving.status, 0);
  assert.ok(Number(receiving.stdout) >= 290, 'the receiving socket kept the process until close()');
});

test('behind a full socket buffer (a neighbour not yet answering ARP): packets wait in order and go once it answers; every callback runs, none fails', async () => {
  const lab = await useLab({
    name: 'rawq',
    hosts: [
      { name: 'a', ip: '10.99.0.11' },
      { name: 'b', ip: '10.99.0.12' },
    ],
  });
  const dst = '10.99.0.77';
  const run = lab.exec('a', [process.execPath, QUEUE, '10.99.0.11', dst, '20'], 20_000);
  // the address appears on b while a's packets wait for ARP: a's next ARP request is answered
  await new Promise((r) => setTimeout(r, 500));
  await lab.run('b', ['ip', 'addr', 'add', `${dst}/24`, 'dev', 'eth0']);
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { atOnce: number; maxQueued: number; callbacks: number; order: number[]; errors: string[]; ms: number };
  assert.ok(out.maxQueued > 0, `the queue was used (${r.stdout.trim()})`);
  assert.ok(out.atOnce < 20);
  assert.equal(out.callbacks, 20, r.stdout);
  assert.deepEqual(out.order, [...Array(20).keys()], 'in the order they were sent');
  console.log(`${out.atOnce} of 20 went at once, up to ${out.maxQueued} waited; the last went ${out.ms} ms after the first`);
  assert.deepEqual(out.errors, []);
});
