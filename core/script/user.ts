import { execFile } from 'node:child_process';

/**
 * Who runs a script. keepalived resolves a script's user once, when it
 * reads the config: the user written after the script, else global_defs'
 * script_user, else `keepalived_script` when that user exists, else its own
 * (get_default_script_user(), set_uid_gid()).
 */

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
}

/** a user (and group) as the config names them: names or numbers */
export interface ScriptUserName {
  readonly user: string;
  readonly group?: string | undefined;
}

/** keepalived's default script user when it exists (get_default_script_user()); else alived's own user */
export const DEFAULT_SCRIPT_USER = 'keepalived_script';

/** `getent DATABASE KEY`: the user and group databases through NSS, as getpwnam() sees them (LDAP, sssd included). */
function getent(database: 'passwd' | 'group', key: string): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    execFile('getent', [database, key], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      const line = stdout.split('\n')[0];
      resolve(line ? line.split(':') : undefined);
    });
  });
}

/**
 * A user (and group) as the `user` keyword and script_user give them: names
 * or numbers. Without a group, the user's primary group (set_uid_gid()).
 * A string says why there is no such user.
 */
export async function resolveUser(user: string, group: string | undefined): Promise<ResolvedUser | string> {
  const pw = await getent('passwd', user);
  if (!pw) return `user '${user}' does not exist`;
  const uid = Number(pw[2]);
  let gid = Number(pw[3]);
  if (group !== undefined) {
    const gr = await getent('group', group);
    if (!gr) return `group '${group}' does not exist`;
    gid = Number(gr[2]);
  }
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return `user '${user}' has no numeric uid/gid in the user database`;
  return { uid, gid };
}

/** A group as the config names it (a name or a number): its gid, or a string that says why there is none. */
export async function resolveGroup(group: string): Promise<number | string> {
  if (/^\d+$/.test(group)) return Number(group);
  const gr = await getent('group', group);
  if (!gr) return `group '${group}' does not exist`;
  const gid = Number(gr[2]);
  return Number.isInteger(gid) ? gid : `group '${group}' has no numeric gid in the group database`;
}

/**
 * The ids a script runs as: its own user, else `scriptUser` (global_defs'
 * script_user), else keepalived_script when it exists; undefined means
 * alived's own user. A string says why the named user cannot be used.
 */
export async function scriptRunAs(own: ScriptUserName | undefined, scriptUser: ScriptUserName | undefined): Promise<ResolvedUser | string | undefined> {
  const named = own ?? scriptUser;
  if (named) return resolveUser(named.user, named.group);
  const fallback = await resolveUser(DEFAULT_SCRIPT_USER, undefined);
  return typeof fallback === 'string' ? undefined : fallback;
}

/**
 * The uid / gid to hand to spawn(): none when they are alived's own, so that
 * a non-root alived still runs scripts as itself (changing ids needs root).
 */
export function idsToSet(ids: ResolvedUser | undefined): { uid?: number; gid?: number } {
  if (!ids) return {};
  if (ids.uid === process.getuid?.() && ids.gid === process.getgid?.()) return {};
  return { uid: ids.uid, gid: ids.gid };
}
