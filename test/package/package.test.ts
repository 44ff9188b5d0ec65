import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';

/**
 * The npm package as a user gets it: `npm pack` of this checkout (the
 * prebuilt addon made first by `npm run prebuildify`, as prepack does), then
 * `npm install <tarball>` with a PATH that holds only node, npm and sh (no
 * make, no C compiler, no python3) and no install script approved: into an
 * empty folder (npm 11.19 still runs unapproved scripts there, with a
 * warning; alived's finds the prebuilt binary and builds nothing), and into a
 * folder whose package.json denies alived's and netlink's scripts (what a
 * later npm does to every unapproved one). The installed copy must then run: `alived -v`, the
 * prebuilt addon loading from the package, `alived -t` on every example in
 * its own folder, and a plugin compiled with tsc against the package's types
 * (`alived` and `alived/testing`) and run with the tester it ships.
 *
 * Dependencies come from npm's cache where it has them (--prefer-offline),
 * else from the registry. Prints the tarball's size and the install time.
 */

const work = tmpDir('alived-package-');
const bin = path.join(work, 'bin');
const app = path.join(work, 'app');
/** a PATH without compilers: node, npm and sh only (and no test-runner context for the plugin's own `node --test`) */
const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, npm_config_update_notifier: 'false' };
delete env.NODE_TEST_CONTEXT;
let tarball = '';

function run(cmd: string, args: string[], o: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, encoding: 'utf8', timeout: o.timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): void {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
}

/** the real file of a command on this machine's PATH */
function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, name);
    if (dir && fs.existsSync(p)) return fs.realpathSync(p);
  }
  throw new Error(`${name} is not on PATH`);
}

test(
  'npm pack: the package holds the build, the prebuilt addon and its sources, the examples; no tests, no bench, no source maps',
  { timeout: 120_000 },
  () => {
    ok(run('npm', ['run', '--silent', 'prebuildify'], { cwd: PROJECT_ROOT, timeoutMs: 100_000 }), 'npm run prebuildify');
    // the scripts already ran: prebuildify just now, and the TypeScript build the tests run from
    const r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: PROJECT_ROOT, timeoutMs: 60_000 });
    ok(r, 'npm pack');
    const [info] = JSON.parse(r.stdout) as { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[];
    assert.ok(info);
    tarball = path.join(work, info.filename);
    const files = new Set(info.files.map((f) => f.path));
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { bin: { alived: string }; exports: Record<string, unknown> };
    for (const f of [
      pkg.bin.alived,
      'dist/core/index.js',
      'dist/core/index.d.ts',
      'dist/core/testing/index.d.ts',
      'dist/examples/redis-check/redis-check.js',
      'dist/examples/notify-ntfy/notify-ntfy.js',
      'examples/redis-check/keepalived.conf',
      'docs/writing-a-plugin.md',
      'README.md',
      'native/binding.gyp',
      'native/prebuilds/linux-x64/alived.glibc.node',
    ]) {
      assert.ok(files.has(f), `${f} is in the package`);
    }
    // every source binding.gyp names, for the source build where no prebuilt binary fits
    const gyp = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'native/binding.gyp'), 'utf8')) as { targets: { sources: string[] }[] };
    for (const s of gyp.targets.flatMap((t) => t.sources)) assert.ok(files.has(`native/${s}`), `native/${s} is in the package`);
    // TypeScript sources only in examples/ (plugin authors read them); the compiled examples are in dist/examples
    const stray = [...files].filter(
      (f) =>
        /^(dist\/)?(test|bench)\//.test(f) ||
        f.endsWith('.map') ||
        f.startsWith('native/build/') ||
        (!f.startsWith('examples/') && f.endsWith('.ts') !== f.endsWith('.d.ts')),
    );
    assert.deepEqual(stray, [], 'nothing the package does not need');
    console.log(
      `tarball ${info.filename}: ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${info.entryCount} files`,
    );
  },
);

function install(dir: string): { stdout: string; stderr: string; ms: number } {
  const t0 = process.hrtime.bigint();
  const r = run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: dir, timeoutMs: 110_000, env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  ok(r, `npm install of the tarball in ${dir}`);
  assert.doesNotMatch(`${r.stdout}${r.stderr}`, /gyp (info|ERR)|CC\(target\)/, 'nothing was built');
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules', 'alived', 'native', 'build')), 'no source build');
  return { stdout: r.stdout, stderr: r.stderr, ms };
}

