import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';

/**
 * Tracking, sync groups and live reload with real daemons in a lab: n1 has
 * a second interface (mon0, one end of a veth pair inside n1) that its
 * instances track; n2 is the backup.
 */

const VIP1 = '10.97.0.91';
const VIP2 = '10.97.0.92';
const VIP3 = '10.97.0.93';
let lab: Lab;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'track',
    hosts: [
      { name: 'n1', ip: '10.97.0.11' },
      { name: 'n2', ip: '10.97.0.12' },
    ],
  });
  await lab.run('n1', ['ip', 'link', 'add', 'mon0', 'type', 'veth', 'peer', 'name', 'mon1']);
  await lab.run('n1', ['ip', 'link', 'set', 'mon1', 'up']);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
});
after(() => (lab ? lab.destroy() : undefined));

function instance(name: string, vrid: number, priority: number, vips: string[], extra = ''): string {
  return `vrrp_instance ${name} {
  state BACKUP
  interface eth0
  virtual_router_id ${vrid}
  priority ${priority}
  advert_int 0.1
  version 3
  virtual_ipaddress {
${vips.map((v) => `    ${v}/24`).join('\n')}
  }
${extra}}
`;
}

async function reset(): Promise<VrrpLab> {
  lab.killHostProcesses();
  for (const h of lab.hosts) {
    for (const vip of [VIP1, VIP2, VIP3]) await lab.exec(h, ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0']);
  }
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
  const v = new VrrpLab(lab, tmpDir('alived-track-'));
  await v.watch();
  return v;
}

async function stopAll(v: VrrpLab): Promise<void> {
  for (const d of v.daemons) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      v.signal(d, 'SIGTERM');
      await d.exited;
    }
  }
}

function transitions(d: LabDaemon, name: string): string[] {
  return d.lines.filter((l) => l.includes(`(${name}) Entering`));
}

test('track_interface without weight: the tracked interface going down is FAULT and the backup takes over; back up, the master preempts back', async () => {
  const v = await reset();
  const d1 = v.startAlived('n1', instance('VI_1', 71, 150, [VIP1], '  track_interface {\n    mon0\n  }\n'));
  v.startAlived('n2', instance('VI_1', 71, 100, [VIP1]));
  await v.waitHolder(VIP1, 'n1', 10_000);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'down']);
  await v.waitLine(d1, /\(VI_1\) Entering FAULT STATE \(tracked interface mon0 down\)/, 3000);
  await v.waitHolder(VIP1, 'n2', 3000);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
  await v.waitLine(d1, /\(VI_1\) Entering BACKUP STATE/, 3000);
  await v.waitHolder(VIP1, 'n1', 3000);
  await stopAll(v);
});

test('track_interface with a weight: down lowers the priority below the backup (re-timed, takeover by preemption), up restores it', async () => {
  const v = await reset();
  const d1 = v.startAlived('n1', instance('VI_1', 72, 150, [VIP1], '  track_interface {\n    mon0 weight -60\n  }\n'));
  v.startAlived('n2', instance('VI_1', 72, 100, [VIP1]));
  await v.waitHolder(VIP1, 'n1', 10_000);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'down']);
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 150 to 90/, 3000);
  await v.waitHolder(VIP1, 'n2', 3000);
  await v.waitLine(d1, /\(VI_1\) Entering BACKUP STATE/, 1000);
  assert.ok(!d1.lines.some((l) => /Entering FAULT/.test(l)), 'a weighted tracker never means FAULT');
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 90 to 150/, 3000);
  await v.waitHolder(VIP1, 'n1', 3000);
  await stopAll(v);
});

