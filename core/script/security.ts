import * as fs from 'node:fs/promises';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { isRedirectionOnly } from './run';
import { DEFAULT_SCRIPT_USER, idsToSet, resolveUser, type ResolvedUser, type ScriptUserName } from './user';

/**
 * keepalived's script security (lib/notify.c check_script_secure(),
 * check_security(), find_path()), done before a script runs:
 *
 * - a bare command name is found by a search of PATH, as the script's
 *   user would find it, and runs by its full path (with keepalived's
 *   "Please specify full path" warning);
 * - symbolic links are resolved, and the resolved path is what runs, so a
 *   link cannot be turned to another file between the check and the run;
 * - the file must be executable by the script's uid:gid;
 * - a script that runs as root (uid 0 or gid 0, or a setuid / setgid root
 *   file) is unsafe when the file or any directory on its path, from `/`
 *   down, could be changed by someone other than root: owned by a non-root
 *   user, group-writable with a non-root group, or world-writable (a
 *   directory with the sticky bit, such as /tmp, is not writable in that
 *   sense). With enable_script_security an unsafe script is refused; without
 *   it, it runs and the log says so, as keepalived does.
 *
 * A script that runs as a non-root user is not checked for safety: that
 * user cannot gain anything from it that it does not have.
 */

export interface ScriptIds {
  readonly uid: number;
  readonly gid: number;
}

export interface ScriptCheckOptions {
  /** global_defs' enable_script_security: refuse unsafe scripts instead of warning */
  readonly enforce: boolean;
  /** where a bare command name is searched; default alived's PATH, else /bin:/usr/bin (glibc's _CS_PATH) */
  readonly searchPath?: string;
}

/** Why a script may not run. `code` is errno-like, for callers that switch on it. */
export interface ScriptRefusal {
  readonly code: 'ENOENT' | 'EACCES' | 'ENOTDIR' | 'EINSECURE' | 'EUSER';
  /** in words an operator acts on, naming the offending path */
  readonly reason: string;
  /** the path at fault (the script, a directory on its path, or the command name) */
  readonly path: string;
}

/** A file or directory on a root script's path that a non-root user could change. */
export interface UnsafePath {
  readonly path: string;
  /** `is writable by every user (mode 0777)`, `is owned by uid 1000, not root`, ... */
  readonly why: string;
}

export interface ScriptCheck {
  /** the argv to run: argv[0] resolved (path search, symbolic links) as keepalived resolves it */
  readonly argv: readonly string[];
  /** set when the script may not run */
  readonly refused?: ScriptRefusal;
  /** the script runs as root and a non-root user could change it (refused too when enforce is set) */
  readonly unsafe?: UnsafePath;
  /** the full path a bare command name was found at by the PATH search */
  readonly searched?: string;
  /** the script runs with root's rights: its safety was checked */
  readonly asRoot: boolean;
  /** keepalived's `</path` test of a file: run by the shell, nothing to check */
  readonly redirectionOnly?: boolean;
}

/** glibc's default search path when PATH is not set (confstr(_CS_PATH)) */
const CS_PATH = '/bin:/usr/bin';

const octal = (mode: number): string => '0' + (mode & 0o7777).toString(8).padStart(3, '0');

/** keepalived's is_executable(): root needs any x bit; others the bit of their class */
export function isExecutableBy(st: Pick<Stats, 'mode' | 'uid' | 'gid'>, ids: ScriptIds): boolean {
  const m = st.mode;
  if (ids.uid === 0) return (m & 0o111) !== 0;
  if (ids.uid === st.uid) return (m & 0o100) !== 0;
  if (ids.gid === st.gid) return (m & 0o010) !== 0;
  return (m & 0o001) !== 0;
}

/** keepalived's need_script_protection: the script would run with root's rights */
function runsAsRoot(st: Stats, ids: ScriptIds): boolean {
  return (
    ids.uid === 0 ||
    ids.gid === 0 ||
    (st.uid === 0 && (st.mode & 0o100) !== 0 && (st.mode & 0o4000) !== 0) ||
    (st.gid === 0 && (st.mode & 0o010) !== 0 && (st.mode & 0o2000) !== 0)
  );
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'EIO';
}

/**
 * keepalived's find_path(): a bare name is looked up in each PATH entry; the
 * first regular file the script's ids may execute wins. A file found but not
 * executable is a permission failure, not "not found".
 */
