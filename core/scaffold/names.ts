import { builtinModules } from 'node:module';

/**
 * The names `alived plugin init NAME` derives a project from: the npm
 * package name (npm's rules for a new package, as validate-npm-package-name
 * applies them), the folder it is written to, and the config keyword of
 * the checker or notifier.
 */

export type PluginKind = 'checker' | 'notifier';

/** A config keyword as alived's keyword registry accepts it, starting with a letter. */
export const KEYWORD_RE = /^[A-Za-z][A-Za-z0-9_]*$/;

const MAX_NAME_LENGTH = 214;

/** Why `name` cannot be the name of a new npm package, or undefined when it can. */
export function packageNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.trim() !== name) return 'it starts or ends with a space';
  if (name.length > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
  if (name.toLowerCase() !== name) return 'it has capital letters (npm names are lower case)';
  const scoped = /^@([^/]+)\/([^/]+)$/.exec(name);
  if (name.startsWith('@') && !scoped) return "a scoped name is '@scope/name'";
  const parts = scoped ? [scoped[1]!, scoped[2]!] : [name];
  for (const part of parts) {
    if (part.startsWith('.') || part.startsWith('_')) return `'${part}' starts with '${part[0]}'`;
    if (/[~'!()*]/.test(part)) return `'${part}' has one of ~'!()*`;
    if (encodeURIComponent(part) !== part) return `'${part}' has characters that are not URL-safe (letters, digits, '-', '.' and '_' are)`;
  }
  const bare = parts[parts.length - 1]!;
  if (bare === 'node_modules' || bare === 'favicon.ico') return `'${bare}' is a name npm refuses`;
  if (!scoped && (builtinModules.includes(name) || builtinModules.includes(`node:${name}`))) return `'${name}' is a Node.js core module`;
  if (!scoped && name === 'alived') return "'alived' is alived's own name";
  return undefined;
}

/** The folder a package is written to: the name, without its scope. */
export function folderOf(name: string): string {
  return name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
}

/**
 * The keyword a plugin named `name` registers: the name without its scope
 * and an `alived-` or `alived-plugin-` prefix, words joined by '_';
 * a checker's in capitals ending in _CHECK (`redis-probe` ->
 * REDIS_PROBE_CHECK, as TCP_CHECK), a notifier's in lower case without a
 * `notify-` prefix (`alived-notify-pager` -> pager, as webhook).
 */
export function keywordOf(name: string, kind: PluginKind): string {
  let base = folderOf(name).replace(/^alived-(plugin-)?/, '');
  if (kind === 'notifier') base = base.replace(/^notify-/, '').replace(/-notif(y|ier)$/, '');
  const words = base.split(/[^A-Za-z0-9]+/).filter(Boolean);
  if (kind === 'notifier') return words.join('_').toLowerCase();
  const upper = words.join('_').toUpperCase();
  return upper === 'CHECK' || upper.endsWith('_CHECK') ? upper : upper ? `${upper}_CHECK` : 'CHECK';
}
