import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { AlivedError } from '../errors';
import { ALIVED_VERSION } from '../version';
// genhash is the companion tool of HTTP_GET/SSL_GET: it must fetch and digest exactly as those checkers do,
// so it uses the request code they use (core/net/http-get.ts) rather than a copy of it
import { describeRequest, hostHeader, httpGet } from '../net/http-get';

/**
 * `alived genhash`: prints the MD5 digest of a URL's body, for the `digest`
 * of an HTTP_GET / SSL_GET url, with keepalived's genhash options
 * (check_genhash.c in keepalived 2.2.8) and the checkers' own request code,
 * so the digest it prints is the one the checker computes.
 */

interface GenhashOptions {
  server?: string;
  port?: number;
  url?: string;
  ssl: boolean;
  sni: boolean;
  virtualhost?: string;
  verbose: boolean;
  protocol: '1.0' | '1.0C' | '1.1';
  timeoutS: number;
  help: boolean;
  release: boolean;
}

/** keepalived's connect timeout when -t is not given */
const DEFAULT_TIMEOUT_S = 5;

interface OptionSpec {
  readonly short: string;
  readonly long: string;
  readonly arg?: string;
  readonly help: string;
}

const OPTIONS: readonly OptionSpec[] = [
  { short: 'S', long: 'use-ssl', help: 'Use SSL connection to remote server.' },
  { short: 'I', long: 'use-sni', help: 'Use SNI during SSL handshake (uses virtualhost setting; see -V).' },
  { short: 's', long: 'server', arg: 'ADDRESS', help: 'Use the specified remote server address (an IP address).' },
  { short: 'p', long: 'port', arg: 'PORT', help: 'Use the specified remote server port.' },
  { short: 'u', long: 'url', arg: 'PATH', help: 'Use the specified remote server url.' },
  { short: 'V', long: 'use-virtualhost', arg: 'HOST', help: 'Use the specified virtualhost in GET query.' },
  { short: 'v', long: 'verbose', help: 'Use verbose mode output.' },
  { short: 'h', long: 'help', help: 'Display this short inlined help screen.' },
  { short: 'r', long: 'release', help: 'Display the release number.' },
  { short: 'm', long: 'fwmark', arg: 'MARK', help: 'Use the specified FW mark (not supported: Node.js cannot set SO_MARK).' },
  {
    short: 'P',
    long: 'protocol',
    arg: '1.0|1.0c|1.1',
    help: "Use the specified HTTP protocol - '1.0', '1.0c', '1.1'. 1.0c means 1.0 with 'Connection: close'.",
  },
  { short: 't', long: 'timeout', arg: 'SECONDS', help: 'Timeout in seconds (default 5).' },
];

export function genhashUsage(): string {
  const rows = OPTIONS.map((o) => `   --${o.long.padEnd(16)} -${o.short}${o.arg ? ` ${o.arg}` : ''}`.padEnd(44) + o.help);
  return [
    'Usage: alived genhash COMMAND [OPTIONS]',
    'Commands:',
    '   -s server-address -p port -u url',
    '   -S -s server-address -p port -u url',
    '   -h',
    '',
    'Options:',
    'Either long or short options are allowed.',
    ...rows,
    '',
    'Prints the MD5 digest of the body, for the digest keyword of an HTTP_GET or SSL_GET url.',
    'A chunked body (HTTP/1.1) is digested without its chunk framing, as the checkers digest it.',
  ].join('\n');
}

/** a bad command line: the message, then the usage */
class UsageError extends AlivedError {
  constructor(message: string) {
    super('ALIVED_CLI_BAD_OPTION', message);
  }
}

