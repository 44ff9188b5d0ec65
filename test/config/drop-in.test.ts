import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { planTrackers } from '../../core/track/plan';
import { parseArgs } from '../../core/cli/options';
import { compileFile, compileText, has, instance, noErrors, permissiveHost, PROJECT_ROOT, tmpDir } from '../helpers/config';

/**
 * What keepalived runs, alived runs: each way a keepalived.conf from the wild
 * differs from what alived checked before is a warning that says what
 * keepalived does, the model holds keepalived's resulting values, and
 * `--strict` turns exactly those warnings into errors. Fixtures:
 * test/fixtures/drop-in/.
 */

const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'drop-in');
const fixture = (name: string, strict = false) => compileFile(path.join(FIXTURES, name), { host: permissiveHost, configId: 'node1', strict }, FIXTURES);
const BIN = path.join(PROJECT_ROOT, 'dist', 'core', 'cli', 'main.js');

test('an LVS director written for keepalived 1.x runs: old keywords and out-of-range values are warnings, with keepalived values', async () => {
  const r = await fixture('legacy-lvs.conf');
  noErrors(r);
  has(r, "legacy-lvs.conf:6:5: warning: 'lvs_id' is not a keyword of global_defs in keepalived 2.2, which ignores it, and so does alived");
  has(r, "legacy-lvs.conf:7:5: warning: 'notification_email' block is empty: no mail goes to anyone, as in keepalived");
  has(r, "legacy-lvs.conf:15:5: warning: 'nat_mask' is not a keyword of virtual_server in keepalived 2.2");
  has(
    r,
    'legacy-lvs.conf:16:25: warning: persistence_timeout 0 is out of range (1..2678400); as keepalived does, the line is ignored and the service is not persistent',
  );
  has(r, 'legacy-lvs.conf:17:12: warning: quorum 0 is out of range (1..4294967295); the quorum is 1, as keepalived sets it');
  has(
    r,
    "legacy-lvs.conf:24:13: warning: 'nb_get_retry' is not a keyword of TCP_CHECK in keepalived 2.2, which ignores it, and so does alived: HTTP_GET's old spelling of retry",
  );
  const vs = r.model!.virtualServer![0]!;
  assert.equal(vs.persistenceTimeout, undefined, 'not persistent');
  assert.equal(vs.quorum, 1);
  assert.deepEqual(r.model!.globalDefs!.notificationEmail, []);
});

test('a VRRP node with the habits of configs in the wild runs, with what keepalived makes of them', async () => {
  const r = await fixture('vrrp-habits.conf');
  noErrors(r);
  has(r, "vrrp-habits.conf:4:28: warning: 'enable_script_security' takes no value; 'True' is ignored and 'enable_script_security' is on, as in keepalived");
  has(r, "vrrp-habits.conf:13:15: warning: 'nopreempt' takes no value; '1' is ignored and 'nopreempt' is on, as in keepalived");
  has(
    r,
    'vrrp-habits.conf:13:5: warning: vrrp_instance VI_1: nopreempt does not work with state MASTER: it is cleared and the instance preempts, as keepalived does',
  );
  has(r, "vrrp-habits.conf:15:20: warning: '/24' after the address 10.30.0.11 is dropped, as keepalived drops it: the address used is 10.30.0.11");
  has(r, "vrrp-habits.conf:17:9: warning: '/24' after the address 10.30.0.12 is dropped");
  has(
    r,
    "vrrp-habits.conf:18:9: warning: '-20' after the address 10.30.0.13 is dropped, as keepalived drops it: the address used is 10.30.0.13 (a range is not read here)",
  );
  has(
    r,
    "vrrp-habits.conf:24:9: warning: track_script names vrrp_script 'chk_late', defined further down (line 38); alived uses it, but keepalived 2.2 looks it up while reading this line, does not find it and drops it",
  );
  has(r, 'vrrp-habits.conf:34:44: warning: scope is ignored on the IPv6 address fe80::f816:3eff:fe00:1');
  has(
    r,
    "vrrp-habits.conf:44:13: warning: vrrp_script 'chk_late' is already defined at line 38; as keepalived does, the first one is used and this one is ignored",
  );
  const vi = r.model!.vrrpInstance![0]!;
  assert.equal(vi.nopreempt, undefined, 'state MASTER clears nopreempt');
  assert.equal(vi.unicastSrcIp!.address, '10.30.0.11');
  assert.deepEqual(
    vi.unicastPeer!.map((p) => p.address),
    ['10.30.0.12', '10.30.0.13'],
  );
  assert.equal(r.model!.globalDefs!.enableScriptSecurity, true);
  // the first chk_late is the one tracked (keepalived finds the first of a name)
  const plan = planTrackers(r.model!, r.pluginHost);
  const script = plan.run.find((p) => p.type === 'vrrp_script');
  assert.ok(script, JSON.stringify(plan));
  assert.equal((script.config as { interval: number }).interval, 2);
  await r.pluginHost.close();
});

