import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ALIVED_VERSION } from '../../core/version';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';

/**
 * The Debian package, built by scripts/build-deb.sh and installed in a clean
 * Debian 12 root (mmdebstrap, minbase), as an admin installs it: Node 20 first
 * (the host's nodesource package, made into a .deb again with dpkg-repack),
 * then `dpkg -i alived_*.deb`. There it runs the installed alived (-v, -t on
 * the shipped config, `alived lab`: a VRRP failover in network namespaces
 * made inside the root), finds its man pages, then removes and purges it.
 *
 * The root is cached in /var/cache/alived-test (ALIVED_TEST_CACHE), keyed by
 * its package list, and unpacked afresh for each run.
 */

const CACHE = process.env.ALIVED_TEST_CACHE ?? '/var/cache/alived-test';
const MIRROR = 'http://deb.debian.org/debian';
const SUITE = 'bookworm';
// iproute2: alived's dependency; iputils-ping and procps: `alived lab` (ping, sysctl); man-db: man -w;
// python3, ca-certificates, libstdc++6: what nodesource's nodejs depends on
const ROOT_PACKAGES = ['iproute2', 'iputils-ping', 'procps', 'man-db', 'python3', 'ca-certificates', 'libstdc++6'];
const CHROOT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' };

const figures: string[] = [];
const figure = (s: string): void => {
  figures.push(s);
  process.stdout.write(`# deb: ${s}\n`);
};

