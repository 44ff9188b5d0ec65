#!/usr/bin/env node
import * as path from 'node:path';
import { isAlivedError } from '../errors';
import { preforkVrrpProcess } from '../vrrp/supervisor';
import { takeSystemdEnvironment } from '../daemon/sd-notify';
import { ALIVED_VERSION } from '../version';
import { CLIENT_COMMANDS, configFile, EXIT, helpText, parseArgs, type CliOptions } from './options';

/**
 * The alived command. It loads little before it knows what to do: a daemon
 * forks its VRRP process first (it loads the VRRP engine while this process
 * loads the compiler, the plugins and the rest in run.ts), so a restarted
 * node listens for adverts sooner.
 */

function run(): typeof import('./run') {
  return require('./run') as typeof import('./run');
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'lab') {
    const { runLab } = await import('./lab');
    return runLab();
  }
  // the subcommands that ask a running daemon, through its API socket
  if ((CLIENT_COMMANDS as readonly string[]).includes(argv[0] ?? '')) {
    const { runClientCommand } = await import('./status-commands');
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.on('SIGINT', stop);
    try {
      return await runClientCommand(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: ac.signal });
    } finally {
      process.removeListener('SIGINT', stop);
    }
  }
  if (argv[0] === 'plugin') {
    const { runPluginCommand } = await import('../scaffold/plugin-init');
    return runPluginCommand(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
  }
  // keepalived 2.2 also answers to `keepalived --genhash ...`
  if (argv[0] === 'genhash' || argv[0] === '--genhash') {
    const { runGenhash } = await import('./genhash');
    return runGenhash(argv.slice(1), process.stdout, process.stderr);
  }
  let o: CliOptions;
  try {
    o = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`alived: ${(err as Error).message}\nTry 'alived --help'.\n`);
    return EXIT.USAGE;
  }
  // run as `keepalived` (a symlink in its place), the dumps take keepalived's names: the exporters read those
  if (path.basename(process.argv[1] ?? '') === 'keepalived') o.dumpNames = 'keepalived';
  if (o.help) {
    process.stdout.write(helpText() + '\n');
    return EXIT.OK;
  }
  // as keepalived: the number, before anything else is looked at
  if (o.signum !== undefined) {
    const { printSignum } = await import('../daemon/signals');
    return printSignum(o.signum, process.stdout, process.stderr);
  }
  if (o.version) {
    process.stdout.write(`alived v${ALIVED_VERSION} (keepalived.conf compatible)\n`);
    return EXIT.OK;
  }
  const file = configFile(o);
  if (!file) {
    process.stderr.write('alived: no config file: give one with -f FILE, or create /etc/alived/alived.conf or /etc/keepalived/keepalived.conf\n');
    return EXIT.NO_CONFIG;
  }
  if (o.configTest) return run().configTest(file, o);
  if (!o.dontFork) return run().daemonize(file, o, argv);
  // systemd's notify socket and watchdog are this process's: taken before the VRRP process is forked, so no child inherits them
  const systemd = takeSystemdEnvironment(process.env);
  if (!o.checkOnly) preforkVrrpProcess();
  return run().runDaemon(file, o, systemd);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      // an internal failure: the message always, the stack only when asked for (-D)
      const detail = process.argv.includes('-D') || process.argv.includes('--log-detail');
      process.stderr.write(
        `alived: internal error: ${isAlivedError(err) ? `${err.code}: ` : ''}${detail ? (err as Error)?.stack : ((err as Error)?.message ?? String(err))}\n`,
      );
      process.exit(EXIT.RUNTIME);
    },
  );
}
