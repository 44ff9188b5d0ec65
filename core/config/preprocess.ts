import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlivedError, ERROR_CODES } from '../errors';
import type { Diagnostics, Pos } from './diagnostics';
import { expandBraces, globOne, hasWildcard } from './glob';
import { tokenize, type LexProblem, type Token } from './lexer';
import { clip } from './values';
import { Line, LineBuilder } from './line';
import { NEVER_PAUSE, runToEnd, type Slicer, type Steps } from './slicer';

/**
 * The preprocessor reads keepalived.conf the way keepalived's read_line() does:
 * comments, `@id` / `@^id` lines, `$NAME=value` definitions (multi-line with a
 * trailing `\`), `$NAME` / `${NAME}` substitution, `~SEQ(...)` / `~LST(...)`
 * sequences and `include` with its variants. It yields the logical lines as
 * tokens, each token still knowing its file, line and column.
 *
 * It runs in steps (slicer.ts): between lines, it pauses when its slicer
 * says so, so a daemon compiling a reload goes on answering.
 *
 * Every expansion is bounded, so no input makes it loop or exhaust memory,
 * and so is the work of all of them together (`work`): nested sequences and
 * definitions that make more definitions produce no line of config, yet can
 * cost minutes.
 */

export interface PreprocessLimits {
  /** nested include depth */
  includeDepth: number;
  /** nesting of expansions: a substitution or sequence whose output is expanded again */
  expansionDepth: number;
  /** logical lines produced in all */
  lines: number;
  /** length of one line after substitution */
  lineLength: number;
  /** files read in all, counting a file each time it is included */
  files: number;
  /**
   * work in all, in units: a unit per character read from a file or
   * produced by expansion; WORK_PER_LINE more per line that a ~SEQ / ~LST
   * repeats or a $NAME substitution produces (definitions and lines an `@id`
   * drops included: they cost as much and show up nowhere else) and per
   * parameter name defined; WORK_PER_REFERENCE per $NAME replaced;
   * WORK_PER_TOKEN per word of config kept
   */
  work: number;
}

/** the work a line made by expansion, or a new parameter name, costs beyond its characters */
export const WORK_PER_LINE = 256;
/** the work of replacing one $NAME beyond the characters it produces (each keeps its own position) */
export const WORK_PER_REFERENCE = 32;
/** the work of a word (token) of config a line makes: each is an object kept until the config is built */
export const WORK_PER_TOKEN = 16;

export const DEFAULT_LIMITS: PreprocessLimits = {
  includeDepth: 32,
  expansionDepth: 64,
  lines: 200_000,
  lineLength: 1 << 20,
  files: 1000,
  work: 32 << 20,
};

export interface PreprocessOptions {
  /** the id `@id` lines are compared with (keepalived's -i; default the short host name) */
  configId: string;
  diagnostics: Diagnostics;
  limits?: Partial<PreprocessLimits>;
  /** for `${_RANDOM}`; injectable so output can be repeatable */
  random?: () => number;
  /** the root file's text, when it is not to be read from disk (includes still are) */
  rootText?: string;
  /** when to pause (preprocessSteps); default never */
  slicer?: Slicer;
}

export interface PreprocessResult {
  lines: Token[][];
  /** every file read, in order (the root first) */
  files: string[];
  /** the work it took, in the units of PreprocessLimits.work */
  work: number;
}

interface Definition {
  /** body lines: one for a plain definition, any number for a multi-line one */
  body: Line[];
  multiline: boolean;
  /** computes the value at each use (the predefined `_RANDOM`, `_PWD`) */
  compute?: (params: number[], ctx: FileContext) => string;
}

interface IncludeChecks {
  readable: boolean;
  match: boolean;
  wildcardMatch: boolean;
  braceMatch: boolean;
}

const NO_CHECKS: IncludeChecks = { readable: false, match: false, wildcardMatch: false, braceMatch: false };

interface FileContext {
  file: string;
  dir: string;
  depth: number;
  checks: IncludeChecks;
}

