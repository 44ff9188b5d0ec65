/**
 * Faults as a client sees them: an alived pair and a keepalived pair (Debian's),
 * each in a lab of its own, put under the same network and host faults at
 * the same moment:
 *
 *   1. partition-heal   a cut off from b for 2 s, then for 10 s, and healed
 *   2. advert loss      10, 30, 50 % of VRRP packets dropped at the backup b
 *   3. pause            the master a stalled (SIGSTOP) for 5 s, then continued
 *   4. deleted VIP      `ip addr del` of the VIP on the master a
 *   5. restart          the daemon on a killed -9 (VIP left) and started again at once
 *   6. VRRP killed      only a's VRRP process killed -9, every 3 s
 *   7. link flapping    a's eth0 down and up every 0.5 s
 *   8. garbage flood    ~17,000 invalid VRRP packets/s at VRID 51 from a third host
 *
 * Each lab: hosts a (10.99.0.1, priority 200) and b (10.99.0.2, priority 100),
 * both `state BACKUP` (preempt on), VRRPv3, advert_int 0.1, VRID 51, VIP
 * 10.99.0.99/24; a client (10.99.0.10) pings the VIP every 0.1 s for the
 * whole run; evil (10.99.0.66) only floods. The same config for both daemons.
 * The right master is a, except while a is stalled or its VRRP process is
 * down (b then legitimately holds the VIP).
 *
 * What is measured is what the client sees (core/lab/client.ts): its echo
 * replies, and the MAC its neighbour entry for the VIP names, from the
 * kernel's own neighbour events (core/lab/watch.ts); the address events of a
 * and b; gratuitous ARPs on the client's wire (tcpdump). Faults come from
 * core/lab/faults.ts. Before every run both pairs are brought to the same
 * steady state (a holds the VIP, b is backup, the client's entry names a,
 * no node entered MASTER in the last 6 s); a pair that cannot get there is
 * restarted, and a client entry still naming the wrong MAC after a run's
 * window is deleted, so that runs do not carry over. Prints figures; never
 * fails on them (exit 1 only when a lab or a daemon cannot start).
 *
 * Env: BENCH_QUICK=1 (fewer runs, shorter faults); BENCH_ONLY=partition,loss,
 * pause,delvip,restart,vrrpkill,flap,flood (a subset); BENCH_RUNS_CUT_SHORT (10),
 * BENCH_RUNS_CUT_LONG (5), BENCH_LOSS_S (60 per level), BENCH_RUNS_PAUSE (5),
 * BENCH_RUNS_DELVIP (5), BENCH_RUNS_RESTART (5), BENCH_KILLS (5),
 * BENCH_FLAP_S (10), BENCH_FLOOD_S (30), BENCH_FLOOD_PPS (17000),
 * BENCH_AFTER_S (5: the window after each fault); BENCH_VERBOSE=1 prints every run.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArpCapture, ClientObserver, NeighbourView, neighbourNow, realtimeToMonotonicNs, type PingStats } from '../core/lab/client';
import {
  clearLoss,
  crashDaemon,
  deleteVip,
  flood,
  heal,
  killVrrpProcess,
  linkFlap,
  loss,
  partition,
  pause,
  restartDaemon,
  resume,
  vrrpProcessPid,
} from '../core/lab/faults';
import { Lab, removeStaleLabs } from '../core/lab/netns';
import { keepalivedAvailable, VrrpLab, type DaemonKind, type LabDaemon, type WatchEvent } from '../core/lab/vrrp-lab';
import {
  CLK_TCK,
  daemonRoot,
  envInt,
  fmt,
  observersFirst,
  processTree,
  QUICK,
  readPcapAdverts,
  readStat,
  sleep,
  startTcpdump,
  summarize,
  table,
  vrrpConfig,
} from './vrrp-common';

const VIP = '10.99.0.99';
const VRID = 51;
const ADVERT_MS = 100;
const HOSTS = [
  { name: 'a', ip: '10.99.0.1' },
  { name: 'b', ip: '10.99.0.2' },
  { name: 'client', ip: '10.99.0.10' },
  { name: 'evil', ip: '10.99.0.66' },
];
const KINDS: DaemonKind[] = ['alived', 'keepalived'];
/**
 * every run's window after its fault ends; a client entry still wrong at its
 * end counts the whole window (the kernel may take far longer to give up on
 * it: a longer BENCH_AFTER_S shows how much)
 */
const AFTER_MS = envInt('BENCH_AFTER_S', 5) * 1000;
/** a reply later than this counts as lost; figures are read once it has passed */
const REPLY_TIMEOUT_MS = 1000;
/** a steady pair is left alone this long before a run */
const QUIET_MS = 1000;
/**
 * and this long after either node last entered MASTER: both daemons send a
 * second burst of gratuitous ARPs garp_master_delay (5 s) after becoming
 * master, which would land in the next run and fix the client's entry for it
 */
const AFTER_MASTER_MS = 6000;
const VERBOSE = process.env.BENCH_VERBOSE === '1';

const ns = (ms: number): bigint => BigInt(Math.round(ms * 1e6));
const msSince = (from: bigint, t: bigint): number => Number(t - from) / 1e6;
const now = (): bigint => process.hrtime.bigint();

async function sleepUntil(t: bigint): Promise<void> {
  const ms = msSince(now(), t);
  if (ms > 0) await sleep(ms);
}

// --- a pair of nodes ---------------------------------------------------------

/** A daemon's VRRP state changes and its output volume, stamped as they arrive. */
interface DaemonLog {
  states: Array<{ t: bigint; state: string }>;
  bytes: number;
}

