import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlivedError } from '../errors';
import { silentLogger, type Logger } from '../log/logger';
import { PluginHost } from '../plugin/host';
import { loadPluginModule, resolvePlugin } from '../plugin/loader';
import type { AlivedPlugin } from '../plugin/types';
import { Diagnostics, type Diagnostic, type Pos } from './diagnostics';
import { FEATURES, IMPLEMENTED } from './features';
import { rootSchema } from './keywords/root';
import type { ConfigModel } from './model';
import { preprocessSteps, type PreprocessLimits } from './preprocess';
import { ROOT_BLOCK, type CheckCtx, type DefineAsKeepalived, type HostFacts } from './schema';
import { runInSlices, Slicer } from './slicer';
import { buildTreeSteps, type Stmt } from './tree';
import { clip, INVALID, nearest } from './values';

export interface CompileOptions {
  /** keepalived's -i; default the short host name */
  configId?: string;
  host?: HostFacts;
  limits?: Partial<PreprocessLimits>;
  /**
   * The plugins applied first, as part of the keepalived grammar: alived's own
   * (BUILTIN_PLUGINS of core/plugin/builtins.ts, which the daemon, the CLI and
   * the testers pass). The compiler names no plugin itself.
   */
  builtins: readonly AlivedPlugin<any>[];
  /** the plugin host to apply plugins to; default a new one that logs nowhere */
  pluginHost?: PluginHost;
  log?: Logger;
  /** features to treat as implemented (tests); default IMPLEMENTED */
  implemented?: ReadonlySet<string>;
  /** most diagnostics kept */
  maxDiagnostics?: number;
  /** for ${_RANDOM} */
  random?: () => number;
  /** the config's text, when it is not to be read from `file` (positions still name `file`) */
  text?: string;
  /** when the passes pause, so the event loop gets a turn; default a new Slicer (every 10 ms) */
  slicer?: Slicer;
  /** `--strict`: what keepalived would change or drop silently is an error, not a warning */
  strict?: boolean;
}

export interface CompileResult {
  ok: boolean;
  /** the typed model; undefined when the config has errors */
  model: ConfigModel | undefined;
  diagnostics: Diagnostic[];
  errorCount: number;
  warningCount: number;
  files: string[];
  tree: Stmt[];
  pluginHost: PluginHost;
}

export function shortHostname(): string {
  return os.hostname().split('.')[0] ?? '';
}

/** What this machine has: interfaces from /sys/class/net, files from the file system. */
export const localHost: HostFacts = {
  interfaceExists(name) {
    try {
      return fs.existsSync(path.join('/sys/class/net', name));
    } catch {
      return undefined;
    }
  },
  fileExists(p) {
    try {
      return fs.existsSync(p);
    } catch {
      return undefined;
    }
  },
  interfaceMulticast(name) {
    try {
      // IFF_MULTICAST
      return (parseInt(fs.readFileSync(path.join('/sys/class/net', name, 'flags'), 'utf8').trim(), 16) & 0x1000) !== 0;
    } catch {
      return undefined;
    }
  },
};

/**
 * Compiles a keepalived.conf: preprocess, build the block tree, load the
 * plugins it enables, validate every keyword, resolve references. Every
 * problem is reported; the model exists only when there is no error.
 *
 * The long passes run in slices (slicer.ts): a daemon that compiles a
 * reload goes on answering signals and timers meanwhile.
 */