class ExpansionLimit extends AlivedError {
  constructor() {
    super('ALIVED_CONFIG_EXPANSION_LIMIT', ERROR_CODES.ALIVED_CONFIG_EXPANSION_LIMIT);
  }
}

/** the largest config or include file read */
const MAX_FILE_BYTES = 16 << 20;

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function preprocess(rootFile: string, options: PreprocessOptions): PreprocessResult {
  return runToEnd(preprocessSteps(rootFile, options));
}

/** The preprocessor as steps that pause when options.slicer says so (run them with runInSlices). */
export function preprocessSteps(rootFile: string, options: PreprocessOptions): Steps<PreprocessResult> {
  return new Preprocessor(options).run(rootFile);
}

class Preprocessor {
  private readonly diags: Diagnostics;
  private readonly limits: PreprocessLimits;
  private readonly slicer: Slicer;
  private readonly defs = new Map<string, Definition>();
  private readonly out: Token[][] = [];
  private readonly files: string[] = [];
  private readonly active: string[] = [];
  private capture: { def: Definition; pos: Pos } | null = null;
  private outputLimitReported = false;
  private filesLimitReported = false;
  private work = 0;
  /** the work limit was reached: nothing more is read */
  private exhausted = false;
  /** the line of a file being expanded: where the work limit is reported */
  private origin: Pos = { file: '', line: 1, col: 1 };

  constructor(private readonly options: PreprocessOptions) {
    this.diags = options.diagnostics;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.slicer = options.slicer ?? NEVER_PAUSE;
    const random = options.random ?? Math.random;
    const fixed = (v: string): Definition => ({ body: [Line.pinned(v, { file: '<builtin>', line: 0, col: 0 })], multiline: false });
    this.defs.set('_PWD', { ...fixed(''), compute: (_p, ctx) => ctx.dir });
    this.defs.set('_INSTANCE', fixed(options.configId));
    this.defs.set('_HASH', fixed('#'));
    this.defs.set('_BANG', fixed('!'));
    this.defs.set('_RANDOM', {
      ...fixed(''),
      compute: (params) => {
        const min = params[0] ?? 0;
        const max = params[1] ?? 32767;
        const lo = Math.min(min, max);
        const hi = Math.max(min, max);
        return String(lo + Math.floor(random() * (hi - lo + 1)));
      },
    });
  }

  /** messages name files relative to the root config's directory */
  private rootDir = '/';

  *run(rootFile: string): Steps<PreprocessResult> {
    const abs = path.resolve(rootFile);
    this.rootDir = path.dirname(abs);
    this.origin = { file: abs, line: 1, col: 1 };
    try {
      yield* this.readFile(abs, undefined, 0, NO_CHECKS, this.options.rootText);
    } catch (err) {
      if (!(err instanceof ExpansionLimit)) throw err;
    }
    return { lines: this.out, files: this.files, work: this.work };
  }

  /** Counts `units` of work done for the line at `pos`; past the limit, reports it there once and stops the whole run. */
  private spend(units: number, pos: Pos = this.origin): void {
    this.work += units;
    if (this.work <= this.limits.work) return;
    if (!this.exhausted) {
      this.exhausted = true;
      this.diags.error(
        'ALIVED_CONFIG_EXPANSION_LIMIT',
        pos,
        `expansion goes past its limit of ${this.limits.work} units of work (the text read and made by ~SEQ, ~LST and $NAME; "Limits" in docs/config.md); nothing after this line is read`,
      );
    }
    throw new ExpansionLimit();
  }

  private readText(file: string, includedAt: Pos | undefined, checks: IncludeChecks): string | undefined {
    try {
      // only regular files, as keepalived: /dev/zero or /proc/self/* would never end
      const st = fs.statSync(file);
      if (st.isDirectory()) throw new Error('it is a directory');
      if (!st.isFile()) throw new Error('it is not a regular file');
      if (st.size > MAX_FILE_BYTES) throw new Error(`it is larger than ${MAX_FILE_BYTES >> 20} MiB`);
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      const pos = includedAt ?? { file, line: 1, col: 1 };
      const shown = includedAt ? clip(path.relative(this.rootDir, file) || file) : file;
      if (!includedAt || checks.readable) this.diags.error('ALIVED_CONFIG_FILE_UNREADABLE', pos, `cannot read '${shown}': ${reason}`);
      else this.diags.warning('ALIVED_CONFIG_FILE_UNREADABLE', pos, `included file '${shown}' cannot be read (${reason}); it is skipped`);
      return undefined;
    }
  }

