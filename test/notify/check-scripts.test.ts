import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Daemon } from '../../core/daemon/daemon';
import type { NotifierStatus } from '../../core/notify/pipeline';
import { Backend } from '../helpers/backend';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { memoryLogger } from '../helpers/log';
import { processAlive as alive } from '../helpers/process';
import { httpReceiver, type HttpReceiver } from './receivers';

/**
 * The checks' notify scripts in the daemon go through the notifier
 * pipeline, as the VRRP ones do: notify_up / notify_down and quorum_up /
 * quorum_down run with the words of the config and nothing more, in the
 * daemon's environment, each followed by its `RS ...` / `VS ...` line to
 * lvs_notify_fifo (read by its script); the `script:notify` notifier counts
 * them in the status; a notify_up that hangs delays neither the checks nor
 * the next notify_down nor a webhook; at a reload a real server that left
 * is notified down with its old script; at shutdown with omega notify_down
 * and quorum_down run with keepalived's 1 s, the FIFO gets their lines, and
 * no script is left running; with enable_script_security an unsafe
 * notify_down is refused, named, never run, and counted as failed.
 *
 * Real daemon objects, real scripts, a real FIFO and its reader, real TCP
 * servers on loopback; no VRRP runs, so no lab is needed.
 */

const isRoot = process.getuid?.() === 0;
if (!isRoot) throw new Error('test/notify needs root: notify scripts run as script_user root and FIFOs are created (run the tests as root, as CI does)');

const base = tmpDir('alived-check-scripts-');
fs.chmodSync(base, 0o755);
let seq = 0;

function freshDir(): string {
  const d = path.join(base, `t${++seq}`);
  fs.mkdirSync(d, { mode: 0o755 });
  fs.chmodSync(d, 0o755);
  return d;
}

function writeScript(file: string, body: string): string {
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(file, 0o755);
  return file;
}

/**
 * rec.sh NAME ARGS...: appends `NAME|<number of arguments after NAME>|ARGS...|mark=$ALIVED_CHECK_SCRIPTS_MARK`
 * to calls.log; when the file hang-NAME exists it writes its pid to NAME.pid and sleeps
 */
function recorder(d: string): string {
  return writeScript(
    path.join(d, 'rec.sh'),
    `name=$1; shift
line="$name|$#"; for a in "$@"; do line="$line|$a"; done
echo "$line|mark=\${ALIVED_CHECK_SCRIPTS_MARK-unset}" >> ${d}/calls.log
if [ -e ${d}/hang-$name ]; then echo $$ > ${d}/$name.pid; exec sleep 30; fi`,
  );
}

/** the lvs_notify_fifo_script: copies every line of the FIFO (its last argument) to lvs.out */
function fifoReader(d: string): string {
  return writeScript(path.join(d, 'reader.sh'), `eval fifo=\\\${$#}\nwhile IFS= read -r line; do echo "$line" >> ${d}/lvs.out; done < "$fifo"`);
}

const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const calls = (d: string): string[] => lines(path.join(d, 'calls.log'));

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function backend(): Promise<Backend> {
  const b = await new Backend().start();
  cleanups.push(() => b.stop());
  return b;
}

async function receiver(): Promise<HttpReceiver> {
  const r = await httpReceiver(200);
  cleanups.push(() => r.close());
  return r;
}

async function startDaemon(d: string, config: string) {
  const file = path.join(d, 'keepalived.conf');
  fs.writeFileSync(file, config);
  const { log, records } = memoryLogger('debug');
  const daemon = await Daemon.build({ configFile: file, log, stateDir: path.join(d, 'state') });
  cleanups.push(() => daemon.stop());
  await daemon.start();
  return { daemon, records, file };
}

function scriptStatus(daemon: Daemon): NotifierStatus {
  const s = daemon.notifyStatus()?.notifiers.find((n) => n.id === 'script:notify');
  assert.ok(s, 'the script:notify notifier is in the status');
  return s;
}

