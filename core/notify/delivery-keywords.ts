import { block, sub, word } from '../config/schema';
import { duration, int } from '../config/values';
import type { AlivedPlugin, DeliveryOptions } from '../plugin/types';

/**
 * How notifications are delivered, as config keywords: the top-level
 * `notify_delivery { }` block sets the defaults of every notifier, and a
 * notifier's own block may set the same keywords for itself (a webhook
 * spreads `deliveryFields` into its schema). None has a default here: an
 * unset value is the notify_delivery block's, else the pipeline's default.
 */
export const deliveryFields = {
  retry_initial_delay: word(duration({ min: 0.01, max: 3600 })).doc('seconds before the first retry (then doubling, with jitter); default 1'),
  retry_max_delay: word(duration({ min: 0.01, max: 3600 })).doc('the longest wait between two attempts; default 30'),
  max_age: word(duration({ min: 1, max: 7 * 24 * 3600 })).doc('seconds after which an undelivered notification is given up (logged); default 3600'),
  attempt_timeout: word(duration({ min: 0.1, max: 600 })).doc('seconds one attempt may take; default 30'),
  coalesce_limit: word(int({ min: 0, max: 1000 })).doc('more events of one source than this within coalesce_window become one summary; 0: never; default 5'),
  coalesce_window: word(duration({ min: 1, max: 86400 })).doc('seconds; default 60'),
};

export interface DeliveryFieldValues {
  retryInitialDelay?: number;
  retryMaxDelay?: number;
  maxAge?: number;
  attemptTimeout?: number;
  coalesceLimit?: number;
  coalesceWindow?: number;
}

/** The delivery options a block with `deliveryFields` sets (seconds become ms; unset stays unset). */
export function deliveryOptionsOf(v: DeliveryFieldValues | undefined): DeliveryOptions {
  if (!v) return {};
  const ms = (s: number | undefined): number | undefined => (s === undefined ? undefined : Math.round(s * 1000));
  const o: Record<string, number> = {};
  const set = (k: keyof DeliveryOptions, x: number | undefined): void => {
    if (x !== undefined) o[k] = x;
  };
  set('retryInitialMs', ms(v.retryInitialDelay));
  set('retryMaxMs', ms(v.retryMaxDelay));
  set('maxAgeMs', ms(v.maxAge));
  set('attemptTimeoutMs', ms(v.attemptTimeout));
  set('coalesceLimit', v.coalesceLimit);
  set('coalesceWindowMs', ms(v.coalesceWindow));
  return o as DeliveryOptions;
}

export const notifyDeliverySchema = block(deliveryFields, { feature: 'notify' });

/**
 * The core's own keyword `notify_delivery { }`, registered through the
 * plugin API like any other (core/plugin/builtins.ts lists it).
 */
export const notifyDeliveryPlugin: AlivedPlugin = {
  name: 'notify-delivery',
  version: '1.0.0',
  apply(api) {
    api.registerKeyword('root', 'notify_delivery', sub(notifyDeliverySchema).feature('notify'));
  },
};

/** The notify_delivery block of a config, as delivery options. */
export function deliveryDefaultsOf(extensions: ReadonlyArray<{ keyword: string; value: unknown }> | undefined): DeliveryOptions {
  const e = extensions?.find((x) => x.keyword === 'notify_delivery');
  return deliveryOptionsOf(e?.value as DeliveryFieldValues | undefined);
}
