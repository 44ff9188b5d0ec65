/**
 * What the alived command runs once its options are parsed: the config
 * test, the daemon in the foreground, and the start in the background.
 * main.ts loads this module only then, after it has forked the VRRP process
 * (supervisor.ts preforkVrrpProcess): the VRRP process loads its own code
 * while this one loads and compiles everything else.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { compileConfig, shortHostname } from '../config/compile';
import { formatDiagnostic, type Diagnostic } from '../config/diagnostics';
import { BUILTIN_PLUGINS } from '../plugin/builtins';
import { dumpTree } from '../config/dump';
import { ConfigInvalidError, Daemon } from '../daemon/daemon';
import { formatStats } from '../vrrp/stats';
import { dumpBase, dumpFiles, dumpInputsFor, type DumpInputSource } from './dumps';
import { oneRunAtATime, signalNumber, watchRealtimeSignal } from '../daemon/signals';
import { formatIpvsStats } from '../ipvs/stats';
import { acquirePidFile } from '../daemon/pid-file';
import { FileError, writeFileAtomic } from '../fs/safe-file';
import { createLogger, fileSink, isJournalStream, streamSink, syslogSink, type LogSink, type Logger } from '../log/logger';
import type { SystemdEnvironment } from '../daemon/sd-notify';
import { SystemdNotifier } from '../daemon/systemd';
import { EXIT, type CliOptions } from './options';

/** Paths in messages: relative to the working directory when below it, else absolute. */
function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