interface Node {
  d: LabDaemon;
  log: DaemonLog;
}

interface Pair {
  kind: DaemonKind;
  lab: Lab;
  v: VrrpLab;
  client: ClientObserver;
  neigh: NeighbourView;
  arp: ArpCapture;
  /** b's VRRP packets as they reach a's eth0 (tcpdump in a's namespace): during a cut none do */
  bAtA: { proc: ChildProcess; file: string };
  a: Node;
  b: Node;
  mac: { a: string; b: string };
  /** times this pair was started over because it did not come back to its steady state */
  resets: number;
}

function config(host: 'a' | 'b'): string {
  return vrrpConfig(`lab-${host}`, [
    { name: 'VI_1', vrid: VRID, state: 'BACKUP', priority: host === 'a' ? 200 : 100, version: 3, advertS: ADVERT_MS / 1000, vips: [`${VIP}/24`] },
  ]);
}

/** Reads the daemon's output as it comes: every `(VI_1) Entering X STATE`, with its arrival time, and the bytes written. */
function logOf(d: LabDaemon): DaemonLog {
  const log: DaemonLog = { states: [], bytes: 0 };
  for (const stream of [d.proc.stdout, d.proc.stderr]) {
    let buf = '';
    stream?.on('data', (chunk: Buffer) => {
      const t = now();
      log.bytes += chunk.length;
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const m = /\(VI_1\) Entering (\w+) STATE/.exec(l);
        if (m) log.states.push({ t, state: m[1]! });
      }
    });
  }
  return log;
}

function adopt(d: LabDaemon): Node {
  return { d, log: logOf(d) };
}

function startNode(kind: DaemonKind, v: VrrpLab, host: 'a' | 'b'): Node {
  return adopt(kind === 'alived' ? v.startAlived(host, config(host)) : v.startKeepalived(host, config(host)));
}

function running(n: Node): boolean {
  return n.d.proc.exitCode === null && n.d.proc.signalCode === null;
}

function lastState(n: Node): string | undefined {
  return n.log.states[n.log.states.length - 1]?.state;
}

function statesIn(n: Node, state: string, from: bigint, to: bigint): number {
  return n.log.states.filter((s) => s.state === state && s.t >= from && s.t <= to).length;
}

/** Both nodes started from nothing: a first (it becomes master), then b (it becomes backup). */
async function startPair(kind: DaemonKind, v: VrrpLab): Promise<{ a: Node; b: Node }> {
  const a = startNode(kind, v, 'a');
  await v.waitHolder(VIP, 'a', 15_000).catch((err: Error) => Promise.reject(withOutput(err, a.d)));
  const b = startNode(kind, v, 'b');
  await v.waitLine(b.d, /\(VI_1\) Entering BACKUP STATE/, 20_000).catch((err: Error) => Promise.reject(withOutput(err, b.d)));
  return { a, b };
}

/** What a daemon that did not come up said last, added to the error. */
function withOutput(err: Error, d: LabDaemon): Error {
  err.message += `\n--- ${d.kind} on ${d.host.name}, last lines:\n${d.lines.slice(-15).join('\n')}`;
  return err;
}

/** Both daemons killed, every VIP gone, both started again. */
async function resetPair(p: Pair): Promise<void> {
  p.resets++;
  for (const n of [p.a, p.b]) if (running(n)) await crashDaemon(n.d);
  for (const h of ['a', 'b']) await deleteVip(p.lab, h, VIP);
  await p.lab.run('client', ['ip', 'neigh', 'flush', 'dev', 'eth0']);
  Object.assign(p, await startPair(p.kind, p.v));
}

/** a holds the VIP alone as master, b is backup, both VRRP processes run. */
function pairSteady(p: Pair): boolean {
  if (!running(p.a) || !running(p.b) || vrrpProcessPid(p.a.d) === undefined || vrrpProcessPid(p.b.d) === undefined) return false;
  if (lastState(p.a) !== 'MASTER' || lastState(p.b) !== 'BACKUP') return false;
  const hs = p.v.holders(VIP);
  return hs.length === 1 && hs[0] === 'a';
}

