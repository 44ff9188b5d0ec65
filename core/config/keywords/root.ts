import { block, sub } from '../schema';
import { alivedApiSchema } from './alived-api';
import { globalDefsSchema, globalRootFields } from './global-defs';
import { lvsRootFields } from './lvs';
import { vrrpRootFields, checkVrrpRoot } from './vrrp';
import { checkLvsSyncDaemon } from './lvs-sync';
import { checkStrictAndAccept } from './vrrp-strict';

/**
 * The top level of keepalived.conf. Plugins add blocks through the `root`
 * slot (vrrp_script, track_file, webhook, ...).
 */
export const rootSchema = block(
  {
    global_defs: sub(globalDefsSchema),
    ...globalRootFields,
    ...vrrpRootFields,
    ...lvsRootFields,
    alived_api: sub(alivedApiSchema).once(),
  },
  {
    slot: 'root',
    checkPartial: true,
    check: (model, ctx, stmt) => {
      // instance checks read global_defs (vrrp_version, vrrp_strict): a broken one would mislead them
      const globalDefsBroken = model.globalDefs === undefined && (stmt.block ?? []).some((s) => s.name.text === 'global_defs');
      if (!globalDefsBroken) {
        checkVrrpRoot(model, ctx, stmt);
        checkStrictAndAccept(model, ctx, stmt);
      }
      checkLvsSyncDaemon(ctx, stmt);
    },
  },
);
