import type { Diagnostics, Pos } from './diagnostics';
import type { Token } from './lexer';
import { NEVER_PAUSE, runToEnd, type Slicer, type Steps } from './slicer';
import type { Stmt } from './tree';
import { describeStmt } from './tree';
import { obsoleteKeyword } from './keywords/obsolete';
import { clip, INVALID, nearest, one, type ArgsParser, type Invalid, type WordParser } from './values';

/**
 * Keyword schemas. Core and plugins declare each keyword once: what it takes,
 * whether it is required or repeatable, its default, the feature of alived
 * that acts on it, and extra validation. The TypeScript type of the model is
 * inferred from the declaration, so `block({ virtual_router_id: ... })`
 * yields `{ virtualRouterId: number }`.
 *
 * Blocks parse in steps (slicer.ts): between statements they pause when the
 * compile's slicer says so. A keyword or block that overrides parse() or
 * parseBlock() (a plugin's subclass) is parsed in one piece.
 */

// ---------------------------------------------------------------------------
// context

export interface HostFacts {
  /** undefined when the host cannot tell */
  interfaceExists(name: string): boolean | undefined;
  fileExists(path: string): boolean | undefined;
  /** whether the interface can multicast (IFF_MULTICAST); undefined when the host cannot tell */
  interfaceMulticast?(name: string): boolean | undefined;
}

export interface CheckCtx {
  readonly diags: Diagnostics;
  readonly host: HostFacts;
  /** keywords registered into extension slots (by plugins) */
  readonly slots: SlotLookup;
  /** declares that an object of `kind` named `name` exists */
  define(kind: string, name: string, pos: Pos, keepalived?: DefineAsKeepalived): void;
  /** records a use of a name that must be defined by the end of the config */
  refer(kind: string, name: string, pos: Pos, usedBy: string): void;
  /** a keyword that feature `feature` acts on was used */
  useFeature(feature: string, keyword: string, pos: Pos): void;
}

/** How keepalived treats a kind of named block, where it differs from "defined once, anywhere". */
export interface DefineAsKeepalived {
  /** keepalived keeps every block of one name and uses the first (vrrp_script): a later one is a warning */
  firstWins?: boolean;
  /**
   * keepalived looks a reference up while it reads it (track_script in 2.2):
   * a block defined further down is not found there and the reference is
   * dropped. alived follows it, with a warning.
   */
  resolvedWhileParsing?: boolean;
}

export interface SlotLookup {
  get(slot: string, keyword: string): AnyKeyword | undefined;
  names(slot: string): string[];
  /** the checks plugins added to a slot's blocks, with the plugin that added each */
  checks?(slot: string): ReadonlyArray<{ check: SlotCheck; owner: string }>;
}

/**
 * A plugin's check of a block it adds keywords to (notify-mail's SMTP AUTH
 * without TLS in global_defs): it reports diagnostics through ctx.diags.
 * `block` is the parsed block; the plugin's keywords are in `extensions`.
 */
export type SlotCheck = (block: BlockBase & Record<string, unknown>, ctx: CheckCtx, stmt: Stmt) => void;

/** "this virtual_server", "the top level" */
function inBlock(keyword: string): string {
  return keyword === ROOT_BLOCK ? keyword : `this ${keyword}`;
}

/** the name the compiler gives the file's top level, in messages */
export const ROOT_BLOCK = 'the top level';

// ---------------------------------------------------------------------------
// keywords

export interface KeywordMeta {
  required: boolean;
  repeatable: boolean;
  hasDefault: boolean;
  defaultValue: unknown;
  /** the part of alived that acts on this keyword; undefined: inherits the block's */
  feature: string | undefined;
  aliases: Array<{ name: string; deprecated: boolean; note?: string }>;
  deprecated: { note: string } | undefined;
  doc: string | undefined;
  /** a second occurrence is an error, the first counts (else: a warning, the later counts) */
  once?: boolean;
}

