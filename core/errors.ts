import * as os from 'node:os';
import * as util from 'node:util';
import { redactUrlSecrets } from './log/url-secrets';

/**
 * The one registry of error and diagnostic codes. Callers match on `code`,
 * which keeps working when two copies of alived are loaded (a plugin that
 * brings its own). docs/errors.md lists the same codes; a test keeps both equal.
 */

export const ERROR_CODES = {
  // config: reading and preprocessing
  ALIVED_CONFIG_FILE_UNREADABLE: 'a config or include file cannot be read',
  ALIVED_CONFIG_INCLUDE_MISSING: 'an include names no file, where its variant requires one',
  ALIVED_CONFIG_INCLUDE_CYCLE: 'a file includes itself, directly or through others',
  ALIVED_CONFIG_INCLUDE_DEPTH: 'includes nest deeper than the limit',
  ALIVED_CONFIG_UNTERMINATED_QUOTE: 'a quoted string does not end on its line',
  ALIVED_CONFIG_BAD_ESCAPE: 'a backslash ends a line outside a $NAME= definition',
  ALIVED_CONFIG_BAD_DEFINITION: 'a $NAME= definition is malformed',
  ALIVED_CONFIG_UNDEFINED_PARAMETER: 'a $NAME is used but never defined',
  ALIVED_CONFIG_BAD_SEQUENCE: 'a ~SEQ or ~LST is malformed',
  ALIVED_CONFIG_EXPANSION_LIMIT: 'parameter or sequence expansion exceeds its bound',
  // config: structure
  ALIVED_CONFIG_UNCLOSED_BLOCK: "a '{' has no matching '}'",
  ALIVED_CONFIG_EXTRA_CLOSE: "a '}' closes no block",
  ALIVED_CONFIG_UNEXPECTED_OPEN: "a '{' follows nothing that takes a block",
  ALIVED_CONFIG_NESTING_DEPTH: 'blocks nest deeper than the limit',
  // config: keywords and values
  ALIVED_CONFIG_UNKNOWN_KEYWORD: 'a keyword is not known in this block',
  ALIVED_CONFIG_BAD_VALUE: 'a value has the wrong type or form',
  ALIVED_CONFIG_OUT_OF_RANGE: 'a number is outside its allowed range',
  ALIVED_CONFIG_MISSING_VALUE: 'a keyword lacks its value',
  ALIVED_CONFIG_EXTRA_VALUE: 'a keyword has more values than it takes',
  ALIVED_CONFIG_MISSING_REQUIRED: 'a required keyword is absent',
  ALIVED_CONFIG_MISSING_BLOCK: 'a keyword that needs a { } block has none',
  ALIVED_CONFIG_UNEXPECTED_BLOCK: 'a keyword that takes no block has one',
  ALIVED_CONFIG_DUPLICATE: 'a keyword or name that may appear once appears again',
  ALIVED_CONFIG_CONFLICT: 'two settings contradict each other',
  ALIVED_CONFIG_CLEARTEXT:
    'a credential would cross the network unencrypted: SMTP AUTH without TLS is an error unless smtp_auth_cleartext allows it (then a warning); a webhook sending credentials over http:// is a warning',
  ALIVED_CONFIG_UNKNOWN_REFERENCE: 'a name refers to something that is not defined',
  ALIVED_CONFIG_NOT_SUPPORTED: 'a setting alived refuses (it would be accepted and ignored)',
  // config: warnings and notes
  ALIVED_CONFIG_NOT_ACTED_ON: 'a keyword alived accepts but does not act on yet',
  ALIVED_CONFIG_DEPRECATED: 'an old spelling keepalived still accepts',
  ALIVED_CONFIG_HOST_FACT: 'the config names something this host lacks (interface, file)',
  ALIVED_CONFIG_NO_EFFECT: 'a setting that has no effect where it is',
  ALIVED_CONFIG_OBSOLETE: 'a keyword of an older keepalived that keepalived now ignores; alived ignores it too',
  ALIVED_CONFIG_FORWARD_REFERENCE: 'a reference to a block defined further down the file: alived follows it, keepalived 2.2 drops it',
  ALIVED_CONFIG_STRICT_MODE:
    'strict mode (vrrp_strict, strict_mode) changes a setting and runs the instance, as keepalived does (a warning that says what happens), or refuses the config where keepalived does not run it (an error)',
  ALIVED_CONFIG_NO_ACCEPT:
    "an instance in no_accept mode (strict mode's default) drops traffic to its VIPs while it is master without being the address owner; accept lifts it",
  // plugins
  ALIVED_PLUGIN_NOT_FOUND: 'a plugin module cannot be resolved',
  ALIVED_PLUGIN_LOAD_FAILED: 'a plugin module threw while loading or is not a plugin',
  ALIVED_PLUGIN_INVALID: 'a plugin object does not follow the contract',
  ALIVED_PLUGIN_VERSION: 'a plugin needs another alived version',
  ALIVED_PLUGIN_DUPLICATE: 'two plugins have the same name, or register the same keyword',
  ALIVED_PLUGIN_APPLY_TIMEOUT: 'a plugin did not finish apply() within its time',
  ALIVED_PLUGIN_TAP_FAILED: 'a hook tap threw, rejected or timed out',
  ALIVED_PLUGIN_CLOSE_FAILED: 'an onClose handler threw or timed out',
  // status, timeline and the HTTP API
  ALIVED_STATUS_UNAVAILABLE: 'the status was asked for where no daemon runs (alived -t), or a part of it could not be gathered',
  ALIVED_STATUS_TIMELINE:
    'the timeline file under --state-dir cannot be read or written: a bad file is set aside and a new one started, a failed write keeps the events in memory',
  ALIVED_API_LISTEN: 'the HTTP API cannot listen on its unix socket or TCP address (the address is named)',
  ALIVED_API_BAD_REQUEST: 'an API request is malformed: a bad parameter, body or JSON (the message names it)',
  ALIVED_API_NOT_FOUND: 'no API route or no such object (instance, outbox entry, notifier) at that path',
  ALIVED_API_METHOD: 'the route exists but not for that HTTP method',
  ALIVED_API_UNAUTHORIZED: 'a TCP request without the right bearer token',
  ALIVED_API_FORBIDDEN: 'an action (POST, DELETE) asked for over TCP: actions are taken on the unix socket only',
  ALIVED_API_TOO_LARGE: "an API request's headers or body are over the size limit",
  ALIVED_API_BUSY: "the API's limit of connections or event-stream clients is reached",
  ALIVED_API_FAILED: 'a route failed while answering; the message says what failed',
  ALIVED_API_UNREACHABLE: "the CLI cannot reach the daemon's API (no socket, refused, timed out): the message names the socket and the flags that choose it",
  // health checks and scripts
  ALIVED_CHECK_UNHEALTHY:
    'a checker found its service unhealthy (refused, a wrong answer, a stopped replica: the message says how); the checker reports it as a failed check, not as an error of alived',
  ALIVED_CHECKER_FAILED:
    'a checker broke its contract (create() or check() threw, check() rejected, gave no valid result, did not settle after its timeout, or blocked the event loop); the check counts as failed',
  ALIVED_SCRIPT_FAILED:
    'a notify, quorum, FIFO, startup or shutdown script could not start (no such file, not executable, no such user), exited non-zero, was killed by a signal or timed out',
  ALIVED_SCRIPT_INSECURE:
    'a script that runs as root could be changed by a non-root user (the message names the file or directory and why): refused with enable_script_security, else run with this warning',
  ALIVED_SCRIPT_SECURITY_OFF: "scripts run but enable_script_security is not set (keepalived's SECURITY VIOLATION warning)",
  ALIVED_NOTIFY_FIFO: 'a notify FIFO could not be created, opened or written, or its script ended (the message names the path)',
  ALIVED_NOTIFY_RETRY: 'a notification could not be delivered (server down, refused, timed out); it is tried again after a backoff',
  ALIVED_NOTIFY_FAILED:
    'a notification failed for good (the server refused it in a way a retry cannot change), or a notifier broke its contract (create(), accepts() or close() threw)',
  ALIVED_NOTIFY_EXPIRED:
    'a notification was given up: not delivered within its max_age, left without an outbox at stop, or its notifier was removed by a reload (the message names the event)',
  ALIVED_NOTIFY_OUTBOX:
    'the notify outbox under --state-dir cannot be created, written or read (notifications are kept in memory, written again when it works), or a file in it is not usable (moved aside as .bad)',
  ALIVED_NOTIFY_OUTBOX_LOCKED:
    'another live alived uses the same notify outbox (--state-dir): this one does not start (the message names the directory and the pid)',
  ALIVED_NOTIFY_SECRET: 'an SMTP password or webhook secret cannot be read from its file or environment variable (its value is never logged)',
  // trackers
  ALIVED_TRACKER_FAILED:
    'a tracker broke its contract (create(), start() or stop() threw, stop() hung, or it reported something that is not a state); it counts as down',
  ALIVED_TRACKER_DISABLED:
    'a tracker cannot run (its script is refused or not found, its user does not exist, its directory is missing): the instances go on as if they did not track it',
  // daemon
  ALIVED_DAEMON_PID_FILE: 'the pid file is held by another live alived, or cannot be written',
  ALIVED_DAEMON_STATE_DIR:
    'another user could write to the state directory (--state-dir) or a directory above it: the daemon does not start (unless --unsafe-state-dir)',
  ALIVED_DAEMON_CONFIG_INVALID: 'the daemon refuses to start with a config that has errors',
  ALIVED_DAEMON_RELOAD_REJECTED: 'a reload found errors in the new config; the running config goes on',
  ALIVED_DAEMON_SYSTEMD_NOTIFY:
    "a message to systemd's notify socket ($NOTIFY_SOCKET: READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1) could not be sent; the message names the socket and the system error",
  ALIVED_FILE_UNSAFE:
    'a file alived writes or reads where others can write (the /tmp dumps, the log file, the pid file) is a symbolic link, a FIFO or another non-regular file, a hard link, belongs to another user or is too large: it is refused, never written or read through (the message names the file and what it is)',
  ALIVED_FILE_FAILED:
    'a file could not be created, written, renamed into place or read (the message names the file, the step and the system error); no temporary file is left behind',
  ALIVED_VRRP_SOCKET: 'a VRRP raw socket or receiver could not be opened, configured, read or written (the message names the interface and the step)',
  ALIVED_VRRP_FATAL: 'the VRRP process failed; the supervisor restarts it',
  ALIVED_PACKET_ADDON_MISSING:
    'the native addon (native/) is neither prebuilt for this system nor built: VRRP, gratuitous ARPs and NAs cannot run; build it from source',
  ALIVED_PACKET_SOCKET: 'a packet socket (gratuitous ARPs, unsolicited NAs) could not be opened or written; errno names the system error',
  ALIVED_NETLINK_FAILED: 'an rtnetlink request (interfaces, addresses, routes, rules) failed; the message says what was asked and why',
  ALIVED_VIP_FAILED: 'a virtual or static address, route or rule could not be added or removed (the message says which and why)',
  ALIVED_LAB_FAILED: 'alived lab or a test lab could not build, use or remove its network namespaces',
  ALIVED_IPVS_FAILED:
    'an IPVS request failed (the message says what was asked of the kernel and why it was refused), or the kernel has IPVS but alived cannot use it',
  // cli
  ALIVED_CLI_BAD_OPTION: 'a command-line option is unknown, lacks its value or has a bad one, or an argument is not expected',
  ALIVED_CLI_NO_CONFIG: 'no config file was given and none of the defaults exist',
  ALIVED_CLI_PLUGIN_NAME:
    "alived plugin init: NAME is not a valid name for a new npm package, or the plugin's name or keyword is one alived already has (the message names the rule)",
  ALIVED_CLI_PLUGIN_DIR: 'alived plugin init: ./NAME exists and is not an empty directory (the message names it); nothing was written',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Every error alived throws on purpose. `code` is always a registry code
 * (ERROR_CODES); a system error's name (ENOENT, EEXIST, EPERM, ...) is in
 * `errno`, given or taken from the cause, never in `code`.
 */
export class AlivedError extends Error {
  override readonly name = 'AlivedError';
  /** the system error's name when a system call or the kernel refused (ENOENT, ENOSPC, EEXIST, ...) */
  readonly errno?: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; errno?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    const errno = options?.errno ?? systemErrorName(options?.cause);
    if (typeof errno === 'string' && /^E[A-Z0-9]+$/.test(errno)) this.errno = errno;
  }
}

