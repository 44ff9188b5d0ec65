import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileConfig, type CompileResult } from '../config/compile';
import type { Logger } from '../log/logger';
import { BUILTIN_PLUGINS } from '../plugin/builtins';
import { PluginHost } from '../plugin/host';
import { loadPluginModule, resolvePlugin } from '../plugin/loader';
import type { AlivedPlugin } from '../plugin/types';
import type { TestServer } from './test-servers';

/**
 * What the checker and notifier testers share: the plugin under test loaded
 * as the daemon loads it, a config snippet compiled with it and the
 * built-in plugins, the way their cases are registered with node:test, and
 * the wait for a server's connections to close.
 */

/** the plugin under test: the plugin object, or the path of its module (then enabled from the config's plugins block) */
export type PluginUnderTest = AlivedPlugin<any> | string;

export const silentLog: Logger = {
  debug() {},
  info() {},
  notice() {},
  warn() {},
  error() {},
  child() {
    return silentLog;
  },
  isLevelEnabled: () => false,
};

/** a relative module path made absolute: the config naming it is written elsewhere */
export function modulePath(spec: string): string {
  return spec.startsWith('./') || spec.startsWith('../') ? path.resolve(spec) : spec;
}

export function matches(actual: string | undefined, expected: string | RegExp): boolean {
  return typeof expected === 'string' ? actual === expected : actual !== undefined && expected.test(actual);
}

/** Fails unless `actual` matches `expected`, one by one, in order. */
export function assertList(what: string, actual: readonly string[], expected: ReadonlyArray<string | RegExp>, config: string): void {
  const ok = actual.length === expected.length && expected.every((e, i) => matches(actual[i], e));
  if (!ok) {
    assert.fail(
      `${what}:\n  expected ${expected.map(String).join('\n           ') || '(none)'}\n  got      ${actual.join('\n           ') || '(none)'}\nconfig:\n${config}`,
    );
  }
}

/** The plugin object: given, or loaded from its module as the config's plugins block loads it. */
export async function loadPluginUnderTest(plugin: PluginUnderTest): Promise<AlivedPlugin<any>> {
  if (typeof plugin !== 'string') return plugin;
  return loadPluginModule(resolvePlugin(modulePath(plugin), process.cwd()), plugin);
}

export interface Snippet {
  readonly plugin: PluginUnderTest;
  /** the plugin object (loadPluginUnderTest()) */
  readonly loaded: AlivedPlugin<any>;
  /** with a module path: the text inside its block in `plugins { }`; with an object: the options value */
  readonly options?: unknown;
  /** the config after the plugins block */
  readonly body: string;
  /** the folder under the temp dir the config is said to be in (positions name it) */
  readonly folder: string;
}

export interface CompiledSnippet {
  /** the whole config compiled */
  readonly text: string;
  /** the host the plugins were applied to; the caller closes it */
  readonly host: PluginHost;
  readonly result: CompileResult;
  /** the messages of the config's errors */
  readonly errors: readonly string[];
}

/**
 * Compiles a snippet as the daemon compiles a config: the built-in plugins
 * first, then the plugin under test (applied with its options, or enabled
 * from a `plugins { }` block written before the snippet for a module path).
 */
export async function compileSnippet(s: Snippet): Promise<CompiledSnippet> {
  const plugins =
    typeof s.plugin === 'string' ? `plugins {\n  "${modulePath(s.plugin)}"${s.options !== undefined ? ` {\n${String(s.options)}\n  }` : ''}\n}\n` : '';
  const text = `${plugins}${s.body}`;
  const host = new PluginHost({ log: silentLog });
  try {
    if (typeof s.plugin !== 'string') await host.apply(s.loaded, { options: s.options });
    const file = path.join(os.tmpdir(), s.folder, 'keepalived.conf');
    const result = await compileConfig(file, { text, builtins: BUILTIN_PLUGINS, pluginHost: host, log: silentLog });
    const errors = result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
    return { text, host, result, errors };
  } catch (err) {
    await host.close();
    throw err;
  }
}

/** what every case of a tester has */
export interface SuiteCase {
  /** what the case shows */
  readonly name: string;
  readonly only?: boolean;
  readonly skip?: boolean | string;
}

