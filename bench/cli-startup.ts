/**
 * `alived -t` on a small config, node start-up included: wall time of the
 * whole command, 20 runs. Then `alived -t` on every file of a directory of
 * configs (the project's copies of keepalived's samples, or BENCH_CONFIGS=DIR,
 * e.g. a corpus of configs from the wild), per file, next to keepalived's own
 * `-t` on the same files when keepalived is installed. Prints figures;
 * asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SMALL = `global_defs {
    router_id lb1
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        192.0.2.10/24
    }
}
`;

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-'));
  const file = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(file, SMALL);
  const bin = path.join(__dirname, '..', 'core', 'cli', 'main.js');
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [bin, '-t', '-f', file], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`alived -t failed: ${r.stderr}`);
    if (i > 0) times.push(ms); // the first run warms the file cache
  }
  times.sort((a, b) => a - b);
  const bare: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    bare.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  bare.sort((a, b) => a - b);
  console.log(
    `cli-startup: alived -t on a 17-line config, 20 runs: median ${times[10]!.toFixed(0)} ms, p90 ${times[18]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms (target < 300 ms)`,
  );
  console.log(`cli-startup: for scale, a bare \`node -e 0\`: median ${bare[5]!.toFixed(0)} ms`);
  fs.rmSync(dir, { recursive: true, force: true });
  perFile();
}

function quantiles(ms: number[]): string {
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  return `median ${at(0.5).toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms, max ${at(1).toFixed(0)} ms`;
}

function perFile(): void {
  const dir = process.env.BENCH_CONFIGS ?? path.join(__dirname, '..', '..', 'test', 'fixtures', 'keepalived-samples');
  const files = fs
    .readdirSync(dir)
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile() && !/EXPECT|README|\.md$/.test(f));
  const bin = path.join(__dirname, '..', 'core', 'cli', 'main.js');
  const time = (argv: string[]): number => {
    const t0 = process.hrtime.bigint();
    spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const alived = files.map((f) => time([process.execPath, bin, '-t', '-f', f]));
  console.log(`cli-startup: alived -t per file, ${files.length} files of ${dir}: ${quantiles(alived)}`);
  const k = spawnSync('keepalived', ['-v'], { encoding: 'utf8' });
  if (k.error) {
    console.log('cli-startup: keepalived is not installed: no figure beside it');
    return;
  }
  // keepalived's config test only reads and checks the file (-t); -n -l keep it in the foreground and on the console
  const keepalived = files.map((f) => time(['keepalived', '-t', '-n', '-l', '-f', f]));
  console.log(`cli-startup: keepalived -t per file, the same files: ${quantiles(keepalived)}`);
}

main();
