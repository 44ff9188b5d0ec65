/**
 * What the check benchmarks share: real servers in a child process
 * (check-listeners.js), a config of N real servers built from a checker
 * block, the CheckService with the built-in checkers on real timers, and
 * the figures of the checking process (this one): checks per second
 * sustained, lateness, every server checked every loop, CPU, RSS.
 * Prints figures; asserts nothing about time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { compileConfig } from '../core/config/compile';
import { BUILTIN_PLUGINS } from '../core/plugin/builtins';
import { CheckService, tuneHeapForChecks } from '../core/check/service';
import { createLogger, streamSink } from '../core/log/logger';
import { PluginHost } from '../core/plugin/host';

export interface CheckBenchOptions {
  /** `check-tcp` */
  readonly name: string;
  readonly kind: 'tcp' | 'http';
  readonly servers: number;
  /** real servers per virtual server */
  readonly perVirtualServer: number;
  /** the checker block for a real server on `port` */
  readonly checker: (port: number) => string;
  readonly delayLoopS: number;
  /** the target, for the printout */
  readonly target: string;
}

const QUICK = process.env.BENCH_QUICK === '1';

/** a full collection on demand, to tell live memory from garbage not collected yet (measurement only) */
function fullGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

async function listeners(kind: 'tcp' | 'http', count: number): Promise<{ ports: number[]; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'check-listeners.js'), kind, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('check-listeners did not start within 60 s')), 60_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`check-listeners exited with ${code}`)));
  });
  rl.close();
  return { ports: (JSON.parse(line) as { ports: number[] }).ports, child };
}

function configText(o: CheckBenchOptions, ports: number[]): string {
  const out: string[] = [];
  for (let v = 0; v * o.perVirtualServer < ports.length; v++) {
    out.push(`virtual_server 192.0.2.1 ${1000 + v} {\n  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n  delay_loop ${o.delayLoopS}`);
    for (const port of ports.slice(v * o.perVirtualServer, (v + 1) * o.perVirtualServer)) {
      out.push(`  real_server 127.0.0.1 ${port} {\n${o.checker(port)}\n  }`);
    }
    out.push('}');
  }
  return out.join('\n') + '\n';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;

export async function runCheckBench(o: CheckBenchOptions): Promise<void> {
  const windowS = QUICK ? 5 : 20;
  const { ports, child } = await listeners(o.kind, o.servers);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-'));
  const file = path.join(dir, 'keepalived.conf');
  let service: CheckService | undefined;
  let host: PluginHost | undefined;
  try {
    fs.writeFileSync(file, configText(o, ports));
    // warnings and errors only: 10,000 "Activating healthchecker" lines are not the point
    const log = createLogger([streamSink(process.stderr, 'text', o.name)], 'warn');
    host = new PluginHost({ log });
    const t0 = performance.now();
    const compiled = await compileConfig(file, { builtins: BUILTIN_PLUGINS, pluginHost: host, log });
    if (!compiled.ok)
      throw new Error(
        `the generated config has errors: ${compiled.diagnostics
          .filter((d) => d.severity === 'error')
          .map((d) => d.message)
          .slice(0, 3)
          .join('; ')}`,
      );
    await host.hooks.configLoaded.promise(compiled.model!);
    const compileMs = performance.now() - t0;

    // every result through a hook, as a plugin that watches would see it: the gap between checks of each server
    const index = new Map(ports.map((p, i) => [p, i]));
    const last = new Float64Array(ports.length);
    const maxGap = new Float64Array(ports.length);
    const counted = new Uint32Array(ports.length);
    let measuring = false;
    host.hooks.checkResult.tap('bench', (e) => {
      if (!measuring) return;
      const i = index.get(e.realServer.port)!;
      const now = performance.now();
      if (last[i]! > 0) maxGap[i] = Math.max(maxGap[i]!, now - last[i]!);
      last[i] = now;
      counted[i]!++;
    });

    // as the daemon does when a config has virtual servers
    tuneHeapForChecks();
    service = new CheckService({ log, hooks: host.hooks });
    service.start(compiled.model!, host);
    // bootstrap (1 s) and warmup (up to delay_loop) spread the first checks; then the rhythm is steady
    await sleep(1000 + o.delayLoopS * 1000 + 2000);

    service.resetLateness();
    measuring = true;
    const before = service.stats();
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    let rssMax = 0;
    let heapMax = 0;
    for (let s = 0; s < windowS * 2; s++) {
      await sleep(500);
      const m = process.memoryUsage();
      rssMax = Math.max(rssMax, m.rss);
      heapMax = Math.max(heapMax, m.heapUsed);
    }
    const wallS = (performance.now() - w0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const after = service.stats();
    measuring = false;
    const checks = after.checks - before.checks;
    const failures = after.failures - before.failures;
    const gc = fullGc();
    gc();
    const live = process.memoryUsage();
    const status = service.status();
    const up = status.virtualServers.reduce((n, v) => n + v.realServers.filter((r) => r.alive).length, 0);
    // the first check of the window has no gap before it
    const gaps = [...maxGap].filter((g) => g > 0).sort((a, b) => a - b);
    const missed = [...counted].filter((c) => c === 0).length;
    const cpuPct = ((cpu.user + cpu.system) / 1000 / (wallS * 1000)) * 100;
    const loopS = o.delayLoopS;
    console.log(
      `${o.name}: ${o.servers} real servers (${Math.ceil(o.servers / o.perVirtualServer)} virtual servers), delay_loop ${loopS} s, ${windowS} s window after ${(3 + loopS).toFixed(0)} s of warm-up; config compiled in ${(compileMs / 1000).toFixed(1)} s; V8 flags: ${process.execArgv.join(' ') || 'none'}`,
    );
    console.log(
      `${o.name}: ${(checks / wallS).toFixed(0)} checks/s sustained (${checks} in ${wallS.toFixed(1)} s; ${failures} failed; ${up}/${o.servers} servers up at the end)`,
    );
    console.log(
      `${o.name}: every server every loop: ${missed === 0 ? 'yes' : `NO, ${missed} never checked in the window`}; largest gap between two checks of one server: p50 ${(gaps[Math.floor(gaps.length / 2)] ?? 0).toFixed(0)} ms, p99 ${(gaps[Math.floor(gaps.length * 0.99)] ?? 0).toFixed(0)} ms, max ${(gaps.at(-1) ?? 0).toFixed(0)} ms (delay_loop ${loopS * 1000} ms + the check's own time)`,
    );
    console.log(
      `${o.name}: lateness (start after due time): p50 ${after.lateness.p50.toFixed(0)} ms, p99 ${after.lateness.p99.toFixed(0)} ms, max ${after.lateness.max.toFixed(0)} ms over ${after.lateness.count} checks`,
    );
    console.log(
      `${o.name}: checking process: CPU ${cpuPct.toFixed(0)}% of one core (user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s), RSS max ${mb(rssMax)}, heap max ${mb(heapMax)}; after a full GC: heap ${mb(live.heapUsed)} live (config model included), RSS ${mb(live.rss)}`,
    );
    console.log(`${o.name}: target: ${o.target}`);
  } finally {
    await service?.stop();
    await host?.close();
    child.stdin?.end();
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
