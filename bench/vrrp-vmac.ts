/**
 * VMAC takeover as a client sees it: an alived pair and a keepalived pair
 * (Debian's), each in a lab of its own, both with `use_vmac`, VRRPv3,
 * advert_int 0.1, a priority 200, b 100, VIP 10.99.0.99/24 on the VMAC
 * vrrp.51 (00:00:5e:00:01:33). A client pings the VIP every 20 ms.
 *
 * Each run: the master a dies (every process stopped, then killed, and its
 * link cut: a dead machine); measured from the kill:
 *   - b's VIP on its VMAC (RTM_NEWADDR, from b's address watcher);
 *   - the client's first echo reply to a request sent after the kill and the
 *     cut (b answers);
 *   - what the client's neighbour entry for the VIP named from before the
 *     kill to 3 s after the takeover (the lab watcher's neighbour events):
 *     the virtual MAC throughout, or a node's own MAC (and from when).
 * Before the kill b's neighbour cache is flushed: a backup does not talk to
 * clients, so b, which was master in the run before, is brought back to
 * what a backup in service knows.
 * Then a comes back as a rebooted machine (no VMAC), takes the VIP back, and
 * the next run starts from that steady state. The kill falls anywhere in
 * the advert interval (no phase is chosen), so the figures are medians over
 * BENCH_RUNS (default 5; BENCH_QUICK=1: 2) runs each, the pairs in turn.
 *
 * keepalived runs as Debian ships it: nothing set by hand (the VMAC tests
 * set arp_announce 2 on a keepalived node for the interop; not here).
 * Prints; asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { ClientObserver, NeighbourView } from '../core/lab/client';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { keepalivedAvailable, VrrpLab, type DaemonKind, type LabDaemon } from '../core/lab/vrrp-lab';
import { envInt, fmt, observersFirst, QUICK, sleep, summarize, table } from './vrrp-common';

const VIP = '10.99.0.99';
const VMAC = 'vrrp.51';
const MAC = '00:00:5e:00:01:33';
const RUNS = envInt('BENCH_RUNS', QUICK ? 2 : 5);
const MS = 1_000_000n;

function conf(name: string, priority: number): string {
  return `global_defs {
  router_id ${name}
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  use_vmac
  virtual_router_id 51
  priority ${priority}
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

interface Pair {
  kind: DaemonKind;
  lab: Lab;
  v: VrrpLab;
  client: ClientObserver;
  a?: LabDaemon;
}

interface RunFigures {
  takeoverMs: number;
  replyMs: number;
  virtualThroughout: boolean;
  /** the MACs the entry named in the window, in order */
  macs: string[];
  /** ms after the kill at which the entry first named a MAC other than the virtual one */
  wrongAfterMs?: number;
  /** ms of the window during which it named another MAC */
  wrongMs: number;
}

