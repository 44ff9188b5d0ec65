import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotifyPipeline } from '../../core/notify/pipeline';
import { createLogger } from '../../core/log/logger';
import type { DeliveryInfo, NotifyEvent } from '../../core/plugin/events';
import type { Notifier } from '../../core/plugin/types';
import { Rng } from '../helpers/fuzz';
import { tmpDir } from '../helpers/config';

/**
 * A fuzz of the state directory: each case lays out an outbox as a crash, a
 * sick disk or a hostile program could leave it (intact entries beside
 * mutated ones: fields removed or retyped at any depth, numbers out of
 * range, truncated or binary files, FIFOs, links and directories named like
 * entries, entries in the wrong folder; a lock and a sequence file mutated
 * the same way) and starts a pipeline on it. Every case must open without
 * throwing, never hang, and deliver every intact entry, in sequence order
 * per source; nothing it delivers is anything but an entry that was there.
 *
 *   ALIVED_FUZZ_SEED=<n>   the seed (default: a new one each run, printed)
 *   ALIVED_OUTBOX_FUZZ_CASES=<n>   cases (default 3000)
 */

const SEED = process.env.ALIVED_FUZZ_SEED ? Number(process.env.ALIVED_FUZZ_SEED) >>> 0 : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) >>> 0;
const CASES = Number(process.env.ALIVED_OUTBOX_FUZZ_CASES) || 3000;
const SINKS = ['webhook:ops', 'mail:keepalived'];

function uuid(rng: Rng): string {
  const h = (n: number): string => Array.from({ length: n }, () => rng.int(0, 15).toString(16)).join('');
  return `${h(8)}-${h(4)}-4${h(3)}-a${h(3)}-${h(12)}`;
}

function event(rng: Rng, depth = 0): NotifyEvent {
  const time = 1_700_000_000_000 + rng.int(0, 1e6);
  const name = rng.pick(['VI_1', 'VI_2']);
  switch (rng.int(0, depth > 0 ? 5 : 6)) {
    case 0:
      return { type: 'vrrp', kind: 'instance', name, from: 'BACKUP', to: 'MASTER', priority: rng.int(1, 254), reason: 'fuzz', time };
    case 1:
      return {
        type: 'real-server',
        virtualServer: '[10.0.0.1]:tcp:80',
        realServer: { address: '10.0.0.2', port: 80, protocol: 'tcp' },
        up: rng.chance(0.5),
        weight: 1,
        reason: 'fuzz',
        time,
      };
    case 2:
      return { type: 'quorum', virtualServer: '[10.0.0.1]:tcp:80', up: true, alive: 2, quorum: 1, time };
    case 3:
      return {
        type: 'check-alert',
        kind: 'real-server',
        virtualServer: '[10.0.0.1]:tcp:80',
        service: '[10.0.0.2]:tcp:80',
        realServer: { address: '10.0.0.2', port: 80 },
        checker: 'TCP_CHECK',
        state: 'DOWN',
        message: '=> TCP CHECK failed <=',
        time,
      };
    case 4:
      return { type: 'vip', instance: name, address: '10.0.0.9/24 on eth0', action: 'restored', reason: 'fuzz', time };
    case 5:
      return { type: 'daemon', what: 'start', time };
    default: {
      const first = event(rng, depth + 1);
      const last = event(rng, depth + 1);
      return { type: 'flapping', source: `vrrp:instance:${name}`, count: 2, first, last, states: ['MASTER', 'BACKUP'], spanMs: 10, time };
    }
  }
}

const ODD: unknown[] = [null, true, 0, -1, 1e300, -1e300, NaN, '', 'x'.repeat(5000), [], {}, [1, 2], { type: 'vrrp' }, '\u0000', 2 ** 53 + 2];

