import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileConfig } from '../config/compile';
import { block } from '../config/schema';
import { trackerHeader } from '../config/track-entry';
import { AlivedError, isAlivedError } from '../errors';
import { systemErrorText } from '../fs/safe-file';
import { silentLogger } from '../log/logger';
import { BUILTIN_PLUGINS } from '../plugin/builtins';
import { PluginHost } from '../plugin/host';
import type { AlivedPlugin } from '../plugin/types';
import { ALIVED_VERSION } from '../version';
import { folderOf, KEYWORD_RE, keywordOf, packageNameProblem, type PluginKind } from './names';
import { projectFiles, type ProjectFile, type ProjectSpec } from './templates';

/**
 * `alived plugin init NAME`: writes a plugin project to ./NAME (a checker
 * or a notifier, its keyword schema, a test with the tester alived ships,
 * a README), ready for `npm install && npm test`.
 */

/** exit codes of `alived plugin` (docs/cli.md) */
export const PLUGIN_EXIT = {
  OK: 0,
  /** a file of the project could not be written; what was written is removed */
  WRITE_FAILED: 1,
  /** the command line is wrong, NAME is not usable, or ./NAME exists and is not empty */
  USAGE: 2,
} as const;

export interface PluginIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** where ./NAME is made */
  readonly cwd: string;
}

export function pluginUsage(): string {
  return [
    'Usage: alived plugin init NAME [--kind checker|notifier] [--keyword KEYWORD] [--alived SPEC]',
    '',
    'Makes a plugin project in ./NAME (a scoped @scope/name goes to ./name): package.json,',
    'tsconfig.json, src/index.ts (the plugin), test/plugin.test.ts (its tests, with the',
    'tester of alived/testing against a real server on 127.0.0.1) and a README. Then:',
    '  cd NAME && npm install && npm test',
    '',
    '  --kind checker|notifier  a health check in real_server, or a notifier block (default checker)',
    '  --keyword KEYWORD        its config keyword (default from NAME: redis-probe gives',
    '                           REDIS_PROBE_CHECK for a checker, redis_probe for a notifier)',
    `  --alived SPEC            what package.json asks npm for alived (default ^${ALIVED_VERSION}):`,
    '                           a version range, or file:PATH of a tarball made by npm pack',
    '                           (a relative PATH is made absolute)',
    '  -h, --help               print this help',
  ].join('\n');
}

interface InitOptions {
  name: string;
  kind: PluginKind;
  keyword: string | undefined;
  alivedSpec: string;
}

class UsageError extends AlivedError {
  constructor(message: string) {
    super('ALIVED_CLI_BAD_OPTION', message);
  }
}

function parseInit(argv: readonly string[]): InitOptions | 'help' {
  let name: string | undefined;
  let kind: PluginKind = 'checker';
  let keyword: string | undefined;
  let alivedSpec = `^${ALIVED_VERSION}`;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const opt = a.slice(2, eq < 0 ? undefined : eq);
      if (!['kind', 'keyword', 'alived'].includes(opt)) throw new UsageError(`unknown option '--${opt}'`);
      let v = eq < 0 ? argv[++i] : a.slice(eq + 1);
      if (v === undefined || v === '') throw new UsageError(`option '--${opt}' needs a value`);
      if (opt === 'kind') {
        if (v !== 'checker' && v !== 'notifier') throw new UsageError(`--kind '${v}': a plugin project is a checker or a notifier`);
        kind = v;
      } else if (opt === 'keyword') {
        keyword = v;
      } else {
        v = v.trim();
        if (/\s/.test(v)) throw new UsageError(`--alived '${v}': a version range or file:PATH, without spaces`);
        alivedSpec = v;
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) throw new UsageError(`unknown option '${a}'`);
    if (name !== undefined) throw new UsageError(`one NAME only: '${name}' and '${a}'`);
    name = a;
  }
  if (name === undefined) throw new UsageError('NAME is missing: the npm package name of the plugin (a folder of that name is made)');
  return { name, kind, keyword, alivedSpec };
}