test('--strict refuses exactly what keepalived would change or drop silently; a warning about this host stays a warning', async () => {
  for (const name of ['legacy-lvs.conf', 'vrrp-habits.conf']) {
    const loose = await fixture(name);
    const strict = await fixture(name, true);
    const compat = loose.diagnostics.filter((d) => d.compat);
    assert.ok(compat.length >= 5, name);
    assert.ok(compat.every((d) => d.severity === 'warning'));
    assert.equal(strict.errorCount, compat.length, `${name}: every compat warning is an error under --strict\n${strict.errors.join('\n')}`);
    assert.ok(strict.errors.every((l) => l.endsWith('[refused under --strict]')));
    assert.equal(strict.ok, false);
  }
  const host = await compileText(
    instance('', 'VI_1', 'interface nosuch0\n  virtual_router_id 51'),
    {},
    { strict: true, host: { interfaceExists: () => false, fileExists: () => true } },
  );
  noErrors(host);
  has(host, "warning: interface 'nosuch0' does not exist on this host");
});

test('what keepalived refuses or never knew stays an error: a typo, a reference to nothing, a placeholder', async () => {
  const r = await compileText(
    `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  prioirty 100
  unicast_peer {
    <PEER_IP>
  }
  virtual_ipaddress {
    10.0.0.1
  }
  track_script {
    nothing_here
  }
}
virtual_server 10.0.0.1 80 {
  protocol TCP
  nat_mask 255.255.255.0
  real_server 10.0.0.2 80 {
    nat_mask 255.255.255.0
  }
}
`,
  );
  has(r, "keepalived.conf:4:3: error: unknown keyword 'prioirty' in vrrp_instance (did you mean 'priority'?)");
  has(r, "keepalived.conf:6:5: error: '<PEER_IP>' is not an IP address");
  has(r, "keepalived.conf:12:5: error: track_script refers to vrrp_script 'nothing_here', which is not defined");
  // an old keyword is ignored only where keepalived had it
  has(r, "keepalived.conf:17:3: warning: 'nat_mask' is not a keyword of virtual_server");
  has(r, "keepalived.conf:19:5: error: unknown keyword 'nat_mask' in real_server");
});

test('a port that nothing uses is refused: a fwmark DR real server with a port and no checker', async () => {
  const r = await compileText(
    'virtual_server fwmark 3 {\n  lvs_method DR\n  real_server 10.0.0.2 443 {\n    weight 1\n  }\n  real_server 10.0.0.3 {\n  }\n}\n',
  );
  has(r, 'keepalived.conf:3:3: error: fwmark virtual_server fwmark 3: the port of DR real_server 10.0.0.2 443 is used by nothing');
  assert.equal(r.errors.length, 1, r.errors.join('\n'));
});

test('a keyword given twice at the top level: the message names the top level', async () => {
  const r = await compileText('net_namespace a\nnet_namespace b\n');
  has(r, "keepalived.conf:2:1: warning: 'net_namespace' is already set in the top level (at line 1); this later value counts, as in keepalived");
});

