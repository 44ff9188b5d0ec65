import {
  ALIVED_VERSION,
  block,
  bool,
  checkerCommonFields,
  checkerConnectionFields,
  filePath,
  int,
  one,
  str,
  value,
  word,
  type AlivedPlugin,
  type BlockOf,
} from '../../core/sdk';
import { checkConnection } from '../shared/connection';
import { createMysqlChecker, closeAllConnections } from './checker';

export { createMysqlChecker, type MysqlCheckerOptions } from './checker';

/**
 * `MYSQL_CHECK { ... }`: a MySQL / MariaDB server answers a query (mysql2),
 * and, when asked, is a replica in good shape (threads running, lag under a
 * limit) or has read_only as expected. An alived checker: keepalived has
 * none (its users run `mysql -e 'SELECT 1'` from MISC_CHECK).
 */
export const mysqlCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
    user: word(str({ minLength: 1, maxLength: 256 }))
      .required()
      .doc('the account to log in with'),
    password: word(str({ maxLength: 1024 })).doc('its password (never logged); or password_file'),
    password_file: word(filePath({ mustExist: true })).doc('a file holding the password (first line), read at each new connection'),
    database: word(str({ minLength: 1, maxLength: 64 })).doc('the default database'),
    query: word(str({ minLength: 1, maxLength: 65535 }))
      .default('SELECT 1')
      .doc('run at each check; default SELECT 1; an error fails the check'),
    tls: value(one(bool)).doc('use TLS (yes/no); default no unless a tls_* keyword is given'),
    tls_ca: word(filePath({ mustExist: true })).doc('CA certificate(s) to verify the server with (PEM)'),
    tls_cert: word(filePath({ mustExist: true })).doc('client certificate (PEM)'),
    tls_key: word(filePath({ mustExist: true })).doc('client key (PEM)'),
    tls_verify: value(one(bool)).doc('verify the server certificate; default yes'),
    tls_server_name: word(str({ minLength: 1, maxLength: 253 })).doc('the name the server certificate must carry; default connect_ip'),
    replica_max_lag: word(int({ min: 0, max: 2147483647 })).doc('fail when the replica is more than this many seconds behind (or the lag is unknown)'),
    replica_io_running: value(one(bool)).doc('the replica IO thread must be running (yes) or stopped (no)'),
    replica_sql_running: value(one(bool)).doc('the replica SQL thread must be running (yes) or stopped (no)'),
    read_only: value(one(bool)).doc('@@global.read_only must be on (yes) or off (no)'),
  },
  {
    check: (v, ctx, stmt) => {
      checkConnection(v, ctx, stmt);
      if (v.password !== undefined && v.passwordFile !== undefined) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `MYSQL_CHECK takes password or password_file, not both`);
      }
      if ((v.tlsCert === undefined) !== (v.tlsKey === undefined)) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', v.pos, `MYSQL_CHECK: tls_cert and tls_key go together`);
      }
      if (v.tls === false && (v.tlsCa || v.tlsCert || v.tlsServerName || v.tlsVerify !== undefined)) {
        ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, `MYSQL_CHECK: tls no; the tls_* keywords have no effect`);
      }
    },
  },
);

export type MysqlCheckConfig = BlockOf<typeof mysqlCheckSchema>;

const PLUGIN_NAME = 'check-mysql';

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({
      keyword: 'MYSQL_CHECK',
      schema: mysqlCheckSchema,
      create: (config, ctx) => createMysqlChecker(config, ctx),
    });
    // a reload may change the password file or the server's accounts: every kept checker logs in again
    api.hooks.afterReload.tap(PLUGIN_NAME, () => closeAllConnections());
    api.onClose(() => closeAllConnections());
  },
};

export default plugin;
