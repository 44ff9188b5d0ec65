import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostHeader, httpGet, type Checker, type CheckerContext, type CheckResult, type TlsSettings } from '../../core/sdk';
import { fwmarkNote, hostPort } from '../shared/net';
import type { HttpGetConfig, RegexOption, SslConfig, SslGetConfig, StatusRange } from './index';

/**
 * The HTTP_GET / SSL_GET check (check_http.c): every url in turn, each on a
 * new connection; the check is up when each url answers with an accepted
 * status, then (if set) the MD5 digest of its body matches, then (if set)
 * its body matches the regex (or does not, with regex_no_match) — the order
 * of keepalived's http_handle_response(). The first url that fails fails
 * the check, with the reason.
 */

/** how much of a body a regex looks at; keepalived matches a stream, alived the first part held in memory */
export const REGEX_BODY_MAX = 8 * 1024 * 1024;

export interface TlsFiles {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly passphrase?: string;
  /** why the files of the SSL block could not be read: every SSL_GET check fails with it */
  readonly error?: string;
}

/** Reads the certificate, key and CA files of the top-level SSL block (build_ssl_ctx()). */
export async function loadTlsFiles(ssl: SslConfig | undefined): Promise<TlsFiles> {
  if (!ssl) return {};
  const read = async (what: string, file: string | undefined): Promise<Buffer | undefined> => {
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(`SSL block: cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  try {
    const [ca, cert, key] = await Promise.all([read('ca', ssl.ca), read('certificate', ssl.certificate), read('key', ssl.key)]);
    // keepalived reads the key from the certificate file when there is no key file (SSL_CTX_use_certificate_chain_file + PEM)
    return { ca, cert, key: key ?? (ssl.certificate ? cert : undefined), passphrase: ssl.password };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

type Keyword = 'HTTP_GET' | 'SSL_GET';
type UrlConfig = HttpGetConfig['url'][number] & { tlsCompliant?: boolean };

interface RegexCheck {
  readonly source: string;
  readonly re: RegExp | undefined;
  /** why the pattern cannot be used: PCRE2 syntax JavaScript lacks */
  readonly error?: string;
  readonly noMatch: boolean;
  readonly utf8: boolean;
  readonly firstline: boolean;
  readonly min: number;
  readonly max: number | undefined;
}

interface UrlPlan {
  readonly path: string;
  readonly accepted: readonly StatusRange[];
  readonly digest?: string;
  readonly virtualhost?: string;
  readonly regex?: RegexCheck;
  readonly tlsCompliant: boolean;
}

/** JavaScript flags for PCRE2 options that have one; `utf` and `ucp` make the body UTF-8 text */
const FLAG: Partial<Record<RegexOption, string>> = { caseless: 'i', multiline: 'm', dotall: 's', utf: 'u', ucp: 'u' };

function compileRegex(url: UrlConfig): RegexCheck | undefined {
  if (!url.regex) return undefined;
  const options = url.regexOptions.flat();
  const flags = [...new Set(['g', ...options.map((o) => FLAG[o] ?? '')])].join('');
  // keepalived ignores both offsets when the minimum is above the maximum; 0 means unset for both (check_regex())
  let min = url.regexMinOffset ?? 0;
  let max = url.regexMaxOffset || undefined;
  if (max !== undefined && min > max) {
    min = 0;
    max = undefined;
  }
  const common = { source: url.regex.pattern, noMatch: url.regexNoMatch, utf8: flags.includes('u'), firstline: options.includes('firstline'), min, max };
  try {
    return { ...common, re: new RegExp(url.regex.pattern, flags) };
  } catch (err) {
    return {
      ...common,
      re: undefined,
      error: `regex '${url.regex.pattern}' uses PCRE2 syntax JavaScript cannot run (${(err as Error).message}); alived cannot check it`,
    };
  }
}

/** `200-299`, `200, 301-302` */
function describeStatus(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.min === r.max ? String(r.min) : `${r.min}-${r.max}`)).join(', ');
}

/** Does the body match, within the offsets? (check_regex(): a match must start before regex_max_offset.) */
function regexMatches(rx: RegexCheck, body: Buffer): boolean {
  const text = body.toString(rx.utf8 ? 'utf8' : 'latin1');
  const re = rx.re!;
  re.lastIndex = rx.min;
  const m = re.exec(text);
  if (!m) return false;
  if (rx.max !== undefined && m.index >= rx.max) return false;
  if (rx.firstline) {
    const nl = text.indexOf('\n');
    if (nl >= 0 && m.index > nl) return false;
  }
  return true;
}

export function createHttpChecker(
  keyword: Keyword,
  config: HttpGetConfig | SslGetConfig,
  ctx: CheckerContext,
  tlsFiles: () => Promise<TlsFiles> = async () => ({}),
): Checker {
  const ssl = keyword === 'SSL_GET' ? (config as SslGetConfig) : undefined;
  const scheme = ssl ? 'https' : 'http';
  const base = `${scheme}://${hostPort(ctx.target.address, ctx.target.port)}`;
  const note = fwmarkNote(config);
  const plans: UrlPlan[] = (config.url as UrlConfig[]).map((u) => ({
    path: u.path,
    // the schema fills in 200-299 when a url names no status_code; a hand-made config may not
    accepted: u.statusCode.length ? u.statusCode.flat() : [{ min: 200, max: 299 }],
    digest: u.digest?.toLowerCase(),
    virtualhost: u.virtualhost ?? config.virtualhost,
    regex: compileRegex(u),
    tlsCompliant: Boolean(u.tlsCompliant || ssl?.tlsCompliant),
  }));

  const where = (p: UrlPlan): string => `${keyword} ${base}${p.path}${p.virtualhost ? ` (virtualhost ${p.virtualhost})` : ''}`;

  async function checkUrl(p: UrlPlan, signal: AbortSignal): Promise<{ ok: boolean; text: string }> {
    if (!p.path.startsWith('/')) return { ok: false, text: `path '${p.path}' does not start with '/'` };
    if (p.regex?.error) return { ok: false, text: p.regex.error };
    let tls: TlsSettings | undefined;
    if (ssl) {
      const files = await tlsFiles();
      if (files.error) return { ok: false, text: files.error };
      tls = {
        // SNI only with enable_sni (ssl_connect()), and only a name: RFC 6066 has no IP addresses in SNI
        servername: ssl.enableSni && p.virtualhost && !isIP(p.virtualhost) ? p.virtualhost : undefined,
        verify: Boolean(ssl.verifyCert),
        verifyName: p.virtualhost,
        ca: files.ca,
        cert: files.cert,
        key: files.key,
        passphrase: files.passphrase,
        compliant: p.tlsCompliant,
      };
    }
    const r = await httpGet({
      target: ctx.target,
      connection: config,
      tls,
      path: p.path,
      host: hostHeader(ctx.target, p.virtualhost),
      protocol: config.httpProtocol,
      keepBytes: p.regex ? REGEX_BODY_MAX : 0,
      signal,
    });
    if (!r.ok) return { ok: false, text: r.reason };
    const res = r.response;
    if (!p.accepted.some((a) => res.status >= a.min && res.status <= a.max)) {
      return { ok: false, text: `status ${res.status}, expected ${describeStatus(p.accepted)}` };
    }
    const got = [`status ${res.status}`];
    if (p.digest !== undefined) {
      if (res.digest !== p.digest) return { ok: false, text: `body digest ${res.digest}, expected ${p.digest}` };
      got.push('digest ok');
    }
    if (p.regex) {
      const matched = regexMatches(p.regex, res.body);
      const within = res.truncated ? ` in its first ${REGEX_BODY_MAX} bytes` : '';
      if (matched === p.regex.noMatch) {
        return {
          ok: false,
          text: p.regex.noMatch
            ? `the body matches regex '${p.regex.source}'${within} (regex_no_match)`
            : `the body does not match regex '${p.regex.source}'${within}`,
        };
      }
      got.push(p.regex.noMatch ? 'regex not matched' : 'regex matched');
    }
    return { ok: true, text: got.join(', ') };
  }

  return {
    async check(signal): Promise<CheckResult> {
      // keepalived enables a real server whose checker has no url without checking it (http_connect_thread())
      if (plans.length === 0) return { ok: true, message: `${keyword} ${base}: no url to check${note}` };
      const passed: string[] = [];
      for (const p of plans) {
        let r: { ok: boolean; text: string };
        try {
          r = await checkUrl(p, signal);
        } catch (err) {
          // httpGet reports its failures; this is a bug, still a result rather than a rejection
          r = { ok: false, text: `internal error: ${(err as Error)?.message ?? String(err)}` };
        }
        if (!r.ok) return { ok: false, message: `${where(p)}: ${r.text}${note}` };
        passed.push(plans.length === 1 ? r.text : `${p.path} ${r.text}`);
      }
      if (plans.length === 1) return { ok: true, message: `${where(plans[0]!)}: ${passed[0]}${note}` };
      return { ok: true, message: `${keyword} ${base}: ${plans.length} urls ok (${passed.join('; ')})${note}` };
    },
  };
}
