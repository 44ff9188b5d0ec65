import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import checkMysql, { createMysqlChecker } from '../../plugins/check-mysql';
import { PluginHost } from '../../core/plugin/host';
import { silentLogger } from '../../core/log/logger';
import { maskSecrets } from '../../plugins/check-mysql/checker';
import type { MysqlCheckConfig } from '../../plugins/check-mysql';
import type { Checker, CheckResult } from '../../core/sdk';
import { makeCertificate, type Certificate } from '../../core/testing';
import { compileText, has, noErrors, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import { dumpTree } from '../../core/config/dump';
import { startMariaDb, type MariaDb } from '../helpers/services';

/**
 * MYSQL_CHECK against real MariaDB servers (Debian's mariadbd) on
 * loopback: a primary with a binary log and a replica of it. The checks:
 * a good login, the server stopped, a wrong password, read_only flipped, a
 * query that hangs (SELECT SLEEP) cut by the timeout, the replica's SQL
 * thread stopped, and one connection reused across checks. TLS against a
 * third server with ssl_cert / ssl_key / ssl_ca from a CA openssl makes for
 * this run: the chain and the name verified, a wrong CA, accounts that
 * REQUIRE SSL and REQUIRE X509.
 */

const root = tmpDir('alived-mysql-');
let primary: MariaDb;
let replica: MariaDb;
let tlsDb: MariaDb;
const PASSWORD = 'S3cret-pw-not-for-logs';
// the CA of this run, one that signed nothing of ours, the server's certificate (its name and 127.0.0.1) and a client's
const pki: Record<'ca' | 'otherCa' | 'server' | 'client', Certificate> = {} as never;

before(async () => {
  primary = await startMariaDb(path.join(root, 'primary'), { serverId: 1, logBin: true });
  primary.sql(
    `CREATE USER 'mon'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT ALL ON *.* TO 'mon'@'%'; CREATE USER 'repl'@'%' IDENTIFIED BY 'replpw'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';`,
  );
  // the replica gets the users from the primary's binary log
  replica = await startMariaDb(path.join(root, 'replica'), { serverId: 2 });
  replica.sql(
    `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='repl', MASTER_PASSWORD='replpw', MASTER_USE_GTID=slave_pos; START SLAVE;`,
  );
  pki.ca = await makeCertificate({ commonName: 'alived test CA', ca: true });
  pki.otherCa = await makeCertificate({ commonName: 'another CA', ca: true });
  pki.server = await makeCertificate({ commonName: 'db.example.test', altNames: ['DNS:db.example.test', 'IP:127.0.0.1'], issuer: pki.ca });
  pki.client = await makeCertificate({ commonName: 'monitor', altNames: ['DNS:monitor'], issuer: pki.ca });
  tlsDb = await startMariaDb(path.join(root, 'tls'), {
    serverId: 4,
    // two addresses: the certificate names only the first
    bindAddress: '127.0.0.1,127.0.0.2',
    extraArgs: [`--ssl-cert=${pki.server.certFile}`, `--ssl-key=${pki.server.keyFile}`, `--ssl-ca=${pki.ca.certFile}`],
  });
  tlsDb.sql(`CREATE USER 'tlsmon'@'%' IDENTIFIED BY '${PASSWORD}' REQUIRE SSL; CREATE USER 'x509mon'@'%' IDENTIFIED BY '${PASSWORD}' REQUIRE X509;`);
});
after(async () => {
  await tlsDb?.stop();
  await replica?.stop();
  await primary?.stop();
});

const checkers: Checker[] = [];
after(async () => {
  for (const c of checkers) await c.close?.();
});

async function mysqlConfig(body: string, port: number): Promise<{ config: MysqlCheckConfig; lines: string[] }> {
  const r = await compileText(`virtual_server 10.0.0.1 3306 {\n  real_server 127.0.0.1 ${port} {\n    MYSQL_CHECK {\n${body}\n    }\n  }\n}\n`);
  noErrors(r);
  await r.pluginHost.close();
  const rs = r.model!.virtualServer[0]!.realServer[0]!;
  return { config: rs.extensions.find((e) => e.keyword === 'MYSQL_CHECK')!.value as MysqlCheckConfig, lines: r.lines };
}

async function checker(body: string, server: { port: number }, address = '127.0.0.1') {
  const { config } = await mysqlConfig(body, server.port);
  const { log, records } = memoryLogger('debug');
  const c = createMysqlChecker(config, { target: { address, port: server.port }, realServer: { address, port: server.port }, log });
  checkers.push(c);
  const check = (timeoutMs = 3000): Promise<CheckResult> => c.check(AbortSignal.timeout(timeoutMs));
  return { c, check, records };
}

const connections = (db: MariaDb, user: string): number => Number(db.sql(`SELECT COUNT(*) FROM information_schema.processlist WHERE user = '${user}'`));

test('config: the keywords, password or password_file, TLS files, unknown keywords with a hint', async () => {
  const rs = (body: string) => compileText(`virtual_server 10.0.0.1 3306 {\n  real_server 10.0.0.2 3306 {\n    MYSQL_CHECK {\n${body}\n    }\n  }\n}\n`);
  let r = await rs('      user mon\n      password x\n      password_file /etc/hostname');
  has(r, 'error: MYSQL_CHECK takes password or password_file, not both');
  r = await rs('      user mon\n      querry "SELECT 1"');
  has(r, "error: unknown keyword 'querry' in MYSQL_CHECK (did you mean 'query'?)");
  r = await rs('      password x');
  has(r, "lacks required 'user'");
  r = await rs('      user mon\n      tls_cert /etc/hostname');
  has(r, 'error: MYSQL_CHECK: tls_cert and tls_key go together');
  r = await rs('      user mon\n      replica_max_lag -1');
  assert.ok(
    r.errors.some((l) => /replica_max_lag|-1/.test(l)),
    r.lines.join('\n'),
  );
  const { config } = await mysqlConfig(
    '      user mon\n      password_file /etc/hostname\n      database mysql\n      connect_timeout 2\n      replica_max_lag 30\n      replica_io_running yes\n      replica_sql_running yes\n      read_only on\n      tls yes\n      tls_verify no',
    3306,
  );
  assert.equal(config.query, 'SELECT 1');
  assert.deepEqual(
    [
      config.user,
      config.passwordFile,
      config.database,
      config.connectTimeout,
      config.replicaMaxLag,
      config.replicaIoRunning,
      config.replicaSqlRunning,
      config.readOnly,
      config.tls,
      config.tlsVerify,
    ],
    ['mon', '/etc/hostname', 'mysql', 2, 30, true, true, true, true, false],
  );
});

test('secrets in server messages are masked: quoted passwords of statements, and the configured password', () => {
  assert.equal(
    maskSecrets("Error 'x' on query. Query: 'CREATE USER 'mon'@'%' IDENTIFIED BY 'S3cret''", 'zzz'),
    "Error 'x' on query. Query: 'CREATE USER 'mon'@'%' IDENTIFIED BY '***''",
  );
  assert.equal(maskSecrets("SET PASSWORD FOR a = PASSWORD('abc')"), "SET PASSWORD FOR a = PASSWORD('***')");
  assert.equal(maskSecrets("CHANGE MASTER TO MASTER_PASSWORD='p'"), "CHANGE MASTER TO MASTER_PASSWORD='***'");
  assert.equal(maskSecrets('the hunter2 went', 'hunter2'), 'the *** went');
});

test('the password never reaches a log record nor a config dump (-d)', async () => {
  const text = `virtual_server 10.0.0.1 3306 {\n  real_server 10.0.0.2 3306 {\n    MYSQL_CHECK {\n      user mon\n      password ${PASSWORD}\n    }\n  }\n}\n`;
  const r = await compileText(text);
  noErrors(r);
  await r.pluginHost.close();
  assert.ok(!dumpTree(r.tree).includes(PASSWORD), dumpTree(r.tree));
  const config = r.model!.virtualServer[0]!.realServer[0]!.extensions[0]!.value;
  const { log, records } = memoryLogger('debug');
  log.info({ checker: 'MYSQL_CHECK', config }, 'a plugin that logs its whole config');
  assert.ok(!JSON.stringify(records).includes(PASSWORD), JSON.stringify(records));
});

test('a good login answers SELECT 1; one connection serves every check; close() ends it', async () => {
  const { c, check } = await checker(`      user mon\n      password ${PASSWORD}`, primary);
  for (let i = 0; i < 3; i++) {
    const r = await check();
    assert.equal(r.ok, true, r.message);
    assert.match(r.message!, /^MYSQL_CHECK 127\.0\.0\.1:\d+: SELECT 1 ok$/);
  }
  assert.equal(connections(primary, 'mon'), 1, 'one connection reused');
  await c.close!();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(connections(primary, 'mon'), 0, 'closed');
});

test('a reload (the afterReload hook the plugin taps) closes every connection; the next check logs in again', async () => {
  primary.sql(`CREATE USER 'reloadmon'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT USAGE ON *.* TO 'reloadmon'@'%';`);
  const { c, check } = await checker(`      user reloadmon\n      password ${PASSWORD}`, primary);
  assert.equal((await check()).ok, true);
  assert.equal(connections(primary, 'reloadmon'), 1);
  const host = new PluginHost({ log: silentLogger });
  await host.apply(checkMysql, { builtin: true });
  await host.hooks.afterReload.promise({ files: [], time: Date.now() });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(connections(primary, 'reloadmon'), 0, 'closed by the reload');
  assert.equal((await check()).ok, true);
  assert.equal(connections(primary, 'reloadmon'), 1, 'logged in again');
  await host.close();
  await c.close!();
});

test("a wrong password fails with the server's words and never shows the password", async () => {
  const { check } = await checker(`      user mon\n      password wrong-${PASSWORD}`, primary);
  const r = await check();
  assert.equal(r.ok, false);
  assert.match(r.message!, /Access denied for user 'mon'@'127\.0\.0\.1' \(using password: YES\) \(ER_ACCESS_DENIED_ERROR\)/);
  assert.ok(!r.message!.includes(PASSWORD));
});

test('password_file: read at each new connection; a missing file fails the check', async () => {
  const file = path.join(root, 'pw');
  fs.writeFileSync(file, `${PASSWORD}\n`);
  const { c, check } = await checker(`      user mon\n      password_file ${file}`, primary);
  assert.equal((await check()).ok, true);
  fs.rmSync(file);
  // the kept connection goes on
  assert.equal((await check()).ok, true);
  // a new connection (after a reload closed them all) reads it again
  (await import('../../plugins/check-mysql/checker')).closeAllConnections();
  const r = await check();
  assert.equal(r.ok, false);
  assert.match(r.message!, /cannot read password_file .*pw: ENOENT/);
  await c.close!();
});

test('read_only: expected off on the primary, on after SET GLOBAL read_only, and the other way round', async () => {
  const off = await checker(`      user mon\n      password ${PASSWORD}\n      read_only off`, primary);
  const on = await checker(`      user mon\n      password ${PASSWORD}\n      read_only on`, primary);
  assert.equal((await off.check()).ok, true);
  let r = await on.check();
  assert.equal(r.ok, false);
  assert.match(r.message!, /read_only is OFF, expected ON/);
  primary.sql('SET GLOBAL read_only = 1');
  try {
    r = await off.check();
    assert.equal(r.ok, false);
    assert.match(r.message!, /read_only is ON, expected OFF/);
    assert.equal((await on.check()).ok, true);
  } finally {
    primary.sql('SET GLOBAL read_only = 0');
  }
  assert.equal((await off.check()).ok, true);
});

test('a query that hangs is aborted at the timeout; its connection is dropped, the next check logs in again', async () => {
  const { check } = await checker(`      user mon\n      password ${PASSWORD}\n      query "SELECT SLEEP(20)"`, primary);
  const at = Date.now();
  const r = await check(500);
  assert.equal(r.ok, false);
  assert.match(r.message!, /timed out running 'SELECT SLEEP\(20\)'/);
  assert.ok(Date.now() - at < 2000, `settled after ${Date.now() - at} ms`);
});

test('replication conditions on a real replica: threads running and lag within the limit; the SQL thread stopped fails; a server that is no replica fails', async () => {
  const body = `      user mon\n      password ${PASSWORD}\n      replica_io_running yes\n      replica_sql_running yes\n      replica_max_lag 10`;
  const rep = await checker(body, replica);
  let r: CheckResult | undefined;
  // the replica connects to the primary within a moment
  for (let i = 0; i < 50; i++) {
    r = await rep.check();
    if (r.ok) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r!.ok, true, r!.message);
  assert.match(r!.message!, /lag 0 s, replica IO Yes, SQL Yes/);
  replica.sql('STOP SLAVE SQL_THREAD');
  try {
    r = await rep.check();
    assert.equal(r.ok, false);
    assert.match(r.message!, /replica SQL thread not running \(No\)/);
    // without the thread conditions, the lag alone is unknown
    const lagOnly = await checker(`      user mon\n      password ${PASSWORD}\n      replica_max_lag 10`, replica);
    r = await lagOnly.check();
    assert.equal(r.ok, false);
    assert.match(r.message!, /replica lag unknown/);
  } finally {
    replica.sql('START SLAVE SQL_THREAD');
  }
  const prim = await checker(body, primary);
  r = await prim.check();
  assert.equal(r.ok, false);
  assert.match(r.message!, /not a replica/);
});

test('the server stopped: connection refused; started again: the check logs in again', async () => {
  const dir = path.join(root, 'third');
  let db = await startMariaDb(dir, { serverId: 3 });
  db.sql(`CREATE USER 'mon'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT ALL ON *.* TO 'mon'@'%';`);
  const port = db.port;
  const { check } = await checker(`      user mon\n      password ${PASSWORD}`, db);
  assert.equal((await check()).ok, true);
  await db.stop();
  let r = await check();
  assert.equal(r.ok, false);
  r = await check();
  assert.equal(r.ok, false);
  assert.match(r.message!, /connection refused \(ECONNREFUSED\)/);
  fs.rmSync(dir, { recursive: true, force: true });
  db = await startMariaDb(dir, { serverId: 3, port });
  try {
    db.sql(`CREATE USER 'mon'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT ALL ON *.* TO 'mon'@'%';`);
    r = await check();
    assert.equal(r.ok, true, r.message);
  } finally {
    await db.stop();
  }
});

// ---------------------------------------------------------------------------
// TLS

const login = (user: string) => `      user ${user}\n      password ${PASSWORD}`;

test('TLS: tls_ca verifies the chain and the address (the certificate carries IP 127.0.0.1, not 127.0.0.2); an account that REQUIRE SSL logs in; tls_server_name verifies that name instead', async () => {
  assert.match(tlsDb.sql("SHOW GLOBAL VARIABLES LIKE 'have_ssl'"), /YES/, 'the server offers TLS');
  let r = await (await checker(`${login('tlsmon')}\n      tls_ca ${pki.ca.certFile}`, tlsDb)).check();
  assert.equal(r.ok, true, r.message);
  assert.match(r.message!, /SELECT 1 ok$/);
  r = await (await checker(`${login('tlsmon')}\n      tls_ca ${pki.ca.certFile}`, tlsDb, '127.0.0.2')).check();
  assert.equal(r.ok, false);
  assert.match(
    r.message!,
    /^MYSQL_CHECK 127\.0\.0\.2:\d+: TLS: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.2 is not in the cert's list: .* \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
  );
  r = await (await checker(`${login('tlsmon')}\n      tls_ca ${pki.ca.certFile}\n      tls_server_name db.example.test`, tlsDb, '127.0.0.2')).check();
  assert.equal(r.ok, true, r.message);
  r = await (await checker(`${login('tlsmon')}\n      tls_ca ${pki.ca.certFile}\n      tls_server_name other.example.test`, tlsDb)).check();
  assert.equal(r.ok, false);
  assert.match(
    r.message!,
    /^MYSQL_CHECK 127\.0\.0\.1:\d+: TLS: Hostname\/IP does not match certificate's altnames: Host: other\.example\.test\. is not in the cert's altnames: DNS:db\.example\.test, IP Address:127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
  );
});

test('TLS: a CA that did not sign the server certificate fails the check and says so; tls_verify no accepts it', async () => {
  let r = await (await checker(`${login('tlsmon')}\n      tls_ca ${pki.otherCa.certFile}`, tlsDb)).check();
  assert.equal(r.ok, false);
  assert.equal(
    r.message,
    `MYSQL_CHECK 127.0.0.1:${tlsDb.port}: TLS: the server certificate is not trusted (tls_ca ${pki.otherCa.certFile}): self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)`,
  );
  r = await (await checker(`${login('tlsmon')}\n      tls_ca ${pki.otherCa.certFile}\n      tls_verify no`, tlsDb)).check();
  assert.equal(r.ok, true, r.message);
});

test('TLS: an account that REQUIRE SSL is refused without TLS; one that REQUIRE X509 needs the client certificate (tls_cert, tls_key)', async () => {
  let r = await (await checker(login('tlsmon'), tlsDb)).check();
  assert.equal(r.ok, false);
  assert.match(r.message!, /Access denied for user 'tlsmon'@'127\.0\.0\.1' \(using password: YES\) \(ER_ACCESS_DENIED_ERROR\)/);
  r = await (await checker(`${login('x509mon')}\n      tls_ca ${pki.ca.certFile}`, tlsDb)).check();
  assert.equal(r.ok, false);
  assert.match(r.message!, /Access denied for user 'x509mon'/);
  r = await (
    await checker(`${login('x509mon')}\n      tls_ca ${pki.ca.certFile}\n      tls_cert ${pki.client.certFile}\n      tls_key ${pki.client.keyFile}`, tlsDb)
  ).check();
  assert.equal(r.ok, true, r.message);
});

test('TLS asked of a server that offers none fails and says so', async () => {
  assert.doesNotMatch(primary.sql("SHOW GLOBAL VARIABLES LIKE 'have_ssl'"), /YES/);
  const r = await (await checker(`${login('mon')}\n      tls yes`, primary)).check();
  assert.equal(r.ok, false);
  assert.equal(r.message, `MYSQL_CHECK 127.0.0.1:${primary.port}: TLS: the server does not offer it (HANDSHAKE_NO_SSL_SUPPORT)`);
});

test('bindto: the connection comes from that address', async () => {
  const from2 = (): number => Number(primary.sql("SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'mon' AND host LIKE '127.0.0.2:%'"));
  assert.equal(from2(), 0);
  const { c, check } = await checker(`${login('mon')}\n      bindto 127.0.0.2`, primary);
  assert.equal((await check()).ok, true);
  assert.equal(from2(), 1);
  await c.close!();
});
