import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { asNobody, sharedDir, victimFile } from '../helpers/hostile';
import { waitFor } from '../helpers/lab';

/**
 * A hostile local user (nobody) plants a FIFO or a symlink at every file a
 * root alived writes where others can write: the SIGUSR1/SIGUSR2 dumps in
 * /tmp, the -g log file and the -p pid file (in a directory of mode 1777).
 * Then a real daemon gets more dumps than libuv has threads, a reload and a
 * SIGTERM: nothing is written through, the dumps are root's own files, and
 * the daemon stops within a bounded wait. Before alived wrote these files
 * the safe way, the FIFOs held a thread each and the daemon never stopped.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
/** more than libuv's 4 pool threads: each blocked dump used to hold one */
const DUMPS = 6;
/** a daemon without VRRP stops in well under a second; 10 s is "it stopped", not a timing */
const STOP_WAIT_MS = 10_000;

const instances: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const i of instances) for (const kind of ['data', 'stats']) fs.rmSync(`/tmp/alived_${i}.${kind}`, { force: true });
});

function dumpFile(instance: string, kind: 'data' | 'stats'): string {
  return `/tmp/alived_${instance}.${kind}`;
}

/** resolves with the exit code, or null when the daemon has not exited within ms (then it is killed) */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Sends the signal, then waits until the line `wrote FILE` has appeared `n` times: one dump at a time, so none coalesce. */
async function dumpsOneByOne(child: ChildProcess, out: { text: string }, sig: 'SIGUSR1' | 'SIGUSR2', file: string): Promise<void> {
  for (let n = 1; n <= DUMPS; n++) {
    child.kill(sig);
    await waitFor(`dump ${n} of ${file}`, () => (count(out.text, `INFO wrote ${file}`) >= n ? true : undefined), 5000);
  }
}

const SCENARIOS: Record<string, { plant: (at: string, victim: string) => void; kind: string; reason: (victim: string) => string }> = {
  FIFO: { plant: (at) => asNobody(`mkfifo -m666 ${at}`), kind: 'FIFO', reason: () => 'it is a FIFO, not a regular file' },
  symlink: {
    plant: (at, victim) => asNobody(`ln -s ${victim} ${at}`),
    kind: 'symbolic link',
    reason: (victim) => `it is a symbolic link to ${victim}, not a regular file (never followed)`,
  },
};

