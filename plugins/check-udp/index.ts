import {
  ALIVED_VERSION,
  block,
  checkerCommonFields,
  checkerConnectionFields,
  custom,
  int,
  INVALID,
  keywordPos,
  value,
  word,
  type AlivedPlugin,
  type ArgsParser,
  type Token,
  type CheckCtx,
  type Stmt,
} from '../../core/sdk';
import { checkConnection, type ConnectionValues } from '../shared/connection';

/**
 * `UDP_CHECK { ... }`: sends a datagram, fails on an ICMP error, and with
 * require_reply also on no (or a wrong) reply (check_udp.c).
 */

export interface HexBytes {
  /** the bytes, in order */
  readonly data: number[];
  /** per byte, the bits that must match (0xff unless a nibble was x); only with wildcards */
  readonly mask: number[] | undefined;
}

/**
 * keepalived's read_hex_str(): hex digits in free form; blanks separate
 * bytes, each run of digits is read two at a time, a lone last digit is one
 * byte: `Ab12f 3 456` is AB 12 0F 03 45 06. With wildcards, `x` stands for any
 * nibble.
 */
function hexBytes(wildcards: boolean): ArgsParser<HexBytes> {
  const describe = wildcards ? '<HEX_STR, x for any nibble>' : '<HEX_STR>';
  return custom(describe, (words: readonly Token[], at, keyword, ctx) => {
    if (words.length === 0) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a hex string: ${keyword} ${describe}`);
      return INVALID;
    }
    const data: number[] = [];
    const mask: number[] = [];
    let wild = false;
    const nibble = (c: string): number | undefined => {
      if (/[0-9a-fA-F]/.test(c)) return parseInt(c, 16);
      if (wildcards && (c === 'x' || c === 'X')) return -1;
      return undefined;
    };
    for (const w of words) {
      const t = w.text;
      for (let i = 0; i < t.length; i += 2) {
        const pair = t.slice(i, i + 2);
        let byte = 0;
        let m = 0;
        for (const c of pair) {
          const n = nibble(c);
          if (n === undefined) {
            ctx.diags.error(
              'ALIVED_CONFIG_BAD_VALUE',
              w.pos,
              `'${c}' in '${t.length > 64 ? t.slice(0, 61) + '...' : t}' is not a hexadecimal digit${wildcards ? ' or x' : ''}`,
            );
            return INVALID;
          }
          byte = pair.length === 2 ? (byte << 4) | (n < 0 ? 0 : n) : n < 0 ? 0 : n;
          m = pair.length === 2 ? (m << 4) | (n < 0 ? 0 : 0xf) : n < 0 ? 0 : 0xf;
          if (n < 0) wild = true;
        }
        data.push(byte);
        mask.push(pair.length === 2 ? m : m | 0xf0);
      }
    }
    return { data, mask: wild ? mask : undefined };
  });
}

export interface RequireReply {
  /** the reply must begin with these bytes (up to the shorter of the two); undefined: any reply */
  readonly expect: HexBytes | undefined;
}

const requireReply = custom<RequireReply>('[<HEX_STR, x for any nibble>]', (words, at, keyword, ctx) => {
  if (words.length === 0) return { expect: undefined };
  const v = hexBytes(true).parse(words, at, keyword, ctx);
  return v === INVALID ? INVALID : { expect: v };
});

interface UdpValues extends ConnectionValues {
  readonly minReplyLength: number;
  readonly maxReplyLength: number;
}

function checkUdp(v: UdpValues, ctx: CheckCtx, stmt: Stmt): void {
  checkConnection(v, ctx, stmt);
  if (v.minReplyLength > v.maxReplyLength) {
    ctx.diags.warning(
      'ALIVED_CONFIG_CONFLICT',
      keywordPos(stmt, 'min_reply_length'),
      `min_reply_length ${v.minReplyLength} is above max_reply_length ${v.maxReplyLength}: the check will always fail`,
    );
  }
}

export const udpCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
    payload: value(hexBytes(false)).doc('the datagram to send; default random bytes'),
    require_reply: value(requireReply).doc('a reply must come (and begin with these bytes, if given)'),
    min_reply_length: word(int({ min: 0, max: 65535 }))
      .default(0)
      .doc('shortest acceptable reply'),
    max_reply_length: word(int({ min: 0, max: 65535 }))
      .default(255)
      .doc('longest acceptable reply'),
  },
  { check: (v, ctx, stmt) => checkUdp(v, ctx, stmt) },
);

const plugin: AlivedPlugin = {
  name: 'check-udp',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'UDP_CHECK', schema: udpCheckSchema });
  },
};

export default plugin;
