import type { Pos } from './diagnostics';
import type { Line } from './line';

export interface Token {
  /** the word with its quotes removed; inside quotes `\"` and `\\` are unescaped */
  readonly text: string;
  readonly pos: Pos;
  /** the word was written (at least partly) inside quotes */
  readonly quoted: boolean;
}

export interface LexProblem {
  readonly pos: Pos;
  readonly code: 'ALIVED_CONFIG_UNTERMINATED_QUOTE' | 'ALIVED_CONFIG_BAD_ESCAPE';
  readonly message: string;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v';

/**
 * Splits one decommented logical line into words. `{` and `}` outside quotes
 * are words of their own wherever they stand, as keepalived reads them.
 */
export function tokenize(line: Line, problems: LexProblem[]): Token[] {
  const s = line.text;
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === '{' || c === '}') {
      out.push({ text: c, pos: line.posAt(i), quoted: false });
      i++;
      continue;
    }
    const start = i;
    let text = '';
    let quoted = false;
    while (i < s.length) {
      const ch = s[i]!;
      if (isSpace(ch) || ch === '{' || ch === '}') break;
      if (ch === '"' || ch === "'") {
        quoted = true;
        const q = ch;
        const qpos = i;
        i++;
        let closed = false;
        while (i < s.length) {
          const d = s[i]!;
          if (d === '\\' && i + 1 < s.length && (s[i + 1] === q || s[i + 1] === '\\')) {
            text += s[i + 1];
            i += 2;
            continue;
          }
          if (d === q) {
            closed = true;
            i++;
            break;
          }
          // up to the next quote or backslash in one slice (see below)
          let j = i + 1;
          while (j < s.length && s[j] !== q && s[j] !== '\\') j++;
          text += s.slice(i, j);
          i = j;
        }
        if (!closed) {
          problems.push({
            pos: line.posAt(qpos),
            code: 'ALIVED_CONFIG_UNTERMINATED_QUOTE',
            message: `missing terminating ${q} character`,
          });
        }
        continue;
      }
      if (ch === '\\' && i === s.length - 1) {
        problems.push({
          pos: line.posAt(i),
          code: 'ALIVED_CONFIG_BAD_ESCAPE',
          message: "a line may end in '\\' only inside a $NAME= definition",
        });
        i++;
        continue;
      }
      // the run of plain characters up to the next blank, brace, quote or final backslash, as one slice:
      // adding them one by one would build a string of one node per character (a word of a
      // thousand characters, repeated by ~SEQ, kept hundreds of megabytes alive)
      let j = i + 1;
      while (j < s.length) {
        const d = s[j]!;
        if (isSpace(d) || d === '{' || d === '}' || d === '"' || d === "'" || (d === '\\' && j === s.length - 1)) break;
        j++;
      }
      text = text.length === 0 ? s.slice(i, j) : text + s.slice(i, j);
      i = j;
    }
    out.push({ text, pos: line.posAt(start), quoted });
  }
  return out;
}

/**
 * Splits a command line the way keepalived splits a quoted script string:
 * whitespace separates words, quotes group, and backslash escapes
 * (\n \t \xHH \NNN \cX ...) are decoded.
 */
export function splitCommandLine(src: string): { argv: string[]; error?: string } {
  const argv: string[] = [];
  let i = 0;
  while (i < src.length) {
    while (i < src.length && isSpace(src[i]!)) i++;
    if (i >= src.length) break;
    let word = '';
    let quote: string | null = null;
    while (i < src.length) {
      const c = src[i]!;
      if (!quote && isSpace(c)) break;
      if (c === '\\') {
        i++;
        if (i >= src.length) return { argv, error: 'missing escaped character at the end' };
        const e = src[i]!;
        if (e === 'x' && /[0-9a-fA-F]/.test(src[i + 1] ?? '')) {
          let v = 0;
          i++;
          let n = 0;
          while (n < 2 && /[0-9a-fA-F]/.test(src[i] ?? '')) {
            v = v * 16 + parseInt(src[i]!, 16);
            i++;
            n++;
          }
          word += String.fromCharCode(v);
        } else if (e === 'c' && i + 1 < src.length) {
          word += String.fromCharCode(src.charCodeAt(i + 1) & 0x1f);
          i += 2;
        } else if (e >= '0' && e <= '7') {
          let v = 0;
          let n = 0;
          while (n < 3 && src[i] !== undefined && src[i]! >= '0' && src[i]! <= '7') {
            v = v * 8 + (src.charCodeAt(i) - 48);
            i++;
            n++;
          }
          word += String.fromCharCode(v & 0xff);
        } else {
          const map: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
          word += map[e] ?? e;
          i++;
        }
        continue;
      }
      if (quote) {
        if (c === quote) quote = null;
        else word += c;
        i++;
        continue;
      }
      if (c === '"' || c === "'") {
        quote = c;
        i++;
        continue;
      }
      word += c;
      i++;
    }
    if (quote) return { argv, error: `missing terminating ${quote} character` };
    argv.push(word);
  }
  return { argv };
}