async function waitUntil(ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ok()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/**
 * Brings the pair to its steady state before a run: a master with the VIP,
 * b backup, the client's entry naming a, and neither node entered MASTER
 * within AFTER_MASTER_MS. A client entry that still names another MAC is
 * deleted (the client asks again); a pair that does not get there is
 * restarted; one that cannot be restarted throws.
 */
async function settle(p: Pair): Promise<void> {
  const clientOk = async (): Promise<boolean> => (await neighbourNow(p.lab, 'client', VIP)) === p.mac.a;
  for (let attempt = 0; ; attempt++) {
    const lastMaster = [...p.a.log.states, ...p.b.log.states].filter((s) => s.state === 'MASTER').reduce((m, s) => (s.t > m ? s.t : m), 0n);
    await sleepUntil(lastMaster + ns(AFTER_MASTER_MS));
    if (await waitUntil(() => pairSteady(p), 3000)) {
      if (await waitUntil(clientOk, 1000)) break;
      await p.lab.run('client', ['ip', 'neigh', 'del', VIP, 'dev', 'eth0']).catch(() => undefined);
      if (await waitUntil(clientOk, 2000)) break;
    }
    if (attempt >= 2)
      throw new Error(
        `the ${p.kind} pair does not come back to a steady state (a master, b backup, the client's entry naming a); holders: [${p.v.holders(VIP).join(', ')}]`,
      );
    await resetPair(p);
  }
  await sleep(QUIET_MS);
}

/** Both pairs steady, then the same run on both at the same moment. */
async function together<T>(pairs: Pair[], run: (p: Pair) => Promise<T>, label: string): Promise<Map<DaemonKind, T>> {
  await Promise.all(pairs.map(settle));
  const results = await Promise.all(pairs.map(run));
  const out = new Map<DaemonKind, T>();
  pairs.forEach((p, i) => out.set(p.kind, results[i]!));
  if (VERBOSE) for (const [k, r] of out) process.stderr.write(`  ${label} ${k}: ${JSON.stringify(r, (_, x) => (typeof x === 'bigint' ? String(x) : x))}\n`);
  return out;
}

// --- reading the observers ---------------------------------------------------

function vipEvents(p: Pair, host: string, op: 'new' | 'del', from: bigint, to: bigint): WatchEvent[] {
  return p.v.events.filter((e) => e.host === host && e.kind === 'addr' && e.address === VIP && e.op === op && e.t >= from && e.t <= to);
}

/** When `host` held the VIP in [from, to], from its address events: intervals in monotonic ns. */
function holding(p: Pair, host: string, from: bigint, to: bigint): Array<[bigint, bigint]> {
  let held = false;
  let since = from;
  const out: Array<[bigint, bigint]> = [];
  for (const e of p.v.events) {
    if (e.host !== host || e.kind !== 'addr' || e.address !== VIP || e.t > to) continue;
    const on = e.op === 'new';
    if (e.t < from) {
      held = on;
      continue;
    }
    if (on && !held) since = e.t;
    if (!on && held) out.push([since, e.t]);
    held = on;
  }
  if (held) out.push([since, to]);
  return out;
}

/** ms in [from, to] during which a and b both held the VIP */
function bothHeldMs(p: Pair, from: bigint, to: bigint): number {
  const a = holding(p, 'a', from, to);
  const b = holding(p, 'b', from, to);
  let sum = 0n;
  for (const [a0, a1] of a) {
    for (const [b0, b1] of b) {
      const lo = a0 > b0 ? a0 : b0;
      const hi = a1 < b1 ? a1 : b1;
      if (hi > lo) sum += hi - lo;
    }
  }
  return Number(sum) / 1e6;
}

/** Adverts from b (non-zero priority) that reached a's eth0 in [from, to] (monotonic ns). */
function bAdvertsAtA(p: Pair, from: bigint, to: bigint): number {
  const offset = realtimeToMonotonicNs();
  return readPcapAdverts(p.bAtA.file).filter((x) => x.priority > 0 && x.tNs - offset >= from && x.tNs - offset <= to).length;
}

// --- 1. partition and heal -------------------------------------------------------

interface HealRun {
  /** b took the VIP during the cut */
  bTook: boolean;
  /** the client's entry named a one advert interval after the heal: from the watcher's events, and asked from the kernel then */
  correct: boolean;
  correctAsked: boolean;
  /** the entry named a again, ms after the heal (undefined: not within the window) */
  toAMs?: number;
  ping: PingStats;
  wrongMs: number;
  /** gratuitous ARPs from a on the client's wire in the window */
  garpsA: number;
  /** b's advert reached a after the heal (else a's reached b first and b went back to backup silently) */
  aHeardB: boolean;
}

async function partitionRun(p: Pair, cutMs: number): Promise<HealRun> {
  const cut = await partition(p.lab, 'a', 'b');
  await sleep(cutMs);
  const tHeal = await heal(cut);
  const at = tHeal + ns(ADVERT_MS);
  await sleepUntil(at);
  const asked = await neighbourNow(p.lab, 'client', VIP);
  const end = tHeal + ns(AFTER_MS);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  const toA = p.neigh.firstNaming(p.mac.a, tHeal, end);
  return {
    bTook: vipEvents(p, 'b', 'new', cut.t, tHeal).length > 0,
    correct: p.neigh.macAt(at) === p.mac.a,
    correctAsked: asked === p.mac.a,
    ...(toA !== undefined ? { toAMs: msSince(tHeal, toA) } : {}),
    ping: p.client.pings(tHeal, end),
    wrongMs: p.neigh.wrongMs(tHeal, end, p.mac.a),
    garpsA: p.arp.gratuitous(VIP, tHeal, end).filter((g) => g.senderMac === p.mac.a).length,
    // from the cut on: nothing of b reaches a before the heal, and the heal is in effect a little before nft returns
    aHeardB: bAdvertsAtA(p, cut.t, end) > 0,
  };
}

// --- 2. advert loss at the backup ----------------------------------------------

interface LossRun {
  percent: number;
  /** b entering MASTER (from its log) */
  falseFailovers: number;
  /** b adding the VIP (from its address events) */
  bTook: number;
  /** s the client's entry named b */
  namedBS: number;
  ping: PingStats;
}

async function lossRun(p: Pair, percent: number, windowMs: number): Promise<LossRun> {
  const l = await loss(p.lab, 'b', percent);
  await sleep(windowMs);
  const t1 = await clearLoss(l);
  const end = t1 + ns(AFTER_MS);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  return {
    percent,
    falseFailovers: statesIn(p.b, 'MASTER', l.t, end),
    bTook: vipEvents(p, 'b', 'new', l.t, end).length,
    namedBS: p.neigh.wrongMs(l.t, end, p.mac.a) / 1000,
    ping: p.client.pings(l.t, end),
  };
}

// --- 3. pause ------------------------------------------------------------------

interface PauseRun {
  bTook: boolean;
  /** the entry named a again, ms after the resume */
  toAMs?: number;
  within: boolean;
  /** replies in the whole run (stall + window after) and in the window after the resume alone */
  all: PingStats;
  after: PingStats;
  wrongAfterMs: number;
}

async function pauseRun(p: Pair, stallMs: number): Promise<PauseRun> {
  // the capture in a's namespace is the lab's, not the node's
  const stall = pause(p.lab, 'a', [p.bAtA.proc.pid!]);
  await sleep(stallMs);
  const tRes = resume(stall);
  const end = tRes + ns(AFTER_MS);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  const toA = p.neigh.firstNaming(p.mac.a, tRes, end);
  return {
    bTook: vipEvents(p, 'b', 'new', stall.t, tRes).length > 0,
    ...(toA !== undefined ? { toAMs: msSince(tRes, toA) } : {}),
    within: toA !== undefined && toA <= tRes + ns(ADVERT_MS),
    all: p.client.pings(stall.t, end),
    after: p.client.pings(tRes, end),
    wrongAfterMs: p.neigh.wrongMs(tRes, end, p.mac.a),
  };
}

// --- 4. deleted VIP ------------------------------------------------------------

/** how long a deleted VIP is given to come back */
const DELVIP_WINDOW_MS = 3000;

interface DelVipRun {
  /** RTM_NEWADDR of the VIP on a, ms after its RTM_DELADDR */
  restoredMs?: number;
  /** the first gratuitous ARP for the VIP on the client's wire, ms after RTM_DELADDR */
  garpMs?: number;
  bTook: boolean;
  ping: PingStats;
}

async function delVipRun(p: Pair): Promise<DelVipRun> {
  const before = now();
  const t = await deleteVip(p.lab, 'a', VIP);
  if (t === undefined) throw new Error(`${p.kind}: a does not hold ${VIP} before the delete`);
  const del = vipEvents(p, 'a', 'del', before, t + ns(1000))[0]?.t ?? t;
  const end = del + ns(DELVIP_WINDOW_MS);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  const back = vipEvents(p, 'a', 'new', del, end)[0];
  const garp = p.arp.gratuitous(VIP, del, end)[0];
  return {
    ...(back ? { restoredMs: msSince(del, back.t) } : {}),
    ...(garp ? { garpMs: msSince(del, garp.t) } : {}),
    bTook: vipEvents(p, 'b', 'new', del, end).length > 0,
    ping: p.client.pings(del, end),
  };
}

// --- 5. restart ------------------------------------------------------------------

interface RestartRun {
  /** the stale VIP's RTM_DELADDR on a, ms after the new daemon's spawn (undefined: kept) */
  staleGoneMs?: number;
  /** a's RTM_NEWADDR of the VIP after that, ms after the spawn */
  masterMs?: number;
  /** the new daemon's `Entering MASTER STATE`, ms after the spawn (as its output arrived) */
  masterLineMs?: number;
  bTook: boolean;
  ping: PingStats;
}

async function restartRun(p: Pair): Promise<RestartRun> {
  const tKill = await crashDaemon(p.a.d);
  const { daemon, t: spawned } = restartDaemon(p.v, p.a.d);
  p.a = adopt(daemon);
  const end = tKill + ns(AFTER_MS);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  const gone = vipEvents(p, 'a', 'del', spawned, end)[0];
  const back = vipEvents(p, 'a', 'new', gone?.t ?? spawned, end)[0];
  const line = p.a.log.states.find((s) => s.state === 'MASTER');
  return {
    ...(gone ? { staleGoneMs: msSince(spawned, gone.t) } : {}),
    ...(back ? { masterMs: msSince(spawned, back.t) } : {}),
    ...(line && line.t <= end ? { masterLineMs: msSince(spawned, line.t) } : {}),
    bTook: vipEvents(p, 'b', 'new', tKill, end).length > 0,
    ping: p.client.pings(tKill, end),
  };
}

// --- 6. the VRRP process killed ------------------------------------------------------

interface KillSeries {
  /** per kill: was there a VRRP process to kill, and when a's daemon said MASTER again (ms after the kill) */
  kills: Array<{ ran: boolean; masterMs?: number }>;
  bothHeldMs: number;
  bTook: number;
  ping: PingStats;
}

async function vrrpKillSeries(p: Pair, kills: number, everyMs: number): Promise<KillSeries> {
  const t0 = now();
  const times: Array<bigint | undefined> = [];
  for (let i = 0; i < kills; i++) {
    await sleepUntil(t0 + ns(i * everyMs));
    times.push(killVrrpProcess(p.a.d)?.t);
  }
  // the last kill gets longer to recover: both daemons restart a VRRP process that keeps dying later each time
  const end = t0 + ns((kills - 1) * everyMs + 2 * AFTER_MS);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  const series = times.map((t, i) => {
    if (t === undefined) return { ran: false };
    const until = i + 1 < kills ? t0 + ns((i + 1) * everyMs) : end;
    const m = p.a.log.states.find((s) => s.state === 'MASTER' && s.t > t && s.t <= until);
    return m ? { ran: true, masterMs: msSince(t, m.t) } : { ran: true };
  });
  return { kills: series, bothHeldMs: bothHeldMs(p, t0, end), bTook: vipEvents(p, 'b', 'new', t0, end).length, ping: p.client.pings(t0, end) };
}

// --- 7. link flapping ------------------------------------------------------------

interface FlapRun {
  downs: number;
  ping: PingStats;
  /** VRRP state changes of a and b, from the first down to the window's end */
  transitions: number;
  /** the entry named a one advert interval after the flapping */
  correct: boolean;
  wrongAfterMs: number;
}

async function flapRun(p: Pair, periodMs: number, durationMs: number): Promise<FlapRun> {
  const f = await linkFlap(p.lab, 'a', periodMs, durationMs);
  const end = f.t1 + ns(AFTER_MS);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  return {
    downs: f.downs,
    ping: p.client.pings(f.t0, end),
    transitions: [p.a, p.b].reduce((s, n) => s + n.log.states.filter((x) => x.t >= f.t0 && x.t <= end).length, 0),
    correct: p.neigh.macAt(f.t1 + ns(ADVERT_MS)) === p.mac.a,
    wrongAfterMs: p.neigh.wrongMs(f.t1, end, p.mac.a),
  };
}

// --- 8. garbage flood --------------------------------------------------------------

interface FloodRun {
  /** packets per second the flood reached */
  pps: number;
  /** b entering MASTER, a leaving it */
  falseFailovers: number;
  ping: PingStats;
  /** % of one CPU, every process of the daemon */
  cpu: { a: number; b: number };
  /** bytes of output (log) written */
  logBytes: { a: number; b: number };
}

function cpuTicks(n: Node): number {
  return processTree(daemonRoot(n.d)).reduce((s, pid) => s + (readStat(pid)?.ticks ?? 0), 0);
}

async function floodRun(p: Pair, pps: number, durationMs: number): Promise<FloodRun> {
  const ticks0 = { a: cpuTicks(p.a), b: cpuTicks(p.b) };
  const bytes0 = { a: p.a.log.bytes, b: p.b.log.bytes };
  const h0 = now();
  const r = await flood(p.lab, 'evil', { vrid: VRID, pps, durationMs });
  const seconds = msSince(h0, now()) / 1000;
  const cpu = { a: ((cpuTicks(p.a) - ticks0.a) / CLK_TCK / seconds) * 100, b: ((cpuTicks(p.b) - ticks0.b) / CLK_TCK / seconds) * 100 };
  const logBytes = { a: p.a.log.bytes - bytes0.a, b: p.b.log.bytes - bytes0.b };
  const end = r.t1 + ns(2000);
  await sleepUntil(end + ns(REPLY_TIMEOUT_MS));
  // keepalived logs every packet it discards: hundreds of thousands of lines nothing reads again
  for (const n of [p.a, p.b]) n.d.lines.splice(0, Math.max(0, n.d.lines.length - 200));
  return {
    pps: r.sent / (msSince(r.t0, r.t1) / 1000),
    falseFailovers: statesIn(p.b, 'MASTER', r.t0, end) + statesIn(p.a, 'BACKUP', r.t0, end) + statesIn(p.a, 'FAULT', r.t0, end),
    ping: p.client.pings(r.t0, end),
    cpu,
    logBytes,
  };
}

// --- figures -------------------------------------------------------------------

/** One figure of a scenario, a cell per daemon; `headline` figures also go to the summary at the end. */
interface Row {
  label: string;
  alived: string;
  keepalived: string;
  headline: boolean;
}

/** A figure computed from one daemon's results; `true` as third element: a headline. */
type Figure<T> = [label: string, cell: (r: T) => string, headline?: boolean];

const med = (xs: number[], digits = 0): string => fmt(summarize(xs).median, digits);
const medMax = (xs: number[], digits = 0): string => {
  const s = summarize(xs);
  return s.n === 0 ? '-' : `${fmt(s.median, digits)} / ${fmt(s.max, digits)}`;
};
const kOf = (flags: boolean[]): string => `${flags.filter(Boolean).length} of ${flags.length}`;
const pct = (flags: boolean[]): number => (flags.length ? (100 * flags.filter(Boolean).length) / flags.length : NaN);
/** ms figures that may be missing: median / max of those there, and how many never came */
const medOrNever = (xs: Array<number | undefined>, digits = 0): string => {
  const have = xs.filter((x): x is number => x !== undefined);
  const never = xs.length - have.length;
  if (have.length === 0) return xs.length ? `never (${never} of ${xs.length})` : '-';
  return `${medMax(have, digits)}${never ? `, never in ${never} of ${xs.length}` : ''}`;
};
const lostOfSent = (ps: PingStats): string => `${ps.lost} / ${ps.sent}`;

/** The figures for both daemons, side by side. */
function rows<T>(res: Map<DaemonKind, T>, figures: Array<Figure<T>>): Row[] {
  return figures.map(([label, cell, headline]) => ({
    label,
    alived: cell(res.get('alived')!),
    keepalived: cell(res.get('keepalived')!),
    headline: headline === true,
  }));
}

/** Prints a scenario's block and keeps its headline figures for the summary. */
function report(sum: Row[], scenario: string, title: string, body: Row[], notes: string[] = []): void {
  console.log(
    table(
      title,
      ['figure', 'alived', 'keepalived'],
      body.map((r) => [r.label, r.alived, r.keepalived]),
      notes,
    ),
  );
  for (const r of body) if (r.headline) sum.push({ ...r, label: `${scenario}: ${r.label}` });
}

// --- the scenarios --------------------------------------------------------------

interface Plan {
  cutShortRuns: number;
  cutLongRuns: number;
  lossS: number;
  pauseRuns: number;
  delVipRuns: number;
  restartRuns: number;
  kills: number;
  flapS: number;
  floodS: number;
  floodPps: number;
  only: Set<string>;
}

const SCENARIOS = ['partition', 'loss', 'pause', 'delvip', 'restart', 'vrrpkill', 'flap', 'flood'] as const;

function plan(): Plan {
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const o of only) if (!(SCENARIOS as readonly string[]).includes(o)) throw new Error(`BENCH_ONLY=${o}: expected some of ${SCENARIOS.join(',')}`);
  return {
    cutShortRuns: envInt('BENCH_RUNS_CUT_SHORT', QUICK ? 3 : 10),
    cutLongRuns: envInt('BENCH_RUNS_CUT_LONG', QUICK ? 2 : 5),
    lossS: envInt('BENCH_LOSS_S', QUICK ? 15 : 60),
    pauseRuns: envInt('BENCH_RUNS_PAUSE', QUICK ? 2 : 5),
    delVipRuns: envInt('BENCH_RUNS_DELVIP', QUICK ? 2 : 5),
    restartRuns: envInt('BENCH_RUNS_RESTART', QUICK ? 2 : 5),
    kills: envInt('BENCH_KILLS', QUICK ? 3 : 5),
    flapS: envInt('BENCH_FLAP_S', QUICK ? 5 : 10),
    floodS: envInt('BENCH_FLOOD_S', QUICK ? 10 : 30),
    floodPps: envInt('BENCH_FLOOD_PPS', 17_000),
    only: new Set(only.length ? only : SCENARIOS),
  };
}

