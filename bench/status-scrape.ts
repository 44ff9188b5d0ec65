/**
 * Issue 22's figures: what reading the status costs, at 1,000 VRRP
 * instances and 10,000 real servers in one alived daemon.
 *
 *   - idle: the daemon alone (its VRRP process sends 1,000 adverts a
 *     second, its main process checks 10,000 real servers);
 *   - scraped: the same while another process asks its API, over the unix
 *     socket, for `/metrics` and `/v1/status` RATE times a second each
 *     (default 10).
 *
 * Figures: the time and size of each answer; CPU of the main and VRRP
 * processes (% of one core); their memory before and after; and the advert
 * interval jitter of all 1,000 instances, stamped by tcpdump as the adverts
 * arrive (p99 in both windows, and the difference: what scraping adds).
 *
 * Lab: one namespace n1. The instances run on four veth pairs inside it
 * (250 IPv4 VRIDs each), and tcpdump listens on the far ends; the real
 * servers are check-listeners.js's TCP ports on n1's loopback. Prints
 * figures; asserts nothing.
 *
 * Env: BENCH_QUICK=1 (10 s windows), BENCH_WINDOW_S (default 20),
 * BENCH_PATHS (what is asked, comma-separated; default /metrics,/v1/status),
 * BENCH_INSTANCES (1000), BENCH_SERVERS (10000), BENCH_RATE (10),
 * BENCH_DELAY_LOOP (5: TCP_CHECK's delay_loop, s), BENCH_GZIP (1: ask with
 * `Accept-Encoding: gzip`, as Prometheus does; 0: without).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../core/lab/vrrp-lab';
import { startListeners, virtualServers } from './check-lab';
import {
  advertJitter,
  CLK_TCK,
  daemonRoot,
  envInt,
  fmt,
  QUICK,
  quantile,
  readPcapAdverts,
  readStat,
  sleep,
  startTcpdump,
  table,
  verdict,
  vmRssKb,
  type Jitter,
} from './vrrp-common';

const PAIRS = 4;
const PER_PAIR = 250;
const ADVERT_MS = 1000;
const SCRAPE_TARGET_MS = 25;
const JITTER_TARGET_MS = 0.5;

interface Cpu {
  mainPct: number;
  vrrpPct: number;
}

interface Window {
  jitter: Jitter;
  cpu: Cpu;
  mainRssKb: number;
  vrrpRssKb: number;
}

interface ScrapeFigures {
  path: string;
  ok: number;
  failed: number;
  ms: number[];
  bytes: number[];
  decoded?: number;
  encoding?: string;
  firstMs?: number;
  firstError?: string;
}

function instancesConfig(count: number): string {
  const out = ['global_defs {', '  router_id bench-status', '}'];
  for (let i = 0; i < count; i++) {
    const pair = Math.floor(i / PER_PAIR);
    const vrid = (i % PER_PAIR) + 1;
    out.push(
      `vrrp_instance VI_${i} {`,
      '  state MASTER',
      `  interface va${pair}`,
      `  virtual_router_id ${vrid}`,
      '  priority 150',
      `  advert_int ${ADVERT_MS / 1000}`,
      '  virtual_ipaddress {',
      `    10.${200 + pair}.${1 + (vrid >> 8)}.${vrid & 255}/32`,
      '  }',
      '}',
    );
  }
  return out.join('\n') + '\n';
}

async function waitMasters(d: LabDaemon, count: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const n = d.lines.filter((l) => /Entering MASTER STATE/.test(l)).length;
    if (n >= count) return;
    if (d.proc.exitCode !== null) throw new Error(`alived exited; last lines:\n${d.lines.slice(-10).join('\n')}`);
    if (Date.now() > end) throw new Error(`only ${n} of ${count} instances MASTER after ${timeoutMs} ms`);
    await sleep(200);
  }
}

function vrrpPidOf(d: LabDaemon): number {
  const m = /VRRP process started \(pid (\d+)\)/.exec(d.lines.find((l) => /VRRP process started/.test(l)) ?? '');
  if (!m) throw new Error('no "VRRP process started" line');
  return Number(m[1]);
}

function ticks(pid: number): number {
  return readStat(pid)?.ticks ?? NaN;
}

async function captureWindow(lab: Lab, dir: string, tag: string, windowS: number, main: number, vrrp: number, during?: Promise<unknown>): Promise<Window> {
  const caps: Array<{ proc: ChildProcess; file: string }> = [];
  for (let p = 0; p < PAIRS; p++) {
    const file = path.join(dir, `${tag}-${p}.pcap`);
    caps.push({ proc: await startTcpdump(lab, 'n1', `vb${p}`, file, 'ip proto 112'), file });
  }
  const t0 = performance.now();
  const m0 = ticks(main);
  const v0 = ticks(vrrp);
  await Promise.all([sleep(windowS * 1000), during]);
  const secs = (performance.now() - t0) / 1000;
  const cpu = { mainPct: ((ticks(main) - m0) / CLK_TCK / secs) * 100, vrrpPct: ((ticks(vrrp) - v0) / CLK_TCK / secs) * 100 };
  const adverts = [];
  for (const c of caps) {
    const exited = new Promise((r) => c.proc.once('exit', r));
    process.kill(c.proc.pid!, 'SIGINT');
    await Promise.race([exited, sleep(5000)]);
    adverts.push(...readPcapAdverts(c.file));
    fs.rmSync(c.file, { force: true });
  }
  adverts.sort((a, b) => (a.tNs < b.tNs ? -1 : a.tNs > b.tNs ? 1 : 0));
  return { jitter: advertJitter(adverts, ADVERT_MS), cpu, mainRssKb: vmRssKb(main), vrrpRssKb: vmRssKb(vrrp) };
}

/** the paths asked: BENCH_PATHS (comma-separated) or /metrics and /v1/status */
const PATHS = (process.env.BENCH_PATHS ?? '/metrics,/v1/status').split(',').filter(Boolean);

