import * as fs from 'node:fs';
import * as path from 'node:path';
import { clip } from './values';

/**
 * The file matching keepalived gets from glob(3) with GLOB_BRACE: csh-style
 * `{a,b}` braces (nested), then `*`, `?` and `[...]` per path component.
 * Matches of one pattern come sorted, as glob(3) sorts them.
 */

const MAX_BRACE_EXPANSIONS = 4096;

/** Expands `{a,b{c,d}}`; a brace with no comma at its level is literal, as in csh. */
export function expandBraces(pattern: string, limit = MAX_BRACE_EXPANSIONS): string[] {
  const open = findBraceGroup(pattern);
  if (!open) return [pattern];
  const { start, end, alternatives } = open;
  const head = pattern.slice(0, start);
  const tail = pattern.slice(end + 1);
  const out: string[] = [];
  for (const alt of alternatives) {
    for (const rest of expandBraces(head + alt + tail, limit)) {
      out.push(rest);
      if (out.length > limit) throw new RangeError(`brace expansion of '${clip(pattern)}' yields more than ${limit} patterns`);
    }
  }
  return out;
}

function findBraceGroup(p: string): { start: number; end: number; alternatives: string[] } | undefined {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\') {
      i++;
      continue;
    }
    if (p[i] !== '{') continue;
    let depth = 0;
    const commas: number[] = [];
    for (let j = i; j < p.length; j++) {
      const c = p[j];
      if (c === '\\') {
        j++;
        continue;
      }
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (depth === 0) {
          if (commas.length === 0) break; // literal braces: look for a later group
          const alternatives: string[] = [];
          let from = i + 1;
          for (const c2 of commas) {
            alternatives.push(p.slice(from, c2));
            from = c2 + 1;
          }
          alternatives.push(p.slice(from, j));
          return { start: i, end: j, alternatives };
        }
      } else if (c === ',' && depth === 1) commas.push(j);
    }
  }
  return undefined;
}

export function hasWildcard(pattern: string): boolean {
  return /(^|[^\\])[*?[]/.test(pattern);
}

function componentRegExp(component: string): RegExp {
  let re = '^';
  for (let i = 0; i < component.length; i++) {
    const c = component[i]!;
    if (c === '\\' && i + 1 < component.length) {
      re += escapeRe(component[++i]!);
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = component.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = component.slice(i + 1, close);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = close;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Matches one brace-free pattern against the file system; absolute result paths, sorted. */
export function globOne(pattern: string, cwd: string): string[] {
  const abs = path.resolve(cwd, pattern);
  if (!hasWildcard(pattern)) return fs.existsSync(abs) ? [abs] : [];
  const parts = abs.split('/').filter((p) => p.length > 0);
  let current = ['/'];
  for (let idx = 0; idx < parts.length; idx++) {
    const part = parts[idx]!;
    const next: string[] = [];
    if (!hasWildcard(part)) {
      const lit = part.replace(/\\(.)/g, '$1');
      for (const dir of current) {
        const p = path.join(dir, lit);
        if (idx === parts.length - 1 ? fs.existsSync(p) : isDir(p)) next.push(p);
      }
    } else {
      let re: RegExp;
      try {
        re = componentRegExp(part);
      } catch {
        // a bracket expression the RegExp engine refuses ([z-a]) matches nothing, as glob(3) would
        return [];
      }
      for (const dir of current) {
        let names: string[];
        try {
          names = fs.readdirSync(dir);
        } catch {
          continue;
        }
        for (const name of names.sort()) {
          if (name.startsWith('.') && !part.startsWith('.')) continue;
          if (!re.test(name)) continue;
          const p = path.join(dir, name);
          if (idx === parts.length - 1 || isDir(p)) next.push(p);
        }
      }
    }
    current = next;
    if (current.length === 0) break;
  }
  return current;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
