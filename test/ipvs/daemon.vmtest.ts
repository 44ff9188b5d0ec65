import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { Lab } from '../../core/lab/netns';
import { destinations, holdConnection, ipIn, ipvsadm, requests, startHttpServer, stopProcess, sysctl, until } from './lab-net';

/**
 * alived as an LVS-NAT director, inside the VM: a client namespace, the
 * director, three real HTTP servers and a sorry server on one lab bridge.
 * The client sits in another subnet (routed through the director), so the
 * real servers' answers go back through it, as NAT needs. Checks are real
 * TCP_CHECKs; traffic is real HTTP through the virtual address.
 */

const VIP = '10.98.0.100';
const SERVICE = `${VIP}:80`;
// checker timing: a dead server is down after its first failure, one retry 1 s later
const DELAY_LOOP = 1;
const RETRY = 1;
const DELAY_BEFORE_RETRY = 1;
const CONNECT_TIMEOUT = 1;
/** the longest a dead server may stay: a whole loop, the failed check, its retries */
const DOWN_BOUND_S = DELAY_LOOP + CONNECT_TIMEOUT + RETRY * (DELAY_BEFORE_RETRY + CONNECT_TIMEOUT);
/** what emulation (TCG) and polling add */
const SLACK_MS = 4000;

let lab: Lab;
let vl: VrrpLab;
let dirNs: string;
let daemon: LabDaemon;
let conf: string;
const servers = new Map<string, ChildProcess>();
let before0 = '';
let timeouts0 = '';

const CHECK = `TCP_CHECK {
      connect_timeout ${CONNECT_TIMEOUT}
      retry ${RETRY}
      delay_before_retry ${DELAY_BEFORE_RETRY}
    }`;

function config(rs1Weight: number): string {
  return `global_defs {
  lvs_timeouts tcp 7200 tcpfin 90 udp 240
}
virtual_server ${VIP} 80 {
  protocol TCP
  lvs_sched wrr
  lvs_method NAT
  delay_loop ${DELAY_LOOP}
  quorum 4
  sorry_server 10.99.0.14 8080
  real_server 10.99.0.11 8080 {
    weight ${rs1Weight}
    ${CHECK}
  }
  real_server 10.99.0.12 8080 {
    weight 2
    ${CHECK}
  }
  real_server 10.99.0.13 8080 {
    weight 3
    inhibit_on_failure
    ${CHECK}
  }
}
`;
}

async function serve(name: string): Promise<void> {
  const host = name;
  servers.set(name, await startHttpServer(lab, host, name, 8080));
}

async function kill(name: string): Promise<void> {
  await stopProcess(servers.get(name)!);
  servers.delete(name);
}

function table(): string[] {
  return destinations(dirNs, SERVICE);
}

async function startDaemon(): Promise<LabDaemon> {
  const d = vl.startAlived('dir', conf, ['-D', '--instance', 'lvsnat']);
  await vl.waitLine(d, /IPVS synced: 1 services added, 3 real servers added|Adopting IPVS service/, 60_000);
  return d;
}

before(async () => {
  lab = await Lab.create({
    name: 'lvsnat',
    hosts: [
      { name: 'client', ip: '10.98.0.10' },
      { name: 'dir', ip: '10.99.0.2' },
      { name: 'rs1', ip: '10.99.0.11' },
      { name: 'rs2', ip: '10.99.0.12' },
      { name: 'rs3', ip: '10.99.0.13' },
      { name: 'sorry', ip: '10.99.0.14' },
    ],
  });
  vl = new VrrpLab(lab, fs.mkdtempSync(path.join(os.tmpdir(), 'alived-lvsnat-')));
  dirNs = lab.host('dir').ns;
  // the director: the client's subnet and the VIP on the same link; it forwards and de-NATs
  ipIn(lab, 'dir', 'addr', 'add', '10.98.0.1/24', 'dev', 'eth0');
  ipIn(lab, 'dir', 'addr', 'add', `${VIP}/32`, 'dev', 'eth0');
  sysctl(lab, 'dir', 'net.ipv4.ip_forward=1');
  sysctl(lab, 'dir', 'net.ipv4.conf.all.send_redirects=0');
  sysctl(lab, 'dir', 'net.ipv4.conf.eth0.send_redirects=0');
  ipIn(lab, 'client', 'route', 'add', 'default', 'via', '10.98.0.1');
  for (const h of ['rs1', 'rs2', 'rs3', 'sorry']) ipIn(lab, h, 'route', 'add', 'default', 'via', '10.99.0.2');
  await Promise.all(['rs1', 'rs2', 'rs3', 'sorry'].map((n) => serve(n)));
  // someone else's service, which alived must leave as it is
  ipvsadm(dirNs, '-A', '-t', '10.98.0.200:443', '-s', 'rr');
  ipvsadm(dirNs, '-a', '-t', '10.98.0.200:443', '-r', '10.99.0.11:443', '-m');
  before0 = ipvsadm(dirNs, '-Ln');
  timeouts0 = ipvsadm(dirNs, '-Ln', '--timeout');
  conf = config(1);
  daemon = await startDaemon();
});