/** one random change somewhere in a JSON value */
function mutate(rng: Rng, v: unknown, depth = 0): unknown {
  if (typeof v !== 'object' || v === null || depth > 4 || rng.chance(0.15)) return rng.pick(ODD);
  if (Array.isArray(v)) return rng.chance(0.3) ? [] : v.map((x) => (rng.chance(0.3) ? mutate(rng, x, depth + 1) : x));
  const o = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  const k = rng.pick(keys.length ? keys : ['extra']);
  const what = rng.int(0, 3);
  if (what === 0) delete o[k];
  else if (what === 1) o[k] = rng.pick(ODD);
  else if (what === 2) o[k] = mutate(rng, o[k], depth + 1);
  else o[`x${rng.int(0, 9)}`] = rng.pick(ODD);
  return o;
}

interface Laid {
  /** ids of intact entries, by sink, in sequence order per source */
  intact: Map<string, Array<{ id: string; sequence: number; source: string }>>;
  /** every id written in any form */
  all: Set<string>;
}

/** FIFOs made 500 at a time (one mkfifo each), renamed into place: a spawn per FIFO would be most of the run */
const fifoPool: string[] = [];
let fifoDir: string | undefined;
let fuzzBase = '';
function mkfifo(file: string): void {
  if (fifoPool.length === 0) {
    fifoDir ??= fs.mkdtempSync(path.join(fuzzBase, 'fifos-'));
    const batch = Array.from({ length: 500 }, (_, i) => path.join(fifoDir!, `f${Date.now()}-${i}`));
    execFileSync('mkfifo', batch);
    fifoPool.push(...batch);
  }
  fs.renameSync(fifoPool.pop()!, file);
}

function fileName(seq: number, id: string): string {
  return `${String(seq).padStart(12, '0')}-${id}.json`;
}

function layOut(rng: Rng, dir: string): Laid {
  const notify = path.join(dir, 'notify');
  const laid: Laid = { intact: new Map(), all: new Set() };
  const used = new Set<number>();
  const nextSeq = (): number => {
    let s: number;
    do s = rng.int(1, 5000);
    while (used.has(s));
    used.add(s);
    return s;
  };
  for (const sink of SINKS) {
    const box = path.join(notify, 'outbox', encodeURIComponent(sink));
    fs.mkdirSync(box, { recursive: true });
    const intact: Array<{ id: string; sequence: number; source: string }> = [];
    for (let i = rng.int(0, 4); i > 0; i--) {
      const id = uuid(rng);
      const sequence = nextSeq();
      const source = rng.pick(['vrrp:instance:VI_1', 'vrrp:instance:VI_2', 'daemon']);
      const entry = { v: 1, id, sequence, sink, source, acceptedAt: Date.now(), event: event(rng) };
      fs.writeFileSync(path.join(box, fileName(sequence, id)), JSON.stringify(entry));
      intact.push({ id, sequence, source });
      laid.all.add(id);
    }
    laid.intact.set(
      sink,
      intact.sort((a, b) => a.sequence - b.sequence),
    );
    for (let i = rng.int(0, 5); i > 0; i--) {
      const id = uuid(rng);
      const sequence = nextSeq();
      laid.all.add(id);
      const entry = { v: 1, id, sequence, sink, source: 'vrrp:instance:VI_1', acceptedAt: Date.now(), event: event(rng) };
      const file = path.join(box, fileName(sequence, id));
      switch (rng.int(0, 9)) {
        case 0:
          mkfifo(file);
          break;
        case 1:
          fs.symlinkSync(rng.pick(['/etc/shadow', '/dev/zero', file, '/nonexistent']), file);
          break;
        case 2:
          fs.mkdirSync(file);
          break;
        case 3: {
          const text = JSON.stringify(entry);
          fs.writeFileSync(file, text.slice(0, rng.int(0, text.length - 1)));
          break;
        }
        case 4:
          fs.writeFileSync(file, Buffer.from(Array.from({ length: rng.int(0, 300) }, () => rng.int(0, 255))));
          break;
        case 5:
          // the entry of another folder's notifier
          fs.writeFileSync(file, JSON.stringify({ ...entry, sink: SINKS.find((s) => s !== sink) }));
          break;
        case 6:
          // a file name that does not match its content
          fs.writeFileSync(path.join(box, fileName(nextSeq(), id)), JSON.stringify(entry));
          break;
        default:
          fs.writeFileSync(file, JSON.stringify(mutate(rng, entry)));
      }
    }
  }
  // a stray folder
  if (rng.chance(0.1)) fs.writeFileSync(path.join(notify, 'outbox', rng.pick(['%ZZ', 'plain-file'])), 'x');
  // the sequence file and the lock, as a sick disk leaves them
  const odd = (file: string): void => {
    switch (rng.int(0, 7)) {
      case 0:
        mkfifo(file);
        break;
      case 1:
        fs.mkdirSync(file);
        break;
      case 2:
        fs.symlinkSync('/etc/shadow', file);
        break;
      case 3:
        fs.writeFileSync(file, String(rng.pick(ODD)));
        break;
      case 4:
        fs.writeFileSync(file, Buffer.from(Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255))));
        break;
      case 5:
        // a dead owner (pid far above pid_max), or this process
        fs.writeFileSync(file, `${rng.pick([4194305, process.pid])}\n- -\n`);
        break;
      default:
        break; // none
    }
  };
  if (rng.chance(0.5)) odd(path.join(notify, 'sequence'));
  if (rng.chance(0.5)) odd(path.join(notify, 'lock'));
  return laid;
}

