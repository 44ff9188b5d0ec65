import { block, sub } from '../schema';
import { globalDefsSchema } from './global-defs';
import { lvsRootFields } from './lvs';
import { vrrpRootFields, checkVrrpRoot } from './vrrp';

/**
 * The top level of keepalived.conf. Plugins add blocks through the `root`
 * slot (vrrp_script, track_file, webhook, ...).
 */
export const rootSchema = block(
  {
    global_defs: sub(globalDefsSchema),
    ...vrrpRootFields,
    ...lvsRootFields,
  },
  {
    slot: 'root',
    check: (model, ctx) => {
      checkVrrpRoot(model, ctx);
    },
  },
);
