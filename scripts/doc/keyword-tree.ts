import { rootSchema } from '../../core/config/keywords/root';
import type { AnyKeyword, BlockSchema } from '../../core/config/schema';
import { PluginHost } from '../../core/plugin/host';
import { BUILTIN_PLUGINS } from '../../core/plugin/builtins';
import { silentLogger } from '../../core/log/logger';

/**
 * Every keyword alived knows, as the compiler sees them: the core's blocks
 * (core/config/keywords) and what the built-in plugins register into their
 * slots, block by block, in declaration order.
 */

export interface KeywordDoc {
  /** the keyword as written in a config */
  readonly name: string;
  /** what it takes, as `alived -t` describes it: `priority <INTEGER 1..255>` */
  readonly synopsis: string;
  readonly keyword: AnyKeyword;
  /** the built-in plugin that registered it; undefined for the core's own */
  readonly plugin: string | undefined;
  /** the block it opens, when it is one */
  readonly block: BlockDoc | undefined;
}

export interface BlockDoc {
  /** where the block is: `vrrp_instance`, `virtual_server > real_server`; '' for the top level */
  readonly path: string;
  readonly keywords: KeywordDoc[];
  /** the same schema was described first at this path (a block used in several places) */
  readonly sameAs: string | undefined;
}

/** The keyword tree from the top level down. */
export async function keywordTree(): Promise<BlockDoc> {
  const host = new PluginHost({ log: silentLogger });
  for (const plugin of BUILTIN_PLUGINS) await host.apply(plugin, { builtin: true });
  const described = new Map<BlockSchema<unknown>, string>();

  const walk = (schema: BlockSchema<unknown>, path: string): BlockDoc => {
    const first = described.get(schema);
    if (first !== undefined) return { path, keywords: [], sameAs: first };
    described.set(schema, path);
    const entries: Array<[string, AnyKeyword, string | undefined]> = Object.entries(schema.fields).map(([k, kw]) => [k, kw, undefined]);
    const slot = schema.options.slot;
    if (slot) for (const k of host.registry.names(slot)) entries.push([k, host.registry.get(slot, k)!, host.registry.entry(slot, k)!.owner]);
    const keywords = entries.map(([name, keyword, plugin]): KeywordDoc => {
      const child = keyword.shape.kind === 'block' ? walk(keyword.shape.schema, path ? `${path} > ${name}` : name) : undefined;
      return { name, synopsis: keyword.describe(name), keyword, plugin, block: child };
    });
    return { path, keywords, sameAs: undefined };
  };
  return walk(rootSchema as BlockSchema<unknown>, '');
}

/** Every keyword of the tree, aliases included, once each. */
export function keywordNames(tree: BlockDoc): string[] {
  const names = new Set<string>();
  const visit = (b: BlockDoc): void => {
    for (const k of b.keywords) {
      names.add(k.name);
      for (const a of k.keyword.meta.aliases) names.add(a.name);
      if (k.block) visit(k.block);
    }
  };
  visit(tree);
  return [...names];
}