test(
  `fuzz: a state directory mutated ${CASES} ways: the start never throws or hangs, every intact entry is delivered in order, nothing else`,
  { timeout: 600_000 },
  async (t) => {
    t.diagnostic(`seed ${SEED} (ALIVED_FUZZ_SEED), ${CASES} cases (ALIVED_OUTBOX_FUZZ_CASES)`);
    // on a tmpfs: the outbox syncs what it writes, and a disk's sync would be most of the run
    const base = tmpDir('alived-outbox-fuzz-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', base]);
    after(() => {
      spawnSync('umount', ['-l', base]);
    });
    fuzzBase = base;
    const log = createLogger([]);
    const started = Date.now();
    for (let n = 0; n < CASES; n++) {
      const rng = new Rng(SEED, n);
      const dir = path.join(base, String(n));
      const laid = layOut(rng, dir);
      const got = new Map<string, Array<{ event: NotifyEvent; info: DeliveryInfo }>>();
      const notifier = (sink: string): Notifier => ({
        deliver: async (event, _signal, info) => {
          got.get(sink)!.push({ event, info });
        },
      });
      const where = `case ${n} (ALIVED_FUZZ_SEED=${SEED}, case ${n})`;
      const p = new NotifyPipeline({ log, stateDir: dir });
      try {
        p.open();
        p.setSinks(
          SINKS.map((id) => {
            got.set(id, []);
            return { id, kind: id.split(':')[0]!, name: id.split(':')[1]!, notifier: notifier(id), options: { coalesceLimit: 0, retryInitialMs: 10 } };
          }),
        );
      } catch (err) {
        assert.fail(`${where}: the start threw ${(err as Error).stack}`);
      }
      const want = [...laid.intact.values()].reduce((a, l) => a + l.length, 0);
      const deadline = Date.now() + 5000;
      while ([...got.values()].reduce((a, l) => a + l.length, 0) < want && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      for (const sink of SINKS) {
        const delivered = got.get(sink)!;
        const ids = new Set(delivered.map((d) => d.info.id));
        for (const e of laid.intact.get(sink)!) assert.ok(ids.has(e.id), `${where}: intact entry #${e.sequence} of ${sink} was not delivered`);
        for (const d of delivered) assert.ok(laid.all.has(d.info.id), `${where}: ${sink} delivered an entry that was never there (#${d.info.sequence})`);
        // in sequence order per source
        const bySource = new Map<string, number>();
        for (const d of delivered) {
          const src = laid.intact.get(sink)!.find((e) => e.id === d.info.id)?.source;
          if (!src) continue;
          assert.ok((bySource.get(src) ?? 0) < d.info.sequence, `${where}: ${sink} delivered #${d.info.sequence} of ${src} after a later one`);
          bySource.set(src, d.info.sequence);
        }
      }
      await p.stop({ drainMs: 0 });
      fs.rmSync(dir, { recursive: true, force: true });
    }
    t.diagnostic(`${CASES} cases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
);
