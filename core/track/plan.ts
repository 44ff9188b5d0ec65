import type { ConfigModel } from '../config/model';
import { trackerKey } from '../vrrp/tracking';
import type { AnyKeyword, BlockSchema, ExtensionValue } from '../config/schema';
import type { Registered } from '../plugin/host';
import type { TrackerDefinition } from '../plugin/types';

/**
 * Which trackers run: one per tracker block (vrrp_script, track_file,
 * vrrp_track_file, a third-party tracker's block) that some vrrp_instance
 * or vrrp_sync_group references through the definition's reference list
 * (track_script, track_file, ...). keepalived frees a vrrp_script nobody
 * tracks ("Warning - script X is not used") and a track file nobody tracks
 * (init_track_files()), so neither runs.
 */

/** what the planner needs of a plugin host */
export interface TrackerDefinitions {
  readonly trackers: ReadonlyMap<string, Registered<TrackerDefinition<any, any>>>;
  /** the keyword registry, to find a block's other spellings (vrrp_track_file) */
  readonly registry: { get(slot: string, name: string): AnyKeyword | undefined };
}

export interface TrackerPlan {
  /** trackerKey(type, name): how the VRRP process knows the tracker's state */
  readonly key: string;
  /** the definition's keyword, whatever spelling the block used: vrrp_script, track_file, ... */
  readonly type: string;
  readonly name: string;
  /** the plugin that registered the definition */
  readonly plugin: string;
  readonly def: TrackerDefinition<unknown, unknown>;
  readonly config: unknown;
  /** the block as it matters for a reload: its type, name, plugin and every setting, without positions, and script_user / enable_script_security */
  readonly identity: string;
}

export interface TrackerPlanResult {
  readonly run: TrackerPlan[];
  /** blocks defined but referenced by no instance or sync group */
  readonly unused: Array<{ readonly type: string; readonly name: string }>;
  /** blocks whose definition has no create(): accepted, not run */
  readonly notRun: Array<{ readonly type: string; readonly name: string; readonly plugin: string }>;
}

/**
 * Every tracker block of the config that a reference list can name, by the
 * reference keyword (track_script, track_file, ...) and the block's name:
 * its type (the definition's keyword, whatever spelling the block used) and
 * its settings. What the VRRP settings read a tracker's own weight from.
 */
export function trackerBlocks(model: ConfigModel, host: TrackerDefinitions): Map<string, Map<string, { type: string; config: unknown }>> {
  const defs = [...host.trackers.values()].filter((r) => r.def.keyword !== undefined);
  const out = new Map<string, Map<string, { type: string; config: unknown }>>();
  for (const ext of model.extensions) {
    const reg = definitionOf(ext.keyword, defs, host);
    const name = (ext.value as { name?: unknown } | null)?.name;
    if (!reg || typeof name !== 'string') continue;
    let byName = out.get(reg.def.reference.keyword);
    if (!byName) out.set(reg.def.reference.keyword, (byName = new Map()));
    // the config check refuses a name defined twice; should one slip through, the first block wins
    if (!byName.has(name)) byName.set(name, { type: reg.def.keyword!, config: ext.value });
  }
  return out;
}

export function planTrackers(model: ConfigModel, host: TrackerDefinitions): TrackerPlanResult {
  const defs = [...host.trackers.values()].filter((r) => r.def.keyword !== undefined);
  const run: TrackerPlan[] = [];
  const unused: TrackerPlanResult['unused'] = [];
  const notRun: TrackerPlanResult['notRun'] = [];
  const referenced = new Map<Registered<TrackerDefinition<any, any>>, Set<string>>();
  const holders: Array<{ extensions: ExtensionValue[] }> = [...(model.vrrpInstance ?? []), ...(model.vrrpSyncGroup ?? [])];
  for (const reg of defs) {
    const names = new Set<string>();
    for (const h of holders) {
      for (const ext of h.extensions) {
        if (ext.keyword !== reg.def.reference.keyword || !Array.isArray(ext.value)) continue;
        for (const entry of ext.value as unknown[]) {
          const n = (entry as { name?: unknown } | null)?.name;
          if (typeof n === 'string') names.add(n);
        }
      }
    }
    referenced.set(reg, names);
  }
  // global settings that change how a tracker runs: a reload that changes them restarts the trackers (from their state)
  const g = model.globalDefs;
  const globals = { scriptUser: g?.scriptUser, enableScriptSecurity: g?.enableScriptSecurity };
  const seen = new Set<string>();
  for (const ext of model.extensions) {
    const reg = definitionOf(ext.keyword, defs, host);
    if (!reg) continue;
    const type = reg.def.keyword!;
    const name = (ext.value as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') continue;
    const key = trackerKey(type, name);
    // the config check refuses a name defined twice; should one slip through, the first block wins
    if (seen.has(key)) continue;
    seen.add(key);
    if (!referenced.get(reg)?.has(name)) {
      unused.push({ type, name });
      continue;
    }
    if (!reg.def.create) {
      notRun.push({ type, name, plugin: reg.owner });
      continue;
    }
    run.push({
      key,
      type,
      name,
      plugin: reg.owner,
      def: reg.def as TrackerDefinition<unknown, unknown>,
      config: ext.value,
      identity: stableJson({ type, name, plugin: reg.owner, config: ext.value, globals }),
    });
  }
  return { run, unused, notRun };
}

/** The definition of a top-level block: by its keyword, or by the schema another spelling of it parses with. */
function definitionOf(
  keyword: string,
  defs: ReadonlyArray<Registered<TrackerDefinition<any, any>>>,
  host: TrackerDefinitions,
): Registered<TrackerDefinition<any, any>> | undefined {
  const direct = defs.find((r) => r.def.keyword === keyword);
  if (direct) return direct;
  const kw = host.registry.get('root', keyword) as { shape?: { kind?: string; schema?: BlockSchema<unknown> } } | undefined;
  const schema = kw?.shape?.kind === 'block' ? kw.shape.schema : undefined;
  return schema ? defs.find((r) => r.def.schema === schema) : undefined;
}

/** JSON with sorted keys and no `pos`: two blocks that differ only in where they are written are the same block. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (key, value: unknown) => {
    if (key === 'pos') return undefined;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const o = value as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, o[k]]),
      );
    }
    return value;
  });
}
