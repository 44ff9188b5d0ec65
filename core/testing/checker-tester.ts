import assert from 'node:assert/strict';
import { planChecks } from '../check/plan';
import type { Diagnostic } from '../config/diagnostics';
import type { ConfigModel } from '../config/model';
import { checkResultShape } from '../plugin/check-result';
import { PluginHost } from '../plugin/host';
import type { AlivedPlugin, Checker, CheckResult } from '../plugin/types';
import {
  assertConnectionsClose,
  assertList,
  callWithSignal,
  compileSnippet,
  matches,
  PluginTester,
  silentLog,
  type CompiledSnippet,
  type PluginTesterOptions,
  type SuiteCase,
} from './snippet';
import type { ServerBehaviour, TestServer } from './test-servers';

/**
 * The tester alived ships for checker plugins, as ESLint's RuleTester is for
 * rules: a table of cases, each a config snippet (the lines inside the
 * checker's block), a real server on loopback, and the results expected.
 * A case runs the way the daemon would: the config is compiled with the
 * plugin (so its keywords are validated like core ones), configLoaded fires,
 * the checker is planned as the daemon plans it (planChecks(): connect_ip /
 * connect_port, connect_timeout inherited from the real_server or the
 * virtual_server, the checker's own timeout() such as misc_timeout), created,
 * and checked with a signal that aborts at that timeout.
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

export interface CheckerCase extends SuiteCase {
  /** the lines inside the checker's block; a function gets the server (to write its port) */
  readonly config: string | ((server: TestServer | undefined) => string);
  /** top-level config before the virtual_server: an SSL block, global_defs */
  readonly top?: string | ((server: TestServer | undefined) => string);
  /** lines inside the virtual_server, before its real_server: `connect_timeout 2`, `delay_loop 3` */
  readonly virtualServer?: string | ((server: TestServer | undefined) => string);
  /** lines inside the real_server, before the checker's block: `connect_timeout 2`, `weight 3` */
  readonly realServer?: string | ((server: TestServer | undefined) => string);
  /** the server the checker talks to; none: the real server is 127.0.0.1 port 1 */
  readonly server?: ServerBehaviour;
  /** the checker keyword, when the plugin registers several (HTTP_GET, SSL_GET) */
  readonly keyword?: string;
  /**
   * the signal aborts after this many ms; default the daemon's: the checker's
   * timeout() (MISC_CHECK's misc_timeout), else connect_timeout from the
   * block, the real_server or the virtual_server, else 5 s (a checker
   * without connect_timeout: its delay_loop)
   */
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
}

export interface CheckerTesterOptions extends PluginTesterOptions {
  /** the checker keyword cases use by default; default the only checker the plugin registers */
  readonly keyword?: string;
}

export interface CaseOutcome {
  readonly results: readonly CheckResult[];
  /** ms from each check() to its result */
  readonly durations: readonly number[];
  /** the config's diagnostics */
  readonly diagnostics: readonly Diagnostic[];
}

export class CheckerTester extends PluginTester<CheckerCase, CaseOutcome> {
  constructor(protected override readonly opts: CheckerTesterOptions) {
    super(opts);
  }

