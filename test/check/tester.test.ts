import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { block, checkerCommonFields, checkerConnectionFields, checkResultShape, duration, word, str, type AlivedPlugin, type Checker } from '../../core/sdk';
import { CheckerTester, tcpServer } from '../../core/testing';

const FIXTURE = path.join(__dirname, 'fixtures', 'banner-check.js');

const banner = (text: string) =>
  tcpServer((sock) => {
    sock.resume();
    sock.write(`${text}\n`);
  }, `a server saying '${text}'`);

// the tester run as a plugin author would: the plugin's module enabled from the config, with its options
new CheckerTester({ plugin: FIXTURE, options: 'prefix "SSH-"' }).run('CheckerTester with a plugin module and its options', [
  {
    name: 'a matching banner',
    config: 'expect 2.0',
    server: banner('SSH-2.0-OpenSSH_9.2'),
    expect: { ok: true, message: 'SSH-2.0-OpenSSH_9.2' },
  },
  {
    name: 'the options apply',
    config: 'expect 1.99',
    server: banner('SSH-2.0-OpenSSH_9.2'),
    expect: { ok: false, message: "banner 'SSH-2.0-OpenSSH_9.2', expected 'SSH-1.99'" },
  },
  {
    name: "the plugin's keywords are validated like core ones",
    config: 'expct 2.0',
    // in the order of their positions: the block's keyword first
    errors: ["'BANNER_CHECK' lacks required 'expect'", "unknown keyword 'expct' in BANNER_CHECK (did you mean 'expect'?)"],
  },
]);

/** a plugin whose one checker is `make()`, for the contract cases */
function pluginWith(make: () => Checker): AlivedPlugin {
  return {
    name: 'contract-probe',
    version: '1.0.0',
    apply(api) {
      api.registerChecker({ keyword: 'PROBE_CHECK', schema: block({ note: word(str()) }), create: make });
    },
  };
}

async function rejection(make: () => Checker, c: Partial<Parameters<CheckerTester['runCase']>[0]> = {}): Promise<string> {
  const tester = new CheckerTester({ plugin: pluginWith(make), settleMs: 200 });
  try {
    await tester.runCase({ name: 'probe', config: '', timeoutMs: 100, expect: { ok: true }, ...c });
  } catch (err) {
    return (err as Error).message.split('\n')[0]!;
  }
  return 'no rejection';
}

test('the tester holds a checker to the contract', async () => {
  assert.equal(
    await rejection(() => ({
      check() {
        throw new Error('boom');
      },
    })),
    'PROBE_CHECK: check() threw instead of returning a promise: boom',
  );
  assert.equal(await rejection(() => ({ check: () => 42 as unknown as Promise<never> })), 'PROBE_CHECK: check() returned number, not a promise');
  assert.equal(
    await rejection(() => ({ check: () => Promise.reject(new Error('nope')) })),
    'PROBE_CHECK: check() rejected (a check reports failures as results): nope',
  );
  assert.equal(
    await rejection(() => ({ check: () => new Promise(() => {}) })),
    'PROBE_CHECK: check() did not settle within 200 ms of its signal aborting (at 100 ms)',
  );
  assert.equal(await rejection(() => ({ check: async () => ({ ok: 'yes' }) as never })), 'PROBE_CHECK: result.ok is string, not a boolean');
  assert.equal(await rejection(() => ({ check: async () => ({ ok: true, weight: NaN }) })), 'PROBE_CHECK: result.weight is NaN, not a finite number');
  assert.equal(
    await rejection(() => {
      throw new Error('bad config');
    }),
    'PROBE_CHECK: create() threw: bad config',
  );
  assert.equal(await rejection(() => ({ check: async () => ({ ok: false, message: 'down' }) })), 'probe: expected ok true, got {"ok":false,"message":"down"}');
  assert.equal(
    await rejection(() => ({ check: async () => ({ ok: true, weight: 3 }) }), { expect: { ok: true, weight: null } }),
    'probe: expected weight none, got {"ok":true,"weight":3}',
  );
  assert.equal(
    await rejection(() => ({ check: async () => ({ ok: true, message: 'up' }) }), { expect: { ok: true, message: /down/ } }),
    'probe: expected message /down/, got {"ok":true,"message":"up"}',
  );
});

