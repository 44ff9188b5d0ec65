import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Diagnostic } from '../config/diagnostics';
import type { ConfigModel } from '../config/model';
import { createNotifiers } from '../notify/notifiers';
import type { DeliveryInfo, NotifyEvent } from '../plugin/events';
import type { Notifier } from '../plugin/types';
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
 * The tester alived ships for notifier plugins, as CheckerTester is for
 * checkers: a table of cases, each a config (the notifier's block), a real
 * server on loopback, the events published and what their deliveries must
 * give. A case runs the way the daemon does: the config is compiled with the
 * plugin (its keywords validated like core ones), configLoaded fires, the
 * notifiers are made as the daemon makes them (configure() / create()), each
 * event goes through accepts() and the accepted ones through deliver() with a
 * signal that aborts at `timeoutMs`.
 *
 * Every case also holds the notifier to the contract: accepts() returns a
 * boolean; deliver() returns a promise (never throws), settles within
 * `settleMs` of its signal aborting, resolves on success and rejects with an
 * Error on failure (`retry: false` when retrying cannot help); close() leaves
 * no connection open to the server.
 */

export type DeliveryOutcome = 'sent' | 'retry' | 'failed';

export interface NotifierCase extends SuiteCase {
  /** the config: the notifier's block (and global_defs, ...); a function gets the server (its port) */
  readonly config: string | ((server: TestServer | undefined) => string);
  /** the server the notifier talks to (httpServer(), tcpServer(), ... from alived) */
  readonly server?: ServerBehaviour;
  /** the events published, in order; default one VRRP instance VI_1 BACKUP -> MASTER */
  readonly events?: readonly NotifyEvent[];
  /** the indexes of the events the notifier must accept; default every one */
  readonly accepted?: readonly number[];
  /** the outcome of each accepted event's delivery (one for all, or one each) */
  readonly expect?: DeliveryOutcome | readonly DeliveryOutcome[];
  /** the error message of failed deliveries, or a pattern */
  readonly message?: string | RegExp;
  /** config errors instead of deliveries: the messages, in order, without file:line:col */
  readonly errors?: ReadonlyArray<string | RegExp>;
  /** the notifier to test (its name) when the config makes several */
  readonly notifier?: string;
  /** a delivery's signal aborts after this many ms; default 5000 */
  readonly timeoutMs?: number;
  /** after the deliveries: assert what the server saw */
  readonly inspect?: (server: TestServer | undefined, outcome: NotifierCaseOutcome) => void | Promise<void>;
}

export type NotifierTesterOptions = PluginTesterOptions;

export interface NotifierCaseOutcome {
  /** per accepted event: what deliver() gave */
  readonly deliveries: ReadonlyArray<{
    readonly event: NotifyEvent;
    readonly outcome: DeliveryOutcome;
    readonly error?: Error;
    readonly ms: number;
    readonly info: DeliveryInfo;
  }>;
  readonly accepted: readonly number[];
  readonly diagnostics: readonly Diagnostic[];
}

export const SAMPLE_EVENT: NotifyEvent = {
  type: 'vrrp',
  kind: 'instance',
  name: 'VI_1',
  from: 'BACKUP',
  to: 'MASTER',
  priority: 100,
  reason: 'master down timer',
  time: Date.UTC(2024, 0, 1),
};

export class NotifierTester extends PluginTester<NotifierCase, NotifierCaseOutcome> {
  /** Runs one case; rejects with an AssertionError saying what differs. */
  async runCase(c: NotifierCase): Promise<NotifierCaseOutcome> {
    const plugin = await this.loadPlugin();
    const server = c.server ? await c.server.start() : undefined;
    let snippet: CompiledSnippet | undefined;
    const made: Notifier[] = [];
    try {
      const body = typeof c.config === 'function' ? c.config(server) : c.config;
      snippet = await compileSnippet({
        plugin: this.opts.plugin,
        loaded: plugin,
        options: this.opts.options,
        body: `${body}\n`,
        folder: 'alived-notifier-tester',
      });
      const { text, host, result: compiled, errors } = snippet;
      if (c.errors) {
        assertList(`${c.name}: config errors`, errors, c.errors, text);
        return { deliveries: [], accepted: [], diagnostics: compiled.diagnostics };
      }
      if (errors.length) assert.fail(`${c.name}: the config has errors:\n  ${errors.join('\n  ')}\nconfig:\n${text}`);
      const model = compiled.model as ConfigModel;
      await host.hooks.configLoaded.promise(model);
      const failures: string[] = [];
      const log = { ...silentLog, error: (o: unknown, m?: string) => failures.push(m ?? String(o)), child: () => log };
      // only this plugin's notifiers
      const own = new Map([...host.notifiers].filter(([, r]) => r.owner === plugin.name));
      const specs = createNotifiers(model, { notifiers: own }, log as never);
      if (failures.length) assert.fail(`${c.name}: ${failures.join('\n')}`);
      for (const s of specs) made.push(s.notifier);
      const spec = c.notifier ? specs.find((s) => s.name === c.notifier) : specs.length === 1 ? specs[0] : undefined;
      if (!spec)
        assert.fail(
          `${c.name}: the config makes ${specs.length ? specs.map((s) => `'${s.name}'`).join(', ') : 'no notifier'}${c.notifier ? `, not '${c.notifier}'` : ': give the case a notifier name'}`,
        );
      const n = spec.notifier;
      const events = c.events ?? [SAMPLE_EVENT];
      const accepted: number[] = [];
      events.forEach((e, i) => {
        let a: unknown = true;
        if (n.accepts) {
          try {
            a = n.accepts(e);
          } catch (err) {
            assert.fail(`${c.name}: accepts() threw: ${(err as Error)?.message ?? String(err)}`);
          }
          if (typeof a !== 'boolean') assert.fail(`${c.name}: accepts() returned ${typeof a}, not a boolean`);
        }
        if (a) accepted.push(i);
      });
      if (c.accepted) assert.deepEqual(accepted, [...c.accepted], `${c.name}: the events accepted (by index)`);
      const deliveries: Array<NotifierCaseOutcome['deliveries'][number]> = [];
      let sequence = 0;
      for (const i of accepted) {
        const info: DeliveryInfo = { id: randomUUID(), sequence: ++sequence, attempt: 1, acceptedAt: Date.now() };
        deliveries.push({ event: events[i]!, info, ...(await this.deliverOnce(c, n, events[i]!, info)) });
      }
      const want = c.expect;
      deliveries.forEach((d, k) => {
        const w = want === undefined ? undefined : typeof want === 'string' ? want : want[k];
        if (w !== undefined && d.outcome !== w) {
          assert.fail(
            `${c.name}: delivery ${k + 1} (${d.event.type}): expected ${w}, got ${d.outcome}${d.error ? `: ${d.error.message}` : ''}\nserver: ${c.server?.description ?? 'none'}`,
          );
        }
        if (c.message !== undefined && d.outcome !== 'sent' && !matches(d.error?.message, c.message)) {
          assert.fail(`${c.name}: delivery ${k + 1}: expected the message ${String(c.message)}, got ${JSON.stringify(d.error?.message)}`);
        }
      });
      for (const m of made.splice(0)) await m.close?.();
      if (server) await assertConnectionsClose(server, this.settleMs, '', 'the deliveries settled and the notifier was closed');
      const outcome = { deliveries, accepted, diagnostics: compiled.diagnostics };
      await c.inspect?.(server, outcome);
      return outcome;
    } finally {
      for (const m of made) await Promise.resolve(m.close?.()).catch(() => undefined);
      await server?.close();
      await snippet?.host.close();
    }
  }

  private async deliverOnce(
    c: NotifierCase,
    n: Notifier,
    event: NotifyEvent,
    info: DeliveryInfo,
  ): Promise<{ outcome: DeliveryOutcome; error?: Error; ms: number }> {
    const timeoutMs = c.timeoutMs ?? 5000;
    const r = await callWithSignal(`${c.name}: deliver()`, timeoutMs, `no answer within ${timeoutMs} ms`, this.settleMs, (signal) =>
      n.deliver(event, signal, info),
    );
    if (r.ok) return { outcome: 'sent', ms: r.ms };
    if (!(r.error instanceof Error)) assert.fail(`${c.name}: deliver() rejected with ${typeof r.error}, not an Error`);
    return { outcome: (r.error as { retry?: unknown }).retry === false ? 'failed' : 'retry', error: r.error, ms: r.ms };
  }
}
