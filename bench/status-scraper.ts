/**
 * The scraper of bench/status-scrape.ts, in a process of its own so its
 * CPU is not the daemon's nor the benchmark's:
 *
 *   node status-scraper.js SOCKET SECONDS RATE PATH...
 *
 * asks each PATH of the daemon's API over its unix socket RATE times a
 * second for SECONDS (a tick whose previous requests have not finished is
 * skipped, and counted), after one untimed request each (its time apart), then prints one line of JSON: per path the
 * requests, failures, response times (ms, sorted) and bytes.
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';

/** ask with `Accept-Encoding: gzip`, as Prometheus does (BENCH_GZIP=0: without) */
const GZIP = process.env.BENCH_GZIP !== '0';

interface PathFigures {
  path: string;
  ok: number;
  failed: number;
  ms: number[];
  bytes: number[];
  /** the size of the first answer once decoded (gzip undone) */
  decoded?: number;
  encoding?: string;
  /** the first answer's time, before the timed requests */
  firstMs?: number;
  firstError?: string;
}

function get(socketPath: string, path: string): Promise<{ status: number; bytes: number; body: Buffer[]; encoding?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, headers: { accept: '*/*', ...(GZIP && { 'accept-encoding': 'gzip' }) } }, (res) => {
      let bytes = 0;
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        body.push(c);
      });
      const encoding = res.headers['content-encoding'];
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, body, ...(encoding && { encoding }) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out after 10 s')));
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const [socketPath, secondsArg, rateArg, ...paths] = process.argv.slice(2);
  const seconds = Number(secondsArg);
  const rate = Number(rateArg);
  if (!socketPath || !(seconds > 0) || !(rate > 0) || paths.length === 0) {
    process.stderr.write('usage: status-scraper.js SOCKET SECONDS RATE PATH...\n');
    process.exit(2);
  }
  const figures: PathFigures[] = paths.map((p) => ({ path: p, ok: 0, failed: 0, ms: [], bytes: [] }));
  // the first answer of each path (the first document, the page thread's start) is timed apart: the figures are of the steady state
  for (const f of figures) {
    const t = performance.now();
    await get(socketPath, f.path).catch(() => undefined);
    f.firstMs = performance.now() - t;
  }
  const periodMs = 1000 / rate;
  const end = performance.now() + seconds * 1000;
  let skipped = 0;
  let busy = false;
  let next = performance.now();
  while (performance.now() < end) {
    if (busy) skipped++;
    else {
      busy = true;
      void Promise.all(
        figures.map(async (f) => {
          const t = performance.now();
          try {
            const r = await get(socketPath, f.path);
            if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
            f.ms.push(performance.now() - t);
            f.bytes.push(r.bytes);
            if (f.decoded === undefined) {
              const raw = Buffer.concat(r.body);
              f.decoded = (r.encoding === 'gzip' ? zlib.gunzipSync(raw) : raw).length;
              f.encoding = r.encoding ?? 'identity';
            }
            f.ok++;
          } catch (err) {
            f.failed++;
            f.firstError ??= (err as Error).message;
          }
        }),
      ).finally(() => (busy = false));
    }
    next += periodMs;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  while (busy) await new Promise((r) => setTimeout(r, 10));
  for (const f of figures) f.ms.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ skipped, figures }) + '\n');
}

main().catch((err: Error) => {
  process.stderr.write(`status-scraper: ${err.message}\n`);
  process.exit(1);
});