export async function compileConfig(file: string, options: CompileOptions): Promise<CompileResult> {
  const diags = new Diagnostics(options.maxDiagnostics ?? 1000, options.strict === true);
  const configId = options.configId ?? shortHostname();
  const pluginHost = options.pluginHost ?? new PluginHost({ log: options.log ?? silentLogger });
  const absFile = path.resolve(file);

  const slicer = options.slicer ?? new Slicer();

  const pre = await runInSlices(
    preprocessSteps(absFile, { configId, diagnostics: diags, limits: options.limits, random: options.random, rootText: options.text, slicer }),
    slicer,
  );
  const tree = await runInSlices(buildTreeSteps(pre.lines, diags, {}, slicer), slicer);

  const ctx = new CompileCtx(diags, options.host ?? localHost, pluginHost, path.dirname(absFile));

  const rest: Stmt[] = [];
  const pluginBlocks: Stmt[] = [];
  for (const stmt of tree) {
    if (stmt.name.text === 'plugins' && !stmt.name.quoted) pluginBlocks.push(stmt);
    else rest.push(stmt);
  }
  // built-in plugins first: their keywords are part of the keepalived grammar; one named in `plugins { }` takes its options from there
  const builtinNames = new Set(options.builtins.map((p) => p.name));
  const configured = new Map<string, { options: unknown; at: Pos }>();
  for (const stmt of pluginBlocks) {
    for (const entry of stmt.block ?? []) {
      const plugin = options.builtins.find((p) => p.name === entry.name.text);
      if (!plugin || entry.args.length > 0) continue;
      const prev = configured.get(plugin.name);
      if (prev) {
        diags.error('ALIVED_CONFIG_DUPLICATE', entry.name.pos, `plugin '${plugin.name}' is configured already, at ${ctx.where(prev.at, entry.name.pos)}`);
        continue;
      }
      const parsed = pluginOptions(entry, plugin, ctx);
      if (parsed !== INVALID) configured.set(plugin.name, { options: parsed, at: entry.name.pos });
    }
  }
  for (const plugin of options.builtins) {
    if (pluginHost.plugins.some((p) => p.name === plugin.name)) continue;
    const c = configured.get(plugin.name);
    await pluginHost.apply(plugin, { builtin: true, ...(c && { options: c.options, enabledAt: c.at }) });
  }
  for (const stmt of pluginBlocks) await enablePlugins(stmt, pluginHost, ctx, builtinNames);

  const root: Stmt = {
    name: { text: ROOT_BLOCK, pos: { file: absFile, line: 1, col: 1 }, quoted: false },
    args: [],
    block: rest,
  };
  const model = await runInSlices(rootSchema.parseBlockSteps(root, ROOT_BLOCK, ctx, undefined, slicer), slicer);
  ctx.resolveReferences();
  ctx.reportFeatures(options.implemented ?? IMPLEMENTED);

  const ok = !diags.hasErrors();
  const diagnostics = diags.sorted();
  if (diags.suppressed > 0) {
    diagnostics.push({
      severity: 'note',
      code: 'ALIVED_CONFIG_EXPANSION_LIMIT',
      pos: { file: absFile, line: 1, col: 1 },
      message: `${diags.suppressed} more diagnostics not shown`,
    });
  }
  return {
    ok,
    model: ok && model !== INVALID ? (model as ConfigModel) : undefined,
    diagnostics,
    errorCount: diags.errors,
    warningCount: diagnostics.filter((d) => d.severity === 'warning').length,
    files: pre.files,
    tree,
    pluginHost,
  };
}

/** A plugin's options from its entry in `plugins { }`: its block parsed by its schema (an empty one when none is given); INVALID after a diagnostic. */
function pluginOptions(entry: Stmt, plugin: AlivedPlugin<any>, ctx: CompileCtx): unknown {
  if (entry.block) {
    if (!plugin.options) {
      ctx.diags.error('ALIVED_CONFIG_UNEXPECTED_BLOCK', entry.blockOpen ?? entry.name.pos, `plugin '${plugin.name}' takes no options`);
      return INVALID;
    }
    return plugin.options.parseBlock(entry, `plugin ${plugin.name}`, ctx, undefined);
  }
  // an options schema with required keywords must see them
  return plugin.options ? plugin.options.parseBlock({ ...entry, block: [] }, `plugin ${plugin.name}`, ctx, undefined) : undefined;
}

/**
 * `plugins { "./checks/redis.js" { timeout 2 } "@acme/alived-notify-pager" }`:
 * the plugins it names (the built-ins among them were applied with their
 * options before).
 */
async function enablePlugins(stmt: Stmt, host: PluginHost, ctx: CompileCtx, builtins: ReadonlySet<string>): Promise<void> {
  const diags = ctx.diags;
  if (!stmt.block) {
    diags.error('ALIVED_CONFIG_MISSING_BLOCK', stmt.name.pos, '\'plugins\' needs a { } block naming modules: plugins { "./my-check.js" }');
    return;
  }
  if (stmt.args.length > 0) {
    diags.error('ALIVED_CONFIG_EXTRA_VALUE', stmt.args[0]!.pos, `'plugins' takes no words before its '{'; unexpected '${stmt.args[0]!.text}'`);
  }
  const configDir = path.dirname(stmt.name.pos.file);
  for (const entry of stmt.block) {
    const spec = entry.name.text;
    const at = entry.name.pos;
    if (entry.args.length > 0) {
      diags.error(
        'ALIVED_CONFIG_EXTRA_VALUE',
        entry.args[0]!.pos,
        `plugin '${spec}': options go in a { } block after its name; unexpected '${entry.args[0]!.text}'`,
      );
      continue;
    }
    if (builtins.has(spec)) continue;
    let plugin: AlivedPlugin<any>;
    try {
      plugin = await loadPluginModule(resolvePlugin(spec, configDir), spec);
    } catch (err) {
      diags.error(isAlivedError(err) ? err.code : 'ALIVED_PLUGIN_LOAD_FAILED', at, (err as Error).message);
      continue;
    }
    const options = pluginOptions(entry, plugin, ctx);
    if (options === INVALID) continue;
    try {
      await host.apply(plugin, { options, enabledAt: at });
    } catch (err) {
      diags.error(isAlivedError(err) ? err.code : 'ALIVED_PLUGIN_LOAD_FAILED', at, (err as Error).message);
    }
  }
}