after(async () => {
  if (daemon && daemon.proc.exitCode === null) await stopProcess(daemon.proc, 'SIGKILL');
  await lab?.destroy();
});

test('the pool is programmed: NAT real servers with their weights, the timeouts of lvs_timeouts, the foreign service untouched', () => {
  assert.deepEqual(table(), ['10.99.0.11:8080 1', '10.99.0.12:8080 2', '10.99.0.13:8080 3']);
  assert.match(ipvsadm(dirNs, '-Ln'), new RegExp(`TCP {2}${VIP.replace(/\./g, '\\.')}:80 wrr`));
  assert.match(ipvsadm(dirNs, '-Ln', '--timeout'), /Timeout \(tcp tcpfin udp\): 7200 90 240/);
  assert.deepEqual(destinations(dirNs, '10.98.0.200:443'), ['10.99.0.11:443 1']);
});

test("traffic to the virtual address reaches the real servers in the scheduler's proportions (wrr 1:2:3)", async () => {
  const r = await requests(lab, 'client', `http://${VIP}/`, 60);
  assert.deepEqual(r, { counts: { rs1: 10, rs2: 20, rs3: 30 }, errors: 0 });
  // the kernel folds its per-CPU counters into what it reports every 2 s
  await until(
    'the kernel to count 60 connections',
    () => new RegExp(`TCP {2}${VIP.replace(/\./g, '\\.')}:80 +60 `).test(ipvsadm(dirNs, '-Ln', '--stats')),
    10_000,
    250,
  );
});

test("SIGUSR2: the stats file has the kernel's counters of the service and of each real server", async () => {
  const file = '/tmp/alived_lvsnat.stats';
  fs.rmSync(file, { force: true });
  const mark = daemon.lines.length;
  process.kill(daemon.proc.pid!, 'SIGUSR2');
  await until('the stats file', () => daemon.lines.slice(mark).some((l) => l.includes(`wrote ${file}`)), 10_000);
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf(`Virtual Server: TCP ${SERVICE}`);
  assert.ok(at >= 0, text);
  const part = text.slice(at);
  assert.match(part, /^ {2}Scheduler: wrr$/m);
  assert.match(part, /^ {2}Connections: 60$/m);
  // each real server: its weight and its share of the 60 connections (wrr 1:2:3)
  for (const [rs, weight, conns] of [
    ['10.99.0.11', 1, 10],
    ['10.99.0.12', 2, 20],
    ['10.99.0.13', 3, 30],
  ] as const) {
    const block = part.slice(part.indexOf(`  Real Server: ${rs}:8080`)).split('\n  Real Server')[0]!;
    assert.match(block, new RegExp(`Weight: ${weight}\n`), block);
    assert.match(block, new RegExp(`^ {4}Connections: ${conns}$`, 'm'), block);
    assert.match(block, /^ {4}Packets In: [1-9]\d*$/m, block);
  }
  fs.rmSync(file, { force: true });
});

test(`a real server that dies leaves the table within delay_loop + retries (${DOWN_BOUND_S} s), and comes back when it recovers`, async () => {
  await kill('rs2');
  const t0 = Date.now();
  const took = await until('rs2 to leave the table', () => !table().some((l) => l.startsWith('10.99.0.12:')), DOWN_BOUND_S * 1000 + SLACK_MS);
  process.stdout.write(
    `# real server failure -> removal from the table: ${Date.now() - t0} ms (delay_loop ${DELAY_LOOP} s, retry ${RETRY}, delay_before_retry ${DELAY_BEFORE_RETRY} s, connect_timeout ${CONNECT_TIMEOUT} s)\n`,
  );
  assert.ok(took <= DOWN_BOUND_S * 1000 + SLACK_MS);
  const r = await requests(lab, 'client', `http://${VIP}/`, 8);
  assert.equal(r.errors, 0);
  assert.equal(r.counts.rs2, undefined, 'no traffic to the dead server');
  await serve('rs2');
  await until('rs2 to come back', () => table().includes('10.99.0.12:8080 2'), DELAY_LOOP * 1000 + CONNECT_TIMEOUT * 1000 + SLACK_MS);
  assert.deepEqual(table(), ['10.99.0.11:8080 1', '10.99.0.12:8080 2', '10.99.0.13:8080 3']);
});

