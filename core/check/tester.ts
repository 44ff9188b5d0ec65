import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Diagnostic } from '../config/diagnostics';
import type { ConfigModel } from '../config/model';
import type { PluginHost } from '../plugin/host';
import type { AlivedPlugin, Checker, CheckResult, CheckerDefinition } from '../plugin/types';
import type { ServerBehaviour, TestServer } from './test-servers';

/**
 * The tester alived ships for checker plugins, as ESLint's RuleTester is for
 * rules: a table of cases, each a config snippet (the lines inside the
 * checker's block), a real server on loopback, and the results expected.
 * A case runs the way the daemon would: the config is compiled with the
 * plugin (so its keywords are validated like core ones), configLoaded fires,
 * the checker is created and checked with a signal that aborts at
 * connect_timeout.
 *
 * Beyond the results, every case holds a checker to the contract: check()
 * must return a promise (never throw), settle within `settleMs` of its
 * signal aborting, give a well-formed result, and leave no connection open
 * to the server once it has settled and been closed.
 */

export interface ExpectedResult {
  readonly ok: boolean;
  /** the exact message, or a pattern; a function gets the server (its port is in most messages) */
  readonly message?: string | RegExp | ((server: TestServer | undefined) => string | RegExp);
  /** the weight the result sets; `null`: the result sets none */
  readonly weight?: number | null;
}

export interface CheckerCase {
  /** what the case shows: `slow server: times out` */
  readonly name: string;
  /** the lines inside the checker's block; a function gets the server (to write its port) */
  readonly config: string | ((server: TestServer | undefined) => string);
  /** top-level config before the virtual_server: an SSL block, global_defs */
  readonly top?: string | ((server: TestServer | undefined) => string);
  /** the server the checker talks to; none: the real server is 127.0.0.1 port 1 */
  readonly server?: ServerBehaviour;
  /** the checker keyword, when the plugin registers several (HTTP_GET, SSL_GET) */
  readonly keyword?: string;
  /** the signal aborts after this many ms; default the block's connect_timeout, else 5000 (keepalived's) */
  readonly timeoutMs?: number;
  /** checks run one after the other on one checker, each expected to give `expect`; default 1 */
  readonly runs?: number;
  /** the result of every run */
  readonly expect?: ExpectedResult;
  /** config errors instead of a result: the messages, in order, without file:line:col */
  readonly errors?: ReadonlyArray<string | RegExp>;
  /** the config's warnings (those about features not acted on yet left out), in order */
  readonly warnings?: ReadonlyArray<string | RegExp>;
  /** after the checks: assert what the server saw */
  readonly inspect?: (server: TestServer | undefined, outcome: CaseOutcome) => void | Promise<void>;
  readonly only?: boolean;
  readonly skip?: boolean | string;
}

export interface CheckerTesterOptions {
  /** the plugin under test, or the path of its module (then enabled from the config's plugins block, as operators do) */
  readonly plugin: AlivedPlugin<any> | string;
  /** the checker keyword cases use by default; default the only checker the plugin registers */
  readonly keyword?: string;
  /**
   * the plugin's options: with a module path, the text inside its block in
   * `plugins { }` (validated by its schema); with a plugin object, the value
   * itself
   */
  readonly options?: unknown;
  /** how long check() may take to settle once its signal aborted, and to close its connections; default 500 ms */
  readonly settleMs?: number;
}

export interface CaseOutcome {
  readonly results: readonly CheckResult[];
  /** ms from each check() to its result */
  readonly durations: readonly number[];
  /** the config's diagnostics */
  readonly diagnostics: readonly Diagnostic[];
}

/** keepalived's connect_timeout when neither the checker, the real server nor the virtual server sets one */
const DEFAULT_TIMEOUT_MS = 5000;

const silent = {
  debug() {},
  info() {},
  notice() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
  isLevelEnabled: () => false,
};

/** a relative module path made absolute: the config naming it is written elsewhere */
function modulePath(spec: string): string {
  return spec.startsWith('./') || spec.startsWith('../') ? path.resolve(spec) : spec;
}

function matches(actual: string | undefined, expected: string | RegExp): boolean {
  return typeof expected === 'string' ? actual === expected : actual !== undefined && expected.test(actual);
}

function assertList(what: string, actual: readonly string[], expected: ReadonlyArray<string | RegExp>, config: string): void {
  const ok = actual.length === expected.length && expected.every((e, i) => matches(actual[i], e));
  if (!ok) {
    assert.fail(`${what}:\n  expected ${expected.map(String).join('\n           ') || '(none)'}\n  got      ${actual.join('\n           ') || '(none)'}\nconfig:\n${config}`);
  }
}

/** A result as the scheduler relies on it: `ok` a boolean, `message` a string if any, `weight` a finite number if any. */
export function checkResultShape(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return `the result is ${r === null ? 'null' : typeof r}, not an object`;
  const o = r as Record<string, unknown>;
  if (typeof o.ok !== 'boolean') return `result.ok is ${typeof o.ok}, not a boolean`;
  if (o.message !== undefined && typeof o.message !== 'string') return `result.message is ${typeof o.message}, not a string`;
  if (o.weight !== undefined && (typeof o.weight !== 'number' || !Number.isFinite(o.weight))) return `result.weight is ${String(o.weight)}, not a finite number`;
  return undefined;
}

