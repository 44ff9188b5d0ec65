import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, removeStaleLabs, type LabHost } from '../../core/lab/netns';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { startHaproxy, startNginx, startTomcat, type Service, type Spawner } from '../helpers/services';
import { ContainerHost, labSpawner } from '../helpers/container-host';
import { startHttpServer, stopProcess } from '../ipvs/lab-net';

/**
 * The service probes driving VRRP with the real daemons, in a lab: nginx,
 * haproxy and Tomcat run inside the lab hosts' namespaces (each host its
 * own, on its own loopback), alived on both hosts tracks them. Killing the
 * service on the master moves the VIP to the backup; starting it again
 * brings it back (preemption); a stuck (SIGSTOPped) one is caught by the
 * HTTP / stats check. Process tracking runs here by scanning /proc (the
 * proc connector refuses a non-initial network namespace).
 *
 * Prints the time from the kill to the VIP on the backup (the kernel's
 * address event), for the figures.
 *
 * The examples nginx-ha, haproxy-ha and tomcat-ha run as shipped (with
 * their -i ids). haproxy-ha and tomcat-ha name fixed paths
 * (/run/haproxy/admin.sock, /var/lib/tomcat10) and count processes by name:
 * their lab hosts are container hosts (test/helpers/container-host.ts),
 * each with its own mounts over those paths and its own PID namespace.
 */

const VIP = '10.96.0.90';
let lab: Lab;
const dir = tmpDir('alived-service-lab-');

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'svc',
    hosts: [
      { name: 'n1', ip: '10.96.0.11' },
      { name: 'n2', ip: '10.96.0.12' },
    ],
  });
});
after(() => (lab ? lab.destroy() : undefined));

const spawnerFor = (h: string): Spawner => labSpawner(lab, h);

/** an HTTP answer from inside the host (its own loopback): bash's /dev/tcp */
const httpFrom =
  (h: string) =>
  async (address: string, port: number): Promise<boolean> => {
    const r = await lab.exec(h, ['bash', '-c', `exec 3<>/dev/tcp/${address}/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 12 <&3`], 3000);
    return / 200/.test(r.stdout);
  };

function instance(priority: number, track: string): string {
  return `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority ${priority}
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
${track}}
`;
}

async function reset(): Promise<VrrpLab> {
  lab.killHostProcesses();
  for (const h of lab.hosts) {
    await lab.exec(h, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
  }
  const v = new VrrpLab(lab, tmpDir('alived-svc-'));
  await v.watch();
  return v;
}

async function stopAll(v: VrrpLab, services: Service[]): Promise<void> {
  for (const d of v.daemons) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      v.signal(d, 'SIGTERM');
      await d.exited;
    }
  }
  for (const s of services) await s.stop();
}

/** time from `t0` to the VIP's address event on `host` */
async function vipOn(v: VrrpLab, host: string, t0: bigint, ms: number, vip = VIP): Promise<number> {
  const e = await v.waitEvent((x) => x.host === host && x.kind === 'addr' && x.op === 'new' && x.address === vip, t0, ms);
  return Number(e.t - t0) / 1e6;
}

function hostDir(name: string, h: LabHost | string): string {
  return path.join(dir, `${name}-${typeof h === 'string' ? h : h.name}`);
}

test('nginx HA: NGINX_CHECK as a vrrp_check; nginx killed on the master moves the VIP, started again brings it back; a stuck nginx is caught by its URL', async () => {
  const v = await reset();
  const port = 8081;
  const nginx: Record<string, Service> = {};
  for (const h of ['n1', 'n2']) nginx[h] = await startNginx(hostDir('nginx', h), '127.0.0.1', port, { spawner: spawnerFor(h), waitFrom: httpFrom(h) });
  const check = `vrrp_check nginx {\n  NGINX_CHECK {\n    connect_port ${port}\n    url /nginx_status\n  }\n  interval 0.2\n  timeout 0.5\n}\n`;
  const d1 = v.startAlived('n1', check + instance(150, '  track_check {\n    nginx\n  }\n'));
  v.startAlived('n2', check + instance(100, '  track_check {\n    nginx\n  }\n'));
  await v.waitHolder(VIP, 'n1', 10_000);

  // killed: the master and its worker
  let t0 = process.hrtime.bigint();
  await nginx.n1!.stop();
  const killMs = await vipOn(v, 'n2', t0, 5000);
  await v.waitLine(d1, /VRRP_Check\(nginx\) failed: NGINX_CHECK 127\.0\.0\.1:8081: (no nginx process|connection refused)/, 1000);
  await v.waitLine(d1, /\(VI_1\) Entering FAULT STATE/, 1000);
  nginx.n1 = await startNginx(hostDir('nginx', 'n1'), '127.0.0.1', port, { spawner: spawnerFor('n1'), waitFrom: httpFrom('n1') });
  await v.waitHolder(VIP, 'n1', 5000);

  // stuck: the URL times out
  t0 = process.hrtime.bigint();
  process.kill(-nginx.n1.pid, 'SIGSTOP');
  const stuckMs = await vipOn(v, 'n2', t0, 5000);
  await v.waitLine(d1, /VRRP_Check\(nginx\) failed: NGINX_CHECK 127\.0\.0\.1:8081: timed out/, 1000);
  process.kill(-nginx.n1.pid, 'SIGCONT');
  await v.waitHolder(VIP, 'n1', 5000);
  console.log(
    `# nginx killed on the master -> VIP on the backup: ${killMs.toFixed(0)} ms; nginx stopped (SIGSTOP) -> VIP on the backup: ${stuckMs.toFixed(0)} ms (interval 0.2 s, timeout 0.5 s, advert_int 0.1 s)`,
  );
  await stopAll(v, Object.values(nginx));
});

