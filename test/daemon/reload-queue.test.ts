import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Daemon, type ReloadOutcome } from '../../core/daemon/daemon';
import type { LogRecord } from '../../core/log/logger';
import { tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * Reloads queue (Daemon level): a reload asked for while one runs is not
 * dropped. It runs after the running one, reading the file as it is then;
 * any number asked for meanwhile are that one reload. Each config says
 * which it is by the file its `include` misses, a warning the reload's
 * outcome carries and logs. No VRRP and no checks run: no lab is needed.
 */

const QUEUED = 'SIGHUP during a reload: another reload follows with the newest config';
const base = tmpDir('alived-reload-queue-');
let seq = 0;
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops) await s();
});

/** a config that names itself: its include matches no file, and the warning says which */
const config = (name: string): string => `global_defs {\n  router_id ${name}\n}\ninclude missing-${name}.conf\n`;

async function startDaemon(): Promise<{ daemon: Daemon; file: string; records: LogRecord[] }> {
  const dir = path.join(base, `t${++seq}`);
  fs.mkdirSync(dir);
  const file = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(file, config('start'));
  const { log, records } = memoryLogger();
  const daemon = await Daemon.build({ configFile: file, log });
  stops.push(() => daemon.stop());
  await daemon.start();
  return { daemon, file, records };
}

/** Holds the next reload after it compiled, before it is applied: a tap on the running config's beforeReload. */
function holdNextReload(daemon: Daemon): { reached: Promise<void>; release: () => void } {
  let reachedResolve!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (reachedResolve = r));
  const released = new Promise<void>((r) => (release = r));
  daemon.pluginHost.hooks.beforeReload.tapPromise('test-hold', async () => {
    reachedResolve();
    await released;
  });
  return { reached, release };
}

const names = (o: ReloadOutcome): string[] => o.diagnostics.map((d) => /missing-(\w+)\.conf/.exec(d.message)?.[1]).filter((n): n is string => !!n);
const messages = (records: LogRecord[]): string[] => records.map((r) => r.msg);

test('a reload asked for during a reload follows it with the newest file; requests meanwhile join that one', async () => {
  const { daemon, file, records } = await startDaemon();
  const hold = holdNextReload(daemon);
  fs.writeFileSync(file, config('A'));
  const first = daemon.reload();
  await hold.reached; // A is read and compiled; the reload is under way
  fs.writeFileSync(file, config('B'));
  const second = daemon.reload();
  const third = daemon.reload();
  const fourth = daemon.reload();
  assert.notEqual(second, first, 'not the running reload: it read A');
  assert.equal(third, second, 'requests during one reload are one follow-up');
  assert.equal(fourth, second);
  hold.release();

  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.applied, true);
  assert.deepEqual(names(a), ['A']);
  assert.equal(b.applied, true);
  assert.deepEqual(names(b), ['B']);
  assert.equal((await third).applied, true);
  assert.equal(daemon.model.globalDefs!.routerId, 'B', 'B is the running config');
  assert.equal(daemon.reloads, 2);

  const log = messages(records);
  assert.equal(log.filter((m) => m === QUEUED).length, 1, 'said once for the batch');
  const at = (re: RegExp, from = 0): number => log.findIndex((m, i) => i >= from && re.test(m));
  const queued = at(new RegExp(QUEUED));
  const aWarn = at(/missing-A\.conf/);
  const aDone = at(/^Reload complete$/);
  const bWarn = at(/missing-B\.conf/);
  const bDone = at(/^Reload complete$/, aDone + 1);
  assert.ok(queued >= 0 && aWarn >= 0 && aDone > aWarn && bWarn > aDone && bDone > bWarn, `order in the log:\n${log.join('\n')}`);
  assert.deepEqual(
    records.filter((r) => r.msg === 'Reload complete').map((r) => r.fields.reloads),
    [1, 2],
  );

  // once the follow-up has run, the next request is a reload of its own again
  fs.writeFileSync(file, config('C'));
  const c = await daemon.reload();
  assert.deepEqual(names(c), ['C']);
  assert.equal(daemon.reloads, 3);
  assert.equal(messages(records).filter((m) => m === QUEUED).length, 1);
});

test('a follow-up whose file is broken is rejected like any reload; the reload before it stays applied', async () => {
  const { daemon, file } = await startDaemon();
  const hold = holdNextReload(daemon);
  fs.writeFileSync(file, config('A'));
  const first = daemon.reload();
  await hold.reached;
  fs.writeFileSync(file, 'global_defs {\n  router_id B\n');
  const second = daemon.reload();
  hold.release();
  assert.equal((await first).applied, true);
  const b = await second;
  assert.equal(b.applied, false);
  assert.ok(
    b.diagnostics.some((d) => d.code === 'ALIVED_CONFIG_UNCLOSED_BLOCK'),
    JSON.stringify(b.diagnostics),
  );
  assert.equal(daemon.model.globalDefs!.routerId, 'A');
  assert.equal(daemon.reloads, 1);
});

test('a stop during a reload drops the follow-up: the daemon stops after the running reload', async () => {
  const { daemon, file, records } = await startDaemon();
  const hold = holdNextReload(daemon);
  fs.writeFileSync(file, config('A'));
  const first = daemon.reload();
  await hold.reached;
  fs.writeFileSync(file, config('B'));
  const second = daemon.reload();
  const stopped = daemon.stop('SIGTERM');
  hold.release();
  assert.equal((await first).applied, true);
  assert.deepEqual(await second, { applied: false, diagnostics: [] });
  await stopped;
  assert.equal(daemon.reloads, 1);
  assert.equal(daemon.model.globalDefs!.routerId, 'A');
  const log = messages(records);
  assert.ok(!log.some((m) => /missing-B/.test(m)), 'B was never read');
  assert.ok(log.indexOf('Stopping') > log.indexOf('Reload complete'), 'the stop waited for the running reload');
});