/** getopt_long as keepalived uses it: `-p 80`, `-p80`, `-Sv`, `--port 80`, `--port=80`. */
function parse(argv: readonly string[]): GenhashOptions {
  const o: GenhashOptions = { ssl: false, sni: false, verbose: false, protocol: '1.0', timeoutS: DEFAULT_TIMEOUT_S, help: false, release: false };
  const set = (spec: OptionSpec, value: string | undefined): void => {
    switch (spec.short) {
      case 'S':
        o.ssl = true;
        return;
      case 'I':
        o.sni = true;
        return;
      case 'v':
        o.verbose = true;
        return;
      case 'h':
        o.help = true;
        return;
      case 'r':
        o.release = true;
        return;
      case 's':
        if (!net.isIP(value!)) throw new UsageError(`server should be an IP, not ${value}`);
        o.server = value!;
        return;
      case 'p': {
        const n = /^\d+$/.test(value!) ? Number(value) : NaN;
        if (!(n >= 1 && n <= 65535)) throw new UsageError(`invalid port number '${value}'`);
        o.port = n;
        return;
      }
      case 'u':
        o.url = value!;
        return;
      case 'V':
        o.virtualhost = value!;
        return;
      case 'm':
        throw new UsageError('alived cannot set a fwmark (-m): Node.js cannot set SO_MARK on a socket');
      case 'P':
        if (value === '1.0' || value === '1.1') o.protocol = value;
        else if (value === '1.0c' || value === '1.0C') o.protocol = '1.0C';
        else throw new UsageError(`invalid HTTP protocol version '${value}'`);
        return;
      case 't': {
        const t = value!.trim();
        const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
        if (!(n > 0)) throw new UsageError(`invalid timeout '${value}'`);
        o.timeoutS = n;
        return;
      }
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--') && a.length > 2) {
      const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const spec = OPTIONS.find((s) => s.long === name);
      if (!spec) throw new UsageError(`Unknown option ${a}`);
      let value = inline;
      if (spec.arg && value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`Missing parameter for option --${name}`);
      }
      if (!spec.arg && value !== undefined) throw new UsageError(`option --${name} takes no value`);
      set(spec, value);
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const spec = OPTIONS.find((s) => s.short === a[j]);
        if (!spec) throw new UsageError(`Unknown option -${a[j]}`);
        if (!spec.arg) {
          set(spec, undefined);
          continue;
        }
        let value: string | undefined = a.slice(j + 1);
        if (value === '') value = argv[++i];
        if (value === undefined) throw new UsageError(`Missing parameter for option -${spec.short}`);
        set(spec, value);
        break;
      }
    } else {
      throw new UsageError(`Unexpected argument(s): ${argv.slice(i).join(' ')}`);
    }
  }
  return o;
}

const DELIM = (title: string): string => `-----------------------[${title}]-----------------------`;

export async function runGenhash(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let o: GenhashOptions;
  try {
    o = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`alived genhash: ${e.message}\n${genhashUsage()}\n`);
    return 1;
  }
  if (o.help) {
    out.write(`${genhashUsage()}\n`);
    return 0;
  }
  if (o.release) {
    out.write(`alived genhash v${ALIVED_VERSION}\n`);
    if (o.server === undefined && o.port === undefined && o.url === undefined) return 0;
  }
  if (o.server === undefined || o.port === undefined || o.url === undefined) {
    const missing = [o.server === undefined && '-s server', o.port === undefined && '-p port', o.url === undefined && '-u url'].filter(Boolean).join(', ');
    err.write(`alived genhash: missing ${missing}\n${genhashUsage()}\n`);
    return 1;
  }
  if (o.sni && !o.ssl) err.write('alived genhash: -I (SNI) has no effect without -S\n');
  if (!o.url.startsWith('/')) {
    err.write(`alived genhash: url '${o.url}' must start with '/'\n`);
    return 1;
  }

  const target = { address: o.server, port: o.port };
  const host = hostHeader(target, o.virtualhost);
  const say = (s: string): void => void out.write(`${s}\n`);
  if (o.verbose) {
    say(DELIM('       HTTP Request       '));
    for (const line of describeRequest({ path: o.url, host, protocol: o.protocol })) say(line);
    say('');
  }
  const t0 = performance.now();
  const r = await httpGet({
    target,
    connection: {},
    tls: o.ssl
      ? {
          servername: o.sni && o.virtualhost && !net.isIP(o.virtualhost) ? o.virtualhost : undefined,
          // genhash computes digests; it trusts the server as keepalived's SSL_GET does
          verify: false,
          compliant: false,
        }
      : undefined,
    path: o.url,
    host,
    protocol: o.protocol,
    keepBytes: o.verbose ? 64 * 1024 : 0,
    signal: AbortSignal.timeout(o.timeoutS * 1000),
  });
  if (!r.ok) {
    err.write(`alived genhash: ${o.ssl ? 'https' : 'http'}://${o.server.includes(':') ? `[${o.server}]` : o.server}:${o.port}${o.url}: ${r.reason}\n`);
    return 1;
  }
  const res = r.response;
  if (o.verbose) {
    say(DELIM(' HTTP Header Ascii Buffer '));
    say(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    for (const [k, v] of Object.entries(res.headers)) for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) say(`${k}: ${one}`);
    say('');
    say(DELIM('        HTML Buffer        '));
    say(`${res.bodyBytes} bytes${res.truncated ? ` (the first ${res.body.length} shown)` : ''}`);
    out.write(res.body.toString('latin1'));
    if (res.body.length && !res.body.toString('latin1').endsWith('\n')) say('');
    say('');
    say(DELIM(' HTML hash final resulting '));
  }
  say(res.digest);
  if (o.verbose) say(`\nGlobal response time for [${o.url}] = ${Math.round((performance.now() - t0) * 1000)} usecs`);
  return 0;
}
