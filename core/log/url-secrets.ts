/**
 * Secrets that travel inside URLs, masked wherever a URL may be shown: in
 * log records and messages, config diagnostics (`-t`), the config dump
 * (`-d`), notifier errors. The rule (docs/config.md#secrets-in-urls):
 *
 * - the password of a URL's `user:password@` (also when a '/', '?' or '#'
 *   in it breaks the URL, as in a mistyped one); a user name alone
 *   (`https://TOKEN@host`) is masked whole, as it is then usually a token;
 * - the value of a query or fragment parameter whose name looks secret:
 *   lower-cased, without `-`, `_`, `.` and other punctuation, it contains
 *   token, secret, passw, signature, credential, authoriz, apikey, jwt or
 *   bearer, or ends in key, sig, auth, pwd or pass (`access_token`,
 *   `api_key`, `X-Amz-Signature`, `sig`, `hub.secret`, `password`). This
 *   holds for a query without a scheme too (`/status?token=...`).
 *
 * A secret in a URL's path (Slack's and Teams' webhook URLs) cannot be told
 * from a path: it is not masked here; the webhook logs only scheme and host.
 */

export const URL_SECRET_MASK = '[redacted]';

/** `scheme://` and the rest of the run of URL characters */
const SCHEME_URL = /\b([A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/)([^\s"'<>`]*)/g;
/** from a '?' or '#' to the end of the run: where query and fragment parameters are */
const PARAMS = /[?#][^\s"'<>`]*/g;
/** one parameter: its separator, its name, its value */
const PARAM = /([?#&;])([^=?#&;]*)=([^?#&;]*)/g;

const SECRET_PART = /token|secret|passw|signature|credential|authoriz|apikey|jwt|bearer/;
const SECRET_END = /(key|sig|auth|pwd|pass)$/;

/** Whether a query parameter of this name carries a secret. */
export function isSecretParam(name: string): boolean {
  let n = name;
  try {
    n = decodeURIComponent(name);
  } catch {
    // a malformed escape: the name as written
  }
  n = n.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_PART.test(n) || SECRET_END.test(n);
}

/** The userinfo of what follows `scheme://`, masked. */
function maskUserinfo(rest: string, mask: string): string {
  if (rest.startsWith('[')) return rest; // an IPv6 host: no userinfo before it
  const end = rest.search(/[/?#\\]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  // as the URL parser reads it: the last '@' of the authority ends the userinfo
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const info = rest.slice(0, at);
    const colon = info.indexOf(':');
    return `${colon < 0 ? mask : `${info.slice(0, colon + 1)}${mask}`}${rest.slice(at)}`;
  }
  // a password with '/', '?' or '#' in it cuts the authority short (the URL does not parse):
  // `user:pa/ss@host`, told from `host:8080/...@` by what follows the colon
  const broken = /^([^:@[/?#\\]*):(?!\d*(?:[/?#\\]|$))[^@]*@/.exec(rest);
  if (broken) return `${broken[1]}:${mask}${rest.slice(broken[0].length - 1)}`;
  return rest;
}

function maskParams(run: string, mask: string): string {
  return run.replace(PARAM, (whole, sep: string, name: string, value: string) => {
    if (!value || value.startsWith(mask) || !isSecretParam(name)) return whole;
    // the closing punctuation of the sentence around the URL stays: `(https://h/?token=...)`
    const tail = /[).,:!]+$/.exec(value)?.[0] ?? '';
    return tail.length === value.length ? whole : `${sep}${name}=${mask}${tail}`;
  });
}

/**
 * `text` with every URL secret it holds masked (see the rule above); text
 * without one comes back as it is. Cheap on text without `://`, `?` or `#`.
 */
export function redactUrlSecrets(text: string, mask: string = URL_SECRET_MASK): string {
  const scheme = text.includes('://');
  if (!scheme && !text.includes('?') && !text.includes('#')) return text;
  let out = scheme ? text.replace(SCHEME_URL, (_m, head: string, rest: string) => head + maskUserinfo(rest, mask)) : text;
  out = out.replace(PARAMS, (run) => maskParams(run, mask));
  return out;
}
