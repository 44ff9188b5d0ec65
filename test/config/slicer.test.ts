import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileConfig } from '../../core/config/compile';
import { Diagnostics, formatDiagnostic } from '../../core/config/diagnostics';
import { rootSchema } from '../../core/config/keywords/root';
import { preprocess, preprocessSteps } from '../../core/config/preprocess';
import { silentLogger } from '../../core/log/logger';
import { BUILTIN_PLUGINS } from '../../core/plugin/builtins';
import { PluginHost } from '../../core/plugin/host';
import type { CheckCtx } from '../../core/config/schema';
import { NEVER_PAUSE, runInSlices, runToEnd, Slicer, type Steps } from '../../core/config/slicer';
import { buildTree, buildTreeSteps, type Stmt } from '../../core/config/tree';
import { PROJECT_ROOT, permissiveHost, tmpDir, writeFiles } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { processAlive } from '../helpers/process';

/**
 * A compile runs in slices: the preprocessor, the block tree and the schema
 * pause when their slicer says so, and the event loop gets a turn before the
 * compile ends. Slicer(0) pauses at every reading of its clock, so these
 * tests do not depend on how fast the machine is; the figures (compile time,
 * the longest stall of the main loop) are in bench/config-reload.ts.
 */

/** 400 instances with ten VIPs each and 50 virtual servers of ten real servers: about 8,000 lines */
function largeConfig(): string {
  const out: string[] = ['global_defs {', '  router_id slices', '}'];
  for (let i = 0; i < 400; i++) {
    out.push(`vrrp_instance VI_${i} {`, `  interface eth${i % 4}`, `  virtual_router_id ${(i >> 2) + 1}`, '  priority 100', '  virtual_ipaddress {');
    for (let k = 0; k < 10; k++) out.push(`    10.${i >> 8}.${i & 255}.${k + 1}/24`);
    out.push('  }', '}');
  }
  for (let v = 0; v < 50; v++) {
    out.push(`virtual_server 192.168.1.${v + 1} 80 {`, '  lvs_sched rr', '  lvs_method DR', '  protocol TCP');
    for (let r = 0; r < 10; r++) out.push(`  real_server 172.16.${v}.${r + 1} 80 {`, '    TCP_CHECK {', '      connect_timeout 3', '    }', '  }');
    out.push('}');
  }
  return out.join('\n') + '\n';
}

const dir = writeFiles({ 'keepalived.conf': largeConfig() });
const FILE = path.join(dir, 'keepalived.conf');

/**
 * Runs a pass in slices with a setImmediate scheduled just before: the
 * callback must run while the pass is paused (it has not ended, and it has
 * paused), and the result must be the one of the same pass run to its end.
 */
async function pausedTurn<T>(steps: Steps<T>, slicer: Slicer): Promise<{ result: T; turnWhilePaused: boolean }> {
  let ended = false;
  let turnWhilePaused = false;
  setImmediate(() => (turnWhilePaused = !ended && slicer.pauses > 0));
  const result = await runInSlices(steps, slicer);
  ended = true;
  return { result, turnWhilePaused };
}

/** the keywords of the built-in plugins (TCP_CHECK, ...) */
async function builtinKeywords(): Promise<PluginHost> {
  const host = new PluginHost({ log: silentLogger });
  for (const p of BUILTIN_PLUGINS) await host.apply(p, { builtin: true });
  return host;
}

function ctxFor(diags: Diagnostics, host: PluginHost): CheckCtx {
  return { diags, host: permissiveHost, slots: host.registry, define: () => undefined, refer: () => undefined, useFeature: () => undefined };
}

/** positions and models compared as data */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

test('the preprocessor pauses between lines, and gives the same lines as without pauses', async () => {
  const slicer = new Slicer(0);
  const diags = new Diagnostics();
  const { result, turnWhilePaused } = await pausedTurn(preprocessSteps(FILE, { configId: 'n', diagnostics: diags, slicer }), slicer);
  assert.ok(turnWhilePaused, 'the event loop had a turn while the preprocessor was paused');
  assert.ok(slicer.pauses > 10, `${slicer.pauses} pauses`);
  const direct = preprocess(FILE, { configId: 'n', diagnostics: new Diagnostics() });
  assert.deepEqual(plain(result.lines), plain(direct.lines));
  assert.equal(result.work, direct.work);
});

test('expansion pauses too: a nested ~SEQ that goes past the work limit pauses on its way there', async () => {
  const d = writeFiles({ 'keepalived.conf': '~SEQ(a, 300) ~SEQ(b, 300) ~SEQ(c, 300) $X_${a}_${b}_${c}=1\n' });
  const slicer = new Slicer(0);
  const diags = new Diagnostics();
  const { turnWhilePaused } = await pausedTurn(preprocessSteps(path.join(d, 'keepalived.conf'), { configId: 'n', diagnostics: diags, slicer }), slicer);
  assert.ok(turnWhilePaused);
  assert.ok(slicer.pauses > 10, `${slicer.pauses} pauses`);
  assert.deepEqual(
    diags.list.map((x) => x.code),
    ['ALIVED_CONFIG_EXPANSION_LIMIT'],
  );
});

