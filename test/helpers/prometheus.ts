import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Lab, LabHost } from './lab';

/*
 * A real Prometheus server for tests (Debian's `prometheus` package,
 * scripts/setup-debian.sh installs it): a generated config that scrapes the
 * given targets every second, a private TSDB under a temp dir, the HTTP API
 * for PromQL. It runs in the root namespace on 127.0.0.1, or inside a lab
 * host's namespace (then its API is reached from inside that namespace too).
 * Also promtool's exposition check, and a parser of the text format for
 * assertions on what a /metrics page holds.
 */

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

/**
 * Why the Prometheus tests cannot run here, or false when they can. CI
 * installs the package (scripts/setup-debian.sh): its absence there throws,
 * a failure rather than a skip.
 */
export function prometheusMissing(): string | false {
  if (fs.existsSync(PROMETHEUS_BIN) && fs.existsSync(PROMTOOL_BIN)) return false;
  if (process.env.CI) throw new Error(`${PROMETHEUS_BIN} or ${PROMTOOL_BIN} is missing: scripts/setup-debian.sh installs Debian's prometheus package`);
  return 'prometheus is not installed (apt-get install prometheus)';
}

// ---- the exposition: promtool's check and a parser -------------------------

/** `promtool check metrics` on `text` (its stdin): exit 0 and no output for a valid, lint-clean page. */
export function promtoolCheck(text: string, timeoutMs = 10_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL_BIN, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(text);
  });
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` of each metric family */
  readonly types: ReadonlyMap<string, string>;
  /** `# HELP` of each metric family */
  readonly help: ReadonlyMap<string, string>;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;

/**
 * The Prometheus text format (0.0.4) as samples. It reads what a valid page
 * holds (promtoolCheck() is the validity check) and throws on a line it
 * cannot read.
 */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'TYPE' ? types : help).set(meta[2]!, meta[3]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL_RE.lastIndex = 0;
      let l: RegExpExecArray | null;
      let end = 0;
      while ((l = LABEL_RE.exec(m[2])) !== null) {
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        end = LABEL_RE.lastIndex;
      }
      if (end !== m[2].length) throw new Error(`labels not understood: ${line}`);
    }
    const v = m[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : /^nan$/i.test(v) ? NaN : Number(v);
    if (Number.isNaN(value) && !/^nan$/i.test(v)) throw new Error(`value not understood: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types, help };
}

/** The samples of one name whose labels include `match`. */
export function samplesOf(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of a name and labels; throws when there is not exactly one. */
export function valueOf(e: Exposition, name: string, match: Record<string, string> = {}): number {
  const found = samplesOf(e, name, match);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(match)}, expected 1`);
  return found[0]!.value;
}

// ---- the server --------------------------------------------------------------

export interface PrometheusOptions {
  /** `host:port` of each /metrics endpoint to scrape */
  targets: readonly string[];
  /** where its API listens, `host:port`; default 127.0.0.1 and a free port */
  listen?: string;
  /** run inside this lab host's namespace (`ip netns exec`) instead of the root namespace */
  lab?: { lab: Lab; host: LabHost | string };
  metricsPath?: string;
  /** a file holding the bearer token the targets ask for */
  bearerTokenFile?: string;
  /** scrape over HTTPS, without verifying the certificate */
  https?: boolean;
  /** default 1 */
  scrapeIntervalS?: number;
  /** how long to wait for /-/ready; default 30 s */
  readyTimeoutMs?: number;
}

/** One series of an instant query. */
export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One series of a range query. */
export interface MatrixSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: ReadonlyArray<readonly [time: number, value: number]>;
}

/** What a PromQL query answers: a vector, a matrix, or a single scalar. */
export type QueryResult =
  { resultType: 'vector'; result: VectorSample[] } | { resultType: 'matrix'; result: MatrixSeries[] } | { resultType: 'scalar'; value: number };