async function repeat<T>(pairs: Pair[], runs: number, label: string, run: (p: Pair) => Promise<T>): Promise<Map<DaemonKind, T[]>> {
  const out = new Map<DaemonKind, T[]>(KINDS.map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    progress(`${label}: run ${i + 1}/${runs}`);
    const r = await together(pairs, run, `${label} #${i + 1}`);
    for (const [k, v] of r) out.get(k)!.push(v);
  }
  return out;
}

async function scenarioPartition(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  for (const [cutS, runs] of [
    [2, pl.cutShortRuns],
    [10, pl.cutLongRuns],
  ] as const) {
    const res = await repeat(pairs, runs, `partition ${cutS} s`, (p) => partitionRun(p, cutS * 1000));
    const body = rows<HealRun[]>(res, [
      ['b took the VIP during the cut', (r) => kOf(r.map((x) => x.bTook))],
      ['entry names a 100 ms after the heal (events)', (r) => `${kOf(r.map((x) => x.correct))} (${fmt(pct(r.map((x) => x.correct)), 0)} %)`, true],
      ['  the same, asked from the kernel then', (r) => kOf(r.map((x) => x.correctAsked))],
      ['entry names a again, ms after the heal (med / max)', (r) => medOrNever(r.map((x) => x.toAMs))],
      [
        `s on a non-master after the heal, of ${AFTER_MS / 1000} (med / max)`,
        (r) =>
          medMax(
            r.map((x) => x.wrongMs / 1000),
            2,
          ),
        true,
      ],
      ['replies lost after the heal (med / max)', (r) => medMax(r.map((x) => x.ping.lost)), true],
      ['longest gap after the heal, ms (med / max)', (r) => medMax(r.map((x) => x.ping.longestGapMs)), true],
      ["b's advert reached a after the heal (a heard b first)", (r) => kOf(r.map((x) => x.aHeardB))],
      ['gratuitous ARPs from a after the heal (med)', (r) => med(r.map((x) => x.garpsA))],
    ]);
    report(
      sum,
      `partition ${cutS} s`,
      `faults 1. Partition (a cut from b for ${cutS} s) and heal, ${runs} runs; the window is the ${AFTER_MS / 1000} s after the heal`,
      body,
      [
        'The client reaches both nodes throughout. "Entry" is the client\'s neighbour entry for the VIP; the right master is a.',
        "After the heal whichever master advertises first wins: b goes back to backup on a's advert, and only if a heard b's",
        'advert first does it know to announce itself again (keepalived then sends gratuitous ARPs).',
      ],
    );
  }
}

