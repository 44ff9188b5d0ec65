/**
 * The result contract of a checker, as the scheduler relies on it: `ok` a
 * boolean, `message` a string if any, `weight` a finite number if any. The
 * scheduler checks every result with it, and CheckerTester holds checkers
 * to it in their tests.
 */

/** What is wrong with a result, or undefined when it is well-formed. */
export function checkResultShape(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return `the result is ${r === null ? 'null' : typeof r}, not an object`;
  const o = r as Record<string, unknown>;
  if (typeof o.ok !== 'boolean') return `result.ok is ${typeof o.ok}, not a boolean`;
  if (o.message !== undefined && typeof o.message !== 'string') return `result.message is ${typeof o.message}, not a string`;
  if (o.weight !== undefined && (typeof o.weight !== 'number' || !Number.isFinite(o.weight)))
    return `result.weight is ${String(o.weight)}, not a finite number`;
  return undefined;
}
