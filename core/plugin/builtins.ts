import { CHECKER_PLUGINS } from '../../plugins/checkers';
import { TRACKER_PLUGINS } from '../../plugins/trackers';
import { NOTIFIER_PLUGINS } from '../../plugins/notifiers';
import { SURFACE_PLUGINS } from '../../plugins/surfaces';
import { notifyDeliveryPlugin } from '../notify/delivery-keywords';
import type { AlivedPlugin } from './types';

/**
 * The built-in plugins, in load order. This is the one place where core/
 * names plugins/; everything else in core reaches plugins only through the
 * public plugin API, as a third-party plugin would.
 */
export const BUILTIN_PLUGINS: readonly AlivedPlugin<any>[] = [
  ...TRACKER_PLUGINS,
  ...CHECKER_PLUGINS,
  notifyDeliveryPlugin,
  ...NOTIFIER_PLUGINS,
  ...SURFACE_PLUGINS,
];
