import type { Pos } from '../../diagnostics';
import { block, value, word } from '../../schema';
import { custom, oneOf, type ArgsParser, type WordParser } from '../../values';
import { fail } from './helpers';

/** The authentication block of a vrrp_instance: auth_type and auth_pass */

/** Secrets never appear in messages: this parser does not echo its words. */
const authPass: ArgsParser<string> = custom('<PASSWORD>', (words, at, keyword, ctx) => {
  if (words.length === 0) return fail(ctx, at, `'${keyword}' needs a password`, 'ALIVED_CONFIG_MISSING_VALUE');
  if (words.length > 1) return fail(ctx, words[1]!.pos, `'${keyword}' takes one word; quote a password that has blanks`, 'ALIVED_CONFIG_EXTRA_VALUE');
  const p = words[0]!.text;
  if (p.length === 0) return fail(ctx, words[0]!.pos, `'${keyword}' is empty`);
  if (p.length > 8 && !warnedLongPass.has(ctx)) {
    warnedLongPass.add(ctx);
    ctx.diags.compat(
      'ALIVED_CONFIG_NO_EFFECT',
      words[0]!.pos,
      `auth_pass is longer than 8 characters: VRRP keeps only the first 8 (as keepalived does), so peers with the same first 8 characters authenticate`,
    );
  }
  return p;
});
const warnedLongPass = new WeakSet<object>();

const authType: WordParser<'PASS' | 'AH'> = oneOf(['PASS', 'AH'] as const);

export const authenticationSchema = block(
  {
    auth_type: word(authType).doc('PASS (a password in the advert) or AH (an IPsec AH header with an HMAC-MD5-96 of the packet; IPv4 VRRPv2 only)'),
    auth_pass: value(authPass).doc('the password (PASS) or the HMAC key (AH); only the first 8 characters are used'),
  },
  {
    check: (v: { authType?: string; authPass?: string; pos: Pos }, ctx) => {
      if (v.authType && v.authPass === undefined) {
        ctx.diags.compat(
          'ALIVED_CONFIG_MISSING_REQUIRED',
          v.pos,
          `authentication with auth_type ${v.authType} and no auth_pass is ignored, as keepalived ignores it: adverts carry no authentication and need none`,
        );
      } else if (!v.authType && v.authPass !== undefined) {
        ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, `authentication without auth_type: auth_pass is not used; add auth_type PASS or AH`);
      }
    },
  },
);
