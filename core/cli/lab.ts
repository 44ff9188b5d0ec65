import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../lab/netns';
import { VrrpLab } from '../lab/vrrp-lab';

/**
 * `alived lab`: failover, shown. Builds a lab of network namespaces (two
 * nodes and a client on a bridge of their own; nothing touches this
 * machine's network), runs alived on both nodes, shows the VIP on the master
 * and the client reaching it, kills the master, shows the takeover with its
 * timings, and removes everything.
 */

const VIP = '10.99.0.99';

function config(router: string, state: 'MASTER' | 'BACKUP', priority: number): string {
  return `global_defs {
  router_id ${router}
}

vrrp_instance VI_1 {
  state ${state}
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass lab-demo
  }
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

export async function runLab(out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const say = (s: string): void => void out.write(`${s}\n`);
  const ms = (ns: bigint): string => `${(Number(ns) / 1e6).toFixed(1)} ms`;
  if (process.getuid?.() !== 0) {
    say('alived lab: needs root (it builds network namespaces)');
    return 4;
  }
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-lab-'));
  say("alived lab: a two-node VRRP lab in network namespaces (nothing touches this machine's network)");
  const lab = await Lab.create({
    name: 'demo',
    hosts: [
      { name: 'n1', ip: '10.99.0.11' },
      { name: 'n2', ip: '10.99.0.12' },
      { name: 'client', ip: '10.99.0.100' },
    ],
  });
  let code = 0;
  const stop = (): void => void lab.destroy().then(() => process.exit(130));
  process.once('SIGINT', stop);
  try {
    for (const h of lab.hosts) say(`  ${h.name.padEnd(6)} ${h.ip.padEnd(12)} ${h.mac}  (namespace ${h.ns})`);
    const v = new VrrpLab(lab, dir);
    await v.watch();
    say(`\n1. alived on n1 (MASTER, priority 150) and n2 (BACKUP, priority 100): VRRPv2, advert_int 1 s, VIP ${VIP}`);
    const n1 = v.startAlived('n1', config('n1', 'MASTER', 150));
    const n2 = v.startAlived('n2', config('n2', 'BACKUP', 100));
    await v.waitLine(n2, /Entering BACKUP STATE/, 15_000);
    await v.waitHolder(VIP, 'n1', 15_000);
    say(`   VIP ${VIP} is on: ${v.holders(VIP).join(', ')}`);
    say(`   n1: ${lastState(n1.lines)}`);
    say(`   n2: ${lastState(n2.lines)}`);

    say(`\n2. the client reaches the VIP`);
    await lab.run('client', ['ping', '-c', '2', '-i', '0.2', '-W', '1', VIP]);
    say(`   ping ${VIP}: ok; the client's ARP entry: ${await neigh(lab, VIP)} (n1 is ${lab.host('n1').mac})`);

    say(`\n3. n1 crashes: every process on it killed at once (SIGKILL), its VIP gone`);
    const t0 = v.crash('n1', [VIP]);
    lab.setLink('n1', false);
    const taken = await v.waitEvent((e) => e.host === 'n2' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 15_000);
    const arp = await v
      .waitEvent((e) => e.host === 'client' && e.kind === 'neigh' && e.address === VIP && e.mac === lab.host('n2').mac, t0, 5000)
      .catch(() => undefined);
    say(`   n2 took ${VIP} ${ms(taken.t - t0)} after the crash (VRRP's bound: 3 x 1 s + skew 0.61 s = 3.61 s)`);
    if (arp) say(`   the client's ARP entry named n2 ${ms(arp.t - taken.t)} after that (gratuitous ARP)`);
    const t1 = process.hrtime.bigint();
    await lab.run('client', ['ping', '-c', '1', '-W', '1', VIP]);
    say(`   ping ${VIP} through n2: ok in ${ms(process.hrtime.bigint() - t1)}; ARP entry: ${await neigh(lab, VIP)} (n2 is ${lab.host('n2').mac})`);
    say(`   n2: ${lastState(n2.lines)}`);

    say(`\n4. n2 stops cleanly (SIGTERM): it sends priority 0 and releases ${VIP}`);
    v.signal(n2, 'SIGTERM');
    await n2.exited;
    say(`   VIP ${VIP} is now on: ${v.holders(VIP).join(', ') || 'no host'}`);
    say('\nalived lab: failover worked; cleaning up');
  } catch (err) {
    say(`alived lab: FAILED: ${(err as Error).message}`);
    code = 1;
  } finally {
    process.removeListener('SIGINT', stop);
    await lab.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return code;
}

function lastState(lines: string[]): string {
  const l = [...lines].reverse().find((x) => /Entering \w+ STATE/.test(x));
  return l ? l.replace(/^.*?(\(VI_1\))/, '$1').replace(/ vrrp=VI_1 .*$/, '') : '(no state yet)';
}

async function neigh(lab: Lab, address: string): Promise<string> {
  const r = await lab.exec('client', ['ip', 'neigh', 'show', address]);
  const m = /lladdr (\S+)/.exec(r.stdout);
  return m ? m[1]! : 'none';
}