async function searchPath(name: string, ids: ScriptIds, searchPathList: string): Promise<{ found: string } | ScriptRefusal> {
  let denied: string | undefined;
  for (const dir of searchPathList.split(':')) {
    const candidate = path.join(dir === '' ? '.' : dir, name);
    let st: Stats;
    try {
      st = await fs.stat(candidate);
    } catch {
      continue;
    }
    if (st.isFile() && isExecutableBy(st, ids)) return { found: candidate };
    denied ??= candidate;
  }
  if (denied) {
    return {
      code: 'EACCES',
      path: denied,
      reason: `permission denied: found ${denied} by a search of PATH, but it is not an executable file for uid:gid ${ids.uid}:${ids.gid} (EACCES)`,
    };
  }
  return { code: 'ENOENT', path: name, reason: `no such command in PATH (${searchPathList}) (ENOENT)` };
}

/** The directories from `/` down to the file's, then the file: what check_security() walks. */
function pathPrefixes(file: string): string[] {
  const parts = file.split('/').filter((p) => p !== '');
  const out = ['/'];
  for (let i = 0; i < parts.length; i++) out.push('/' + parts.slice(0, i + 1).join('/'));
  return out;
}

/**
 * keepalived's check_security() on one path: every prefix, not following
 * links, must be owned by root and not writable by a non-root group or by
 * everyone (a directory with the sticky bit excepted). The first offender
 * is returned; a prefix that is not a directory, or a last part that is not
 * a file or a link, refuses the script outright.
 */
async function unsafePart(file: string): Promise<UnsafePath | ScriptRefusal | undefined> {
  const prefixes = pathPrefixes(file);
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    const last = i === prefixes.length - 1;
    let st: Stats;
    try {
      st = await fs.lstat(p);
    } catch (err) {
      return { code: 'ENOENT', path: p, reason: `${p} cannot be examined (${errnoOf(err)})` };
    }
    if ((!last && !st.isDirectory()) || (last && !st.isFile() && !st.isSymbolicLink())) {
      // keepalived refuses these whether or not script security is enabled
      return { code: 'EACCES', path: p, reason: `wrong file type in the script's path: ${p} is not a ${last ? 'regular file' : 'directory'}` };
    }
    if (st.uid !== 0) return { path: p, why: `is owned by uid ${st.uid}, not root` };
    const writableKind = (st.isDirectory() && (st.mode & 0o1000) === 0) || st.isFile();
    if (writableKind && st.gid !== 0 && (st.mode & 0o020) !== 0) return { path: p, why: `is writable by group ${st.gid} (mode ${octal(st.mode)})` };
    if (writableKind && (st.mode & 0o002) !== 0) return { path: p, why: `is writable by every user (mode ${octal(st.mode)})` };
  }
  return undefined;
}

/** a non-root user must be able to search every directory on the path (keepalived resolves the path as that user) */
async function unsearchable(file: string, ids: ScriptIds): Promise<ScriptRefusal | undefined> {
  if (ids.uid === 0) return undefined;
  const prefixes = pathPrefixes(path.dirname(file));
  for (const p of prefixes) {
    let st: Stats;
    try {
      st = await fs.stat(p);
    } catch (err) {
      return { code: 'ENOENT', path: p, reason: `${p} cannot be examined (${errnoOf(err)})` };
    }
    if (!isExecutableBy(st, ids)) {
      return {
        code: 'EACCES',
        path: p,
        reason: `permission denied: ${p} is not searchable by uid:gid ${ids.uid}:${ids.gid} (mode ${octal(st.mode)}, owner ${st.uid}:${st.gid}) (EACCES)`,
      };
    }
  }
  return undefined;
}

function isRefusal(x: unknown): x is ScriptRefusal {
  return typeof x === 'object' && x !== null && 'code' in x;
}

/**
 * Checks a script before it runs as `ids`, as keepalived's
 * check_script_secure() does. Never throws. The returned argv is what to
 * run; `refused` says why nothing may run; `unsafe` alone (enforce off)
 * means it runs and the caller warns.
 */
