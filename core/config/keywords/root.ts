import { block, sub } from '../schema';
import { globalDefsSchema, globalRootFields } from './global-defs';
import { lvsRootFields } from './lvs';
import { vrrpRootFields, checkVrrpRoot } from './vrrp';

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
  },
  {
    slot: 'root',
    check: (model, ctx, stmt) => {
      checkVrrpRoot(model, ctx, stmt);
    },
  },
);