/**
 * The system error's name a cause carries: its numeric errno's name (a
 * library may have replaced `code` with its own, as nodemailer's ESOCKET),
 * else its `code` when that is a system error name (not ERR_..., not a
 * library's EAUTH).
 */
function systemErrorName(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const { errno, code } = cause as { errno?: unknown; code?: unknown };
  if (typeof errno === 'number' && Number.isInteger(errno) && errno < 0) {
    try {
      return util.getSystemErrorName(errno);
    } catch {
      // not a number the system knows
    }
  }
  return typeof code === 'string' && Object.hasOwn(os.constants.errno, code) ? code : undefined;
}

export function isAlivedError(err: unknown, code?: ErrorCode): err is AlivedError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'AlivedError' &&
    (code === undefined || (err as { code?: unknown }).code === code)
  );
}

export interface ErrorTextOptions {
  /** only the message's first line (a module that failed to load can put its source line and a caret below) */
  readonly firstLine?: boolean;
  /** say what a socket, DNS or TLS error means in words, then its code: 'connection refused (ECONNREFUSED)' */
  readonly explain?: boolean;
  /** mask the secrets of any URL in the text (redactUrlSecrets), for text that reaches a status as well as the log */
  readonly redact?: boolean;
}

/**
 * An error as one line of a message: its message (String(err) for what is
 * not an Error, or an Error without one), with the system error's name in
 * parentheses where the message does not already name it. That name is an
 * AlivedError's `errno`, and any other error's string `code` (ENOENT,
 * ERR_TLS_CERT_ALTNAME_INVALID); an AlivedError's registry code is not text.
 */
