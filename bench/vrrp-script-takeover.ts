/**
 * From a check script's fall-th failure to the VIP answering on the backup
 * (issue 4's figure), at advert_int 1 (VRRPv2), alived on both nodes:
 *
 *   n1 MASTER (priority 150) tracks `vrrp_script chk` (weight -60, fall 2,
 *   interval 1); n2 BACKUP (priority 100). The script fails from a chosen
 *   moment; its fall-th failing run writes a realtime stamp as it exits.
 *   n1's priority drops to 90, its next advert says so, and n2 (preempt)
 *   takes over once its Master_Down_Interval, counted from the last advert
 *   of priority 150, runs out. tcpdump on the client stamps every advert and
 *   n2's gratuitous ARP for the VIP (the VIP answering).
 *
 * Shares:
 *   - alived on n1: script exit -> "Changing effective priority" logged;
 *   - protocol: the last priority-150 advert + n2's Master_Down_Interval is
 *     when n2 may take over (the wait for n1's next advert is in it);
 *   - alived on n2: that moment -> n2's first advert, and -> its first GARP.
 *
 * Prints figures; asserts nothing. Env: BENCH_QUICK=1 (3 rounds), BENCH_ROUNDS (default 8).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../core/lab/vrrp-lab';
import { envInt, fmt, QUICK, readPcapAdverts, sleep, startTcpdump, summarize, table, vrrpTimes } from './vrrp-common';

const VIP = '10.98.0.99';
const HOSTS = [
  { name: 'n1', ip: '10.98.0.11' },
  { name: 'n2', ip: '10.98.0.12' },
  { name: 'client', ip: '10.98.0.100' },
];

function conf(priority: number, script: string | undefined): string {
  return `${script ? `vrrp_script chk {\n  script "${script}"\n  interval 1\n  weight -60\n  fall 2\n  rise 1\n}\n` : ''}vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
${script ? '  track_script {\n    chk\n  }\n' : ''}}
`;
}

/** gratuitous ARPs for `ip` in a pcap (Ethernet): stamps in ns */
function garps(file: string, ip: string): bigint[] {
  const b = fs.readFileSync(file);
  const out: bigint[] = [];
  if (b.length < 24) return out;
  const le = b.readUInt32LE(0) === 0xa1b23c4d || b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const ns = (le ? b.readUInt32LE(0) : b.readUInt32BE(0)) === 0xa1b23c4d;
  const want = ip.split('.').map(Number);
  for (let at = 24; at + 16 <= b.length;) {
    const sec = BigInt(u32(at));
    const frac = BigInt(u32(at + 4));
    const incl = u32(at + 8);
    const f = b.subarray(at + 16, at + 16 + incl);
    at += 16 + incl;
    if (f.length < 42 || f.readUInt16BE(12) !== 0x0806) continue;
    const spa = [...f.subarray(28, 32)];
    if (spa.every((x, i) => x === want[i])) out.push(sec * 1_000_000_000n + frac * (ns ? 1n : 1000n));
  }
  return out;
}

/** the realtime (ms) of a log line: alived's lines start with an ISO time */
function lineTimeMs(line: string): number {
  return Date.parse(line.slice(0, 24));
}

