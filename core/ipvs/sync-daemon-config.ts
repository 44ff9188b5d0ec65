import type { ConfigModel } from '../config/model';

/**
 * What `lvs_sync_daemon` (global_defs) or the old `lvs_sync_daemon_interface`
 * (in a vrrp_instance) asks for, as keepalived reads them:
 *
 * - `lvs_sync_daemon IF inst VI [id N] ...`: the sync daemon follows VI,
 *   master while VI is MASTER, backup otherwise; its id defaults to VI's
 *   virtual_router_id.
 * - `lvs_sync_daemon IF` with no instance: master and backup both run, all
 *   the time (keepalived's checker process runs them); id 0 by default.
 * - `lvs_sync_daemon_interface IF` in VI: `lvs_sync_daemon IF inst VI`. The
 *   global keyword wins over it, and the first instance that has it over
 *   the others (the config check warns of the ones ignored).
 *
 * No netlink here: the daemon reads this for every config, with or without
 * a sync daemon.
 */
export interface LvsSyncConfig {
  readonly interface: string;
  /** the vrrp_instance it follows; undefined: master and backup both run */
  readonly instance?: string | undefined;
  readonly syncId: number;
  readonly maxlen?: number | undefined;
  readonly port?: number | undefined;
  readonly ttl?: number | undefined;
  readonly group?: string | undefined;
  /** the keyword it comes from, for messages */
  readonly keyword: 'lvs_sync_daemon' | 'lvs_sync_daemon_interface';
}

interface GlobalSyncd {
  interface: string;
  instance?: string;
  syncId?: number;
  maxlen?: number;
  port?: number;
  ttl?: number;
  group?: string;
}

interface InstanceLike {
  name: string;
  virtualRouterId?: number;
  lvsSyncDaemonInterface?: string;
}

/**
 * The sync daemon this daemon runs, if any. One that follows an instance
 * runs only where VRRP runs (not with --check), one with no instance only
 * where the checks run (not with --vrrp), as in keepalived, whose VRRP and
 * checker processes run them.
 */
export function lvsSyncConfig(
  model: ConfigModel,
  runs: { readonly vrrp: boolean; readonly checks: boolean } = { vrrp: true, checks: true },
): LvsSyncConfig | undefined {
  const c = lvsSyncWanted(model);
  if (!c) return undefined;
  return (c.instance !== undefined ? runs.vrrp : runs.checks) ? c : undefined;
}

/** What the config asks for, whichever process would run it. */
export function lvsSyncWanted(model: ConfigModel): LvsSyncConfig | undefined {
  const instances = (model.vrrpInstance ?? []) as unknown as InstanceLike[];
  const g = (model.globalDefs as { lvsSyncDaemon?: GlobalSyncd } | undefined)?.lvsSyncDaemon;
  if (g && g.interface) {
    const inst = g.instance !== undefined ? instances.find((i) => i.name === g.instance) : undefined;
    return {
      interface: g.interface,
      instance: g.instance,
      syncId: g.syncId ?? inst?.virtualRouterId ?? 0,
      maxlen: g.maxlen,
      port: g.port,
      ttl: g.ttl,
      group: g.group,
      keyword: 'lvs_sync_daemon',
    };
  }
  const old = instances.find((i) => i.lvsSyncDaemonInterface !== undefined);
  if (!old) return undefined;
  return { interface: old.lvsSyncDaemonInterface!, instance: old.name, syncId: old.virtualRouterId ?? 0, keyword: 'lvs_sync_daemon_interface' };
}