async function scenarioLoss(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  const levels = [10, 30, 50];
  const res = new Map<DaemonKind, LossRun[]>(KINDS.map((k) => [k, []]));
  for (const percent of levels) {
    progress(`loss ${percent} %`);
    const r = await together(pairs, (p) => lossRun(p, percent, pl.lossS * 1000), `loss ${percent} %`);
    for (const [k, v] of r) res.get(k)!.push(v);
  }
  const body = levels.flatMap((percent, i) =>
    rows<LossRun[]>(res, [
      [`${percent} %: false failovers (b entering MASTER / b adding the VIP)`, (r) => `${r[i]!.falseFailovers} / ${r[i]!.bTook}`, true],
      [`${percent} %: s the entry named b`, (r) => fmt(r[i]!.namedBS, 2), true],
      [`${percent} %: replies received / sent`, (r) => `${r[i]!.ping.received} / ${r[i]!.ping.sent}`, true],
    ]),
  );
  report(sum, 'advert loss at b', `faults 2. VRRP packets lost at the backup b, ${pl.lossS} s per level (and ${AFTER_MS / 1000} s after)`, body, [
    "An nftables rule in b's namespace drops that share of incoming protocol-112 packets at random. a stays the right master throughout.",
  ]);
}

async function scenarioPause(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  const res = await repeat(pairs, pl.pauseRuns, 'pause', (p) => pauseRun(p, 5000));
  const body = rows<PauseRun[]>(res, [
    ['b took the VIP during the stall', (r) => kOf(r.map((x) => x.bTook))],
    ['entry names a within 100 ms of the resume', (r) => kOf(r.map((x) => x.within)), true],
    ['entry names a again, ms after the resume (med / max)', (r) => medOrNever(r.map((x) => x.toAMs)), true],
    [
      `s on a non-master after the resume, of ${AFTER_MS / 1000} (med / max)`,
      (r) =>
        medMax(
          r.map((x) => x.wrongAfterMs / 1000),
          2,
        ),
    ],
    ['replies lost after the resume (med / max)', (r) => medMax(r.map((x) => x.after.lost)), true],
    ['longest gap after the resume, ms (med / max)', (r) => medMax(r.map((x) => x.after.longestGapMs)), true],
    ['replies lost, stall and after (med / max)', (r) => medMax(r.map((x) => x.all.lost))],
    ['longest gap, stall and after, ms (med / max)', (r) => medMax(r.map((x) => x.all.longestGapMs))],
  ]);
  report(
    sum,
    'pause 5 s',
    `faults 3. The master a stalled (SIGSTOP of its processes) for 5 s, then continued; ${pl.pauseRuns} runs, ${AFTER_MS / 1000} s after`,
    body,
    [
      'b legitimately holds the VIP while a is stalled; a is the right master again from the resume.',
      "Only a's processes stop: its kernel still answers ARP and pings for the VIP it holds, as a frozen VM would not.",
    ],
  );
}

