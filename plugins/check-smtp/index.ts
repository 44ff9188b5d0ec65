import { ALIVED_VERSION, block, checkerCommonFields, checkerConnectionFields, str, sub, word, type AlivedPlugin } from '../../core/sdk';
import { checkConnection } from '../check-common/connection';

/**
 * `SMTP_CHECK { ... }`: connects, reads the 220 greeting, sends HELO and
 * QUIT (check_smtp.c). The deprecated `host { }` blocks each add one more
 * connection to check, with the same keywords as the checker.
 */

/** `host { connect_ip ... }`: deprecated; keepalived turns each into one more SMTP check. */
export const smtpHostSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
  },
  { check: (v, ctx, stmt) => checkConnection(v, ctx, stmt) },
);

export const smtpCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
    helo_name: word(str()).default('smtpchecker.keepalived.org').doc('name sent with HELO'),
    host: sub(smtpHostSchema)
      .repeatable()
      .deprecated('the SMTP_CHECK host block is deprecated: write one SMTP_CHECK per address; accepted'),
  },
  { check: (v, ctx, stmt) => checkConnection(v, ctx, stmt) },
);

const plugin: AlivedPlugin = {
  name: 'check-smtp',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'SMTP_CHECK', schema: smtpCheckSchema });
  },
};

export default plugin;
