import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpServer, NotifierTester } from '../../core/testing';
import { block, str, word } from '../../core/sdk';
import type { AlivedPlugin, Notifier } from '../../core/plugin/types';
import webhook from '../../plugins/notify-webhook';

/**
 * The NotifierTester itself: the built-in webhook through it, and plugins
 * that break the contract, each caught with a message that says how.
 */

const ok = httpServer((_req, res) => {
  res.writeHead(204);
  res.end();
}, 'an endpoint answering 204');

new NotifierTester({ plugin: webhook }).run('notify-webhook through the NotifierTester', [
  { name: 'delivered', config: (s) => `webhook ops {\n  url http://127.0.0.1:${s!.port}/x\n}\n`, server: ok, expect: 'sent' },
  {
    name: 'two webhooks: the case names one',
    config: (s) => `webhook a {\n  url http://127.0.0.1:${s!.port}/a\n}\nwebhook b {\n  url http://127.0.0.1:${s!.port}/b\n  events checker\n}\n`,
    server: ok,
    notifier: 'b',
    accepted: [],
  },
  {
    name: 'an unknown keyword',
    config: 'webhook ops {\n  url http://x/\n  secret_fil /x\n}\n',
    errors: ["unknown keyword 'secret_fil' in webhook (did you mean 'secret_file'?)"],
  },
]);

function broken(notifier: () => Notifier): AlivedPlugin {
  return {
    name: 'broken',
    version: '1.0.0',
    apply(api) {
      api.registerNotifier({ keyword: 'broken', schema: block({ x: word(str()) }), create: notifier });
    },
  };
}

const cases: Array<[string, () => Notifier, RegExp]> = [
  [
    'deliver() throws',
    () => ({
      deliver: () => {
        throw new Error('boom');
      },
    }),
    /deliver\(\) threw instead of returning a promise: boom/,
  ],
  [
    'deliver() never settles',
    () => ({ deliver: () => new Promise(() => undefined) }),
    /deliver\(\) did not settle within 100 ms of its signal aborting \(at 100 ms\)/,
  ],
  [
    'accepts() returns a string',
    () => ({ accepts: () => 'yes' as unknown as boolean, deliver: async () => undefined }),
    /accepts\(\) returned string, not a boolean/,
  ],
  ['rejects with a string', () => ({ deliver: () => Promise.reject('nope') }), /deliver\(\) rejected with string, not an Error/],
];
for (const [name, make, message] of cases) {
  test(`the tester catches a notifier whose ${name}`, async () => {
    const t = new NotifierTester({ plugin: broken(make), settleMs: 100 });
    await assert.rejects(t.runCase({ name, config: 'broken {\n  x y\n}\n', timeoutMs: 100 }), message);
  });
}
