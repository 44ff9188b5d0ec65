import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Lab } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { destinations, ipvsadm, startHttpServer, until } from './lab-net';

/**
 * The reconciler's other inputs against the VM's kernel, one director and
 * two real servers: lvs_flush at start, a virtual_server_group (one kernel
 * service per address), MISC_CHECK's misc_dynamic weights, and ha_suspend
 * (the pool is in the kernel only while this node is MASTER of the instance that holds
 * the address; a track_file moves the instance in and out of FAULT).
 */

const VIP = '10.97.0.100';
const VIP2 = '10.97.0.101';
const SOLO = '10.97.0.102';

let lab: Lab;
let vl: VrrpLab;
let ns: string;
let d: LabDaemon;
let dir: string;

before(async () => {
  lab = await Lab.create({
    name: 'lvsfeat',
    hosts: [
      { name: 'dir', ip: '10.97.0.2' },
      { name: 'rs1', ip: '10.97.0.11' },
      { name: 'rs2', ip: '10.97.0.12' },
    ],
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-lvsfeat-'));
  fs.chmodSync(dir, 0o755);
  vl = new VrrpLab(lab, dir);
  ns = lab.host('dir').ns;
  await startHttpServer(lab, 'rs1', 'rs1', 80);
  await startHttpServer(lab, 'rs2', 'rs2', 80);
  // someone else's service: lvs_flush removes it
  ipvsadm(ns, '-A', '-t', '10.97.0.200:443', '-s', 'rr');
  fs.writeFileSync(path.join(dir, 'weight'), '5\n');
  fs.writeFileSync(path.join(dir, 'fault'), '0\n');
  // misc_dynamic: the exit status is the weight + 2
  fs.writeFileSync(path.join(dir, 'dyn.sh'), `#!/bin/sh\nexit $(( $(cat ${dir}/weight) + 2 ))\n`, { mode: 0o755 });
  const conf = `global_defs {
  lvs_flush
}
track_file fault {
  file ${dir}/fault
  weight 0
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 71
  priority 150
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${SOLO}/32
  }
  track_file {
    fault
  }
}
virtual_server_group G {
  ${VIP} 80
  ${VIP2} 80
}
virtual_server group G {
  protocol TCP
  lvs_sched wrr
  lvs_method DR
  delay_loop 1
  real_server 10.97.0.11 80 {
    weight 1
    MISC_CHECK {
      misc_path ${dir}/dyn.sh
      misc_dynamic
    }
  }
  real_server 10.97.0.12 80 {
    weight 3
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
virtual_server ${SOLO} 80 {
  protocol TCP
  lvs_sched rr
  lvs_method DR
  delay_loop 1
  ha_suspend
  real_server 10.97.0.11 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 10.97.0.12 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;
  d = vl.startAlived('dir', conf, ['-D']);
});

/** until(), and on a timeout the table and the daemon's lines say why */
async function waitFor(what: string, probe: () => boolean, ms: number): Promise<void> {
  try {
    await until(what, probe, ms);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${ipvsadm(ns, '-Ln')}\n${d.lines.filter((l) => /IPVS|VI_1|ha_suspend|Entering|error/i.test(l)).slice(-30).join('\n')}`);
  }
}

after(async () => {
  if (d && d.proc.exitCode === null && d.proc.signalCode === null) {
    vl.signal(d, 'SIGTERM');
    await d.exited;
  }
  await lab?.destroy();
});

test('lvs_flush: the table starts empty of what was there; virtual_server_group: one kernel service per address, each with the pool', async () => {
  await waitFor('both group services', () => destinations(ns, `${VIP}:80`).length === 2 && destinations(ns, `${VIP2}:80`).length === 2, 30_000);
  assert.ok(!ipvsadm(ns, '-Ln').includes('10.97.0.200:443'), 'the foreign service was flushed');
  // misc_dynamic: weight 5 from the script, not the configured 1
  await waitFor('the misc_dynamic weight', () => destinations(ns, `${VIP}:80`).includes('10.97.0.11:80 5'), 15_000);
  assert.deepEqual(destinations(ns, `${VIP2}:80`), ['10.97.0.11:80 5', '10.97.0.12:80 3']);
});

test('misc_dynamic: a new exit status changes the weight in the kernel, in every service of the group', async () => {
  fs.writeFileSync(path.join(dir, 'weight'), '9\n');
  await waitFor('weight 9', () => destinations(ns, `${VIP}:80`).includes('10.97.0.11:80 9') && destinations(ns, `${VIP2}:80`).includes('10.97.0.11:80 9'), 15_000);
});

test('ha_suspend: the pool is in the kernel only while this node is MASTER of the instance holding the address', async () => {
  // MASTER alone: the pool is programmed
  await waitFor('the ha_suspend service', () => destinations(ns, `${SOLO}:80`).length === 2, 30_000);
  assert.deepEqual(destinations(ns, `${SOLO}:80`), ['10.97.0.11:80 1', '10.97.0.12:80 1']);
  // FAULT: the service leaves the kernel; back to MASTER, it returns
  fs.writeFileSync(path.join(dir, 'fault'), '1\n');
  await vl.waitLine(d, /\(VI_1\) Entering FAULT STATE/, 10_000);
  await waitFor('the service suspended', () => !ipvsadm(ns, '-Ln').includes(`${SOLO}:80`), 15_000);
  assert.equal(destinations(ns, `${VIP}:80`).length, 2, 'a virtual server without ha_suspend stays');
  fs.writeFileSync(path.join(dir, 'fault'), '0\n');
  await waitFor('the service back', () => destinations(ns, `${SOLO}:80`).length === 2, 15_000);
});
