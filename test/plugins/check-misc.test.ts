import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../core/log/logger';
import { CheckerTester } from '../../core/testing';
import checkMisc, { createMiscChecker, type MiscCheckConfig } from '../../plugins/check-misc';
import { tmpDir } from '../helpers/config';

const tester = new CheckerTester({ plugin: checkMisc });
const dir = tmpDir('alived-misc-');
// scripts run as nobody must reach their files
fs.chmodSync(dir, 0o755);
const isRoot = process.getuid?.() === 0;

/** a process that exists and has not exited (a zombie has exited; reaping it is its parent's job) */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/** a process that still has an entry: running, or a zombie nobody reaped */
function exists(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** pids a script wrote to `file`, one a line: its own ($$) and its children's */
const pidsIn = (file: string): number[] => fs.readFileSync(file, 'utf8').trim().split('\n').map(Number);

const pidFile = (name: string): string => path.join(dir, `${name}.pids`);

/** writes an executable shell script into the test's directory; returns its path */
function script(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

tester.run('MISC_CHECK runs real scripts', [
  {
    name: 'exit 0: up',
    config: `misc_path "/bin/sh -c 'exit 0'"`,
    expect: { ok: true, message: "MISC_CHECK '/bin/sh' '-c' 'exit 0': exited with status 0", weight: null },
  },
  {
    name: 'exit 1: down, with the last line the script wrote to stderr',
    config: `misc_path "/bin/sh -c 'echo checking >&2; echo backend refused >&2; exit 1'"`,
    expect: { ok: false, message: "MISC_CHECK '/bin/sh' '-c' 'echo checking >&2; echo backend refused >&2; exit 1': exited with status 1: backend refused" },
  },
  {
    name: 'arguments are split as keepalived quotes them',
    config: () => `misc_path "${script('args.sh', 'test $# = 2 && test "$1" = "two words" && test "$2" = three')} 'two words' three"`,
    expect: { ok: true },
  },
  {
    name: 'misc_dynamic: exit 2..255 is up and sets the weight to the status minus 2',
    config: `misc_path "/bin/sh -c 'exit 7'"\nmisc_dynamic`,
    expect: { ok: true, weight: 5, message: "MISC_CHECK '/bin/sh' '-c' 'exit 7': exited with status 7, weight 5 (misc_dynamic)" },
  },
  {
    name: 'misc_dynamic: exit 2 is up with weight 0',
    config: `misc_path "/bin/sh -c 'exit 2'"\nmisc_dynamic`,
    expect: { ok: true, weight: 0 },
  },
  {
    name: 'misc_dynamic: exit 255 is up with weight 253',
    config: `misc_path "/bin/sh -c 'exit 255'"\nmisc_dynamic`,
    expect: { ok: true, weight: 253 },
  },
  {
    name: 'misc_dynamic: exit 0 is up and sets no weight (the configured one is back)',
    config: `misc_path "/bin/sh -c 'exit 0'"\nmisc_dynamic`,
    expect: { ok: true, weight: null },
  },
  {
    name: 'misc_dynamic: exit 1 is down',
    config: `misc_path "/bin/sh -c 'exit 1'"\nmisc_dynamic`,
    expect: { ok: false, weight: null },
  },
  {
    name: 'without misc_dynamic exit 7 is down',
    config: `misc_path "/bin/sh -c 'exit 7'"`,
    expect: { ok: false, message: "MISC_CHECK '/bin/sh' '-c' 'exit 7': exited with status 7", weight: null },
  },
  {
    name: 'killed by a signal: down',
    config: `misc_path "/bin/sh -c 'kill -KILL $$'"`,
    expect: { ok: false, message: "MISC_CHECK '/bin/sh' '-c' 'kill -KILL $$': killed by SIGKILL" },
  },
  {
    name: 'misc_timeout: the script and its children are killed with their process group; the result comes at the timeout',
    config: `misc_path "/bin/sh -c 'sleep 60 & echo $$ > ${pidFile('timeout')}; echo $! >> ${pidFile('timeout')}; wait'"\nmisc_timeout 1`,
    expect: { ok: false, message: /: timed out after 1 s; killed with its process group$/ },
    inspect: async (_s, outcome) => {
      assert.ok(outcome.durations[0]! >= 1000 && outcome.durations[0]! < 1800, `settled after ${outcome.durations[0]} ms`);
      const [sh, sleep] = pidsIn(pidFile('timeout'));
      assert.ok(await waitUntil(() => !exists(sh!), 1000), 'the script was reaped: no zombie');
      assert.ok(await waitUntil(() => !running(sleep!), 1000), 'its child was killed');
    },
  },
  {
    name: "the scheduler's signal (no misc_timeout): killed, and the check settles at once",
    config: `misc_path "/bin/sh -c 'echo $$ > ${pidFile('abort')}; sleep 60'"`,
    timeoutMs: 300,
    expect: { ok: false, message: /: timed out; killed with its process group$/ },
    inspect: async (_s, outcome) => {
      assert.ok(outcome.durations[0]! < 800, `settled after ${outcome.durations[0]} ms`);
      const [sh] = pidsIn(pidFile('abort'));
      assert.ok(await waitUntil(() => !exists(sh!), 1000), 'killed and reaped');
    },
  },
  {
    name: 'a script that does not exist: a warning at -t, and each check says so',
    config: 'misc_path /nonexistent/check.sh',
    warnings: ["script '/nonexistent/check.sh' does not exist on this host"],
    expect: { ok: false, message: "MISC_CHECK '/nonexistent/check.sh': cannot run /nonexistent/check.sh: no such file (ENOENT)" },
  },
  {
    name: 'a file that is not executable',
    config: () => {
      fs.writeFileSync(path.join(dir, 'plain.sh'), 'exit 0\n', { mode: 0o644 });
      return `misc_path ${path.join(dir, 'plain.sh')}`;
    },
    // root may execute a file without x bits only if some x bit is set: none is here
    expect: { ok: false, message: /cannot run .*plain\.sh: permission denied: not executable, or a directory on its path is not searchable \(EACCES\)$/ },
  },
  {
    name: "keepalived's redirection-only form `</file` tests that a file can be opened",
    config: 'misc_path "</etc/hostname"',
    expect: { ok: true },
  },
  {
    name: 'the environment has no IFS, LD_PRELOAD or LD_LIBRARY_PATH; the rest is kept',
    config: () =>
      `misc_path ${script('env.sh', "env | grep -q -e '^IFS=' -e '^LD_PRELOAD=' -e '^LD_LIBRARY_PATH=' && exit 1\ntest \"$ALIVED_TEST_KEPT\" = yes")}`,
    expect: { ok: true },
  },
  {
    name: 'user: the script runs as that user, its group, no supplementary groups',
    skip: isRoot ? false : 'needs root to change user',
    config: () => `misc_path ${script('id.sh', 'test "$(id -u):$(id -g):$(id -G)" = 65534:65534:65534')}\nuser nobody`,
    expect: { ok: true },
  },
  {
    name: 'global_defs script_user is the default user',
    skip: isRoot ? false : 'needs root to change user',
    top: 'global_defs {\n  script_user nobody\n}\n',
    config: `misc_path "/bin/sh -c 'test $(id -un) = nobody'"`,
    expect: { ok: true },
  },
  {
    name: 'a user that does not exist: down, saying so',
    config: `misc_path "/bin/sh -c 'exit 0'"\nuser no-such-user-alived`,
    expect: { ok: false, message: "MISC_CHECK '/bin/sh' '-c' 'exit 0': user 'no-such-user-alived' does not exist" },
  },
]);

test('MISC_CHECK: a script that ignores SIGTERM is killed with SIGKILL 2 s after the timeout, children included', async () => {
  const file = pidFile('term');
  const exe = script('ignore-term.sh', `trap '' TERM\nsleep 60 &\necho $$ > ${file}\necho $! >> ${file}\nwhile :; do sleep 0.1; done`);
  const config = { miscPath: { argv: [exe] }, miscDynamic: false, miscTimeout: 1 } as unknown as MiscCheckConfig;
  const target = { address: '127.0.0.1', port: 1 };
  const checker = createMiscChecker(config, { target, realServer: target, log: silentLogger });
  const t0 = Date.now();
  const r = await checker.check(new AbortController().signal);
  assert.equal(r.message, `MISC_CHECK '${exe}': timed out after 1 s; killed with its process group`);
  assert.ok(Date.now() - t0 < 1800, 'the result comes at the timeout, not at the kill');
  const [sh, sleep] = pidsIn(file);
  assert.ok(running(sh!), 'SIGTERM is ignored: still running right after the timeout');
  assert.ok(await waitUntil(() => !exists(sh!), 3000), 'killed with SIGKILL about 2 s later, and reaped');
  assert.ok(Date.now() - t0 >= 2900, `SIGKILL came ${Date.now() - t0} ms after the start: 1 s timeout + 2 s grace`);
  assert.ok(await waitUntil(() => !running(sleep!), 1000), 'its child was killed too');
});

test('MISC_CHECK: close() kills a running script with its group; the check settles', async () => {
  const file = pidFile('close');
  const config = {
    miscPath: { argv: ['/bin/sh', '-c', `sleep 60 & echo $$ > ${file}; echo $! >> ${file}; wait`] },
    miscDynamic: false,
    regexOptions: [],
  } as unknown as MiscCheckConfig;
  const target = { address: '127.0.0.1', port: 1 };
  const checker = createMiscChecker(config, { target, realServer: target, log: silentLogger });
  const pending = checker.check(new AbortController().signal);
  assert.ok(await waitUntil(() => fs.existsSync(file) && pidsIn(file).length === 2, 2000), 'the script started');
  const [sh, sleep] = pidsIn(file);
  await checker.close!();
  const r = await pending;
  assert.equal(r.ok, false);
  assert.match(r.message!, /: killed by SIGKILL$/);
  assert.ok(await waitUntil(() => !exists(sh!) && !running(sleep!), 1000));
});

process.env.LD_LIBRARY_PATH = '/nowhere';
process.env.LD_PRELOAD = '';
process.env.IFS = ' ';
process.env.ALIVED_TEST_KEPT = 'yes';
