/**
 * What a daemon loads and how soon it runs: alived started in a network
 * namespace of its own on a config with one VRRP instance and one virtual
 * server with a TCP_CHECK; the time from spawn to its first "Entering BACKUP
 * STATE" line, and the modules each of its processes (the main process and
 * the VRRP process) holds once it runs: its own, those of node_modules, and
 * whether node:assert, node:test or any testing module is among them.
 * Prints figures; asserts nothing. Needs root (it builds a namespace).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../core/lab/netns';
import { QUICK, envInt, fmt, summarize, table } from './vrrp-common';

const RUNS = envInt('BENCH_RUNS', QUICK ? 3 : 10);
const DEADLINE_MS = 10_000;

// loaded into each alived process with --require: 1.5 s after start it writes what the process holds
const PRELOAD = `
const fs = require('node:fs');
setTimeout(() => {
  const files = Object.keys(require.cache);
  const nm = files.filter((f) => f.includes('/node_modules/'));
  const own = files.filter((f) => !f.includes('/node_modules/') && f !== __filename);
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
  fs.appendFileSync(process.env.ALIVED_BENCH_MODULES, JSON.stringify({
    role: process.argv[1].endsWith('child.js') ? 'VRRP process' : 'main process',
    own: own.length,
    ownKb: Math.round(own.reduce((n, f) => n + fs.statSync(f).size, 0) / 1024),
    nodeModules: nm.length,
    assert: builtins.includes('assert') || builtins.includes('assert/strict'),
    test: builtins.includes('test'),
    testing: own.filter((f) => /[/]testing[/]|tester\\.js$|test-servers\\.js$/.test(f)).map((f) => f.replace(/.*[/]dist[/]/, '')),
  }) + '\\n');
}, 1500).unref();
`;

function config(ifname: string, ip: string): string {
  return `vrrp_instance VI_1 {
    state BACKUP
    interface ${ifname}
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        ${ip.replace(/\d+$/, '100')}/24
    }
}
virtual_server ${ip.replace(/\d+$/, '100')} 80 {
    delay_loop 5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ${ip} 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`;
}

interface ModuleCount {
  role: string;
  own: number;
  /** their compiled JavaScript, KiB */
  ownKb: number;
  nodeModules: number;
  assert: boolean;
  test: boolean;
  testing: string[];
}

async function oneRun(lab: Lab, dir: string, run: number): Promise<{ ms: number; modules: ModuleCount[] }> {
  const host = lab.hosts[0]!;
  const out = path.join(dir, `modules-${run}.jsonl`);
  const bin = path.join(__dirname, '..', 'core', 'cli', 'main.js');
  const t0 = process.hrtime.bigint();
  const child = lab.spawn(
    host,
    [process.execPath, bin, '-n', '-l', '-f', path.join(dir, 'k.conf'), '--state-dir', path.join(dir, `state-${run}`), '-p', path.join(dir, `pid-${run}`)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // NODE_OPTIONS, not --require: the VRRP process is forked with its own arguments and keeps the environment
      env: { ...process.env, ALIVED_BENCH_MODULES: out, NODE_OPTIONS: `--require ${path.join(dir, 'preload.js')}` },
    },
  );
  let log = '';
  const ms = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no BACKUP state within ${DEADLINE_MS} ms:\n${log}`)), DEADLINE_MS);
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (/Entering BACKUP STATE/.test(log)) {
        clearTimeout(timer);
        resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`alived exited (${code}) before BACKUP:\n${log}`));
    });
  });
  // the preload writes its counts 1.5 s after each process starts
  const until = Date.now() + 4000;
  while (Date.now() < until && (!fs.existsSync(out) || fs.readFileSync(out, 'utf8').trim().split('\n').length < 2))
    await new Promise((r) => setTimeout(r, 100));
  child.removeAllListeners('exit');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  const modules = fs.existsSync(out)
    ? fs
        .readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ModuleCount)
    : [];
  return { ms, modules };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-start-'));
  const lab = await Lab.create({ name: 'start', hosts: [{ name: 'n1', ip: '10.77.0.1' }] });
  try {
    fs.writeFileSync(path.join(dir, 'preload.js'), PRELOAD);
    fs.writeFileSync(path.join(dir, 'k.conf'), config(lab.hosts[0]!.ifname, lab.hosts[0]!.ip));
    const times: number[] = [];
    let modules: ModuleCount[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await oneRun(lab, dir, i);
      times.push(r.ms);
      modules = r.modules;
    }
    const s = summarize(times);
    console.log(
      table(
        `daemon-startup: spawn to the first "Entering BACKUP STATE", ${RUNS} runs`,
        ['median', 'min', 'max'],
        [[`${fmt(s.median, 0)} ms`, `${fmt(s.min, 0)} ms`, `${fmt(s.max, 0)} ms`]],
      ),
    );
    console.log(
      table(
        'daemon-startup: modules held by each process once it runs',
        ['process', 'alived modules', 'their JavaScript', 'node_modules', 'node:assert', 'node:test', 'testing modules'],
        modules.map((m) => [
          m.role,
          String(m.own),
          `${m.ownKb} KiB`,
          String(m.nodeModules),
          m.assert ? 'loaded' : 'no',
          m.test ? 'loaded' : 'no',
          m.testing.length ? m.testing.join(' ') : 'none',
        ]),
      ),
    );
  } finally {
    await lab.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`daemon-startup: ${(err as Error).message}`);
  process.exitCode = 1;
});
