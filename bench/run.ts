/**
 * Runs every benchmark in its own process, so figures do not mix. Prints; asserts nothing.
 * BENCH_QUICK=1: fewer runs and shorter windows. The VRRP benchmarks need root, keepalived
 * and tcpdump (they build a lab of network namespaces): without them they say so and fail.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

for (const b of [
  'config-compile.js',
  'config-reload.js',
  'cli-startup.js',
  'daemon-startup.js',
  'sd-ready.js',
  'vrrp-takeover.js',
  'vrrp-load.js',
  'check-tcp.js',
  'check-http.js',
  'vrrp-under-checks.js',
  'vrrp-reload.js',
  'vrrp-reload-memory.js',
  'ipvs-reconcile.js',
  'track-process.js',
  'outbox-start.js',
  'faults.js',
  'vrrp-vmac.js',
  'metrics-render.js',
  'status-scrape.js',
]) {
  const r = spawnSync(process.execPath, [path.join(__dirname, b)], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
