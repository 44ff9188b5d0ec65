import { block, lines, value, word } from '../schema';
import { duration, email, int, ip, one, optBool, port, str, text, tuple } from '../values';

/** global_defs { ... }: keepalived 2.2's global settings. */
export const globalDefsSchema = block(
  {
    router_id: value(text).feature('global').doc('names this node in notifications; default the host name'),
    notification_email: lines(one(email)).feature('notify-mail'),
    notification_email_from: word(email).feature('notify-mail'),
    smtp_server: value(tuple([ip(), port], 1)).feature('notify-mail'),
    smtp_helo_name: word(str()).feature('notify-mail'),
    smtp_connect_timeout: word(int({ min: 1, max: 3600 })).default(30).feature('notify-mail'),
    smtp_alert: value(optBool).feature('notify-mail'),
    vrrp_garp_master_delay: word(duration({ max: 255 })).feature('vrrp'),
  },
  { feature: 'global' },
);
