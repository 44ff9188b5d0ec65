import type { Diagnostics, Pos } from './diagnostics';
import type { Token } from './lexer';
import { NEVER_PAUSE, runToEnd, type Slicer, type Steps } from './slicer';
import { clip } from './values';

/**
 * One statement of the config: a keyword, the words after it on its line,
 * and the block that follows it, if any. In a block of values (such as
 * virtual_ipaddress) each line is a statement whose `name` is its first word.
 */
export interface Stmt {
  readonly name: Token;
  readonly args: Token[];
  block?: Stmt[];
  /** where its `{` stands */
  blockOpen?: Pos;
  /** where its `}` stands */
  blockClose?: Pos;
}

export interface TreeOptions {
  /** deepest block nesting kept; deeper blocks are reported and dropped */
  maxDepth?: number;
}

interface Frame {
  owner: Stmt | undefined;
  stmts: Stmt[];
  /** statements here are kept (false past the depth limit or after an unexpected '{') */
  keep: boolean;
}

/**
 * Builds statements from logical lines. `{` may end the keyword's line or
 * start the next one, blocks may open and close on one line, and `}` may
 * share a line with the block's last entry, all as keepalived reads them.
 */
export function buildTree(lines: readonly Token[][], diags: Diagnostics, options: TreeOptions = {}): Stmt[] {
  return runToEnd(buildTreeSteps(lines, diags, options, NEVER_PAUSE));
}

/** buildTree in steps: it pauses between lines when `slicer` says so (slicer.ts). */
export function* buildTreeSteps(lines: readonly Token[][], diags: Diagnostics, options: TreeOptions, slicer: Slicer): Steps<Stmt[]> {
  const maxDepth = options.maxDepth ?? 32;
  const root: Frame = { owner: undefined, stmts: [], keep: true };
  const stack: Frame[] = [root];
  let depthReported = false;
  let lastOfPrevLine: Stmt | undefined;

  for (const line of lines) {
    if (slicer.due()) yield;
    let cur: Stmt | undefined;
    for (let i = 0; i < line.length; i++) {
      const t = line[i]!;
      const frame = stack[stack.length - 1]!;
      if (!t.quoted && t.text === '{') {
        const target = cur ?? (i === 0 ? lastOfPrevLine : undefined);
        const ok = target !== undefined && target.block === undefined;
        if (!ok) {
          diags.error('ALIVED_CONFIG_UNEXPECTED_OPEN', t.pos, "unexpected '{': no keyword before it takes a block");
        }
        let keep = frame.keep && ok;
        if (keep && stack.length > maxDepth) {
          keep = false;
          if (!depthReported) {
            depthReported = true;
            diags.error('ALIVED_CONFIG_NESTING_DEPTH', t.pos, `blocks nest deeper than ${maxDepth} levels`);
          }
        }
        const stmts: Stmt[] = [];
        if (keep) {
          target!.block = stmts;
          target!.blockOpen = t.pos;
        }
        stack.push({ owner: keep ? target : undefined, stmts, keep });
        cur = undefined;
        lastOfPrevLine = undefined;
        continue;
      }
      if (!t.quoted && t.text === '}') {
        if (stack.length === 1) {
          diags.error('ALIVED_CONFIG_EXTRA_CLOSE', t.pos, "extra '}': no block is open here");
        } else {
          const closed = stack.pop()!;
          if (closed.owner) closed.owner.blockClose = t.pos;
        }
        cur = undefined;
        continue;
      }
      if (cur === undefined) {
        cur = { name: t, args: [] };
        if (frame.keep) frame.stmts.push(cur);
      } else {
        cur.args.push(t);
      }
    }
    lastOfPrevLine = cur;
  }

  // unclosed blocks, innermost first; frames we did not keep (too deep) are reported once, by their nearest kept opener
  let reportedDropped = false;
  for (let k = stack.length - 1; k > 0; k--) {
    const owner = stack[k]!.owner;
    if (owner?.blockOpen) {
      diags.error('ALIVED_CONFIG_UNCLOSED_BLOCK', owner.blockOpen, `unclosed block: the '{' of '${describeStmt(owner)}' has no matching '}'`);
    } else if (!reportedDropped) {
      reportedDropped = true;
      let outer: Stmt | undefined;
      for (let j = k - 1; j > 0 && !outer; j--) if (stack[j]!.owner?.blockOpen) outer = stack[j]!.owner;
      if (outer) diags.error('ALIVED_CONFIG_UNCLOSED_BLOCK', outer.blockOpen!, `unclosed block inside '${describeStmt(outer)}'`);
    }
  }
  return root.stmts;
}

export function describeStmt(s: Stmt): string {
  const head = [s.name.text, ...s.args.slice(0, 3).map((a) => a.text)].map(clip).join(' ');
  return s.args.length > 3 ? head + ' ...' : head;
}

/** The last statement `keyword` inside a block statement (the one that counts), to point messages at it. */
export function childStmt(stmt: Stmt, keyword: string): Stmt | undefined {
  let found: Stmt | undefined;
  for (const c of stmt.block ?? []) if (!c.name.quoted && c.name.text === keyword) found = c;
  return found;
}

/**
 * Where the statement `keyword` stands in the block of `stmt` (its last
 * occurrence), to point a message at it: its argument number `arg` when
 * that is asked for and present, else the keyword itself; `fallback` (by
 * default the block's own keyword) when the block has no such statement.
 */
export function keywordPos(stmt: Stmt, keyword: string, fallback?: Pos, arg?: number): Pos;
export function keywordPos(stmt: Stmt | undefined, keyword: string, fallback: Pos, arg?: number): Pos;
export function keywordPos(stmt: Stmt | undefined, keyword: string, fallback?: Pos, arg?: number): Pos {
  const c = stmt ? childStmt(stmt, keyword) : undefined;
  return (arg === undefined ? undefined : c?.args[arg]?.pos) ?? c?.name.pos ?? fallback ?? stmt!.name.pos;
}