for (const [what, s] of Object.entries(SCENARIOS)) {
  test(`a ${what} planted by nobody at the dumps, the log file and the pid file: never written through, and SIGTERM stops the daemon`, async () => {
    const dir = sharedDir('alived-hostile-');
    const instance = `hostile${process.pid}${what}`;
    instances.push(instance);
    const files = {
      data: dumpFile(instance, 'data'),
      stats: dumpFile(instance, 'stats'),
      log: path.join(dir, 'alived.log'),
      pid: path.join(dir, 'alived.pid'),
    };
    const victims: Record<string, string> = {};
    for (const [name, at] of Object.entries(files)) {
      victims[name] = victimFile(dir, `victim-${name}`);
      fs.rmSync(at, { force: true });
      s.plant(at, victims[name]!);
    }
    const before = Object.fromEntries(Object.values(victims).map((v) => [v, fs.readFileSync(v, 'utf8')]));
    fs.writeFileSync(path.join(dir, 'a.conf'), 'global_defs {\n  router_id hostile\n}\n');

    const child = spawn(
      process.execPath,
      [BIN, '-n', '-l', '-G', '-f', 'a.conf', '--instance', instance, '-p', files.pid, '--state-dir', path.join(dir, 'state'), `-g${files.log}`],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    const out = { text: '' };
    child.stdout!.on('data', (d) => (out.text += d));
    child.stderr!.on('data', (d) => (out.text += d));

    await waitFor(
      'the pid file',
      () => (fs.existsSync(files.pid) && fs.lstatSync(files.pid).isFile() && fs.readFileSync(files.pid, 'utf8') === `${child.pid}\n` ? true : undefined),
      10_000,
    );
    await waitFor('the start', () => (out.text.includes('Configuration loaded') ? true : undefined), 10_000);
    await dumpsOneByOne(child, out, 'SIGUSR1', files.data);
    await dumpsOneByOne(child, out, 'SIGUSR2', files.stats);
    child.kill('SIGHUP');
    await waitFor('the reload', () => (out.text.includes('Reload complete') ? true : undefined), 10_000);
    child.kill('SIGTERM');
    const code = await exitWithin(child, STOP_WAIT_MS);
    assert.equal(code, 0, `the daemon stopped within ${STOP_WAIT_MS} ms with exit 0; output:\n${out.text}`);
    assert.match(out.text, /NOTICE Stopped alived/);

    // nothing written through: every target is as it was
    for (const [v, text] of Object.entries(before)) {
      assert.equal(fs.readFileSync(v, 'utf8'), text, `${v} untouched`);
      assert.equal(fs.statSync(v).mode & 0o7777, 0o600);
    }
    // the dumps are root's own regular files, 0600, with their content; the planted entry was replaced and said so
    for (const [kind, content] of [
      ['data', /^------< VRRP Topology >------\n/],
      ['stats', /^Other VRIDs: 0\n/],
    ] as const) {
      const f = files[kind];
      const st = fs.lstatSync(f);
      assert.ok(st.isFile(), `${f} is a regular file`);
      assert.deepEqual([st.uid, st.mode & 0o7777], [0, 0o600]);
      assert.match(fs.readFileSync(f, 'utf8'), content);
      assert.ok(out.text.includes(`WARN ${f} was a ${s.kind}, not a regular file: replaced, never written through`), out.text);
      assert.deepEqual(
        fs.readdirSync('/tmp').filter((n) => n.startsWith(`.alived_${instance}.`)),
        [],
        'no temporary file left',
      );
    }
    // the log file is refused, with one error naming it and what it is; the console goes on
    assert.equal(
      count(out.text, `ERROR not logging to ${files.log}: ${s.reason(victims.log!)} (refused, never written through; the other log outputs go on)`),
      1,
      out.text,
    );
    assert.equal(fs.lstatSync(files.log).isFile(), false, 'the planted log entry is left as it was');
    // the pid file: the planted entry was removed with a warning, ours was written and removed at the stop
    assert.ok(out.text.includes(`WARN pid file ${files.pid}: ${s.reason(victims.pid!)}; not a pid file alived wrote: removed`), out.text);
    assert.equal(fs.existsSync(files.pid), false);
  });
}

// the same with VRRP, in a lab: the master's VIP is released on SIGTERM with FIFOs in the way of its dumps
const VIP = '10.99.0.99';
let lab: Lab | undefined;
before(async () => {
  removeStaleLabs();
  lab = await Lab.create({ name: 'hostile', hosts: [{ name: 'n1', ip: '10.99.0.11' }] });
});
after(() => lab?.destroy());

test('a VRRP master with FIFOs planted at its dumps: many dumps, then SIGTERM releases the VIP and the daemon exits', async () => {
  const v = new VrrpLab(lab!, tmpDir('alived-hostile-lab-'));
  const instance = `hostilelab${process.pid}`;
  instances.push(instance);
  for (const kind of ['data', 'stats'] as const) {
    fs.rmSync(dumpFile(instance, kind), { force: true });
    asNobody(`mkfifo -m666 ${dumpFile(instance, kind)}`);
  }
  const d = v.startAlived(
    'n1',
    `vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
`,
    ['--instance', instance],
  );
  children.push(d.proc);
  await v.waitHolder(VIP, 'n1', 10_000);
  const out = {
    get text(): string {
      return d.lines.join('\n') + '\n';
    },
  };
  await dumpsOneByOne(d.proc, out, 'SIGUSR1', dumpFile(instance, 'data'));
  await dumpsOneByOne(d.proc, out, 'SIGUSR2', dumpFile(instance, 'stats'));
  assert.match(fs.readFileSync(dumpFile(instance, 'data'), 'utf8'), /VRRP Instance = VI_1/);
  v.signal(d, 'SIGTERM');
  const code = await exitWithin(d.proc, STOP_WAIT_MS);
  assert.equal(code, 0, `stopped within ${STOP_WAIT_MS} ms; last lines:\n${d.lines.slice(-20).join('\n')}`);
  assert.deepEqual(v.holders(VIP), [], 'the VIP is released');
});
