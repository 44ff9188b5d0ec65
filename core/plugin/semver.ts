/**
 * Just enough of semver for a plugin's `alived` range: comparators
 * (>=, >, <=, <, =), caret and tilde ranges, x wildcards, spaces for AND
 * and `||` for OR. Pre-release tags are compared as plain strings.
 */

type Version = [number, number, number];

function parse(v: string): Version | undefined {
  const m = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:-[0-9A-Za-z.-]+)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = (s: string | undefined): number => (s === undefined || s === 'x' || s === '*' ? 0 : Number(s));
  return [n(m[1]), n(m[2]), n(m[3])];
}

function cmp(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

function partsGiven(v: string): number {
  return v
    .replace(/^v/, '')
    .split('-')[0]!
    .split('.')
    .filter((p) => p !== 'x' && p !== '*').length;
}

function comparator(version: Version, c: string): boolean {
  if (c === '*' || c === '' || c === 'x') return true;
  const m = /^(>=|<=|>|<|=|\^|~)?\s*(.+)$/.exec(c);
  if (!m) return false;
  const op = m[1] ?? '';
  const v = parse(m[2]!);
  if (!v) return false;
  const given = partsGiven(m[2]!);
  switch (op) {
    case '>=':
      return cmp(version, v) >= 0;
    case '>':
      return cmp(version, v) > 0;
    case '<=':
      return cmp(version, v) <= 0;
    case '<':
      return cmp(version, v) < 0;
    case '^': {
      const upper: Version = v[0] > 0 ? [v[0] + 1, 0, 0] : v[1] > 0 || given < 3 ? [0, v[1] + 1, 0] : [0, 0, v[2] + 1];
      if (v[0] === 0 && given === 1) upper.splice(0, 3, 1, 0, 0);
      return cmp(version, v) >= 0 && cmp(version, upper) < 0;
    }
    case '~': {
      const upper: Version = given >= 2 ? [v[0], v[1] + 1, 0] : [v[0] + 1, 0, 0];
      return cmp(version, v) >= 0 && cmp(version, upper) < 0;
    }
    default: {
      // a bare version with wildcards matches the whole range it names
      if (given === 3) return cmp(version, v) === 0;
      if (given === 2) return version[0] === v[0] && version[1] === v[1];
      if (given === 1) return version[0] === v[0];
      return true;
    }
  }
}

/** Whether `version` is in `range`; an unparsable range matches nothing. */
export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  if (!v) return false;
  return range.split('||').some((alt) => {
    const comps = alt
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean);
    return comps.length === 0 || comps.every((c) => comparator(v, c));
  });
}