test('the tester catches a checker that leaves a connection open', async () => {
  const leaked: net.Socket[] = [];
  const tester = new CheckerTester({
    plugin: {
      name: 'leaky',
      version: '1.0.0',
      apply(api) {
        api.registerChecker({
          keyword: 'LEAKY_CHECK',
          schema: block({}),
          create: (_c, ctx): Checker => ({
            check: () =>
              new Promise((resolve) => {
                const sock = net.connect(ctx.target.port, ctx.target.address, () => resolve({ ok: true }));
                sock.on('error', () => {});
                leaked.push(sock);
              }),
          }),
        });
      },
    },
    settleMs: 200,
  });
  await assert.rejects(
    tester.runCase({ name: 'leak', config: '', server: tcpServer(), expect: { ok: true } }),
    /LEAKY_CHECK: 1 connection to the server still open 200 ms after the check settled and the checker was closed/,
  );
  for (const s of leaked) s.destroy();
});

test('checkResultShape', () => {
  assert.equal(checkResultShape({ ok: true }), undefined);
  assert.equal(checkResultShape({ ok: false, message: 'x', weight: 0 }), undefined);
  assert.equal(checkResultShape(null), 'the result is null, not an object');
  assert.equal(checkResultShape(undefined), 'the result is undefined, not an object');
  assert.equal(checkResultShape({ ok: true, message: 5 }), 'result.message is number, not a string');
});

/** a checker that answers only when its signal aborts, with its own time limit as MISC_CHECK's misc_timeout */
const waitPlugin: AlivedPlugin = {
  name: 'wait-probe',
  version: '1.0.0',
  apply(api) {
    api.registerChecker({
      keyword: 'WAIT_CHECK',
      schema: block({ ...checkerConnectionFields, ...checkerCommonFields, own_timeout: word(duration()) }),
      timeout: (c) => c.ownTimeout,
      create: (): Checker => ({
        check: (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, message: 'aborted' }), { once: true })),
      }),
    });
  },
};

test("the tester plans a checker as the daemon does: connect_timeout inherited from the real_server or the virtual_server, and the checker's own timeout(), bound the check", async () => {
  const tester = new CheckerTester({ plugin: waitPlugin });
  const abortsAfter = async (c: Partial<Parameters<CheckerTester['runCase']>[0]>): Promise<number> =>
    (await tester.runCase({ name: 'wait', config: '', expect: { ok: false, message: 'aborted' }, ...c })).durations[0]!;
  const within = (ms: number, from: number, to: number, what: string) =>
    assert.ok(ms >= from && ms < to, `${what}: the signal aborted after ${Math.round(ms)} ms, expected ${from}..${to}`);
  within(await abortsAfter({ realServer: 'connect_timeout 0.3' }), 250, 1500, 'connect_timeout in the real_server');
  within(await abortsAfter({ virtualServer: 'connect_timeout 0.3' }), 250, 1500, 'connect_timeout in the virtual_server');
  within(
    await abortsAfter({ virtualServer: 'connect_timeout 3', realServer: 'connect_timeout 0.3' }),
    250,
    1500,
    "the real_server's over the virtual_server's",
  );
  within(await abortsAfter({ realServer: 'connect_timeout 3', config: 'connect_timeout 0.3' }), 250, 1500, "the checker's over the real_server's");
  within(await abortsAfter({ realServer: 'connect_timeout 3', config: 'own_timeout 0.3' }), 250, 1500, "the checker's timeout() (as misc_timeout)");
});