/** loads the addon of the copy installed in `dir` and opens a raw socket (no traffic); the addon's file */
function loadAddon(dir: string): string {
  const installed = path.join(dir, 'node_modules', 'alived');
  const probe = run(
    'node',
    [
      '-e',
      `const ps = require(${JSON.stringify(path.join(installed, 'dist/core/vrrp/packet-socket.js'))});
       const { RawSocket } = require(${JSON.stringify(path.join(installed, 'dist/core/vrrp/raw-socket.js'))});
       ps.nativeAddon();
       const s = RawSocket.open({ family: 4, protocol: 112 });
       s.close();
       console.log(require('node-gyp-build').resolve(ps.NATIVE_DIR));`,
    ],
    { cwd: dir, timeoutMs: 20_000, env },
  );
  ok(probe, 'loading the addon from the installed package');
  return probe.stdout.trim();
}

test('npm install <tarball> into an empty folder: no compiler on PATH, no install script approved', { timeout: 120_000 }, () => {
  assert.ok(tarball, 'the tarball from the test before');
  fs.mkdirSync(bin);
  fs.mkdirSync(app);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(which('npm'), path.join(bin, 'npm'));
  fs.symlinkSync(which('sh'), path.join(bin, 'sh'));
  // what a source build would need is out of reach
  for (const tool of ['make', 'cc', 'gcc', 'g++', 'python3']) {
    assert.notEqual(run('sh', ['-c', `command -v ${tool}`], { cwd: app, timeoutMs: 5000, env }).status, 0, `${tool} is not on the install's PATH`);
  }
  const { ms } = install(app);
  console.log(`npm install of the tarball into an empty folder (dependencies from npm's cache where it has them): ${(ms / 1000).toFixed(1)} s`);
  const installed = path.join(app, 'node_modules', 'alived');
  assert.equal(loadAddon(app), path.join(installed, 'native/prebuilds/linux-x64/alived.glibc.node'), "the package's prebuilt addon");

  const v = run(path.join(app, 'node_modules/.bin/alived'), ['-v'], { cwd: app, timeoutMs: 20_000, env });
  ok(v, 'alived -v');
  assert.match(v.stdout, /^alived v\d+\.\d+\.\d+/);
});

test("npm install <tarball> with alived's and netlink's install scripts denied: none runs, the addon loads all the same", { timeout: 120_000 }, () => {
  const denied = path.join(work, 'denied');
  fs.mkdirSync(denied);
  // a registry install names them `alived` and `netlink` (npm install-scripts deny alived netlink); a tarball is named by its path
  const allowScripts = { [`file:${tarball}`]: false, netlink: false };
  fs.writeFileSync(path.join(denied, 'package.json'), JSON.stringify({ name: 'denied', version: '1.0.0', private: true, allowScripts }));
  const { stdout, ms } = install(denied);
  console.log(`npm install of the tarball with the scripts denied: ${(ms / 1000).toFixed(1)} s`);
  assert.doesNotMatch(stdout, /> (alived|netlink)@[\d.]+ install/, 'no install script ran');
  assert.equal(loadAddon(denied), path.join(denied, 'node_modules/alived/native/prebuilds/linux-x64/alived.glibc.node'));
});

