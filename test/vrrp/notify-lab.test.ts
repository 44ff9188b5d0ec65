import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';
import { keepalivedMissing, waitFor } from '../helpers/lab';

/**
 * Notify scripts end to end: the daemon runs them on real transitions with
 * keepalived's arguments, a hanging one delays neither VRRP nor the next
 * notification; and a virtual router of two alived nodes and one keepalived
 * node, each with its own check script and notify script.
 */

const VIP = '10.96.0.90';
let lab: Lab;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'notify',
    hosts: [
      { name: 'n1', ip: '10.96.0.11' },
      { name: 'n2', ip: '10.96.0.12' },
      { name: 'n3', ip: '10.96.0.13' },
    ],
  });
  await lab.run('n1', ['ip', 'link', 'add', 'mon0', 'type', 'veth', 'peer', 'name', 'mon1']);
  await lab.run('n1', ['ip', 'link', 'set', 'mon1', 'up']);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
});
after(() => (lab ? lab.destroy() : undefined));

async function reset(): Promise<VrrpLab> {
  lab.killHostProcesses();
  for (const h of lab.hosts) {
    await lab.exec(h, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
  }
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
  const v = new VrrpLab(lab, tmpDir('alived-notify-'));
  await v.watch();
  return v;
}

/** A script (root-owned, 0755, in a 0700 directory) that appends its tag and arguments to `log`. */
function recorder(dir: string, tag: string, log: string, extra = ''): string {
  const p = path.join(dir, `${tag}.sh`);
  fs.writeFileSync(p, `#!/bin/sh\necho "${tag} $*" >> ${log}\n${extra}`, { mode: 0o755 });
  return p;
}

function lines(log: string): string[] {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

test('notify and notify_* run at each transition with keepalived arguments; a hanging notify_master delays neither adverts nor the next notification', async () => {
  const v = await reset();
  const log = path.join(v.dir, 'notify.log');
  const s = (tag: string, extra = '') => recorder(v.dir, tag, log, extra);
  const conf = `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 0.1
  version 3
  track_interface {
    mon0
  }
  virtual_ipaddress {
    ${VIP}/24
  }
  notify_master "${s('master', 'sleep 1000\n')} m1"
  notify_backup ${s('backup')}
  notify_fault ${s('fault')}
  notify_stop ${s('stop')}
  notify ${s('notify')}
}
`;
  const d1 = v.startAlived('n1', conf);
  await v.waitHolder(VIP, 'n1', 10_000);
  await waitFor('the MASTER notifications', () => (lines(log).includes('notify INSTANCE VI_1 MASTER 150') ? true : undefined), 5000);
  // notify_master hangs (sleep 1000): the instance stays master with a backup watching
  // the backup: no tracking, no notify scripts (the log is n1's alone)
  const d2 = v.startAlived(
    'n2',
    conf
      .replace('priority 150', 'priority 100')
      .replace(/ {2}track_interface \{\n {4}mon0\n {2}\}\n/, '')
      .replace(/ {2}notify.*\n/g, ''),
  );
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(v.holders(VIP), ['n1'], 'adverts kept going while notify_master hangs');
  assert.ok(!d2.lines.some((l) => /Entering MASTER/.test(l)), 'the backup never saw the master miss an advert');
  const t0 = Date.now();
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'down']);
  await waitFor('the FAULT notifications', () => (lines(log).includes('notify INSTANCE VI_1 FAULT 150') ? true : undefined), 3000);
  assert.ok(Date.now() - t0 < 2000, `the FAULT notification came ${Date.now() - t0} ms after the fault, behind no hanging script`);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
  await v.waitHolder(VIP, 'n1', 5000);
  await waitFor('the second MASTER', () => (lines(log).filter((l) => l === 'notify INSTANCE VI_1 MASTER 150').length === 2 ? true : undefined), 5000);
  v.signal(d2, 'SIGTERM');
  await d2.exited;
  v.signal(d1, 'SIGTERM');
  await d1.exited;
  await waitFor('the STOP notifications', () => (lines(log).includes('notify INSTANCE VI_1 STOP 150') ? true : undefined), 3000);
  const expected = [
    'backup',
    'notify INSTANCE VI_1 BACKUP 150',
    'master m1',
    'notify INSTANCE VI_1 MASTER 150',
    'fault',
    'notify INSTANCE VI_1 FAULT 150',
    'backup',
    'notify INSTANCE VI_1 BACKUP 150',
    'master m1',
    'notify INSTANCE VI_1 MASTER 150',
    'stop',
    'notify INSTANCE VI_1 STOP 150',
  ];
  // the state's own script starts first, then notify (two processes: their lines may land either way round)
  const got = lines(log).map((l) => l.trim());
  assert.deepEqual(
    got.filter((l) => l.startsWith('notify ')),
    expected.filter((l) => l.startsWith('notify ')),
    got.join('\n'),
  );
  assert.deepEqual(
    got.filter((l) => !l.startsWith('notify ')),
    expected.filter((l) => !l.startsWith('notify ')),
    got.join('\n'),
  );
  // the hanging notify_master scripts were killed with their group at stop, no process of theirs is left
  const left = spawnSync('pgrep', ['-f', `${v.dir}/master.sh`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(left, '', `processes of notify_master left: ${left}`);
});

test('two alived nodes and one keepalived node in one virtual router, each with a check script and a notify script', async (t) => {
  const missing = keepalivedMissing('the interop test');
  if (missing) return t.skip(missing);
  const v = await reset();
  const node = (name: string, priority: number, weight: number): { conf: string; flag: string; log: string } => {
    const flag = path.join(v.dir, `${name}.ok`);
    const log = path.join(v.dir, `${name}.log`);
    fs.writeFileSync(flag, '');
    const notify = recorder(v.dir, `notify-${name}`, log);
    const conf = `global_defs {
  router_id ${name}
  script_user root
}
vrrp_script chk {
  script "/usr/bin/test -e ${flag}"
  interval 1
  fall 1
  rise 1
  weight ${weight}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 62
  priority ${priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass secret12
  }
  track_script {
    chk
  }
  virtual_ipaddress {
    ${VIP}/24
  }
  notify ${notify}
}
`;
    return { conf, flag, log };
  };
  const a = node('n1', 150, -60);
  const b = node('n2', 120, -40);
  const k = node('n3', 100, -10);
  v.startAlived('n1', a.conf);
  v.startAlived('n2', b.conf);
  v.startKeepalived('n3', k.conf);
  await v.waitHolder(VIP, 'n1', 15_000);
  fs.rmSync(a.flag);
  await v.waitHolder(VIP, 'n2', 10_000);
  fs.rmSync(b.flag);
  await v.waitHolder(VIP, 'n3', 10_000);
  await waitFor('keepalived says MASTER', () => (lines(k.log).some((l) => /INSTANCE VI_1 MASTER 100/.test(l)) ? true : undefined), 5000);
  fs.writeFileSync(a.flag, '');
  await v.waitHolder(VIP, 'n1', 10_000);
  assert.ok(lines(a.log).includes('notify-n1 INSTANCE VI_1 MASTER 150'), lines(a.log).join('\n'));
  assert.ok(lines(b.log).includes('notify-n2 INSTANCE VI_1 MASTER 120'), lines(b.log).join('\n'));
  assert.ok(lines(k.log).includes('notify-n3 INSTANCE VI_1 BACKUP 100'), lines(k.log).join('\n'));
  for (const d of v.daemons) {
    v.signal(d, 'SIGTERM');
    await d.exited;
  }
});

test('script security in the daemon: an unsafe notify script running as root is refused and named; a safe one runs as script_user', async () => {
  const v = await reset();
  const unsafeDir = path.join(v.dir, 'open');
  fs.mkdirSync(unsafeDir);
  fs.chmodSync(unsafeDir, 0o777);
  fs.chmodSync(v.dir, 0o755);
  const log = path.join(v.dir, 'ids.log');
  fs.writeFileSync(log, '');
  fs.chmodSync(log, 0o666);
  const unsafe = path.join(unsafeDir, 'unsafe.sh');
  fs.writeFileSync(unsafe, `#!/bin/sh\necho unsafe >> ${log}\n`, { mode: 0o755 });
  const safe = path.join(v.dir, 'safe.sh');
  fs.writeFileSync(safe, `#!/bin/sh\necho "safe $(id -u) $*" >> ${log}\n`, { mode: 0o755 });
  const d1 = v.startAlived(
    'n1',
    `global_defs {
  enable_script_security
  script_user nobody
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 63
  priority 150
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
  notify_master ${unsafe} root
  notify ${safe}
}
`,
  );
  await v.waitHolder(VIP, 'n1', 10_000);
  await waitFor(
    'the safe script',
    () => (lines(log).includes(`safe ${spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim()} INSTANCE VI_1 MASTER 150`) ? true : undefined),
    5000,
  );
  assert.ok(!lines(log).includes('unsafe'), 'the unsafe script never ran');
  assert.ok(
    d1.lines.some((l) => l.includes(unsafeDir) && /writable|unsafe|insecure/i.test(l)),
    `the refusal names the path:\n${d1.lines.filter((l) => /script/i.test(l)).join('\n')}`,
  );
  v.signal(d1, 'SIGTERM');
  await d1.exited;
});

test('in the daemon: startup_script first, sync group notify with GROUP arguments, vrrp_notify_fifo lines read by its script, notify_deleted on reload, shutdown_script last', async () => {
  const v = await reset();
  fs.chmodSync(v.dir, 0o755);
  const log = path.join(v.dir, 'events.log');
  const fifoLog = path.join(v.dir, 'fifo.log');
  const fifo = path.join(v.dir, 'vrrp.fifo');
  const s = (tag: string) => recorder(v.dir, tag, log);
  // the FIFO's script gets the FIFO's path as its last argument and copies what it reads
  const reader = path.join(v.dir, 'reader.sh');
  fs.writeFileSync(reader, `#!/bin/sh\nwhile read -r line; do echo "$line" >> ${fifoLog}; done < "$1"\n`, { mode: 0o755 });
  const inst = (name: string, vrid: number, vip: string, extra = '') => `vrrp_instance ${name} {
  state BACKUP
  interface eth0
  virtual_router_id ${vrid}
  priority 150
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${vip}/24
  }
${extra}}
`;
  const head = `global_defs {
  startup_script ${s('startup')}
  shutdown_script ${s('shutdown')}
  vrrp_notify_fifo ${fifo}
  vrrp_notify_fifo_script ${reader}
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
  notify ${s('group')}
}
`;
  const both = head + inst('VI_1', 64, VIP) + inst('VI_2', 65, '10.96.0.91');
  const d1 = v.startAlived('n1', both + inst('VI_3', 66, '10.96.0.92', `  notify_deleted ${s('deleted')}\n  notify ${s('notify3')}\n`));
  await v.waitHolder(VIP, 'n1', 10_000);
  await waitFor('the group MASTER notification', () => (lines(log).includes('group GROUP G1 MASTER 0') ? true : undefined), 5000);
  assert.equal(lines(log)[0], 'startup ', 'startup_script ran before anything was notified');
  await waitFor(
    'the FIFO lines',
    () => {
      const f = lines(fifoLog);
      return ['INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_2" MASTER 150', 'GROUP "G1" MASTER 0', 'INSTANCE "VI_3" MASTER 150'].every((l) => f.includes(l))
        ? true
        : undefined;
    },
    5000,
  );

  // VI_3 goes with a reload: its notify_deleted runs, `notify` gets DELETED, the FIFO says so
  fs.writeFileSync(d1.config, both);
  v.signal(d1, 'SIGHUP');
  await waitFor(
    'the DELETED notifications',
    () => (lines(log).includes('deleted ') && lines(log).includes('notify3 INSTANCE VI_3 DELETED 150') ? true : undefined),
    5000,
  );
  await waitFor('the DELETED FIFO line', () => (lines(fifoLog).includes('INSTANCE "VI_3" DELETED 150') ? true : undefined), 5000);
  await v.waitHolder('10.96.0.92', undefined, 3000);

  v.signal(d1, 'SIGTERM');
  assert.equal((await d1.exited).code, 0);
  const all = lines(log);
  assert.ok(all.includes('group GROUP G1 STOP 0'), all.join('\n'));
  assert.equal(all[all.length - 1], 'shutdown ', `shutdown_script ran last:\n${all.join('\n')}`);
});
