/**
 * Live reload of a 1,000-instance config (issue 4's figure): alived on n1 is
 * MASTER of 1,000 instances at advert_int 1 (VRRPv3), 250 VRIDs on each of
 * four veth links to n2, where tcpdump stamps every advert. Then the config
 * is rewritten with one VIP added to one instance and alived gets SIGHUP:
 *
 *   - time to apply: SIGHUP to "Reload complete" in the log, and the VRRP
 *     process's own share ("VRRP reloaded in N ms");
 *   - the adverts of the other 999 instances around the reload: every
 *     interval that spans the reload, its largest deviation from 1 s, and
 *     any advert missed;
 *   - that the new VIP is up, and no instance left MASTER.
 *
 * Prints figures; asserts nothing. Env: BENCH_QUICK=1 (fewer rounds), BENCH_RELOAD_ROUNDS (default 5),
 * BENCH_RT=N (vrrp_rt_priority N for the VRRP process).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../core/lab/vrrp-lab';
import { envInt, fmt, QUICK, readPcapAdverts, realtimeNs, sleep, startTcpdump, summarize, table, type CapturedAdvert } from './vrrp-common';

const LINKS = 4;
const PER_LINK = 250;
const ADVERT_MS = 1000;
/** BENCH_RT=N: the VRRP process under SCHED_RR N (vrrp_rt_priority), to tell the reload's own cost from CPU contention */
const RT = process.env.BENCH_RT ? envInt('BENCH_RT', 1) : 0;

