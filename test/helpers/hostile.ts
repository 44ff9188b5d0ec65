import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpDir } from './config';

/**
 * A hostile local user for tests: `nobody` planting FIFOs and symlinks where
 * root writes, in a directory everyone may write to (sticky, like /tmp).
 */

export const NOBODY_UID = 65534;

/** Runs a shell command as nobody; throws with its stderr when it fails. */
export function asNobody(script: string): void {
  const r = spawnSync('runuser', ['-u', 'nobody', '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`as nobody: ${script}: ${r.error?.message ?? r.stderr.trim()}`);
}

/** A fresh directory with /tmp's mode (1777), removed when the test process exits. */
export function sharedDir(prefix = 'alived-shared-'): string {
  const dir = tmpDir(prefix);
  fs.chmodSync(dir, 0o1777);
  return dir;
}

/** A root-owned file, mode 0600, that nobody can read or write: what an attacker's symlink points at. */
export function victimFile(dir: string, name = 'victim', text = 'root:secret:19000:0:99999:7:::\n'): string {
  const file = `${dir}/${name}`;
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

export type Outcome =
  { ok: true; value: unknown } | { ok: false; error: { name: string; code: string; file?: string; reason?: string; errno?: string; message: string } };

/**
 * Runs `body` (the body of an async function of `f`, the compiled module at
 * `modulePath`, `fs` and `a`, the args) in a child process with a time limit,
 * and gives back its result or error as JSON. A call that blocks on a FIFO
 * fails the test instead of hanging the run: a thread blocked in open(2)
 * would even keep the test process from exiting.
 */
export function boundedCall(modulePath: string, body: string, a: Record<string, unknown> = {}, opts: { umask?: number; timeoutMs?: number } = {}): Outcome {
  const script = `
const f = require(${JSON.stringify(modulePath)});
const fs = require('node:fs');
const a = JSON.parse(process.env.ARGS);
${opts.umask !== undefined ? `process.umask(${opts.umask});` : ''}
(async () => { ${body} })().then(
  (value) => process.stdout.write(JSON.stringify({ ok: true, value: value === undefined ? null : value })),
  (e) => process.stdout.write(JSON.stringify({ ok: false, error: { name: e.name, code: e.code, file: e.file, reason: e.reason, errno: e.errno, message: e.message } })),
).then(() => process.exit(0));
`;
  const ms = opts.timeoutMs ?? 10_000;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: ms,
    killSignal: 'SIGKILL',
    env: { ...process.env, ARGS: JSON.stringify(a) },
  });
  assert.equal(r.error, undefined, `the call did not return within ${ms} ms (blocked?): ${body}`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Outcome;
}
