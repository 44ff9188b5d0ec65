import { test, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { folderOf, keywordOf, packageNameProblem } from '../../core/scaffold/names';
import { ALIVED_VERSION } from '../../core/version';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';

/**
 * `alived plugin init NAME`, run as a plugin author runs it: in an empty
 * folder, then `npm install && npm test` in the project it made, which must
 * pass as generated. alived is not on the registry, so the project asks for
 * this checkout packed (`npm pack`) with `--alived file:TARBALL`; the rest
 * (typescript, @types/node, alived's dependencies) comes from the registry or
 * npm's cache.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const NPM_MS = 150_000;

/**
 * the environment without npm's own variables (a test run by `npm test` must not pass its settings on) and
 * without NODE_TEST_CONTEXT, which would make the project's `node --test` report to this test runner, not print
 */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_TEST_CONTEXT'));

function alived(cwd: string, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: 'utf8', timeout: 30_000 });
}

function npm(cwd: string, ...args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: NPM_MS });
  if (r.error) throw r.error;
  return r;
}

function assertOk(r: SpawnSyncReturns<string>, what: string): void {
  assert.equal(r.status, 0, `${what} exited ${r.status} (${r.signal ?? 'no signal'})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

let tarball = '';

before(() => {
  // the package as published: what `files` lists of this build (dist/ is compiled before the tests run)
  const dir = tmpDir('alived-pack-');
  const r = npm(PROJECT_ROOT, 'pack', '--ignore-scripts', '--silent', '--pack-destination', dir);
  assertOk(r, 'npm pack');
  tarball = path.join(dir, r.stdout.trim().split('\n').pop()!);
  assert.ok(fs.existsSync(tarball), `npm pack made no ${tarball}`);
});

/** init in an empty folder, then npm install && npm test in the project: both succeed */
function initInstallTest(name: string, kind: 'checker' | 'notifier', keyword: string, cases: number): void {
  const cwd = tmpDir('alived-plugin-init-');
  const r = alived(cwd, 'plugin', 'init', name, '--kind', kind, '--alived', `file:${tarball}`);
  assertOk(r, 'alived plugin init');
  assert.match(r.stdout, new RegExp(`Made the ${kind} plugin ${name} \\(keyword ${keyword}\\)`));
  const project = path.join(cwd, folderOf(name));
  for (const f of ['package.json', 'tsconfig.json', '.gitignore', 'src/index.ts', 'test/plugin.test.ts', 'README.md']) {
    assert.ok(fs.existsSync(path.join(project, f)), `${f} was not written`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  assert.equal(pkg.name, name);
  assert.equal(pkg.peerDependencies!.alived, `file:${tarball}`);
  assert.equal(pkg.devDependencies!.alived, `file:${tarball}`);
  assert.match(fs.readFileSync(path.join(project, 'README.md'), 'utf8'), /plugins \{/);

  assertOk(npm(project, 'install', '--prefer-offline', '--no-audit', '--no-fund'), 'npm install');
  const t = npm(project, 'test');
  assertOk(t, 'npm test');
  assert.match(t.stdout, new RegExp(`# pass ${cases}\\n`));
  assert.match(t.stdout, /# fail 0\n/);

  // npm may skip the install scripts that build alived's addon and raw-socket's (npm 11 asks for approval):
  // the tests and alived -t need neither, so they pass with both builds removed
  for (const build of ['node_modules/alived/native/build', 'node_modules/raw-socket/build'])
    fs.rmSync(path.join(project, build), { recursive: true, force: true });
  const again = npm(project, 'test');
  assertOk(again, 'npm test without the native builds');
  assert.match(again.stdout, new RegExp(`# pass ${cases}\\n`));

  // the README's config, with the plugin enabled by its path, passes -t of the alived the project installed
  const readme = fs.readFileSync(path.join(project, 'README.md'), 'utf8');
  const usage = /in the config:\n\n((?: {4}.*\n|\n)+?)\n\|/.exec(readme)?.[1];
  assert.ok(usage, `the README shows no config:\n${readme}`);
  const conf = path.join(cwd, 'keepalived.conf');
  fs.writeFileSync(conf, `plugins {\n  "${path.join(project, 'dist/src/index.js')}"\n}\n${usage.replace(/^ {4}/gm, '')}`);
  assertOk(spawnSync(path.join(project, 'node_modules/.bin/alived'), ['-t', '-f', conf], { cwd, env, encoding: 'utf8', timeout: 30_000 }), 'alived -t');
}

describe('alived plugin init: the project passes npm install && npm test as generated', () => {
  test('a checker (the default kind)', { timeout: 2 * NPM_MS }, () => {
    initInstallTest('alived-redis-probe', 'checker', 'REDIS_PROBE_CHECK', 6);
  });

  test('a notifier, with a scoped name', { timeout: 2 * NPM_MS }, () => {
    initInstallTest('@acme/alived-notify-pager', 'notifier', 'pager', 5);
  });
});

describe('alived plugin init: what it refuses', () => {
  test('a name npm refuses: exit 2, ALIVED_CLI_PLUGIN_NAME, nothing written', () => {
    const cwd = tmpDir('alived-plugin-init-');
    for (const [name, why] of [
      ['Redis-Probe', /capital letters/],
      ['.hidden', /starts with '.'/],
      ['a b', /not URL-safe/],
      ['fs', /Node.js core module/],
      ['@acme', /'@scope\/name'/],
      ['x'.repeat(215), /longer than 214/],
    ] as const) {
      const r = alived(cwd, 'plugin', 'init', name);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /ALIVED_CLI_PLUGIN_NAME: .* is not a valid npm package name/);
      assert.match(r.stderr, why);
    }
    assert.deepEqual(fs.readdirSync(cwd), []);
  });

  test('a keyword alived already has: exit 2, names the plugin that has it', () => {
    const cwd = tmpDir('alived-plugin-init-');
    const r = alived(cwd, 'plugin', 'init', 'tcp');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ALIVED_CLI_PLUGIN_NAME: checker keyword 'TCP_CHECK' cannot be used: .*already registered by plugin/);
    assert.match(r.stderr, /--keyword/);
    const n = alived(cwd, 'plugin', 'init', 'my-notes', '--kind', 'notifier', '--keyword', 'vrrp_script');
    assert.equal(n.status, 2);
    assert.match(n.stderr, /notifier keyword 'vrrp_script' cannot be used/);
    const bad = alived(cwd, 'plugin', 'init', 'my-check', '--keyword', '9_CHECK');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /keyword '9_CHECK' is not a config keyword/);
    assert.deepEqual(fs.readdirSync(cwd), []);
  });

  test('an existing non-empty folder: exit 2, ALIVED_CLI_PLUGIN_DIR naming it, left as it was', () => {
    const cwd = tmpDir('alived-plugin-init-');
    fs.mkdirSync(path.join(cwd, 'my-check'));
    fs.writeFileSync(path.join(cwd, 'my-check', 'notes.txt'), 'mine\n');
    const r = alived(cwd, 'plugin', 'init', 'my-check');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ALIVED_CLI_PLUGIN_DIR: \.\/my-check \(.*\/my-check\) exists and is not empty \(notes\.txt\); nothing was written/);
    assert.deepEqual(fs.readdirSync(path.join(cwd, 'my-check')), ['notes.txt']);

    fs.writeFileSync(path.join(cwd, 'a-file'), '');
    const f = alived(cwd, 'plugin', 'init', 'a-file');
    assert.equal(f.status, 2);
    assert.match(f.stderr, /ALIVED_CLI_PLUGIN_DIR: \.\/a-file .* exists and is not a directory/);
  });

  test('an existing empty folder is used', () => {
    const cwd = tmpDir('alived-plugin-init-');
    fs.mkdirSync(path.join(cwd, 'my-check'));
    let r = alived(cwd, 'plugin', 'init', 'my-check');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(cwd, 'my-check', 'src', 'index.ts')));
    const pkg = JSON.parse(fs.readFileSync(path.join(cwd, 'my-check', 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    // without --alived: the running alived's version
    assert.equal(pkg.peerDependencies.alived, `^${ALIVED_VERSION}`);
    assert.match(fs.readFileSync(path.join(cwd, 'my-check', 'src', 'index.ts'), 'utf8'), /keyword: 'MY_CHECK'/);

    // a relative file: spec is read from where it was typed, not from the project's folder
    fs.writeFileSync(path.join(cwd, 'alived.tgz'), '');
    r = alived(cwd, 'plugin', 'init', 'other-check', '--alived', 'file:alived.tgz');
    assert.equal(r.status, 0, r.stderr);
    const other = JSON.parse(fs.readFileSync(path.join(cwd, 'other-check', 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    assert.equal(other.devDependencies.alived, `file:${path.join(cwd, 'alived.tgz')}`);
  });

  test('a wrong command line: exit 2 and the usage', () => {
    const cwd = tmpDir('alived-plugin-init-');
    for (const args of [
      ['plugin'],
      ['plugin', 'make', 'x'],
      ['plugin', 'init'],
      ['plugin', 'init', 'x', '--kind', 'tracker'],
      ['plugin', 'init', 'x', '--frob'],
      ['plugin', 'init', 'x', 'y'],
    ]) {
      const r = alived(cwd, ...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /alived plugin/);
    }
    const missing = alived(cwd, 'plugin', 'init', 'x', '--alived', 'file:./no-such-alived.tgz');
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, new RegExp(`--alived file:./no-such-alived.tgz: no file or folder ${cwd}/no-such-alived.tgz`));
    const h = alived(cwd, 'plugin', 'init', '--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /Usage: alived plugin init NAME/);
    assert.deepEqual(fs.readdirSync(cwd), []);
  });
});

test('names: npm rules, folders and keywords', () => {
  assert.equal(packageNameProblem('alived-redis-probe'), undefined);
  assert.equal(packageNameProblem('@acme/alived-pager'), undefined);
  assert.match(packageNameProblem('node_modules')!, /npm refuses/);
  assert.match(packageNameProblem('_x')!, /starts with '_'/);
  assert.match(packageNameProblem("it's")!, /~'!\(\)\*/);
  assert.match(packageNameProblem('alived')!, /alived's own name/);
  assert.equal(folderOf('@acme/alived-pager'), 'alived-pager');
  assert.equal(keywordOf('redis-probe', 'checker'), 'REDIS_PROBE_CHECK');
  assert.equal(keywordOf('alived-plugin-memcached-check', 'checker'), 'MEMCACHED_CHECK');
  assert.equal(keywordOf('@acme/alived-notify-pager', 'notifier'), 'pager');
  assert.equal(keywordOf('teams-notifier', 'notifier'), 'teams');
});
