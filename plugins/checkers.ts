import type { AlivedPlugin } from '../core/sdk';

/** Built-in checker plugins (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, ...). */
export const CHECKER_PLUGINS: readonly AlivedPlugin<any>[] = [];
