import * as net from 'node:net';
import {
  ALIVED_VERSION,
  block,
  checkerCommonFields,
  checkerConnectionFields,
  type AlivedPlugin,
  type BlockOf,
  type Checker,
  type CheckerContext,
} from '../../core/sdk';
import { checkConnection } from '../shared/connection';
import { abortWords, checkFwmark, describeError, fwmarkNote, hostPort, settleOnce, tcpConnectOptions } from '../shared/net';

/** `TCP_CHECK { ... }`: a TCP connect to the real server (check_tcp.c); only the shared keywords. */
export const tcpCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
  },
  {
    check: (v, ctx, stmt) => {
      checkConnection(v, ctx, stmt);
      checkFwmark(v, ctx, stmt);
    },
  },
);

export type TcpCheckConfig = BlockOf<typeof tcpCheckSchema>;

/**
 * One check is one connect: up when the three-way handshake completes, as
 * keepalived's tcp_check_thread() (connect_success), which then closes the
 * socket without sending anything.
 */
export function createTcpChecker(config: TcpCheckConfig, ctx: CheckerContext): Checker {
  const where = `TCP_CHECK ${hostPort(ctx.target.address, ctx.target.port)}`;
  const note = fwmarkNote(config);
  return {
    check(signal) {
      return settleOnce(
        signal,
        (finish) => {
          const sock = net.connect(tcpConnectOptions(ctx.target, config));
          sock.once('connect', () => finish({ ok: true, message: `${where}: connected${note}` }));
          // 'on', not 'once': a socket without an error listener would crash the daemon on a late error
          sock.on('error', (err) => finish({ ok: false, message: `${where}: ${describeError(err)}${note}` }));
          return () => sock.destroy();
        },
        () => ({ ok: false, message: `${where}: ${abortWords(signal)} connecting${note}` }),
      );
    },
  };
}

const plugin: AlivedPlugin = {
  name: 'check-tcp',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({
      keyword: 'TCP_CHECK',
      schema: tcpCheckSchema,
      create: createTcpChecker,
      // check_tcp.c tcp_epilog()'s smtp_alert bodies
      alertText: (up) => `=> TCP CHECK ${up ? 'succeed' : 'failed'} on service <=`,
    });
  },
};

export default plugin;
