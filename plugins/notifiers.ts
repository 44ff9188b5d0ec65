import type { AlivedPlugin } from '../core/sdk';
import notifyMail from './notify-mail';
import notifyWebhook from './notify-webhook';

/** Built-in notifier plugins (mail as keepalived sends it, webhooks). */
export const NOTIFIER_PLUGINS: readonly AlivedPlugin<any>[] = [notifyMail, notifyWebhook];