type Shape =
  | { kind: 'value'; args: ArgsParser<unknown> }
  | { kind: 'lines'; entry: ArgsParser<unknown>; allowEmpty: boolean }
  | { kind: 'block'; schema: BlockSchema<any> };

type Validator<T> = (value: T, ctx: CheckCtx, stmt: Stmt) => void;

/**
 * A keyword's declaration. `T` is the value one occurrence gives; `Out` is the
 * model's type for it (`T | undefined`, `T` when required or defaulted, `T[]`
 * when repeatable).
 */
export class Keyword<T, Out = T | undefined> {
  /** @internal phantom, keeps Out in the type */
  declare readonly __out: Out;

  constructor(
    readonly shape: Shape,
    readonly meta: KeywordMeta,
    readonly validators: ReadonlyArray<Validator<T>> = [],
  ) {}

  private with<O2>(meta: Partial<KeywordMeta>, validators = this.validators): Keyword<T, O2> {
    return new Keyword<T, O2>(this.shape, { ...this.meta, ...meta }, validators);
  }

  required(): Keyword<T, T> {
    return this.with<T>({ required: true });
  }

  default(value: T): Keyword<T, T> {
    return this.with<T>({ hasDefault: true, defaultValue: value });
  }

  /** may appear many times; the model gets every occurrence, in order */
  repeatable(): Keyword<T, T[]> {
    return this.with<T[]>({ repeatable: true });
  }

  /** may be given once: a second occurrence is an error and the first counts, as keepalived does for `state` */
  once(): Keyword<T, Out> {
    return this.with<Out>({ once: true });
  }

  /** another spelling of the same keyword */
  alias(name: string, opts: { deprecated?: boolean; note?: string } = {}): Keyword<T, Out> {
    return this.with<Out>({ aliases: [...this.meta.aliases, { name, deprecated: opts.deprecated ?? false, note: opts.note }] });
  }

  deprecated(note: string): Keyword<T, Out> {
    return this.with<Out>({ deprecated: { note } });
  }

  feature(feature: string): Keyword<T, Out> {
    return this.with<Out>({ feature });
  }

  doc(doc: string): Keyword<T, Out> {
    return this.with<Out>({ doc });
  }

  validate(fn: Validator<T>): Keyword<T, Out> {
    return this.with<Out>({}, [...this.validators, fn]);
  }

  /** Parses one occurrence. */
  parse(stmt: Stmt, keyword: string, ctx: CheckCtx, inheritedFeature: string | undefined): T | Invalid {
    const feature = this.useFeature(stmt, keyword, ctx, inheritedFeature);
    // a one-line keyword has nothing to pause in: no steps to run
    const value =
      this.shape.kind === 'value'
        ? parseValue(this.shape, stmt, keyword, ctx)
        : runToEnd(parseShapeSteps(this.shape, stmt, keyword, ctx, feature, NEVER_PAUSE));
    return this.validated(value as T | Invalid, ctx, stmt);
  }

  /** parse() in steps, pausing inside a block or a block of lines when `slicer` says so. */
  *parseSteps(stmt: Stmt, keyword: string, ctx: CheckCtx, inheritedFeature: string | undefined, slicer: Slicer): Steps<T | Invalid> {
    const feature = this.useFeature(stmt, keyword, ctx, inheritedFeature);
    const value = yield* parseShapeSteps(this.shape, stmt, keyword, ctx, feature, slicer);
    return this.validated(value as T | Invalid, ctx, stmt);
  }

  private useFeature(stmt: Stmt, keyword: string, ctx: CheckCtx, inheritedFeature: string | undefined): string | undefined {
    const feature = this.meta.feature ?? inheritedFeature;
    if (feature) ctx.useFeature(feature, keyword, stmt.name.pos);
    return feature;
  }