export class CheckerTester {
  private readonly settleMs: number;
  private plugin: Promise<AlivedPlugin<any>> | undefined;

  constructor(private readonly opts: CheckerTesterOptions) {
    this.settleMs = opts.settleMs ?? 500;
  }

  /** Registers a node:test suite: one test per case. */
  run(title: string, cases: readonly CheckerCase[]): void {
    // loaded here, not at the top: the daemon imports this module through the SDK and never runs tests
    const { describe, it } = require('node:test') as typeof import('node:test');
    describe(title, () => {
      for (const c of cases) {
        const skip = c.skip === true ? true : typeof c.skip === 'string' ? c.skip : undefined;
        it(c.name, { only: c.only, skip }, async () => {
          await this.runCase(c);
        });
      }
    });
  }

  /** Runs one case; rejects with an AssertionError saying what differs. */
  async runCase(c: CheckerCase): Promise<CaseOutcome> {
    const plugin = await this.loadPlugin();
    const { PluginHost } = await import('../plugin/host');
    const { compileConfig } = await import('../config/compile');
    const server = c.server ? await c.server.start() : undefined;
    const host: PluginHost = new PluginHost({ log: silent });
    let checker: Checker | undefined;
    try {
      const keyword = c.keyword ?? this.opts.keyword ?? (await this.onlyKeyword(plugin));
      const text = this.configText(c, keyword, server);
      if (typeof this.opts.plugin !== 'string') await host.apply(plugin, { options: this.opts.options });
      const file = path.join(os.tmpdir(), 'alived-checker-tester', 'keepalived.conf');
      const compiled = await compileConfig(file, { text, pluginHost: host, log: silent });
      const errors = compiled.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
      if (c.warnings) {
        const warnings = compiled.diagnostics.filter((d) => d.severity === 'warning' && d.code !== 'ALIVED_CONFIG_NOT_ACTED_ON').map((d) => d.message);
        assertList(`${c.name}: config warnings`, warnings, c.warnings, text);
      }
      if (c.errors) {
        assertList(`${c.name}: config errors`, errors, c.errors, text);
        return { results: [], durations: [], diagnostics: compiled.diagnostics };
      }
      if (errors.length) assert.fail(`${c.name}: the config has errors:\n  ${errors.join('\n  ')}\nconfig:\n${text}`);
      const model = compiled.model as ConfigModel;
      await host.hooks.configLoaded.promise(model);

      const rs = model.virtualServer[0]!.realServer[0]!;
      const value = rs.extensions.find((e) => e.keyword === keyword)!.value as { connectIp?: { address: string }; connectPort?: number; connectTimeout?: number };
      const def = host.checkers.get(keyword)!.def as CheckerDefinition<unknown>;
      if (!def.create) assert.fail(`${keyword} registers no create(): alived accepts its keywords but cannot run it`);
      const realServer = { address: rs.address, port: rs.port, protocol: server?.protocol };
      // connect_ip / connect_port, else the real server: what the scheduler hands every checker
      const target = { address: value.connectIp?.address ?? rs.address, port: value.connectPort ?? rs.port, protocol: server?.protocol };
      try {
        checker = def.create(value, { target, realServer, log: silent });
      } catch (err) {
        assert.fail(`${keyword}: create() threw: ${(err as Error)?.message ?? String(err)}`);
      }
      const timeoutMs = c.timeoutMs ?? (value.connectTimeout !== undefined ? value.connectTimeout * 1000 : DEFAULT_TIMEOUT_MS);
      const results: CheckResult[] = [];
      const durations: number[] = [];
      for (let i = 0; i < (c.runs ?? 1); i++) {
        const { result, ms } = await this.checkOnce(checker!, keyword, timeoutMs);
        results.push(result);
        durations.push(ms);
        if (c.expect) this.assertResult(c, i, result, server, text);
      }
      await checker!.close?.();
      checker = undefined;
      if (server) await this.assertNoOpenConnections(keyword, server);
      const outcome = { results, durations, diagnostics: compiled.diagnostics };
      await c.inspect?.(server, outcome);
      return outcome;
    } finally {
      try {
        await checker?.close?.();
      } finally {
        await server?.close();
        await host.close();
      }
    }
  }