function holds(lab: Lab, host: string): boolean {
  const r = spawnSync('ip', ['-n', lab.host(host).ns, '-j', 'addr', 'show', 'dev', VMAC], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  return (JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>).some((i) => (i.addr_info ?? []).some((a) => a.local === VIP));
}

async function waitHolds(lab: Lab, host: string, want: boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (holds(lab, host) !== want) {
    if (Date.now() > deadline) throw new Error(`${VIP} ${want ? 'not on' : 'still on'} ${host}'s ${VMAC} after ${timeoutMs} ms`);
    await sleep(25);
  }
}

function start(p: Pair, host: string, priority: number): LabDaemon {
  return p.kind === 'alived' ? p.v.startAlived(host, conf(host, priority)) : p.v.startKeepalived(host, conf(host, priority));
}

async function makePair(kind: DaemonKind): Promise<Pair> {
  const lab = await Lab.create({
    name: kind === 'alived' ? 'vmacal' : 'vmacka',
    hosts: [
      { name: 'a', ip: '10.99.0.1' },
      { name: 'b', ip: '10.99.0.2' },
      { name: 'client', ip: '10.99.0.10' },
    ],
  });
  const v = new VrrpLab(lab, fs.mkdtempSync(path.join(os.tmpdir(), `alived-bench-vmac-${kind}-`)));
  await v.watch();
  const client = await ClientObserver.start(lab, { vip: VIP, host: 'client', intervalMs: 20, replyTimeoutMs: 1000 });
  observersFirst(lab, [client.proc.pid!]);
  const p: Pair = { kind, lab, v, client };
  p.a = start(p, 'a', 200);
  start(p, 'b', 100);
  await waitHolds(lab, 'a', true, 15_000);
  await waitHolds(lab, 'b', false, 15_000);
  return p;
}

async function run(p: Pair): Promise<RunFigures> {
  const { lab, v, client } = p;
  // a backup does not talk to clients: b has no neighbour entry for the client, as on a pair in service
  // (b was master in the run before this one)
  await lab.exec('b', ['ip', 'neigh', 'flush', 'all']);
  await sleep(1500);
  const before = process.hrtime.bigint() - 500n * MS;
  const t0 = v.crash('a', []);
  lab.setLink('a', false);
  // a's kernel answers until its link is cut: the replies that count are to requests sent after that
  const cut = process.hrtime.bigint();
  const took = await v.waitEvent((e) => e.host === 'b' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t0, 10_000);
  await sleep(3000);
  const end = process.hrtime.bigint();
  let reply: bigint | undefined;
  client.sends.forEach((sent, n) => {
    const r = client.replies.get(n);
    if (sent >= cut && r !== undefined && (reply === undefined || r < reply)) reply = r;
  });
  const view = new NeighbourView(v.events, 'client', VIP);
  const changes = view.changes(before, end);
  const macs = [view.macAt(before), ...changes.map((c) => c.mac)].filter((m): m is string => m !== undefined);
  const wrong = changes.find((c) => c.mac !== undefined && c.mac !== MAC);
  const figures: RunFigures = {
    takeoverMs: Number(took.t - t0) / 1e6,
    replyMs: reply !== undefined ? Number(reply - t0) / 1e6 : NaN,
    virtualThroughout: view.wrongMs(before, end, MAC) === 0 && view.macAt(before) === MAC,
    wrongMs: view.wrongMs(before, end, MAC),
    macs: macs.filter((m, i) => i === 0 || macs[i - 1] !== m),
    ...(wrong ? { wrongAfterMs: Number(wrong.t - t0) / 1e6 } : {}),
  };
  // a comes back as a rebooted machine: no VMAC, the link up, the daemon started; it takes the VIP back
  await lab.exec('a', ['ip', 'link', 'del', VMAC]);
  lab.setLink('a', true);
  p.a = start(p, 'a', 200);
  await waitHolds(lab, 'a', true, 15_000);
  await waitHolds(lab, 'b', false, 15_000);
  return figures;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the VMAC bench needs root (network namespaces)');
  if (!keepalivedAvailable()) throw new Error('keepalived is not installed (apt-get install keepalived)');
  removeStaleLabs();
  const pairs: Pair[] = [];
  try {
    pairs.push(await makePair('alived'), await makePair('keepalived'));
    const results = new Map<DaemonKind, RunFigures[]>(pairs.map((p) => [p.kind, []]));
    for (let i = 0; i < RUNS; i++) {
      // one after the other, so that neither pair's takeover competes with the other's for the CPUs
      for (const p of pairs) {
        const f = await run(p);
        results.get(p.kind)!.push(f);
        if (process.env.BENCH_VERBOSE === '1') console.log(`${p.kind} run ${i + 1}: ${JSON.stringify(f)}`);
      }
    }
    const row = (label: string, pick: (rs: RunFigures[]) => string): string[] => [label, ...pairs.map((p) => pick(results.get(p.kind)!))];
    const med = (sel: (f: RunFigures) => number) => (rs: RunFigures[]) => {
      const s = summarize(rs.map(sel));
      return `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
    };
    const hosts = pairs[0]!.lab.hosts;
    const names = (m: string): string => (m === MAC ? 'virtual' : (hosts.find((h) => h.mac === m)?.name ?? m));
    console.log(
      table(
        `VMAC takeover, v3 advert_int 0.1, master killed (${RUNS} runs each; ms after the kill, median (min-max))`,
        ['figure', ...pairs.map((p) => p.kind)],
        [
          row(
            "backup's VIP on its VMAC (RTM_NEWADDR)",
            med((f) => f.takeoverMs),
          ),
          row(
            "client's first echo reply",
            med((f) => f.replyMs),
          ),
          row(
            '  the same, after the VIP (phase-free)',
            med((f) => f.replyMs - f.takeoverMs),
          ),
          row("client's entry named the virtual MAC throughout", (rs) => `${rs.filter((f) => f.virtualThroughout).length} of ${rs.length}`),
          row('what the entry named, in order (last run)', (rs) => rs[rs.length - 1]!.macs.map(names).join(' > ')),
          row("ms it named a node's own MAC (median, max)", (rs) => {
            const w = summarize(rs.map((f) => f.wrongMs));
            return `${fmt(w.median, 0)}, ${fmt(w.max, 0)}`;
          }),
          row('first other MAC, ms after the kill (median)', (rs) => {
            const w = rs.filter((f) => f.wrongAfterMs !== undefined).map((f) => f.wrongAfterMs!);
            return w.length ? fmt(summarize(w).median) : 'never';
          }),
        ],
        [
          `'virtual' is ${MAC}; a and b are the nodes' own MACs (eth0). The client pings every 20 ms.`,
          'The kill falls anywhere in an advert interval: the takeover varies by up to 100 ms with it, for both.',
        ],
      ),
    );
  } finally {
    for (const p of pairs) {
      p.client.stop();
      await p.lab.destroy();
    }
  }
}

main().catch((err: Error) => {
  console.error(`bench/vrrp-vmac: ${err.message}`);
  process.exitCode = 1;
});