test('vrrp_sync_group: a fault of one member faults the other, and the backup takes both; they come back together', async () => {
  const v = await reset();
  const group = 'vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n';
  const d1 = v.startAlived('n1', group + instance('VI_1', 73, 150, [VIP1]) + instance('VI_2', 74, 150, [VIP2], '  track_interface {\n    mon0\n  }\n'));
  v.startAlived('n2', group + instance('VI_1', 73, 100, [VIP1]) + instance('VI_2', 74, 100, [VIP2]));
  await v.waitHolder(VIP1, 'n1', 10_000);
  await v.waitHolder(VIP2, 'n1', 3000);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'down']);
  await v.waitLine(d1, /\(VI_1\) Entering FAULT STATE \(sync group G1: VI_2 is in FAULT\)/, 3000);
  await v.waitLine(d1, /VRRP_Group\(G1\) Entering FAULT STATE/, 1000);
  await v.waitHolder(VIP1, 'n2', 3000);
  await v.waitHolder(VIP2, 'n2', 3000);
  await lab.run('n1', ['ip', 'link', 'set', 'mon0', 'up']);
  await v.waitHolder(VIP1, 'n1', 5000);
  await v.waitHolder(VIP2, 'n1', 3000);
  await v.waitLine(d1, /VRRP_Group\(G1\) Entering MASTER STATE/, 1000);
  await stopAll(v);
});

test('vrrp_sync_group: when one member sees a higher priority, both members go BACKUP', async () => {
  const v = await reset();
  const group = 'vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n';
  const d1 = v.startAlived('n1', group + instance('VI_1', 75, 150, [VIP1]) + instance('VI_2', 76, 150, [VIP2]));
  await v.waitHolder(VIP1, 'n1', 10_000);
  await v.waitHolder(VIP2, 'n1', 3000);
  // only VI_2 has a higher-priority peer; VI_1 follows it
  v.startAlived('n2', instance('VI_2', 76, 200, [VIP2]));
  await v.waitHolder(VIP2, 'n2', 5000);
  await v.waitLine(d1, /\(VI_1\) Entering BACKUP STATE \(sync group G1: VI_2 went BACKUP\)/, 3000);
  await v.waitHolder(VIP1, undefined, 3000);
  await stopAll(v);
});