  private validated(value: T | Invalid, ctx: CheckCtx, stmt: Stmt): T | Invalid {
    if (value !== INVALID) for (const v of this.validators) v(value, ctx, stmt);
    return value;
  }

  describe(keyword: string): string {
    switch (this.shape.kind) {
      case 'value':
        return `${keyword} ${this.shape.args.describe}`.trim();
      case 'lines':
        return `${keyword} { ${this.shape.entry.describe} ... }`;
      case 'block':
        return `${keyword} ${this.shape.schema.header ? this.shape.schema.header.describe + ' ' : ''}{ ... }`;
    }
  }
}

export type AnyKeyword = Keyword<any, any>;

const baseMeta = (): KeywordMeta => ({
  required: false,
  repeatable: false,
  hasDefault: false,
  defaultValue: undefined,
  feature: undefined,
  aliases: [],
  deprecated: undefined,
  doc: undefined,
});

/** A keyword on one line: `priority 100`. */
export function value<T>(args: ArgsParser<T>): Keyword<T> {
  return new Keyword<T>({ kind: 'value', args }, baseMeta());
}

/** Shorthand for a one-word keyword. */
export function word<T>(w: WordParser<T>): Keyword<T> {
  return value(one(w));
}

/** A block whose every line is one entry: `virtual_ipaddress { 10.0.0.1/24 dev eth0 }`. */
export function lines<E>(entry: ArgsParser<E>, opts: { allowEmpty?: boolean } = {}): Keyword<E[]> {
  return new Keyword<E[]>({ kind: 'lines', entry, allowEmpty: opts.allowEmpty ?? true }, baseMeta());
}

/** A block of keywords: `authentication { auth_type PASS }`. */
export function sub<S extends BlockSchema<any>>(schema: S): Keyword<BlockOf<S>> {
  return new Keyword<BlockOf<S>>({ kind: 'block', schema }, baseMeta());
}

// ---------------------------------------------------------------------------
// blocks

type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

export type Fields = Record<string, AnyKeyword>;

type FieldsOut<F extends Fields> = { -readonly [K in keyof F & string as Camel<K>]: F[K]['__out'] };

export interface ExtensionValue {
  /** the keyword as written, e.g. TCP_CHECK */
  readonly keyword: string;
  readonly pos: Pos;
  readonly value: unknown;
}

export interface BlockBase {
  /** where the block's keyword stands */
  readonly pos: Pos;
  /** blocks and keywords registered by plugins into this block's slot, in order */
  readonly extensions: ExtensionValue[];
}

export type BlockOf<S> = S extends BlockSchema<infer O> ? O : never;

export interface BlockOptions<H> {
  /** words after the keyword, before `{`: a name, an address and port */
  header?: ArgsParser<H>;
  /** plugins can register keywords here (checkers in real_server, blocks at the top level) */
  slot?: string;
  /** the feature that acts on the keywords of this block, unless one says otherwise */
  feature?: string;
  /** when the block may also be written without `{ }` */
  blockOptional?: boolean;
  /** a name defined by this block, for references: `{ kind: 'vrrp_script', name: v => v.name }` */
  defines?: { kind: string; name: (value: any) => string | undefined; keepalived?: DefineAsKeepalived };
  /** cross-keyword checks, after the block's keywords are parsed */
  check?: (value: any, ctx: CheckCtx, stmt: Stmt) => void;
  /**
   * run `check` even when some keywords are invalid, on the valid ones (an
   * invalid keyword is absent, an invalid entry of a repeatable one left out);
   * for checks that compare many blocks, so their errors come with the others
   */
  checkPartial?: boolean;
}

export class BlockSchema<Out> {
  /** @internal phantom */
  declare readonly __out: Out;
  private readonly lookup = new Map<string, { field: string; alias?: { deprecated: boolean; note?: string } }>();
  /** [keyword, model key, declaration], computed once: parseBlock runs for every block of a config */
  private readonly entries: ReadonlyArray<readonly [string, string, AnyKeyword]>;