  private *readFile(file: string, includedAt: Pos | undefined, depth: number, checks: IncludeChecks, given?: string): Steps<void> {
    let text: string;
    if (given !== undefined) {
      text = given;
    } else {
      const read = this.readText(file, includedAt, checks);
      if (read === undefined) return;
      text = read;
    }
    let real = file;
    try {
      real = fs.realpathSync(file);
    } catch {
      // keep the given path
    }
    if (this.active.includes(real)) {
      const rel = (f: string): string => clip(path.relative(this.rootDir, f) || f);
      this.diags.error(
        'ALIVED_CONFIG_INCLUDE_CYCLE',
        includedAt!,
        `include cycle: '${rel(file)}' is already being read (${this.active.map(rel).join(' -> ')})`,
      );
      return;
    }
    this.spend(text.length, includedAt ?? { file, line: 1, col: 1 });
    this.files.push(file);
    this.active.push(real);
    const ctx: FileContext = { file, dir: path.dirname(file), depth, checks: { ...checks } };
    const rawLines = text.split('\n');
    const outerOrigin = this.origin;
    for (let i = 0; i < rawLines.length; i++) {
      if (this.out.length >= this.limits.lines || this.exhausted) break;
      if (this.slicer.due()) yield;
      let raw = rawLines[i]!;
      if (raw.endsWith('\r')) raw = raw.slice(0, -1);
      const line = Line.fromFile(raw, file, i + 1);
      if (this.capture) {
        if (this.continueCapture(line)) continue;
      }
      const { line: clean } = this.decomment(line);
      if (clean.length === 0) continue;
      this.origin = clean.posAt(0);
      const mark = this.out.length;
      try {
        yield* this.processLine(clean, ctx, 0);
      } catch (err) {
        if (!(err instanceof ExpansionLimit)) throw err;
        // the line that went past a limit is refused whole: what it made so far would only
        // bury its error under the errors of a half-expanded line (millions of them)
        this.out.length = mark;
      }
    }
    if (this.capture) {
      // a multi-line definition may end with the file
      this.capture = null;
    }
    this.origin = outerOrigin;
    this.active.pop();
  }

  /** Adds a raw line to the multi-line definition being read; false when the definition has ended before it. */
  private continueCapture(raw: Line): boolean {
    const cap = this.capture!;
    if (raw.text.trim().length === 0) {
      this.capture = null;
      return true;
    }
    const { line, cont } = this.decomment(raw);
    let body = line;
    if (cont) {
      // drop the '\' and the blanks before it
      let end = body.length - 1;
      while (end > 0 && (body.text[end - 1] === ' ' || body.text[end - 1] === '\t')) end--;
      body = body.slice(0, end);
    } else {
      this.capture = null;
    }
    if (body.length > 0) cap.def.body.push(body);
    return true;
  }