test(
  'notify_up/down and quorum_up/down through the pipeline: keepalived arguments and environment, FIFO lines after them, status; a hanging notify_up delays nothing; reload; omega at shutdown',
  { timeout: 60_000 },
  async () => {
    const d = freshDir();
    const rec = recorder(d);
    const a = await backend();
    const b = await backend();
    const hook = await receiver();
    const vport = a.port + 1;
    const vs = `[127.0.0.1]:tcp:${vport}`;
    const rsA = `[127.0.0.1]:tcp:${a.port}`;
    const realServer = (p: number, name: string, extra = '') => `  real_server 127.0.0.1 ${p} {
    notify_up "${rec} up_${name} x"
    notify_down "${rec} down_${name}"
${extra}    TCP_CHECK {
      connect_timeout 1
      retry 0
      warmup 0
    }
  }
`;
    const config = (servers: string) => `global_defs {
  script_user root
  lvs_notify_fifo ${d}/lvs.fifo
  lvs_notify_fifo_script ${fifoReader(d)}
}
webhook ops {
  url ${hook.url}
  events checker quorum
}
virtual_server 127.0.0.1 ${vport} {
  delay_loop 0.2
  lvs_sched rr
  protocol TCP
  omega
  quorum 2
  quorum_up "${rec} quorum_up one two"
  quorum_down "${rec} quorum_down"
${servers}}
`;
    process.env.ALIVED_CHECK_SCRIPTS_MARK = 'from-the-daemon';
    const { daemon, records, file } = await startDaemon(d, config(realServer(a.port, 'a') + realServer(b.port, 'b')));

    // both servers start up: the quorum is gained at start (do_vs_notifies(init))
    await waitFor('quorum_up at start', () => (calls(d).includes('quorum_up|2|one|two|mark=from-the-daemon') ? true : undefined), 5000);

    // a goes down: notify_down with no argument added, then the quorum is lost
    await a.stop();
    await waitFor('notify_down and quorum_down', () => (calls(d).length >= 3 ? true : undefined), 5000);
    assert.deepEqual(calls(d), ['quorum_up|2|one|two|mark=from-the-daemon', 'down_a|0|mark=from-the-daemon', 'quorum_down|0|mark=from-the-daemon']);
    await waitFor('the FIFO lines', () => (lines(`${d}/lvs.out`).length >= 3 ? true : undefined), 5000);
    assert.deepEqual(lines(`${d}/lvs.out`), [`VS ${vs} UP`, `RS ${rsA} ${vs} DOWN`, `VS ${vs} DOWN`]);
    // in the pipeline: each script starts before its FIFO line is written, in the order of the events
    const order = records
      .filter(
        (r) =>
          (r.msg.startsWith('Executing script') && /notify_down|quorum_down/.test(String(r.fields.for))) ||
          (r.msg === 'notify fifo write' && /DOWN/.test(String(r.fields.line))),
      )
      .map((r) => (r.msg === 'notify fifo write' ? `line ${String(r.fields.line)}` : `run ${String(r.fields.for)}`));
    assert.deepEqual(order.slice(0, 4), [
      `run notify_down for ${rsA} of VS ${vs}`,
      `line RS ${rsA} ${vs} DOWN`,
      `run quorum_down of VS ${vs}`,
      `line VS ${vs} DOWN`,
    ]);
    let st = scriptStatus(daemon);
    assert.equal(st.failed, 0);
    // quorum UP, a DOWN, quorum DOWN
    assert.ok(st.accepted >= 3 && st.sent === st.accepted, JSON.stringify(st));

    // a comes back with a notify_up that hangs: the checks, the next notify_down and the webhook go on
    fs.writeFileSync(path.join(d, 'hang-up_a'), '');
    await a.start();
    const hangPid = Number(
      await waitFor(
        'the hanging notify_up',
        () => (fs.existsSync(`${d}/up_a.pid`) ? fs.readFileSync(`${d}/up_a.pid`, 'utf8').trim() || undefined : undefined),
        5000,
      ),
    );
    assert.ok(calls(d).includes('up_a|1|x|mark=from-the-daemon'));
    await waitFor('quorum_up again', () => (calls(d).filter((c) => c.startsWith('quorum_up|')).length === 2 ? true : undefined), 5000);
    const hooksBefore = hook.requests.length;
    const downAt = Date.now();
    await a.stop();
    await waitFor('notify_down while notify_up hangs', () => (calls(d).filter((c) => c.startsWith('down_a|')).length === 2 ? true : undefined), 5000);
    const tookMs = Date.now() - downAt;
    // delay_loop 0.2 s and a refused connection: the change is seen within a few hundred ms, the script starts at once
    assert.ok(tookMs < 2000, `notify_down came ${tookMs} ms after the server died, behind a hanging notify_up`);
    assert.ok(alive(hangPid), 'notify_up still hangs');
    await waitFor(
      'the webhook of the change',
      () => (hook.requests.slice(hooksBefore).some((q) => /"new_state":"DOWN"/.test(q.body) && q.body.includes('"real_server"')) ? true : undefined),
      3000,
    );
    // the script wrote its line before it exited: its delivery is in flight until Node sees the exit
    st = scriptStatus(daemon);
    assert.equal(st.accepted, st.sent + st.failed + st.inFlight, `accepted = sent + failed + in flight: ${JSON.stringify(st)}`);
    st = await waitFor(
      'the script notifier settles',
      () => {
        const now = scriptStatus(daemon);
        return now.inFlight === 0 ? now : undefined;
      },
      3000,
    );
    assert.equal(st.failed, 0, JSON.stringify(st));
    assert.ok(st.accepted >= 7 && st.sent === st.accepted, JSON.stringify(st));

    // reload: b leaves the config while up; its notify_down is the old config's, and the quorum goes with it
    fs.rmSync(path.join(d, 'hang-up_a'));
    const before = calls(d).length;
    fs.writeFileSync(file, config(realServer(a.port, 'a')));
    const outcome = await daemon.reload();
    assert.equal(outcome.applied, true);
    await waitFor(
      'the notify_down of the removed server',
      () =>
        calls(d)
          .slice(before)
          .some((c) => c.startsWith('down_b|'))
          ? true
          : undefined,
      5000,
    );
    assert.ok(calls(d).slice(before).includes('down_b|0|mark=from-the-daemon'), calls(d).join('\n'));

    // a comes back, then alived stops: with omega, notify_down of a (which hangs) and quorum_down run with 1 s, then the FIFO closes
    await a.start();
    await waitFor('a up again', () => (calls(d).filter((c) => c.startsWith('up_a|')).length === 2 ? true : undefined), 5000);
    fs.writeFileSync(path.join(d, 'hang-down_a'), '');
    const atStop = calls(d).length;
    const stopAt = Date.now();
    await daemon.stop();
    const stopMs = Date.now() - stopAt;
    const last = calls(d).slice(atStop);
    assert.ok(last.includes('down_a|0|mark=from-the-daemon'), last.join('\n'));
    const stopPid = Number(fs.readFileSync(`${d}/down_a.pid`, 'utf8').trim());
    assert.ok(!alive(stopPid), 'the omega notify_down that hung was killed at its 1 s');
    assert.ok(!alive(hangPid), 'the notify_up that hung was killed at stop');
    assert.ok(stopMs < 8000, `stop took ${stopMs} ms`);
    const killed = records.find((r) => r.fields.code === 'ALIVED_SCRIPT_FAILED' && String(r.fields.for) === `notify_down for ${rsA} of VS ${vs}`);
    assert.ok(killed && /timed out/.test(killed.msg), `the omega notify_down timed out after its 1 s: ${killed?.msg}`);
    await waitFor(
      'the shutdown lines in the FIFO',
      () => (lines(`${d}/lvs.out`).slice(-2).join('\n') === `RS ${rsA} ${vs} DOWN\nVS ${vs} DOWN` ? true : undefined),
      3000,
    ).catch(() => {
      throw new Error(`lvs.out: ${lines(`${d}/lvs.out`).join(' | ')}`);
    });
    delete process.env.ALIVED_CHECK_SCRIPTS_MARK;
  },
);

