/**
 * Memory of the VRRP process over many reloads (issue 19): does it level
 * off, or grow with every reload? alived on n1 runs 20 stable instances
 * (VRRPv3, advert_int 1; n2's alived is master of ten of them, so n1 holds
 * ten masters and ten backups) and gets SIGHUP after SIGHUP, each with a
 * config that changes instances every way a reload can:
 *
 *   - updated in place: a master's VIPs (one of 50 addresses in turn) and a
 *     backup's priority;
 *   - replaced: a master's VRID and a backup's down_timer_adverts (both are
 *     part of the election);
 *   - added and removed: each reload adds an instance with a name never used
 *     before (advert_int 0.1, so it is master within 0.4 s) and removes the
 *     one added KEEP reloads earlier, master by then (reloads are at least
 *     BENCH_RELOAD_GAP_MS apart, default 100).
 *
 * At each checkpoint (0, 500, 1000, 2000 reloads), and once more after
 * BENCH_IDLE_S without reloads, it prints, of the VRRP process: VmRSS, and
 * its live V8 heap after a full collection, with the count of the engine's
 * objects in it (instances, state machines, VIP managers, announcers,
 * channels, timers). The heap figures come from a heap snapshot (node's
 * --heapsnapshot-signal, through NODE_OPTIONS), which the process builds in
 * its own memory: they come from a second daemon, run through the same
 * reloads, and the RSS figures from the first, which never takes one (the
 * second one's RSS before each snapshot is printed too).
 *
 * Prints figures; asserts nothing. Env: BENCH_RELOAD_CHECKPOINTS (default
 * 0,500,1000,2000; BENCH_QUICK=1: 0,100,200,400), BENCH_IDLE_S (default 30: the last measurement,
 * that long after the last reload), BENCH_RELOAD_GAP_MS (default 100), BENCH_MEMORY_RUNS=rss|heap|both
 * (default both), BENCH_KEEP_SNAPSHOTS=DIR (keep the heap snapshots there).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { heapSnapshot, heapSnapshotOptions, openFds, type HeapFigures } from '../core/lab/heap';
import { VrrpLab, type LabDaemon } from '../core/lab/vrrp-lab';
import { envInt, QUICK, sleep, table, vmRssKb } from './vrrp-common';

const STABLE = 20;
/** an added instance lives this many reloads */
const KEEP = 8;
/** BENCH_RELOAD_GAP_MS: the least time from one SIGHUP to the next, so an added instance (master 0.35 s after it starts) is removed as master */
const GAP_MS = envInt('BENCH_RELOAD_GAP_MS', 100);
/** BENCH_IDLE_S: after the last checkpoint, how long without reloads before the last measurement (V8 shrinks its heap when idle) */
const IDLE_S = envInt('BENCH_IDLE_S', 30);
/** the VIPs the in-place update goes through */
const VIP_ROTATION = 50;
/** BENCH_KEEP_SNAPSHOTS=DIR: the heap snapshots are kept there (vrrp-<reloads>.heapsnapshot), to be opened in Chrome's DevTools */
const KEEP_SNAPSHOTS = process.env.BENCH_KEEP_SNAPSHOTS;

/** n1's config after `n` reloads */
function n1Config(n: number): string {
  const out = ['global_defs {', '  router_id mem-n1', '}'];
  const inst = (name: string, lines: string[]): void => {
    out.push(`vrrp_instance ${name} {`, '  interface eth0', '  version 3', ...lines.map((l) => `  ${l}`), '}');
  };
  for (let i = 1; i <= STABLE; i++) {
    const master = i <= STABLE / 2;
    const vips = [`10.99.1.${i}/32`];
    let vrid = i;
    let priority = master ? 150 : 100;
    let downTimer = 3;
    // VI_1: VIPs updated in place; VI_2: replaced (VRID); VI_11: priority updated in place; VI_12: replaced (down_timer_adverts)
    if (i === 1) vips.push(`10.99.2.${(n % VIP_ROTATION) + 1}/32`);
    if (i === 2 && n % 2 === 1) vrid = 50;
    if (i === 11) priority = 100 + (n % 2);
    if (i === 12) downTimer = 3 + (n % 2);
    inst(`VI_${i}`, [
      `state ${master ? 'MASTER' : 'BACKUP'}`,
      `virtual_router_id ${vrid}`,
      `priority ${priority}`,
      'advert_int 1',
      `down_timer_adverts ${downTimer}`,
      'virtual_ipaddress {',
      ...vips.map((v) => `  ${v}`),
      '}',
    ]);
  }
  for (let k = Math.max(1, n - KEEP + 1); k <= n; k++) {
    inst(`VI_ADD_${k}`, [
      'state BACKUP',
      `virtual_router_id ${100 + (k % 100)}`,
      'priority 120',
      'advert_int 0.1',
      'virtual_ipaddress {',
      `  10.99.3.${(k % 200) + 1}/32`,
      '}',
    ]);
  }
  return out.join('\n') + '\n';
}

