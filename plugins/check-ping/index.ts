import { ALIVED_VERSION, block, checkerCommonFields, checkerConnectionFields, type AlivedPlugin } from '../../core/sdk';
import { checkConnection } from '../shared/connection';

/** `PING_CHECK { ... }`: an ICMP/ICMPv6 echo to the real server (check_ping.c); only the shared keywords. */
export const pingCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
  },
  { check: (v, ctx, stmt) => checkConnection(v, ctx, stmt) },
);

const plugin: AlivedPlugin = {
  name: 'check-ping',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'PING_CHECK', schema: pingCheckSchema });
  },
};

export default plugin;
