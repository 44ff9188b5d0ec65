import {
  ALIVED_VERSION,
  bareFlag,
  block,
  checkerCommonFields,
  commandWords,
  idsToSet,
  int,
  INVALID,
  map,
  name,
  script,
  scriptRunAs,
  ScriptRunner,
  signalName,
  spawnErrorWords,
  tuple,
  value,
  word,
  type AlivedPlugin,
  type BlockOf,
  type Checker,
  type CheckerContext,
  type CheckResult,
  type ResolvedUser,
  type RunOutcome,
} from '../../core/sdk';

/**
 * `MISC_CHECK { misc_path ... }`: runs a script (check_misc.c). It takes the
 * common checker keywords but none of the connection ones.
 */

/**
 * `misc_path <PATH>|"<PATH> <ARGS>"`: keepalived reads only the first word
 * (quote a command with arguments); a user or group after it is ignored,
 * the `user` keyword sets them.
 */
const miscPath = map(script, (s, words, ctx) => {
  if (words.length > 1) {
    ctx.diags.warning(
      'ALIVED_CONFIG_NO_EFFECT',
      words[1]!.pos,
      `keepalived ignores '${words
        .slice(1)
        .map((w) => w.text)
        .join(' ')}' after the misc_path command; quote a command with arguments, and set the user with 'user USERNAME [GROUPNAME]'`,
    );
    return { ...s, user: undefined, group: undefined };
  }
  return s;
});

export interface ScriptUser {
  readonly user: string;
  readonly group: string | undefined;
}

const scriptUser = map(tuple([name, name], 1), (t): ScriptUser | typeof INVALID => ({ user: t[0]!, group: t[1] }));

export const miscCheckSchema = block({
  ...checkerCommonFields,
  misc_path: value(miscPath).required().doc('the command to run: exit 0 is up, 1 is down (2-255 with misc_dynamic)'),
  misc_timeout: word(int({ min: 0, max: 4294 })).doc("seconds before the script is killed; 0 or unset: the virtual server's delay_loop"),
  misc_dynamic: value(bareFlag).default(false).doc('exit status 2-255 sets the real server weight to status - 2'),
  user: value(scriptUser).doc("user (and group) to run the script as; default global_defs' script_user"),
});

export type MiscCheckConfig = BlockOf<typeof miscCheckSchema>;

/** who runs the scripts when the checker names no `user`: global_defs' script_user, else keepalived's default */
export interface MiscDefaults {
  readonly scriptUser?: ScriptUser;
}

export { DEFAULT_SCRIPT_USER } from '../../core/sdk';

/**
 * One check is one run of misc_path (check_misc.c misc_check_child_thread()):
 * exit 0 is up; with misc_dynamic, 2..255 are up too and set the weight to
 * the status minus 2; any other status, a signal, or a timeout is down.
 * The script is killed at misc_timeout, else at the scheduler's signal.
 */
export function createMiscChecker(config: MiscCheckConfig, ctx: CheckerContext, defaults: () => MiscDefaults = () => ({})): Checker {
  const runner = new ScriptRunner();
  const argv = config.miscPath.argv;
  const where = `MISC_CHECK ${commandWords(argv)}`;
  // misc_timeout 0 is unset; keepalived then uses the virtual server's delay_loop, which the scheduler's signal stands for
  const timeoutS = config.miscTimeout || config.delayLoop;
  let user: Promise<ResolvedUser | string | undefined> | undefined;

  /** the ids to run as, looked up once per checker; a string says why there are none */
  function runAs(): Promise<ResolvedUser | string | undefined> {
    return (user ??= scriptRunAs(config.user, defaults().scriptUser));
  }

  function result(o: RunOutcome, signal: AbortSignal): CheckResult {
    switch (o.kind) {
      case 'exit': {
        const why = o.stderr ? `: ${o.stderr.split('\n').pop()}` : '';
        if (o.code === 0) return { ok: true, message: `${where}: exited with status 0` };
        if (config.miscDynamic && o.code >= 2 && o.code <= 255) {
          return { ok: true, weight: o.code - 2, message: `${where}: exited with status ${o.code}, weight ${o.code - 2} (misc_dynamic)` };
        }
        return { ok: false, message: `${where}: exited with status ${o.code}${why}` };
      }
      case 'signal':
        return { ok: false, message: `${where}: killed by ${signalName(o.signal)}${o.stderr ? `: ${o.stderr.split('\n').pop()}` : ''}` };
      case 'timeout':
        return { ok: false, message: `${where}: timed out after ${timeoutS} s; killed with its process group` };
      case 'aborted': {
        const r = signal.reason as { name?: unknown } | undefined;
        const timedOut = r !== undefined && r.name === 'TimeoutError';
        // with misc_timeout the scheduler's signal aborts at that same time (timeout() below), usually just before the runner's own timer
        if (timedOut && config.miscTimeout) return { ok: false, message: `${where}: timed out after ${timeoutS} s; killed with its process group` };
        const words = timedOut ? 'timed out' : 'aborted';
        return { ok: false, message: `${where}: ${words}; killed with its process group` };
      }
      case 'error':
        return { ok: false, message: `${where}: cannot run ${argv[0]}: ${spawnErrorWords(o.error)}` };
    }
  }

  return {
    async check(signal) {
      try {
        const ids = await runAs();
        if (typeof ids === 'string') return { ok: false, message: `${where}: ${ids}` };
        // only a change of user needs ids: a non-root alived still runs scripts as itself
        const outcome = await runner.run({
          argv,
          ...idsToSet(ids),
          timeoutMs: timeoutS ? timeoutS * 1000 : undefined,
          signal,
        });
        return result(outcome, signal);
      } catch (err) {
        return { ok: false, message: `${where}: ${(err as Error)?.message ?? String(err)}` };
      }
    },
    close() {
      runner.close();
    },
  };
}

const PLUGIN_NAME = 'check-misc';

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  apply(api) {
    let defaults: MiscDefaults = {};
    // global_defs' script_user is the default user of every MISC_CHECK
    api.hooks.configLoaded.tap(PLUGIN_NAME, (model) => {
      const su = model.globalDefs?.scriptUser;
      defaults = su ? { scriptUser: { user: su.user, group: su.group } } : {};
    });
    api.registerChecker({
      keyword: 'MISC_CHECK',
      schema: miscCheckSchema,
      create: (config, ctx) => createMiscChecker(config, ctx, () => defaults),
      // keepalived's MISC_CHECK does not retry unless told to (check_misc.c misc_check_handler())
      defaults: { retry: 0 },
      // misc_timeout, else the scheduler's fallback for a checker without connect_timeout: the virtual server's delay_loop
      timeout: (config) => config.miscTimeout || undefined,
      // check_misc.c misc_check_child_thread()'s smtp_alert body: succeeded, failed or timed out
      alertText: (up, message) => `=> MISC CHECK ${up ? 'succeeded' : /: timed out\b/.test(message) ? 'timed out' : 'failed'} on service <=`,
    });
  },
};

export default plugin;
