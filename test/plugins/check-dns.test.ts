import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckerTester, refusingPort, udpServer, type ServerBehaviour } from '../../core/testing';
import checkDns, { encodeQuery } from '../../plugins/check-dns';

const tester = new CheckerTester({ plugin: checkDns });
const at = (port: number | undefined, q: string): string => `DNS_CHECK 127.0.0.1:${port} (${q})`;

/** where the bindto case's queries came from */
const sources: string[] = [];

/** the queries the responders received */
const queries: Buffer[] = [];

/** A response to `query`: its id and question, QR and RA set, `rcode`, and `answers` A records for the name. */
function response(query: Buffer, rcode: number, answers = 0, opts: { id?: number; qr?: boolean } = {}): Buffer {
  const out = Buffer.from(query);
  if (opts.id !== undefined) out.writeUInt16BE(opts.id, 0);
  out.writeUInt16BE(((opts.qr ?? true) ? 0x8000 : 0) | 0x0100 | 0x0080 | rcode, 2);
  out.writeUInt16BE(answers, 6);
  const records: Buffer[] = [];
  for (let i = 0; i < answers; i++) {
    // a pointer to the question's name, type A, class IN, TTL 60, 4 bytes of address
    records.push(Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10 + i]));
  }
  return Buffer.concat([out, ...records]);
}

const dnsServer = (
  description: string,
  answer: (q: Buffer, reply: (b: Buffer) => void, later: (ms: number, fn: () => void) => void) => void,
): ServerBehaviour =>
  udpServer((msg, reply, clock) => {
    queries.push(msg);
    answer(msg, reply, (ms, fn) => clock.after(ms, fn));
  }, description);

tester.run('DNS_CHECK against DNS responders on loopback', [
  {
    name: "healthy: NOERROR with an answer; the query is keepalived's",
    config: 'type A\nname www.example.com\nconnect_timeout 1',
    server: dnsServer('a DNS server answering', (q, reply) => reply(response(q, 0, 1))),
    expect: { ok: true, message: (s) => `${at(s?.port, 'A www.example.com')}: NOERROR, 1 answer` },
    inspect: () => {
      const [q] = queries.splice(0);
      assert.equal(q!.readUInt16BE(2), 0x0100, 'flags: a standard query, recursion desired');
      assert.deepEqual([q!.readUInt16BE(4), q!.readUInt16BE(6), q!.readUInt16BE(8), q!.readUInt16BE(10)], [1, 0, 0, 0]);
      assert.deepEqual(q!.subarray(12), Buffer.from('\x03www\x07example\x03com\x00\x00\x01\x00\x01', 'latin1'));
    },
  },
  {
    name: 'NOERROR without answers is up (keepalived does not look at the answer section)',
    config: 'type MX\nname example.com\nconnect_timeout 1',
    server: dnsServer('a DNS server with an empty answer', (q, reply) => reply(response(q, 0, 0))),
    expect: { ok: true, message: (s) => `${at(s?.port, 'MX example.com')}: NOERROR, 0 answers` },
    inspect: () => assert.equal(queries.splice(0)[0]!.readUInt16BE(12 + 13), 15, 'MX is type 15'),
  },
  {
    name: 'the defaults: SOA of the root, one zero byte for the name',
    config: 'connect_timeout 1',
    server: dnsServer('a DNS server answering', (q, reply) => reply(response(q, 0, 1))),
    expect: { ok: true, message: (s) => `${at(s?.port, 'SOA .')}: NOERROR, 1 answer` },
    inspect: () => assert.deepEqual(queries.splice(0)[0]!.subarray(12), Buffer.from([0, 0, 6, 0, 1])),
  },
  {
    name: 'type in any case: aaaa is AAAA (28); a trailing dot ends the name',
    config: 'type aaaa\nname v6.example.com.\nconnect_timeout 1',
    server: dnsServer('a DNS server answering', (q, reply) => reply(response(q, 0, 1))),
    expect: { ok: true, message: (s) => `${at(s?.port, 'AAAA v6.example.com.')}: NOERROR, 1 answer` },
    inspect: () => assert.deepEqual(queries.splice(0)[0]!.subarray(12), Buffer.from('\x02v6\x07example\x03com\x00\x00\x1c\x00\x01', 'latin1')),
  },
  {
    name: 'NXDOMAIN: down',
    config: 'type A\nname missing.example.com\nconnect_timeout 1',
    server: dnsServer('a DNS server answering NXDOMAIN', (q, reply) => reply(response(q, 3))),
    expect: { ok: false, message: (s) => `${at(s?.port, 'A missing.example.com')}: rcode 3 (NXDOMAIN)` },
  },
  {
    name: 'SERVFAIL: down',
    config: 'connect_timeout 1',
    server: dnsServer('a DNS server failing', (q, reply) => reply(response(q, 2))),
    expect: { ok: false, message: (s) => `${at(s?.port, 'SOA .')}: rcode 2 (SERVFAIL)` },
  },
  {
    name: 'datagrams with another id, that are not responses, or too short are ignored; the right one counts',
    config: 'connect_timeout 1',
    server: dnsServer('a DNS server sending noise first', (q, reply) => {
      reply(response(q, 2, 0, { id: (q.readUInt16BE(0) + 1) & 0xffff }));
      reply(response(q, 2, 0, { qr: false }));
      reply(Buffer.from([q[0]!, q[1]!, 0x81]));
      reply(response(q, 0, 2));
    }),
    expect: { ok: true, message: /: NOERROR, 2 answers$/ },
  },
  {
    name: 'only noise: times out',
    config: 'connect_timeout 0.3',
    server: dnsServer('a DNS server answering with another id', (q, reply) => reply(response(q, 0, 1, { id: (q.readUInt16BE(0) + 1) & 0xffff }))),
    expect: { ok: false, message: (s) => `${at(s?.port, 'SOA .')}: timed out waiting for the response` },
  },
  {
    name: 'slow: the response after connect_timeout',
    config: 'connect_timeout 0.3',
    server: dnsServer('a DNS server answering after 1 s', (q, reply, later) => later(1000, () => reply(response(q, 0, 1)))),
    expect: { ok: false, message: (s) => `${at(s?.port, 'SOA .')}: timed out waiting for the response` },
  },
  {
    name: 'hanging: no response',
    config: 'connect_timeout 0.3',
    server: udpServer(undefined, 'a UDP server that never answers'),
    expect: { ok: false, message: (s) => `${at(s?.port, 'SOA .')}: timed out waiting for the response` },
  },
  {
    name: 'nothing listening: the ICMP port unreachable comes back as connection refused',
    config: 'connect_timeout 1',
    server: refusingPort(),
    expect: { ok: false, message: (s) => `${at(s?.port, 'SOA .')}: connection refused (ECONNREFUSED) waiting for the response` },
  },
  {
    name: 'bindto: the query leaves from that address',
    config: 'bindto 127.0.0.3\nconnect_timeout 1',
    server: udpServer((msg, reply, _clock, from) => {
      sources.push(from.address);
      reply(response(msg, 0, 1));
    }),
    expect: { ok: true },
    inspect: () => assert.deepEqual(sources.splice(0), ['127.0.0.3']),
  },
  {
    name: 'a name with an empty label is a config error',
    config: 'name www..example.com',
    errors: ["DNS name 'www..example.com' has an empty label"],
  },
]);

test('encodeQuery: RD set, one question of class IN, ids as given', () => {
  const q = encodeQuery(0xbeef, 'a.b', 'TXT');
  assert.deepEqual(q, Buffer.from([0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 1, 0x62, 0, 0, 16, 0, 1]));
});
