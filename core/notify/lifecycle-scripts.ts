import type { Logger } from '../log/logger';
import type { ConfigModel } from '../config/model';
import type { ScriptLine } from '../config/values';
import { ScriptRunner, KILL_GRACE_MS, bounded, groupGone, signalName, spawnErrorWords, type RunOutcome } from '../script/run';
import { commandWords } from '../script/launcher';
import { prepareScript, securityViolationMessage, type ScriptRefusal } from '../script/security';

/**
 * global_defs' startup_script and shutdown_script (keepalived core/main.c):
 * the startup script runs once before anything else starts (VRRP, checks),
 * and alived waits for it; the shutdown script runs once after everything
 * has stopped, and alived waits for it before it exits. Each has its
 * timeout (startup_script_timeout / shutdown_script_timeout, 10 s when not
 * set, as keepalived); at the timeout the script's process group gets
 * SIGTERM, then SIGKILL 2 s later, and alived goes on once it is gone. A
 * failure (not found, refused, non-zero status) is logged; startup and
 * shutdown go on. Neither runs again at a reload.
 */

/** keepalived's default when the script is set without a timeout (global_parser.c) */
export const STARTUP_SCRIPT_TIMEOUT_S = 10;
export const SHUTDOWN_SCRIPT_TIMEOUT_S = 10;

export interface LifecycleScriptOptions {
  readonly log: Logger;
  /** aborting kills the script with its group at once (the daemon was told to stop while it waited) */
  readonly signal?: AbortSignal;
}

export interface LifecycleScriptResult {
  /** false: there is no such script, or it was refused */
  readonly ran: boolean;
  readonly outcome?: RunOutcome;
  /** why it did not run */
  readonly refused?: { readonly code: ScriptRefusal['code']; readonly reason: string; readonly path: string };
}

/** Runs startup_script (if any) and resolves when it has ended or been killed at startup_script_timeout. Never rejects. */
export function runStartupScript(model: ConfigModel, opts: LifecycleScriptOptions): Promise<LifecycleScriptResult> {
  const g = model.globalDefs;
  return runLifecycleScript('startup', g?.startupScript, g?.startupScriptTimeout ?? STARTUP_SCRIPT_TIMEOUT_S, model, opts);
}

/** Runs shutdown_script (if any) and resolves when it has ended or been killed at shutdown_script_timeout. Never rejects. */
export function runShutdownScript(model: ConfigModel, opts: LifecycleScriptOptions): Promise<LifecycleScriptResult> {
  const g = model.globalDefs;
  return runLifecycleScript('shutdown', g?.shutdownScript, g?.shutdownScriptTimeout ?? SHUTDOWN_SCRIPT_TIMEOUT_S, model, opts);
}

async function runLifecycleScript(
  type: 'startup' | 'shutdown',
  script: ScriptLine | undefined,
  timeoutS: number,
  model: ConfigModel,
  opts: LifecycleScriptOptions,
): Promise<LifecycleScriptResult> {
  if (!script) return { ran: false };
  const log = opts.log;
  const g = model.globalDefs;
  const security = g?.enableScriptSecurity === true;
  const cmd = commandWords(script.argv);
  const what = `${type}_script`;
  const fields = { script: cmd, for: what };
  try {
    const p = await prepareScript(script, { scriptUser: g?.scriptUser, scriptSecurity: security });
    if (!p.ok) {
      if (p.code === 'EINSECURE') {
        log.error(
          { code: 'ALIVED_SCRIPT_INSECURE', ...fields, path: p.path, reason: p.reason },
          `Unsafe permissions found for script ${cmd} (${what}) - disabling: ${p.reason}`,
        );
      } else {
        log.error({ code: 'ALIVED_SCRIPT_FAILED', ...fields, path: p.path, reason: p.reason }, `Cannot run script ${cmd} (${what}): ${p.reason}`);
      }
      return { ran: false, refused: { code: p.code, reason: p.reason, path: p.path } };
    }
    for (const w of p.warnings) log.warn({ ...fields, ...(p.unsafe ? { code: 'ALIVED_SCRIPT_INSECURE' } : {}) }, w);
    if (!security) log.warn({ code: 'ALIVED_SCRIPT_SECURITY_OFF', ...fields }, securityViolationMessage('start/shutdown ', p.unsafe !== undefined));

    const runner = new ScriptRunner();
    const signal = opts.signal ?? new AbortController().signal;
    log.info({ ...fields, timeout: timeoutS }, `Running ${type} script ${cmd}`);
    let pgid: number | undefined;
    const outcome = await runner.run({ argv: p.argv, uid: p.uid, gid: p.gid, timeoutMs: timeoutS * 1000, signal, onSpawn: (pid) => (pgid = pid) });
    switch (outcome.kind) {
      case 'exit':
        if (outcome.code === 0) log.info(fields, `${type} script succeeded`);
        else
          log.warn(
            { code: 'ALIVED_SCRIPT_FAILED', ...fields, status: outcome.code },
            `${type} script failed, status ${outcome.code}${outcome.stderr ? `: ${outcome.stderr.split('\n').pop()}` : ''}`,
          );
        break;
      case 'signal':
        log.warn({ code: 'ALIVED_SCRIPT_FAILED', ...fields, signal: outcome.signal }, `${type} script killed by ${signalName(outcome.signal)}`);
        break;
      case 'timeout':
        log.warn({ code: 'ALIVED_SCRIPT_FAILED', ...fields, timeout: timeoutS }, `${type} script timed out after ${timeoutS} s; killing its process group`);
        break;
      case 'aborted':
        log.info(fields, `${type} script killed with its process group: alived is stopping`);
        runner.close();
        break;
      case 'error':
        log.error({ code: 'ALIVED_SCRIPT_FAILED', ...fields, err: outcome.error }, `Cannot run script ${cmd} (${what}): ${spawnErrorWords(outcome.error)}`);
        break;
    }
    // at a timeout the group gets SIGTERM, then SIGKILL 2 s later: go on once all of it is gone
    await bounded(runner.idle(), KILL_GRACE_MS + 1000);
    if (pgid !== undefined && (outcome.kind === 'timeout' || outcome.kind === 'aborted')) await groupGone(pgid, 1000);
    return { ran: true, outcome };
  } catch (err) {
    log.error({ code: 'ALIVED_SCRIPT_FAILED', ...fields, err }, `Cannot run script ${cmd} (${what}): ${(err as Error)?.message ?? String(err)}`);
    return { ran: false };
  }
}
