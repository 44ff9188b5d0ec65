import { ALIVED_VERSION, block, checkerCommonFields, checkerConnectionFields, INVALID, oneOf, word, type AlivedPlugin, type WordParser } from '../../core/sdk';
import { checkConnection } from '../check-common/connection';

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
    const long = t.replace(/\.$/, '').split('.').find((l) => l.length > 63);
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
    type: word(oneOf(DNS_TYPES, { caseInsensitive: true })).default('SOA').doc('query type'),
    name: word(dnsName).default('.').doc('name to query'),
  },
  { check: (v, ctx, stmt) => checkConnection(v, ctx, stmt) },
);

const plugin: AlivedPlugin = {
  name: 'check-dns',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'DNS_CHECK', schema: dnsCheckSchema });
  },
};

export default plugin;
