import * as fs from 'node:fs';
import * as os from 'node:os';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { compileConfig, type CompileOptions, type CompileResult } from '../../core/config/compile';
import { formatDiagnostic } from '../../core/config/diagnostics';
import type { HostFacts } from '../../core/config/schema';
import { BUILTIN_PLUGINS } from '../../core/plugin/builtins';

/** A host where every interface and file exists: tests see only what the config itself says. */
export const permissiveHost: HostFacts = { interfaceExists: () => true, fileExists: () => true };

const created: string[] = [];
process.once('exit', () => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the system temp dir, removed when the test process exits. */
export function tmpDir(prefix = 'alived-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}

/** Writes files (name -> text) into a fresh directory; returns the directory. */
export function writeFiles(files: Record<string, string>): string {
  const dir = tmpDir();
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return dir;
}

export interface Compiled extends CompileResult {
  /** every diagnostic formatted `FILE:LINE:COL: severity: message`, with FILE relative to the temp dir */
  lines: string[];
  errors: string[];
  warnings: string[];
  dir: string;
}

/** Compiles config text (and optional extra files) written to a temp dir as keepalived.conf. */
export async function compileText(text: string, extra: Record<string, string> = {}, options: Partial<CompileOptions> = {}): Promise<Compiled> {
  const dir = writeFiles({ 'keepalived.conf': text, ...extra });
  return compileFile(path.join(dir, 'keepalived.conf'), { host: permissiveHost, configId: 'node1', ...options }, dir);
}

/** Compiles a config file; the built-in plugins apply unless `options.builtins` says otherwise. */
export async function compileFile(file: string, options: Partial<CompileOptions> = {}, relativeTo = path.dirname(file)): Promise<Compiled> {
  const r = await compileConfig(file, { builtins: BUILTIN_PLUGINS, ...options });
  const lines = r.diagnostics.map((d) => formatDiagnostic({ ...d, pos: { ...d.pos, file: path.relative(relativeTo, d.pos.file) } }));
  return {
    ...r,
    lines,
    errors: lines.filter((l) => / error: /.test(l)),
    warnings: lines.filter((l) => / warning: /.test(l)),
    dir: relativeTo,
  };
}

/** The source tree's test/fixtures (tests run from dist/test, fixtures are not compiled). */
export const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');

/** The source tree's root. */
export const PROJECT_ROOT = path.resolve(__dirname, '../../..');

/** A minimal valid vrrp_instance, with `body` added inside it. */
export function instance(body = '', name = 'VI_1', head = 'interface eth0\n  virtual_router_id 51'): string {
  return `vrrp_instance ${name} {\n  ${head}\n  virtual_ipaddress {\n    192.168.1.10/24\n  }\n${body}}\n`;
}

/** Asserts that one diagnostic line contains `line`, showing all of them when none does. */
export function has(r: Compiled, line: string): void {
  assert.ok(
    r.lines.some((l) => l.includes(line)),
    `expected a diagnostic like\n  ${line}\ngot\n  ${r.lines.join('\n  ')}`,
  );
}

export function noErrors(r: Compiled): void {
  assert.deepEqual(r.errors, [], r.errors.join('\n'));
}
