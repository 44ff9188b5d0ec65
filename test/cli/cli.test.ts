import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configFile, parseArgs, DEFAULT_CONFIG_FILES } from '../../core/cli/options';
import { PROJECT_ROOT, writeFiles } from '../helpers/config';
import { Lab, removeStaleLabs } from '../../core/lab/netns';

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const SECRET = 's3cr3tPW';

const VALID = `
global_defs {
  router_id test_node
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass ${SECRET}
  }
  virtual_ipaddress {
    192.0.2.10/24
  }
}
`;

const BROKEN = `
vrrp_instance VI_1 {
  interface eth0
  priority 300
  virtual_ipaddress {
    192.0.2.10/24
  }
  authentication {
    auth_type PASS
    auth_pass ${SECRET}
  }
}
`;

function cli(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// A daemon with a vrrp_instance sends VRRP: it only ever runs inside a lab namespace
let lab: Lab;
before(async () => {
  removeStaleLabs();
  lab = await Lab.create({ name: 'cli', hosts: [{ name: 'n1', ip: '10.99.0.11' }] });
});
after(() => (lab ? lab.destroy() : undefined));

/** cli(), as a command that may start the daemon: inside the lab host's namespace */
function cliInLab(args: string[], cwd?: string) {
  const r = spawnSync('ip', ['netns', 'exec', lab.host('n1').ns, process.execPath, BIN, ...args], { encoding: 'utf8', cwd, timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

test('-v and -h', () => {
  assert.match(cli(['-v']).out, /^alived v0\.1\.0/);
  const h = cli(['--help']);
  assert.equal(h.code, 0);
  for (const opt of [
    '--use-file',
    '--config-test',
    '--dont-fork',
    '--log-console',
    '--log-detail',
    '--log-facility',
    '--log-file',
    '--no-syslog',
    '--vrrp',
    '--check',
    '--pid',
    '--config-id',
    '--dump-conf',
    '--version',
    '--help',
  ]) {
    assert.ok(h.out.includes(opt), `help lists ${opt}`);
  }
  assert.match(h.out, /Exit codes: 0 ok/);
});

test('a bad command line exits 2 with a hint', () => {
  const r = cli(['--use-fil', 'x']);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown option '--use-fil' \(did you mean '--use-file'\?\)/);
  assert.equal(cli(['-f']).code, 2);
  assert.equal(cli(['-P', '-C', '-f', 'x']).code, 2);
  assert.equal(cli(['stray']).code, 2);
});

test('options parse as keepalived spells them, bundled short switches included', () => {
  const o = parseArgs(['-lnD', '-f', 'a.conf', '--pid=/tmp/x.pid', '-S', '3', '-i', 'high', '-g', '-G']);
  assert.equal(o.logConsole && o.dontFork && o.logDetail, true);
  assert.equal(o.useFile, 'a.conf');
  assert.equal(o.pidFile, '/tmp/x.pid');
  assert.equal(o.logFacility, 19); // LOG_LOCAL3
  assert.equal(o.configId, 'high');
  assert.equal(o.logFile, '/tmp/alived.log');
  assert.equal(o.noSyslog, true);
  assert.equal(parseArgs(['-S', 'daemon']).logFacility, 3);
  assert.equal(parseArgs(['--log-file=/var/log/a.log']).logFile, '/var/log/a.log');
});

test('the default config is /etc/alived/alived.conf, else /etc/keepalived/keepalived.conf', () => {
  assert.deepEqual(DEFAULT_CONFIG_FILES, ['/etc/alived/alived.conf', '/etc/keepalived/keepalived.conf']);
  const o = parseArgs([]);
  assert.equal(
    configFile(o, (p) => p === '/etc/keepalived/keepalived.conf'),
    '/etc/keepalived/keepalived.conf',
  );
  assert.equal(
    configFile(o, () => true),
    '/etc/alived/alived.conf',
  );
  assert.equal(
    configFile(o, () => false),
    undefined,
  );
  if (!DEFAULT_CONFIG_FILES.some((f) => fs.existsSync(f))) {
    const r = cli(['-t']);
    assert.equal(r.code, 3);
    assert.match(r.err, /no config file/);
  }
});

test('-t on a valid config exits 0; on an invalid one exits 1 with every error as FILE:LINE:COL', () => {
  const dir = writeFiles({ 'good.conf': VALID, 'bad.conf': BROKEN });
  const good = cli(['-t', '-f', 'good.conf'], dir);
  assert.equal(good.code, 0, good.err);
  assert.match(good.err, /alived: configuration valid: good.conf: 0 errors, \d+ warnings?/);
  const bad = cli(['-t', '-f', 'bad.conf'], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^bad.conf:4:12: error: 300 is out of range: expected 1\.\.255$/m);
  assert.match(bad.err, /^bad.conf:2:1: error: 'vrrp_instance VI_1' lacks required 'virtual_router_id'$/m);
  assert.match(bad.err, /alived: configuration INVALID: bad.conf: 2 errors/);
  for (const r of [good, bad]) assert.ok(!(r.out + r.err).includes(SECRET), 'auth_pass never printed');
});

test('-d prints the resolved config with secrets masked', () => {
  const dir = writeFiles({
    'a.conf': '$N=7\n~SEQ(I,1,2) include part${I}.conf\n',
    'part1.conf': 'global_defs {\n router_id r$N\n}\n',
    'part2.conf': VALID.replace('global_defs {\n  router_id test_node\n}', ''),
  });
  const r = cli(['-t', '-d', '-f', 'a.conf'], dir);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^global_defs \{\n {4}router_id r7\n\}\nvrrp_instance VI_1 \{\n/);
  assert.match(r.out, /auth_pass \*{8}/);
  assert.ok(!r.out.includes(SECRET));
});

function waitFor<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const v = fn();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

function startDaemon(args: string[], cwd: string) {
  const child = spawn('ip', ['netns', 'exec', lab.host('n1').ns, process.execPath, BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out = { text: '' };
  child.stdout!.on('data', (d) => (out.text += d));
  child.stderr!.on('data', (d) => (out.text += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}

test('the daemon: start, SIGHUP with a broken config keeps running, SIGHUP with a good one reloads, SIGTERM stops cleanly', async () => {
  const dir = writeFiles({ 'a.conf': VALID });
  const pid = path.join(dir, 'alived.pid');
  const d = startDaemon(['-n', '-l', '-D', '-G', '-f', 'a.conf', '-p', pid], dir);
  await waitFor('Configuration loaded', () => d.out.text.includes('Configuration loaded'));
  assert.equal(fs.readFileSync(pid, 'utf8').trim(), String(d.child.pid));
  assert.match(d.out.text, /NOTICE Starting alived v0\.1\.0/);

  fs.writeFileSync(path.join(dir, 'a.conf'), BROKEN);
  d.child.kill('SIGHUP');
  await waitFor('reload rejected', () => d.out.text.includes('Reload rejected'));
  assert.match(d.out.text, /ERROR .*a\.conf:4:12: error: 300 is out of range/);
  assert.equal(d.child.exitCode, null, 'still running');

  fs.writeFileSync(path.join(dir, 'a.conf'), VALID.replace('priority 150', 'priority 120'));
  d.child.kill('SIGHUP');
  await waitFor('reload complete', () => d.out.text.includes('Reload complete'));

  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0);
  assert.match(d.out.text, /NOTICE Stopped/);
  assert.ok(!fs.existsSync(pid), 'pid file removed');
  assert.ok(!d.out.text.includes(SECRET), 'auth_pass never logged');
});

test('the daemon refuses an invalid config (exit 1) and a pid file held by a live alived (exit 4)', async () => {
  const dir = writeFiles({ 'bad.conf': BROKEN, 'good.conf': VALID });
  const bad = cliInLab(['-n', '-G', '-f', 'bad.conf', '-p', path.join(dir, 'x.pid')], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /not started: 2 errors in the config/);

  const pid = path.join(dir, 'held.pid');
  const d = startDaemon(['-n', '-l', '-G', '-f', 'good.conf', '-p', pid], dir);
  await waitFor('pid file', () => fs.existsSync(pid) && fs.readFileSync(pid, 'utf8').trim() === String(d.child.pid));
  const second = cliInLab(['-n', '-G', '-f', 'good.conf', '-p', pid], dir);
  assert.equal(second.code, 4);
  assert.match(second.err, new RegExp(`another alived \\(pid ${d.child.pid}\\) holds`));
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0);

  // a pid file left by a dead process is taken over
  fs.writeFileSync(pid, '999999\n');
  const third = startDaemon(['-n', '-l', '-G', '-f', 'good.conf', '-p', pid], dir);
  await waitFor('takeover', () => fs.existsSync(pid) && fs.readFileSync(pid, 'utf8').trim() === String(third.child.pid));
  third.child.kill('SIGINT');
  assert.equal(await third.exited, 0);
});

test('without -n the daemon detaches: the command returns 0 and the daemon runs until SIGTERM', async () => {
  const dir = writeFiles({ 'good.conf': VALID });
  const pid = path.join(dir, 'bg.pid');
  const r = cliInLab(['-G', `--log-file=${path.join(dir, 'bg.log')}`, '-f', 'good.conf', '-p', pid], dir);
  assert.equal(r.code, 0, r.err);
  const bgPid = Number(await waitFor('pid file', () => (fs.existsSync(pid) ? fs.readFileSync(pid, 'utf8').trim() || undefined : undefined)));
  try {
    await waitFor(
      'log file',
      () => fs.existsSync(path.join(dir, 'bg.log')) && fs.readFileSync(path.join(dir, 'bg.log'), 'utf8').includes('Configuration loaded'),
    );
  } finally {
    process.kill(bgPid, 'SIGTERM');
  }
  await waitFor('pid file removed', () => !fs.existsSync(pid));
});

test('under the test runner, a daemon with a vrrp_instance refuses to start outside a lab namespace', async () => {
  assert.equal(process.env.ALIVED_REQUIRE_LAB, '1', 'test/run.js sets ALIVED_REQUIRE_LAB');
  const dir = writeFiles({ 'good.conf': VALID });
  const r = cli(['-n', '-l', '-G', '-f', 'good.conf', '-p', path.join(dir, 'root.pid')], dir);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /refusing to run VRRP outside a lab namespace/);
  assert.doesNotMatch(r.err, /VRRP process started/);
});

test('the daemon runs health checks: a real server on loopback goes down when its listener closes and comes back, with notify scripts', async () => {
  const net = await import('node:net');
  const listen = (port = 0): Promise<import('node:net').Server> =>
    new Promise((resolve) => {
      const s = net.createServer((c) => c.destroy());
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  let server = await listen();
  const port = (server.address() as import('node:net').AddressInfo).port;
  const dir = writeFiles({});
  const events = path.join(dir, 'events');
  const conf = `virtual_server 127.0.0.1 ${port} {
  delay_loop 1
  lvs_sched rr
  protocol TCP
  real_server 127.0.0.1 ${port} {
    notify_up "/bin/sh -c 'echo up >> ${events}'"
    notify_down "/bin/sh -c 'echo down >> ${events}'"
    TCP_CHECK {
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'c.conf'), conf);
  // checks only (-C): no VRRP, so it may run here; loopback only
  const child = spawn(process.execPath, [BIN, '-n', '-l', '-G', '-C', '-f', 'c.conf', '-p', path.join(dir, 'c.pid')], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  try {
    await waitFor('the notice that pools are not programmed', () => /IPVS is not available in this kernel/.test(out), 10_000);
    server.close();
    await waitFor('notify_down', () => fs.existsSync(events) && fs.readFileSync(events, 'utf8').includes('down'), 15_000);
    server = await listen(port);
    await waitFor('notify_up', () => fs.readFileSync(events, 'utf8').includes('up'), 15_000);
  } finally {
    server.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  assert.match(out, /Stopped alived/);
});