async function scenarioDelVip(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  const res = await repeat(pairs, pl.delVipRuns, 'deleted VIP', delVipRun);
  const body = rows<DelVipRun[]>(res, [
    ['VIP back on a, ms after RTM_DELADDR (med / max)', (r) => medOrNever(r.map((x) => x.restoredMs)), true],
    ['first gratuitous ARP, ms after RTM_DELADDR (med / max)', (r) => medOrNever(r.map((x) => x.garpMs)), true],
    ['b took over', (r) => kOf(r.map((x) => x.bTook))],
    [`replies lost, of the ${DELVIP_WINDOW_MS / 1000} s (med / max)`, (r) => medMax(r.map((x) => x.ping.lost)), true],
    ['longest gap, ms (med / max)', (r) => medMax(r.map((x) => x.ping.longestGapMs))],
  ]);
  report(
    sum,
    'deleted VIP',
    `faults 4. \`ip addr del\` of the VIP on the master a; ${pl.delVipRuns} runs, each watched for ${DELVIP_WINDOW_MS / 1000} s`,
    body,
    ['"never" = not within the window; a pair that did not restore the VIP is restarted before the next run.'],
  );
}

async function scenarioRestart(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  const res = await repeat(pairs, pl.restartRuns, 'restart', restartRun);
  const body = rows<RestartRun[]>(res, [
    ['stale VIP gone (RTM_DELADDR), ms after the spawn (med / max)', (r) => medOrNever(r.map((x) => x.staleGoneMs)), true],
    ['a holds the VIP as master (RTM_NEWADDR), ms after the spawn', (r) => medOrNever(r.map((x) => x.masterMs)), true],
    ['"Entering MASTER STATE" printed, ms after the spawn', (r) => medOrNever(r.map((x) => x.masterLineMs))],
    ['b took the VIP meanwhile', (r) => kOf(r.map((x) => x.bTook))],
    ['replies lost (med / max)', (r) => medMax(r.map((x) => x.ping.lost)), true],
    ['longest gap, ms (med / max)', (r) => medMax(r.map((x) => x.ping.longestGapMs))],
  ]);
  report(
    sum,
    'restart',
    `faults 5. The daemon on a killed -9 (every process; the VIP left on eth0) and started again at once; ${pl.restartRuns} runs, ${AFTER_MS / 1000} s from the kill`,
    body,
    ['"never" = a kept the stale VIP (no RTM_DELADDR), or a had no RTM_NEWADDR within the window.'],
  );
}