test(
  'enable_script_security: an unsafe notify_down is refused, named and never run; the notifier counts it as failed; a safe quorum_down runs',
  { timeout: 30_000 },
  async () => {
    const d = freshDir();
    const rec = recorder(d);
    const drop = path.join(d, 'drop');
    fs.mkdirSync(drop);
    fs.chmodSync(drop, 0o777);
    const marker = path.join(d, 'unsafe-ran');
    const unsafe = writeScript(path.join(drop, 'down.sh'), `touch ${marker}`);
    const a = await backend();
    const vport = a.port + 1;
    const { daemon, records } = await startDaemon(
      d,
      `global_defs {
  script_user root
  enable_script_security
}
virtual_server 127.0.0.1 ${vport} {
  delay_loop 0.2
  lvs_sched rr
  protocol TCP
  quorum_down "${rec} quorum_down"
  real_server 127.0.0.1 ${a.port} {
    notify_down ${unsafe}
    TCP_CHECK {
      connect_timeout 1
      retry 0
      warmup 0
    }
  }
}
`,
    );
    await a.stop();
    await waitFor('quorum_down', () => (calls(d).some((c) => c.startsWith('quorum_down|0|')) ? true : undefined), 5000);
    const st = await waitFor(
      'the failed delivery',
      () => {
        const s = scriptStatus(daemon);
        return s.failed >= 1 ? s : undefined;
      },
      3000,
    );
    assert.match(
      st.lastError ?? '',
      new RegExp(
        `notify_down for \\[127\\.0\\.0\\.1\\]:tcp:${a.port} of VS \\[127\\.0\\.0\\.1\\]:tcp:${vport} not run \\(${drop.replace(/[.]/g, '\\.')} is writable by every user`,
      ),
    );
    const refusal = records.find((r) => r.fields.code === 'ALIVED_SCRIPT_INSECURE');
    assert.ok(refusal, 'the refusal is logged');
    assert.match(
      refusal.msg,
      new RegExp(`^Unsafe permissions found for script .*down\\.sh.* - disabling: ${drop.replace(/[.]/g, '\\.')} is writable by every user`),
    );
    assert.ok(
      records.some((r) => r.fields.code === 'ALIVED_NOTIFY_FAILED' && r.fields.notifier === 'script:notify'),
      'the failed delivery is logged',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!fs.existsSync(marker), 'the unsafe script never ran');
    await daemon.stop();
  },
);
