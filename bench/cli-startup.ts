/**
 * `alived -t` on a small config, node start-up included: wall time of the
 * whole command, 20 runs. Prints figures; asserts nothing.
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
  console.log(`cli-startup: alived -t on a 17-line config, 20 runs: median ${times[10]!.toFixed(0)} ms, p90 ${times[18]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms (target < 300 ms)`);
  console.log(`cli-startup: for scale, a bare \`node -e 0\`: median ${bare[5]!.toFixed(0)} ms`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main();
