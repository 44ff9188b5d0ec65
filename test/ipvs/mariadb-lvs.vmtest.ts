import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Lab } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { labSpawner } from '../helpers/container-host';
import { startMariaDb, type MariaDb } from '../helpers/services';
import { destinations, drRealServer, until } from './lab-net';

/**
 * examples/mariadb-lvs as shipped, inside the VM: alived on the director
 * with the example's keepalived.conf unchanged (its password file written
 * where it says, on the guest's own root), Debian's mariadbd as primary
 * (10.0.0.11) and replica (10.0.0.12) in lab namespaces, the monitor
 * account with the grants the README gives, and a client that logs in
 * through the write address (10.0.0.100) and the read address (10.0.0.101).
 * A real server stopped leaves its pool, started again it comes back; the
 * replica's SQL thread stopped takes it out of the read pool; promoted
 * (read_only off), it joins the write pool.
 */

const EXAMPLE = path.join(__dirname, '..', '..', '..', 'examples', 'mariadb-lvs', 'keepalived.conf');
const WRITES = '10.0.0.100:3306';
const READS = '10.0.0.101:3306';
const PASSWORD_FILE = '/etc/alived/mysql-monitor.pass';
const MONITOR_PASSWORD = 'm0nitor-pw';
// delay_loop 2, connect_timeout 2, and emulation (TCG)
const CHANGE_MS = 30_000;

let lab: Lab;
let vl: VrrpLab;
let daemon: LabDaemon;
let lvsNs: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-mariadb-lvs-'));
const db: Record<string, MariaDb> = {};

function startDb(host: string, serverId: number, extra: string[] = []): Promise<MariaDb> {
  return startMariaDb(path.join(dir, host), {
    serverId,
    port: 3306,
    bindAddress: '0.0.0.0',
    spawner: labSpawner(lab, host),
    ...(serverId === 1 ? { logBin: true } : {}),
    extraArgs: extra,
  });
}

/** `SELECT @@server_id` through an address, as the client (the app account); undefined when no server answered */
async function serverBehind(address: string): Promise<string | undefined> {
  const r = await lab.exec(
    'client',
    ['mariadb', '-h', address, '-u', 'app', '-papp-pw', '--connect-timeout=3', '-N', '-B', '-e', 'SELECT @@server_id'],
    20_000,
  );
  return r.code === 0 ? r.stdout.trim() : undefined;
}

const pool = (service: string): string => destinations(lvsNs, service).join(',');

before(async () => {
  assert.equal(process.env.ALIVED_IN_VM, '1', 'this test runs inside the IPVS VM (test/vm/ipvs.test.ts): it writes /etc/alived on the guest');
  lab = await Lab.create({
    name: 'mdblvs',
    hosts: [
      { name: 'client', ip: '10.0.0.10' },
      { name: 'lvs1', ip: '10.0.0.2' },
      { name: 'db1', ip: '10.0.0.11' },
      { name: 'db2', ip: '10.0.0.12' },
    ],
  });
  lvsNs = lab.host('lvs1').ns;
  for (const h of ['db1', 'db2']) drRealServer(lab, h, '10.0.0.100', '10.0.0.101');
  db.db1 = await startDb('db1', 1);
  db.db1.sql(
    [
      // the monitor account of the example's README, and nothing more
      `CREATE USER 'monitor'@'10.0.0.%' IDENTIFIED BY '${MONITOR_PASSWORD}'`,
      `GRANT REPLICATION CLIENT, SLAVE MONITOR ON *.* TO 'monitor'@'10.0.0.%'`,
      `CREATE USER 'app'@'10.0.0.%' IDENTIFIED BY 'app-pw'`,
      `GRANT SELECT ON *.* TO 'app'@'10.0.0.%'`,
      `CREATE USER 'repl'@'10.0.0.%' IDENTIFIED BY 'repl-pw'`,
      `GRANT REPLICATION SLAVE ON *.* TO 'repl'@'10.0.0.%'`,
    ].join('; '),
  );
  // the replica gets the accounts from the primary's binary log
  db.db2 = await startDb('db2', 2, ['--read-only']);
  db.db2.sql(
    `CHANGE MASTER TO MASTER_HOST='10.0.0.11', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE`,
  );
  fs.mkdirSync(path.dirname(PASSWORD_FILE), { recursive: true });
  fs.writeFileSync(PASSWORD_FILE, `${MONITOR_PASSWORD}\n`, { mode: 0o600 });

  vl = new VrrpLab(lab, path.join(dir, 'alived'));
  await vl.watch();
  daemon = vl.startAlived('lvs1', fs.readFileSync(EXAMPLE, 'utf8'));
  try {
    await vl.waitHolder('10.0.0.100', 'lvs1', 60_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${daemon.lines.slice(-25).join('\n')}`);
  }
});

after(async () => {
  for (const s of Object.values(db)) await s.stop();
  await lab?.destroy();
  fs.rmSync(PASSWORD_FILE, { force: true });
});

/** waits for a pool; on timeout, says what the daemon last logged */
async function poolIs(service: string, want: string, what: string): Promise<number> {
  try {
    return await until(what, () => pool(service) === want, CHANGE_MS, 250);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${service} has [${pool(service)}], want [${want}]\n${daemon.lines.slice(-20).join('\n')}`);
  }
}

test('writes go to the primary only (the replica is read_only), reads to the replica; a client reaches each through its address', async () => {
  await poolIs(WRITES, '10.0.0.11:3306 1', 'the write pool');
  await poolIs(READS, '10.0.0.12:3306 1', 'the read pool');
  assert.equal(await serverBehind('10.0.0.100'), '1', 'the write address answers from the primary');
  assert.equal(await serverBehind('10.0.0.101'), '2', 'the read address answers from the replica');
  assert.ok(!daemon.lines.some((l) => l.includes(MONITOR_PASSWORD)), 'the password is never logged');
});

test('the primary stopped leaves the write pool and clients get no server; started again, it comes back', async () => {
  await db.db1!.stop();
  const gone = await poolIs(WRITES, '', 'the stopped primary to leave the write pool');
  assert.equal(await serverBehind('10.0.0.100'), undefined, 'no server behind the write address');
  db.db1 = await startDb('db1', 1);
  const back = await poolIs(WRITES, '10.0.0.11:3306 1', 'the primary to come back');
  assert.equal(await serverBehind('10.0.0.100'), '1');
  process.stdout.write(
    `# mariadb-lvs: primary killed -> out of the pool in ${gone} ms; started -> back ${back} ms after it answered (delay_loop 2, under emulation)\n`,
  );
});

test("the replica's SQL thread stopped takes it out of the read pool, started it returns; promoted (read_only off) it joins the write pool, demoted it leaves", async () => {
  await poolIs(READS, '10.0.0.12:3306 1', 'the read pool');
  db.db2!.sql('STOP SLAVE SQL_THREAD');
  await poolIs(READS, '', 'the replica to leave the read pool');
  assert.equal(await serverBehind('10.0.0.101'), undefined);
  db.db2!.sql('START SLAVE SQL_THREAD');
  await poolIs(READS, '10.0.0.12:3306 1', 'the replica to return to the read pool');
  db.db2!.sql('SET GLOBAL read_only = 0');
  await poolIs(WRITES, '10.0.0.11:3306 1,10.0.0.12:3306 1', 'the promoted replica to join the write pool');
  db.db2!.sql('SET GLOBAL read_only = 1');
  await poolIs(WRITES, '10.0.0.11:3306 1', 'the demoted replica to leave the write pool');
});
