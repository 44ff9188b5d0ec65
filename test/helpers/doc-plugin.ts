import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import type { AlivedPlugin } from '../../core/sdk';
import { PROJECT_ROOT } from './config';

/**
 * The plugin of a section of docs/writing-a-plugin.md, taken from the page
 * as it is: the section's first ```ts block, compiled to CommonJS and run
 * with `alived` the SDK, as a third-party plugin would import it.
 */
export function pluginFromDoc(heading: string): AlivedPlugin {
  const md = fs.readFileSync(path.join(PROJECT_ROOT, 'docs/writing-a-plugin.md'), 'utf8');
  const at = md.indexOf(heading);
  if (at < 0) throw new Error(`docs/writing-a-plugin.md has no '${heading}'`);
  const code = /```ts\n([\s\S]*?)```/.exec(md.slice(at))![1]!;
  const js = ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  const mod = { exports: {} as { default?: AlivedPlugin } };
  const sdk = require('../../core/sdk');
  const req = (id: string) => (id === 'alived' ? sdk : require(id));
  new Function('module', 'exports', 'require', js)(mod, mod.exports, req);
  return mod.exports.default!;
}