test('reload: a broken config changes nothing; a good one adds a VIP to one instance and never moves the unchanged one out of MASTER', async () => {
  const v = await reset();
  const a = instance('VI_1', 77, 150, [VIP1]);
  const b = (vips: string[]) => instance('VI_2', 78, 150, vips);
  const d1 = v.startAlived('n1', a + b([VIP2]));
  await v.waitHolder(VIP1, 'n1', 10_000);
  await v.waitHolder(VIP2, 'n1', 3000);
  await v.waitLine(d1, /\(VI_1\) Entering MASTER STATE/, 3000);
  await v.waitLine(d1, /\(VI_2\) Entering MASTER STATE/, 3000);
  const before = [...d1.lines];

  // broken: nothing changes, the errors name their line
  fs.writeFileSync(d1.config, a + b([VIP2]) + 'vrrp_instance BAD {\n  virtual_router_id 300\n}\n');
  const t0 = v.signal(d1, 'SIGHUP');
  await v.waitLine(d1, /Reload rejected/, 5000);
  assert.ok(
    d1.lines.some((l) => /:\d+:\d+: error:/.test(l)),
    'the error has a file:line:col',
  );
  assert.deepEqual(v.holders(VIP1), ['n1']);

  // good: VI_2 gets a third VIP; VI_1 is not touched
  let sampling = true;
  const samples: string[][] = [];
  const sampler = (async () => {
    while (sampling) {
      samples.push(v.holders(VIP1));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  fs.writeFileSync(d1.config, a + b([VIP2, VIP3]));
  v.signal(d1, 'SIGHUP');
  await v.waitLine(d1, /VRRP reloaded in [\d.]+ ms: 1 instance unchanged, 1 updated in place/, 5000);
  await v.waitHolder(VIP3, 'n1', 3000);
  // the VIP keeps being sampled for a second after the reload
  await new Promise((r) => setTimeout(r, 1000));
  sampling = false;
  await sampler;
  assert.ok(samples.length >= 10, `${samples.length} samples`);
  assert.ok(
    samples.every((s) => s.length === 1 && s[0] === 'n1'),
    `VIP1 left n1 during the reload: ${JSON.stringify(samples.filter((s) => s[0] !== 'n1'))}`,
  );
  assert.equal(v.events.filter((e) => e.t >= t0 && e.op === 'del' && (e.address === VIP1 || e.address === VIP2)).length, 0, 'no VIP was removed');
  assert.deepEqual(transitions(d1, 'VI_1'), transitions({ ...d1, lines: before }, 'VI_1'), 'VI_1 made no transition');
  assert.deepEqual(transitions(d1, 'VI_2'), transitions({ ...d1, lines: before }, 'VI_2'), 'VI_2 made no transition');

  // a removed instance releases its VIPs (and is reported DELETED)
  fs.writeFileSync(d1.config, a);
  v.signal(d1, 'SIGHUP');
  await v.waitLine(d1, /\(VI_2\) removed by reload \(was MASTER\)/, 5000);
  await v.waitHolder(VIP2, undefined, 3000);
  await v.waitHolder(VIP3, undefined, 3000);
  assert.deepEqual(v.holders(VIP1), ['n1']);
  await stopAll(v);
});

function scriptBlock(name: string, flag: string, weight: number, extra = ''): string {
  return `vrrp_script ${name} {
  script "/usr/bin/test -e ${flag}"
  interval 1
  weight ${weight}
  fall 2
  rise 2
${extra}}
`;
}

test('vrrp_script with a negative weight: after fall failures the backup takes the VIP; after rise successes it comes back', async () => {
  const v = await reset();
  const flag = `${v.dir}/ok`;
  fs.writeFileSync(flag, '');
  const d1 = v.startAlived('n1', scriptBlock('chk', flag, -60) + instance('VI_1', 79, 150, [VIP1], '  track_script {\n    chk\n  }\n'));
  v.startAlived('n2', instance('VI_1', 79, 100, [VIP1]));
  await v.waitHolder(VIP1, 'n1', 10_000);
  const t0 = Date.now();
  fs.rmSync(flag);
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 150 to 90/, 5000);
  const after = Date.now() - t0;
  assert.ok(after >= 1000, `two failures at interval 1 take at least a second (${after} ms)`);
  await v.waitHolder(VIP1, 'n2', 3000);
  fs.writeFileSync(flag, '');
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 90 to 150/, 5000);
  await v.waitHolder(VIP1, 'n1', 3000);
  await stopAll(v);
});

test('vrrp_script with a positive weight: its success lifts the priority over the backup, its failure drops it back', async () => {
  const v = await reset();
  const flag = `${v.dir}/ok`;
  const d1 = v.startAlived('n1', scriptBlock('up', flag, 30) + instance('VI_1', 80, 100, [VIP1], '  track_script {\n    up\n  }\n'));
  v.startAlived('n2', instance('VI_1', 80, 120, [VIP1]));
  await v.waitHolder(VIP1, 'n2', 10_000);
  fs.writeFileSync(flag, '');
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 100 to 130/, 5000);
  await v.waitHolder(VIP1, 'n1', 3000);
  fs.rmSync(flag);
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 130 to 100/, 5000);
  await v.waitHolder(VIP1, 'n2', 3000);
  await stopAll(v);
});

test('track_file: the number in the file times the weight moves the priority; a weight-0 file with a non-zero number is FAULT', async () => {
  const v = await reset();
  const file = `${v.dir}/prio`;
  const maint = `${v.dir}/maint`;
  fs.writeFileSync(file, '0\n');
  fs.writeFileSync(maint, '0\n');
  const d1 = v.startAlived(
    'n1',
    `track_file prio {\n  file ${file}\n  weight 2\n}\ntrack_file maint {\n  file ${maint}\n  weight 0\n}\n` +
      instance('VI_1', 81, 150, [VIP1], '  track_file {\n    prio\n    maint\n  }\n'),
  );
  v.startAlived('n2', instance('VI_1', 81, 100, [VIP1]));
  await v.waitHolder(VIP1, 'n1', 10_000);
  fs.writeFileSync(file, '-30\n');
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 150 to 90/, 5000);
  await v.waitHolder(VIP1, 'n2', 3000);
  fs.writeFileSync(file, '0\n');
  await v.waitHolder(VIP1, 'n1', 5000);
  fs.writeFileSync(maint, '1\n');
  await v.waitLine(d1, /\(VI_1\) Entering FAULT STATE \(tracked track_file maint has status -254\)/, 5000);
  await v.waitHolder(VIP1, 'n2', 3000);
  fs.writeFileSync(maint, '0\n');
  await v.waitHolder(VIP1, 'n1', 5000);
  await stopAll(v);
});