  constructor(
    readonly fields: Fields,
    readonly options: BlockOptions<any>,
  ) {
    this.entries = Object.entries(fields).map(([k, kw]) => [k, camel(k), kw] as const);
    for (const [k, kw] of Object.entries(fields)) {
      this.lookup.set(k, { field: k });
      for (const a of kw.meta.aliases) this.lookup.set(a.name, { field: k, alias: { deprecated: a.deprecated, note: a.note } });
    }
  }

  /** per keyword registry (the plugins of one compile), the hints given so far */
  private readonly hints = new WeakMap<SlotLookup, Map<string, string | undefined>>();

  /** "did you mean": the nearest keyword of this block or its slot, remembered per word */
  private hintFor(name: string, ctx: CheckCtx): string | undefined {
    let memo = this.hints.get(ctx.slots);
    if (!memo) this.hints.set(ctx.slots, (memo = new Map()));
    if (memo.has(name)) return memo.get(name);
    const hint = nearest(name, [...this.keywordNames(), ...(this.options.slot ? ctx.slots.names(this.options.slot) : [])]);
    if (memo.size < 10_000) memo.set(name, hint);
    return hint;
  }

  private keyOf(field: string): string {
    for (const e of this.entries) if (e[0] === field) return e[1];
    return camel(field);
  }

  get header(): ArgsParser<unknown> | undefined {
    return this.options.header;
  }

  /** every spelling this block knows, aliases included */
  keywordNames(): string[] {
    return [...this.lookup.keys()];
  }

  resolve(name: string): { field: string; keyword: AnyKeyword; alias?: { deprecated: boolean; note?: string } } | undefined {
    const hit = this.lookup.get(name);
    return hit ? { field: hit.field, keyword: this.fields[hit.field]!, alias: hit.alias } : undefined;
  }

  /** Parses a block statement: header words, then every line of its block. */
  parseBlock(stmt: Stmt, keyword: string, ctx: CheckCtx, inheritedFeature: string | undefined): Out | Invalid {
    return runToEnd(this.parseBlockSteps(stmt, keyword, ctx, inheritedFeature, NEVER_PAUSE));
  }

