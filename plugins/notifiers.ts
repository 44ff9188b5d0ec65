import type { AlivedPlugin } from '../core/sdk';
import notifyMail from './notify-mail';
import notifyScript from './notify-script';
import notifyWebhook from './notify-webhook';

/**
 * Built-in notifier plugins: keepalived's notify scripts and FIFOs (first:
 * keepalived runs them before it sends mail), mail as keepalived sends it,
 * webhooks.
 */
export const NOTIFIER_PLUGINS: readonly AlivedPlugin<any>[] = [notifyScript, notifyMail, notifyWebhook];
