/**
 * A fuzz worker thread: compiles the cases it is given and reports problems.
 * It writes the case it is working on, and when it started, into shared
 * memory, so the main thread can tell a hang from a slow run and stop it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileConfig } from '../../core/config/compile';
import { BUILTIN_PLUGINS } from '../../core/plugin/builtins';
import { PluginHost } from '../../core/plugin/host';
import { silentLogger } from '../../core/log/logger';
import type { HostFacts } from '../../core/config/schema';
import { checkResult, hostileCases, loadCorpus, mutationCase, vocabulary, writeDisk, type CaseStats, type FuzzCase, type HostileCase } from './fuzz';

export interface WorkerInput {
  projectRoot: string;
  seed: number;
  kind: 'mutation' | 'hostile';
  /** case ids (mutation: any numbers; hostile: indexes into hostileCases()) */
  ids: number[];
  /** per worker: [case id, start time in ms] */
  progress: SharedArrayBuffer;
  slot: number;
  /** a single case longer than this is a failure */
  caseLimitMs: number;
  /** where disk cases are written (the main thread removes it) */
  tmp: string;
}

export interface CaseFailure {
  id: number;
  what: string;
  problems: string[];
  ms: number;
}

/** Messages to the main thread: each failure as it happens, then a summary. */
export type WorkerMessage = { type: 'failure'; failure: CaseFailure } | { type: 'done'; out: WorkerOutput } | { type: 'fatal'; error: string };

export interface WorkerOutput {
  cases: number;
  slowest: { id: number; what: string; ms: number };
  maxMessageLength: number;
}

const host: HostFacts = { interfaceExists: () => true, fileExists: () => true };

function hostileToCase(h: HostileCase, id: number, tmp: string): FuzzCase {
  const dir = path.join(tmp, `case-${id}`);
  fs.mkdirSync(dir, { recursive: true });
  if (h.disk) writeDisk(dir, h.disk);
  return {
    id,
    what: h.what,
    file: path.join(dir, h.root ?? 'keepalived.conf'),
    text: h.disk ? undefined : (h.text ?? ''),
    limits: h.limits,
    configId: 'node1',
  };
}

function stackHead(err: unknown): string {
  return (err as Error)?.stack?.split('\n').slice(0, 4).join(' | ') ?? String(err);
}

async function main(): Promise<void> {
  const input = workerData as WorkerInput;
  const progress = new Float64Array(input.progress);
  const tmp = fs.mkdtempSync(path.join(input.tmp, 'w-'));
  const corpus = input.kind === 'mutation' ? loadCorpus(input.projectRoot) : [];
  const vocab = vocabulary(corpus);
  const hostile = input.kind === 'hostile' ? hostileCases() : [];
  const pluginHost = new PluginHost({ log: silentLogger });
  const stats: CaseStats = { maxMessageLength: 0 };
  const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
  let posted = 0;
  const out: WorkerOutput = { cases: 0, slowest: { id: -1, what: '', ms: 0 }, maxMessageLength: 0 };
  try {
    for (const id of input.ids) {
      progress[input.slot * 2] = id;
      progress[input.slot * 2 + 1] = Date.now();
      let c: FuzzCase;
      try {
        c = input.kind === 'mutation' ? mutationCase(corpus, vocab, input.seed, id) : hostileToCase(hostile[id]!, id, tmp);
      } catch (err) {
        // the fuzzer's own fault, reported with the case that shows it; the other cases go on
        post({ type: 'failure', failure: { id, what: 'making the case', problems: [`the case generator threw: ${stackHead(err)}`], ms: 0 } });
        out.cases++;
        continue;
      }
      const t0 = performance.now();
      let problems: string[];
      try {
        const r = await compileConfig(c.file, { builtins: BUILTIN_PLUGINS, text: c.text, pluginHost, host, configId: c.configId, limits: c.limits });
        problems = checkResult(r, { file: c.file, text: c.text }, stats);
      } catch (err) {
        problems = [`compileConfig threw: ${stackHead(err)}`];
      }
      const ms = performance.now() - t0;
      if (ms > input.caseLimitMs) problems.push(`took ${Math.round(ms)} ms (limit ${input.caseLimitMs} ms)`);
      if (ms > out.slowest.ms) out.slowest = { id, what: c.what, ms: Math.round(ms) };
      // the first failures in full, then only that they happened
      if (problems.length > 0)
        post({ type: 'failure', failure: { id, what: c.what, problems: posted++ < 50 ? problems.slice(0, 5) : [], ms: Math.round(ms) } });
      out.cases++;
    }
  } finally {
    progress[input.slot * 2] = -1;
    await pluginHost.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  out.maxMessageLength = stats.maxMessageLength;
  post({ type: 'done', out });
}

main().catch((err) => {
  parentPort!.postMessage({ type: 'fatal', error: String((err as Error)?.stack ?? err) } satisfies WorkerMessage);
});