test('alived -t --strict exits 1 where alived -t exits 0, and the summary counts what --strict would refuse', () => {
  const file = path.join(FIXTURES, 'legacy-lvs.conf');
  const loose = spawnSync(process.execPath, [BIN, '-t', '-f', file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(loose.status, 0, loose.stderr);
  assert.match(
    loose.stderr,
    /configuration valid: .*legacy-lvs\.conf: 0 errors, \d+ warnings \(6 on what keepalived changes or drops silently: errors under --strict\)/,
  );
  const strict = spawnSync(process.execPath, [BIN, '-t', '--strict', '-f', file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(strict.status, 1, strict.stderr);
  assert.match(strict.stderr, /legacy-lvs\.conf:15:5: error: 'nat_mask' is not a keyword of virtual_server .*\[refused under --strict\]/);
  assert.match(strict.stderr, /configuration INVALID: .*6 errors/);
});

test('--instance NAME gives the daemon its own pid file and state directory unless -p / --state-dir say otherwise', () => {
  const a = parseArgs(['--instance', 'edge1', '-n']);
  assert.equal(a.pidFile, '/run/alived_edge1.pid');
  assert.equal(a.stateDir, '/var/lib/alived/instance/edge1');
  const b = parseArgs(['--instance=edge2', '-p', '/tmp/x.pid', '--state-dir', '/srv/alived']);
  assert.equal(b.pidFile, '/tmp/x.pid');
  assert.equal(b.stateDir, '/srv/alived');
  const c = parseArgs(['-n']);
  assert.equal(c.pidFile, '/run/alived.pid');
  assert.equal(c.stateDir, '/var/lib/alived');
  for (const bad of ['../etc', '.hidden', 'a/b', '', 'x'.repeat(65)]) {
    assert.throws(() => parseArgs(['--instance', bad]), /--instance .*a name is 1 to 64 letters/);
  }
});

test('two daemons started with --instance and no --state-dir run side by side (each its own outbox and pid file)', async () => {
  // the health-check side only (-C), with nothing to check: no VRRP outside a lab
  const dir = tmpDir('alived-instances-');
  const conf = path.join(dir, 'k.conf');
  // a webhook (to a port nobody listens on) makes each daemon keep an outbox, which one daemon holds at a time
  fs.writeFileSync(conf, 'global_defs {\n  router_id test\n}\nwebhook ops {\n  url http://127.0.0.1:9/hook\n}\n');
  const names = [`t${process.pid}a`, `t${process.pid}b`];
  const procs = names.map((n) => spawnDaemon(conf, n));
  try {
    for (const [i, n] of names.entries()) {
      await waitFile(`/run/alived_${n}.pid`, procs[i]!);
      // the outbox (and its lock) is taken once the daemon starts, after the pid file
      await waitFile(`/var/lib/alived/instance/${n}/notify/outbox`, procs[i]!);
      assert.equal(fs.statSync(`/var/lib/alived/instance/${n}`).mode & 0o777, 0o700);
    }
    for (const p of procs) await waitLine(p, /Configuration loaded/);
    for (const p of procs) assert.equal(p.exitCode, null, 'both keep running');
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
    for (const n of names) fs.rmSync(`/var/lib/alived/instance/${n}`, { recursive: true, force: true });
  }
  for (const n of names) assert.ok(!fs.existsSync(`/run/alived_${n}.pid`), 'the pid file is removed at stop');
});

function spawnDaemon(conf: string, name: string): ChildProcess & { out: string[] } {
  const p = spawn(process.execPath, [BIN, '-n', '-l', '-G', '-C', '-f', conf, '--instance', name], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & {
    out: string[];
  };
  p.out = [];
  p.stdout!.on('data', (d: Buffer) => p.out.push(d.toString()));
  p.stderr!.on('data', (d: Buffer) => p.out.push(d.toString()));
  return p;
}

async function waitFile(file: string, p: ChildProcess & { out: string[] }): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(file)) {
    if (p.exitCode !== null) assert.fail(`the daemon exited ${p.exitCode}: ${p.out.join('')}`);
    if (Date.now() > deadline) assert.fail(`no ${file} within 20 s: ${p.out.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitLine(p: ChildProcess & { out: string[] }, re: RegExp): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!re.test(p.out.join(''))) {
    if (p.exitCode !== null) assert.fail(`the daemon exited ${p.exitCode}: ${p.out.join('')}`);
    if (Date.now() > deadline) assert.fail(`no line matching ${re} within 20 s: ${p.out.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
