import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Lab } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { destinations, drRealServer, ipvsadm, requests, startHttpServer, stopProcess, until } from './lab-net';

/**
 * An LVS-DR director pair inside the VM: two alived nodes with one VRRP
 * instance and the same virtual server, two real HTTP servers that hold
 * the virtual address on lo (and do not answer ARP for it), a client, all
 * on one lab link. Each director has its own network namespace, so its own
 * IPVS table. The backup programs its pool before it is MASTER, so when
 * the master dies, traffic flows through the backup as soon as it holds
 * the address.
 */

const VIP = '10.99.0.100';
const SERVICE = `${VIP}:80`;

let lab: Lab;
let vl: VrrpLab;
const daemons: LabDaemon[] = [];

function config(priority: number): string {
  return `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
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
  real_server 10.99.0.12 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;
}

before(async () => {
  lab = await Lab.create({
    name: 'lvsdr',
    hosts: [
      { name: 'client', ip: '10.99.0.10' },
      { name: 'd1', ip: '10.99.0.2' },
      { name: 'd2', ip: '10.99.0.3' },
      { name: 'rs1', ip: '10.99.0.11' },
      { name: 'rs2', ip: '10.99.0.12' },
    ],
  });
  vl = new VrrpLab(lab, fs.mkdtempSync(path.join(os.tmpdir(), 'alived-lvsdr-')));
  for (const rs of ['rs1', 'rs2']) {
    drRealServer(lab, rs, VIP);
    await startHttpServer(lab, rs, rs, 80);
  }
  await vl.watch();
  daemons.push(vl.startAlived('d1', config(150)));
  daemons.push(vl.startAlived('d2', config(100)));
  try {
    await vl.waitHolder(VIP, 'd1', 60_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${daemons.map((d) => `--- ${d.host.name}\n${d.lines.slice(-25).join('\n')}`).join('\n')}`);
  }
});

after(async () => {
  for (const d of daemons) if (d.proc.exitCode === null) await stopProcess(d.proc, 'SIGKILL');
  await lab?.destroy();
});

test('both directors program the pool; the master holds the VIP and serves, round robin', async () => {
  for (const ns of [lab.host('d1').ns, lab.host('d2').ns]) {
    await until(`the pool in ${ns}`, () => destinations(ns, SERVICE).join(',') === '10.99.0.11:80 1,10.99.0.12:80 1', 30_000);
  }
  assert.match(ipvsadm(lab.host('d2').ns, '-Ln'), /-> 10\.99\.0\.11:80 +Route +1/);
  const r = await requests(lab, 'client', `http://${VIP}/`, 10);
  assert.deepEqual(r, { counts: { rs1: 5, rs2: 5 }, errors: 0 });
});

test('the master dies: the backup takes over the VIP and its pool, already programmed, serves at once', async () => {
  const d2ns = lab.host('d2').ns;
  const conns = (): number => Number(/TCP {2}10\.99\.0\.100:80 +(\d+) /.exec(ipvsadm(d2ns, '-Ln', '--stats'))?.[1] ?? -1);
  assert.equal(conns(), 0, 'the backup forwarded nothing yet');
  const poolBefore = destinations(d2ns, SERVICE);
  vl.crash('d1', [VIP]);
  await vl.waitHolder(VIP, 'd2', 30_000);
  assert.deepEqual(destinations(d2ns, SERVICE), poolBefore, 'the pool was there before the takeover, unchanged by it');
  const r = await requests(lab, 'client', `http://${VIP}/`, 10);
  assert.equal(r.errors, 0);
  assert.deepEqual(r.counts, { rs1: 5, rs2: 5 });
  await until('the backup to count the connections', () => conns() >= 10, 10_000, 250);
});
