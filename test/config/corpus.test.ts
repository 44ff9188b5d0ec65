import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileFile, FIXTURES, permissiveHost, PROJECT_ROOT, type Compiled } from '../helpers/config';

/**
 * The config corpus:
 *
 * - examples/<scenario>/*.conf are configs as operators run them; each must
 *   compile with no error. A file that another example includes (conf.d/*.conf)
 *   is a fragment and is checked through the file that includes it. A config
 *   with `@id` lines is compiled once per id it names.
 *
 * - test/fixtures/broken/<name>.conf are broken configs; <name>.expected holds
 *   the exact error lines `alived -t` prints for each (run in that directory),
 *   one per line, in order. Paths of the fixture directory inside messages
 *   (include cycles, duplicate definitions, plugin paths) are written relative
 *   to it. Files under test/fixtures/broken/<name>/ are extra files a fixture
 *   includes.
 *
 * After a deliberate change of messages, rewrite the .expected files with
 *   ALIVED_UPDATE_EXPECTED=1 node test/run.js corpus
 * and read the diff.
 */

const EXAMPLES = path.join(PROJECT_ROOT, 'examples');
const BROKEN = path.join(FIXTURES, 'broken');
const CLI = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.conf')) out.push(p);
  }
  return out;
}

/** The ids of `@id` / `@^id` lines; empty when the config has none. */
function configIds(text: string): string[] {
  const ids = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*@\^?([^\s]+)\s/.exec(line);
    if (m) ids.add(m[1]!);
  }
  return [...ids].sort();
}

function show(r: Compiled): string {
  return r.lines.join('\n');
}

// ---------------------------------------------------------------------------
// examples

test('examples: at least 30 scenarios, each with a README that says how to check it', () => {
  const scenarios = fs.readdirSync(EXAMPLES, { withFileTypes: true }).filter((e) => e.isDirectory());
  const withConf = scenarios.filter((s) => walk(path.join(EXAMPLES, s.name)).length > 0);
  assert.ok(withConf.length >= 30, `only ${withConf.length} example scenarios with a .conf`);
  for (const s of withConf) {
    const readme = path.join(EXAMPLES, s.name, 'README.md');
    assert.ok(fs.existsSync(readme), `examples/${s.name} has no README.md`);
    assert.match(
      fs.readFileSync(readme, 'utf8'),
      /-t\b.*-f examples\/|node dist\/core\/cli\/main\.js -t/,
      `examples/${s.name}/README.md does not show how to check the config`,
    );
  }
});

test('examples: every config compiles with no error (fragments through the file that includes them)', async () => {
  const files = walk(EXAMPLES);
  assert.ok(files.length >= 30, `only ${files.length} example configs`);
  const results = new Map<string, Compiled[]>();
  const included = new Set<string>();
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    const ids = configIds(text);
    const runs: Compiled[] = [];
    for (const id of ids.length > 0 ? ids : ['node1']) {
      const r = await compileFile(file, { host: permissiveHost, configId: id }, PROJECT_ROOT);
      for (const f of r.files.slice(1)) included.add(path.resolve(f));
      runs.push(r);
      await r.pluginHost.close();
    }
    results.set(file, runs);
  }
  let roots = 0;
  for (const [file, runs] of results) {
    if (included.has(file)) continue;
    roots++;
    for (const r of runs) {
      assert.deepEqual(r.errors, [], `${path.relative(PROJECT_ROOT, file)} has errors:\n${show(r)}`);
      assert.ok(r.model, `${path.relative(PROJECT_ROOT, file)} gives no model`);
    }
  }
  assert.ok(roots >= 30, `only ${roots} example configs that are not fragments`);
});

test('examples: the scripts an example ships are executable shell scripts', () => {
  const scripts: string[] = [];
  (function find(dir: string) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) find(p);
      else if (e.name.endsWith('.sh')) scripts.push(p);
    }
  })(EXAMPLES);
  assert.ok(scripts.length > 0);
  for (const s of scripts) {
    assert.ok((fs.statSync(s).mode & 0o111) !== 0, `${path.relative(PROJECT_ROOT, s)} is not executable`);
    assert.match(fs.readFileSync(s, 'utf8'), /^#!\/bin\/(ba)?sh\n/, `${path.relative(PROJECT_ROOT, s)} has no #!/bin/sh line`);
  }
});