test('alived -t passes on every example, run in its own folder of the installed copy', { timeout: 120_000 }, async () => {
  const examples = path.join(app, 'node_modules', 'alived', 'examples');
  const cli = path.join(app, 'node_modules/.bin/alived');
  const runs: { dir: string; file: string }[] = [];
  for (const e of fs.readdirSync(examples, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const dir = path.join(examples, e.name);
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.conf')) runs.push({ dir, file: f });
  }
  assert.ok(runs.length >= 30, `only ${runs.length} example configs`);
  const failures: string[] = [];
  // a few at a time: each is a node process
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runs.length) {
      const { dir, file } = runs[next++]!;
      const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const p = spawn(cli, ['-t', '-f', file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        p.stdout.on('data', (d: Buffer) => (output += d.toString()));
        p.stderr.on('data', (d: Buffer) => (output += d.toString()));
        const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
        p.on('close', (c) => {
          clearTimeout(timer);
          resolve({ code: c, output });
        });
      });
      if (code !== 0) failures.push(`${path.basename(dir)}/${file} (exit ${code}):\n${output}`);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  assert.deepEqual(failures, [], 'every example passes -t');
});

const PLUGIN_TS = `import * as net from 'node:net';
import { block, checkerCommonFields, checkerConnectionFields, str, tcpConnectOptions, word, type AlivedPlugin, type BlockOf, type Checker, type CheckResult } from 'alived';

/** BANNER_CHECK: up when the server's first line starts with \`expect\`. */
const schema = block({
  ...checkerConnectionFields,
  ...checkerCommonFields,
  expect: word(str()).required().doc('what the first line must start with'),
});
type Config = BlockOf<typeof schema>;

function probe(options: net.NetConnectOpts, expect: string, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve) => {
    const sock = net.connect(options);
    let line = '';
    const done = (r: CheckResult): void => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(r);
    };
    const onAbort = (): void => done({ ok: false, message: 'timed out' });
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => done({ ok: false, message: err.message }));
    sock.on('data', (d) => {
      line += d.toString();
      const end = line.indexOf('\\n');
      if (end < 0) return;
      const first = line.slice(0, end);
      done(first.startsWith(expect) ? { ok: true, message: first } : { ok: false, message: \`banner '\${first}'\` });
    });
  });
}

const plugin: AlivedPlugin = {
  name: 'banner-check',
  version: '1.0.0',
  alived: '>=0.1.0 <1.0.0',
  apply(api) {
    api.registerChecker<Config>({
      keyword: 'BANNER_CHECK',
      schema,
      create(config, ctx): Checker {
        return { check: (signal) => probe(tcpConnectOptions(ctx.target, config), config.expect, signal) };
      },
    });
  },
};
export default plugin;
`;

const PLUGIN_TEST_TS = `import * as path from 'node:path';
import { CheckerTester, refusingPort, tcpServer } from 'alived/testing';

const banner = (text: string) => tcpServer((socket) => {
  socket.resume();
  socket.end(text);
}, \`a server greeting '\${text.trim()}'\`);

new CheckerTester({ plugin: path.join(__dirname, 'banner-check.js'), keyword: 'BANNER_CHECK' }).run('BANNER_CHECK', [
  { name: 'the expected banner: up', config: 'expect HELLO', server: banner('HELLO alived\\n'), expect: { ok: true } },
  { name: 'another banner: down, and says which', config: 'expect HELLO', server: banner('GO AWAY\\n'), expect: { ok: false, message: /GO AWAY/ } },
  { name: 'refused: down', config: 'expect HELLO', server: refusingPort(), expect: { ok: false } },
  { name: 'a misspelt keyword is a config error with a suggestion', config: 'expct HELLO', errors: [/lacks required 'expect'/, /unknown keyword 'expct'.*did you mean 'expect'/] },
]);
`;

test("a plugin compiles with tsc against the installed package's types (alived, alived/testing) and passes the tester", { timeout: 120_000 }, () => {
  const plugin = path.join(app, 'plugin');
  fs.mkdirSync(path.join(plugin, 'src'), { recursive: true });
  fs.writeFileSync(path.join(plugin, 'src', 'banner-check.ts'), PLUGIN_TS);
  fs.writeFileSync(path.join(plugin, 'src', 'banner-check.test.ts'), PLUGIN_TEST_TS);
  fs.writeFileSync(
    path.join(plugin, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'node16',
        moduleResolution: 'node16',
        strict: true,
        outDir: 'dist',
        rootDir: 'src',
        // a plugin author installs @types/node; this checkout's copy stands in for it
        typeRoots: [path.join(PROJECT_ROOT, 'node_modules/@types')],
        types: ['node'],
      },
      include: ['src'],
    }),
  );
  // TypeScript from this checkout: the package itself needs none
  const tsc = run(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: plugin,
    timeoutMs: 90_000,
    env,
  });
  ok(tsc, 'tsc of the plugin');
  const t = run(process.execPath, ['--test', '--test-reporter=spec', path.join('dist', 'banner-check.test.js')], { cwd: plugin, timeoutMs: 60_000, env });
  ok(t, 'the plugin under the tester');
  assert.match(t.stdout, /pass 4/);
});