async function scenarioVrrpKill(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  const everyMs = 3000;
  progress(`VRRP process killed ${pl.kills} times`);
  const res = await together(pairs, (p) => vrrpKillSeries(p, pl.kills, everyMs), 'vrrp kill');
  const body = rows<KillSeries>(res, [
    ['kills that found a VRRP process running', (r) => kOf(r.kills.map((x) => x.ran))],
    [
      'a MASTER again, ms after each kill',
      (r) => r.kills.map((x) => (!x.ran ? 'none running' : x.masterMs === undefined ? 'not' : fmt(x.masterMs, 0))).join(', '),
      true,
    ],
    ['s both a and b held the VIP', (r) => fmt(r.bothHeldMs / 1000, 2), true],
    ['b took the VIP (times)', (r) => String(r.bTook)],
    ['replies lost / sent', (r) => lostOfSent(r.ping), true],
    ['longest gap, ms', (r) => fmt(r.ping.longestGapMs, 0), true],
  ]);
  report(
    sum,
    'VRRP process killed',
    `faults 6. Only a's VRRP process killed -9, every ${everyMs / 1000} s, ${pl.kills} times; watched until ${(2 * AFTER_MS) / 1000} s after the last`,
    body,
    ['"not" = no MASTER line from a before the next kill (or the window\'s end); "none running" = the daemon had not restarted it yet.'],
  );
}

async function scenarioFlap(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  progress('link flapping');
  const res = await together(pairs, (p) => flapRun(p, 500, pl.flapS * 1000), 'flap');
  const body = rows<FlapRun>(res, [
    ['replies lost / sent', (r) => lostOfSent(r.ping), true],
    ['longest gap, ms', (r) => fmt(r.ping.longestGapMs, 0), true],
    ['VRRP state changes (a and b)', (r) => String(r.transitions), true],
    ['entry names a 100 ms after the flapping', (r) => (r.correct ? 'yes' : 'no')],
    [`s on a non-master after the flapping, of ${AFTER_MS / 1000}`, (r) => fmt(r.wrongAfterMs / 1000, 2), true],
  ]);
  report(sum, 'link flapping', `faults 7. a's eth0 down 0.25 s and up 0.25 s, every 0.5 s for ${pl.flapS} s; figures to ${AFTER_MS / 1000} s after`, body);
}

