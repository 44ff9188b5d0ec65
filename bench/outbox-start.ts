/**
 * The start of a daemon whose outbox holds 10,000 notifications (a long
 * outage of the webhook receiver): every file is opened the safe way,
 * checked field by field and queued. Prints figures; asserts nothing.
 *
 * - open: NotifyPipeline.open() + setSinks() in this process, warm cache;
 * - daemon: `alived -n` to its "Configuration loaded" line, 0 and 10,000
 *   entries, and to the last of the 10,000 delivered to a local receiver.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { NotifyPipeline } from '../core/notify/pipeline';
import { createLogger } from '../core/log/logger';

const ENTRIES = Number(process.env.BENCH_OUTBOX_ENTRIES) || 10_000;
const RUNS = process.env.BENCH_QUICK ? 2 : 5;
const BIN = path.join(__dirname, '..', 'core', 'cli', 'main.js');

function fillOutbox(stateDir: string, n: number): void {
  const box = path.join(stateDir, 'notify', 'outbox', 'webhook%3Aops');
  fs.mkdirSync(box, { recursive: true, mode: 0o700 });
  for (let i = 1; i <= n; i++) {
    const id = randomUUID();
    const name = `vrrp:instance:VI_${i % 50}`;
    const event = {
      type: 'vrrp',
      kind: 'instance',
      name: `VI_${i % 50}`,
      from: 'BACKUP',
      to: i % 2 ? 'MASTER' : 'BACKUP',
      priority: 100,
      reason: 'bench',
      time: Date.now(),
    };
    fs.writeFileSync(
      path.join(box, `${String(i).padStart(12, '0')}-${id}.json`),
      JSON.stringify({ v: 1, id, sequence: i, sink: 'webhook:ops', source: name, acceptedAt: Date.now(), event }),
      { mode: 0o600 },
    );
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function inProcess(base: string): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const dir = fs.mkdtempSync(path.join(base, 'open-'));
    fillOutbox(dir, ENTRIES);
    const p = new NotifyPipeline({ log: createLogger([]), stateDir: dir });
    const t0 = process.hrtime.bigint();
    p.open();
    p.setSinks([{ id: 'webhook:ops', kind: 'webhook', name: 'ops', notifier: { deliver: () => new Promise(() => undefined) }, options: { coalesceLimit: 0 } }]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await p.stop({ drainMs: 0 });
  }
  return times;
}

async function daemon(base: string, entries: number, url: string, delivered: () => number): Promise<{ loaded: number; drained?: number }> {
  const dir = fs.mkdtempSync(path.join(base, 'daemon-'));
  const conf = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(conf, `global_defs {\n  router_id BENCH\n}\nwebhook ops {\n  url ${url}\n  events vrrp\n}\n`);
  fillOutbox(path.join(dir, 'state'), entries);
  const before = delivered();
  const t0 = process.hrtime.bigint();
  const proc = spawn(process.execPath, [BIN, '-n', '-l', '-G', '-f', conf, '-p', path.join(dir, 'pid'), '--state-dir', path.join(dir, 'state')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let out = '';
  const loaded = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no start within 60 s:\n${out}`)), 60_000);
    proc.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Configuration loaded/.test(out)) {
        clearTimeout(t);
        resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    });
  });
  let drained: number | undefined;
  if (entries > 0) {
    const until = Date.now() + 120_000;
    while (delivered() - before < entries && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    if (delivered() - before >= entries) drained = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('close', r));
  return { loaded, ...(drained !== undefined ? { drained } : {}) };
}

async function main(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-outbox-'));
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  try {
    const open = await inProcess(base);
    console.log(
      `outbox-start: open + queue ${ENTRIES} entries in process, ${RUNS} runs: median ${median(open).toFixed(0)} ms (min ${Math.min(...open).toFixed(0)}, max ${Math.max(...open).toFixed(0)})`,
    );
    const empty: number[] = [];
    const full: number[] = [];
    const drained: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      empty.push((await daemon(base, 0, url, () => count)).loaded);
      const d = await daemon(base, ENTRIES, url, () => count);
      full.push(d.loaded);
      if (d.drained !== undefined) drained.push(d.drained);
    }
    console.log(
      `outbox-start: alived -n to "Configuration loaded", ${RUNS} runs: empty outbox median ${median(empty).toFixed(0)} ms; ${ENTRIES} entries median ${median(full).toFixed(0)} ms (+${(median(full) - median(empty)).toFixed(0)} ms)`,
    );
    if (drained.length)
      console.log(
        `outbox-start: all ${ENTRIES} delivered to a local webhook receiver ${(median(drained) / 1000).toFixed(1)} s after the start (median of ${drained.length}; 50 sources, one in flight per source)`,
      );
  } finally {
    server.close();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
