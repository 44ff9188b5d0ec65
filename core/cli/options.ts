import * as fs from 'node:fs';
import { AlivedError } from '../errors';
import { FACILITIES } from '../log/logger';
import { DEFAULT_STATE_DIR, instanceStateDir } from '../daemon/state-dir';

/**
 * keepalived's command line, where it makes sense for alived.
 * Exit codes are in EXIT (and docs/cli.md).
 */

export const EXIT = {
  /** success; with -t: the config is valid (warnings allowed) */
  OK: 0,
  /** the config has errors; nothing was started */
  CONFIG_INVALID: 1,
  /** the command line is wrong */
  USAGE: 2,
  /** no config file: none given and none of the default paths exist */
  NO_CONFIG: 3,
  /** the daemon could not start or failed while running (pid file taken, fatal error) */
  RUNTIME: 4,
} as const;

/** `alived status|events|plugins|notify|outbox`: subcommands that ask a running daemon through its API (status-commands.ts) */
export const CLIENT_COMMANDS = ['status', 'events', 'plugins', 'notify', 'outbox'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

export const DEFAULT_CONFIG_FILES = ['/etc/alived/alived.conf', '/etc/keepalived/keepalived.conf'];
export const DEFAULT_PID_FILE = '/run/alived.pid';
export const DEFAULT_LOG_FILE = '/tmp/alived.log';

/** What `--instance NAME` takes: the name goes into file names (`/tmp/alived_NAME.data`, a pid file, a socket, a directory). */
export const INSTANCE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** The pid file of `--instance NAME` without -p (keepalived: /run/keepalived_NAME.pid). */
export function instancePidFile(name: string): string {
  return `/run/alived_${name}.pid`;
}

export { DEFAULT_STATE_DIR, instanceStateDir };

export interface CliOptions {
  useFile: string | undefined;
  configTest: boolean;
  dontFork: boolean;
  logConsole: boolean;
  logDetail: boolean;
  logFacility: number;
  logFile: string | undefined;
  logJson: boolean;
  noSyslog: boolean;
  vrrpOnly: boolean;
  checkOnly: boolean;
  /** -I: leave alived's IPVS services in the kernel at shutdown */
  dontReleaseIpvs: boolean;
  pidFile: string;
  /** where alived keeps state across restarts: the notify outbox (<dir>/notify) */
  stateDir: string;
  /** --unsafe-state-dir: use a state directory other users can write to */
  unsafeStateDir: boolean;
  /** keepalived's --instance: the stats and data files get _NAME; so do the default pid file and state directory */
  instance: string | undefined;
  /**
   * The dumps' names in /tmp: alived's own (/tmp/alived.data), or, for an
   * alived run under the name `keepalived` (a symlink put in keepalived's
   * place), keepalived's (/tmp/keepalived.data), which tools read by fixed
   * path. Not an option: main() sets it from the command's name.
   */
  dumpNames: 'alived' | 'keepalived';
  /** --strict: what keepalived would change or drop silently is an error (warnings otherwise) */
  strict: boolean;
  configId: string | undefined;
  dumpConf: boolean;
  /** --signum=NAME: print the number of keepalived's signal function NAME and exit */
  signum: string | undefined;
  version: boolean;
  help: boolean;
}

interface OptSpec {
  short?: string;
  long: string;
  /** 'none': a switch; 'required': takes a value; 'optional': --long=VALUE only, or the default */
  arg: 'none' | 'required' | 'optional';
  help: string;
  apply: (o: CliOptions, v: string | undefined) => void;
}

function facility(v: string): number {
  if (/^[0-7]$/.test(v)) return FACILITIES[`local${v}`]!;
  const f = FACILITIES[v.toLowerCase()];
  if (f === undefined) {
    throw new AlivedError('ALIVED_CLI_BAD_OPTION', `--log-facility: '${v}' is not 0..7 (LOG_LOCAL0..7) or a facility name (daemon, local3, ...)`);
  }
  return f;
}

export const OPTIONS: OptSpec[] = [
  {
    short: 'f',
    long: 'use-file',
    arg: 'required',
    help: 'config file (default /etc/alived/alived.conf, else /etc/keepalived/keepalived.conf)',
    apply: (o, v) => (o.useFile = v),
  },
  {
    short: 't',
    long: 'config-test',
    arg: 'none',
    help: 'check the config, print every problem as FILE:LINE:COL, and exit',
    apply: (o) => (o.configTest = true),
  },
  { short: 'n', long: 'dont-fork', arg: 'none', help: 'stay in the foreground', apply: (o) => (o.dontFork = true) },
  { short: 'l', long: 'log-console', arg: 'none', help: 'log to the console (stderr)', apply: (o) => (o.logConsole = true) },
  { short: 'D', long: 'log-detail', arg: 'none', help: 'detailed (debug) logging', apply: (o) => (o.logDetail = true) },
  {
    short: 'S',
    long: 'log-facility',
    arg: 'required',
    help: 'syslog facility: 0..7 for LOG_LOCAL0..7, or a name (default daemon)',
    apply: (o, v) => (o.logFacility = facility(v!)),
  },
  { short: 'g', long: 'log-file', arg: 'optional', help: `log to a file (default ${DEFAULT_LOG_FILE})`, apply: (o, v) => (o.logFile = v ?? DEFAULT_LOG_FILE) },
  { long: 'log-json', arg: 'none', help: 'log lines as JSON objects (console and file)', apply: (o) => (o.logJson = true) },
  { short: 'G', long: 'no-syslog', arg: 'none', help: 'do not log to syslog', apply: (o) => (o.noSyslog = true) },
  { short: 'P', long: 'vrrp', arg: 'none', help: 'run only the VRRP subsystem', apply: (o) => (o.vrrpOnly = true) },
  { short: 'C', long: 'check', arg: 'none', help: 'run only the health-check subsystem', apply: (o) => (o.checkOnly = true) },
  {
    short: 'I',
    long: 'dont-release-ipvs',
    arg: 'none',
    help: "leave alived's IPVS virtual servers in the kernel at shutdown",
    apply: (o) => (o.dontReleaseIpvs = true),
  },
  { short: 'p', long: 'pid', arg: 'required', help: `pid file (default ${DEFAULT_PID_FILE})`, apply: (o, v) => (o.pidFile = v!) },
  {
    long: 'state-dir',
    arg: 'required',
    help: `directory for state kept across restarts: the outbox of undelivered notifications (default ${DEFAULT_STATE_DIR})`,
    apply: (o, v) => (o.stateDir = v!),
  },
  {
    long: 'unsafe-state-dir',
    arg: 'none',
    help: 'use a --state-dir that other users can write to (refused otherwise), after a warning',
    apply: (o) => (o.unsafeStateDir = true),
  },
  {
    long: 'instance',
    arg: 'required',
    help: `name this alived: SIGUSR1/SIGUSR2/the JSON signal write /tmp/alived_NAME.data / .stats / .json; without -p and --state-dir, /run/alived_NAME.pid and ${DEFAULT_STATE_DIR}/instance/NAME`,
    apply: (o, v) => (o.instance = v),
  },
  {
    long: 'strict',
    arg: 'none',
    help: "refuse what keepalived would change or drop silently (alived's warnings that say so become errors)",
    apply: (o) => (o.strict = true),
  },
  { short: 'i', long: 'config-id', arg: 'required', help: 'the id that @id lines match (default the short host name)', apply: (o, v) => (o.configId = v) },
  {
    short: 'd',
    long: 'dump-conf',
    arg: 'none',
    help: 'print the resolved config (includes, parameters and sequences expanded)',
    apply: (o) => (o.dumpConf = true),
  },
  {
    long: 'signum',
    arg: 'required',
    help: 'print the number of the signal for STOP, RELOAD, DATA, STATS, STATS_CLEAR or JSON, and exit',
    apply: (o, v) => (o.signum = v),
  },
  { short: 'v', long: 'version', arg: 'none', help: 'print the version and exit', apply: (o) => (o.version = true) },
  { short: 'h', long: 'help', arg: 'none', help: 'print this help and exit', apply: (o) => (o.help = true) },
];

export function defaultOptions(): CliOptions {
  return {
    useFile: undefined,
    configTest: false,
    dontFork: false,
    logConsole: false,
    logDetail: false,
    logFacility: FACILITIES.daemon!,
    logFile: undefined,
    logJson: false,
    noSyslog: false,
    instance: undefined,
    dumpNames: 'alived',
    strict: false,
    vrrpOnly: false,
    checkOnly: false,
    dontReleaseIpvs: false,
    pidFile: DEFAULT_PID_FILE,
    stateDir: DEFAULT_STATE_DIR,
    unsafeStateDir: false,
    configId: undefined,
    dumpConf: false,
    signum: undefined,
    version: false,
    help: false,
  };
}

/** Parses argv (without node and the script); throws AlivedError ALIVED_CLI_BAD_OPTION. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o = defaultOptions();
  const given = new Set<string>();
  const bad = (msg: string): never => {
    throw new AlivedError('ALIVED_CLI_BAD_OPTION', msg);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const spec = OPTIONS.find((s) => s.long === name);
      if (!spec) bad(`unknown option '--${name}'${suggest(name)}`);
      let v: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
      if (spec!.arg === 'none' && v !== undefined) bad(`option '--${name}' takes no value`);
      if (spec!.arg === 'required' && v === undefined) {
        v = argv[++i];
        if (v === undefined) bad(`option '--${name}' needs a value`);
      }
      spec!.apply(o, v);
      given.add(spec!.long);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // bundled short switches: -ln, -nlD; a short option with a value takes the rest or the next word
      for (let k = 1; k < a.length; k++) {
        const spec = OPTIONS.find((s) => s.short === a[k]);
        if (!spec) bad(`unknown option '-${a[k]}'`);
        if (spec!.arg === 'none') {
          spec!.apply(o, undefined);
          continue;
        }
        let v: string | undefined = a.slice(k + 1) || undefined;
        if (v === undefined && spec!.arg === 'required') {
          v = argv[++i];
          if (v === undefined) bad(`option '-${a[k]}' needs a value`);
        }
        spec!.apply(o, v);
        given.add(spec!.long);
        break;
      }
      continue;
    }
    bad(`unexpected argument '${a}' (the config file is given with -f FILE)`);
  }
  if (o.vrrpOnly && o.checkOnly) bad('-P (--vrrp) and -C (--check) exclude each other');
  if (o.instance !== undefined) {
    // the name goes into file names: /tmp/alived_NAME.data, /run/alived_NAME.pid, a directory
    if (!INSTANCE_NAME_RE.test(o.instance)) {
      bad(`--instance '${o.instance.slice(0, 80)}': a name is 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
    }
    // two instances on one host never share a pid file or an outbox unless told to
    if (!given.has('pid')) o.pidFile = instancePidFile(o.instance);
    if (!given.has('state-dir')) o.stateDir = instanceStateDir(o.instance);
  }
  return o;
}

function suggest(name: string): string {
  const hit = OPTIONS.find((s) => s.long.startsWith(name) || name.startsWith(s.long));
  return hit ? ` (did you mean '--${hit.long}'?)` : '';
}

/** The config file: -f, else the first default that exists. */
export function configFile(o: CliOptions, exists: (p: string) => boolean = fs.existsSync): string | undefined {
  if (o.useFile) return o.useFile;
  return DEFAULT_CONFIG_FILES.find((f) => exists(f));
}

export function helpText(): string {
  const rows = OPTIONS.map((s) => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${s.long}${s.arg === 'required' ? ' VALUE' : s.arg === 'optional' ? '[=FILE]' : ''}`;
    return `  ${flag.padEnd(30)} ${s.help}`;
  });
  return [
    'Usage: alived [OPTION...]',
    '       alived lab      build a two-node VRRP lab in network namespaces and show a failover (root)',
    "       alived genhash  print the MD5 digest of a URL's body for HTTP_GET / SSL_GET digest (alived genhash -h)",
    '       alived plugin init NAME [--kind checker|notifier]  a plugin project in ./NAME (alived plugin init -h)',
    '       alived status [--json] [--watch [SECONDS]]   what the running daemon is doing, and why',
    '       alived events [--since SEQ] [-n N] [-f]      its timeline; -f follows it',
    '       alived plugins                               the plugins it loaded',
    '       alived notify test [NAME]                    a test notification through mail and webhooks',
    '       alived outbox [list | retry [ID] | drop ID]  notifications not delivered yet',
    '       (these take --state-dir DIR, --instance NAME or --socket PATH to find the daemon; -h for more)',
    '',
    'A keepalived-compatible high-availability daemon: VRRP, IPVS, health checks, notifications.',
    '',
    ...rows,
    '',
    'Exit codes: 0 ok (config valid), 1 config has errors, 2 bad command line,',
    '            3 no config file, 4 daemon failed to start or run.',
  ].join('\n');
}
