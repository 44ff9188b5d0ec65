import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Lab } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { drRealServer, holdConnection, ipvsadm, startHttpServer, stopProcess, until } from './lab-net';

/**
 * lvs_sync_daemon inside the VM: an LVS-DR director pair (d1, d2), each in
 * its own network namespace and so with its own IPVS table and sync daemon,
 * one real HTTP server and a client on one lab link. The sync daemons
 * follow VI_1: master on the MASTER, backup on the BACKUP (the master's
 * comes with a reload, while it is MASTER). A connection
 * made through the master is entered in the backup's table by the kernel's
 * sync, and goes on through the backup after a failover. Then, on the node
 * left: FAULT, reloads (changed settings, the keyword removed, the old
 * instance keyword) and the stop, each seen in the kernel with ipvsadm.
 */

const VIP = '10.99.0.100';
const VRID = 71;

let lab: Lab;
let vl: VrrpLab;
let dir: string;
let d1: LabDaemon;
let d2: LabDaemon;
let faultFile: string;

function config(priority: number, opts: { global?: string; inInstance?: string } = {}): string {
  const global = opts.global ?? `lvs_sync_daemon eth0 inst VI_1`;
  return `global_defs {
  ${global}
}
track_file maint {
  file ${faultFile}
  weight 0
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id ${VRID}
  priority ${priority}
  advert_int 1
  track_file {
    maint
  }
${opts.inInstance ?? ''}  virtual_ipaddress {
    ${VIP}/32
  }
}
virtual_server ${VIP} 80 {
  protocol TCP
  lvs_sched rr
  lvs_method DR
  delay_loop 1
  real_server 10.99.0.11 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;
}

/** the sync daemon controller alone in a namespace, against what an earlier run left: what it logs and what the kernel has at each step */
const ADOPT = `
const { LvsSyncDaemon } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'core', 'ipvs', 'sync-daemon.js'))});
const { IpvsClient } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'core', 'ipvs', 'client.js'))});
const { createLogger } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'core', 'log', 'logger.js'))});
(async () => {
  const msgs = [];
  const log = createLogger([{ write: (r) => msgs.push(r.msg) }], 'debug');
  const c = await IpvsClient.open();
  const kernel = async () => (await c.syncDaemons()).map((d) => d.state + ' ' + d.syncId).sort().join(', ');
  const steps = {};
  const s = new LvsSyncDaemon({ log });
  await s.configure({ interface: 'eth0', instance: 'VI_X', syncId: 7, keyword: 'lvs_sync_daemon' });
  steps.start = await kernel();
  s.instanceState('VI_X', 'MASTER');
  await s.idle();
  steps.master = await kernel();
  // left running: the test compares the client's reading with ipvsadm's
  const daemons = await c.syncDaemons();
  c.close();
  console.log(JSON.stringify({ steps, msgs, daemons }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** `ipvsadm -L --daemon` in a director, one line per sync daemon */
function daemons(host: string): string[] {
  return ipvsadm(lab.host(host).ns, '-L', '--daemon')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

async function waitDaemons(host: string, want: RegExp[], what: string, timeoutMs = 30_000): Promise<void> {
  try {
    await until(
      what,
      () => {
        const got = daemons(host);
        return got.length === want.length && want.every((re) => got.some((l) => re.test(l)));
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    const d = host === 'd1' ? d1 : d2;
    throw new Error(`${(err as Error).message}: ipvsadm --daemon in ${host} says ${JSON.stringify(daemons(host))}\n${d.lines.slice(-20).join('\n')}`);
  }
}

/** rewrites a daemon's config and reloads it; resolves once the reload is complete */
async function reload(d: LabDaemon, text: string): Promise<void> {
  const before = d.lines.filter((l) => /Reload complete/.test(l)).length;
  fs.writeFileSync(d.config, text);
  vl.signal(d, 'SIGHUP');
  await until('the reload', () => d.lines.filter((l) => /Reload complete/.test(l)).length > before, 30_000);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-lvssync-'));
  faultFile = path.join(dir, 'maint');
  fs.writeFileSync(faultFile, '0\n');
  lab = await Lab.create({
    name: 'lvssync',
    hosts: [
      { name: 'client', ip: '10.99.0.10' },
      { name: 'd1', ip: '10.99.0.2' },
      { name: 'd2', ip: '10.99.0.3' },
      { name: 'rs1', ip: '10.99.0.11' },
    ],
  });
  vl = new VrrpLab(lab, dir);
  drRealServer(lab, 'rs1', VIP);
  await startHttpServer(lab, 'rs1', 'rs1', 80);
  // d1 starts without the keyword: a reload brings it to the instance, MASTER by then
  d1 = vl.startAlived('d1', config(150, { global: '' }));
  d2 = vl.startAlived('d2', config(100));
  try {
    await vl.waitHolder(VIP, 'd1', 60_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${[d1, d2].map((d) => `--- ${d.host.name}\n${d.lines.slice(-25).join('\n')}`).join('\n')}`);
  }
});

after(async () => {
  for (const d of vl?.daemons ?? []) if (d.proc.exitCode === null) await stopProcess(d.proc, 'SIGKILL');
  await lab?.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the master runs the master sync daemon, the backup the backup one, with the VRID as sync id; a reload brings it to a running MASTER', async () => {
  assert.deepEqual(daemons('d1'), [], 'no lvs_sync_daemon, no sync daemon');
  await reload(d1, config(150));
  await waitDaemons('d1', [new RegExp(`^master sync daemon \\(mcast=eth0, syncid=${VRID}\\b`)], 'the master sync daemon in d1');
  await waitDaemons('d2', [new RegExp(`^backup sync daemon \\(mcast=eth0, syncid=${VRID}\\b`)], 'the backup sync daemon in d2');
});

test('at start, a sync daemon left running as configured is kept, another stopped; GET_DAEMON reads what ipvsadm reads', async () => {
  // what an earlier run left in this namespace: a master with another id, a backup as configured
  const ns = lab.host('client').ns;
  ipvsadm(ns, '--start-daemon', 'master', '--mcast-interface', 'eth0', '--syncid', '5');
  ipvsadm(ns, '--start-daemon', 'backup', '--mcast-interface', 'eth0', '--syncid', '7');
  const r = await lab.exec('client', [process.execPath, '-e', ADOPT], 60_000);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { steps: Record<string, string>; msgs: string[]; daemons: Array<Record<string, unknown>> };
  assert.deepEqual(out.steps, { start: 'backup 7', master: 'master 7' }, out.msgs.join('\n'));
  assert.ok(out.msgs.includes('the IPVS backup sync daemon on eth0 (id 7) already runs as configured: kept'), out.msgs.join('\n'));
  assert.ok(
    out.msgs.some((m) => m.startsWith('IPVS master sync daemon on eth0 (id 5) stopped')),
    out.msgs.join('\n'),
  );
  const line = daemons('client');
  ipvsadm(ns, '--stop-daemon', 'master');
  assert.equal(line.length, 1, line.join('\n'));
  const d = out.daemons[0]!;
  assert.equal(line[0], `master sync daemon (mcast=eth0, syncid=7, maxlen=${d.maxlen}, group=${d.group}, port=${d.port}, ttl=${d.ttl})`);
  assert.deepEqual([d.state, d.group, d.port, d.ttl], ['master', '224.0.0.81', 8848, 1]);
});

test("a connection made through the master enters the backup's table, and goes on through it after a failover", async () => {
  const conn = await holdConnection(lab, 'client', VIP, 80);
  const entry = (host: string): boolean =>
    ipvsadm(lab.host(host).ns, '-Lnc')
      .split('\n')
      .some((l) => l.includes(`${VIP}:80`) && l.includes('10.99.0.10:') && l.includes('10.99.0.11:80'));
  await until('the connection in the master', () => entry('d1'), 10_000, 100);
  // the kernel syncs a connection at its third packet and sends within 2 s
  const ms = await until("the connection in the backup's table", () => entry('d2'), 30_000, 100);
  console.log(`# the connection appeared in the backup's table ${ms} ms after it was seen in the master's`);
  // the master stops: it stops its sync daemon; the backup takes over and becomes the sync master
  vl.signal(d1, 'SIGTERM');
  await vl.waitHolder(VIP, 'd2', 30_000);
  await waitDaemons('d2', [new RegExp(`^master sync daemon \\(mcast=eth0, syncid=${VRID}\\b`)], 'd2 to switch to master');
  // the figure: from the instance's transition to the master sync daemon, by the daemon's own log stamps
  const stamp = (re: RegExp): number | undefined => {
    const l = d2.lines.find((x) => re.test(x));
    return l ? Date.parse(l.split(' ')[0]!) : undefined;
  };
  await until('the log line of the switch', () => stamp(/IPVS master sync daemon .* started/) !== undefined, 10_000);
  const entered = stamp(/\(VI_1\) Entering MASTER STATE/);
  const switched = stamp(/IPVS master sync daemon .* started/);
  if (entered !== undefined && switched !== undefined) console.log(`# d2: MASTER to master sync daemon ${switched - entered} ms (log stamps)`);
  await d1.exited;
  assert.deepEqual(daemons('d1'), [], 'the stopped director left no sync daemon');
  // the rest of the request goes to d2, which knows the connection: the same real server answers it
  const reply = await conn.finish();
  assert.match(reply, /^reply ".*rs1"$/s);
});

test('FAULT brings the backup sync daemon; a reload applies changed settings, one without the keyword stops it; the old instance keyword; the stop', async () => {
  // d2 is MASTER alone: its instance goes to FAULT
  fs.writeFileSync(faultFile, '1\n');
  await waitDaemons('d2', [new RegExp(`^backup sync daemon \\(mcast=eth0, syncid=${VRID}\\b`)], 'FAULT to bring the backup sync daemon');
  await reload(d2, config(100, { global: 'lvs_sync_daemon eth0 inst VI_1 id 9 port 8900 ttl 2' }));
  await waitDaemons('d2', [/^backup sync daemon \(mcast=eth0, syncid=9\b.*port=8900/], 'the changed settings');
  await reload(d2, config(100, { global: 'router_id d2' }));
  await waitDaemons('d2', [], 'no sync daemon once the keyword is gone');
  // keepalived's old form: the instance's own keyword, the VRID as id; out of FAULT: master
  fs.writeFileSync(faultFile, '0\n');
  await reload(d2, config(100, { global: 'router_id d2', inInstance: '  lvs_sync_daemon_interface eth0\n' }));
  await waitDaemons('d2', [new RegExp(`^master sync daemon \\(mcast=eth0, syncid=${VRID}\\b`)], 'the master sync daemon from lvs_sync_daemon_interface');
  vl.signal(d2, 'SIGTERM');
  await d2.exited;
  assert.deepEqual(daemons('d2'), [], 'the stop stopped the sync daemon');
});
