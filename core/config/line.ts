import type { Pos } from './diagnostics';

/**
 * A piece of config text and, for every character, where it came from.
 *
 * A segment either follows its source character by character (text read from
 * a file) or pins every character to one position (text substituted for a
 * `$NAME` reference points at the reference).
 */
export interface Segment {
  /** index in the line's text where this segment starts */
  readonly at: number;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly pinned: boolean;
}

export class Line {
  constructor(
    readonly text: string,
    readonly segments: readonly Segment[],
  ) {}

  static fromFile(text: string, file: string, line: number): Line {
    return new Line(text, [{ at: 0, file, line, col: 1, pinned: false }]);
  }

  static pinned(text: string, pos: Pos): Line {
    return new Line(text, [{ at: 0, file: pos.file, line: pos.line, col: pos.col, pinned: true }]);
  }

  get length(): number {
    return this.text.length;
  }

  private segmentIndex(index: number): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.at <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  posAt(index: number): Pos {
    const s = this.segments[this.segmentIndex(index)]!;
    return { file: s.file, line: s.line, col: s.pinned ? s.col : s.col + Math.max(0, index - s.at) };
  }

  slice(from: number, to = this.text.length): Line {
    return new LineBuilder().append(this, from, to).build();
  }

  /** The line without its leading blanks. */
  trimStartLine(): Line {
    let i = 0;
    while (i < this.text.length && (this.text[i] === ' ' || this.text[i] === '\t')) i++;
    return i === 0 ? this : this.slice(i);
  }

  /** Copies [from, to) into `b`, segment by segment, keeping every position. */
  copyInto(b: LineBuilder, from: number, to: number): void {
    let i = from;
    let k = this.segmentIndex(from);
    while (i < to) {
      const seg = this.segments[k]!;
      const segEnd = k + 1 < this.segments.length ? this.segments[k + 1]!.at : this.text.length;
      const j = Math.min(segEnd, to);
      b.push(this.text.slice(i, j), this.posAt(i), seg.pinned);
      i = j;
      k++;
    }
  }
}

export class LineBuilder {
  private text = '';
  private readonly segs: Segment[] = [];

  append(line: Line, from = 0, to = line.length): this {
    if (to > from) line.copyInto(this, from, to);
    return this;
  }

  appendPinned(text: string, pos: Pos): this {
    if (text.length > 0) this.push(text, pos, true);
    return this;
  }

  push(text: string, pos: Pos, pinned: boolean): void {
    if (text.length === 0) return;
    const last = this.segs[this.segs.length - 1];
    const at = this.text.length;
    const continues =
      last !== undefined &&
      last.file === pos.file &&
      last.line === pos.line &&
      (pinned ? last.pinned && last.col === pos.col : !last.pinned && last.col + (at - last.at) === pos.col);
    if (!continues) this.segs.push({ at, file: pos.file, line: pos.line, col: pos.col, pinned });
    this.text += text;
  }

  get length(): number {
    return this.text.length;
  }

  build(): Line {
    return new Line(this.text, this.segs.length > 0 ? [...this.segs] : [{ at: 0, file: '', line: 0, col: 0, pinned: true }]);
  }
}