interface Round {
  n1Ms: number;
  waitAdvertMs: number;
  protocolMs: number;
  n2AdvertMs: number;
  n2GarpMs: number;
  totalMs: number;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('vrrp-script-takeover needs root: it builds a lab of network namespaces');
  const rounds = envInt('BENCH_ROUNDS', QUICK ? 3 : 8);
  const { mdiMs } = vrrpTimes(2, 100, 1);
  console.log(
    `vrrp-script-takeover: vrrp_script fall 2 interval 1 weight -60 on the master (150), backup 100 (Master_Down_Interval ${fmt(mdiMs, 3)} ms), advert_int 1, v2; ${rounds} rounds; ${os.cpus().length} CPUs`,
  );
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-script-'));
  fs.chmodSync(dir, 0o755);
  const flag = path.join(dir, 'ok');
  const stamp = path.join(dir, 'failed-at');
  const script = path.join(dir, 'check.sh');
  // fails while the flag is missing, and says when it exits failing (realtime ns)
  fs.writeFileSync(script, `#!/bin/sh\n[ -e ${flag} ] && exit 0\ndate +%s%N >> ${stamp}\nexit 1\n`, { mode: 0o755 });
  let lab: Lab | undefined;
  const results: Round[] = [];
  try {
    lab = await Lab.create({ name: 'script', hosts: HOSTS });
    const v = new VrrpLab(lab, dir);
    for (let r = 0; r < rounds; r++) {
      fs.writeFileSync(flag, '');
      fs.rmSync(stamp, { force: true });
      const d1: LabDaemon = v.startAlived('n1', conf(150, script));
      await v.waitHolder(VIP, 'n1', 15_000);
      const d2: LabDaemon = v.startAlived('n2', conf(100, undefined));
      await v.waitLine(d2, /Entering BACKUP STATE/, 10_000);
      const file = path.join(dir, `r${r}.pcap`);
      const cap = await startTcpdump(lab, 'client', 'eth0', file, 'ip proto 112 or arp');
      // the flag goes at a random point of the script's and the adverts' cycles
      await sleep(2000 + Math.floor(Math.random() * 1000));
      const lines1 = d1.lines.length;
      fs.rmSync(flag);
      await v.waitHolder(VIP, 'n2', 10_000);
      await sleep(300);
      cap.kill('SIGTERM');
      await new Promise((res) => cap.once('exit', res));
      const stamps = fs
        .readFileSync(stamp, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((x) => BigInt(x));
      const fallNs = stamps[1]!; // the second failing run: fall 2
      const prioLine = d1.lines.slice(lines1).find((l) => /Changing effective priority from 150 to 90/.test(l));
      const adverts = readPcapAdverts(file);
      const n1 = adverts.filter((a) => a.src === HOSTS[0]!.ip);
      const last150 = n1.filter((a) => a.priority === 150 && a.tNs <= fallNs + 2_000_000_000n).at(-1)!;
      const first90 = n1.find((a) => a.priority === 90)!;
      const n2First = adverts.find((a) => a.src === HOSTS[1]!.ip && a.priority === 100)!;
      const garp = garps(file, VIP).find((t) => t > n2First.tNs - 5_000_000n)!;
      const ms = (a: bigint, b: bigint): number => Number(b - a) / 1e6;
      const expected = last150.tNs + BigInt(Math.round(mdiMs * 1e6));
      results.push({
        n1Ms: prioLine ? lineTimeMs(prioLine) - Number(fallNs / 1_000_000n) : NaN,
        waitAdvertMs: ms(fallNs, first90.tNs),
        protocolMs: ms(fallNs, expected),
        n2AdvertMs: ms(expected, n2First.tNs),
        n2GarpMs: ms(expected, garp),
        totalMs: ms(fallNs, garp),
      });
      for (const d of [d2, d1]) {
        v.signal(d, 'SIGTERM');
        await d.exited;
      }
    }
  } finally {
    await lab?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const row = (label: string, values: number[]): string[] => {
    const s = summarize(values);
    return [label, fmt(s.median), fmt(s.min), fmt(s.max)];
  };
  console.log(
    table(
      "vrrp-script-takeover. From the script's fall-th failure (its exit) to the VIP answering on the backup (ms)",
      ['share', 'median', 'min', 'max'],
      [
        row(
          "total: fall-th failure -> backup's first gratuitous ARP",
          results.map((r) => r.totalMs),
        ),
        row(
          'alived on n1: failure -> new priority logged',
          results.map((r) => r.n1Ms),
        ),
        row(
          "  (protocol) failure -> n1's first priority-90 advert",
          results.map((r) => r.waitAdvertMs),
        ),
        row(
          'protocol: failure -> last 150 advert + Master_Down_Interval',
          results.map((r) => r.protocolMs),
        ),
        row(
          'alived on n2: that moment -> its first advert',
          results.map((r) => r.n2AdvertMs),
        ),
        row(
          'alived on n2: that moment -> its first gratuitous ARP',
          results.map((r) => r.n2GarpMs),
        ),
      ],
      [
        'The backup preempts a lower-priority master only when its Master_Down_Interval, counted from the last advert',
        "that outranked it, runs out (keepalived does the same): most of the total is the protocol's.",
        "Log times are milliseconds (the n1 share is to within 1 ms); packet times are tcpdump's kernel stamps.",
      ],
    ),
  );
}

main().catch((err) => {
  console.error(`vrrp-script-takeover: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