export class PrometheusServer {
  private stderrTail = '';
  private stopped = false;

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    /** `host:port` the API listens on (inside the lab host's namespace when one was given) */
    readonly listen: string,
    private readonly options: PrometheusOptions,
  ) {
    child.stderr?.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-8192)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The scrape config Prometheus is started with. */
  static config(options: PrometheusOptions): string {
    const interval = `${options.scrapeIntervalS ?? 1}s`;
    const job = [
      `  - job_name: alived`,
      `    metrics_path: ${JSON.stringify(options.metricsPath ?? '/metrics')}`,
      `    scrape_interval: ${interval}`,
      `    scrape_timeout: ${interval}`,
      ...(options.https ? [`    scheme: https`, `    tls_config:`, `      insecure_skip_verify: true`] : []),
      ...(options.bearerTokenFile ? [`    authorization:`, `      type: Bearer`, `      credentials_file: ${JSON.stringify(options.bearerTokenFile)}`] : []),
      `    static_configs:`,
      `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    ];
    return ['global:', `  scrape_interval: ${interval}`, `  evaluation_interval: ${interval}`, 'scrape_configs:', ...job, ''].join('\n');
  }

  /** Starts Prometheus and waits until it is ready; on failure it stops what it started and throws with Prometheus's last words. */
  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-prom-'));
    try {
      const listen = options.listen ?? (options.lab ? `127.0.0.1:${9090 + Math.floor(Math.random() * 900)}` : `127.0.0.1:${await freePort()}`);
      fs.writeFileSync(path.join(dir, 'prometheus.yml'), PrometheusServer.config(options));
      const argv = [
        PROMETHEUS_BIN,
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=${listen}`,
        '--log.level=warn',
      ];
      const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
      // its own process group, so stop() reaches it and nothing else
      const child = options.lab ? options.lab.lab.spawn(options.lab.host, argv, { stdio }) : spawn(argv[0]!, argv.slice(1), { stdio, detached: true });
      const server = new PrometheusServer(child, dir, listen, options);
      try {
        await server.waitReady(options.readyTimeoutMs ?? 30_000);
      } catch (err) {
        await server.stop();
        throw err;
      }
      return server;
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`prometheus exited (${this.child.exitCode ?? this.child.signalCode}) before it was ready: ${this.stderrTail.trim()}`);
      const r = await this.get('/-/ready').catch(() => undefined);
      if (r?.status === 200) return;
      if (Date.now() > deadline) throw new Error(`prometheus was not ready within ${timeoutMs} ms: ${this.stderrTail.trim()}`);
      await sleep(100);
    }
  }

  /** A GET of the API, from the namespace it listens in. */
  async get(pathAndQuery: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
    const url = `http://${this.listen}${pathAndQuery}`;
    if (!this.options.lab) {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: res.status, body: await res.text() };
    }
    // the namespace is not reachable from here: a node inside it asks and prints the answer
    const script =
      'fetch(process.argv[1],{signal:AbortSignal.timeout(Number(process.argv[2]))})' +
      '.then(async r=>process.stdout.write(JSON.stringify({status:r.status,body:await r.text()})))' +
      '.catch(e=>{process.stderr.write(String(e));process.exit(1)})';
    const r = await this.options.lab.lab.exec(this.options.lab.host, [process.execPath, '-e', script, url, String(timeoutMs)], timeoutMs + 5000);
    if (r.code !== 0) throw new Error(`GET ${url} in the lab: ${r.stderr.trim() || `exit ${r.code ?? r.signal}`}`);
    return JSON.parse(r.stdout) as { status: number; body: string };
  }

  private async api(pathAndQuery: string): Promise<any> {
    const r = await this.get(pathAndQuery);
    let body: any;
    try {
      body = JSON.parse(r.body);
    } catch {
      throw new Error(`prometheus ${pathAndQuery}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    }
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.errorType ?? r.status}: ${body.error ?? r.body.slice(0, 300)}`);
    return body.data;
  }

  /** An instant query (at `time`, seconds since the epoch; default now); throws on a PromQL error. */
  async query(promql: string, time?: number): Promise<QueryResult> {
    const q = new URLSearchParams({ query: promql });
    if (time !== undefined) q.set('time', String(time));
    return toResult(await this.api(`/api/v1/query?${q}`));
  }

  /** A range query from `start` to `end` (seconds since the epoch) every `stepS` seconds. */
  async queryRange(promql: string, start: number, end: number, stepS = 1): Promise<QueryResult> {
    const q = new URLSearchParams({ query: promql, start: String(start), end: String(end), step: String(stepS) });
    return toResult(await this.api(`/api/v1/query_range?${q}`));
  }

  /** The series of an instant query (a scalar answer throws). */
  async vector(promql: string): Promise<VectorSample[]> {
    const r = await this.query(promql);
    if (r.resultType !== 'vector') throw new Error(`${promql}: a ${r.resultType}, not a vector`);
    return r.result;
  }

  /** Polls an instant query until `accept` takes its series, at most timeoutMs; returns them. */
  async waitFor(promql: string, accept: (series: VectorSample[]) => boolean, timeoutMs = 20_000): Promise<VectorSample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: VectorSample[] = [];
    for (;;) {
      last = await this.vector(promql);
      if (accept(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting on ${promql}; last answer: ${JSON.stringify(last)}`);
      await sleep(200);
    }
  }

  /** Waits until every target has been scraped successfully (`up == 1`) `scrapes` times or more. */
  async waitScraped(scrapes = 1, timeoutMs = 20_000): Promise<void> {
    const n = this.options.targets.length;
    await this.waitFor(`count_over_time(up[1h]) >= ${scrapes} and up == 1`, (s) => s.length === n, timeoutMs);
  }

  /** Stops Prometheus (SIGTERM, SIGKILL after 10 s) by its PID and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The process group the child leads (it was started detached), or the child alone when that fails. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // it is gone
    }
  }
}

function toResult(data: any): QueryResult {
  const num = (v: string) => Number(v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v);
  switch (data.resultType) {
    case 'vector':
      return { resultType: 'vector', result: data.result.map((r: any) => ({ metric: r.metric, value: num(r.value[1]) })) };
    case 'matrix':
      return { resultType: 'matrix', result: data.result.map((r: any) => ({ metric: r.metric, values: r.values.map((v: any) => [v[0], num(v[1])]) })) };
    case 'scalar':
      return { resultType: 'scalar', value: num(data.result[1]) };
    default:
      throw new Error(`prometheus answered a ${String(data.resultType)}`);
  }
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
