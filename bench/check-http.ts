/**
 * 2,000 real servers with HTTP_GET (GET /, status 200) at delay_loop 1
 * against node:http servers on 127.0.0.1 (one port each, in a child
 * process), one new connection per check as keepalived: the same figures
 * as check-tcp. Prints figures; asserts nothing. BENCH_QUICK=1: a 5 s window.
 */
import { runCheckBench } from './check-common';

runCheckBench({
  name: 'check-http',
  kind: 'http',
  servers: 2000,
  perVirtualServer: 100,
  delayLoopS: 1,
  checker: () => '    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }',
  target: 'every server checked every loop, on one core',
}).catch((err: unknown) => {
  console.error(`check-http: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