  /** parseBlock() in steps, pausing between the statements of the block (and of the blocks in it) when `slicer` says so. */
  *parseBlockSteps(stmt: Stmt, keyword: string, ctx: CheckCtx, inheritedFeature: string | undefined, slicer: Slicer): Steps<Out | Invalid> {
    const feature = this.options.feature ?? inheritedFeature;
    let ok = true;
    const out: Record<string, unknown> = { pos: stmt.name.pos, extensions: [] as ExtensionValue[] };
    if (!stmt.block && !this.options.blockOptional) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_BLOCK', stmt.name.pos, `'${describeStmt(stmt)}' needs a { } block`);
      return INVALID;
    }
    if (this.options.header) {
      const h = this.options.header.parse(stmt.args, stmt.name.pos, keyword, ctx);
      if (h === INVALID) ok = false;
      else Object.assign(out, h);
      // define the name now, so a block with errors inside does not also break every reference to it
      if (h !== INVALID && this.options.defines) {
        const n = this.options.defines.name(out);
        if (n !== undefined) ctx.define(this.options.defines.kind, n, stmt.args[0]?.pos ?? stmt.name.pos, this.options.defines.keepalived);
      }
    } else if (stmt.args.length > 0) {
      ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', stmt.args[0]!.pos, `'${keyword}' takes no words before its '{'; unexpected '${stmt.args[0]!.text}'`);
    }
    const seen = new Map<string, Pos>();
    // keywords written, valid or not: one with a bad value is not also "missing"
    const written = new Set<string>();
    for (const child of stmt.block ?? []) {
      if (slicer.due()) yield;
      const name = child.name.text;
      const hit = child.name.quoted ? undefined : this.resolve(name);
      if (!hit) {
        const ext = child.name.quoted || !this.options.slot ? undefined : ctx.slots.get(this.options.slot, name);
        if (ext) {
          const v = inSteps(ext) ? yield* ext.parseSteps(child, name, ctx, undefined, slicer) : ext.parse(child, name, ctx, undefined);
          if (v === INVALID) ok = false;
          else (out.extensions as ExtensionValue[]).push({ keyword: name, pos: child.name.pos, value: v });
          continue;
        }
        const obsolete = child.name.quoted ? undefined : obsoleteKeyword(name, keyword);
        if (obsolete) {
          ctx.diags.compat(
            'ALIVED_CONFIG_OBSOLETE',
            child.name.pos,
            `'${name}' is not a keyword of ${keyword} in keepalived 2.2, which ignores it, and so does alived: ${obsolete.note}`,
          );
          continue;
        }
        // past the diagnostics kept, the message is not shown: spare the search for a hint
        const hint = ctx.diags.full ? undefined : this.hintFor(name, ctx);
        ctx.diags.error(
          'ALIVED_CONFIG_UNKNOWN_KEYWORD',
          child.name.pos,
          `unknown keyword '${clip(name)}' in ${keyword}${hint ? ` (did you mean '${hint}'?)` : ''}`,
        );
        ok = false;
        continue;
      }
      const { field, keyword: kw, alias } = hit;
      if (alias?.deprecated || kw.meta.deprecated) {
        const note = alias
          ? `'${name}' is the old spelling of '${field}'${alias.note ? `: ${alias.note}` : ''}; accepted`
          : `'${name}' is deprecated: ${kw.meta.deprecated!.note}`;
        ctx.diags.note('ALIVED_CONFIG_DEPRECATED', child.name.pos, note);
      }
      const v = inSteps(kw) ? yield* kw.parseSteps(child, name, ctx, feature, slicer) : kw.parse(child, name, ctx, feature);
      if (v === INVALID) {
        ok = false;
        written.add(field);
        continue;
      }
      const key = this.keyOf(field);
      if (kw.meta.repeatable) {
        ((out[key] ??= []) as unknown[]).push(v);
      } else {
        const prev = seen.get(field);
        if (prev && kw.meta.once) {
          ctx.diags.error(
            'ALIVED_CONFIG_DUPLICATE',
            child.name.pos,
            `'${name}' is already set in ${inBlock(keyword)} (at line ${prev.line}); it may be given once`,
          );
          ok = false;
          continue;
        }
        if (prev) {
          ctx.diags.compat(
            'ALIVED_CONFIG_DUPLICATE',
            child.name.pos,
            `'${name}' is already set in ${inBlock(keyword)} (at line ${prev.line}); this later value counts, as in keepalived`,
          );
        }
        seen.set(field, child.name.pos);
        out[key] = v;
      }
    }
    for (const [field, key, kw] of this.entries) {
      if (out[key] !== undefined) continue;
      if (kw.meta.required) {
        if (written.has(field)) continue;
        ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', stmt.name.pos, `'${describeStmt(stmt)}' lacks required '${field}'`);
        ok = false;
      } else if (kw.meta.hasDefault) {
        out[key] = structuredCloneSafe(kw.meta.defaultValue);
      } else if (kw.meta.repeatable) {
        out[key] = [];
      }
    }
    if (!ok) {
      // checks across many blocks (a VRID used twice) still see the blocks that are valid
      if (this.options.checkPartial) this.options.check?.(out, ctx, stmt);
      return INVALID;
    }
    if (!this.options.header && this.options.defines) {
      const n = this.options.defines.name(out);
      if (n !== undefined) ctx.define(this.options.defines.kind, n, stmt.name.pos, this.options.defines.keepalived);
    }
    this.options.check?.(out, ctx, stmt);
    if (this.options.slot) runSlotChecks(this.options.slot, out as BlockBase & Record<string, unknown>, ctx, stmt);
    return out as Out;
  }
}

