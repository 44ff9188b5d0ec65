import { AlivedError } from '../errors';
import type { AnyKeyword, SlotCheck, SlotLookup } from './schema';

/**
 * Keywords that plugins add to the grammar, by slot: `root` (top-level
 * blocks such as vrrp_script or webhook), `real_server` (checkers such as
 * TCP_CHECK), `vrrp_instance` and `vrrp_sync_group` (track_* references).
 */
export const SLOTS = ['root', 'global_defs', 'vrrp_instance', 'vrrp_sync_group', 'virtual_server', 'real_server'] as const;
export type SlotName = (typeof SLOTS)[number];

export interface SlotEntry {
  readonly keyword: AnyKeyword;
  /** the plugin that registered it */
  readonly owner: string;
}

export class KeywordRegistry implements SlotLookup {
  private readonly slots = new Map<string, Map<string, SlotEntry>>();
  private readonly slotChecks = new Map<string, Array<{ check: SlotCheck; owner: string }>>();

  /** Adds a keyword to a slot; a second registration of a name is an error naming both plugins. */
  register(slot: SlotName, name: string, keyword: AnyKeyword, owner: string, reserved: readonly string[] = []): void {
    if (!(SLOTS as readonly string[]).includes(slot)) {
      throw new AlivedError('ALIVED_PLUGIN_INVALID', `plugin '${owner}' registers '${name}' into unknown slot '${slot}' (slots: ${SLOTS.join(', ')})`);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
      throw new AlivedError('ALIVED_PLUGIN_INVALID', `plugin '${owner}' registers keyword '${name}', which is not a valid keyword name`);
    }
    if (reserved.includes(name)) {
      throw new AlivedError('ALIVED_PLUGIN_DUPLICATE', `plugin '${owner}' registers '${name}' in ${slot}, which alived's core already declares`);
    }
    let m = this.slots.get(slot);
    if (!m) this.slots.set(slot, (m = new Map()));
    const prev = m.get(name);
    if (prev) {
      throw new AlivedError('ALIVED_PLUGIN_DUPLICATE', `plugin '${owner}' registers '${name}' in ${slot}, already registered by plugin '${prev.owner}'`);
    }
    m.set(name, { keyword, owner });
  }

  /** A check of every block of a slot, after its keywords (a plugin's among them) are parsed. */
  registerCheck(slot: SlotName, check: SlotCheck, owner: string): void {
    if (!(SLOTS as readonly string[]).includes(slot)) {
      throw new AlivedError('ALIVED_PLUGIN_INVALID', `plugin '${owner}' registers a check of unknown slot '${slot}' (slots: ${SLOTS.join(', ')})`);
    }
    if (typeof check !== 'function') throw new AlivedError('ALIVED_PLUGIN_INVALID', `plugin '${owner}': registerBlockCheck needs a function`);
    let list = this.slotChecks.get(slot);
    if (!list) this.slotChecks.set(slot, (list = []));
    list.push({ check, owner });
  }

  checks(slot: string): ReadonlyArray<{ check: SlotCheck; owner: string }> {
    return this.slotChecks.get(slot) ?? [];
  }

  get(slot: string, name: string): AnyKeyword | undefined {
    return this.slots.get(slot)?.get(name)?.keyword;
  }

  entry(slot: string, name: string): SlotEntry | undefined {
    return this.slots.get(slot)?.get(name);
  }

  names(slot: string): string[] {
    return [...(this.slots.get(slot)?.keys() ?? [])];
  }
}
