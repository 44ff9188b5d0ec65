/**
 * The number in a tracked file, read as keepalived 2.2.8 reads it
 * (track_file.c process_track_file()): the first 127 bytes through
 * strtol(buf, NULL, 0), so leading blanks and a sign are allowed, `0x`
 * starts hexadecimal and a leading 0 octal, and reading stops at the first
 * character that does not fit. An empty file, or one that does not start
 * with a number, is 0. A number beyond a 64-bit long (ERANGE), or outside
 * INT32_MIN .. INT32_MAX + 1 (keepalived's bound, one past INT32_MAX), is
 * invalid: keepalived logs "Invalid number ... - ignoring" and keeps the
 * value it had.
 */

/** keepalived reads this many bytes (a 128-byte buffer with its terminating NUL) */
export const READ_BYTES = 127;

const INT32_MIN = -2147483648n;
const INT32_MAX_PLUS_1 = 2147483648n;
const LONG_MAX = 9223372036854775807n;
const LONG_MIN = -9223372036854775808n;

/** C's isspace() in the C locale */
function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

/** strtol(s, NULL, 0) on a 64-bit long: the value, or 'range' where glibc sets ERANGE. */
export function strtol(s: string): bigint | 'range' {
  let i = 0;
  while (i < s.length && isSpace(s[i]!)) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  let base = 10;
  if (s[i] === '0') {
    if ((s[i + 1] === 'x' || s[i + 1] === 'X') && i + 2 < s.length && digitValue(s[i + 2]!) < 16) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  let v = 0n;
  const b = BigInt(base);
  for (; i < s.length; i++) {
    const d = digitValue(s[i]!);
    if (d >= base) break;
    v = v * b + BigInt(d);
  }
  if (negative) v = -v;
  if (v > LONG_MAX || v < LONG_MIN) return 'range';
  return v;
}

/** The number keepalived takes from a file's first bytes, or why it ignores them. */
export function parseTrackedNumber(text: string): { value: number } | { invalid: string } {
  const n = strtol(text);
  if (n === 'range') return { invalid: text.trim().slice(0, 40) };
  if (n < INT32_MIN || n > INT32_MAX_PLUS_1) return { invalid: n.toString() };
  return { value: Number(n) };
}