  /**
   * keepalived's decomment(): strips leading and trailing blanks and the
   * comment (`#` or `!` outside double quotes), unescapes `\#` and `\!`, and
   * says whether the line ends in a continuation `\`.
   */
  private decomment(line: Line): { line: Line; cont: boolean } {
    const s = line.text;
    let start = 0;
    while (start < s.length && (s[start] === ' ' || s[start] === '\t')) start++;
    const b = new LineBuilder();
    let quote = false;
    let cont = false;
    let i = start;
    let copyFrom = start;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '"') {
        quote = !quote;
        continue;
      }
      if (c === '\\') {
        if (i + 1 < s.length) {
          if (!quote && (s[i + 1] === '#' || s[i + 1] === '!')) {
            b.append(line, copyFrom, i);
            copyFrom = i + 1;
          }
          i++;
          continue;
        }
        cont = true;
        break;
      }
      if (!quote && (c === '!' || c === '#')) break;
    }
    let end = i;
    b.append(line, copyFrom, end);
    let out = b.build();
    end = out.length;
    while (end > 0 && (out.text[end - 1] === ' ' || out.text[end - 1] === '\t')) end--;
    if (end !== out.length) out = out.slice(0, end);
    if (cont)
      out = new LineBuilder()
        .append(out)
        .appendPinned('\\', line.posAt(s.length - 1))
        .build();
    return { line: out, cont };
  }

  private *processLine(line: Line, ctx: FileContext, depth: number): Steps<void> {
    if (depth > this.limits.expansionDepth) {
      this.diags.error(
        'ALIVED_CONFIG_EXPANSION_LIMIT',
        line.posAt(0),
        `expansion nests deeper than ${this.limits.expansionDepth} levels (a definition that refers to itself?)`,
      );
      throw new ExpansionLimit();
    }
    if (line.length > this.limits.lineLength) {
      const why = depth === 0 ? 'is longer than' : 'grows by expansion beyond';
      this.diags.error('ALIVED_CONFIG_EXPANSION_LIMIT', line.posAt(0), `a line ${why} ${this.limits.lineLength} characters; it is skipped`);
      throw new ExpansionLimit();
    }
    // a line read from a file was paid for with its file
    if (depth > 0) this.spend(WORK_PER_LINE + line.length);
    let text = line.text;
    if (text.length === 0) return;

    if (text[0] === '@') {
      const rev = text[1] === '^';
      const from = rev ? 2 : 1;
      const m = /[ \t]/.exec(text.slice(from));
      if (!m) return; // nothing after the id: keepalived drops the line
      const id = text.slice(from, from + m.index);
      if ((id === this.options.configId) === rev) return;
      line = line.slice(from + m.index).trimStartLine();
      text = line.text;
      if (text.length === 0) return;
    }

    if (text[0] === '$' && this.tryDefinition(line)) return;

    if (text.startsWith('~SEQ') || text.startsWith('~LST')) {
      yield* this.expandSequence(line, ctx, depth);
      return;
    }

    if (text.includes('$') && text[0] !== '~') {
      const expanded = this.substitute(line, ctx);
      if (expanded) {
        for (const l of expanded) {
          const trimmed = l.trimStartLine();
          if (this.slicer.due()) yield;
          if (trimmed.length > 0) yield* this.processLine(trimmed, ctx, depth + 1);
        }
        return;
      }
    }

    const include = /^include([rmwba]?)[ \t]+(.*)$/.exec(text);
    if (include) {
      yield* this.include(line, include[1]!, include[2]!, ctx);
      return;
    }

    const problems: LexProblem[] = [];
    const tokens = tokenize(line, problems);
    for (const p of problems) this.diags.error(p.code, p.pos, p.message);
    if (tokens.length > 0) {
      if (tokens[0]!.text === 'include_check' && !tokens[0]!.quoted) this.setIncludeChecks(tokens, ctx);
      this.emit(tokens);
    }
  }

  private emit(tokens: Token[]): void {
    if (this.out.length >= this.limits.lines) {
      if (!this.outputLimitReported) {
        this.outputLimitReported = true;
        this.diags.error('ALIVED_CONFIG_EXPANSION_LIMIT', tokens[0]!.pos, `the config expands to more than ${this.limits.lines} lines`);
      }
      throw new ExpansionLimit();
    }
    this.spend(tokens.length * WORK_PER_TOKEN, tokens[0]!.pos);
    this.out.push(tokens);
  }

  private tryDefinition(line: Line): boolean {
    const text = line.text;
    if (!NAME_START.test(text[1] ?? '')) return false;
    let i = 2;
    while (i < text.length && NAME_CHAR.test(text[i]!)) i++;
    const name = text.slice(1, i);
    let j = i;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    if (text[j] !== '=') return false;
    j++;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    let value = line.slice(j);
    let multiline = false;
    if (value.text.endsWith('\\')) {
      multiline = true;
      let end = value.length - 1;
      while (end > 0 && (value.text[end - 1] === ' ' || value.text[end - 1] === '\t')) end--;
      value = value.slice(0, end);
    }
    const def: Definition = { body: multiline && value.length === 0 ? [] : [value], multiline };
    this.define(name, def);
    if (multiline) this.capture = { def, pos: line.posAt(0) };
    return true;
  }

  /** Sets a parameter; a name not seen before is work (it stays in memory to the end). */
  private define(name: string, def: Definition): void {
    if (!this.defs.has(name)) this.spend(WORK_PER_LINE + name.length);
    this.defs.set(name, def);
  }

  /**
   * Replaces every defined `$NAME` and `${NAME}`; returns the resulting lines
   * (several when a multi-line definition was used) or undefined when nothing
   * was replaced.
   */
  private substitute(line: Line, ctx: FileContext): Line[] | undefined {
    const s = line.text;
    const lines: Line[] = [];
    let b = new LineBuilder();
    let copyFrom = 0;
    let changed = false;
    let i = 0;
    while (i < s.length) {
      const dollar = s.indexOf('$', i);
      if (dollar < 0 || dollar === s.length - 1) break;
      const ref = this.parseReference(s, dollar);
      if (!ref) {
        i = dollar + 1;
        continue;
      }
      const def = this.defs.get(ref.name);
      if (!def) {
        if (ref.braced) {
          // keepalived keeps the text, whose braces then open and close blocks nobody meant
          this.diags.error('ALIVED_CONFIG_UNDEFINED_PARAMETER', line.posAt(dollar), `parameter \${${ref.name}} is not defined`);
          changed = true;
          b.append(line, copyFrom, dollar);
          copyFrom = ref.end;
        }
        i = ref.end;
        continue;
      }
      changed = true;
      this.spend(WORK_PER_REFERENCE);
      b.append(line, copyFrom, dollar);
      const pos = line.posAt(dollar);
      if (def.compute) {
        b.appendPinned(def.compute(ref.params, ctx), pos);
      } else if (!def.multiline) {
        b.appendPinned(def.body[0]?.text ?? '', pos);
      } else {
        if (ref.end < s.length && s.slice(ref.end).trim().length > 0) {
          this.diags.error('ALIVED_CONFIG_BAD_DEFINITION', pos, `multi-line definition $${ref.name} must be the last thing on its line`);
          return [];
        }
        const body = def.body;
        if (body.length > 0) b.append(body[0]!);
        for (let k = 1; k < body.length; k++) {
          lines.push(b.build());
          b = new LineBuilder().append(body[k]!);
        }
      }
      if (b.length > this.limits.lineLength) {
        this.diags.error('ALIVED_CONFIG_EXPANSION_LIMIT', pos, `a line grows beyond ${this.limits.lineLength} characters by expansion`);
        throw new ExpansionLimit();
      }
      copyFrom = ref.end;
      i = ref.end;
    }
    if (!changed) return undefined;
    b.append(line, copyFrom, s.length);
    lines.push(b.build());
    return lines;
  }

  private parseReference(s: string, dollar: number): { name: string; braced: boolean; params: number[]; end: number } | undefined {
    let i = dollar + 1;
    const braced = s[i] === '{';
    if (braced) i++;
    if (!NAME_START.test(s[i] ?? '')) return undefined;
    const start = i;
    while (i < s.length && NAME_CHAR.test(s[i]!)) i++;
    const name = s.slice(start, i);
    const params: number[] = [];
    if (braced) {
      const m = /^((?: +\d+)*)\}/.exec(s.slice(i));
      if (!m) return undefined;
      for (const p of m[1]!.trim().split(/ +/)) if (p) params.push(Number(p));
      i += m[0].length;
    } else if (i < s.length && !' \t,)'.includes(s[i]!)) {
      return undefined; // keepalived: a bare $NAME must end at a blank, ',' or ')'
    }
    return { name, braced, params, end: i };
  }

  private *expandSequence(line: Line, ctx: FileContext, depth: number): Steps<void> {
    const text = line.text;
    const close = findClosingParen(text, 4);
    const kind = text.slice(0, 4);
    if (close < 0) {
      this.diags.error('ALIVED_CONFIG_BAD_SEQUENCE', line.posAt(0), `invalid ${kind} specification: missing ')'`);
      return;
    }
    const rest = line.slice(close + 1).trimStartLine();
    let spec = text.slice(4, close + 1);
    // definitions may stand for the numbers of a ~SEQ
    if (spec.includes('$')) {
      const sub = this.substitute(Line.pinned(spec, line.posAt(4)), ctx);
      if (sub && sub.length === 1) spec = sub[0]!.text;
    }
    const sets = kind === '~SEQ' ? this.parseSeq(spec, line.posAt(0)) : this.parseLst(spec, line.posAt(0));
    if (!sets) return;
    if (rest.length === 0) {
      this.diags.warning('ALIVED_CONFIG_BAD_SEQUENCE', line.posAt(0), `${kind} is followed by nothing to repeat`);
      return;
    }
    for (const set of sets) {
      for (const [name, value] of set) this.define(name, { body: [Line.pinned(value, line.posAt(0))], multiline: false });
      if (this.slicer.due()) yield;
      yield* this.processLine(rest, ctx, depth + 1);
    }
  }

  private parseSeq(spec: string, pos: Pos): Array<Array<[string, string]>> | undefined {
    const m = /^(x?)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,([^)]*)\)$/.exec(spec);
    const bad = (why: string): undefined => {
      this.diags.error('ALIVED_CONFIG_BAD_SEQUENCE', pos, `invalid ~SEQ specification: ${why}`);
      return undefined;
    };
    if (!m) return bad('expected ~SEQ(var, [start,] [step,] end)');
    const hex = m[1] === 'x';
    const nums = m[3]!.split(',').map((t) => t.trim());
    if (nums.length < 1 || nums.length > 3 || nums.some((n) => !/^[+-]?(0x[0-9a-fA-F]+|\d+)$/.test(n))) {
      return bad(`'${m[3]!.trim()}' is not one to three integers`);
    }
    const v = nums.map((n) =>
      n.replace(/^[+-]/, '').startsWith('0x') ? Math.sign(n.startsWith('-') ? -1 : 1) * parseInt(n.replace(/^[+-]/, ''), 16) : parseInt(n, 10),
    );
    let start: number;
    let step: number;
    let end: number;
    if (v.length === 1) {
      end = v[0]!;
      step = end < 1 ? -1 : 1;
      start = end < 0 ? -1 : 1;
    } else if (v.length === 2) {
      start = v[0]!;
      end = v[1]!;
      step = start <= end ? 1 : -1;
    } else {
      start = v[0]!;
      step = v[1]!;
      end = v[2]!;
      if (step === 0 || (start < end && step < 0) || (start > end && step > 0)) return bad(`step ${step} never gets from ${start} to ${end}`);
    }
    if (hex && (start < 0 || end < 0)) return bad('~SEQx takes only positive numbers');
    const count = Math.floor((end - start) / step) + 1;
    if (!Number.isSafeInteger(count) || count > this.limits.lines) {
      this.diags.error('ALIVED_CONFIG_EXPANSION_LIMIT', pos, `~SEQ would repeat its line ${count} times (limit ${this.limits.lines})`);
      return undefined;
    }
    const name = m[2]!;
    const out: Array<Array<[string, string]>> = [];
    for (let k = 0, x = start; k < count; k++, x += step) out.push([[name, hex ? x.toString(16) : String(x)]]);
    return out;
  }

  private parseLst(spec: string, pos: Pos): Array<Array<[string, string]>> | undefined {
    const bad = (why: string): undefined => {
      this.diags.error('ALIVED_CONFIG_BAD_SEQUENCE', pos, `invalid ~LST specification: ${why}`);
      return undefined;
    };
    const inner = /^\s*\((.*)\)$/.exec(spec);
    if (!inner) return bad('expected ~LST(var, value, ...)');
    const items = splitTopLevel(inner[1]!);
    if (!items || items.length < 2) return bad('expected a variable and at least one value');
    const group = (item: string): string[] => {
      const t = item.trim();
      return t.startsWith('{') && t.endsWith('}')
        ? t
            .slice(1, -1)
            .split(',')
            .map((x) => x.trim())
        : [t];
    };
    const vars = group(items[0]!);
    if (vars.some((v) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v))) return bad(`'${items[0]!.trim()}' is not a variable name or {name, ...} list`);
    const out: Array<Array<[string, string]>> = [];
    for (const item of items.slice(1)) {
      const values = group(item);
      if (values.length > vars.length) return bad(`'${item.trim()}' has more values than there are variables`);
      out.push(vars.map((v, k): [string, string] => [v, values[k] ?? '']));
    }
    return out;
  }

  private *include(line: Line, variant: string, pattern: string, ctx: FileContext): Steps<void> {
    const pos = line.posAt(0);
    if (ctx.depth + 1 > this.limits.includeDepth) {
      this.diags.error('ALIVED_CONFIG_INCLUDE_DEPTH', pos, `includes nest deeper than ${this.limits.includeDepth} files`);
      return;
    }
    let target = pattern.trim();
    if ((target.startsWith('"') && target.endsWith('"')) || (target.startsWith("'") && target.endsWith("'"))) target = target.slice(1, -1);
    const checks: IncludeChecks = { ...ctx.checks };
    if (variant) checks.readable = true;
    if (variant === 'm') checks.match = true;
    if (variant === 'w') Object.assign(checks, { match: true, wildcardMatch: true });
    if (variant === 'b') checks.braceMatch = true;
    if (variant === 'a') Object.assign(checks, { match: true, wildcardMatch: true, braceMatch: true });
    const keyword = `include${variant}`;

    let patterns: string[];
    try {
      patterns = expandBraces(target);
    } catch (err) {
      this.diags.error('ALIVED_CONFIG_EXPANSION_LIMIT', pos, (err as Error).message);
      return;
    }
    const braced = patterns.length > 1;
    const matches: string[] = [];
    for (const p of patterns) {
      const found = globOne(p, ctx.dir);
      if (found.length === 0) {
        const wild = hasWildcard(p);
        const required = braced && checks.braceMatch ? true : wild ? checks.wildcardMatch : checks.match;
        const what = braced ? `brace alternative '${clip(p)}'` : `'${clip(p)}'`;
        if (required) this.diags.error('ALIVED_CONFIG_INCLUDE_MISSING', pos, `${keyword}: ${what} matches no file`);
        else this.diags.warning('ALIVED_CONFIG_INCLUDE_MISSING', pos, `${keyword}: ${what} matches no file; nothing is included from it`);
      }
      matches.push(...found);
    }
    for (const file of matches) {
      if (this.files.length >= this.limits.files) {
        if (!this.filesLimitReported) {
          this.filesLimitReported = true;
          this.diags.error('ALIVED_CONFIG_EXPANSION_LIMIT', pos, `includes read more than ${this.limits.files} files in all; the rest are not read`);
        }
        throw new ExpansionLimit();
      }
      yield* this.readFile(file, pos, ctx.depth + 1, checks);
    }
  }

  private setIncludeChecks(tokens: Token[], ctx: FileContext): void {
    const opts = tokens.slice(1).map((t) => t.text);
    const all = { readable: true, match: true, wildcardMatch: true, braceMatch: true };
    if (opts.length === 0) {
      ctx.checks = all;
      return;
    }
    const names: Record<string, keyof IncludeChecks> = {
      readable: 'readable',
      read: 'readable',
      match: 'match',
      wildcard_match: 'wildcardMatch',
      brace_match: 'braceMatch',
    };
    for (const o of opts) {
      const sign = o[0] === '-' ? false : true;
      const key = names[o.replace(/^[+-]/, '')];
      if (!key) continue; // the keyword schema reports the bad option
      ctx.checks[key] = sign;
      if (sign && key !== 'readable') ctx.checks.readable = true;
    }
  }
}

function findClosingParen(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Splits on commas outside `{...}`; undefined when braces do not balance. */
function splitTopLevel(s: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}') {
      depth--;
      if (depth < 0) return undefined;
    } else if (s[i] === ',' && depth === 0) {
      out.push(s.slice(from, i));
      from = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  out.push(s.slice(from));
  return out;
}
