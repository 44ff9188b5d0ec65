import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ScriptLauncher } from '../../core/script/launcher';
import { compileText, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * core/script runs notify and quorum scripts with real processes: argv as
 * keepalived splits the quoted command, the user, a process group of its
 * own, a cleaned environment, a timeout that kills the whole group, and no
 * zombie left behind.
 */

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('test/script needs root: running scripts as another user cannot be tested otherwise');
const needsRoot = isRoot ? false : 'needs root to change user (CI runs as root)';

const dir = tmpDir('alived-script-');
// scripts run as nobody must reach their files
fs.chmodSync(dir, 0o777);

function script(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

const out = (name: string): string => path.join(dir, name);

/** a process that still has an entry: running, or a zombie nobody reaped */
const exists = (pid: number): boolean => fs.existsSync(`/proc/${pid}`);

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

const launchers: ScriptLauncher[] = [];
function launcher(opts: Partial<ConstructorParameters<typeof ScriptLauncher>[0]> = {}) {
  const { log, records } = memoryLogger('debug');
  const l = new ScriptLauncher({ log, ...opts });
  launchers.push(l);
  return { l, records };
}
after(async () => {
  for (const l of launchers) l.close();
  for (const l of launchers) await l.idle();
});

/** the notify_up of a real server, as the config parses it */
async function notifyUp(line: string) {
  const r = await compileText(`virtual_server 10.0.0.1 80 {
  protocol TCP
  lvs_sched rr
  lvs_method NAT
  real_server 10.0.0.2 80 {
    notify_up ${line}
  }
}
`);
  assert.deepEqual(r.errors, []);
  return r.model!.virtualServer[0]!.realServer[0]!.notifyUp!;
}

test('argv: the quoted command is split as keepalived splits it, no shell in between', async () => {
  const s = script('args.sh', `for a in "$@"; do echo "[$a]"; done > ${out('args.out')}`);
  const line = await notifyUp(`"${s} 'two words' plain $HOME;ls"`);
  const { l } = launcher();
  const o = await l.run(line, 'notify_up for a test');
  assert.deepEqual(o, { kind: 'exit', code: 0, stderr: '' });
  assert.equal(fs.readFileSync(out('args.out'), 'utf8'), '[two words]\n[plain]\n[$HOME;ls]\n');
});

test('the script leads a process group of its own', async () => {
  const s = script('pgid.sh', `echo "$$ $(ps -o pgid= -p $$ | tr -d ' ')" > ${out('pgid.out')}`);
  const { l } = launcher();
  await l.run({ argv: [s] }, 'test');
  const [pid, pgid] = fs.readFileSync(out('pgid.out'), 'utf8').trim().split(' ');
  assert.equal(pgid, pid);
  assert.notEqual(pgid, String(process.pid));
});

test('the environment has no IFS, LD_PRELOAD or LD_LIBRARY_PATH', async () => {
  const s = script('env.sh', `env > ${out('env.out')}`);
  const saved = { IFS: process.env.IFS, LD_PRELOAD: process.env.LD_PRELOAD, LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH };
  process.env.IFS = 'x';
  process.env.LD_PRELOAD = '/nonexistent/evil.so';
  process.env.LD_LIBRARY_PATH = '/nonexistent';
  process.env.ALIVED_TEST_KEPT = 'kept';
  try {
    const { l } = launcher();
    const o = await l.run({ argv: [s] }, 'test');
    assert.equal(o.kind, 'exit');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    delete process.env.ALIVED_TEST_KEPT;
  }
  const env = fs.readFileSync(out('env.out'), 'utf8').split('\n');
  assert.ok(env.includes('ALIVED_TEST_KEPT=kept'));
  assert.ok(!env.some((l) => /^(IFS|LD_PRELOAD|LD_LIBRARY_PATH)=/.test(l)), env.join('\n'));
});

test('runs as the user written after the script', { skip: needsRoot }, async () => {
  const s = script('id.sh', `id -u > ${out('id-own.out')}; id -g >> ${out('id-own.out')}`);
  const line = await notifyUp(`${s} nobody nogroup`);
  const { l } = launcher();
  assert.deepEqual(await l.run(line, 'test'), { kind: 'exit', code: 0, stderr: '' });
  assert.equal(fs.readFileSync(out('id-own.out'), 'utf8'), '65534\n65534\n');
});

test("without a user of its own, global_defs' script_user", { skip: needsRoot }, async () => {
  const s = script('id2.sh', `id -un > ${out('id-default.out')}`);
  const { l } = launcher({ scriptUser: () => ({ user: 'nobody' }) });
  await l.run({ argv: [s] }, 'test');
  assert.equal(fs.readFileSync(out('id-default.out'), 'utf8'), 'nobody\n');
});

test('a user that does not exist: nothing runs, the log says why', async () => {
  const s = script('never.sh', `touch ${out('never.out')}`);
  const { l, records } = launcher();
  const o = await l.run({ argv: [s], user: 'no-such-user-alived' }, 'notify_down for [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80');
  assert.equal(o.kind, 'error');
  assert.ok(!fs.existsSync(out('never.out')));
  const r = records.find((x) => x.fields.code === 'ALIVED_SCRIPT_FAILED')!;
  assert.equal(r.msg, `Cannot run script '${s}' (notify_down for [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80): user 'no-such-user-alived' does not exist`);
});

test('a script that cannot be started, or exits non-zero, is logged with the reason', async () => {
  const s = script('fails.sh', 'echo "backend said no" >&2; exit 3');
  const { l, records } = launcher();
  assert.equal((await l.run({ argv: ['/nonexistent/notify.sh'] }, 'quorum_up of VS x')).kind, 'error');
  assert.deepEqual(await l.run({ argv: [s] }, 'quorum_down of VS x'), { kind: 'exit', code: 3, stderr: 'backend said no' });
  const msgs = records.filter((x) => x.fields.code === 'ALIVED_SCRIPT_FAILED').map((x) => x.msg);
  assert.deepEqual(msgs, [
    "Cannot run script '/nonexistent/notify.sh' (quorum_up of VS x): no such file (ENOENT)",
    `Script '${s}' (quorum_down of VS x) exited with status 3: backend said no`,
  ]);
  assert.deepEqual(l.counts(), { started: 2, failed: 2, running: 0 });
});

test('timeout: the whole process group is killed (SIGTERM, then SIGKILL), the exit reaped: no process, no zombie', async () => {
  const pids = out('tree.pids');
  // the child ignores SIGTERM: only the SIGKILL 2 s later ends it
  const s = script('tree.sh', `sh -c 'trap "" TERM; echo $$ >> ${pids}; while :; do sleep 1; done' &\necho $$ >> ${pids}\nwhile :; do sleep 1; done`);
  const { l, records } = launcher();
  const t0 = Date.now();
  const o = await l.run({ argv: [s] }, 'notify_up for a hung script', { timeoutMs: 300 });
  assert.deepEqual(o, { kind: 'timeout' });
  assert.ok(Date.now() - t0 < 2000, 'the outcome comes at the timeout, not after the killing');
  assert.ok(records.some((r) => r.msg === `Script '${s}' (notify_up for a hung script) timed out; killed with its process group`));
  assert.ok(await waitUntil(() => fs.existsSync(pids) && fs.readFileSync(pids, 'utf8').trim().split('\n').length === 2, 2000));
  const all = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
  assert.ok(await waitUntil(() => all.every((p) => !exists(p)), 5000), `still there: ${all.filter(exists).join(', ')}`);
});

test('a script that exits leaves its background job alone; its own exit is reaped at once', async () => {
  const pids = out('bg.pids');
  const s = script('bg.sh', `sleep 30 &\necho $! > ${pids}\necho $$ >> ${pids}`);
  const { l } = launcher();
  assert.deepEqual(await l.run({ argv: [s] }, 'test', { timeoutMs: 200 }), { kind: 'exit', code: 0, stderr: '' });
  const [bg, own] = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
  assert.ok(await waitUntil(() => !exists(own!), 2000), 'the script was reaped');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(exists(bg!), 'its background job is its business');
  process.kill(bg!, 'SIGKILL');
});

test('close() kills running scripts with their group; idle() then resolves; later runs start nothing', async () => {
  const pids = out('close.pids');
  const s = script('long.sh', `echo $$ > ${pids}\nsleep 30`);
  const { l, records } = launcher();
  const p = l.run({ argv: [s] }, 'notify_up for a long script');
  assert.ok(await waitUntil(() => fs.existsSync(pids), 2000));
  const pid = Number(fs.readFileSync(pids, 'utf8').trim());
  l.close();
  assert.deepEqual(await p, { kind: 'aborted' });
  await l.idle();
  assert.ok(await waitUntil(() => !exists(pid), 3000));
  assert.ok(records.some((r) => r.msg === `Script '${s}' (notify_up for a long script) killed with its process group: alived is stopping`));
  assert.deepEqual(await l.run({ argv: [s] }, 'after close'), { kind: 'aborted' });
});