export async function checkScript(argv: readonly string[], ids: ScriptIds, opts: ScriptCheckOptions): Promise<ScriptCheck> {
  const cmd = argv[0] ?? '';
  if (isRedirectionOnly(argv)) return { argv, asRoot: false, redirectionOnly: true };
  if (cmd === '') return { argv, asRoot: false, refused: { code: 'ENOENT', path: cmd, reason: 'the command is empty (ENOENT)' } };

  let given = cmd;
  let searched: string | undefined;
  if (!cmd.includes('/')) {
    const found = await searchPath(cmd, ids, opts.searchPath ?? process.env.PATH ?? CS_PATH);
    if (isRefusal(found)) return { argv, asRoot: false, refused: found };
    given = searched = found.found;
  }

  const denied = await unsearchable(path.resolve(given), ids);
  if (denied) return { argv, asRoot: false, refused: denied, searched };

  let real: string;
  try {
    real = await fs.realpath(given);
  } catch (err) {
    const code = errnoOf(err);
    const refused: ScriptRefusal =
      code === 'ENOENT'
        ? { code: 'ENOENT', path: given, reason: 'no such file (ENOENT)' }
        : code === 'ENOTDIR'
          ? { code: 'ENOTDIR', path: given, reason: 'a part of its path is not a directory (ENOTDIR)' }
          : { code: 'EACCES', path: given, reason: `cannot be accessed (${code})` };
    return { argv, asRoot: false, refused, searched };
  }

  // keepalived runs the resolved path, but keeps the name as written when
  // the resolved directory holds the same file under it: some programs act
  // on the name they are called by
  let runPath = real;
  let alsoCheck: string | undefined;
  if (path.basename(real) !== path.basename(given)) {
    const sameName = path.join(path.dirname(real), path.basename(given));
    try {
      const [a, b] = await Promise.all([fs.stat(real), fs.stat(sameName)]);
      if (a.dev === b.dev && a.ino === b.ino) {
        runPath = sameName;
        alsoCheck = real;
      }
    } catch {
      // no such name next to the real file: run the real file
    }
  }
  const runArgv = [runPath, ...argv.slice(1)];

  let st: Stats;
  try {
    st = await fs.stat(alsoCheck ?? runPath);
  } catch (err) {
    return { argv: runArgv, asRoot: false, refused: { code: 'ENOENT', path: runPath, reason: `cannot be examined (${errnoOf(err)})` }, searched };
  }
  if (!st.isFile()) {
    return { argv: runArgv, asRoot: false, refused: { code: 'EACCES', path: runPath, reason: 'not a regular file (EACCES)' }, searched };
  }
  if (!isExecutableBy(st, ids)) {
    return {
      argv: runArgv,
      asRoot: false,
      refused: {
        code: 'EACCES',
        path: runPath,
        reason: `not executable for uid:gid ${ids.uid}:${ids.gid} (mode ${octal(st.mode)}, owner ${st.uid}:${st.gid}) (EACCES)`,
      },
      searched,
    };
  }
  if (!runsAsRoot(st, ids)) return { argv: runArgv, asRoot: false, searched };

  for (const p of alsoCheck ? [runPath, alsoCheck] : [runPath]) {
    const bad = await unsafePart(p);
    if (!bad) continue;
    if (isRefusal(bad)) return { argv: runArgv, asRoot: true, refused: bad, searched };
    if (!opts.enforce) return { argv: runArgv, asRoot: true, unsafe: bad, searched };
    return {
      argv: runArgv,
      asRoot: true,
      unsafe: bad,
      searched,
      refused: { code: 'EINSECURE', path: bad.path, reason: `${bad.path} ${bad.why}, and the script would run as ${rootWords(st, ids)}` },
    };
  }
  return { argv: runArgv, asRoot: true, searched };
}

/** `root (uid 0)`, `group root (gid 0)`, `setuid root` */
export function rootWords(st: Pick<Stats, 'mode' | 'uid' | 'gid'>, ids: ScriptIds): string {
  if (ids.uid === 0) return 'root (uid 0)';
  if (ids.gid === 0) return `uid ${ids.uid} with group root (gid 0)`;
  if (st.uid === 0 && (st.mode & 0o4000) !== 0) return 'root (setuid root file)';
  return 'group root (setgid root file)';
}

/**
 * Who runs a script, with keepalived's default rule under script security
 * (get_default_script_user()): its own user, else script_user, else
 * keepalived_script when it exists; else alived's own user, except that
 * with enable_script_security keepalived refuses to fall back to root and
 * the script does not run. A string says why there is no user.
 */
