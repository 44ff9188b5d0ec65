import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runShutdownScript, runStartupScript, STARTUP_SCRIPT_TIMEOUT_S, SHUTDOWN_SCRIPT_TIMEOUT_S } from '../../core/notify/lifecycle-scripts';
import type { ConfigModel } from '../../core/config/model';
import { compileText, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import { processAlive as alive } from '../helpers/process';

/**
 * startup_script and shutdown_script with real processes: awaited, killed
 * with their process group at their timeout (the caller goes on only once
 * the script is gone), refused like any script when unsafe.
 */

const isRoot = process.getuid?.() === 0;
if (!isRoot) throw new Error('test/notify needs root (run the tests as root, as CI does)');

const dir = tmpDir('alived-lifecycle-');
fs.chmodSync(dir, 0o755);

function script(name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(f, 0o755);
  return f;
}

async function model(globalDefs: string): Promise<ConfigModel> {
  const r = await compileText(`global_defs {\n${globalDefs}\n}\n`);
  assert.deepEqual(r.errors, []);
  return r.model!;
}

test("keepalived's default timeouts: 10 s each", () => {
  assert.equal(STARTUP_SCRIPT_TIMEOUT_S, 10);
  assert.equal(SHUTDOWN_SCRIPT_TIMEOUT_S, 10);
});

test('no script: nothing runs', async () => {
  const { log } = memoryLogger();
  assert.deepEqual(await runStartupScript(await model('script_user root'), { log }), { ran: false });
  assert.deepEqual(await runShutdownScript(await model('script_user root'), { log }), { ran: false });
});

test('the startup script runs to its end before the call returns, with its arguments, as its user', async () => {
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir);
  fs.chmodSync(outDir, 0o777);
  const out = path.join(outDir, 'startup.out');
  const s = script('startup.sh', `sleep 0.3; echo "$* $(id -un)" > ${out}`);
  const { log, records } = memoryLogger();
  const r = await runStartupScript(await model(`script_user root\nstartup_script "${s} one 'two words'" nobody`), { log });
  assert.deepEqual(r.outcome, { kind: 'exit', code: 0, stderr: '' });
  assert.equal(fs.readFileSync(out, 'utf8'), 'one two words nobody\n');
  assert.ok(records.some((x) => x.msg === 'startup script succeeded'));
});

test('a failing shutdown script is logged with its status', async () => {
  const s = script('shutdown.sh', 'echo "cannot reach the switch" >&2; exit 3');
  const { log, records } = memoryLogger();
  const r = await runShutdownScript(await model(`script_user root\nshutdown_script ${s}`), { log });
  assert.deepEqual(r.outcome, { kind: 'exit', code: 3, stderr: 'cannot reach the switch' });
  assert.ok(records.some((x) => x.fields.code === 'ALIVED_SCRIPT_FAILED' && x.msg === 'shutdown script failed, status 3: cannot reach the switch'));
  assert.ok(
    records.some(
      (x) =>
        x.fields.code === 'ALIVED_SCRIPT_SECURITY_OFF' &&
        x.msg === 'SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.',
    ),
  );
});

test('at its timeout the script is killed with its whole group (SIGTERM, then SIGKILL) and the call returns once it is gone', async () => {
  const pids = path.join(dir, 'hang.pids');
  // the child ignores SIGTERM: only the SIGKILL 2 s after it ends it
  const s = script('hang.sh', `sh -c 'trap "" TERM; echo $$ >> ${pids}; while :; do sleep 1; done' &\necho $$ >> ${pids}\nwait`);
  const { log, records } = memoryLogger();
  const t0 = Date.now();
  const r = await runStartupScript(await model(`script_user root\nstartup_script ${s}\nstartup_script_timeout 1`), { log });
  const took = Date.now() - t0;
  assert.deepEqual(r.outcome, { kind: 'timeout' });
  assert.ok(took >= 1000 && took < 5000, `took ${took} ms`);
  assert.ok(records.some((x) => x.msg === 'startup script timed out after 1 s; killing its process group'));
  const all = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
  assert.equal(all.length, 2);
  for (const p of all) assert.ok(!alive(p), `process ${p} is gone`);
});

test('an unsafe startup script is refused with enable_script_security and does not run; startup goes on', async () => {
  const drop = path.join(dir, 'drop');
  fs.mkdirSync(drop);
  fs.chmodSync(drop, 0o777);
  const marker = path.join(dir, 'unsafe-ran');
  const s = path.join(drop, 'up.sh');
  fs.writeFileSync(s, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  const { log, records } = memoryLogger();
  const r = await runStartupScript(await model(`script_user root\nenable_script_security\nstartup_script ${s}`), { log });
  assert.equal(r.ran, false);
  assert.deepEqual(r.refused, {
    code: 'EINSECURE',
    path: drop,
    reason: `${drop} is writable by every user (mode 0777), and the script would run as root (uid 0)`,
  });
  assert.ok(!fs.existsSync(marker));
  assert.ok(records.some((x) => x.fields.code === 'ALIVED_SCRIPT_INSECURE' && x.msg.includes(drop)));
});

test('a startup script that does not exist is logged and startup goes on', async () => {
  const { log, records } = memoryLogger();
  const r = await runStartupScript(await model(`script_user root\nstartup_script ${dir}/missing.sh`), { log });
  assert.equal(r.ran, false);
  assert.ok(records.some((x) => x.msg === `Cannot run script '${dir}/missing.sh' (startup_script): no such file (ENOENT)`));
});

test('aborting (the daemon is told to stop) kills the startup script at once', async () => {
  const s = script('long.sh', 'sleep 30');
  const { log } = memoryLogger();
  const ac = new AbortController();
  const t0 = Date.now();
  const p = runStartupScript(await model(`script_user root\nstartup_script ${s}`), { log, signal: ac.signal });
  setTimeout(() => ac.abort(), 200);
  assert.deepEqual((await p).outcome, { kind: 'aborted' });
  assert.ok(Date.now() - t0 < 3000);
});