/** what every tester is given */
export interface PluginTesterOptions {
  /** the plugin under test, or the path of its module (then enabled from the config's plugins block, as operators do) */
  readonly plugin: PluginUnderTest;
  /**
   * the plugin's options: with a module path, the text inside its block in
   * `plugins { }` (validated by its schema); with a plugin object, the value
   * itself
   */
  readonly options?: unknown;
  /** how long a call may take to settle once its signal aborted, and to close its connections; default 500 ms */
  readonly settleMs?: number;
}

/** Registers a node:test suite: one test per case. */
export function registerSuite<C extends SuiteCase>(title: string, cases: readonly C[], runCase: (c: C) => Promise<unknown>): void {
  // loaded when a suite is registered: runCase() alone does not need node:test
  const { describe, it } = require('node:test') as typeof import('node:test');
  describe(title, () => {
    for (const c of cases) {
      const skip = c.skip === true ? true : typeof c.skip === 'string' ? c.skip : undefined;
      it(c.name, { only: c.only, skip }, async () => {
        await runCase(c);
      });
    }
  });
}

/**
 * Fails unless every connection to the server closes within `settleMs`:
 * `${prefix}N connections to the server still open ${settleMs} ms after ${after}`.
 */
export async function assertConnectionsClose(server: TestServer, settleMs: number, prefix: string, after: string): Promise<void> {
  const until = performance.now() + settleMs;
  while (server.openConnections() > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
  const open = server.openConnections();
  if (open > 0) assert.fail(`${prefix}${open} connection${open === 1 ? '' : 's'} to the server still open ${settleMs} ms after ${after}`);
}

export type Settled<T> = { readonly ok: true; readonly value: T; readonly ms: number } | { readonly ok: false; readonly error: unknown; readonly ms: number };

/**
 * Calls a plugin as the daemon does, with a signal that aborts with a
 * TimeoutError after `timeoutMs` (so the plugin can say "timed out"), and
 * holds the call to the contract every such call shares: it returns a
 * promise (it never throws), which settles within `settleMs` of the signal
 * aborting. `what` names the call in failures: `HTTP_GET: check()`.
 */
export async function callWithSignal<T>(
  what: string,
  timeoutMs: number,
  abortMessage: string,
  settleMs: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<Settled<T>> {
  const ac = new AbortController();
  const abortTimer = setTimeout(() => ac.abort(new DOMException(abortMessage, 'TimeoutError')), timeoutMs);
  const t0 = performance.now();
  let pending: Promise<T>;
  try {
    pending = call(ac.signal);
  } catch (err) {
    clearTimeout(abortTimer);
    assert.fail(`${what} threw instead of returning a promise: ${(err as Error)?.message ?? String(err)}`);
  }
  if (!pending || typeof (pending as { then?: unknown }).then !== 'function') {
    clearTimeout(abortTimer);
    assert.fail(`${what} returned ${typeof pending}, not a promise`);
  }
  let bound: NodeJS.Timeout | undefined;
  const unsettled = Symbol('unsettled');
  try {
    const r = await Promise.race([
      Promise.resolve(pending).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      new Promise<typeof unsettled>((resolve) => (bound = setTimeout(() => resolve(unsettled), timeoutMs + settleMs))),
    ]);
    if (r === unsettled) assert.fail(`${what} did not settle within ${settleMs} ms of its signal aborting (at ${timeoutMs} ms)`);
    return { ...r, ms: performance.now() - t0 };
  } finally {
    clearTimeout(abortTimer);
    if (bound) clearTimeout(bound);
  }
}

/**
 * What both testers are: a plugin under test (loaded once), how long its
 * calls may take to settle once their signal aborted, and a table of cases
 * registered as a node:test suite.
 */
export abstract class PluginTester<C extends SuiteCase, O> {
  protected readonly settleMs: number;
  private loaded: Promise<AlivedPlugin<any>> | undefined;

  constructor(protected readonly opts: PluginTesterOptions) {
    this.settleMs = opts.settleMs ?? 500;
  }

  /** Registers a node:test suite: one test per case. */
  run(title: string, cases: readonly C[]): void {
    registerSuite(title, cases, (c) => this.runCase(c));
  }

  /** Runs one case; rejects with an AssertionError saying what differs. */
  abstract runCase(c: C): Promise<O>;

  protected loadPlugin(): Promise<AlivedPlugin<any>> {
    return (this.loaded ??= loadPluginUnderTest(this.opts.plugin));
  }
}
