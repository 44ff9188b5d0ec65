import { redactUrlSecrets } from '../log/url-secrets';

/**
 * Positions and diagnostics of the config compiler.
 *
 * Every token keeps the file, line and column it came from, through includes,
 * parameter expansion and sequences, so that every message can point at the
 * text the operator wrote.
 */

export interface Pos {
  readonly file: string;
  /** 1-based line */
  readonly line: number;
  /** 1-based column */
  readonly col: number;
}

export type Severity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  readonly severity: Severity;
  /** stable code, listed in core/errors.ts and docs/errors.md */
  readonly code: string;
  readonly message: string;
  readonly pos: Pos;
  /**
   * What keepalived runs, changing or dropping something without a word
   * (`nopreempt` with `state MASTER`, a value after a flag): a warning, and an
   * error under `--strict`.
   */
  readonly compat?: true;
}

const MAX_WORD = 160;
const MAX_MESSAGE = 600;

/**
 * Whatever a message quotes from the config, it stays readable: a run of
 * more than 160 characters without a blank (a pasted blob; paths stay whole)
 * is cut, control characters are shown as \xHH, and the whole message is kept
 * under 600 characters, and a secret in a URL it quotes is masked
 * (url-secrets.ts: a mistyped webhook URL's token). Callers clip what they
 * quote too; this holds for every caller, plugins included.
 */
export function boundMessage(message: string): string {
  let m = redactUrlSecrets(message).replace(/\S{161,}/g, (w) => `${w.slice(0, MAX_WORD - 3)}...`);
  // eslint-disable-next-line no-control-regex
  m = m.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return m.length > MAX_MESSAGE ? `${m.slice(0, MAX_MESSAGE - 3)}...` : m;
}

export function formatPos(pos: Pos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/** `FILE:LINE:COL: error: message` as compilers print it. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${formatPos(d.pos)}: ${d.severity}: ${d.message}`;
}

/**
 * Collects every diagnostic of a run; the compiler never stops at the first
 * error. A cap keeps a pathological input from producing millions of lines.
 */
export class Diagnostics {
  readonly list: Diagnostic[] = [];
  private errorCount = 0;
  private dropped = 0;
  private readonly seen = new Set<string>();

  /**
   * @param max most diagnostics kept
   * @param strict `--strict`: what keepalived would change silently (compat()) is an error
   */
  constructor(
    private readonly max = 1000,
    private readonly strict = false,
  ) {}

  /** Records a diagnostic; the same one at the same place (an include read twice) counts once. */
  report(severity: Severity, code: string, pos: Pos, message: string, compat?: true): void {
    if (this.list.length >= this.max) {
      // past the cap nothing is shown: count, without remembering (millions of stray braces stay cheap)
      if (severity === 'error') this.errorCount++;
      this.dropped++;
      return;
    }
    message = boundMessage(message);
    const key = `${pos.file}\0${pos.line}\0${pos.col}\0${severity}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (severity === 'error') this.errorCount++;
    this.list.push(compat ? { severity, code, message, pos, compat } : { severity, code, message, pos });
  }

  error(code: string, pos: Pos, message: string): void {
    this.report('error', code, pos, message);
  }

  warning(code: string, pos: Pos, message: string): void {
    this.report('warning', code, pos, message);
  }

  /**
   * Something keepalived runs but changes or drops without saying so: alived
   * does what keepalived does and says it in a warning (under --strict, an
   * error). The message says what happens.
   */
  compat(code: string, pos: Pos, message: string): void {
    if (this.strict) this.report('error', code, pos, `${message} [refused under --strict]`, true);
    else this.report('warning', code, pos, message, true);
  }

  note(code: string, pos: Pos, message: string): void {
    this.report('note', code, pos, message);
  }

  /** no more diagnostics are kept (they are still counted) */
  get full(): boolean {
    return this.list.length >= this.max;
  }

  get errors(): number {
    return this.errorCount;
  }

  get suppressed(): number {
    return this.dropped;
  }

  hasErrors(): boolean {
    return this.errorCount > 0;
  }

  /** Sorted by file order of appearance, then line and column. */
  sorted(): Diagnostic[] {
    const fileOrder = new Map<string, number>();
    for (const d of this.list) if (!fileOrder.has(d.pos.file)) fileOrder.set(d.pos.file, fileOrder.size);
    return [...this.list].sort((a, b) => fileOrder.get(a.pos.file)! - fileOrder.get(b.pos.file)! || a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  }
}
