/**
 * Parse and validate a generated keepalived.conf of about 20,000 lines:
 * 1,000 vrrp_instances and 200 virtual_servers with 20 real_servers each.
 * Prints figures; asserts nothing. Run: npm run bench
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileConfig } from '../core/config/compile';
import { BUILTIN_PLUGINS } from '../core/plugin/builtins';

export function generateLargeConfig(): string {
  const out: string[] = ['global_defs {', '    router_id bench', '}'];
  for (let i = 0; i < 1000; i++) {
    const ifc = `eth${i % 4}`;
    const vrid = Math.floor(i / 4) + 1;
    out.push(
      `vrrp_instance VI_${i} {`,
      `    interface ${ifc}`,
      `    virtual_router_id ${vrid}`,
      `    priority ${100 + (i % 50)}`,
      '    virtual_ipaddress {',
      `        10.${(i >> 8) & 255}.${i & 255}.1/24 dev ${ifc}`,
      '    }',
      '}',
    );
  }
  for (let v = 0; v < 200; v++) {
    out.push(`virtual_server 192.168.${v >> 8}.${v & 255} 80 {`, '    delay_loop 6', '    lvs_sched wrr', '    lvs_method DR');
    for (let r = 0; r < 20; r++) {
      out.push(`    real_server 172.16.${v}.${r + 1} 80 {`, '        TCP_CHECK { connect_timeout 3 }', '    }');
    }
    out.push('}');
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const text = generateLargeConfig();
  const lines = text.split('\n').length - 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-'));
  const file = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(file, text);
  const host = { interfaceExists: () => true, fileExists: () => true };

  const first = await timed(() => compileConfig(file, { builtins: BUILTIN_PLUGINS, host, configId: 'bench' }));
  if (!first.result.ok) {
    console.error(first.result.diagnostics.filter((d) => d.severity === 'error').slice(0, 5));
    throw new Error('the generated config has errors');
  }
  const runs: number[] = [];
  for (let i = 0; i < 10; i++) runs.push((await timed(() => compileConfig(file, { builtins: BUILTIN_PLUGINS, host, configId: 'bench' }))).ms);
  runs.sort((a, b) => a - b);
  // memory of one compile, in a fresh process: peak RSS, and the RSS of node alone for scale
  const once = JSON.parse(spawnSync(process.execPath, [__filename, '--once', file], { encoding: 'utf8' }).stdout) as { maxRssMb: number; baseRssMb: number };
  const m = first.result.model!;
  console.log(
    `config-compile: ${lines} lines, ${m.vrrpInstance.length} vrrp_instances, ${m.virtualServer.length} virtual_servers, ${m.virtualServer.reduce((n, v) => n + v.realServer.length, 0)} real_servers`,
  );
  console.log(`config-compile: first run (cold) ${first.ms.toFixed(0)} ms`);
  console.log(
    `config-compile: warm, 10 runs: median ${runs[5]!.toFixed(0)} ms, min ${runs[0]!.toFixed(0)} ms, max ${runs[9]!.toFixed(0)} ms (target < 500 ms)`,
  );
  console.log(
    `config-compile: one compile in a fresh process: peak RSS ${once.maxRssMb.toFixed(0)} MB, of which node itself ${once.baseRssMb.toFixed(0)} MB (target < 150 MB)`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

async function once(file: string): Promise<void> {
  const baseRssMb = process.memoryUsage().rss / 1e6;
  const r = await compileConfig(file, { builtins: BUILTIN_PLUGINS, host: { interfaceExists: () => true, fileExists: () => true }, configId: 'bench' });
  if (!r.ok) throw new Error('the generated config has errors');
  process.stdout.write(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024, baseRssMb }));
}

if (require.main === module && process.argv[2] === '--once') {
  once(process.argv[3]!).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
