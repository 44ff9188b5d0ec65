/**
 * What a reload's compile costs the main process: the compile time of the
 * largest bench config (bench/config-compile.ts), warm as a reload compiles
 * it, and the main loop's longest stall while it runs (the longest gap
 * between two ticks of a 1 ms interval timer: the compile pauses every
 * 10 ms, core/config/slicer.ts). The same for that config written with ~SEQ
 * and multi-line definitions, and for a nested ~SEQ of 300 x 300 x 300
 * definitions, which the work limit refuses; with the work each takes
 * (docs/config.md, Limits). Prints figures; asserts nothing.
 * Run: npm run bench, or node dist/bench/config-reload.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileConfig, type CompileResult } from '../core/config/compile';
import { BUILTIN_PLUGINS } from '../core/plugin/builtins';
import { Diagnostics } from '../core/config/diagnostics';
import { DEFAULT_LIMITS, preprocess } from '../core/config/preprocess';
import { silentLogger } from '../core/log/logger';
import { PluginHost } from '../core/plugin/host';
import { generateLargeConfig } from './config-compile';

const host = { interfaceExists: () => true, fileExists: () => true };

/** The bench config's 1,000 instances and 200 virtual servers of 20 real servers, through ~SEQ and multi-line definitions. */
export function generateLargeSeqConfig(): string {
  return [
    'global_defs {',
    '    router_id bench',
    '}',
    '$VI=vrrp_instance VI_${v}_${k} { \\',
    '    interface eth${k} \\',
    '    virtual_router_id ${v} \\',
    '    priority 100 \\',
    '    virtual_ipaddress { \\',
    '        10.${v}.${k}.1/24 dev eth${k} \\',
    '    } \\',
    '}',
    '',
    '~SEQ(v, 1, 250) ~SEQ(k, 0, 3) $VI',
    '$RS=real_server 172.16.${v}.${r} 80 { \\',
    '    TCP_CHECK { connect_timeout 3 } \\',
    '}',
    '',
    '$VS=virtual_server 192.168.0.${v} 80 { \\',
    '    delay_loop 6 \\',
    '    lvs_sched wrr \\',
    '    lvs_method DR \\',
    '    ~SEQ(r, 1, 20) $RS \\',
    '}',
    '',
    '~SEQ(v, 0, 199) $VS',
    '',
  ].join('\n');
}

const NESTED_SEQ = '~SEQ(a, 300) ~SEQ(b, 300) ~SEQ(c, 300) $X_${a}_${b}_${c}=1\n';

interface Run {
  ms: number;
  stallMs: number;
  result: CompileResult;
}

/** A 1 ms interval timer; stop() gives the longest time between two of its ticks (or since the last one). */
async function stallProbe(): Promise<{ stop(): number }> {
  let last = 0;
  let longest = 0;
  let first: () => void;
  const started = new Promise<void>((r) => (first = r));
  const timer = setInterval(() => {
    const now = performance.now();
    if (last > 0) longest = Math.max(longest, now - last);
    else first();
    last = now;
  }, 1);
  await started;
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

/** One compile as a reload runs it (a new plugin host), with the event loop watched. */
async function reloadCompile(file: string): Promise<Run> {
  const probe = await stallProbe();
  const t0 = process.hrtime.bigint();
  const result = await compileConfig(file, { builtins: BUILTIN_PLUGINS, host, configId: 'bench', pluginHost: new PluginHost({ log: silentLogger }) });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const stallMs = probe.stop();
  await result.pluginHost.close();
  return { ms, stallMs, result };
}

async function measure(label: string, file: string, runs: number): Promise<void> {
  await reloadCompile(file); // the daemon's start compiled once already: a reload is warm
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) all.push(await reloadCompile(file));
  const r = all[0]!.result;
  const verdict = r.ok
    ? `valid, ${r.model!.vrrpInstance.length} vrrp_instances, ${r.model!.virtualServer.length} virtual_servers`
    : `refused: ${
        r.diagnostics
          .filter((d) => d.severity === 'error')
          .slice(0, 1)
          .map((d) => `${path.basename(d.pos.file)}:${d.pos.line}:${d.pos.col} ${d.code}`)[0] ?? '(no error)'
      }`;
  const ms = all.map((x) => x.ms).sort((a, b) => a - b);
  const stall = all.map((x) => x.stallMs).sort((a, b) => a - b);
  const mid = Math.floor(runs / 2);
  const work = preprocess(file, { configId: 'bench', diagnostics: new Diagnostics() }).work;
  console.log(`config-reload: ${label}: ${verdict}; work ${(work / 2 ** 20).toFixed(2)} Mi units of the limit's ${DEFAULT_LIMITS.work / 2 ** 20} Mi`);
  console.log(
    `config-reload: ${label}: ${runs} reload compiles: median ${ms[mid]!.toFixed(0)} ms (max ${ms[runs - 1]!.toFixed(0)}); ` +
      `longest main-loop stall: median ${stall[mid]!.toFixed(1)} ms, max ${stall[runs - 1]!.toFixed(1)} ms`,
  );
}

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === '1';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-'));
  try {
    const write = (name: string, text: string): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    await measure('bench config (21,000 lines)', write('large.conf', generateLargeConfig()), quick ? 3 : 10);
    await measure('the same through ~SEQ', write('large-seq.conf', generateLargeSeqConfig()), quick ? 3 : 10);
    if (process.argv.includes('--no-nested')) return;
    await measure('nested ~SEQ 300 x 300 x 300', write('nested.conf', NESTED_SEQ), quick ? 1 : 3);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