test('examples: @id configs differ per node as intended', async () => {
  const file = path.join(EXAMPLES, 'conditional-config/keepalived.conf');
  const lb1 = await compileFile(file, { host: permissiveHost, configId: 'lb1' });
  const lb2 = await compileFile(file, { host: permissiveHost, configId: 'lb2' });
  const inst = (r: Compiled) => (r.model as any).vrrpInstance[0];
  assert.equal(inst(lb1).state, 'MASTER');
  assert.equal(inst(lb2).state, 'BACKUP');
  assert.equal(inst(lb1).priority, 150);
  assert.equal(inst(lb2).priority, 100);
  // any other node has no unicast_src_ip and no peer, and stays BACKUP with the default priority
  const other = await compileFile(file, { host: permissiveHost, configId: 'lb3' });
  assert.deepEqual(other.errors, []);
  assert.equal(inst(other).state, 'BACKUP');
  for (const r of [lb1, lb2, other]) await r.pluginHost.close();
});

// ---------------------------------------------------------------------------
// broken fixtures

function brokenFixtures(): string[] {
  return fs
    .readdirSync(BROKEN)
    .filter((n) => n.endsWith('.conf'))
    .sort()
    .map((n) => path.join(BROKEN, n));
}

/** Error lines as `alived -t` prints them from the fixture directory, fixture paths in messages made relative. */
function normalize(lines: readonly string[]): string[] {
  const abs = BROKEN + path.sep;
  return lines.filter((l) => / error: /.test(l)).map((l) => l.split(abs).join(''));
}

function expectedOf(file: string): string[] {
  const exp = file.replace(/\.conf$/, '.expected');
  assert.ok(fs.existsSync(exp), `${path.basename(file)} has no ${path.basename(exp)}`);
  return fs
    .readFileSync(exp, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

test('broken fixtures: at least 30, each with its expected errors', () => {
  const files = brokenFixtures();
  assert.ok(files.length >= 30, `only ${files.length} broken fixtures`);
  for (const f of files) assert.ok(expectedOf(f).length > 0, `${path.basename(f)}: the .expected file lists no error`);
});

for (const file of brokenFixtures()) {
  const name = path.basename(file);
  test(`broken: ${name} gives exactly its expected errors`, async () => {
    const r = await compileFile(file, { host: permissiveHost, configId: 'node1' }, BROKEN);
    await r.pluginHost.close();
    const got = normalize(r.lines);
    if (process.env.ALIVED_UPDATE_EXPECTED) {
      fs.writeFileSync(file.replace(/\.conf$/, '.expected'), got.join('\n') + '\n');
      return;
    }
    assert.equal(r.ok, false, `${name} compiles without error`);
    assert.deepEqual(got, expectedOf(file));
    assert.equal(r.errorCount, got.length, 'errorCount differs from the error lines');
    for (const l of got) {
      assert.match(l, /^[\w./-]+\.conf:\d+:\d+: error: \S/, `not FILE:LINE:COL: error: message: ${l}`);
      const message = l.slice(l.indexOf(': error: ') + 9);
      assert.doesNotMatch(message, /\bundefined\b|\[object Object\]|\bNaN\b/, l);
    }
  });
}

/** Runs `alived -t -i node1 -f NAME` in the fixture directory; the error lines it prints. */
function cliErrors(name: string): Promise<{ code: number | null; errors: string[] }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, '-t', '-i', 'node1', '-f', name], { cwd: BROKEN, timeout: 30_000 }, (err, _stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code, errors: normalize(stderr.split('\n')) });
    });
  });
}

test('broken fixtures: `alived -t` prints exactly the expected lines and exits 1', async (t) => {
  if (process.env.ALIVED_UPDATE_EXPECTED) return t.skip('updating .expected files');
  const files = brokenFixtures();
  const queue = [...files];
  const failures: string[] = [];
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      const name = path.basename(f);
      const r = await cliErrors(name);
      // the CLI sees this host's interfaces and files, which only ever add warnings
      try {
        assert.equal(r.code, 1, `${name}: exit code`);
        assert.deepEqual(r.errors, expectedOf(f), name);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  assert.deepEqual(failures, []);
});