  private async checkOnce(checker: Checker, keyword: string, timeoutMs: number): Promise<{ result: CheckResult; ms: number }> {
    const ac = new AbortController();
    // what the scheduler does at connect_timeout: a TimeoutError, so checkers can say "timed out"
    const abortTimer = setTimeout(() => ac.abort(new DOMException(`connect_timeout (${timeoutMs} ms)`, 'TimeoutError')), timeoutMs);
    const t0 = performance.now();
    let pending: Promise<CheckResult>;
    try {
      pending = checker.check(ac.signal);
    } catch (err) {
      clearTimeout(abortTimer);
      assert.fail(`${keyword}: check() threw instead of returning a promise: ${(err as Error)?.message ?? String(err)}`);
    }
    if (!pending || typeof (pending as { then?: unknown }).then !== 'function') {
      clearTimeout(abortTimer);
      assert.fail(`${keyword}: check() returned ${typeof pending}, not a promise`);
    }
    let bound: NodeJS.Timeout | undefined;
    const unsettled = Symbol('unsettled');
    try {
      const r = await Promise.race([
        Promise.resolve(pending).then(
          (v) => v,
          (err: unknown) => assert.fail(`${keyword}: check() rejected (a check reports failures as results): ${(err as Error)?.message ?? String(err)}`),
        ),
        new Promise<typeof unsettled>((resolve) => (bound = setTimeout(() => resolve(unsettled), timeoutMs + this.settleMs))),
      ]);
      if (r === unsettled) {
        assert.fail(`${keyword}: check() did not settle within ${this.settleMs} ms of its signal aborting (at ${timeoutMs} ms)`);
      }
      const shape = checkResultShape(r);
      if (shape) assert.fail(`${keyword}: ${shape}`);
      return { result: r, ms: performance.now() - t0 };
    } finally {
      clearTimeout(abortTimer);
      if (bound) clearTimeout(bound);
    }
  }

  private assertResult(c: CheckerCase, run: number, r: CheckResult, server: TestServer | undefined, text: string): void {
    const e = c.expect!;
    const label = `${c.name}${(c.runs ?? 1) > 1 ? ` (run ${run + 1})` : ''}`;
    const got = `got ${JSON.stringify(r)}\nserver: ${c.server?.description ?? 'none'}\nconfig:\n${text}`;
    if (r.ok !== e.ok) assert.fail(`${label}: expected ok ${e.ok}, ${got}`);
    if (e.message !== undefined) {
      const m = typeof e.message === 'function' ? e.message(server) : e.message;
      if (!matches(r.message, m)) assert.fail(`${label}: expected message ${typeof m === 'string' ? JSON.stringify(m) : String(m)}, ${got}`);
    }
    if (e.weight !== undefined) {
      const want = e.weight === null ? undefined : e.weight;
      if (r.weight !== want) assert.fail(`${label}: expected weight ${e.weight === null ? 'none' : e.weight}, ${got}`);
    }
  }

  /** A checker that settled must have closed what it opened: the server sees its connections go. */
  private async assertNoOpenConnections(keyword: string, server: TestServer): Promise<void> {
    const until = performance.now() + this.settleMs;
    while (server.openConnections() > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
    const open = server.openConnections();
    if (open > 0) assert.fail(`${keyword}: ${open} connection${open === 1 ? '' : 's'} to the server still open ${this.settleMs} ms after the check settled and the checker was closed`);
  }

  private configText(c: CheckerCase, keyword: string, server: TestServer | undefined): string {
    const address = server?.address ?? '127.0.0.1';
    const port = server?.port ?? 1;
    const body = typeof c.config === 'function' ? c.config(server) : c.config;
    const top = typeof c.top === 'function' ? c.top(server) : (c.top ?? '');
    const plugins =
      typeof this.opts.plugin === 'string'
        ? `plugins {\n  "${modulePath(this.opts.plugin)}"${this.opts.options !== undefined ? ` {\n${String(this.opts.options)}\n  }` : ''}\n}\n`
        : '';
    const indented = body
      .split('\n')
      .map((l) => (l.trim() ? `      ${l.trim()}` : ''))
      .join('\n');
    return `${plugins}${top}
virtual_server ${address} ${port} {
  lvs_sched rr
  lvs_method NAT
  protocol ${server?.protocol === 'udp' ? 'UDP' : 'TCP'}
  real_server ${address} ${port} {
    ${keyword} {
${indented}
    }
  }
}
`;
  }

  private loadPlugin(): Promise<AlivedPlugin<any>> {
    return (this.plugin ??= (async () => {
      if (typeof this.opts.plugin !== 'string') return this.opts.plugin;
      const { loadPluginModule, resolvePlugin } = await import('../plugin/loader');
      return loadPluginModule(resolvePlugin(modulePath(this.opts.plugin), process.cwd()), this.opts.plugin);
    })());
  }

  /** the one checker keyword the plugin registers */
  private async onlyKeyword(plugin: AlivedPlugin<any>): Promise<string> {
    const { PluginHost } = await import('../plugin/host');
    const scratch = new PluginHost({ log: silent });
    await scratch.apply(plugin, { options: typeof this.opts.plugin === 'string' ? undefined : this.opts.options });
    const keywords = [...scratch.checkers.keys()];
    await scratch.close();
    if (keywords.length !== 1) {
      throw new Error(`plugin '${plugin.name}' registers ${keywords.length ? keywords.join(', ') : 'no checker'}: give the keyword (in the tester's options or the case)`);
    }
    return keywords[0]!;
  }
}
