import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import {
  ALIVED_VERSION,
  block,
  checkerCommonFields,
  checkerConnectionFields,
  INVALID,
  oneOf,
  word,
  type AlivedPlugin,
  type BlockOf,
  type Checker,
  type CheckerContext,
  type WordParser,
} from '../../core/sdk';
import { checkConnection } from '../shared/connection';
import { abortWords, checkFwmark, describeError, fwmarkNote, hostPort, scoped, settleOnce } from '../shared/net';

/** `DNS_CHECK { type ... name ... }`: a DNS query over UDP (check_dns.c). */

/** the query types keepalived knows (check_dns.c DNS_TYPE[]); matched without regard to case */
export const DNS_TYPES = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA', 'RRSIG', 'DNSKEY'] as const;
export type DnsType = (typeof DNS_TYPES)[number];

/** A domain name without empty labels, as dns_name_handler() checks it; `.` is the root. */
export const dnsName: WordParser<string> = {
  describe: '<DOMAIN NAME>',
  parse(w, ctx) {
    const t = w.text;
    if (t === '.' || t === '') return '.';
    if (t.startsWith('.') || t.includes('..')) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `DNS name '${t.length > 64 ? t.slice(0, 61) + '...' : t}' has an empty label`);
      return INVALID;
    }
    const long = t
      .replace(/\.$/, '')
      .split('.')
      .find((l) => l.length > 63);
    if (long !== undefined) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `DNS name '${t}' has a label longer than 63 characters: '${long.slice(0, 20)}...'`);
      return INVALID;
    }
    if (t.replace(/\.$/, '').length > 253) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `DNS name '${t.slice(0, 40)}...' is longer than 253 characters`);
      return INVALID;
    }
    return t;
  },
};

export const dnsCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
    type: word(oneOf(DNS_TYPES, { caseInsensitive: true }))
      .default('SOA')
      .doc('query type'),
    name: word(dnsName).default('.').doc('name to query'),
  },
  {
    check: (v, ctx, stmt) => {
      checkConnection(v, ctx, stmt);
      checkFwmark(v, ctx, stmt);
    },
  },
);

export type DnsCheckConfig = BlockOf<typeof dnsCheckSchema>;

/** RFC 1035 / 4034 / 3596 type codes */
export const DNS_TYPE_CODE: Record<DnsType, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, RRSIG: 46, DNSKEY: 48 };

const RCODE_NAME: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

/** the DNS header: id, flags, four counts */
const HEADER_BYTES = 12;

/**
 * The query dns_make_query() sends: a random id, RD set, one question of
 * class IN. `.` is the root: one zero byte.
 */
export function encodeQuery(id: number, name: string, type: DnsType): Buffer {
  const labels = name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD: recursion desired
  header.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(DNS_TYPE_CODE[type], 0);
  tail.writeUInt16BE(1, 2); // class IN
  return Buffer.concat([header, qname, tail]);
}

/**
 * One query over UDP (check_dns.c): up when a response with the query's id,
 * QR set and RCODE 0 (NOERROR) arrives. As dns_recv_thread(), a datagram
 * too short for a header, with another id, or that is not a response is
 * ignored and the wait goes on; an answer section is not required (an
 * empty NOERROR is up).
 */
export function createDnsChecker(config: DnsCheckConfig, ctx: CheckerContext): Checker {
  const { target } = ctx;
  const query = `${config.type} ${config.name}`;
  const where = `DNS_CHECK ${hostPort(target.address, target.port)} (${query})`;
  const note = fwmarkNote(config);
  const family = net.isIPv6(target.address) ? 'udp6' : 'udp4';
  return {
    check(signal) {
      let step = 'sending the query';
      return settleOnce(
        signal,
        (finish) => {
          const id = randomInt(0, 0x10000);
          const sock = dgram.createSocket({ type: family });
          const fail = (text: string): void => finish({ ok: false, message: `${where}: ${text}${note}` });
          sock.on('error', (err) => fail(describeError(err) + (step === 'sending the query' ? '' : ` ${step}`)));
          sock.on('message', (msg) => {
            if (msg.length < HEADER_BYTES || msg.readUInt16BE(0) !== id) return;
            const flags = msg.readUInt16BE(2);
            if (!(flags & 0x8000)) return;
            const rcode = flags & 0x0f;
            if (rcode !== 0) return fail(`rcode ${rcode}${RCODE_NAME[rcode] ? ` (${RCODE_NAME[rcode]})` : ''}`);
            const answers = msg.readUInt16BE(6);
            finish({ ok: true, message: `${where}: NOERROR, ${answers} answer${answers === 1 ? '' : 's'}${note}` });
          });
          const send = (): void => {
            // a connected socket: only the target's datagrams arrive, and an ICMP port unreachable comes back as ECONNREFUSED
            sock.connect(target.port, scoped(target.address, config.bindIf), () => {
              sock.send(encodeQuery(id, config.name, config.type), (err) => {
                if (err) return fail(describeError(err));
                step = 'waiting for the response';
              });
            });
          };
          if (config.bindto || config.bindPort !== undefined) {
            const address = config.bindto ? scoped(config.bindto.address, config.bindIf) : undefined;
            sock.bind({ address, port: config.bindPort ?? 0, exclusive: true }, send);
          } else {
            send();
          }
          return () => sock.close();
        },
        () => ({ ok: false, message: `${where}: ${abortWords(signal)} ${step}${note}` }),
      );
    },
  };
}

const plugin: AlivedPlugin = {
  name: 'check-dns',
  version: ALIVED_VERSION,
  apply(api) {
    // keepalived's DNS_DEFAULT_RETRY, and delay_before_retry defaulting to delay_loop (check_dns.c dns_check_handler())
    api.registerChecker({
      keyword: 'DNS_CHECK',
      schema: dnsCheckSchema,
      create: createDnsChecker,
      defaults: { retry: 3, delayBeforeRetry: 'delay_loop' },
      // check_dns.c dns_final()'s smtp_alert bodies
      alertText: (up) => `=> DNS_CHECK: ${up ? 'succeed' : 'failed'} on service <=`,
    });
  },
};

export default plugin;
