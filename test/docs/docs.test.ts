import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHooks, HOOK_NAMES, HOOKS } from '../../core/plugin/hooks';
import { ERROR_CODES } from '../../core/errors';
import { ALIVED_VERSION } from '../../core/version';
import { OPTIONS } from '../../core/cli/options';
import { PROJECT_ROOT } from '../helpers/config';

const read = (p: string) => fs.readFileSync(path.join(PROJECT_ROOT, p), 'utf8');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

test('docs/hooks.md documents exactly the hooks in core/plugin/hooks.ts, with their tapable class', () => {
  const md = read('docs/hooks.md');
  const rows = [...md.matchAll(/^\| `(\w+)` \| (\w+) \|/gm)].map((m) => [m[1]!, m[2]!] as const);
  assert.deepEqual(
    rows.map((r) => r[0]),
    [...HOOK_NAMES],
  );
  const hooks = createHooks();
  for (const [name, kind] of rows) assert.equal(kind, (hooks as unknown as Record<string, object>)[name]!.constructor.name, `kind of ${name}`);
  assert.deepEqual(Object.keys(hooks), [...HOOK_NAMES]);
});

test('docs/hooks.md says when each hook fires and its time limit as core/plugin/hooks.ts declares them', () => {
  const md = read('docs/hooks.md');
  const rows = [...md.matchAll(/^\| `(\w+)` \| \w+ \| (.+?) \| .+? \| (.+?) \|$/gm)].map((m) => ({ name: m[1]!, fires: m[2]!, limit: m[3]! }));
  assert.deepEqual(
    rows.map((r) => r.name),
    [...HOOK_NAMES],
  );
  for (const r of rows) {
    const spec: { fires: string; timeoutMs?: number } = HOOKS[r.name as keyof typeof HOOKS];
    assert.equal(r.fires, spec.fires, `when ${r.name} fires`);
    assert.equal(r.limit, spec.timeoutMs === undefined ? '—' : `${spec.timeoutMs / 1000} s`, `time limit of ${r.name}`);
  }
});

test('docs/errors.md lists exactly the codes of core/errors.ts, and every code the source uses is listed', () => {
  const md = read('docs/errors.md');
  const rows = Object.fromEntries([...md.matchAll(/^\| `(ALIVED_\w+)` \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!]));
  assert.deepEqual(rows, { ...ERROR_CODES });
  const used = new Set<string>();
  for (const f of [...sourceFiles('core'), ...sourceFiles('plugins')]) for (const m of read(f).matchAll(/'(ALIVED_[A-Z_]+)'/g)) used.add(m[1]!);
  const unknown = [...used].filter((c) => !(c in ERROR_CODES));
  assert.deepEqual(unknown, []);
});

test('docs/cli.md documents every option', () => {
  const md = read('docs/cli.md');
  for (const o of OPTIONS) assert.ok(md.includes(`--${o.long}`), `--${o.long} documented`);
});

test('package.json and core/version.ts agree; the bin and the types exist', () => {
  const pkg = JSON.parse(read('package.json'));
  assert.equal(pkg.version, ALIVED_VERSION);
  assert.equal(pkg.name, 'alived');
  assert.ok(fs.existsSync(path.join(PROJECT_ROOT, pkg.bin.alived)));
  assert.ok(fs.existsSync(path.join(PROJECT_ROOT, pkg.types)));
  assert.ok(pkg.engines.node.startsWith('>=20'));
  for (const dep of ['tapable', 'undici', 'nodemailer', 'mysql2', 'netlink', 'node-gyp-build']) assert.ok(pkg.dependencies[dep], dep);
  assert.ok(pkg.dependencies.undici.startsWith('^7'), 'undici 7 (8 needs node 22)');
});