test('the block tree and the schema pause between statements, with the same tree and model as without pauses', async () => {
  const lines = preprocess(FILE, { configId: 'n', diagnostics: new Diagnostics() }).lines;

  const treeSlicer = new Slicer(0);
  const tree = await pausedTurn(buildTreeSteps(lines, new Diagnostics(), {}, treeSlicer), treeSlicer);
  assert.ok(tree.turnWhilePaused, 'a turn while the tree was being built');
  const stmts = buildTree(lines, new Diagnostics());
  assert.deepEqual(plain(tree.result), plain(stmts));

  const root: Stmt = { name: { text: 'the top level', pos: { file: FILE, line: 1, col: 1 }, quoted: false }, args: [], block: stmts };
  const plugins = await builtinKeywords();
  const schemaSlicer = new Slicer(0);
  const sliced = new Diagnostics();
  const schema = await pausedTurn(rootSchema.parseBlockSteps(root, 'the top level', ctxFor(sliced, plugins), undefined, schemaSlicer), schemaSlicer);
  assert.ok(schema.turnWhilePaused, 'a turn while the schema was parsing');
  assert.ok(schemaSlicer.pauses > 10, `${schemaSlicer.pauses} pauses`);
  const direct = new Diagnostics();
  const model = runToEnd(rootSchema.parseBlockSteps(root, 'the top level', ctxFor(direct, plugins), undefined, NEVER_PAUSE));
  await plugins.close();
  assert.deepEqual(direct.list.map(formatDiagnostic), []);
  assert.deepEqual(plain(schema.result), plain(model));
  assert.deepEqual(sliced.list.map(formatDiagnostic), []);
  assert.equal((model as { vrrpInstance: unknown[] }).vrrpInstance.length, 400);
  assert.equal((model as { virtualServer: unknown[] }).virtualServer.length, 50);
});

test('compileConfig runs in slices: a setImmediate scheduled as it starts runs before it ends; the result is the same', async () => {
  const slicer = new Slicer(0);
  let ended = false;
  let turn = false;
  setImmediate(() => (turn = !ended && slicer.pauses > 0));
  const sliced = await compileConfig(FILE, { builtins: BUILTIN_PLUGINS, host: permissiveHost, configId: 'n', slicer });
  ended = true;
  assert.ok(turn, 'the event loop had a turn during the compile');
  assert.equal(sliced.ok, true, sliced.diagnostics.map(formatDiagnostic).join('\n'));
  const whole = await compileConfig(FILE, { builtins: BUILTIN_PLUGINS, host: permissiveHost, configId: 'n', slicer: NEVER_PAUSE });
  assert.deepEqual(plain(sliced.model), plain(whole.model));
  assert.deepEqual(sliced.diagnostics, whole.diagnostics);
  await sliced.pluginHost.close();
  await whole.pluginHost.close();

  // the same for a config with errors: every diagnostic, in the same order
  const broken = writeFiles({
    'keepalived.conf': largeConfig().replace('priority 100', 'priority 300').replace('lvs_sched rr', 'lvs_sched nope') + 'vrrp_instance X {\n',
  });
  const bf = path.join(broken, 'keepalived.conf');
  const a = await compileConfig(bf, { builtins: BUILTIN_PLUGINS, host: permissiveHost, configId: 'n', slicer: new Slicer(0) });
  const b = await compileConfig(bf, { builtins: BUILTIN_PLUGINS, host: permissiveHost, configId: 'n', slicer: NEVER_PAUSE });
  assert.equal(a.ok, false);
  assert.ok(a.errorCount >= 3);
  assert.deepEqual(a.diagnostics, b.diagnostics);
  await a.pluginHost.close();
  await b.pluginHost.close();
});

test('a daemon answers SIGUSR1 while a reload compiles a large config', async () => {
  // checks only (-C): no VRRP, no lab. The reload's config is large (150,000 lines of e-mail addresses) and invalid at its end.
  const d = tmpDir('alived-slices-');
  const name = `slices${process.pid}`;
  const dataFile = `/tmp/alived_${name}.data`;
  const big = ['global_defs {', '  notification_email {'];
  for (let i = 0; i < 150_000; i++) big.push(`    a${i}@example.com b${i}@example.com c${i}@example.com d${i}@example.com`);
  big.push('  }', '}', 'not_a_keyword 1', '');
  fs.writeFileSync(path.join(d, 'big.conf'), big.join('\n'));
  fs.writeFileSync(path.join(d, 'keepalived.conf'), 'global_defs {\n  router_id small\n}\n');
  const child = spawn(
    process.execPath,
    [
      path.join(PROJECT_ROOT, 'dist/core/cli/main.js'),
      '-n',
      '-l',
      '-G',
      '-C',
      `--instance=${name}`,
      '-f',
      'keepalived.conf',
      '-p',
      path.join(d, 'a.pid'),
      '--state-dir',
      path.join(d, 'state'),
    ],
    {
      cwd: d,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  after(() => {
    if (child.pid !== undefined && processAlive(child.pid)) child.kill('SIGKILL');
    fs.rmSync(dataFile, { force: true });
  });
  await waitFor('Configuration loaded', () => (out.includes('Configuration loaded') ? true : undefined), 15_000);
  fs.rmSync(dataFile, { force: true });
  fs.copyFileSync(path.join(d, 'big.conf'), path.join(d, 'keepalived.conf'));
  child.kill('SIGHUP');
  // "Reloading" is logged as the compile starts
  await waitFor('the reload to start', () => (out.includes('Reloading') ? true : undefined), 15_000, 1);
  child.kill('SIGUSR1');
  await waitFor('the reload to be rejected', () => (out.includes('Reload rejected') ? true : undefined), 60_000);
  await waitFor('the data file', () => (out.includes(`wrote ${dataFile}`) ? true : undefined), 5000);
  assert.ok(out.indexOf(`wrote ${dataFile}`) < out.indexOf('Reload rejected'), `SIGUSR1 was answered during the compile:\n${out.slice(-2000)}`);
  assert.match(out, /keepalived\.conf:150005:1: error: unknown keyword 'not_a_keyword'/);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
});
