import {
  ALIVED_VERSION,
  bareFlag,
  block,
  checkerCommonFields,
  checkerConnectionFields,
  custom,
  filePath,
  INVALID,
  keywordPos,
  many,
  oneOf,
  optBool,
  str,
  sub,
  tuple,
  uint,
  value,
  word,
  type AlivedPlugin,
  type BlockOf,
  type CheckCtx,
  type HttpProtocol,
  type Pos,
  type Stmt,
  type WordParser,
  clip,
} from '../../core/sdk';
import { checkConnection, type ConnectionValues } from '../shared/connection';
import { checkFwmark } from '../shared/net';
import { createHttpChecker, loadTlsFiles, type TlsFiles } from './checker';

/**
 * HTTP_GET and SSL_GET (check_http.c): one schema for both, SSL_GET adding
 * tls_compliant; and the top-level SSL block (check_parser.c) with the
 * certificates SSL_GET uses.
 */

// ---------------------------------------------------------------------------
// values

/** a word echoed in a message, shortened when it is very long */

/** HTTP_STATUS_CODE_MIN .. HTTP_STATUS_CODE_MAX */
const STATUS_MIN = 100;
const STATUS_MAX = 599;

export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

/** `200` or `200-299`, as status_code_handler() reads each word. */
export const statusCode: WordParser<StatusRange> = {
  describe: `<${STATUS_MIN}..${STATUS_MAX}>[-<${STATUS_MIN}..${STATUS_MAX}>]`,
  parse(w, ctx) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(w.text);
    if (!m) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}' is not an HTTP status code or range (e.g. 200 or 200-299)`);
      return INVALID;
    }
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : Number(m[2]);
    for (const n of [min, max]) {
      if (n < STATUS_MIN || n > STATUS_MAX) {
        const where = m[2] === undefined ? '' : ` in '${w.text}'`;
        ctx.diags.error('ALIVED_CONFIG_OUT_OF_RANGE', w.pos, `status code ${n}${where} is out of range: expected ${STATUS_MIN}..${STATUS_MAX}`);
        return INVALID;
      }
    }
    if (min > max) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `status code range '${w.text}' is empty: ${min} is above ${max}`);
      return INVALID;
    }
    return { min, max };
  },
};

/** An MD5 sum as genhash prints it: 32 hexadecimal characters; the model has it in lower case. */
export const md5Digest: WordParser<string> = {
  describe: '<32 HEX CHARACTERS>',
  parse(w, ctx) {
    const t = w.text;
    if (t.length !== 32) {
      ctx.diags.error(
        'ALIVED_CONFIG_BAD_VALUE',
        w.pos,
        `digest '${clip(t)}' has ${t.length} characters; an MD5 digest (as genhash prints it) has 32 hexadecimal characters`,
      );
      return INVALID;
    }
    const bad = /[^0-9a-fA-F]/.exec(t);
    if (bad) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `digest '${clip(t)}' has a character that is not hexadecimal: '${bad[0]}' at offset ${bad.index}`);
      return INVALID;
    }
    return t.toLowerCase();
  },
};

/** `1.0`, `1.0C` (also `1.0c`: 1.0 with `Connection: close`) or `1.1`. */
const httpProtocol: WordParser<HttpProtocol> = {
  describe: '<1.0|1.0C|1.1>',
  parse(w, ctx) {
    if (w.text === '1.0c') return '1.0C';
    return oneOf(['1.0', '1.0C', '1.1'] as const).parse(w, ctx);
  },
};

export interface RegexPattern {
  readonly pattern: string;
  readonly pos: Pos;
}

