/**
 * 10,000 real servers with TCP_CHECK at delay_loop 1 against listeners on
 * 127.0.0.1 (one port each, in a child process): checks per second
 * sustained, lateness p99, whether every server is checked every loop, CPU
 * and RSS of the checking process. Prints figures; asserts nothing.
 * BENCH_QUICK=1: a 5 s window instead of 20 s.
 */
import { runCheckBench } from './check-common';

runCheckBench({
  name: 'check-tcp',
  kind: 'tcp',
  servers: 10_000,
  perVirtualServer: 100,
  delayLoopS: 1,
  checker: () => '    TCP_CHECK {\n      connect_timeout 3\n    }',
  target: 'every server checked every loop, on one core, lateness p99 < 100 ms, RSS < 200 MB',
}).catch((err: unknown) => {
  console.error(`check-tcp: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