  /** Runs one case; rejects with an AssertionError saying what differs. */
  async runCase(c: CheckerCase): Promise<CaseOutcome> {
    const plugin = await this.loadPlugin();
    const server = c.server ? await c.server.start() : undefined;
    let compiled: CompiledSnippet | undefined;
    let checker: Checker | undefined;
    try {
      const keyword = c.keyword ?? this.opts.keyword ?? (await this.onlyKeyword(plugin));
      compiled = await compileSnippet({
        plugin: this.opts.plugin,
        loaded: plugin,
        options: this.opts.options,
        body: this.configText(c, keyword, server),
        folder: 'alived-checker-tester',
      });
      const { text, host, result, errors } = compiled;
      if (c.warnings) {
        const warnings = result.diagnostics.filter((d) => d.severity === 'warning' && d.code !== 'ALIVED_CONFIG_NOT_ACTED_ON').map((d) => d.message);
        assertList(`${c.name}: config warnings`, warnings, c.warnings, text);
      }
      if (c.errors) {
        assertList(`${c.name}: config errors`, errors, c.errors, text);
        return { results: [], durations: [], diagnostics: result.diagnostics };
      }
      if (errors.length) assert.fail(`${c.name}: the config has errors:\n  ${errors.join('\n  ')}\nconfig:\n${text}`);
      const model = result.model as ConfigModel;
      await host.hooks.configLoaded.promise(model);

      // the daemon's plan: target, timeout and every inherited value as the scheduler gets them
      const rs = planChecks(model, host.checkers).virtualServers[0]!.realServers[0]!;
      if (rs.notRun.some((n) => n.keyword === keyword)) assert.fail(`${keyword} registers no create(): alived accepts its keywords but cannot run it`);
      const cp = rs.checkers.find((p) => p.keyword === keyword)!;
      try {
        checker = cp.def.create!(cp.config, { target: cp.target, realServer: rs.endpoint, log: silentLog });
      } catch (err) {
        assert.fail(`${keyword}: create() threw: ${(err as Error)?.message ?? String(err)}`);
      }
      const timeoutMs = c.timeoutMs ?? cp.timeoutMs;
      const results: CheckResult[] = [];
      const durations: number[] = [];
      for (let i = 0; i < (c.runs ?? 1); i++) {
        const { result: r, ms } = await this.checkOnce(checker!, keyword, timeoutMs);
        results.push(r);
        durations.push(ms);
        if (c.expect) this.assertResult(c, i, r, server, text);
      }
      await checker!.close?.();
      checker = undefined;
      if (server) await assertConnectionsClose(server, this.settleMs, `${keyword}: `, 'the check settled and the checker was closed');
      const outcome = { results, durations, diagnostics: result.diagnostics };
      await c.inspect?.(server, outcome);
      return outcome;
    } finally {
      try {
        await checker?.close?.();
      } finally {
        await server?.close();
        await compiled?.host.close();
      }
    }
  }

  private async checkOnce(checker: Checker, keyword: string, timeoutMs: number): Promise<{ result: CheckResult; ms: number }> {
    // what the scheduler does at the planned timeout (connect_timeout, misc_timeout): a TimeoutError, so checkers can say "timed out"
    const r = await callWithSignal(`${keyword}: check()`, timeoutMs, `${keyword} timed out after ${timeoutMs} ms`, this.settleMs, (signal) =>
      checker.check(signal),
    );
    if (!r.ok) assert.fail(`${keyword}: check() rejected (a check reports failures as results): ${(r.error as Error)?.message ?? String(r.error)}`);
    const shape = checkResultShape(r.value);
    if (shape) assert.fail(`${keyword}: ${shape}`);
    return { result: r.value, ms: r.ms };
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

  private configText(c: CheckerCase, keyword: string, server: TestServer | undefined): string {
    const address = server?.address ?? '127.0.0.1';
    const port = server?.port ?? 1;
    const text = (t: CheckerCase['config'] | undefined): string => (typeof t === 'function' ? t(server) : (t ?? ''));
    const indent = (body: string, by: string): string =>
      body
        .split('\n')
        .map((l) => (l.trim() ? `${by}${l.trim()}` : ''))
        .join('\n');
    const around = (t: CheckerCase['config'] | undefined, by: string): string => (t === undefined ? '' : `${indent(text(t), by)}\n`);
    return `${text(c.top)}
virtual_server ${address} ${port} {
  lvs_sched rr
  lvs_method NAT
  protocol ${server?.protocol === 'udp' ? 'UDP' : 'TCP'}
${around(c.virtualServer, '  ')}  real_server ${address} ${port} {
${around(c.realServer, '    ')}    ${keyword} {
${indent(text(c.config), '      ')}
    }
  }
}
`;
  }

  /** the one checker keyword the plugin registers */
  private async onlyKeyword(plugin: AlivedPlugin<any>): Promise<string> {
    const scratch = new PluginHost({ log: silentLog });
    await scratch.apply(plugin, { options: typeof this.opts.plugin === 'string' ? undefined : this.opts.options });
    const keywords = [...scratch.checkers.keys()];
    await scratch.close();
    if (keywords.length !== 1) {
      throw new Error(
        `plugin '${plugin.name}' registers ${keywords.length ? keywords.join(', ') : 'no checker'}: give the keyword (in the tester's options or the case)`,
      );
    }
    return keywords[0]!;
  }
}