function runSlotChecks(slot: string, out: BlockBase & Record<string, unknown>, ctx: CheckCtx, stmt: Stmt): void {
  for (const { check, owner } of ctx.slots.checks?.(slot) ?? []) {
    try {
      check(out, ctx, stmt);
    } catch (err) {
      ctx.diags.error('ALIVED_PLUGIN_INVALID', stmt.name.pos, `plugin '${owner}': its check of ${slot} threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }
}

function structuredCloneSafe<T>(v: T): T {
  return typeof v === 'object' && v !== null ? structuredClone(v) : v;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- {} adds no field to the intersection below: a block without extra fields
export function block<F extends Fields, H extends object = {}>(fields: F, options: BlockOptions<H> = {}): BlockSchema<FieldsOut<F> & H & BlockBase> {
  return new BlockSchema<FieldsOut<F> & H & BlockBase>(fields, options);
}

export function camel(s: string): string {
  return s.replace(/_([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Whether a keyword parses in steps: alived's own Keyword of a block or a
 * block of lines. A one-line keyword has nothing to pause in, and one whose
 * parse() is overridden (a plugin's subclass) runs in one piece.
 */
function inSteps(kw: AnyKeyword): boolean {
  return kw instanceof Keyword && kw.shape.kind !== 'value' && kw.parse === Keyword.prototype.parse;
}

function parseValue(shape: Extract<Shape, { kind: 'value' }>, stmt: Stmt, keyword: string, ctx: CheckCtx): unknown {
  if (stmt.block) {
    ctx.diags.error('ALIVED_CONFIG_UNEXPECTED_BLOCK', stmt.blockOpen ?? stmt.name.pos, `'${keyword}' takes no { } block`);
    return INVALID;
  }
  return shape.args.parse(stmt.args, stmt.name.pos, keyword, ctx);
}

function* parseShapeSteps(shape: Shape, stmt: Stmt, keyword: string, ctx: CheckCtx, feature: string | undefined, slicer: Slicer): Steps<unknown> {
  switch (shape.kind) {
    case 'value':
      return parseValue(shape, stmt, keyword, ctx);
    case 'lines': {
      if (!stmt.block) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_BLOCK', stmt.name.pos, `'${keyword}' needs a { } block: ${keyword} { ${shape.entry.describe} ... }`);
        return INVALID;
      }
      if (stmt.args.length > 0) {
        ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', stmt.args[0]!.pos, `'${keyword}' takes no words before its '{'; unexpected '${stmt.args[0]!.text}'`);
        return INVALID;
      }
      const out: unknown[] = [];
      let ok = true;
      for (const entry of stmt.block) {
        if (slicer.due()) yield;
        if (entry.block) {
          ctx.diags.error('ALIVED_CONFIG_UNEXPECTED_BLOCK', entry.blockOpen ?? entry.name.pos, `an entry of '${keyword}' takes no { } block`);
          ok = false;
          continue;
        }
        const words: Token[] = [entry.name, ...entry.args];
        const v = shape.entry.parse(words.slice(0), entry.name.pos, keyword, ctx);
        if (v === INVALID) ok = false;
        else out.push(v);
      }
      if (!shape.allowEmpty && out.length === 0 && ok) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', stmt.name.pos, `'${keyword}' block is empty`);
        return INVALID;
      }
      return ok ? out : INVALID;
    }
    case 'block': {
      const schema = shape.schema;
      // a subclass that overrides parseBlock (virtual_server_group's) runs in one piece
      if (schema instanceof BlockSchema && schema.parseBlock === BlockSchema.prototype.parseBlock) {
        return yield* schema.parseBlockSteps(stmt, keyword, ctx, feature, slicer);
      }
      return schema.parseBlock(stmt, keyword, ctx, feature);
    }
  }
}