async function scenarioFlood(pairs: Pair[], pl: Plan, sum: Row[]): Promise<void> {
  progress('garbage flood');
  const res = await together(pairs, (p) => floodRun(p, pl.floodPps, pl.floodS * 1000), 'flood');
  const body = rows<FloodRun>(res, [
    ['flood reached, packets/s', (r) => fmt(r.pps, 0)],
    ['false failovers (b MASTER, a leaving MASTER)', (r) => String(r.falseFailovers), true],
    ['replies lost / sent', (r) => lostOfSent(r.ping), true],
    ['CPU %, a / b (one core = 100)', (r) => `${fmt(r.cpu.a, 1)} / ${fmt(r.cpu.b, 1)}`, true],
    ['log bytes written, a / b', (r) => `${r.logBytes.a} / ${r.logBytes.b}`, true],
  ]);
  report(
    sum,
    'garbage flood',
    `faults 8. Garbage VRRP at VRID 51 (bad checksum, TTL, auth, length; truncated; random) from a third host, ${pl.floodS} s`,
    body,
    [
      "Both labs are flooded at once: the two floods and four daemons share the machine's CPUs.",
      'Each daemon logs to its console (keepalived -l -D, alived -l), a pipe this process reads: a daemon that logs every',
      'discarded packet spends its time there, and how fast that sink is changes how many adverts it misses.',
    ],
  );
}

// --- main ------------------------------------------------------------------------

let progressShown = false;
function progress(s: string): void {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r  ${s}`.padEnd(60));
    progressShown = true;
  } else process.stderr.write(`  ${s}\n`);
}

async function createPair(kind: DaemonKind, lab: Lab, dir: string): Promise<Pair> {
  const v = new VrrpLab(lab, path.join(dir, kind));
  await v.watch();
  const client = await ClientObserver.start(lab, { vip: VIP, intervalMs: 100, replyTimeoutMs: REPLY_TIMEOUT_MS });
  // the watchers and the pinger stamp what they read when they read it: real time, above either daemon
  observersFirst(lab, [client.proc.pid!]);
  const arp = await ArpCapture.start(lab, 'client', path.join(dir, `${kind}-client-arp.pcap`));
  const bAtAFile = path.join(dir, `${kind}-b-at-a.pcap`);
  const bAtA = { proc: await startTcpdump(lab, 'a', 'eth0', bAtAFile, `ip proto 112 and src host ${lab.host('b').ip}`), file: bAtAFile };
  return {
    kind,
    lab,
    v,
    client,
    arp,
    bAtA,
    neigh: new NeighbourView(v.events, 'client', VIP),
    mac: { a: lab.host('a').mac, b: lab.host('b').mac },
    resets: 0,
    ...(await startPair(kind, v)),
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('faults needs root: it builds labs of network namespaces');
  if (!keepalivedAvailable()) throw new Error('faults needs keepalived to compare with (apt-get install keepalived)');
  for (const tool of ['nft', 'tcpdump']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error)
      throw new Error(`faults needs ${tool} (apt-get install ${tool === 'nft' ? 'nftables' : tool})`);
  }
  const pl = plan();
  const started = Date.now();
  console.log(
    `faults: alived ${pkgVersion()} vs ${keepalivedVersion()}, each pair in its own lab, the same faults at the same moment; ` +
      `VRRPv3, advert_int 0.1, a priority 200, b 100, both BACKUP (preempt); ${os.cpus().length} CPUs${QUICK ? ' (BENCH_QUICK)' : ''}`,
  );
  removeStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-faults-'));
  const labs = new Map<DaemonKind, Lab>();
  const pairs: Pair[] = [];
  const sum: Row[] = [];
  const cleanup = async (): Promise<void> => {
    if (progressShown) process.stderr.write('\r'.padEnd(61) + '\r');
    for (const p of pairs) {
      p.client.stop();
      p.arp.stop();
    }
    await Promise.all([...labs.values()].map((l) => l.destroy()));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // interrupted (Ctrl-C, a CI timeout): the labs go all the same
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const built = await Promise.allSettled(KINDS.map(async (k) => labs.set(k, await Lab.create({ name: k === 'alived' ? 'fal' : 'fka', hosts: HOSTS }))));
    for (const b of built) if (b.status === 'rejected') throw b.reason;
    pairs.push(...(await Promise.all(KINDS.map((k) => createPair(k, labs.get(k)!, dir)))));

    const run: Record<(typeof SCENARIOS)[number], (pairs: Pair[], pl: Plan, sum: Row[]) => Promise<void>> = {
      partition: scenarioPartition,
      loss: scenarioLoss,
      pause: scenarioPause,
      delvip: scenarioDelVip,
      restart: scenarioRestart,
      vrrpkill: scenarioVrrpKill,
      flap: scenarioFlap,
      flood: scenarioFlood,
    };
    for (const name of SCENARIOS) if (pl.only.has(name)) await run[name](pairs, pl, sum);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
  console.log(
    table(
      'faults: summary (what the client saw)',
      ['scenario: figure', 'alived', 'keepalived'],
      sum.map((r) => [r.label, r.alived, r.keepalived]),
      [`pairs restarted because they did not come back to a steady state: ${pairs.map((p) => `${p.kind} ${p.resets}`).join(', ')}`],
    ),
  );
  console.log(`faults: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
}

function pkgVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function keepalivedVersion(): string {
  const r = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  return /Keepalived v[\d.]+/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? 'keepalived';
}

main().catch((err: Error) => {
  console.error(`faults: ${err.stack ?? err.message}`);
  process.exit(1);
});