/** the `alived` range the plugin declares: this version up to the next major */
function alivedRange(): string {
  const [major, minor] = ALIVED_VERSION.split('.').map(Number) as [number, number];
  return `>=${major}.${minor}.0 <${major + 1}.0.0`;
}

function nameError(message: string): AlivedError {
  return new AlivedError('ALIVED_CLI_PLUGIN_NAME', message);
}

/**
 * Refuses a keyword the daemon would refuse, by the daemon's own rules: the
 * built-in plugins are applied, then a plugin of this name registering this
 * keyword, then a config using it is compiled. A clash with a built-in
 * plugin's name or keyword, or with a keyword of alived's core, is caught here
 * rather than by the project's first test.
 */
async function checkKeyword(name: string, kind: PluginKind, keyword: string): Promise<void> {
  const again = `; give another with --keyword`;
  if (!KEYWORD_RE.test(keyword)) throw nameError(`keyword '${keyword}' is not a config keyword (a letter, then letters, digits or '_')${again}`);
  const probe: AlivedPlugin = {
    name,
    version: '0.0.0',
    apply(api) {
      if (kind === 'checker') api.registerChecker({ keyword, schema: block({}), create: () => ({ check: async () => ({ ok: true }) }) });
      else api.registerNotifier({ keyword, schema: block({}, { header: trackerHeader }), create: () => ({ accepts: () => true, deliver: async () => {} }) });
    },
  };
  const host = new PluginHost({ log: silentLogger });
  try {
    for (const plugin of BUILTIN_PLUGINS) await host.apply(plugin, { builtin: true });
    try {
      await host.apply(probe);
    } catch (err) {
      if (!isAlivedError(err)) throw err;
      if (err.message.includes('loaded twice')) throw nameError(`'${name}' is the name of a plugin alived has built in; choose another NAME`);
      throw nameError(`${kind} keyword '${keyword}' cannot be used: ${err.message}${again}`);
    }
    const text =
      kind === 'checker' ? `virtual_server 192.0.2.1 80 {\n  real_server 192.0.2.2 80 {\n    ${keyword} {\n    }\n  }\n}\n` : `${keyword} probe {\n}\n`;
    const result = await compileConfig(path.join(os.tmpdir(), 'alived-plugin-init', 'keepalived.conf'), {
      text,
      builtins: BUILTIN_PLUGINS,
      pluginHost: host,
      log: silentLogger,
    });
    const error = result.diagnostics.find((d) => d.severity === 'error');
    if (error) throw nameError(`${kind} keyword '${keyword}' cannot be used: ${error.message}${again}`);
  } finally {
    await host.close();
  }
}

/** Refuses a path that holds anything but an empty directory; says whether the directory is there. */
function checkTarget(dir: string, shown: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AlivedError('ALIVED_CLI_PLUGIN_DIR', `${shown} (${dir}) cannot be used: ${systemErrorText(err)}`, { cause: err });
  }
  if (!st.isDirectory()) throw new AlivedError('ALIVED_CLI_PLUGIN_DIR', `${shown} (${dir}) exists and is not a directory; nothing was written`);
  const entries = fs.readdirSync(dir);
  if (entries.length > 0) {
    const some = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', ...' : '');
    throw new AlivedError(
      'ALIVED_CLI_PLUGIN_DIR',
      `${shown} (${dir}) exists and is not empty (${some}); nothing was written: choose another NAME, or remove it`,
    );
  }
  return true;
}

