import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Lab } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { destinations, ipvsadm, startHttpServer, stopProcess, until } from './lab-net';

/**
 * The reconciler's other inputs against the VM's kernel, one director and
 * two real servers: lvs_flush at start, a virtual_server_group (one kernel
 * service per address), MISC_CHECK's misc_dynamic weights, and ha_suspend
 * (the pool is in the kernel only while this node is MASTER of the instance that holds
 * the address; a track_file moves the instance in and out of FAULT), alpha
 * (a real server is down until its first successful check; a DR real server
 * written with another port is programmed on the service's port while its
 * check connects to the port written), and sorry_server_inhibit.
 */

const VIP = '10.97.0.100';
const VIP2 = '10.97.0.101';
const SOLO = '10.97.0.102';
const ALPHA = '10.97.0.103';
const SORRY = '10.97.0.104';

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
  fs.writeFileSync(path.join(dir, 'up'), '');
  fs.writeFileSync(path.join(dir, 'up.sh'), `#!/bin/sh\ntest -e ${dir}/up\n`, { mode: 0o755 });
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
virtual_server ${ALPHA} 80 {
  protocol TCP
  lvs_sched rr
  lvs_method DR
  delay_loop 1
  alpha
  real_server 10.97.0.11 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 10.97.0.12 81 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
virtual_server ${SORRY} 80 {
  protocol TCP
  lvs_sched rr
  lvs_method NAT
  delay_loop 1
  quorum 1
  sorry_server 10.97.0.12 80
  sorry_server_inhibit
  real_server 10.97.0.11 8081 {
    MISC_CHECK {
      misc_path ${dir}/up.sh
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
    throw new Error(
      `${(err as Error).message}\n${ipvsadm(ns, '-Ln')}\n${d.lines
        .filter((l) => /IPVS|VI_1|ha_suspend|Entering|error/i.test(l))
        .slice(-30)
        .join('\n')}`,
    );
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
  await waitFor(
    'weight 9',
    () => destinations(ns, `${VIP}:80`).includes('10.97.0.11:80 9') && destinations(ns, `${VIP2}:80`).includes('10.97.0.11:80 9'),
    15_000,
  );
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

test('alpha: a real server is down until its first successful check; a DR server written on port 81 is checked on 81 and programmed on 80', async () => {
  assert.ok(
    d.lines.some((l) => l.includes('keepalived programs 80 (its checks still connect to 81)')),
    'the port conflict is reported with the line',
  );
  await waitFor('the alpha service with rs1', () => destinations(ns, `${ALPHA}:80`).includes('10.97.0.11:80 1'), 30_000);
  // nothing listens on rs2:81: its checks fail, and alpha kept it out from the start
  const t0 = Date.now();
  while (Date.now() - t0 < 3000) {
    assert.deepEqual(destinations(ns, `${ALPHA}:80`), ['10.97.0.11:80 1'], 'rs2 never entered the table');
    await new Promise((r) => setTimeout(r, 100));
  }
  const listener = await startHttpServer(lab, 'rs2', 'rs2-81', 81);
  try {
    await waitFor('rs2 after its first successful check on port 81', () => destinations(ns, `${ALPHA}:80`).includes('10.97.0.12:80 1'), 15_000);
  } finally {
    await stopProcess(listener);
  }
  await waitFor('rs2 out again', () => !destinations(ns, `${ALPHA}:80`).some((x) => x.startsWith('10.97.0.12:')), 15_000);
});

test('sorry_server_inhibit: the sorry server waits at weight 0 while the quorum holds, serves at weight 1 when it is lost, and goes back to 0', async () => {
  await waitFor('the pool with the inhibited sorry server', () => destinations(ns, `${SORRY}:80`).join() === '10.97.0.11:8081 1,10.97.0.12:80 0', 30_000);
  fs.rmSync(path.join(dir, 'up'));
  await waitFor('the sorry server serving', () => destinations(ns, `${SORRY}:80`).join() === '10.97.0.12:80 1', 15_000);
  fs.writeFileSync(path.join(dir, 'up'), '');
  await waitFor('the quorum back', () => destinations(ns, `${SORRY}:80`).join() === '10.97.0.11:8081 1,10.97.0.12:80 0', 15_000);
});

test('a reload that brings the first virtual_server programs it; SIGTERM removes it', async () => {
  // another director, on rs1's namespace (a table of its own), started without any virtual_server
  const rsNs = lab.host('rs1').ns;
  const d2 = vl.startAlived('rs1', 'global_defs {\n  router_id first-vs\n}\n', ['-D']);
  try {
    await vl.waitLine(d2, /started|Starting/i, 15_000);
    fs.writeFileSync(
      d2.config,
      `global_defs {
  router_id first-vs
}
virtual_server 10.97.0.110 80 {
  protocol TCP
  lvs_sched rr
  lvs_method NAT
  delay_loop 1
  real_server 10.97.0.12 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`,
    );
    const mark = d2.lines.length;
    vl.signal(d2, 'SIGHUP');
    await until('the reload', () => d2.lines.slice(mark).some((l) => /Reload complete/.test(l)), 30_000);
    await until('the first virtual server in the kernel', () => destinations(rsNs, '10.97.0.110:80').join() === '10.97.0.12:80 1', 15_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${ipvsadm(rsNs, '-Ln')}\n${d2.lines.slice(mark).join('\n')}`);
      },
    );
    assert.ok(!d2.lines.some((l) => /pool not programmed/.test(l)), 'its pool lines do not say "not programmed"');
  } finally {
    vl.signal(d2, 'SIGTERM');
    await d2.exited;
  }
  assert.ok(!ipvsadm(rsNs, '-Ln').includes('10.97.0.110:80'), 'SIGTERM removed what alived made');
});
