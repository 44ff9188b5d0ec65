import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';

/**
 * What keepalived runs, alived runs, with keepalived's behaviour: the
 * settings that keepalived changes silently (and alived with a warning) act
 * in the daemon as they do in keepalived. Two alived nodes in a lab, unicast.
 */

const VIP = '10.95.0.90';
let lab: Lab;
const dir = tmpDir('alived-drop-in-lab-');

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'dropin',
    hosts: [
      { name: 'n1', ip: '10.95.0.11' },
      { name: 'n2', ip: '10.95.0.12' },
    ],
  });
});
after(() => (lab ? lab.destroy() : undefined));

/** Peers and source written as operators write them: with the prefix of the subnet, which keepalived cuts off. */
function node(self: string, peer: string, priority: number, extra: string): string {
  return `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 71
  priority ${priority}
  advert_int 0.1
  version 3
  unicast_src_ip ${self}/24
  unicast_peer {
    ${peer}/24
  }
${extra}  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

async function stop(v: VrrpLab, ...ds: LabDaemon[]): Promise<void> {
  for (const d of ds) if (d.proc.exitCode === null) v.signal(d, 'SIGTERM');
  await Promise.all(ds.map((d) => d.exited));
}

test('nopreempt with state MASTER: the instance preempts, as in keepalived; the unicast peers written with /24 are the peers used', async () => {
  const v = new VrrpLab(lab, dir);
  await v.watch();
  const n2 = v.startAlived('n2', node('10.95.0.12', '10.95.0.11', 100, '  state BACKUP\n'));
  await v.waitHolder(VIP, 'n2', 10_000);
  const n1 = v.startAlived('n1', node('10.95.0.11', '10.95.0.12', 150, '  state MASTER\n  nopreempt\n'));
  try {
    // nopreempt kept would leave the VIP on n2 for good; keepalived clears it, and so does alived
    await v.waitHolder(VIP, 'n1', 10_000);
    await v.waitLine(n2, /\(VI_1\) Entering BACKUP STATE/, 3000);
    // the line reaches the main process's log after the VRRP process has added the VIP: wait for it, do not sample it
    await v.waitLine(n1, /\(VI_1\) Entering MASTER STATE/, 3000);
    // only one master: n2 hears n1's adverts at the stripped address (and n1 hears n2's)
    assert.deepEqual(v.holders(VIP), ['n1']);
  } finally {
    await stop(v, n1, n2);
  }
});

test('nopreempt 1 (a value after a flag): nopreempt is on, as in keepalived; a higher priority backup does not take over', async () => {
  const v = new VrrpLab(lab, dir);
  await v.watch();
  const n2 = v.startAlived('n2', node('10.95.0.12', '10.95.0.11', 100, '  state BACKUP\n'));
  await v.waitHolder(VIP, 'n2', 10_000);
  const n1 = v.startAlived('n1', node('10.95.0.11', '10.95.0.12', 150, '  state BACKUP\n  nopreempt 1\n'));
  try {
    await v.waitLine(n1, /\(VI_1\) Entering BACKUP STATE/, 10_000);
    // 20 advert intervals: preemption would have happened in the first
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(v.holders(VIP), ['n2']);
    assert.ok(!n1.lines.some((l) => /Entering MASTER STATE/.test(l)), n1.lines.join('\n'));
    // and when n2 goes, n1 takes over
    v.signal(n2, 'SIGTERM');
    await v.waitHolder(VIP, 'n1', 5000);
  } finally {
    await stop(v, n1, n2);
  }
});