/** Writes the files, never over anything; on a failure removes what it made. */
function writeProject(dir: string, existed: boolean, files: readonly ProjectFile[]): void {
  const made: Array<{ p: string; folder: boolean }> = [];
  try {
    if (!existed) {
      fs.mkdirSync(dir);
      made.push({ p: dir, folder: true });
    }
    for (const f of files) {
      const file = path.join(dir, f.path);
      const parent = path.dirname(file);
      if (!fs.existsSync(parent)) {
        fs.mkdirSync(parent);
        made.push({ p: parent, folder: true });
      }
      // wx: created here or not at all, never through a link
      fs.writeFileSync(file, f.text, { flag: 'wx', mode: 0o644 });
      made.push({ p: file, folder: false });
    }
  } catch (err) {
    // files first, then the folders made for them: only what this run created
    for (const { p, folder } of made.reverse()) {
      try {
        if (folder) fs.rmdirSync(p);
        else fs.unlinkSync(p);
      } catch {
        // already gone, or not removable: the error below names the project's folder
      }
    }
    throw new AlivedError('ALIVED_FILE_FAILED', `cannot write the project in ${dir}: ${systemErrorText(err)}; what was written is removed`, { cause: err });
  }
}

/**
 * The spec package.json gets: a relative `file:` path made absolute (npm
 * reads it from the project's folder, one level below where it was typed);
 * a `file:` path that does not exist is refused, before npm install would fail on it.
 */
function alivedSpecFor(spec: string, cwd: string): string {
  if (!spec.startsWith('file:')) return spec;
  const file = path.resolve(cwd, spec.slice('file:'.length));
  if (!fs.existsSync(file)) throw new UsageError(`--alived ${spec}: no file or folder ${file}`);
  return `file:${file}`;
}

async function init(o: InitOptions, io: PluginIo): Promise<void> {
  const alivedSpec = alivedSpecFor(o.alivedSpec, io.cwd);
  const problem = packageNameProblem(o.name);
  if (problem) throw nameError(`'${o.name.slice(0, 80)}' is not a valid npm package name: ${problem}`);
  const keyword = o.keyword ?? keywordOf(o.name, o.kind);
  await checkKeyword(o.name, o.kind, keyword);
  const folder = folderOf(o.name);
  const dir = path.resolve(io.cwd, folder);
  const existed = checkTarget(dir, `./${folder}`);
  const spec: ProjectSpec = { name: o.name, kind: o.kind, keyword, alivedSpec, alivedRange: alivedRange() };
  const files = projectFiles(spec);
  writeProject(dir, existed, files);
  io.stdout.write(
    [
      `Made the ${o.kind} plugin ${o.name} (keyword ${keyword}) in ./${folder}:`,
      ...files.map((f) => `  ${f.path}`),
      'Next:',
      `  cd ${folder}`,
      '  npm install',
      '  npm test',
      'README.md says how to enable it in keepalived.conf.',
      '',
    ].join('\n'),
  );
}

/** `alived plugin ...`: argv starts after `plugin`. */
export async function runPluginCommand(argv: readonly string[], io: PluginIo): Promise<number> {
  const err = (s: string): void => void io.stderr.write(`alived plugin init: ${s}\n`);
  const sub = argv[0];
  if (sub === '-h' || sub === '--help') {
    io.stdout.write(`${pluginUsage()}\n`);
    return PLUGIN_EXIT.OK;
  }
  if (sub !== 'init') {
    io.stderr.write(`alived plugin: ${sub === undefined ? 'a subcommand is missing' : `unknown subcommand '${sub}'`}\n${pluginUsage()}\n`);
    return PLUGIN_EXIT.USAGE;
  }
  try {
    const o = parseInit(argv.slice(1));
    if (o === 'help') {
      io.stdout.write(`${pluginUsage()}\n`);
      return PLUGIN_EXIT.OK;
    }
    await init(o, io);
    return PLUGIN_EXIT.OK;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\nTry 'alived plugin init --help'.`);
      return PLUGIN_EXIT.USAGE;
    }
    if (isAlivedError(e, 'ALIVED_FILE_FAILED')) {
      err(`${e.code}: ${e.message}`);
      return PLUGIN_EXIT.WRITE_FAILED;
    }
    if (isAlivedError(e)) {
      err(`${e.code}: ${e.message}`);
      return PLUGIN_EXIT.USAGE;
    }
    throw e;
  }
}
