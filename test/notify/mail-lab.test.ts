import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * Mail of a real failover, in a lab of namespaces: two alived nodes and a
 * host running a real SMTP server (smtp-server). The master is crashed; the
 * backup takes over, and its "Entering MASTER state" mail reaches the SMTP
 * server within a second of the VIP appearing on it (the kernel's address
 * event, time-stamped in the lab).
 */

const VIP = '10.97.0.90';
const MAIL = '10.97.0.20';
const SINK = path.join(__dirname, 'smtp-sink.js');
let lab: Lab;

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'mail',
    hosts: [
      { name: 'n1', ip: '10.97.0.11' },
      { name: 'n2', ip: '10.97.0.12' },
      { name: 'mx', ip: MAIL },
    ],
  });
});
after(() => (lab ? lab.destroy() : undefined));

interface Mail {
  subject: string;
  from: string;
  helo: string;
  messageId: string;
  body: string;
  at: bigint;
}

function startSink(): Promise<{ proc: ChildProcess; mails: Mail[] }> {
  return new Promise((resolve, reject) => {
    const mails: Mail[] = [];
    const proc = lab.spawn('mx', [process.execPath, SINK, MAIL, '2525'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('the SMTP server in the lab did not start')), 10_000);
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = JSON.parse(line) as Mail & { ready?: boolean };
        if (m.ready) {
          clearTimeout(timer);
          resolve({ proc, mails });
          continue;
        }
        mails.push({ ...m, at: process.hrtime.bigint() });
      }
    });
  });
}

const conf = (node: string, priority: number): string => `global_defs {
  router_id ${node.toUpperCase()}
  notification_email {
    oncall@example.com
  }
  notification_email_from alived@${node}.example.com
  smtp_server ${MAIL} 2525
  smtp_connect_timeout 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 71
  priority ${priority}
  advert_int 0.2
  version 3
  smtp_alert
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

test("a real failover: the new master's mail reaches a real SMTP server within a second of its takeover", { timeout: 60_000 }, async () => {
  const v = new VrrpLab(lab, tmpDir('alived-mail-lab-'));
  await v.watch();
  const sink = await startSink();
  const d1 = v.startAlived('n1', conf('n1', 150), ['--state-dir', path.join(v.dir, 'n1-state')]);
  await v.waitHolder(VIP, 'n1', 10_000);
  const d2 = v.startAlived('n2', conf('n2', 100), ['--state-dir', path.join(v.dir, 'n2-state')]);
  await waitFor(
    'n1 MASTER and n2 BACKUP mails',
    () =>
      sink.mails.some((m) => m.subject === '[N1] VRRP Instance VI_1 - Entering MASTER state') &&
      sink.mails.some((m) => m.subject === '[N2] VRRP Instance VI_1 - Entering BACKUP state')
        ? true
        : undefined,
    10_000,
  );
  const since = process.hrtime.bigint();
  v.crash('n1', [VIP]);
  const takeover = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, since, 10_000);
  const mail = await waitFor('the new master mail', () => sink.mails.find((m) => m.subject === '[N2] VRRP Instance VI_1 - Entering MASTER state'), 5000);
  const ms = Number(mail.at - takeover.t) / 1e6;
  assert.ok(ms < 1000, `the mail came ${ms.toFixed(0)} ms after the VIP moved`);
  assert.equal(mail.body.replace(/\r\n$/, ''), '=> VRRP Instance is now owning VRRP VIPs <=');
  assert.equal(mail.from, 'alived@n2.example.com');
  // n2's mails in order, none twice
  const n2 = sink.mails.filter((m) => m.subject.startsWith('[N2]')).map((m) => m.subject.replace(/.* - /, ''));
  assert.deepEqual(n2, ['Entering BACKUP state', 'Entering MASTER state']);
  v.signal(d2, 'SIGTERM');
  await d2.exited;
  await waitFor('the Stopping mail', () => sink.mails.find((m) => m.subject === '[N2] VRRP Instance VI_1 - Stopping'), 5000);
  void d1;
  sink.proc.kill('SIGTERM');
  process.stdout.write(`# mail ${ms.toFixed(0)} ms after the takeover\n`);
});
