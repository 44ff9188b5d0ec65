/**
 * IPVS reconciler figures, measured against a real IPVS kernel: this file
 * boots the test VM (test/vm) and runs itself inside it.
 *
 * 1. 500 virtual servers x 20 real servers reconciled from an empty table,
 *    then after a one-line change of the config (one weight), then with
 *    nothing changed: time and netlink messages.
 * 2. A real server fails (its HTTP server killed) under a running alived
 *    with TCP_CHECK: time until it leaves the kernel's table, against
 *    delay_loop + retry x delay_before_retry + connect_timeout.
 *
 * Prints figures; asserts nothing. BENCH_QUICK=1: 100 virtual servers and
 * 2 failures.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planChecks } from '../core/check/plan';
import { VirtualServerState } from '../core/check/pool';
import { compileConfig } from '../core/config/compile';
import { BUILTIN_PLUGINS } from '../core/plugin/builtins';
import type { ConfigModel } from '../core/config/model';
import { IpvsClient } from '../core/ipvs/client';
import { desiredTable } from '../core/ipvs/desired';
import { IpvsReconciler } from '../core/ipvs/reconciler';
import { Lab } from '../core/lab/netns';
import { VrrpLab } from '../core/lab/vrrp-lab';
import { createLogger } from '../core/log/logger';
import { PluginHost } from '../core/plugin/host';
import { runInVm } from '../test/vm/machine';
import { destinations, ipIn, startHttpServer, stopProcess, sysctl, until } from '../test/ipvs/lab-net';

const QUICK = process.env.BENCH_QUICK === '1';
const VS = QUICK ? 100 : 500;
const RS = 20;

function configText(weightOfFirst: number): string {
  const out: string[] = [];
  for (let v = 0; v < VS; v++) {
    const vip = `10.${100 + (v >> 8)}.${v & 255}.1`;
    out.push(`virtual_server ${vip} 80 {\n  protocol TCP\n  lvs_sched wrr\n  lvs_method NAT`);
    for (let r = 0; r < RS; r++)
      out.push(`  real_server 10.200.${v & 255}.${r + 2 + (v >> 8) * RS} 8080 {\n    weight ${v === 0 && r === 0 ? weightOfFirst : 1}\n  }`);
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}

async function compile(text: string): Promise<ConfigModel> {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-')), 'alived.conf');
  fs.writeFileSync(f, text);
  const log = createLogger([], 'error');
  const r = await compileConfig(f, { builtins: BUILTIN_PLUGINS, pluginHost: new PluginHost({ log }), log });
  if (!r.ok) throw new Error(`the bench config has ${r.errorCount} errors`);
  return r.model!;
}

/** Every real server up, every quorum up: the pools the checks would give. */
function upPools(model: ConfigModel): ReturnType<VirtualServerState['pool']>[] {
  return planChecks(model, new Map()).virtualServers.map((p) => {
    const s = new VirtualServerState(p);
    for (const rs of s.realServers) rs.alive = true;
    s.quorumUp = true;
    return s.pool();
  });
}

async function reconcileFigures(): Promise<void> {
  const client = await IpvsClient.open({ timeoutMs: 30_000 });
  await client.flush();
  const rec = new IpvsReconciler(client, { log: createLogger([], 'error') });
  const m1 = await compile(configText(1));
  const t0 = performance.now();
  const d1 = desiredTable(m1, upPools(m1));
  const computeMs = performance.now() - t0;
  await rec.begin(d1);
  const c0 = { ...client.counts };
  const r1 = await rec.sync(d1);
  const msgs1 = { requests: client.counts.requests - c0.requests, replies: client.counts.replies - c0.replies };
  const m2 = await compile(configText(5));
  const d2 = desiredTable(m2, upPools(m2));
  const c1 = { ...client.counts };
  const r2 = await rec.sync(d2);
  const msgs2 = { requests: client.counts.requests - c1.requests, replies: client.counts.replies - c1.replies };
  const r3 = await rec.sync(d2);
  const table = await client.table();
  const dests = table.reduce((n, s) => n + s.destinations.length, 0);
  console.log(`ipvs-reconcile: ${VS} virtual servers x ${RS} real servers (${VS * RS} destinations), netlink in the VM's kernel`);
  console.log(`  desired table computed from the config and pools: ${computeMs.toFixed(1)} ms`);
  console.log(
    `  from empty:          ${r1.ms.toFixed(0)} ms, ${msgs1.requests} requests / ${msgs1.replies} replies (${r1.servicesAdded} services, ${r1.destinationsAdded} destinations added)`,
  );
  console.log(
    `  one-line change:     ${r2.ms.toFixed(1)} ms, ${msgs2.requests} request${msgs2.requests === 1 ? '' : 's'} / ${msgs2.replies} repl${msgs2.replies === 1 ? 'y' : 'ies'} (${r2.destinationsChanged} destination changed, ${r2.servicesAdded + r2.servicesRemoved + r2.servicesChanged} services touched)`,
  );
  console.log(`  nothing changed:     ${r3.ms.toFixed(1)} ms, ${r3.requests} requests`);
  console.log(`  kernel table after:  ${table.length} services, ${dests} destinations`);
  await rec.release();
  client.close();
}