test('haproxy HA: vrrp_track_process (scanning /proc in the lab) and HAPROXY_CHECK on the stats socket; killed, the VIP moves; back, it returns; stuck, the stats socket catches it', async () => {
  const v = await reset();
  const haproxy: Record<string, Service & { statsSocket: string }> = {};
  const cfg = (h: string) => path.join(hostDir('haproxy', h), 'haproxy.cfg');
  for (const h of ['n1', 'n2']) haproxy[h] = await startHaproxy(hostDir('haproxy', h), '127.0.0.1', 8082, ['127.0.0.1:9'], { spawner: spawnerFor(h) });
  const conf = (h: string, prio: number) =>
    `vrrp_track_process haproxy_proc {\n  process /usr/sbin/haproxy -db -f ${cfg(h)}\n}\n` +
    `vrrp_check haproxy_stats {\n  HAPROXY_CHECK {\n    stats_socket ${haproxy[h]!.statsSocket}\n  }\n  interval 0.2\n  timeout 0.5\n}\n` +
    instance(prio, '  track_process {\n    haproxy_proc\n  }\n  track_check {\n    haproxy_stats\n  }\n');
  const d1 = v.startAlived('n1', conf('n1', 150));
  v.startAlived('n2', conf('n2', 100));
  await v.waitHolder(VIP, 'n1', 10_000);
  await v.waitLine(d1, /Process tracking: scanning \/proc \(proc connector: ECONNREFUSED\)/, 1000);

  let t0 = process.hrtime.bigint();
  haproxy.n1!.signal('SIGKILL');
  const killMs = await vipOn(v, 'n2', t0, 5000);
  await v.waitLine(d1, /Quorum lost for tracked process haproxy_proc/, 2000);
  haproxy.n1 = await startHaproxy(hostDir('haproxy', 'n1'), '127.0.0.1', 8082, ['127.0.0.1:9'], { spawner: spawnerFor('n1') });
  await v.waitHolder(VIP, 'n1', 5000);
  await v.waitLine(d1, /Quorum gained for tracked process haproxy_proc/, 1000);

  t0 = process.hrtime.bigint();
  haproxy.n1.signal('SIGSTOP');
  const stuckMs = await vipOn(v, 'n2', t0, 5000);
  await v.waitLine(d1, /VRRP_Check\(haproxy_stats\) failed: HAPROXY_CHECK .*admin\.sock: timed out/, 1000);
  haproxy.n1.signal('SIGCONT');
  await v.waitHolder(VIP, 'n1', 5000);
  console.log(`# haproxy killed on the master -> VIP on the backup: ${killMs.toFixed(0)} ms (process tracking, scanning); stuck -> ${stuckMs.toFixed(0)} ms`);
  await stopAll(v, Object.values(haproxy));
});

