/** Runs every benchmark in its own process, so figures do not mix. Prints; asserts nothing. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

for (const b of ['config-compile.js', 'cli-startup.js']) {
  const r = spawnSync(process.execPath, [path.join(__dirname, b)], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
