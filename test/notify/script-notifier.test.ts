import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ScriptNotifier } from '../../plugins/notify-script/script-notifier';
import type { VrrpState, VrrpTransitionEvent } from '../../core/plugin/events';
import type { ConfigModel } from '../../core/config/model';
import type { LogRecord } from '../../core/log/logger';
import { compileText, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import { processAlive as alive } from '../helpers/process';
import { drainFifo } from '../helpers/fifo';

/**
 * The VRRP notify pipeline with real scripts, real FIFOs and a real FIFO
 * reader: keepalived's arguments and order for each transition (the state's
 * script, then `notify INSTANCE|GROUP NAME STATE PRIORITY`, then the FIFO
 * line), DELETED, STOP, MASTER_RX_LOWER_PRI, a hanging script that delays
 * nothing, script security and users.
 */

const isRoot = process.getuid?.() === 0;
if (!isRoot) throw new Error('test/notify needs root: scripts run as other users and FIFOs are created for them (run the tests as root, as CI does)');

const base = tmpDir('alived-notify-');
fs.chmodSync(base, 0o755);
let seq = 0;

/** a fresh root-owned 0755 directory (safe for root scripts, reachable by nobody) */
function freshDir(mode = 0o755): string {
  const d = path.join(base, `t${++seq}`);
  fs.mkdirSync(d);
  fs.chmodSync(d, mode);
  return d;
}

function writeScript(file: string, body: string): string {
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(file, 0o755);
  return file;
}

/** a script that appends `NAME|ARG1|ARG2...` to calls.log, one write per call, then runs `extra` */
function recorder(d: string, name: string, extra = ''): string {
  const log = path.join(d, 'calls.log');
  fs.mkdirSync(path.join(d, 'out'), { recursive: true });
  fs.chmodSync(path.join(d, 'out'), 0o777);
  return writeScript(path.join(d, name), `line="${name}"\nfor a in "$@"; do line="$line|$a"; done\necho "$line" >> ${log}\n${extra}`);
}

/** the notify_fifo_script: records its arguments, then copies every line of the FIFO (its last argument) to a file */
function fifoReader(d: string, name = 'reader.sh'): string {
  const stem = name.replace(/\.sh$/, '');
  return writeScript(
    path.join(d, name),
    `echo "$@" > ${d}/${stem}.args\necho $$ > ${d}/${stem}.pid\neval fifo=\\\${$#}\nwhile IFS= read -r line; do echo "$line" >> ${d}/${stem}.out; done < "$fifo"`,
  );
}

const calls = (d: string): string[] =>
  fs.existsSync(path.join(d, 'calls.log')) ? fs.readFileSync(path.join(d, 'calls.log'), 'utf8').trim().split('\n').filter(Boolean) : [];
const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function instance(name: string, vrid: number, body: string): string {
  return `vrrp_instance ${name} {
  interface eth0
  state BACKUP
  virtual_router_id ${vrid}
  priority 100
  virtual_ipaddress { 10.0.0.${vrid} }
${body}
}
`;
}

async function model(text: string): Promise<ConfigModel> {
  const r = await compileText(text);
  assert.deepEqual(r.errors, []);
  return r.model!;
}

const notifiers: ScriptNotifier[] = [];
after(async () => {
  await Promise.all(notifiers.map((n) => n.stop()));
});

async function started(
  text: string,
  opts: { timeoutMs?: number; stopTimeoutMs?: number } = {},
): Promise<{ n: ScriptNotifier; records: LogRecord[]; m: ConfigModel }> {
  const { log, records } = memoryLogger('debug');
  const n = new ScriptNotifier({ log, ...opts });
  notifiers.push(n);
  const m = await model(text);
  await n.start(m);
  return { n, records, m };
}

function ev(kind: 'instance' | 'group', name: string, from: VrrpState, to: VrrpState, priority: number): VrrpTransitionEvent {
  return { kind, name, from, to, priority, reason: 'test', time: Date.now() };
}

/** what the notifier did, in order: scripts it started and lines it wrote to FIFOs */
function actions(records: LogRecord[]): string[] {
  return records
    .filter((r) => (r.msg.startsWith('Executing script') && !/fifo_script/.test(String(r.fields.for))) || r.msg === 'notify fifo write')
    .map((r) =>
      r.msg === 'notify fifo write'
        ? `fifo ${r.fields.line}`
        : `run ${String(r.fields.script)
            .replace(/'[^']*\/([^/']+)'/g, '$1')
            .replace(/'/g, '')}`,
    );
}

test('instance transitions: the state script with its own arguments, then notify INSTANCE NAME STATE PRIORITY, then the FIFO line', async () => {
  const d = freshDir();
  const fifo = path.join(d, 'vrrp.fifo');
  const text = `global_defs {
  script_user root
  vrrp_notify_fifo ${fifo}
  vrrp_notify_fifo_script ${fifoReader(d)}
}
${instance(
  'VI_1',
  1,
  `  notify_master ${recorder(d, 'master.sh')}
  notify_backup "${recorder(d, 'backup.sh')} 'two words' x"
  notify_fault ${recorder(d, 'fault.sh')}
  notify "${recorder(d, 'notify.sh')} extra"`,
)}`;
  const { n, records } = await started(text);
  n.transition(ev('instance', 'VI_1', 'INIT', 'BACKUP', 100));
  n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
  n.transition(ev('instance', 'VI_1', 'MASTER', 'FAULT', 90));
  n.transition(ev('instance', 'VI_1', 'FAULT', 'INIT', 90));
  await n.idle();
  assert.deepEqual(calls(d).sort(), [
    'backup.sh|two words|x',
    'fault.sh',
    'master.sh',
    'notify.sh|extra|INSTANCE|VI_1|BACKUP|100',
    'notify.sh|extra|INSTANCE|VI_1|FAULT|90',
    'notify.sh|extra|INSTANCE|VI_1|MASTER|100',
  ]);
  assert.deepEqual(actions(records), [
    'run backup.sh two words x',
    'run notify.sh extra INSTANCE VI_1 BACKUP 100',
    'fifo INSTANCE "VI_1" BACKUP 100',
    'run master.sh',
    'run notify.sh extra INSTANCE VI_1 MASTER 100',
    'fifo INSTANCE "VI_1" MASTER 100',
    'run fault.sh',
    'run notify.sh extra INSTANCE VI_1 FAULT 90',
    'fifo INSTANCE "VI_1" FAULT 90',
  ]);
  // the FIFO's own script read them, in order, and was given the FIFO as its argument
  await waitUntil(() => lines(path.join(d, 'reader.out')).length === 3, 3000, 'the reader to get 3 lines');
  assert.deepEqual(lines(path.join(d, 'reader.out')), ['INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_1" MASTER 100', 'INSTANCE "VI_1" FAULT 90']);
  assert.equal(fs.readFileSync(path.join(d, 'reader.args'), 'utf8'), `${fifo}\n`);
  assert.ok(fs.statSync(fifo).isFIFO());
  assert.equal(fs.statSync(fifo).mode & 0o777, 0o644);
});

test('sync group transitions: the group script, then notify GROUP NAME STATE 0, then the GROUP line', async () => {
  const d = freshDir();
  const fifo = path.join(d, 'g.fifo');
  const text = `global_defs {
  script_user root
  notify_fifo ${fifo}
  notify_fifo_script ${fifoReader(d)}
}
vrrp_sync_group G1 {
  group { VI_1 VI_2 }
  notify_master ${recorder(d, 'g_master.sh')}
  notify_backup ${recorder(d, 'g_backup.sh')}
  notify_fault ${recorder(d, 'g_fault.sh')}
  notify_stop ${recorder(d, 'g_stop.sh')}
  notify ${recorder(d, 'g_notify.sh')}
}
${instance('VI_1', 1, `  notify ${recorder(d, 'notify.sh')}`)}
${instance('VI_2', 2, '')}`;
  const { n, records } = await started(text);
  n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
  n.transition(ev('instance', 'VI_2', 'BACKUP', 'MASTER', 100));
  n.transition(ev('group', 'G1', 'BACKUP', 'MASTER', 100));
  n.transition(ev('group', 'G1', 'MASTER', 'FAULT', 100));
  n.transition(ev('group', 'G1', 'FAULT', 'BACKUP', 100));
  await n.idle();
  assert.deepEqual(calls(d).sort(), [
    'g_backup.sh',
    'g_fault.sh',
    'g_master.sh',
    'g_notify.sh|GROUP|G1|BACKUP|0',
    'g_notify.sh|GROUP|G1|FAULT|0',
    'g_notify.sh|GROUP|G1|MASTER|0',
    'notify.sh|INSTANCE|VI_1|MASTER|100',
  ]);
  assert.deepEqual(actions(records).slice(0, 5), [
    'run notify.sh INSTANCE VI_1 MASTER 100',
    'fifo INSTANCE "VI_1" MASTER 100',
    'fifo INSTANCE "VI_2" MASTER 100',
    'run g_master.sh',
    'run g_notify.sh GROUP G1 MASTER 0',
  ]);
  await waitUntil(() => lines(path.join(d, 'reader.out')).length === 5, 3000, 'the reader to get 5 lines');
  assert.deepEqual(lines(path.join(d, 'reader.out')), [
    'INSTANCE "VI_1" MASTER 100',
    'INSTANCE "VI_2" MASTER 100',
    'GROUP "G1" MASTER 0',
    'GROUP "G1" FAULT 0',
    'GROUP "G1" BACKUP 0',
  ]);
});

test('DELETED: notify_deleted alone reports DELETED; with a script runs it; without it keepalived reports FAULT, or nothing from FAULT', async () => {
  const d = freshDir();
  const fifo = path.join(d, 'd.fifo');
  const head = `global_defs {
  script_user root
  vrrp_notify_fifo ${fifo}
  vrrp_notify_fifo_script ${fifoReader(d)}
}
`;
  const notify = recorder(d, 'notify.sh');
  const fault = recorder(d, 'fault.sh');
  const vi1 = instance('VI_1', 1, `  notify_deleted\n  notify_fault ${fault}\n  notify ${notify}`);
  const vi2 = instance('VI_2', 2, `  notify_deleted ${recorder(d, 'deleted.sh')}\n  notify ${notify}`);
  const vi3 = instance('VI_3', 3, `  notify_fault ${fault}\n  notify ${notify}`);
  const vi4 = instance('VI_4', 4, `  notify_fault ${fault}\n  notify ${notify}`);
  const { n } = await started(head + vi1 + vi2 + vi3 + vi4);
  // the daemon may send DELETED before or after reload(): the removed instances keep their scripts
  n.transition(ev('instance', 'VI_1', 'MASTER', 'DELETED', 100));
  await n.reload(await model(head));
  n.transition(ev('instance', 'VI_2', 'BACKUP', 'DELETED', 100));
  n.transition(ev('instance', 'VI_3', 'BACKUP', 'DELETED', 100));
  n.transition(ev('instance', 'VI_4', 'FAULT', 'DELETED', 0));
  await n.idle();
  assert.deepEqual(calls(d).sort(), [
    'deleted.sh',
    'fault.sh',
    'notify.sh|INSTANCE|VI_1|DELETED|100',
    'notify.sh|INSTANCE|VI_2|DELETED|100',
    'notify.sh|INSTANCE|VI_3|FAULT|100',
  ]);
  await waitUntil(() => lines(path.join(d, 'reader.out')).length >= 3, 3000, 'the reader to get 3 lines');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(lines(path.join(d, 'reader.out')), ['INSTANCE "VI_1" DELETED 100', 'INSTANCE "VI_2" DELETED 100', 'INSTANCE "VI_3" FAULT 100']);
});

test('STOP: notify_stop and notify STOP for each instance, then each group; stop() gives them 1 s, closes and removes the FIFO, stops its script', async () => {
  const d = freshDir();
  const fifo = path.join(d, 's.fifo');
  const pidFile = path.join(d, 'hang.pid');
  const text = `global_defs {
  script_user root
  vrrp_notify_fifo ${fifo}
  vrrp_notify_fifo_script ${fifoReader(d)}
}
vrrp_sync_group G1 {
  group { VI_1 }
  notify_stop ${recorder(d, 'g_stop.sh')}
  notify ${recorder(d, 'g_notify.sh')}
}
${instance('VI_1', 1, `  notify_stop ${recorder(d, 'stop.sh', `echo $$ > ${pidFile}; trap '' TERM; sleep 30 & wait; sleep 30`)}\n  notify ${recorder(d, 'notify.sh')}`)}`;
  const { n } = await started(text);
  await waitUntil(() => fs.existsSync(path.join(d, 'reader.pid')), 3000, 'the FIFO script to start');
  const readerPid = Number(fs.readFileSync(path.join(d, 'reader.pid'), 'utf8'));
  n.transition(ev('instance', 'VI_1', 'MASTER', 'STOP', 100));
  n.transition(ev('group', 'G1', 'MASTER', 'STOP', 0));
  const t0 = Date.now();
  await n.stop();
  const took = Date.now() - t0;
  assert.ok(took < 6000, `stop() took ${took} ms`);
  assert.deepEqual(calls(d).sort(), ['g_notify.sh|GROUP|G1|STOP|0', 'g_stop.sh', 'notify.sh|INSTANCE|VI_1|STOP|100', 'stop.sh']);
  const hung = Number(fs.readFileSync(pidFile, 'utf8'));
  await waitUntil(() => !alive(hung), 4000, 'the hanging notify_stop script to be killed');
  // the reader got the STOP lines before the FIFO closed, then read to its end and exited
  assert.deepEqual(lines(path.join(d, 'reader.out')), ['INSTANCE "VI_1" STOP 100', 'GROUP "G1" STOP 0']);
  await waitUntil(() => !alive(readerPid), 4000, 'the FIFO script to stop');
  assert.ok(!fs.existsSync(fifo), 'the FIFO alived created is removed');
  // after stop(), nothing more runs
  n.transition(ev('instance', 'VI_1', 'STOP', 'MASTER', 100));
  await n.idle();
  assert.equal(calls(d).length, 4);
});

test('notify_master_rx_lower_pri runs with its own arguments only; the FIFO gets MASTER_RX_LOWER_PRI; notify is not called', async () => {
  const d = freshDir();
  const fifo = path.join(d, 'rx.fifo');
  const text = `global_defs {
  script_user root
  vrrp_notify_fifo ${fifo}
  vrrp_notify_fifo_script ${fifoReader(d)}
}
${instance('VI_1', 1, `  notify_master_rx_lower_pri "${recorder(d, 'rxlow.sh')} arg"\n  notify ${recorder(d, 'notify.sh')}\n  notify_priority_changes`)}
${instance('VI_2', 2, `  notify ${recorder(d, 'notify.sh')}`)}`;
  const { n } = await started(text);
  n.masterRxLowerPri('VI_1', 100);
  n.priorityChange('VI_1', 'MASTER', 90);
  n.priorityChange('VI_1', 'BACKUP', 80);
  n.priorityChange('VI_2', 'MASTER', 90);
  await n.idle();
  assert.deepEqual(calls(d), ['rxlow.sh|arg']);
  await waitUntil(() => lines(path.join(d, 'reader.out')).length >= 3, 3000, 'the reader to get 3 lines');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(lines(path.join(d, 'reader.out')), [
    'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100',
    'INSTANCE "VI_1" MASTER_PRIORITY 90',
    'INSTANCE "VI_1" BACKUP_PRIORITY 80',
  ]);
});

test('a hanging notify script does not delay the next notification', async () => {
  const d = freshDir();
  const stamps = path.join(d, 'stamps');
  const text = `global_defs { script_user root }
${instance(
  'VI_1',
  1,
  `  notify_master ${writeScript(path.join(d, 'hang.sh'), `echo "master $$ $(date +%s%3N)" >> ${stamps}; sleep 30`)}
  notify_backup ${writeScript(path.join(d, 'next.sh'), `echo "backup $$ $(date +%s%3N)" >> ${stamps}`)}`,
)}`;
  const { n } = await started(text);
  n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
  await waitUntil(() => lines(stamps).length === 1, 3000, 'the hanging script to start');
  const t0 = Date.now();
  n.transition(ev('instance', 'VI_1', 'MASTER', 'BACKUP', 100));
  await waitUntil(() => lines(stamps).length === 2, 3000, 'the next notification');
  const [master, backup] = lines(stamps).map((l) => l.split(' '));
  const delay = Number(backup![2]) - t0;
  assert.ok(delay < 1000, `the next script started ${delay} ms after its transition`);
  assert.ok(alive(Number(master![1])), 'the first script still hangs');
  await n.stop();
  await waitUntil(() => !alive(Number(master![1])), 4000, 'stop() to kill the hanging script');
});

test('scripts run as script_user (or their own user), without IFS, LD_PRELOAD or LD_LIBRARY_PATH', async () => {
  const d = freshDir();
  const out = path.join(d, 'out');
  fs.mkdirSync(out);
  fs.chmodSync(out, 0o777);
  const who = (name: string) => writeScript(path.join(d, name), `id -un > ${out}/${name}.id; env > ${out}/${name}.env`);
  const text = `global_defs { script_user nobody }
${instance('VI_1', 1, `  notify_master ${who('master.sh')}\n  notify_backup ${who('backup.sh')} root\n  notify ${who('notify.sh')}`)}`;
  const saved = { IFS: process.env.IFS, LD_PRELOAD: process.env.LD_PRELOAD, LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH };
  process.env.IFS = 'x';
  process.env.LD_PRELOAD = '/nonexistent/evil.so';
  process.env.LD_LIBRARY_PATH = '/nonexistent';
  try {
    const { n } = await started(text);
    n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
    n.transition(ev('instance', 'VI_1', 'MASTER', 'BACKUP', 100));
    await n.idle();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  assert.equal(fs.readFileSync(`${out}/master.sh.id`, 'utf8'), 'nobody\n');
  assert.equal(fs.readFileSync(`${out}/notify.sh.id`, 'utf8'), 'nobody\n');
  assert.equal(fs.readFileSync(`${out}/backup.sh.id`, 'utf8'), 'root\n');
  for (const s of ['master.sh', 'notify.sh', 'backup.sh']) {
    const env = fs.readFileSync(`${out}/${s}.env`, 'utf8').split('\n');
    assert.ok(!env.some((l) => /^(IFS|LD_PRELOAD|LD_LIBRARY_PATH)=/.test(l)), `${s}: ${env.join(' ')}`);
  }
});

test('enable_script_security: an unsafe notify script is refused at start, naming the path, and never runs; a safe one runs', async () => {
  const d = freshDir();
  const unsafeDir = path.join(d, 'drop');
  fs.mkdirSync(unsafeDir);
  fs.chmodSync(unsafeDir, 0o777);
  const marker = path.join(d, 'unsafe-ran');
  const unsafe = writeScript(path.join(unsafeDir, 'master.sh'), `touch ${marker}`);
  const text = `global_defs {
  script_user root
  enable_script_security
}
${instance('VI_1', 1, `  notify_master ${unsafe}\n  notify ${recorder(d, 'notify.sh')}`)}`;
  const { n, records } = await started(text);
  const refusals = records.filter((r) => r.fields.code === 'ALIVED_SCRIPT_INSECURE');
  assert.deepEqual(
    refusals.map((r) => r.msg),
    [
      `Unsafe permissions found for script '${unsafe}' (notify_master of VRRP instance VI_1) - disabling: ${unsafeDir} is writable by every user (mode 0777), and the script would run as root (uid 0)`,
    ],
  );
  assert.ok(!records.some((r) => r.fields.code === 'ALIVED_SCRIPT_SECURITY_OFF'));
  n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
  await n.idle();
  assert.ok(!fs.existsSync(marker));
  assert.deepEqual(calls(d), ['notify.sh|INSTANCE|VI_1|MASTER|100']);
});

test('without enable_script_security keepalived runs the scripts and logs its SECURITY VIOLATION warning once at start', async () => {
  const d = freshDir();
  const text = `global_defs { script_user root }
${instance('VI_1', 1, `  notify_master ${recorder(d, 'master.sh')}\n  notify ${recorder(d, 'notify.sh')}`)}`;
  const { records } = await started(text);
  assert.deepEqual(
    records.filter((r) => r.fields.code === 'ALIVED_SCRIPT_SECURITY_OFF').map((r) => r.msg),
    ['SECURITY VIOLATION - scripts are being executed but script_security not enabled.'],
  );
});

test('notify_fifo gets VRRP and checker lines, vrrp_notify_fifo only VRRP lines, lvs_notify_fifo only checker lines', async () => {
  const d = freshDir();
  const text = `global_defs {
  script_user root
  notify_fifo ${d}/all.fifo
  notify_fifo_script ${fifoReader(d, 'all.sh')}
  vrrp_notify_fifo ${d}/vrrp.fifo
  vrrp_notify_fifo_script ${fifoReader(d, 'vrrp.sh')}
  lvs_notify_fifo ${d}/lvs.fifo
  lvs_notify_fifo_script ${fifoReader(d, 'lvs.sh')}
}
${instance('VI_1', 1, '')}`;
  const { n } = await started(text);
  n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
  void n.realServerChange({ virtualServer: '[10.0.0.1]:tcp:80', realServer: { address: '10.0.0.2', port: 80, protocol: 'tcp' }, up: false });
  void n.virtualServerChange({ virtualServer: '[10.0.0.1]:tcp:80', up: false });
  await n.dispatched();
  await waitUntil(() => lines(`${d}/all.out`).length === 3 && lines(`${d}/vrrp.out`).length === 1 && lines(`${d}/lvs.out`).length === 2, 3000, 'the readers');
  assert.deepEqual(lines(`${d}/all.out`), ['INSTANCE "VI_1" MASTER 100', 'RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN', 'VS [10.0.0.1]:tcp:80 DOWN']);
  assert.deepEqual(lines(`${d}/vrrp.out`), ['INSTANCE "VI_1" MASTER 100']);
  assert.deepEqual(lines(`${d}/lvs.out`), ['RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN', 'VS [10.0.0.1]:tcp:80 DOWN']);
});

test('a FIFO that cannot be created or is not a FIFO is a logged error naming the path; scripts still run', async () => {
  const d = freshDir();
  const regular = path.join(d, 'regular');
  fs.writeFileSync(regular, 'keep me\n');
  const text = `global_defs {
  script_user root
  notify_fifo ${d}/no/such/dir/x.fifo
  vrrp_notify_fifo ${regular}
}
${instance('VI_1', 1, `  notify ${recorder(d, 'notify.sh')}`)}`;
  const { n, records } = await started(text);
  const errs = records
    .filter((r) => r.fields.code === 'ALIVED_NOTIFY_FIFO' && r.level === 'error')
    .map((r) => r.msg)
    .sort();
  assert.equal(errs.length, 2);
  assert.match(errs[0]!, new RegExp(`^Unable to open notify fifo ${d}/no/such/dir/x.fifo: cannot create it: .*No such file or directory`));
  assert.equal(errs[1], `Unable to open vrrp_notify fifo ${regular}: ${regular} exists and is not a FIFO`);
  n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
  await n.idle();
  assert.deepEqual(calls(d), ['notify.sh|INSTANCE|VI_1|MASTER|100']);
  assert.equal(fs.readFileSync(regular, 'utf8'), 'keep me\n');
});

test('a FIFO nobody reads never blocks: when it is full, lines are dropped with one warning', async () => {
  const d = freshDir();
  const fifo = path.join(d, 'full.fifo');
  const text = `global_defs { vrrp_notify_fifo ${fifo} }\n${instance('VI_1', 1, '')}`;
  const { n, records } = await started(text);
  const t0 = Date.now();
  // 64 KiB of pipe at ~30 bytes a line: 4000 lines overflow it
  for (let i = 0; i < 4000; i++) n.fifoState('instance', 'VI_1', 'MASTER', 100);
  await n.dispatched();
  assert.ok(Date.now() - t0 < 3000);
  const f = n.openFifos[0]!;
  assert.ok(f.isOpen);
  assert.ok(f.droppedLines > 0, 'some lines were dropped');
  assert.equal(records.filter((r) => r.fields.code === 'ALIVED_NOTIFY_FIFO' && r.level === 'warn').length, 1);
  // a reader now gets what fitted, whole lines only
  const got = drainFifo(fifo);
  assert.ok(got.length > 60_000);
  assert.ok(
    got
      .split('\n')
      .filter(Boolean)
      .every((l) => l === 'INSTANCE "VI_1" MASTER 100'),
  );
});

test('reload: an unchanged FIFO keeps its reader; a changed one is replaced; scripts come from the new config', async () => {
  const d = freshDir();
  const head = (fifo2: string) => `global_defs {
  script_user root
  notify_fifo ${d}/keep.fifo
  notify_fifo_script ${fifoReader(d, 'keep.sh')}
  vrrp_notify_fifo ${fifo2}
  vrrp_notify_fifo_script ${fifoReader(d, 'change.sh')}
}
`;
  const { n } = await started(head(`${d}/one.fifo`) + instance('VI_1', 1, `  notify_master ${recorder(d, 'old.sh')}`));
  await waitUntil(() => fs.existsSync(`${d}/keep.pid`) && fs.existsSync(`${d}/change.pid`), 3000, 'the FIFO scripts');
  const keepPid = Number(fs.readFileSync(`${d}/keep.pid`, 'utf8'));
  const changePid = Number(fs.readFileSync(`${d}/change.pid`, 'utf8'));
  fs.rmSync(`${d}/change.pid`);
  await n.reload(await model(head(`${d}/two.fifo`) + instance('VI_1', 1, `  notify_master ${recorder(d, 'new.sh')}`)));
  await waitUntil(() => fs.existsSync(`${d}/change.pid`), 3000, 'the new FIFO script');
  assert.ok(alive(keepPid), 'the unchanged FIFO kept its reader');
  await waitUntil(() => !alive(changePid), 4000, 'the old FIFO script to stop');
  assert.ok(!fs.existsSync(`${d}/one.fifo`));
  assert.ok(fs.statSync(`${d}/two.fifo`).isFIFO());
  assert.equal(fs.readFileSync(`${d}/change.args`, 'utf8'), `${d}/two.fifo\n`);
  n.transition(ev('instance', 'VI_1', 'BACKUP', 'MASTER', 100));
  await n.idle();
  assert.deepEqual(calls(d), ['new.sh']);
  await waitUntil(() => lines(`${d}/keep.out`).length === 1 && lines(`${d}/change.out`).length === 1, 3000, 'both readers');
});

test("check scripts are audited at load as keepalived's checker process does: refusals with enable_script_security, its own SECURITY VIOLATION warning without", async () => {
  const d = freshDir();
  const unsafeDir = path.join(d, 'drop');
  fs.mkdirSync(unsafeDir);
  fs.chmodSync(unsafeDir, 0o777);
  const unsafe = writeScript(path.join(unsafeDir, 'up.sh'), 'exit 0');
  const vs = (extra: string): string => `virtual_server 192.0.2.10 80 {
  protocol TCP
  real_server 192.0.2.11 80 {
    notify_up ${extra}
    notify_down ${recorder(d, 'down.sh')}
  }
}`;
  const secure = await started(`global_defs {\n  script_user root\n  enable_script_security\n}\n${vs(unsafe)}`);
  assert.deepEqual(
    secure.records.filter((r) => r.fields.code === 'ALIVED_SCRIPT_INSECURE').map((r) => r.msg),
    [
      `Unsafe permissions found for script ${unsafe} (notify_up for [192.0.2.11]:tcp:80 of VS [192.0.2.10]:tcp:80) - disabling: ${unsafeDir} is writable by every user (mode 0777), and the script would run as root (uid 0)`,
    ],
  );
  const open = await started(`global_defs {\n  script_user root\n}\n${vs(recorder(d, 'up.sh'))}`);
  assert.deepEqual(
    open.records.filter((r) => r.fields.code === 'ALIVED_SCRIPT_SECURITY_OFF').map((r) => r.msg),
    ['SECURITY VIOLATION - check scripts are being executed but script_security not enabled.'],
  );
});