function printDiagnostics(diags: readonly Diagnostic[], out: NodeJS.WritableStream): void {
  for (const d of diags) out.write(formatDiagnostic({ ...d, pos: { ...d.pos, file: shownPath(d.pos.file) } }) + '\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function makeLogger(o: CliOptions): Logger {
  const ident = `alived[${process.pid}]`;
  const sinks: LogSink[] = [];
  const format = o.logJson ? 'json' : 'text';
  // under systemd, stderr is the journal's stream: each line carries its level as a syslog prefix
  if (o.logConsole) sinks.push(streamSink(process.stderr, format, ident, { levelPrefix: isJournalStream(2) }));
  let refused: FileError | undefined;
  if (o.logFile) {
    // a FIFO, symlink or someone else's file at -g is refused, never written through; the other outputs go on,
    // as they do when the file cannot be opened at all
    try {
      sinks.push(fileSink(o.logFile, format, ident));
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      refused = err;
    }
  }
  if (!o.noSyslog) sinks.push(syslogSink({ facility: o.logFacility, ident: 'alived' }));
  const log = createLogger(sinks, o.logDetail ? 'debug' : 'info');
  if (refused) {
    const msg = `not logging to ${refused.file}: ${refused.reason} (${refused.code === 'ALIVED_FILE_UNSAFE' ? 'refused, never written through; ' : ''}the other log outputs go on)`;
    log.error({ code: refused.code, file: refused.file }, msg);
    if (!o.logConsole) process.stderr.write(`alived: ${msg}\n`);
  }
  return log;
}

export async function configTest(file: string, o: CliOptions): Promise<number> {
  const r = await compileConfig(file, { builtins: BUILTIN_PLUGINS, configId: o.configId ?? shortHostname(), strict: o.strict });
  if (o.dumpConf) process.stdout.write(dumpTree(r.tree));
  printDiagnostics(r.diagnostics, process.stderr);
  const compat = r.diagnostics.filter((d) => d.compat && d.severity === 'warning').length;
  const summary =
    `${shownPath(path.resolve(file))}: ${plural(r.errorCount, 'error')}, ${plural(r.warningCount, 'warning')}` +
    (compat > 0 ? ` (${compat} on what keepalived changes or drops silently: errors under --strict)` : '');
  process.stderr.write(`alived: ${r.ok ? 'configuration valid' : 'configuration INVALID'}: ${summary}\n`);
  await r.pluginHost.close();
  return r.ok ? EXIT.OK : EXIT.CONFIG_INVALID;
}

/** Without -n: check the config here (so errors reach the terminal), then go on in a detached child. */
export async function daemonize(file: string, o: CliOptions, argv: readonly string[]): Promise<number> {
  const r = await compileConfig(file, { builtins: BUILTIN_PLUGINS, configId: o.configId ?? shortHostname(), strict: o.strict });
  await r.pluginHost.close();
  if (!r.ok) {
    printDiagnostics(r.diagnostics, process.stderr);
    process.stderr.write(`alived: not started: ${plural(r.errorCount, 'error')} in the config\n`);
    return EXIT.CONFIG_INVALID;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, ALIVED_DAEMONIZED: '1' };
  if (env.NOTIFY_SOCKET) {
    // the daemon below is not the process systemd started: it does not notify, and a Type=notify unit would wait for it
    process.stderr.write('alived: NOTIFY_SOCKET is set (systemd Type=notify): start alived with --dont-fork (-n) under systemd\n');
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
  }
  const child = spawn(process.execPath, [process.argv[1]!, ...argv, '--dont-fork'], {
    detached: true,
    stdio: 'ignore',
    env,
  });
  child.unref();
  return EXIT.OK;
}

/** the signals runDaemon catches whose default action would end the process or open Node's inspector */
const EARLY_SIGNALS: readonly NodeJS.Signals[] = ['SIGUSR1', 'SIGUSR2', 'SIGHUP'];

/**
 * The daemon in this process (-n). `systemd`: systemd's notify socket and
 * watchdog, taken from the environment before anything was forked
 * (main.ts): READY=1, RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1 go
 * there (docs/systemd.md).
 */
export async function runDaemon(file: string, o: CliOptions, systemd?: SystemdEnvironment): Promise<number> {
  const log = makeLogger(o);
  // while the config is read and the daemon built, a dump or reload signal is logged and ignored:
  // the default actions would end the process (SIGUSR2, SIGHUP) or open Node's inspector (SIGUSR1)
  const early = (signal: NodeJS.Signals): void => log.warn({ signal }, `${signal} before the daemon started: ignored`);
  for (const s of EARLY_SIGNALS) process.on(s, early);
  let daemon: Daemon;
  try {
    daemon = await Daemon.build({
      configFile: file,
      configId: o.configId ?? shortHostname(),
      log,
      vrrp: !o.checkOnly,
      checks: !o.vrrpOnly,
      releaseIpvs: !o.dontReleaseIpvs,
      logLevel: o.logDetail ? 'debug' : 'info',
      stateDir: o.stateDir,
      allowUnsafeStateDir: o.unsafeStateDir,
      ...(o.instance ? { instance: o.instance } : {}),
      api: true,
      compile: { strict: o.strict },
    });
  } catch (err) {
    if (err instanceof ConfigInvalidError) {
      printDiagnostics(err.result.diagnostics, process.stderr);
      for (const d of err.result.diagnostics) if (d.severity === 'error') log.error({ code: d.code }, formatDiagnostic(d));
      process.stderr.write(`alived: not started: ${plural(err.result.errorCount, 'error')} in the config\n`);
      return EXIT.CONFIG_INVALID;
    }
    throw err;
  }
  // the pid file is written only once every signal below is caught: a script (or a test) sends one
  // as soon as the pid file is there
  let releasePid: () => void = () => undefined;
  let sd: SystemdNotifier | undefined;

  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      releasePid();
      resolve(code);
    };
    const stop = (signal: NodeJS.Signals, code: number = EXIT.OK): void => {
      daemon.stop(signal).then(
        () => finish(code),
        (err) => {
          log.error({ err }, 'error while stopping');
          finish(EXIT.RUNTIME);
        },
      );
    };
    // the VRRP release first, on the shortest path (a backup waits only Skew_Time after it)
    process.on('SIGTERM', () => {
      daemon.releaseVrrp();
      sd?.stopping();
      stop('SIGTERM');
    });
    process.on('SIGINT', () => {
      daemon.releaseVrrp();
      sd?.stopping();
      stop('SIGINT');
    });
    // keepalived's dumps: SIGUSR1 the state of every instance, SIGUSR2 the counters, the JSON signal
    // (SIGRTMIN+2) keepalived's JSON. /tmp is everyone's: each dump is a private file (0600) renamed
    // into place, so a FIFO or a symlink planted at the name is replaced, never opened or followed,
    // and nothing here can block
    const write = (target: string, text: string): Promise<void> =>
      writeFileAtomic(target, text, { mode: 0o600 }).then(
        ({ replaced }) => {
          if (replaced)
            log.warn(
              { code: 'ALIVED_FILE_UNSAFE', file: target, replaced },
              `${target} was a ${replaced}, not a regular file: replaced, never written through`,
            );
          log.info({ file: target }, `wrote ${target}`);
        },
        (err: Error) => log.error({ err, file: target }, `writing ${target}: ${err instanceof FileError ? err.reason : err.message}`),
      );
    const dumpInputs: DumpInputSource = () => daemon.status.snapshot().then((doc) => dumpInputsFor(doc, daemon));
    // each dump one at a time: signals during one make one more after it (oneRunAtATime)
    const dump = (kind: 'data' | 'json'): (() => void) =>
      oneRunAtATime(() =>
        dumpInputs().then(
          (inputs) => Promise.all(dumpFiles(kind, inputs, dumpBase(o)).map((d) => write(d.file, d.text))),
          (err: Error) => log.error({ err }, `${kind} dump: ${err.message}`),
        ),
      );
    const dumpStats = oneRunAtATime(() => {
      const statsFile = `${dumpBase(o)}.stats`;
      return (
        Promise.all([daemon.vrrpStatus(), daemon.ipvsStatus()])
          // with virtual servers, the stats file goes on with the IPVS counters
          .then(([s, ipvs]) => write(statsFile, formatStats(s) + (ipvs ? formatIpvsStats(ipvs) : '')))
          .catch((err: Error) => log.error({ err }, `stats dump: ${err.message}`))
      );
    });
    process.on('SIGUSR1', dump('data'));
    process.on('SIGUSR2', dumpStats);
    const closeRealtime = watchKeepalivedRealtimeSignals(log, { json: dump('json') });
    process.once('exit', closeRealtime);
    process.on('SIGHUP', () => {
      sd?.reloading();
      daemon.reload().then(
        (r) => sd?.reloaded(r.applied ? { applied: true } : { applied: false, errors: r.diagnostics.filter((d) => d.severity === 'error').length }),
        (err: Error) => {
          log.error({ err }, 'reload failed');
          void sd?.reloaded({ failed: err.message });
        },
      );
    });
    for (const s of EARLY_SIGNALS) process.off(s, early);
    try {
      releasePid = acquirePidFile(o.pidFile, { warn: (msg) => log.warn({ code: 'ALIVED_FILE_UNSAFE', file: o.pidFile }, msg) });
    } catch (err) {
      log.error({ err }, (err as Error).message);
      process.stderr.write(`alived: ${(err as Error).message}\n`);
      daemon.stop().then(
        () => resolve(EXIT.RUNTIME),
        () => resolve(EXIT.RUNTIME),
      );
      return;
    }
    if (o.dumpConf) process.stdout.write(dumpTree(daemon.tree));
    if (o.vrrpOnly) log.info({}, 'VRRP subsystem only (-P)');
    if (o.checkOnly) log.info({}, 'health-check subsystem only (-C)');
    sd = systemd ? new SystemdNotifier(systemd, daemon, log) : undefined;
    if (systemd) {
      const watchdog = systemd.watchdogUsec !== undefined ? `, watchdog every ${systemd.watchdogUsec / 2e6} s` : '';
      log.info({ socket: systemd.notifySocket, watchdogUsec: systemd.watchdogUsec }, `systemd notify socket ${systemd.notifySocket}${watchdog}`);
    }
    // keep the event loop alive while running
    const keepAlive = setInterval(() => undefined, 1 << 30);
    daemon.start().then(
      () => sd?.ready(),
      (err: Error) => {
        log.error({ err }, `start failed: ${err.message}`);
        process.stderr.write(`alived: start failed: ${err.message}\n`);
        sd?.stopping();
        sd?.failed(err.message);
        stop('SIGTERM', EXIT.RUNTIME);
      },
    );
    process.once('exit', () => {
      clearInterval(keepAlive);
      sd?.close();
    });
  });
}

/**
 * keepalived's real-time signals, which Node's process.on() cannot take
 * (core/daemon/signals.ts): the JSON one writes the JSON dump; STATS_CLEAR,
 * whose default action would end the daemon, is answered with a log line
 * (alived's counters count from the start, and /metrics reads them as
 * counters that never go back). Returns the function that stops catching them.
 */
function watchKeepalivedRealtimeSignals(log: Logger, on: { json: () => void }): () => void {
  const closers: (() => void)[] = [];
  const watch = (name: 'JSON' | 'STATS_CLEAR', fn: () => void): void => {
    const n = signalNumber(name)!;
    try {
      closers.push(watchRealtimeSignal(n, fn));
    } catch (err) {
      log.warn({ err, signal: n }, `cannot catch keepalived's ${name} signal (${n}): ${(err as Error).message}`);
    }
  };
  watch('JSON', on.json);
  watch('STATS_CLEAR', () => log.info({ signal: signalNumber('STATS_CLEAR') }, "keepalived's STATS_CLEAR signal: alived does not clear its counters; ignored"));
  return () => {
    for (const c of closers.splice(0)) c();
  };
}