export function errorText(err: unknown, options: ErrorTextOptions = {}): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { message?: unknown; code?: unknown; errno?: unknown; reason?: unknown };
  const name = isAlivedError(err) ? err.errno : typeof e.code === 'string' ? e.code : undefined;
  let text: string | undefined;
  if (options.explain && name) text = explained(name, e.reason, e.message);
  if (text === undefined) {
    let msg = typeof e.message === 'string' && e.message ? e.message : String(err);
    if (options.firstLine) msg = msg.split('\n')[0]!;
    text = name && !msg.includes(name) ? `${msg} (${name})` : msg;
  }
  return options.redact ? redactUrlSecrets(text) : text;
}

/** the words for a socket, DNS or TLS error code, or undefined where the message says it best */
function explained(code: string, reason: unknown, message: unknown): string | undefined {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
      return 'connection reset by the server (ECONNRESET)';
    case 'EPIPE':
      return 'the server closed the connection while the request was sent (EPIPE)';
    case 'EHOSTUNREACH':
      return 'host unreachable (EHOSTUNREACH)';
    case 'ENETUNREACH':
      return 'network unreachable (ENETUNREACH)';
    case 'ETIMEDOUT':
      return 'the kernel gave up connecting (ETIMEDOUT)';
    case 'EADDRINUSE':
      return 'the source address and port (bindto / bind_port) are in use (EADDRINUSE)';
    case 'EADDRNOTAVAIL':
      return 'the source address (bindto) is not on this host (EADDRNOTAVAIL)';
    case 'EACCES':
    case 'EPERM':
      return `not permitted (${code})`;
    case 'CERT_HAS_EXPIRED':
      return 'certificate verification failed: the certificate has expired (CERT_HAS_EXPIRED)';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `certificate verification failed: self-signed certificate (${code})`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `certificate verification failed: no trusted issuer (${code})`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `certificate verification failed: ${reason ?? message} (${code})`;
  }
  // OpenSSL's errors carry a short reason: `wrong version number`, `sslv3 alert handshake failure`
  if (code.startsWith('ERR_SSL_') && reason) return `TLS handshake failed: ${reason} (${code})`;
  return undefined;
}