/** `regex <PATTERN>`: one word; quote a pattern with blanks. */
const regexPattern = custom<RegexPattern>('<REGEX>', (words, at, keyword, ctx) => {
  if (words.length !== 1) {
    if (words.length === 0)
      ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a pattern: ${keyword} <REGEX> (quote a pattern with blanks)`);
    else
      ctx.diags.error(
        'ALIVED_CONFIG_EXTRA_VALUE',
        words[1]!.pos,
        `'${keyword}' takes one pattern; unexpected '${words[1]!.text}' (quote a pattern with blanks)`,
      );
    return INVALID;
  }
  return { pattern: words[0]!.text, pos: words[0]!.pos };
});

/** The PCRE2 options keepalived's regex_options knows (check_http.c regex_options[]). */
export const REGEX_OPTIONS = [
  'allow_empty_class',
  'alt_bsux',
  'auto_callout',
  'caseless',
  'dollar_endonly',
  'dotall',
  'dupnames',
  'extended',
  'firstline',
  'match_unset_backref',
  'multiline',
  'never_ucp',
  'never_utf',
  'no_auto_capture',
  'no_auto_possess',
  'no_dotstar_anchor',
  'no_start_optimize',
  'ucp',
  'ungreedy',
  'utf',
  'never_backslash_c',
  'alt_circumflex',
  'alt_verbnames',
  'use_offset_limit',
] as const;
export type RegexOption = (typeof REGEX_OPTIONS)[number];

// ---------------------------------------------------------------------------
// url { }

const urlFields = {
  path: word(str({ minLength: 1 }))
    .required()
    .doc('the path to GET, e.g. / or /status'),
  digest: word(md5Digest).doc('MD5 digest of the body, as genhash prints it'),
  status_code: value(many(statusCode)).repeatable().doc('accepted status codes and ranges; every line adds to them; none: 200-299'),
  virtualhost: word(str()).doc("Host header; default the checker's, real server's or virtual server's virtualhost"),
  regex: value(regexPattern).doc('the body must match this PCRE2 pattern'),
  regex_no_match: value(bareFlag).default(false).doc('the body must not match the regex'),
  regex_options: value(many(oneOf(REGEX_OPTIONS)))
    .repeatable()
    .doc('PCRE2 options of the regex; every line adds to them'),
  regex_min_offset: word(uint()).doc('offset in the body where matching starts'),
  regex_max_offset: word(uint()).doc('last offset in the body where a match may start'),
  regex_stack: value(tuple([uint(), uint()])).doc('PCRE2 JIT stack start and maximum sizes in bytes'),
};

const sslUrlFields = {
  ...urlFields,
  tls_compliant: value(optBool).doc('send a TLS close_notify before closing'),
};

interface UrlValues {
  readonly pos: Pos;
  readonly path: string;
  statusCode: StatusRange[][];
  readonly regex?: RegexPattern;
  regexNoMatch: boolean;
  readonly regexOptions: RegexOption[][];
  readonly regexMinOffset?: number;
  readonly regexMaxOffset?: number;
  readonly regexStack?: Partial<[number, number]>;
}

/** JS flags for the PCRE2 options that have one; the others do not change whether a pattern compiles */
const JS_FLAG: Partial<Record<RegexOption, string>> = { caseless: 'i', multiline: 'm', dotall: 's' };

/** constructs PCRE2 has and JavaScript does not: a pattern using them may be fine though JavaScript rejects it */
const PCRE_ONLY = /\(\?>|\(\?[imsxnJU^-]+[:)]|\(\?'|\(\?P[<=>]|\(\?#|\(\?\||\(\?(?:R|[+-]?\d|&)|[*+?}]\+|\(\*[A-Z_]/;

/** url_check(): the regex compiles, and regex settings without a regex. */
function checkUrl(u: UrlValues, ctx: CheckCtx, stmt: Stmt): void {
  if (u.statusCode.length === 0) u.statusCode.push([{ min: 200, max: 299 }]);
  if (!u.path.startsWith('/')) {
    ctx.diags.warning(
      'ALIVED_CONFIG_BAD_VALUE',
      keywordPos(stmt, 'path'),
      `path '${clip(u.path)}' does not start with '/': alived does not send such a request, and the check fails (keepalived sends it as written)`,
    );
  }
  const options = u.regexOptions.flat();
  if (u.regex) {
    const flags = [...new Set(options.map((o) => JS_FLAG[o] ?? ''))].join('');
    try {
      new RegExp(u.regex.pattern, flags);
    } catch (err) {
      const why = String((err as Error).message).replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
      if (options.includes('extended') || PCRE_ONLY.test(u.regex.pattern)) {
        ctx.diags.warning(
          'ALIVED_CONFIG_BAD_VALUE',
          u.regex.pos,
          `regex '${clip(u.regex.pattern)}' uses PCRE2 syntax that alived cannot verify (JavaScript says: ${why}); keepalived compiles it at start-up`,
        );
      } else {
        ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', u.regex.pos, `regex '${clip(u.regex.pattern)}' does not compile: ${why}`);
      }
    }
  } else {
    for (const kw of ['regex_no_match', 'regex_options', 'regex_min_offset', 'regex_max_offset', 'regex_stack']) {
      if (stmt.block?.some((c) => c.name.text === kw)) {
        ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', keywordPos(stmt, kw), `'${kw}' without 'regex' in this url; keepalived ignores it`);
        u.regexNoMatch = false;
        break;
      }
    }
  }
  if (u.regexMinOffset !== undefined && u.regexMaxOffset !== undefined && u.regexMinOffset > u.regexMaxOffset) {
    ctx.diags.warning(
      'ALIVED_CONFIG_CONFLICT',
      keywordPos(stmt, 'regex_min_offset'),
      `regex_min_offset ${u.regexMinOffset} is above regex_max_offset ${u.regexMaxOffset}; keepalived ignores both`,
    );
  }
  const st = u.regexStack;
  if (st && st[0] !== undefined && st[1] !== undefined && st[0] > st[1]) {
    ctx.diags.warning(
      'ALIVED_CONFIG_CONFLICT',
      keywordPos(stmt, 'regex_stack'),
      `regex_stack start ${st[0]} exceeds its maximum ${st[1]}; keepalived ignores it`,
    );
  }
}

export const httpUrlSchema = block(urlFields, { check: (v, ctx, stmt) => checkUrl(v, ctx, stmt) });
export const sslUrlSchema = block(sslUrlFields, { check: (v, ctx, stmt) => checkUrl(v, ctx, stmt) });

// ---------------------------------------------------------------------------
// HTTP_GET { } / SSL_GET { }

const httpFields = {
  ...checkerConnectionFields,
  ...checkerCommonFields,
  retry: checkerCommonFields.retry.alias('nb_get_retry', { deprecated: true }),
  virtualhost: word(str()).doc("Host header; default the real server's or virtual server's virtualhost"),
  http_protocol: word(httpProtocol).default('1.0').doc('HTTP version of the request: 1.0, 1.0C (1.0 with Connection: close) or 1.1'),
  enable_sni: value(optBool).doc('send the virtualhost as TLS SNI'),
  fast_recovery: value(optBool).doc('check all urls without delay_loop between them at start-up and after a failure'),
  url: sub(httpUrlSchema).repeatable().doc('a url to check; at least one'),
};

/** http_get_check_end(): a checker without urls is dropped by keepalived */
function checkHttp(v: { url: unknown[]; fwmark?: number } & ConnectionValues, ctx: CheckCtx, stmt: Stmt): void {
  checkConnection(v, ctx, stmt);
  checkFwmark(v, ctx, stmt);
  if (v.url.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', stmt.name.pos, `'${stmt.name.text}' needs at least one url { path <PATH> ... } block`);
  }
}

export const httpGetSchema = block(httpFields, { check: (v, ctx, stmt) => checkHttp(v, ctx, stmt) });

export const sslGetSchema = block(
  {
    ...httpFields,
    tls_compliant: value(optBool).doc('send a TLS close_notify before closing'),
    verify_cert: value(optBool).doc(
      "alived only: verify the server's certificate (chain against the SSL block's ca, else the system CAs; dates; name: the virtualhost, else the address); keepalived never verifies",
    ),
    url: sub(sslUrlSchema).repeatable().doc('a url to check; at least one'),
  },
  { check: (v, ctx, stmt) => checkHttp(v, ctx, stmt) },
);

// ---------------------------------------------------------------------------
// SSL { }

/** The SSL context of SSL_GET; without it (or with an empty one) keepalived makes one up. */
export const sslSchema = block({
  password: word(str()).doc('password of the key'),
  ca: word(filePath({ mustExist: true })).doc('CA file'),
  certificate: word(filePath({ mustExist: true })).doc('certificate file'),
  key: word(filePath({ mustExist: true })).doc('key file'),
});

export type HttpGetConfig = BlockOf<typeof httpGetSchema>;
export type SslGetConfig = BlockOf<typeof sslGetSchema>;
export type SslConfig = BlockOf<typeof sslSchema>;

const PLUGIN_NAME = 'check-http';

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  apply(api) {
    // SSL_GET takes its certificates from the top-level SSL block: the model shows it once the config is loaded
    let ssl: SslConfig | undefined;
    let files: Promise<TlsFiles> | undefined;
    api.hooks.configLoaded.tap(PLUGIN_NAME, (model) => {
      ssl = model.extensions.find((e) => e.keyword === 'SSL')?.value as SslConfig | undefined;
      files = undefined;
    });
    const tlsFiles = (): Promise<TlsFiles> => (files ??= loadTlsFiles(ssl));
    // keepalived's HTTP/SSL default delay_before_retry is 3 s (check_http.c http_get_handler())
    const defaults = { delayBeforeRetry: 3 };
    // check_http.c epilog()'s smtp_alert bodies
    const alertText = (up: boolean): string => (up ? '=> CHECK succeed on service <=' : '=> CHECK failed on service : HTTP/SSL request failed <=');
    api.registerChecker({
      keyword: 'HTTP_GET',
      schema: httpGetSchema,
      create: (config, ctx) => createHttpChecker('HTTP_GET', config, ctx),
      defaults,
      alertText,
    });
    api.registerChecker({
      keyword: 'SSL_GET',
      schema: sslGetSchema,
      create: (config, ctx) => createHttpChecker('SSL_GET', config, ctx, tlsFiles),
      defaults,
      alertText,
    });
    api.registerKeyword('root', 'SSL', sub(sslSchema).feature('checker').doc('SSL context of the SSL_GET checkers'));
  },
};

export default plugin;