async function failureFigures(): Promise<void> {
  const runs = QUICK ? 2 : 5;
  const lab = await Lab.create({
    name: 'benchfail',
    hosts: [
      { name: 'client', ip: '10.98.0.10' },
      { name: 'dir', ip: '10.99.0.2' },
      { name: 'rs1', ip: '10.99.0.11' },
      { name: 'rs2', ip: '10.99.0.12' },
    ],
  });
  try {
    ipIn(lab, 'dir', 'addr', 'add', '10.98.0.100/32', 'dev', 'eth0');
    sysctl(lab, 'dir', 'net.ipv4.ip_forward=1');
    let rs1 = await startHttpServer(lab, 'rs1', 'rs1', 8080);
    await startHttpServer(lab, 'rs2', 'rs2', 8080);
    const vl = new VrrpLab(lab, fs.mkdtempSync(path.join(os.tmpdir(), 'alived-benchfail-')));
    const check = 'TCP_CHECK {\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }';
    const d = vl.startAlived(
      'dir',
      `virtual_server 10.98.0.100 80 {\n  protocol TCP\n  lvs_sched rr\n  lvs_method NAT\n  delay_loop 1\n  real_server 10.99.0.11 8080 {\n    ${check}\n  }\n  real_server 10.99.0.12 8080 {\n    ${check}\n  }\n}\n`,
    );
    await vl.waitLine(d, /IPVS synced: 1 services added/, 60_000);
    const ns = lab.host('dir').ns;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      // a random phase against the checker's loop
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1000));
      await stopProcess(rs1);
      const t0 = Date.now();
      await until('removal', () => !destinations(ns, '10.98.0.100:80').some((l) => l.startsWith('10.99.0.11:')), 30_000, 20);
      times.push(Date.now() - t0);
      rs1 = await startHttpServer(lab, 'rs1', 'rs1', 8080);
      await until('return', () => destinations(ns, '10.98.0.100:80').some((l) => l.startsWith('10.99.0.11:')), 30_000, 50);
    }
    await stopProcess(d.proc, 'SIGTERM');
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `  real server failure -> removal from the table (TCP_CHECK, delay_loop 1 s, retry 1, delay_before_retry 1 s, connect_timeout 1 s; bound 1 + 1 x 1 (+ timeouts: refused connections fail at once) = 2-4 s), ${runs} runs:`,
    );
    console.log(`    min ${sorted[0]} ms, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms`);
  } finally {
    await lab.destroy();
  }
}

async function main(): Promise<void> {
  if (process.env.ALIVED_IN_VM !== '1') {
    const r = await runInVm({
      command: `exec ${process.execPath} ${__filename}`,
      cwd: path.join(__dirname, '..', '..'),
      env: { ALIVED_IN_VM: '1', ...(QUICK ? { BENCH_QUICK: '1' } : {}) },
      timeoutMs: 30 * 60_000,
      onLine: (l) => {
        if (!/^(ALIVED-VM-|\[ *\d)/.test(l)) console.log(l);
      },
    });
    console.log(
      `  (VM: ${r.accel}, boot ${r.bootMs ?? '-'} ms, whole run ${(r.totalMs / 1000).toFixed(1)} s; figures under software emulation are several times a real machine's)`,
    );
    if (r.exitCode !== 0) process.exitCode = 1;
    return;
  }
  await reconcileFigures();
  await failureFigures();
}

main().catch((err: Error) => {
  console.error(`ipvs-reconcile: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
