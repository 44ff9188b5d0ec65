import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import { AlivedError, errorText } from '../errors';
import { validatePlugin } from './host';
import type { AlivedPlugin } from './types';

/**
 * Resolves a plugin named in the config: a path (`./checks/redis.js`,
 * relative to the config file that names it) or a package name, looked up
 * from the config file's directory, then from alived's own install.
 */
export function resolvePlugin(spec: string, configDir: string): string {
  const isPath = spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/');
  if (isPath) {
    const abs = path.resolve(configDir, spec);
    if (!fs.existsSync(abs)) throw new AlivedError('ALIVED_PLUGIN_NOT_FOUND', `plugin '${spec}' not found: no file ${abs}`);
    try {
      return require.resolve(abs);
    } catch (err) {
      throw new AlivedError('ALIVED_PLUGIN_NOT_FOUND', `plugin '${spec}' cannot be resolved: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/[\w.-]+)*$/i.test(spec)) {
    throw new AlivedError('ALIVED_PLUGIN_NOT_FOUND', `plugin '${spec}' is neither a path (./x.js, /x.js) nor a package name`);
  }
  for (const from of [configDir, __dirname]) {
    try {
      return require.resolve(spec, { paths: [from] });
    } catch {
      // try the next place
    }
  }
  throw new AlivedError(
    'ALIVED_PLUGIN_NOT_FOUND',
    `plugin package '${spec}' is not installed (looked from ${configDir} and from alived's own node_modules); install it with npm, or give a path`,
  );
}

/**
 * A plugin's `require('alived')` (and `alived/testing`, `alived/examples/...`)
 * is the running alived, wherever the plugin lives: a plugin installed
 * beside the config (/etc/alived/node_modules) or built in its own folder
 * does not find alived from there when alived came from the Debian package
 * or a global install, and a copy of its own (npm installs peer
 * dependencies) would be another registry, other error classes, other
 * hooks. The name resolves from this file, inside alived's package (a
 * package's own name resolves from within it, through its exports).
 * CommonJS only: an ES module plugin resolves `alived` as Node does.
 */
function shareRunningAlived(): void {
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string; alivedShared?: boolean };
  if (M.alivedShared) return;
  M.alivedShared = true;
  const resolve = M._resolveFilename;
  M._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    if (request === 'alived' || request.startsWith('alived/')) {
      try {
        // resolved as if this file asked (Node's own resolution, not this hook again)
        return resolve.call(this, request, module, false);
      } catch {
        // not one of alived's exports: as Node would
      }
    }
    return resolve.call(this, request, ...rest);
  };
}

const dynamicImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

/** Loads a resolved module and returns its plugin object, checked against the contract. */
export async function loadPluginModule(file: string, spec: string): Promise<AlivedPlugin<any>> {
  shareRunningAlived();
  let mod: unknown;
  try {
    if (file.endsWith('.mjs')) mod = await dynamicImport(pathToUrl(file));
    else {
      try {
        mod = require(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw err;
        mod = await dynamicImport(pathToUrl(file));
      }
    }
  } catch (err) {
    throw new AlivedError('ALIVED_PLUGIN_LOAD_FAILED', `plugin '${spec}' failed to load: ${errorText(err, { firstLine: true })}`, { cause: err });
  }
  const candidate = pickExport(mod);
  validatePlugin(candidate, `plugin module '${spec}'`);
  return candidate;
}

function pickExport(mod: unknown): unknown {
  if (mod && typeof mod === 'object') {
    const m = mod as { default?: unknown; apply?: unknown };
    if (typeof m.apply === 'function') return mod;
    if (m.default && typeof m.default === 'object') {
      const d = m.default as { default?: unknown; apply?: unknown };
      if (typeof d.apply === 'function') return d;
      if (d.default) return d.default; // TypeScript's compiled `export default` seen through import()
    }
    return m.default ?? mod;
  }
  return mod;
}

function pathToUrl(file: string): string {
  return require('node:url').pathToFileURL(file).href as string;
}