test('an inhibit_on_failure real server that dies stays in the table at weight 0; losing the quorum brings in the sorry server', async () => {
  // rs3 (weight 3, inhibited) down: 1 + 2 = 3 < quorum 4
  await kill('rs3');
  await until('the sorry server', () => table().includes('10.99.0.14:8080 1'), DOWN_BOUND_S * 1000 + SLACK_MS);
  assert.deepEqual(table(), ['10.99.0.13:8080 0', '10.99.0.14:8080 1'], 'the sorry server replaces the pool; the inhibited server stays at weight 0');
  await vl.waitLine(daemon, /Lost quorum/, 5000);
  const r = await requests(lab, 'client', `http://${VIP}/`, 6);
  assert.deepEqual(r, { counts: { sorry: 6 }, errors: 0 });
  await serve('rs3');
  await until(
    'the pool to come back',
    () => table().join(',') === '10.99.0.11:8080 1,10.99.0.12:8080 2,10.99.0.13:8080 3',
    DELAY_LOOP * 1000 + CONNECT_TIMEOUT * 1000 + SLACK_MS,
  );
  await vl.waitLine(daemon, /Gained quorum/, 5000);
});

test('a reload that changes one line sends one request; the service is not re-created: its counters go on and an established connection survives', async () => {
  const conns = (): number => Number(new RegExp(`TCP {2}${VIP.replace(/\./g, '\\.')}:80 +(\\d+) `).exec(ipvsadm(dirNs, '-Ln', '--stats'))![1]);
  const c0 = conns();
  assert.ok(c0 >= 60);
  // a connection whose real server left the table would be dropped at its next packet
  sysctl(lab, 'dir', 'net.ipv4.vs.expire_nodest_conn=1');
  const held = await holdConnection(lab, 'client', VIP, 80);
  conf = config(4);
  fs.writeFileSync(daemon.config, conf);
  const mark = daemon.lines.length;
  process.kill(daemon.proc.pid!, 'SIGHUP');
  await until('the reload', () => daemon.lines.slice(mark).some((l) => /Reload complete/.test(l)), 30_000);
  await until('rs1 at weight 4', () => table().includes('10.99.0.11:8080 4'), 10_000);
  const since = mark + daemon.lines.slice(mark).findIndex((l) => /Reloading/.test(l));
  const synced = daemon.lines.slice(since).filter((l) => /IPVS synced/.test(l));
  assert.deepEqual(
    synced.map((l) => /IPVS synced: (.*) \((\d+) requests?/.exec(l)!.slice(1, 3).join(' / ')),
    ['1 real servers changed / 1'],
    synced.join('\n'),
  );
  assert.ok(conns() >= c0, 'the counters of the service survived the reload');
  assert.match(await held.finish(), /^reply "HTTP\/1\.1 200 OK[^]*(rs1|rs2|rs3)"$/, 'the connection opened before the reload is answered after it');
});

test('a crashed run leaves its table; the next start adopts it without duplicates, and SIGTERM leaves the table as it was before alived started', async () => {
  await stopProcess(daemon.proc, 'SIGKILL');
  assert.equal(table().length, 3, 'the crashed run left its pool');
  daemon = await startDaemon();
  await vl.waitLine(daemon, /Adopting IPVS service TCP 10\.98\.0\.100:80 already in the kernel \(3 real servers\)/, 10_000);
  const services = ipvsadm(dirNs, '-Ln')
    .split('\n')
    .filter((l) => /^TCP/.test(l));
  assert.equal(services.length, 2, 'one service of alived, one foreign: nothing duplicated');
  await until('the adopted pool in shape', () => table().join(',') === '10.99.0.11:8080 4,10.99.0.12:8080 2,10.99.0.13:8080 3', 10_000);
  process.kill(daemon.proc.pid!, 'SIGTERM');
  const exit = await Promise.race([daemon.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
  assert.ok(exit, 'alived stopped');
  assert.equal(exit.code, 0);
  assert.equal(ipvsadm(dirNs, '-Ln'), before0, 'the table is as it was before alived started');
  assert.equal(ipvsadm(dirNs, '-Ln', '--timeout'), timeouts0, 'the connection timeouts too');
});

test('-I (--dont-release-ipvs) leaves the pool in the kernel at SIGTERM', async () => {
  daemon = vl.startAlived('dir', conf, ['-I']);
  await vl.waitLine(daemon, /IPVS synced: 1 services added/, 60_000);
  process.kill(daemon.proc.pid!, 'SIGTERM');
  await daemon.exited;
  assert.ok(daemon.lines.some((l) => /--dont-release-ipvs: leaving 1 IPVS service in the kernel/.test(l)));
  assert.equal(table().length, 3);
  ipvsadm(dirNs, '-D', '-t', SERVICE);
});