test('tomcat hot standby: TOMCAT_CHECK with a weight; java killed on the master lowers its priority below the backup, Tomcat back restores it; a stuck JVM is caught by the URL', async () => {
  const v = await reset();
  const port = 8083;
  const tomcat: Record<string, Service> = {};
  await Promise.all(
    ['n1', 'n2'].map(async (h) => {
      tomcat[h] = await startTomcat(hostDir('tomcat', h), '127.0.0.1', port, { spawner: spawnerFor(h), waitFrom: httpFrom(h) });
    }),
  );
  const check = `vrrp_check tomcat {\n  TOMCAT_CHECK {\n    connect_port ${port}\n    url /health.txt\n  }\n  interval 0.3\n  timeout 1\n  weight -60\n}\n`;
  const d1 = v.startAlived('n1', check + instance(150, '  track_check {\n    tomcat\n  }\n'));
  v.startAlived('n2', check + instance(100, '  track_check {\n    tomcat\n  }\n'));
  await v.waitHolder(VIP, 'n1', 10_000);

  let t0 = process.hrtime.bigint();
  tomcat.n1!.signal('SIGKILL');
  const killMs = await vipOn(v, 'n2', t0, 5000);
  await v.waitLine(d1, /\(VI_1\) Changing effective priority from 150 to 90/, 1000);
  tomcat.n1 = await startTomcat(hostDir('tomcat', 'n1'), '127.0.0.1', port, { spawner: spawnerFor('n1'), waitFrom: httpFrom('n1') });
  await v.waitHolder(VIP, 'n1', 5000);

  t0 = process.hrtime.bigint();
  tomcat.n1.signal('SIGSTOP');
  const stuckMs = await vipOn(v, 'n2', t0, 5000);
  await v.waitLine(d1, /VRRP_Check\(tomcat\) failed: TOMCAT_CHECK 127\.0\.0\.1:8083: timed out/, 1000);
  tomcat.n1.signal('SIGCONT');
  await v.waitHolder(VIP, 'n1', 8000);
  assert.ok(!d1.lines.some((l) => /Entering FAULT/.test(l)), 'a weighted check never means FAULT');
  console.log(`# tomcat killed on the master -> VIP on the backup: ${killMs.toFixed(0)} ms; stuck -> ${stuckMs.toFixed(0)} ms (interval 0.3 s, timeout 1 s)`);
  await stopAll(v, Object.values(tomcat));
});

