import { ALIVED_VERSION, block, checkerCommonFields, checkerConnectionFields, type AlivedPlugin } from '../../core/sdk';
import { checkConnection } from '../check-common/connection';

/** `TCP_CHECK { ... }`: a TCP connect to the real server (check_tcp.c); only the shared keywords. */
export const tcpCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
  },
  { check: (v, ctx, stmt) => checkConnection(v, ctx, stmt) },
);

const plugin: AlivedPlugin = {
  name: 'check-tcp',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'TCP_CHECK', schema: tcpCheckSchema });
  },
};

export default plugin;