function run(cmd: string, args: string[], opts: { timeout?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 120_000, cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

function must(cmd: string, args: string[], opts: { timeout?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function seconds(t0: bigint): string {
  return `${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`;
}

let root = '';
let deb = '';

const chroot = (args: string[], timeout = 120_000): SpawnSyncReturns<string> => run('chroot', [root, ...args], { timeout, env: CHROOT_ENV });
const inRoot = (p: string): string => path.join(root, p);

/** The clean root as a tarball in the cache, made once per package list. */
function rootTarball(): string {
  const key = crypto
    .createHash('sha256')
    .update([SUITE, MIRROR, 'minbase', ...ROOT_PACKAGES].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const tar = path.join(CACHE, `debian12-${key}.tar`);
  if (fs.existsSync(tar)) {
    figure(`root: cached ${tar}`);
    return tar;
  }
  fs.mkdirSync(CACHE, { recursive: true, mode: 0o755 });
  const t0 = process.hrtime.bigint();
  const part = `${tar}.${process.pid}.part`;
  must('mmdebstrap', ['--quiet', '--format=tar', '--variant=minbase', `--include=${ROOT_PACKAGES.join(',')}`, SUITE, part, MIRROR], { timeout: 600_000 });
  fs.renameSync(part, tar);
  figure(`root: built with mmdebstrap in ${seconds(t0)} (${(fs.statSync(tar).size / 2 ** 20).toFixed(0)} MiB), cached as ${tar}`);
  return tar;
}

/** This host's nodejs (nodesource's Node 20) as a .deb, made by dpkg-repack and cached by its version. */
function nodejsDeb(): string {
  const version = must('dpkg-query', ['-W', '-f=${Version}', 'nodejs']).trim();
  assert.ok(version, 'nodejs (Node 20) must be installed as a Debian package on this host');
  const dir = path.join(CACHE, 'nodejs');
  const cached = fs.existsSync(dir)
    ? fs.readdirSync(dir).find((f) => f.startsWith(`nodejs_${version.replace(/^\d+:/, '')}_`) && f.endsWith('.deb'))
    : undefined;
  if (cached) return path.join(dir, cached);
  fs.mkdirSync(dir, { recursive: true });
  const t0 = process.hrtime.bigint();
  const work = tmpDir('alived-repack-');
  // gzip -1: xz, dpkg-deb's default, takes minutes on this 100 MB package, and the .deb is only copied into the root
  must('dpkg-repack', ['--deb-option=-Zgzip', '--deb-option=-z1', 'nodejs'], { cwd: work, timeout: 600_000 });
  const made = fs.readdirSync(work).find((f) => f.endsWith('.deb'));
  assert.ok(made, 'dpkg-repack made no .deb');
  fs.copyFileSync(path.join(work, made), path.join(dir, `${made}.part`));
  fs.renameSync(path.join(dir, `${made}.part`), path.join(dir, made));
  figure(`nodejs ${version}: dpkg-repack in ${seconds(t0)}`);
  return path.join(dir, made);
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

function unmountAll(): void {
  if (!root) return;
  // deepest first: network namespaces left under /run/netns, then /dev, /sys, /proc
  for (let i = 0; i < 3; i++) {
    const ms = mountsUnder(root).sort((a, b) => b.length - a.length);
    if (ms.length === 0) break;
    for (const m of ms) spawnSync('umount', [i === 2 ? '-l' : '-R', m], { stdio: 'ignore', timeout: 30_000 });
  }
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'the Debian package test needs root (chroot, mounts, namespaces)');
  for (const tool of ['mmdebstrap', 'dpkg-repack', 'dpkg-deb', 'lintian', 'chroot']) {
    assert.equal(run('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is missing: run scripts/setup-debian.sh`);
  }
  const out = tmpDir('alived-deb-');
  const t0 = process.hrtime.bigint();
  // dist/ is what the test run compiled; the script does the rest
  const built = must('bash', [path.join(PROJECT_ROOT, 'scripts', 'build-deb.sh')], {
    timeout: 300_000,
    env: { ...process.env, ALIVED_DEB_OUT: out, ALIVED_DEB_NO_COMPILE: '1' },
  });
  deb = built.trim().split('\n').pop()!;
  assert.equal(path.basename(deb), `alived_${ALIVED_VERSION}_amd64.deb`);
  figure(`${path.basename(deb)}: ${(fs.statSync(deb).size / 1024).toFixed(0)} KiB, built in ${seconds(t0)}`);

  const tar = rootTarball();
  const node = nodejsDeb();
  // not tmpDir(): that one is removed at exit whatever is mounted in it; this one only when nothing is (after())
  root = fs.mkdtempSync('/tmp/alived-debroot-');
  const t1 = process.hrtime.bigint();
  must('tar', ['-xf', tar, '-C', root], { timeout: 300_000 });
  // the root a mount point of its own: `ip netns` (alived lab) remounts / as a slave
  must('mount', ['--bind', root, root]);
  for (const [target, args] of [
    ['proc', ['-t', 'proc', 'proc']],
    ['sys', ['--rbind', '/sys']],
    ['dev', ['--rbind', '/dev']],
  ] as const) {
    fs.mkdirSync(inRoot(target), { recursive: true });
    must('mount', [...args, inRoot(target)]);
  }
  fs.copyFileSync(node, inRoot('/tmp/nodejs.deb'));
  fs.copyFileSync(deb, inRoot(`/tmp/${path.basename(deb)}`));
  figure(`root unpacked and mounted in ${seconds(t1)}`);
  // as an admin installs Node 20 from nodesource before alived
  const t2 = process.hrtime.bigint();
  const r = chroot(['dpkg', '-i', '/tmp/nodejs.deb'], 300_000);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  figure(`nodejs installed in the root in ${seconds(t2)}`);
});

after(() => {
  unmountAll();
  const left = root ? mountsUnder(root) : [];
  // never remove a tree something is still mounted in
  if (root && left.length === 0) fs.rmSync(root, { recursive: true, force: true });
  assert.deepEqual(left, [], 'mounts left under the test root');
  process.stdout.write(`# deb figures:\n${figures.map((f) => `#   ${f}`).join('\n')}\n`);
});

test('lintian passes on the package (the remaining tags are overridden, each with its reason)', () => {
  const r = run('lintian', ['--fail-on', 'error,warning', deb], { timeout: 300_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /^[EW]: /m);
});

test('the package: files, conffiles, relations', () => {
  const control = must('dpkg-deb', ['-f', deb]);
  assert.match(control, /^Depends: nodejs \(>= 20\), iproute2/m);
  assert.match(control, /^Suggests: keepalived$/m);
  assert.doesNotMatch(control, /^(Conflicts|Breaks|Replaces):/m);
  const files = must('dpkg-deb', ['-c', deb]);
  for (const f of [
    './usr/lib/alived/dist/core/cli/main.js',
    './usr/lib/alived/native/build/Release/alived_packet.node',
    './usr/lib/alived/node_modules/undici/package.json',
    './usr/sbin/alived -> ../lib/alived/dist/core/cli/main.js',
    './etc/alived/alived.conf',
    './etc/default/alived',
    './usr/lib/systemd/system/alived.service',
    './usr/share/man/man8/alived.8.gz',
    './usr/share/man/man5/alived.conf.5.gz',
    './usr/share/bash-completion/completions/alived',
    './usr/share/doc/alived/copyright',
    './usr/share/doc/alived/changelog.gz',
  ]) {
    assert.ok(files.includes(f), `${f} in the package`);
  }
  // no development dependency is shipped
  for (const dev of ['typescript', 'eslint', 'prettier', '@types/nodemailer', 'smtp-server', 'dependency-cruiser']) {
    assert.ok(!files.includes(`./usr/lib/alived/node_modules/${dev}/`), `${dev} is a dev dependency`);
  }
  const dir = tmpDir('alived-debctl-');
  must('dpkg-deb', ['-e', deb, dir]);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'conffiles'), 'utf8').trim().split('\n'), ['/etc/alived/alived.conf', '/etc/default/alived']);
  // the unit as packaging/systemd/alived.service has it: it needs the config, and the package enables nothing
  const unit = fs.readFileSync(path.join(PROJECT_ROOT, 'packaging/systemd/alived.service'), 'utf8');
  assert.match(unit, /^ConditionPathExists=\/etc\/alived\/alived\.conf$/m);
  for (const s of ['postinst', 'prerm', 'postrm']) {
    const code = fs
      .readFileSync(path.join(dir, s), 'utf8')
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
    assert.doesNotMatch(code, /\b(enable|start|restart)\b/, `${s} enables or starts nothing`);
    // dpkg owns the conffiles: the scripts write nothing under /etc (the postrm may only remove the empty /etc/alived)
    assert.doesNotMatch(code.replace('rmdir /etc/alived', ''), /\/etc\//, `${s} leaves /etc to dpkg`);
  }
});

let installed: string[] = [];

test('dpkg -i installs it in a clean Debian 12 with Node 20; alived -v and -t on the shipped config', () => {
  const t0 = process.hrtime.bigint();
  const r = chroot(['dpkg', '-i', `/tmp/${path.basename(deb)}`], 300_000);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  figure(`dpkg -i ${path.basename(deb)}: ${seconds(t0)}`);
  installed = must('chroot', [root, 'dpkg', '-L', 'alived'], { env: CHROOT_ENV }).trim().split('\n');

  const v = chroot(['alived', '-v']);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout, `alived v${ALIVED_VERSION} (keepalived.conf compatible)\n`);
  const t = chroot(['alived', '-t']);
  assert.equal(t.status, 0, t.stdout + t.stderr);
  // (chroot runs it in /: the file is named relative to that)
  assert.match(t.stdout + t.stderr, /configuration valid: \/?etc\/alived\/alived\.conf: 0 errors, 0 warnings/);
  // the example in the shipped config, uncommented, is a valid config too
  const example = fs
    .readFileSync(inRoot('/etc/alived/alived.conf'), 'utf8')
    .split('\n')
    // its lines are `!keyword` and `!  indented`; the prose around them is `! text`
    .filter((l) => /^!(\S| {2})/.test(l))
    .map((l) => l.slice(1))
    .join('\n');
  assert.match(example, /vrrp_instance VI_1 \{/);
  fs.writeFileSync(inRoot('/tmp/example.conf'), example);
  const e = chroot(['alived', '-t', '-f', '/tmp/example.conf']);
  assert.equal(e.status, 0, e.stdout + e.stderr);
  assert.match(e.stdout + e.stderr, /0 errors/);

  const st = fs.statSync(inRoot('/var/lib/alived'));
  assert.ok(st.isDirectory());
  assert.equal(st.mode & 0o777, 0o700);
  // the service is not enabled: no link in any .wants directory
  assert.equal(fs.existsSync(inRoot('/etc/systemd/system/multi-user.target.wants/alived.service')), false);
});

test("installing the package again (an upgrade's path) keeps the admin's config and the state", () => {
  const conf = inRoot('/etc/alived/alived.conf');
  const edited = `${fs.readFileSync(conf, 'utf8')}\nglobal_defs {\n  router_id edited-by-the-admin\n}\n`;
  fs.writeFileSync(conf, edited);
  fs.writeFileSync(inRoot('/etc/default/alived'), 'DAEMON_ARGS="--log-detail"\n');
  fs.writeFileSync(inRoot('/var/lib/alived/kept'), 'state\n');
  const r = chroot(['dpkg', '-i', `/tmp/${path.basename(deb)}`], 300_000);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(fs.readFileSync(conf, 'utf8'), edited);
  assert.equal(fs.readFileSync(inRoot('/etc/default/alived'), 'utf8'), 'DAEMON_ARGS="--log-detail"\n');
  assert.equal(fs.readFileSync(inRoot('/var/lib/alived/kept'), 'utf8'), 'state\n');
  assert.equal(fs.statSync(inRoot('/var/lib/alived')).mode & 0o777, 0o700);
  const t = chroot(['alived', '-t']);
  assert.equal(t.status, 0, t.stdout + t.stderr);
});

test('man finds both pages; bash completion is installed', () => {
  assert.equal(chroot(['man', '-w', 'alived']).stdout.trim(), '/usr/share/man/man8/alived.8.gz');
  assert.equal(chroot(['man', '-w', 'alived.conf']).stdout.trim(), '/usr/share/man/man5/alived.conf.5.gz');
  const shown = chroot(['sh', '-c', 'MANPAGER=cat MANWIDTH=80 man alived.conf 2>&1']);
  assert.match(shown.stdout, /KEYWORDS/);
  assert.match(shown.stdout, /virtual_router_id/);
  assert.ok(fs.existsSync(inRoot('/usr/share/bash-completion/completions/alived')));
});

test('the installed alived runs a VRRP lab (alived lab) and shows a failover', () => {
  const t0 = process.hrtime.bigint();
  const r = chroot(['alived', 'lab'], 120_000);
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  assert.match(out, /VIP 10\.99\.0\.99 is on: n1/);
  assert.match(out, /n2 took 10\.99\.0\.99 [\d.]+ ms after the crash/);
  assert.match(out, /failover worked/);
  assert.match(out, /\/usr\/lib\/alived|alived lab/);
  figure(`alived lab in the root: ${seconds(t0)}; ${/n2 took .*? after the crash/.exec(out)?.[0] ?? ''}`);
  assert.deepEqual(fs.existsSync(inRoot('/run/netns')) ? fs.readdirSync(inRoot('/run/netns')) : [], [], 'the lab removed its namespaces');
});

test('dpkg -r leaves only the conffiles (and the state directory while it holds state); dpkg -P removes them too', () => {
  assert.ok(installed.length > 100, 'dpkg -L listed the files');
  const r = chroot(['dpkg', '-r', 'alived'], 300_000);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const left = installed.filter((p) => fs.existsSync(inRoot(p)) && !fs.statSync(inRoot(p)).isDirectory());
  assert.deepEqual(left.sort(), ['/etc/alived/alived.conf', '/etc/default/alived']);
  const dirsLeft = installed.filter((p) => p.startsWith('/usr/lib/alived') || p.startsWith('/usr/share/doc/alived')).filter((p) => fs.existsSync(inRoot(p)));
  assert.deepEqual(dirsLeft, []);
  assert.ok(fs.existsSync(inRoot('/var/lib/alived')), 'the state (undelivered notifications) stays until purge');
  assert.equal(fs.existsSync(inRoot('/usr/sbin/alived')), false);

  const p = chroot(['dpkg', '-P', 'alived'], 300_000);
  assert.equal(p.status, 0, p.stdout + p.stderr);
  for (const f of ['/etc/alived/alived.conf', '/etc/default/alived', '/etc/alived', '/var/lib/alived'])
    assert.equal(fs.existsSync(inRoot(f)), false, `${f} after purge`);
  assert.notEqual(chroot(['dpkg', '-s', 'alived']).status, 0);

  // with nothing in the state directory, dpkg -r removes it too
  assert.equal(chroot(['dpkg', '-i', `/tmp/${path.basename(deb)}`], 300_000).status, 0);
  assert.equal(fs.statSync(inRoot('/var/lib/alived')).mode & 0o777, 0o700);
  assert.equal(chroot(['dpkg', '-r', 'alived'], 300_000).status, 0);
  assert.equal(fs.existsSync(inRoot('/var/lib/alived')), false, 'an empty state directory after dpkg -r');
  assert.equal(chroot(['dpkg', '-P', 'alived'], 300_000).status, 0);
});