export async function scriptIdentity(own: ScriptUserName | undefined, scriptUser: ScriptUserName | undefined, enforce: boolean): Promise<ScriptIds | string> {
  const named = own ?? scriptUser;
  if (named) return resolveUser(named.user, named.group);
  const fallback = await resolveUser(DEFAULT_SCRIPT_USER, undefined);
  if (typeof fallback !== 'string') return fallback;
  const self = processIds();
  if (enforce && (self.uid === 0 || self.gid === 0)) {
    return `no user to run it as: neither the script nor global_defs names one (script_user), the default user ${DEFAULT_SCRIPT_USER} does not exist, and with enable_script_security scripts do not fall back to root`;
  }
  return self;
}

export function processIds(): ScriptIds {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

export interface ScriptToPrepare {
  readonly argv: readonly string[];
  readonly user?: string | undefined;
  readonly group?: string | undefined;
}

export interface PrepareOptions {
  /** global_defs' script_user */
  readonly scriptUser?: ScriptUserName | undefined;
  /** global_defs' enable_script_security */
  readonly scriptSecurity: boolean;
  /** how the ids of a user are found; default scriptIdentity() (a caller may cache it) */
  readonly identity?: (own: ScriptUserName | undefined, scriptUser: ScriptUserName | undefined, enforce: boolean) => Promise<ScriptIds | string>;
  readonly searchPath?: string;
}

export interface PreparedScript {
  readonly ok: true;
  /** what to hand to ScriptRunner.run(): argv resolved, and the ids to change to (none when they are alived's own) */
  readonly argv: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  /** who it runs as */
  readonly ids: ScriptIds;
  /** log these as warnings (unsafe script run without enable_script_security; a bare name found by PATH search) */
  readonly warnings: readonly string[];
  readonly unsafe?: UnsafePath;
  readonly searched?: string;
  readonly asRoot: boolean;
}

export interface RefusedScript {
  readonly ok: false;
  readonly code: ScriptRefusal['code'];
  /** why it may not run, naming the path (log it with the script and what it is for) */
  readonly reason: string;
  readonly path: string;
}

/**
 * Everything between a configured script and ScriptRunner.run(): its user
 * (own, script_user, keepalived_script, alived's), then checkScript(). For
 * plugins that run scripts themselves (vrrp_script, MISC_CHECK):
 *
 * ```ts
 * const p = await prepareScript(config.script, { scriptUser, scriptSecurity });
 * if (!p.ok) return fail(`${p.reason}`);
 * for (const w of p.warnings) log.warn(w);
 * await runner.run({ argv: p.argv, uid: p.uid, gid: p.gid, timeoutMs, signal });
 * ```
 */
export async function prepareScript(script: ScriptToPrepare, opts: PrepareOptions): Promise<PreparedScript | RefusedScript> {
  const own = script.user !== undefined ? { user: script.user, group: script.group } : undefined;
  const ids = await (opts.identity ?? scriptIdentity)(own, opts.scriptUser, opts.scriptSecurity);
  if (typeof ids === 'string') return { ok: false, code: 'EUSER', reason: ids, path: script.argv[0] ?? '' };
  const c = await checkScript(script.argv, ids, { enforce: opts.scriptSecurity, searchPath: opts.searchPath });
  if (c.refused) return { ok: false, code: c.refused.code, reason: c.refused.reason, path: c.refused.path };
  const warnings: string[] = [];
  const name = c.argv[0];
  if (c.searched) warnings.push(`WARNING - script \`${script.argv[0]}\` resolved by path search to \`${c.searched}\`. Please specify full path.`);
  if (c.unsafe) {
    warnings.push(
      `Unsafe permissions found for script '${name}': ${c.unsafe.path} ${c.unsafe.why}; it runs as root all the same because enable_script_security is not set`,
    );
  }
  return {
    ok: true,
    argv: c.argv,
    ...idsToSet(ids as ResolvedUser),
    ids,
    warnings,
    unsafe: c.unsafe,
    searched: c.searched,
    asRoot: c.asRoot,
  };
}

/**
 * keepalived's summary when scripts run without enable_script_security
 * (`SECURITY VIOLATION - scripts are being executed but script_security not
 * enabled.`); `kind` is '' (VRRP), 'check ' or 'start/shutdown '.
 */
export function securityViolationMessage(kind: '' | 'check ' | 'start/shutdown ', insecure: boolean): string {
  return `SECURITY VIOLATION - ${kind}scripts are being executed but script_security not enabled.${insecure ? ' There are insecure scripts.' : ''}`;
}
