import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { NotifyPipeline, type SinkSpec } from '../../core/notify/pipeline';
import { validateEntry, type OutboxEntry } from '../../core/notify/outbox-entry';
import type { DeliveryInfo, NotifyEvent } from '../../core/plugin/events';
import type { DeliveryOptions, Notifier } from '../../core/plugin/types';
import { prepareStateDir, stateDirProblem } from '../../core/daemon/state-dir';
import { parseIpvsState } from '../../core/ipvs/reconciler';
import { memoryLogger } from '../helpers/log';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * The state directory as a sick disk and a hostile user leave it: entries
 * that are valid JSON but not entries, of unknown types, FIFOs and links
 * named like entries; a lock that is a directory; a sequence of 1e300; a
 * directory another user owns or can write; a full disk (a 64 KB tmpfs);
 * a kill -9 inside a flapping window. alived starts, says what it moved
 * aside and why, and delivers everything intact, in order.
 */

const pipelines: NotifyPipeline[] = [];
const mounts: string[] = [];
after(async () => {
  await Promise.all(pipelines.map((p) => p.stop({ drainMs: 0 })));
  for (const m of mounts) spawnSync('umount', ['-l', m]);
});

const FAST: DeliveryOptions = { retryInitialMs: 20, retryMaxMs: 80, attemptTimeoutMs: 2000, coalesceLimit: 0 };

function vrrp(name: string, to: 'MASTER' | 'BACKUP' | 'FAULT', n = 0): NotifyEvent {
  return { type: 'vrrp', kind: 'instance', name, from: to === 'MASTER' ? 'BACKUP' : 'MASTER', to, priority: 100 + n, reason: `test ${n}`, time: Date.now() };
}

interface Recorder extends Notifier {
  readonly got: Array<{ event: NotifyEvent; info: DeliveryInfo }>;
  fail: boolean;
}

function recorder(): Recorder {
  const r: Recorder = {
    got: [],
    fail: false,
    async deliver(event, _signal, info) {
      if (r.fail) throw new Error('the server is down');
      r.got.push({ event, info });
    },
  };
  return r;
}

function pipeline(stateDir: string) {
  const { log, records } = memoryLogger('info');
  const p = new NotifyPipeline({ log, stateDir });
  pipelines.push(p);
  return { p, records };
}

function sink(id: string, notifier: Notifier, options: DeliveryOptions = FAST): SinkSpec {
  return { id, kind: id.split(':')[0]!, name: id.split(':')[1] ?? id, notifier, options };
}

function entry(sinkId: string, sequence: number, event: unknown, extra: Record<string, unknown> = {}): { name: string; json: string; id: string } {
  const id = randomUUID();
  const source = (event as { name?: string }).name ? `vrrp:instance:${(event as { name: string }).name}` : 'daemon';
  return {
    id,
    name: `${String(sequence).padStart(12, '0')}-${id}.json`,
    json: JSON.stringify({ v: 1, id, sequence, sink: sinkId, source, acceptedAt: Date.now(), event, ...extra }),
  };
}