/** n2: master of VI_11..VI_20, so n1 holds those as backups */
function n2Config(): string {
  const out = ['global_defs {', '  router_id mem-n2', '}'];
  for (let i = STABLE / 2 + 1; i <= STABLE; i++) {
    out.push(
      `vrrp_instance VI_${i} {`,
      '  interface eth0',
      '  version 3',
      '  state MASTER',
      `  virtual_router_id ${i}`,
      '  priority 200',
      '  advert_int 1',
      '  virtual_ipaddress {',
      `    10.99.1.${i}/32`,
      '  }',
      '}',
    );
  }
  return out.join('\n') + '\n';
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Sends SIGHUP and waits for the reload to be applied; the daemon's lines are dropped after, so a long run keeps few. */
async function reload(v: VrrpLab, d: LabDaemon, n: number): Promise<string> {
  fs.writeFileSync(d.config, n1Config(n));
  d.lines.length = 0;
  v.signal(d, 'SIGHUP');
  await waitFor(`reload ${n}`, () => d.lines.find((l) => /Reload complete|Reload rejected|restarting the VRRP process/.test(l)), 30_000);
  const bad = d.lines.find((l) => /Reload rejected|restarting the VRRP process|VRRP process \d+ died/.test(l));
  if (bad) throw new Error(`reload ${n}: ${bad}\n${d.lines.slice(-20).join('\n')}`);
  return d.lines.find((l) => /VRRP reloaded in/.test(l)) ?? '';
}

interface Checkpoint {
  /** `500`, or `2000 + 30 s idle` */
  label: string;
  rssKb?: number;
  /** of VmRSS, anonymous pages (V8's heap, malloc); the rest is the node binary and other files */
  anonKb?: number;
  heap?: HeapFigures;
  /** open file descriptors of the VRRP process */
  fds: number;
  /** instances n1's config has at this point */
  instances: number;
  lastReload: string;
  /** wall time of the reloads since the previous checkpoint, s */
  seconds: number;
}

/** Anonymous pages of a process (kB), from /proc/PID/smaps_rollup. */
function anonymousKb(pid: number): number {
  return Number(/^Anonymous:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
}

/** One daemon through every reload, measured at each checkpoint, and once more after IDLE_S without reloads. */
async function run(lab: Lab, dir: string, checkpoints: number[], heap: boolean): Promise<Checkpoint[]> {
  const v = new VrrpLab(lab, dir);
  const snapDir = path.join(dir, 'snapshots');
  fs.mkdirSync(snapDir, { recursive: true });
  const saved = process.env.NODE_OPTIONS;
  if (heap) process.env.NODE_OPTIONS = `${saved ?? ''} ${heapSnapshotOptions(snapDir)}`.trim();
  let d: LabDaemon;
  let peer: LabDaemon;
  try {
    peer = v.startAlived('n2', n2Config());
    d = v.startAlived('n1', n1Config(0));
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  try {
    const started = await v.waitLine(d, /VRRP process started \(pid \d+\)/, 20_000);
    const pid = Number(/pid (\d+)\)/.exec(started)![1]);
    await v.waitLine(d, /VRRP engine started/, 20_000);
    // masters and backups settled, the start's garbage collected by V8's memory reducer
    await sleep(10_000);
    const out: Checkpoint[] = [];
    let n = 0;
    let last = '';
    const measure = async (label: string, seconds: number): Promise<void> => {
      if (!fs.existsSync(`/proc/${pid}`)) throw new Error(`the VRRP process ${pid} is gone`);
      const c: Checkpoint = {
        label,
        fds: openFds(pid),
        instances: STABLE + Math.min(n, KEEP),
        lastReload: last.replace(/^.*VRRP reloaded/, 'VRRP reloaded'),
        seconds,
      };
      c.rssKb = vmRssKb(pid);
      c.anonKb = anonymousKb(pid);
      if (heap)
        c.heap = await heapSnapshot(
          pid,
          snapDir,
          KEEP_SNAPSHOTS ? { keepAs: path.join(KEEP_SNAPSHOTS, `vrrp-${label.replace(/\D+/g, '-')}.heapsnapshot`) } : {},
        );
      out.push(c);
      console.log(
        `  ${heap ? 'heap' : 'rss'} run, reloads ${label}${c.rssKb ? `, VmRSS ${(c.rssKb / 1024).toFixed(1)} MB` : ''}${c.heap ? `, live heap ${(c.heap.bytes / 1048576).toFixed(2)} MB` : ''} (${seconds.toFixed(0)} s of reloads)`,
      );
    };
    for (const at of checkpoints) {
      const t0 = Date.now();
      while (n < at) {
        const next = Date.now() + GAP_MS;
        last = await reload(v, d, ++n);
        await sleep(next - Date.now());
      }
      // the last reload's added instance becomes master, and its gratuitous ARPs go out
      await sleep(3000);
      await measure(String(n), (Date.now() - t0 - 3000) / 1000);
    }
    await sleep(IDLE_S * 1000);
    await measure(`${n} + ${IDLE_S} s idle`, 0);
    return out;
  } finally {
    for (const x of [d, peer]) {
      if (x.proc.exitCode === null && x.proc.signalCode === null) v.signal(x, 'SIGTERM');
    }
    await Promise.race([Promise.all([d.exited, peer.exited]), sleep(10_000)]);
  }
}

function parseCheckpoints(): number[] {
  const raw = process.env.BENCH_RELOAD_CHECKPOINTS ?? (QUICK ? '0,100,200,400' : '0,500,1000,2000');
  const list = raw.split(',').map((x) => Number(x.trim()));
  if (list.some((x) => !Number.isInteger(x) || x < 0) || list.some((x, i) => i > 0 && x <= list[i - 1]!)) {
    throw new Error(`BENCH_RELOAD_CHECKPOINTS=${raw}: expected increasing whole numbers, e.g. 0,500,1000,2000`);
  }
  return list;
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? '-' : (bytes / 1048576).toFixed(2));

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('vrrp-reload-memory needs root: it builds a lab of network namespaces');
  const checkpoints = parseCheckpoints();
  const runs = process.env.BENCH_MEMORY_RUNS ?? 'both';
  if (!['rss', 'heap', 'both'].includes(runs)) throw new Error(`BENCH_MEMORY_RUNS=${runs}: expected rss, heap or both`);
  console.log(
    `vrrp-reload-memory: alived on n1 with ${STABLE} instances (10 masters, 10 backups of n2), reloaded up to ${checkpoints[checkpoints.length - 1]} times; ` +
      `each reload updates 2 instances in place, replaces 2, adds 1 and removes 1 (added ones live ${KEEP} reloads), one reload every ${GAP_MS} ms or more; ${os.cpus().length} CPUs`,
  );
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-reload-memory-'));
  let lab: Lab | undefined;
  try {
    lab = await Lab.create({
      name: 'reloadmem',
      hosts: [
        { name: 'n1', ip: '10.99.0.11' },
        { name: 'n2', ip: '10.99.0.12' },
      ],
    });
    const rss = runs !== 'heap' ? await run(lab, path.join(dir, 'rss'), checkpoints, false) : undefined;
    const heap = runs !== 'rss' ? await run(lab, path.join(dir, 'heap'), checkpoints, true) : undefined;
    const rows = (rss ?? heap)!.map((first, i) => {
      const r = rss?.[i];
      const h = heap?.[i]?.heap;
      const count = (name: string): string => (h ? String(h.objects.get(name) ?? 0) : '-');
      return [
        first.label,
        r ? `${(r.rssKb! / 1024).toFixed(1)} (${(r.anonKb! / 1024).toFixed(1)})` : '-',
        h ? `${mb(h.bytes)} (${mb(h.bytesByType.get('code'))})` : '-',
        String(first.instances),
        `${count('InstanceRuntime')}/${count('VrrpMachine')}/${count('VipManager')}/${count('Announcer')}`,
        `${count('VrrpChannel')}/${count('PacketSocket')}/${first.fds}`,
        count('Pending'),
      ];
    });
    const sample = (rss ?? heap)!.at(-1)!;
    console.log(
      table(
        'vrrp-reload-memory. The VRRP process after N reloads',
        ['reloads', 'VmRSS MB (anon)', 'live heap MB (code)', 'instances', 'instance/machine/vips/announcer', 'channel/packet socket/fds', 'clock timers'],
        rows,
        [
          'VmRSS from /proc/PID/status, 3 s after the last reload, in a daemon that never took a heap snapshot; anon = its anonymous pages',
          "(smaps_rollup: V8's heap as committed, malloc), the rest being the node binary and other files. Live heap = the self sizes of every",
          'node of a heap snapshot (a full collection first), from a second daemon through the same reloads; code = of it, bytecode, compiled',
          'code and their metadata. The counts are objects alive in that snapshot: an instance and its machine, VIP manager and announcer;',
          "the VRRP channels (one per interface and family) and packet sockets (one per interface), and the process's open file descriptors;",
          "the clock's timers (Pending: pending ones, and cleared ones its queue still holds).",
          `Last reload: ${sample.lastReload}`,
          `Reloads took ${(rss ?? heap)!
            .slice(0, -1)
            .map((c) => c.seconds.toFixed(0))
            .join(', ')} s between checkpoints.`,
          ...(heap ? [`The heap run's VmRSS before each snapshot: ${heap.map((c) => (c.rssKb! / 1024).toFixed(1)).join(', ')} MB.`] : []),
        ],
      ),
    );
  } finally {
    await lab?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`vrrp-reload-memory: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