function scrape(socket: string, seconds: number, rate: number): { proc: ChildProcess; done: Promise<{ skipped: number; figures: ScrapeFigures[] }> } {
  const proc = spawn(process.execPath, [path.join(__dirname, 'status-scraper.js'), socket, String(seconds), String(rate), ...PATHS], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<{ skipped: number; figures: ScrapeFigures[] }>((resolve, reject) =>
    proc.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`status-scraper exited with ${code}`)))),
  );
  return { proc, done };
}

async function main(): Promise<void> {
  const windowS = envInt('BENCH_WINDOW_S', QUICK ? 10 : 20);
  const instances = Math.min(PAIRS * PER_PAIR, envInt('BENCH_INSTANCES', PAIRS * PER_PAIR));
  const servers = envInt('BENCH_SERVERS', 10_000);
  const rate = envInt('BENCH_RATE', 10);
  const delayLoop = envInt('BENCH_DELAY_LOOP', 5);
  const started = Date.now();
  console.log(
    `status-scrape: ${instances} VRRP instances (advert_int 1) and ${servers} real servers (TCP_CHECK, delay_loop ${delayLoop}) in one alived; ` +
      `${PATHS.join(' and ')} ${rate}/s each; ${windowS} s windows; ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}${QUICK ? ' (BENCH_QUICK)' : ''}`,
  );
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-status-'));
  let lab: Lab | undefined;
  let listeners: ChildProcess | undefined;
  let scraper: ChildProcess | undefined;
  try {
    lab = await Lab.create({ name: 'status', hosts: [{ name: 'n1', ip: '10.98.0.11' }] });
    for (let p = 0; p < PAIRS; p++) {
      await lab.run('n1', ['ip', 'link', 'add', `va${p}`, 'type', 'veth', 'peer', 'name', `vb${p}`]);
      await lab.run('n1', ['ip', 'addr', 'add', `10.${200 + p}.0.1/16`, 'dev', `va${p}`]);
      await lab.run('n1', ['ip', 'link', 'set', `va${p}`, 'up']);
      await lab.run('n1', ['ip', 'link', 'set', `vb${p}`, 'up']);
    }
    const l = await startListeners(lab, 'tcp', servers);
    listeners = l.proc;
    const checker = '    TCP_CHECK {\n      connect_timeout 3\n    }';
    const config = instancesConfig(instances) + virtualServers(l.ports, checker, 100, delayLoop);
    const v = new VrrpLab(lab, dir);
    const stateDir = path.join(dir, 'state');
    fs.mkdirSync(stateDir, { mode: 0o700 });
    const t0 = Date.now();
    const d = v.startAlived('n1', config, ['--state-dir', stateDir]);
    await waitMasters(d, instances, 180_000);
    console.log(`  ${instances} instances MASTER ${((Date.now() - t0) / 1000).toFixed(1)} s after the start`);
    await sleep(8000);
    const mainPid = daemonRoot(d);
    const vrrpPid = vrrpPidOf(d);
    const socket = path.join(stateDir, 'alived.sock');

    process.stderr.write('  idle window\n');
    const idle = await captureWindow(lab, dir, 'idle', windowS, mainPid, vrrpPid);
    process.stderr.write('  scraped window\n');
    const s = scrape(socket, windowS + 2, rate);
    scraper = s.proc;
    // the scraper's first second (its start, the first pages) is outside the window
    await sleep(1000);
    const scraped = await captureWindow(lab, dir, 'scraped', windowS, mainPid, vrrpPid, s.done);
    const result = await s.done;
    const after = { mainRssKb: vmRssKb(mainPid), vrrpRssKb: vmRssKb(vrrpPid) };

    console.log('');
    const rows = result.figures.map((f) => [
      f.path,
      String(f.ok),
      String(f.failed),
      fmt(quantile(f.ms, 0.5), 2),
      fmt(quantile(f.ms, 0.99), 2),
      fmt(f.ms.length ? f.ms[f.ms.length - 1]! : NaN, 2),
      fmt((f.bytes.reduce((a, b) => a + b, 0) / Math.max(1, f.bytes.length) / 1024 / 1024) * 1024, 0),
      fmt((f.decoded ?? NaN) / 1024, 0),
      f.encoding ?? '-',
      verdict(quantile(f.ms, 0.99) < SCRAPE_TARGET_MS),
    ]);
    console.log(
      table(
        `answers over the unix socket, ${rate}/s each for ${windowS + 2} s`,
        ['path', 'ok', 'failed', 'p50 ms', 'p99 ms', 'max ms', 'KiB sent', 'KiB decoded', 'encoding', `p99 < ${SCRAPE_TARGET_MS} ms`],
        rows,
        [
          `ticks skipped (the previous requests still running): ${result.skipped}`,
          `the first answer, before these (the first document; the page thread's start): ${result.figures.map((f) => `${f.path} ${fmt(f.firstMs ?? NaN, 0)} ms`).join(', ')}`,
          ...result.figures.filter((f) => f.firstError).map((f) => `${f.path}: first error: ${f.firstError}`),
        ],
      ),
    );
    const jrow = (label: string, w: Window): string[] => [
      label,
      String(w.jitter.streams),
      String(w.jitter.intervals),
      fmt(w.jitter.p50, 3),
      fmt(w.jitter.p99, 3),
      fmt(w.jitter.max, 2),
      String(w.jitter.gaps),
      fmt(w.cpu.mainPct, 1),
      fmt(w.cpu.vrrpPct, 1),
      fmt(w.mainRssKb / 1024, 1),
      fmt(w.vrrpRssKb / 1024, 1),
    ];
    const added = scraped.jitter.p99 - idle.jitter.p99;
    console.log(
      table(
        'advert interval jitter of every instance (|interval - 1 s|, ms) and the processes',
        ['window', 'streams', 'intervals', 'p50', 'p99', 'max', 'gaps', 'main CPU %', 'VRRP CPU %', 'main RSS MiB', 'VRRP RSS MiB'],
        [jrow('idle', idle), jrow('scraped', scraped)],
        [
          `p99 added by scraping: ${fmt(added, 3)} ms ${verdict(added < JITTER_TARGET_MS)} (target < ${JITTER_TARGET_MS} ms)`,
          `CPU the scraping adds to the main process: ${fmt(scraped.cpu.mainPct - idle.cpu.mainPct, 1)} % of one core; to the VRRP process: ${fmt(scraped.cpu.vrrpPct - idle.cpu.vrrpPct, 1)} %`,
          `memory the API, metrics and status add (main process RSS after scraping - idle): ${fmt((after.mainRssKb - idle.mainRssKb) / 1024, 1)} MiB; VRRP process: ${fmt((after.vrrpRssKb - idle.vrrpRssKb) / 1024, 1)} MiB`,
        ],
      ),
    );
    v.signal(d, 'SIGTERM');
    await Promise.race([d.exited, sleep(30_000)]);
  } finally {
    scraper?.kill('SIGKILL');
    if (listeners?.pid) spawnSync('kill', ['-KILL', String(listeners.pid)]);
    await lab?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`status-scrape: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`status-scrape: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