test('examples/nginx-ha/keepalived.conf as shipped (-i web1 / -i web2): nginx killed on web1 moves the VIP to web2, back on web1 when nginx returns', async () => {
  const v = await reset();
  const conf = exampleConf('nginx-ha');
  const vip = '192.0.2.80';
  const nginx: Record<string, Service> = {};
  for (const h of ['n1', 'n2']) nginx[h] = await startNginx(hostDir('nginx-ex', h), '127.0.0.1', 80, { spawner: spawnerFor(h), waitFrom: httpFrom(h) });
  const d1 = v.startAlived('n1', conf, ['-i', 'web1']);
  v.startAlived('n2', conf, ['-i', 'web2']);
  try {
    await v.waitHolder(vip, 'n1', 15_000);
    await nginx.n1!.stop();
    await v.waitHolder(vip, 'n2', 10_000);
    await v.waitLine(d1, /\(VI_WEB\) Entering FAULT STATE/, 1000);
    nginx.n1 = await startNginx(hostDir('nginx-ex', 'n1'), '127.0.0.1', 80, { spawner: spawnerFor('n1'), waitFrom: httpFrom('n1') });
    await v.waitHolder(vip, 'n1', 10_000);
  } finally {
    await stopAll(v, Object.values(nginx));
    for (const h of lab.hosts) await lab.exec(h, ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0']);
  }
});

function exampleConf(example: string): string {
  return fs.readFileSync(path.join(PROJECT_ROOT, 'examples', example, 'keepalived.conf'), 'utf8');
}

/** both lab hosts as container hosts, with these binds each */
async function containerHosts(binds: (h: string) => Record<string, string>): Promise<Record<string, ContainerHost>> {
  const containers: Record<string, ContainerHost> = {};
  for (const h of ['n1', 'n2']) containers[h] = await ContainerHost.start(lab, h, binds(h));
  return containers;
}

/** the daemons' last lines, for a failure's message */
function lastLines(v: VrrpLab): string {
  return v.daemons.map((d) => `--- ${d.host.name}\n${d.lines.slice(-25).join('\n')}`).join('\n');
}

async function stopContainers(containers: Record<string, ContainerHost>, vip: string): Promise<void> {
  for (const c of Object.values(containers)) await c.stop();
  for (const h of lab.hosts) await lab.exec(h, ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0']);
}

test('examples/haproxy-ha/keepalived.conf as shipped (-i lb1 / -i lb2) on container hosts: haproxy killed on lb1 (its process quorum lost) moves the VIP to lb2, back when haproxy returns; backend app without a server up moves it too', async () => {
  const v = await reset();
  const vip = '192.0.2.81';
  const conf = exampleConf('haproxy-ha');
  const containers = await containerHosts((h) => ({ '/run/haproxy': hostDir('haproxy-ex', h) }));
  const start = (h: string) =>
    startHaproxy(hostDir('haproxy-ex', h), '0.0.0.0', 80, ['127.0.0.1:8090'], { spawner: containers[h]!.spawner, seenAs: '/run/haproxy' });
  try {
    const haproxy: Record<string, Service> = {};
    const app: Record<string, ChildProcess> = {};
    for (const h of ['n1', 'n2']) {
      app[h] = await startHttpServer(lab, h, `app-${h}`, 8090);
      haproxy[h] = await start(h);
    }
    const d1 = v.startAlived('n1', conf, ['-i', 'lb1'], containers.n1!.enter);
    v.startAlived('n2', conf, ['-i', 'lb2'], containers.n2!.enter);
    await v.waitHolder(vip, 'n1', 15_000);
    await v.waitLine(d1, /Process tracking: scanning \/proc/, 1000);
    // its own haproxy only: lb2's runs in another PID namespace
    await v.waitLine(d1, /Tracked process haproxy: 1 running /, 1000);

    let t0 = process.hrtime.bigint();
    await haproxy.n1!.stop();
    const killMs = await vipOn(v, 'n2', t0, 10_000, vip);
    await v.waitLine(d1, /Quorum lost for tracked process haproxy /, 1000);
    await v.waitLine(d1, /\(VI_LB\) Entering FAULT STATE/, 1000);
    haproxy.n1 = await start('n1');
    await v.waitHolder(vip, 'n1', 10_000);
    await v.waitLine(d1, /Quorum gained for tracked process haproxy /, 1000);

    // the backend's only server down: haproxy runs, the stats socket says app has none up
    t0 = process.hrtime.bigint();
    await stopProcess(app.n1!);
    const backendMs = await vipOn(v, 'n2', t0, 10_000, vip);
    await v.waitLine(d1, /VRRP_Check\(haproxy_stats\) failed: HAPROXY_CHECK .*backend app: 0 of 1 servers up, 1 needed/, 1000);
    app.n1 = await startHttpServer(lab, 'n1', 'app-n1', 8090);
    await v.waitHolder(vip, 'n1', 10_000);
    console.log(
      `# examples/haproxy-ha: haproxy killed on lb1 -> VIP on lb2: ${killMs.toFixed(0)} ms; backend app down -> ${backendMs.toFixed(0)} ms (interval 1 s, fall 2)`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${lastLines(v)}`);
  } finally {
    await stopContainers(containers, vip);
  }
});

test('examples/tomcat-ha/keepalived.conf as shipped (-i tc1 / -i tc2) on container hosts: java killed on tc1 lowers it to 90, below tc2, and the VIP moves; Tomcat back, tc1 takes it back after preempt_delay 10', async () => {
  const v = await reset();
  const vip = '192.0.2.82';
  const conf = exampleConf('tomcat-ha');
  const containers = await containerHosts((h) => ({ '/var/lib/tomcat10': hostDir('tomcat-ex', h) }));
  const start = (h: string) =>
    startTomcat(hostDir('tomcat-ex', h), '127.0.0.1', 8080, { spawner: containers[h]!.spawner, waitFrom: httpFrom(h), seenAs: '/var/lib/tomcat10' });
  try {
    const tomcat: Record<string, Service> = {};
    await Promise.all(
      ['n1', 'n2'].map(async (h) => {
        tomcat[h] = await start(h);
      }),
    );
    const d1 = v.startAlived('n1', conf, ['-i', 'tc1'], containers.n1!.enter);
    v.startAlived('n2', conf, ['-i', 'tc2'], containers.n2!.enter);
    await v.waitHolder(vip, 'n1', 15_000);

    const t0 = process.hrtime.bigint();
    await tomcat.n1!.stop();
    const killMs = await vipOn(v, 'n2', t0, 15_000, vip);
    await v.waitLine(d1, /\(VI_TOMCAT\) Changing effective priority from 150 to 90/, 1000);
    tomcat.n1 = await start('n1');
    await v.waitLine(d1, /\(VI_TOMCAT\) Changing effective priority from 90 to 150/, 10_000);
    const restored = Date.now();
    await v.waitHolder(vip, 'n1', 20_000);
    const backMs = Date.now() - restored;
    assert.ok(backMs >= 9000, `tc1 took the VIP back ${backMs} ms after its priority came back: preempt_delay 10 was not waited for`);
    assert.ok(!d1.lines.some((l) => /Entering FAULT/.test(l)), 'a weighted check never means FAULT');
    console.log(
      `# examples/tomcat-ha: java killed on tc1 -> VIP on tc2: ${killMs.toFixed(0)} ms (interval 2 s, fall 2); back on tc1 ${backMs} ms after its priority returned (preempt_delay 10)`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${lastLines(v)}`);
  } finally {
    await stopContainers(containers, vip);
  }
});