function config(extraVip: boolean): string {
  const out = ['global_defs {', '  router_id reload-bench', ...(RT ? [`  vrrp_rt_priority ${RT}`] : []), '}'];
  for (let l = 0; l < LINKS; l++) {
    for (let v = 1; v <= PER_LINK; v++) {
      const n = l * PER_LINK + v;
      const vips = [`10.${120 + l}.${Math.floor(v / 200)}.${(v % 200) + 20}/16`];
      if (extraVip && n === 1) vips.push('10.120.9.9/16');
      out.push(
        `vrrp_instance VI_${n} {`,
        '  state MASTER',
        `  interface a${l}`,
        `  virtual_router_id ${v}`,
        '  priority 150',
        '  advert_int 1',
        '  version 3',
        '  virtual_ipaddress {',
        ...vips.map((x) => `    ${x}`),
        '  }',
        '}',
      );
    }
  }
  return out.join('\n') + '\n';
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function vipCount(lab: Lab): number {
  let n = 0;
  for (let l = 0; l < LINKS; l++) {
    const r = spawnSync('ip', ['-n', lab.host('n1').ns, '-o', 'addr', 'show', 'dev', `a${l}`], { encoding: 'utf8' });
    n += r.stdout.split('\n').filter((x) => / inet 10\.12\d\.\d+\.\d+\/16 /.test(x)).length;
  }
  return n;
}

interface Round {
  applyMs: number;
  vrrpMs: number;
  /** per instance except VI_1: the largest |interval - 1 s| among intervals that span the reload */
  spanDev: number[];
  missed: number;
  streams: number;
  leftMaster: number;
}

async function round(lab: Lab, v: VrrpLab, d: LabDaemon, dir: string, n: number, addVip: boolean): Promise<Round> {
  const files = Array.from({ length: LINKS }, (_, l) => path.join(dir, `r${n}-b${l}.pcap`));
  const caps = await Promise.all(files.map((f, l) => startTcpdump(lab, 'n2', `b${l}`, f, 'ip proto 112', 16384)));
  await sleep(2500);
  fs.writeFileSync(d.config, config(addVip));
  const linesBefore = d.lines.length;
  const t0 = realtimeNs();
  const h0 = process.hrtime.bigint();
  v.signal(d, 'SIGHUP');
  await waitFor('Reload complete', () => d.lines.slice(linesBefore).find((l) => /Reload complete/.test(l)), 30_000);
  const applyMs = Number(process.hrtime.bigint() - h0) / 1e6;
  const vr = d.lines
    .slice(linesBefore)
    .map((l) => /VRRP reloaded in ([\d.]+) ms/.exec(l))
    .find((m) => m);
  const t1 = realtimeNs();
  await sleep(2500);
  for (const c of caps) c.kill('SIGTERM');
  await Promise.all(caps.map((c) => new Promise((r) => c.once('exit', r))));
  const adverts: CapturedAdvert[] = files.flatMap((f) => readPcapAdverts(f));
  const streams = new Map<string, bigint[]>();
  for (const a of adverts) {
    if (a.priority === 0) continue;
    const k = `${a.src}/${a.vrid}`;
    const l = streams.get(k) ?? [];
    l.push(a.tNs);
    streams.set(k, l);
  }
  const spanDev: number[] = [];
  let missed = 0;
  for (const [k, ts] of streams) {
    if (k === '10.200.0.1/1') continue; // VI_1: the instance the reload changed
    let worst = 0;
    for (let i = 1; i < ts.length; i++) {
      // intervals that overlap the reload window
      if (ts[i]! < t0 || ts[i - 1]! > t1) continue;
      const iv = Number(ts[i]! - ts[i - 1]!) / 1e6;
      if (iv > ADVERT_MS * 1.5) missed++;
      worst = Math.max(worst, Math.abs(iv - ADVERT_MS));
    }
    spanDev.push(worst);
  }
  const leftMaster = d.lines.slice(linesBefore).filter((l) => /Entering (BACKUP|FAULT|STOP)/.test(l)).length;
  return { applyMs, vrrpMs: vr ? Number(vr[1]) : NaN, spanDev, missed, streams: streams.size, leftMaster };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('vrrp-reload needs root: it builds a lab of network namespaces');
  const rounds = envInt('BENCH_RELOAD_ROUNDS', QUICK ? 2 : 5);
  console.log(
    `vrrp-reload: alived MASTER of ${LINKS * PER_LINK} instances${RT ? ` (vrrp_rt_priority ${RT})` : ''} (v3, advert_int 1, ${PER_LINK} per link on ${LINKS} links); ${rounds} reloads, each adding or removing one VIP of VI_1; ${os.cpus().length} CPUs`,
  );
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-reload-'));
  let lab: Lab | undefined;
  try {
    lab = await Lab.create({
      name: 'reload',
      hosts: [
        { name: 'n1', ip: '10.199.0.11' },
        { name: 'n2', ip: '10.199.0.12' },
      ],
    });
    const n2ns = lab.host('n2').ns;
    for (let l = 0; l < LINKS; l++) {
      await lab.run('n1', ['ip', 'link', 'add', `a${l}`, 'type', 'veth', 'peer', 'name', `b${l}`, 'netns', n2ns]);
      await lab.run('n1', ['ip', 'addr', 'add', `10.${200 + l}.0.1/24`, 'dev', `a${l}`]);
      await lab.run('n1', ['ip', 'link', 'set', `a${l}`, 'up']);
      await lab.run('n2', ['ip', 'addr', 'add', `10.${200 + l}.0.2/24`, 'dev', `b${l}`]);
      await lab.run('n2', ['ip', 'link', 'set', `b${l}`, 'up']);
    }
    const v = new VrrpLab(lab, dir);
    const d = v.startAlived('n1', config(false));
    const total = LINKS * PER_LINK;
    await waitFor(`${total} VIPs on n1`, () => (vipCount(lab!) === total ? true : undefined), 60_000);
    // the second gratuitous ARP burst (garp_master_delay 5 s) passes before measuring
    await sleep(6000);
    const results: Round[] = [];
    for (let i = 0; i < rounds; i++) {
      const add = i % 2 === 0;
      results.push(await round(lab, v, d, dir, i, add));
      const want = total + (add ? 1 : 0);
      await waitFor(`${want} VIPs after reload ${i + 1}`, () => (vipCount(lab!) === want ? true : undefined), 10_000);
    }
    v.signal(d, 'SIGTERM');
    await d.exited;
    const apply = summarize(results.map((r) => r.applyMs));
    const vrrp = summarize(results.map((r) => r.vrrpMs));
    const dev = results.flatMap((r) => r.spanDev).sort((a, b) => a - b);
    const worst = dev[dev.length - 1] ?? NaN;
    const p99 = dev[Math.max(0, Math.ceil(dev.length * 0.99) - 1)] ?? NaN;
    console.log(
      table(
        `vrrp-reload. SIGHUP that changes one VIP of one instance among ${total}`,
        ['figure', 'median', 'min', 'max'],
        [
          ['SIGHUP -> Reload complete (ms)', fmt(apply.median), fmt(apply.min), fmt(apply.max)],
          ['of which the VRRP process applying it (ms)', fmt(vrrp.median), fmt(vrrp.min), fmt(vrrp.max)],
        ],
        [
          `Adverts of the other ${total - 1} instances across each reload (tcpdump on n2): ${dev.length} streams x rounds;`,
          `  worst |interval - 1 s| of an interval spanning the reload: p50 ${fmt(dev[Math.floor(dev.length / 2)] ?? NaN, 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(worst, 2)} ms`,
          `  adverts missed (interval > 1.5 s): ${results.reduce((a, r) => a + r.missed, 0)}; streams seen per round: ${results.map((r) => r.streams).join(', ')}`,
          `  instances that left MASTER during a reload: ${results.reduce((a, r) => a + r.leftMaster, 0)}`,
        ],
      ),
    );
  } finally {
    await lab?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`vrrp-reload: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