function box(stateDir: string, sinkId: string): string {
  const d = path.join(stateDir, 'notify', 'outbox', encodeURIComponent(sinkId));
  fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

test('entries that are JSON but not entries, of unknown types, FIFOs and links: moved aside, each named with its reason; the intact ones are delivered in order', async () => {
  const dir = tmpDir('alived-outbox-bad-');
  const hooks = box(dir, 'webhook:ops');
  const good = [entry('webhook:ops', 3, vrrp('VI_1', 'MASTER', 1)), entry('webhook:ops', 9, vrrp('VI_1', 'BACKUP', 2))];
  for (const g of good) fs.writeFileSync(path.join(hooks, g.name), g.json);
  const bad: Record<string, string> = {};
  const put = (why: string, e: { name: string; json: string }): void => {
    fs.writeFileSync(path.join(hooks, e.name), e.json);
    bad[e.name] = why;
  };
  // the crash loop: a real-server event without its server
  put('event.virtualServer is not a string', entry('webhook:ops', 4, { type: 'real-server' }));
  put('event.first is not an object', entry('webhook:ops', 5, { type: 'flapping', source: 'vrrp:instance:VI_1', count: 2, states: [], spanMs: 0, time: 1 }));
  put('is not an event type this alived knows', entry('webhook:ops', 6, { type: 'bgp', time: 1 }));
  put('sequence 1e+300 is not an integer', {
    ...entry('webhook:ops', 7, vrrp('VI_1', 'MASTER')),
    json: entry('webhook:ops', 1e300, vrrp('VI_1', 'MASTER')).json,
  });
  put('not JSON', { name: entry('webhook:ops', 8, {}).name, json: '{"v":1,' });
  // a FIFO named like an entry must not hang the start; a link must not be followed
  const fifo = entry('webhook:ops', 10, {}).name;
  execFileSync('mkfifo', [path.join(hooks, fifo)]);
  bad[fifo] = 'it is a FIFO, not a regular file';
  const link = entry('webhook:ops', 11, {}).name;
  fs.symlinkSync('/etc/shadow', path.join(hooks, link));
  bad[link] = 'it is a symbolic link';
  // an entry in another notifier's folder
  const stray = entry('mail:keepalived', 12, vrrp('VI_2', 'MASTER'));
  put("is not the one of its folder ('webhook:ops')", stray);

  const { p, records } = pipeline(dir);
  const r = recorder();
  p.open();
  p.setSinks([sink('webhook:ops', r)]);
  await waitFor('the two intact entries', () => (r.got.length >= 2 ? true : undefined), 5000);
  assert.deepEqual(
    r.got.map((g) => g.info.sequence),
    [3, 9],
  );
  assert.deepEqual(
    r.got.map((g) => g.info.id),
    good.map((g) => g.id),
  );
  for (const [name, why] of Object.entries(bad)) {
    const line = records.find((l) => l.msg.includes(name));
    assert.ok(line, `a line names ${name}`);
    assert.match(line.msg, new RegExp(why.replace(/[()'+.]/g, '\\$&')), `${name}: ${line.msg}`);
    assert.match(line.msg, /moved aside as .*\.bad/);
    assert.ok(fs.existsSync(path.join(hooks, `${name}.bad`)) || fs.lstatSync(path.join(hooks, `${name}.bad`)), `${name}.bad exists`);
  }
  assert.equal(fs.readFileSync('/etc/shadow').length > 0, true);
  assert.equal(p.status().outboxHealth.rejected, Object.keys(bad).length);
  // the numbers go on after the highest intact entry, not after 1e300
  p.publish(vrrp('VI_1', 'MASTER', 3));
  await waitFor('the new event', () => (r.got.length === 3 ? true : undefined), 5000);
  assert.equal(r.got[2]!.info.sequence > 9 && r.got[2]!.info.sequence < 2000, true, `sequence ${r.got[2]!.info.sequence}`);
});

test('the sequence file: garbage is moved aside and numbering goes on after the highest entry; a lock that is a directory or a FIFO is moved aside with its reason', async () => {
  const dir = tmpDir('alived-outbox-seq-');
  const hooks = box(dir, 'webhook:ops');
  const e = entry('webhook:ops', 41, vrrp('VI_1', 'MASTER'));
  fs.writeFileSync(path.join(hooks, e.name), e.json);
  fs.writeFileSync(path.join(dir, 'notify', 'sequence'), '1e300\n');
  fs.mkdirSync(path.join(dir, 'notify', 'lock'));
  const { p, records } = pipeline(dir);
  const r = recorder();
  p.open();
  p.setSinks([sink('webhook:ops', r)]);
  p.publish(vrrp('VI_1', 'BACKUP'));
  await waitFor('both', () => (r.got.length === 2 ? true : undefined), 5000);
  assert.deepEqual(
    r.got.map((g) => g.info.sequence),
    [41, 42],
  );
  assert.ok(
    records.some((l) => /sequence file .* cannot be used: it holds "1e300\\n", not a number/.test(l.msg)),
    records.map((l) => l.msg).join('\n'),
  );
  assert.ok(
    records.some((l) => /lock .* could not be used \(it is a directory, not a regular file\); moved aside/.test(l.msg)),
    records.map((l) => l.msg).join('\n'),
  );
  assert.ok(!records.some((l) => /keeps changing hands/.test(l.msg)));
  await p.stop({ drainMs: 0 });

  // a FIFO as the lock: the next start neither hangs nor fails
  fs.rmSync(path.join(dir, 'notify', 'lock'), { force: true });
  execFileSync('mkfifo', [path.join(dir, 'notify', 'lock')]);
  const second = pipeline(dir);
  second.p.open();
  assert.ok(second.records.some((l) => /lock .* could not be used \(it is a FIFO, not a regular file\)/.test(l.msg)));
  assert.equal(second.p.status().outboxHealth.lockProblem, undefined);
});

test(
  'kill -9 inside a flapping window: the held events are in the outbox, and the next start sends them as one summary after what came before',
  { timeout: 30_000 },
  async () => {
    const dir = tmpDir('alived-outbox-flap-');
    // a child process that accepts 11 events of one instance for a notifier that is down, then is killed
    const script = `
    const { NotifyPipeline } = require(${JSON.stringify(path.join(PROJECT_ROOT, 'dist/core/notify/pipeline.js'))});
    const { createLogger } = require(${JSON.stringify(path.join(PROJECT_ROOT, 'dist/core/log/logger.js'))});
    const p = new NotifyPipeline({ log: createLogger([]), stateDir: ${JSON.stringify(dir)} });
    p.open();
    p.setSinks([{ id: 'webhook:ops', kind: 'webhook', name: 'ops', options: { coalesceLimit: 5, coalesceWindowMs: 60000, retryInitialMs: 60000 },
      notifier: { deliver: () => Promise.reject(new Error('down')) } }]);
    for (let i = 0; i < 11; i++) p.publish({ type: 'vrrp', kind: 'instance', name: 'VI_1', from: i % 2 ? 'MASTER' : 'BACKUP', to: i % 2 ? 'BACKUP' : 'MASTER', priority: 100, reason: 'flap ' + i, time: Date.now() + i });
    setTimeout(() => process.stdout.write('accepted\\n'), 300);
    setInterval(() => {}, 1000);
  `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the child did not accept its events')), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('accepted')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const files = fs.readdirSync(path.join(dir, 'notify', 'outbox', 'webhook%3Aops')).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 11, 'the 5 sent and the 6 held are all in the outbox');

    const { p, records } = pipeline(dir);
    const r = recorder();
    p.open();
    p.setSinks([sink('webhook:ops', r, { ...FAST, coalesceLimit: 5, coalesceWindowMs: 60_000 })]);
    await waitFor('5 events and the summary', () => (r.got.length === 6 ? true : undefined), 5000);
    assert.deepEqual(
      r.got.slice(0, 5).map((g) => (g.event as { reason: string }).reason),
      ['flap 0', 'flap 1', 'flap 2', 'flap 3', 'flap 4'],
    );
    const summary = r.got[5]!.event;
    assert.equal(summary.type, 'flapping');
    assert.equal(summary.type === 'flapping' && summary.count, 6);
    assert.deepEqual(summary.type === 'flapping' && summary.states, ['BACKUP', 'MASTER', 'BACKUP', 'MASTER', 'BACKUP', 'MASTER']);
    assert.ok(r.got[5]!.info.sequence > r.got[4]!.info.sequence);
    assert.ok(
      records.some((l) => /6 notifications of vrrp:instance:VI_1 held for a flapping summary when alived last stopped; sent now as one summary/.test(l.msg)),
    );
    await waitFor(
      'the outbox empty',
      () => (fs.readdirSync(path.join(dir, 'notify', 'outbox', 'webhook%3Aops')).filter((f) => f.endsWith('.json')).length === 0 ? true : undefined),
      5000,
    );
  },
);

/** a tmpfs of `size`, mounted on a directory of the test's, unmounted after */
function smallDisk(size: string): string {
  const d = tmpDir('alived-outbox-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', d]);
  mounts.push(d);
  return d;
}

function fill(dir: string): string {
  const f = path.join(dir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${f}`, 'bs=4k', 'count=10000'], { stdio: 'ignore' });
  } catch {
    // ENOSPC: full, as wanted
  }
  return f;
}

function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.tmp') || e.name.startsWith('.')) out.push(path.join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

test(
  'a full state directory (a 512 KB tmpfs filled up): failures counted and logged once, no .tmp left, written when room returns, order and numbering kept across a restart; a lock that cannot be written does not keep the outbox from being read',
  { timeout: 60_000 },
  async () => {
    const disk = smallDisk('512k');
    const dir = path.join(disk, 'state');
    const first = pipeline(dir);
    const r = recorder();
    r.fail = true;
    first.p.open();
    first.p.setSinks([sink('webhook:ops', r, { ...FAST, retryInitialMs: 60_000, retryMaxMs: 60_000 })]);
    first.p.publish(vrrp('VI_1', 'MASTER', 0));
    const sinkBox = path.join(dir, 'notify', 'outbox', 'webhook%3Aops');
    await waitFor(
      'the first entry written',
      () => (fs.existsSync(sinkBox) && fs.readdirSync(sinkBox).some((f) => f.endsWith('.json')) ? true : undefined),
      5000,
    );
    const filler = fill(disk);
    for (let i = 1; i <= 75; i++) first.p.publish(vrrp('VI_1', i % 2 ? 'BACKUP' : 'MASTER', i));
    await waitFor('75 failed writes', () => (first.p.status().outboxHealth.unwritten === 75 ? true : undefined), 10_000).catch((err) => {
      throw new Error(`${err.message}: ${JSON.stringify(first.p.status().outboxHealth)}; ${execFileSync('df', [disk]).toString()}`);
    });
    const health = first.p.status().outboxHealth;
    assert.ok(health.writeFailures >= 75, `writeFailures ${health.writeFailures}`);
    assert.match(health.lastWriteError ?? '', /ENOSPC/);
    assert.equal(first.records.filter((l) => l.fields.code === 'ALIVED_NOTIFY_OUTBOX').length, 1, 'one line for the burst');
    assert.deepEqual(leftovers(disk), [], 'no temporary file left');
    // room again: the retry writes them all, oldest first, and says so
    fs.rmSync(filler);
    await waitFor('the burst over', () => (first.p.status().outboxHealth.unwritten === 0 ? true : undefined), 15_000);
    assert.ok(first.records.some((l) => /writes succeed again after \d+ failed/.test(l.msg)));
    const onDisk = fs.readdirSync(path.join(dir, 'notify', 'outbox', 'webhook%3Aops')).filter((f) => f.endsWith('.json'));
    assert.equal(onDisk.length, 76);

    // the daemon dies; the disk fills up again; the lock of the dead one is gone
    fs.rmSync(path.join(dir, 'notify', 'lock'), { force: true });
    const filler2 = fill(disk);
    const second = pipeline(dir);
    const r2 = recorder();
    second.p.open();
    assert.match(second.p.status().outboxHealth.lockProblem ?? '', /ENOSPC|no space/i);
    assert.ok(second.records.some((l) => /cannot write the lock .*no other alived holds it, so the outbox is used without it/.test(l.msg)));
    second.p.setSinks([sink('webhook:ops', r2)]);
    second.p.publish(vrrp('VI_1', 'FAULT', 99));
    await waitFor('all 77', () => (r2.got.length === 77 ? true : undefined), 10_000);
    const seq = r2.got.map((g) => g.info.sequence);
    assert.deepEqual(
      seq,
      [...seq].sort((a, b) => a - b),
      'delivered in sequence order',
    );
    assert.deepEqual(
      r2.got.slice(0, 76).map((g) => (g.event as { priority: number }).priority),
      Array.from({ length: 76 }, (_, i) => 100 + i),
      'oldest first, as accepted',
    );
    assert.equal(new Set(seq).size, 77, 'no number twice');
    assert.equal((r2.got[76]!.event as { priority: number }).priority, 199);
    // once the writes under way have settled (one may be between its temporary file and its rename now)
    await second.p.stop({ drainMs: 0 });
    fs.rmSync(filler2);
    await waitFor('no temporary file left', () => (leftovers(disk).length === 0 ? true : undefined), 5000).catch(() => assert.deepEqual(leftovers(disk), []));
  },
);

test("the state directory is checked before use: another user's, group- or world-writable, under a non-sticky writable parent, through another user's link: refused, naming why; --unsafe-state-dir warns and goes on", () => {
  const nobody = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
  const base = tmpDir('alived-statedir-');
  const ok = path.join(base, 'ok');
  fs.mkdirSync(ok, { mode: 0o700 });
  assert.equal(stateDirProblem(ok), undefined);

  const theirs = path.join(base, 'theirs');
  fs.mkdirSync(theirs, { mode: 0o700 });
  fs.chownSync(theirs, nobody, nobody);
  assert.match(stateDirProblem(theirs) ?? '', new RegExp(`owned by uid ${nobody}`));

  const shared = path.join(base, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o777);
  assert.match(stateDirProblem(shared) ?? '', /writable by everyone \(mode 777\)/);
  fs.chmodSync(shared, 0o770);
  assert.match(stateDirProblem(shared) ?? '', /writable by its group/);

  const open = path.join(base, 'open');
  fs.mkdirSync(path.join(open, 'state'), { recursive: true, mode: 0o700 });
  fs.chmodSync(open, 0o777);
  assert.match(stateDirProblem(path.join(open, 'state')) ?? '', /above it, is writable by everyone and not sticky/);
  fs.chmodSync(open, 0o1777);
  assert.equal(stateDirProblem(path.join(open, 'state')), undefined, 'a sticky parent (as /tmp) is fine');

  // another user's link in /tmp-like place pointing at a directory of root's
  const link = path.join(open, 'link');
  fs.symlinkSync(ok, link);
  fs.lchownSync(link, nobody, nobody);
  assert.match(stateDirProblem(link) ?? '', /symbolic link owned by uid \d+, who could point it elsewhere/);

  assert.throws(
    () => prepareStateDir(theirs),
    (err: Error & { code?: string }) =>
      err.code === 'ALIVED_DAEMON_STATE_DIR' && /unsafe: .* owned by uid/.test(err.message) && /--unsafe-state-dir/.test(err.message),
  );
  const warned: string[] = [];
  assert.match(prepareStateDir(theirs, { allowUnsafe: true, warn: (m) => warned.push(m) }) ?? '', /owned by/);
  assert.match(warned[0] ?? '', /Used anyway \(--unsafe-state-dir\)/);
});

const BIN = path.join(PROJECT_ROOT, 'dist', 'core', 'cli', 'main.js');

function runDaemon(args: string[], until: RegExp, timeoutMs = 20_000): Promise<{ code: number | null; out: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, '-n', '-l', '-G', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (d: Buffer): void => {
      out += d.toString();
      if (until.test(out)) proc.kill('SIGTERM');
    };
    proc.stdout!.on('data', take);
    proc.stderr!.on('data', take);
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no ${until} within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    proc.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, pid: proc.pid! });
    });
  });
}

test(
  'the daemon: a broken entry under a configured notifier no longer stops the start (it did, every time); an unsafe state directory does, with exit 4 and no pid file left',
  { timeout: 60_000 },
  async () => {
    const dir = tmpDir('alived-outbox-daemon-bad-');
    const conf = path.join(dir, 'keepalived.conf');
    fs.writeFileSync(conf, 'global_defs {\n  router_id BAD\n}\nwebhook ops {\n  url http://127.0.0.1:9/hook\n}\n');
    const state = path.join(dir, 'state');
    const hooks = box(state, 'webhook:ops');
    const broken = entry('webhook:ops', 5, { type: 'real-server' });
    fs.writeFileSync(path.join(hooks, broken.name), broken.json);
    const flap = entry('webhook:ops', 6, { type: 'flapping', source: 'x', count: 1, first: {}, last: {}, states: [], spanMs: 0, time: 1 });
    fs.writeFileSync(path.join(hooks, flap.name), flap.json);
    const pid = path.join(dir, 'a.pid');
    const run = await runDaemon(['-f', conf, '-p', pid, '--state-dir', state], /Configuration loaded/);
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /event\.virtualServer is not a string; moved aside/);
    assert.match(run.out, /event\.first\.type undefined is not an event type this alived knows; moved aside/);
    assert.doesNotMatch(run.out, /TypeError|Cannot read properties/);

    fs.chmodSync(state, 0o777);
    const refused = await runDaemon(['-f', conf, '-p', pid, '--state-dir', state], /start failed/);
    assert.equal(refused.code, 4);
    assert.match(refused.out, /start failed: the state directory .*state is unsafe: .*writable by everyone \(mode 777\)/);
    assert.equal(fs.existsSync(pid), false, 'no pid file left');
    assert.equal(fs.existsSync(path.join(state, 'notify', 'lock')), false, 'no lock left');

    const anyway = await runDaemon(['-f', conf, '-p', pid, '--state-dir', state, '--unsafe-state-dir'], /Configuration loaded/);
    assert.equal(anyway.code, 0, anyway.out);
    assert.match(anyway.out, /WARN the state directory .* is unsafe: .*Used anyway \(--unsafe-state-dir\)/);
  },
);

test('the IPVS state file is checked before it says which kernel services are leftovers', () => {
  assert.deepEqual(
    parseIpvsState(
      '{"services":[{"family":4,"protocol":"tcp","address":"10.0.0.1","port":80},{"family":6,"fwmark":7}],"extra":{"timeouts":{"tcp":900,"tcpFin":120,"udp":300}}}',
    ),
    {
      services: [
        { family: 4, protocol: 'tcp', address: '10.0.0.1', port: 80 },
        { family: 6, fwmark: 7 },
      ],
      extra: { timeouts: { tcp: 900, tcpFin: 120, udp: 300 } },
    },
  );
  for (const [text, why] of [
    ['{"services":', /not JSON/],
    ['[]', /not a JSON object/],
    ['{"services":3}', /services is not a list/],
    ['{"services":[null]}', /services\[0\] is not a service/],
    ['{"services":[{"family":4,"protocol":"tcp","address":"::1","port":80}]}', /services\[0\]\.address is not an IPv4 address/],
    ['{"services":[{"family":4,"protocol":"tcp","address":"10.0.0.1","port":1e9}]}', /port is not a port/],
    ['{"services":[],"extra":{"timeouts":{"tcp":"x"}}}', /extra\.timeouts/],
  ] as const) {
    assert.match(parseIpvsState(text) as string, why, text);
  }
});

test('validateEntry accepts what the pipeline writes, for every event type', () => {
  const events: NotifyEvent[] = [
    vrrp('VI_1', 'MASTER'),
    { type: 'real-server', virtualServer: '[10.0.0.1]:tcp:80', realServer: { address: '10.0.0.2', port: 80 }, up: false, weight: 1, reason: 'x', time: 1 },
    { type: 'quorum', virtualServer: 'v', up: true, alive: 2, quorum: 1, time: 1 },
    { type: 'check-alert', kind: 'real-server', virtualServer: 'v', service: 's', state: 'DOWN', checkerState: 'DOWN', message: 'm', time: 1 },
    { type: 'vip', instance: 'VI_1', address: '10.0.0.9/24 on eth0', action: 'restored', reason: 'r', time: 1 },
    { type: 'daemon', what: 'start', time: 1 },
  ];
  events.push({ type: 'flapping', source: 's', count: 2, first: events[0]!, last: events[1]!, states: ['MASTER', 'DOWN'], spanMs: 0, time: 2 });
  for (const event of events) {
    const e: OutboxEntry = { v: 1, id: randomUUID(), sequence: 7, sink: 'webhook:ops', source: 's', acceptedAt: Date.now(), event };
    assert.equal(typeof validateEntry(JSON.parse(JSON.stringify(e))), 'object', event.type);
  }
});
