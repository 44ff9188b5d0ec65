import { keywordPos, type CheckCtx, type IpAddress, type Pos, type Stmt } from '../../core/sdk';

/**
 * Cross-keyword checks of the connection keywords (connect_ip, bindto,
 * bind_if) that keepalived makes in co_ip_handler(), co_srcip_handler() and
 * check_conn_opts(). Shared by the checker plugins that take those keywords;
 * a helper module, not a plugin.
 */
export interface ConnectionValues {
  readonly pos: Pos;
  readonly connectIp?: IpAddress;
  readonly bindto?: IpAddress;
  readonly bindIf?: string;
}

const isLinkLocal6 = (a: IpAddress): boolean => a.family === 6 && /^fe[89ab][0-9a-f]:/i.test(a.address);

export function checkConnection(v: ConnectionValues, ctx: CheckCtx, stmt: Stmt): void {
  const kw = stmt.name.text;
  if (v.connectIp && v.bindto && v.connectIp.family !== v.bindto.family) {
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      keywordPos(stmt, 'bindto'),
      `${kw}: bindto ${v.bindto.address} and connect_ip ${v.connectIp.address} are of different address families`,
    );
  }
  if (v.connectIp && isLinkLocal6(v.connectIp) && !v.bindIf) {
    ctx.diags.error(
      'ALIVED_CONFIG_MISSING_REQUIRED',
      keywordPos(stmt, 'connect_ip'),
      `${kw}: the link-local connect_ip ${v.connectIp.address} needs a bind_if`,
    );
  }
}