class CompileCtx implements CheckCtx {
  /** by kind and name: where it is defined, and when (the order of define() and refer() calls is the order of the text) */
  private readonly defined = new Map<string, Map<string, { pos: Pos; seq: number }>>();
  private readonly kinds = new Map<string, DefineAsKeepalived>();
  private readonly refs: Array<{ kind: string; name: string; pos: Pos; usedBy: string; seq: number }> = [];
  private readonly features = new Map<string, Map<string, Pos>>();
  private seq = 0;

  constructor(
    readonly diags: Diagnostics,
    readonly host: HostFacts,
    private readonly pluginHost: PluginHost,
    /** the root config's directory: messages name other files relative to it */
    private readonly rootDir: string,
  ) {}

  get slots() {
    return this.pluginHost.registry;
  }

  /** where `prev` is, said from `pos`: `line 3` in the same file, `conf.d/a.conf:3` in another */
  where(prev: Pos, pos: Pos): string {
    return prev.file === pos.file ? `line ${prev.line}` : `${path.relative(this.rootDir, prev.file) || prev.file}:${prev.line}`;
  }

  define(kind: string, name: string, pos: Pos, keepalived?: DefineAsKeepalived): void {
    let m = this.defined.get(kind);
    if (!m) this.defined.set(kind, (m = new Map()));
    if (keepalived && !this.kinds.has(kind)) this.kinds.set(kind, keepalived);
    const prev = m.get(name);
    if (prev) {
      if (keepalived?.firstWins) {
        this.diags.compat(
          'ALIVED_CONFIG_DUPLICATE',
          pos,
          `${kind} '${clip(name)}' is already defined at ${this.where(prev.pos, pos)}; as keepalived does, the first one is used and this one is ignored`,
        );
      } else {
        this.diags.error('ALIVED_CONFIG_DUPLICATE', pos, `${kind} '${clip(name)}' is already defined at ${this.where(prev.pos, pos)}`);
      }
      return;
    }
    m.set(name, { pos, seq: this.seq++ });
  }

  refer(kind: string, name: string, pos: Pos, usedBy: string): void {
    this.refs.push({ kind, name, pos, usedBy, seq: this.seq++ });
  }

  useFeature(feature: string, keyword: string, pos: Pos): void {
    let m = this.features.get(feature);
    if (!m) this.features.set(feature, (m = new Map()));
    if (!m.has(keyword)) m.set(keyword, pos);
  }

  resolveReferences(): void {
    for (const r of this.refs) {
      const names = this.defined.get(r.kind);
      const def = names?.get(r.name);
      if (def) {
        if (def.seq > r.seq && this.kinds.get(r.kind)?.resolvedWhileParsing) {
          this.diags.compat(
            'ALIVED_CONFIG_FORWARD_REFERENCE',
            r.pos,
            `${r.usedBy} names ${r.kind} '${clip(r.name)}', defined further down (${this.where(def.pos, r.pos)}); alived uses it, but keepalived 2.2 looks it up while reading this line, does not find it and drops it: define the ${r.kind} above its first use for both to agree`,
          );
        }
        continue;
      }
      const hint = names ? nearest(r.name, [...names.keys()]) : undefined;
      this.diags.error(
        'ALIVED_CONFIG_UNKNOWN_REFERENCE',
        r.pos,
        `${r.usedBy} refers to ${r.kind} '${clip(r.name)}', which is not defined${hint ? ` (did you mean '${hint}'?)` : ''}`,
      );
    }
  }

  reportFeatures(implemented: ReadonlySet<string>): void {
    for (const [feature, keywords] of this.features) {
      if (implemented.has(feature)) continue;
      // keywords were recorded in the order the config uses them: the first is where the warning points
      const first = keywords.values().next().value as Pos;
      const names = [...keywords.keys()];
      this.diags.warning(
        'ALIVED_CONFIG_NOT_ACTED_ON',
        first,
        `alived accepts but does not act on ${FEATURES[feature] ?? feature} yet; ${names.length === 1 ? 'keyword' : 'keywords'} checked and not applied: ${names.join(', ')}`,
      );
    }
  }
}
