import {
  ALIVED_VERSION,
  bareFlag,
  block,
  checkerCommonFields,
  int,
  INVALID,
  map,
  name,
  script,
  tuple,
  value,
  word,
  type AlivedPlugin,
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
      `keepalived ignores '${words.slice(1).map((w) => w.text).join(' ')}' after the misc_path command; quote a command with arguments, and set the user with 'user USERNAME [GROUPNAME]'`,
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

const plugin: AlivedPlugin = {
  name: 'check-misc',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'MISC_CHECK', schema: miscCheckSchema });
  },
};

export default plugin;
