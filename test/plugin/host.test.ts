import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { PluginHost } from '../../core/plugin/host';
import { satisfies } from '../../core/plugin/semver';
import { block, word } from '../../core/config/schema';
import * as v from '../../core/config/values';
import type { AlivedPlugin } from '../../core/plugin/types';
import { isAlivedError } from '../../core/errors';
import { memoryLogger } from '../helpers/log';
import { compileText, PROJECT_ROOT } from '../helpers/config';

const rejectsWith = (code: string, re: RegExp) => (e: unknown) => isAlivedError(e) && e.code === code && re.test((e as Error).message);

test('a plugin registers a checker keyword that configs can then use', async () => {
  const { log } = memoryLogger();
  const host = new PluginHost({ log });
  await host.apply({
    name: 'redis-check',
    version: '1.0.0',
    apply(api) {
      api.registerChecker({ keyword: 'REDIS_CHECK', schema: block({ timeout: word(v.duration()) }) });
    },
  });
  assert.ok(host.registry.get('real_server', 'REDIS_CHECK'));
  assert.equal(host.checkers.get('REDIS_CHECK')?.owner, 'redis-check');
  assert.deepEqual(
    host.plugins.map((p) => p.name),
    ['redis-check'],
  );
});

test('plugins that break the contract are refused with a stable code', async () => {
  const host = new PluginHost({ log: memoryLogger().log });
  await assert.rejects(host.apply({} as AlivedPlugin), rejectsWith('ALIVED_PLUGIN_INVALID', /'name' must be a non-empty string/));
  await assert.rejects(host.apply({ name: 'x', version: '1' } as AlivedPlugin), rejectsWith('ALIVED_PLUGIN_INVALID', /has no apply\(api\) function/));
  await assert.rejects(
    host.apply({ name: 'x', version: '1', alived: '>=9', apply() {} }),
    rejectsWith('ALIVED_PLUGIN_VERSION', /needs alived >=9; this is alived 0\.1\.0/),
  );
  await host.apply({ name: 'x', version: '1', apply() {} });
  await assert.rejects(host.apply({ name: 'x', version: '1', apply() {} }), rejectsWith('ALIVED_PLUGIN_DUPLICATE', /loaded twice/));
  await assert.rejects(
    host.apply({
      name: 'thrower',
      version: '1',
      apply() {
        throw new Error('boom');
      },
    }),
    rejectsWith('ALIVED_PLUGIN_LOAD_FAILED', /plugin 'thrower' failed in apply\(\): boom/),
  );
  await assert.rejects(
    host.apply({
      name: 'kw',
      version: '1',
      apply(api) {
        api.registerKeyword('nowhere' as 'root', 'x', word(v.str()));
      },
    }),
    rejectsWith('ALIVED_PLUGIN_INVALID', /unknown slot 'nowhere'/),
  );
});

test('an apply() that never finishes times out', async () => {
  const host = new PluginHost({ log: memoryLogger().log, applyTimeoutMs: 50 });
  const t0 = Date.now();
  await assert.rejects(
    host.apply({ name: 'slow', version: '1', apply: () => new Promise(() => undefined) }),
    rejectsWith('ALIVED_PLUGIN_APPLY_TIMEOUT', /did not finish apply\(\) within 50 ms/),
  );
  assert.ok(Date.now() - t0 < 2000);
});

test('the hooks object is frozen', () => {
  const host = new PluginHost({ log: memoryLogger().log });
  assert.ok(Object.isFrozen(host.hooks));
  assert.throws(() => {
    (host.hooks as unknown as Record<string, unknown>).extra = 1;
  });
});

test('a tap that throws, rejects or hangs is logged with its plugin, counted, and never stops the hook', async () => {
  const { log, records } = memoryLogger();
  const host = new PluginHost({ log, tapTimeoutMs: () => 50 });
  const seen: string[] = [];
  await host.apply({
    name: 'bad-plugin',
    version: '1',
    apply(api) {
      api.hooks.vrrpTransition.tap('bad-plugin', () => {
        throw new Error('sync boom');
      });
      api.hooks.notify.tapPromise('bad-plugin', async () => {
        throw new Error('async boom');
      });
      api.hooks.notify.tapPromise('bad-plugin-hang', () => new Promise(() => undefined));
      api.hooks.notify.tapAsync('bad-plugin-cb', (_e, cb) => cb(new Error('cb boom')));
    },
  });
  await host.apply({
    name: 'good-plugin',
    version: '1',
    apply(api) {
      api.hooks.vrrpTransition.tap('good-plugin', (t) => void seen.push(`transition ${t.name} ${t.to}`));
      api.hooks.notify.tapPromise('good-plugin', async (e) => void seen.push(`notify ${e.type}`));
    },
  });
  host.hooks.vrrpTransition.call({ kind: 'instance', name: 'VI_1', from: 'BACKUP', to: 'MASTER', priority: 100, reason: 'test', time: 0 });
  const t0 = Date.now();
  await host.hooks.notify.promise({ type: 'daemon', what: 'start', time: 0 });
  assert.ok(Date.now() - t0 < 2000, 'a hanging tap is given up on after its timeout');
  assert.deepEqual(seen, ['transition VI_1 MASTER', 'notify daemon']);
  const failures = host
    .tapFailures()
    .map((f) => `${f.hook} ${f.tap} ${f.plugin} ${f.kind} ${f.count}`)
    .sort();
  assert.deepEqual(failures, [
    'notify bad-plugin bad-plugin rejected 1',
    'notify bad-plugin-cb bad-plugin rejected 1',
    'notify bad-plugin-hang bad-plugin timeout 1',
    'vrrpTransition bad-plugin bad-plugin threw 1',
  ]);
  const msgs = records.filter((r) => r.level === 'error').map((r) => r.msg);
  assert.ok(msgs.includes("hook vrrpTransition: tap 'bad-plugin' threw; skipped"));
  assert.ok(msgs.includes("hook notify: tap 'bad-plugin-hang' of plugin 'bad-plugin' timed out; skipped"));
  host.hooks.vrrpTransition.call({ kind: 'instance', name: 'VI_1', from: 'MASTER', to: 'BACKUP', priority: 100, reason: 'test', time: 0 });
  assert.equal(host.tapFailures().find((f) => f.hook === 'vrrpTransition')?.count, 2);
});

test('onClose handlers run in reverse order of plugins; a failing or hanging one does not stop the rest', async () => {
  const { log, records } = memoryLogger();
  const host = new PluginHost({ log, closeTimeoutMs: 50 });
  const order: string[] = [];
  for (const name of ['a', 'b', 'c', 'd']) {
    await host.apply({
      name,
      version: '1',
      apply(api) {
        api.onClose(async () => {
          order.push(name);
          if (name === 'c') throw new Error('close boom');
          if (name === 'b') await new Promise(() => undefined);
        });
      },
    });
  }
  await host.close();
  assert.deepEqual(order, ['d', 'c', 'b', 'a']);
  const errs = records.filter((r) => r.level === 'error').map((r) => r.msg);
  assert.deepEqual(errs, ["plugin 'c': onClose failed", "plugin 'b': onClose failed"]);
});

test('semver ranges for the alived field', () => {
  assert.ok(satisfies('0.1.0', '>=0.1.0 <1.0.0'));
  assert.ok(satisfies('0.1.5', '^0.1.0'));
  assert.ok(!satisfies('0.2.0', '^0.1.0'));
  assert.ok(satisfies('1.4.2', '^1.2'));
  assert.ok(!satisfies('2.0.0', '^1.2'));
  assert.ok(satisfies('1.2.9', '~1.2.3'));
  assert.ok(!satisfies('1.3.0', '~1.2.3'));
  assert.ok(satisfies('0.1.0', '0.x || 1.x'));
  assert.ok(satisfies('0.1.0', '*'));
  assert.ok(!satisfies('0.1.0', 'nonsense'));
});

// plugins enabled from the config file

const sdk = path.join(PROJECT_ROOT, 'dist/core/sdk.js');

const redisPlugin = `
const { block, word, duration, port, ALIVED_VERSION } = require(${JSON.stringify(sdk)});
module.exports = {
  name: 'redis',
  version: '1.0.0',
  alived: '>=0.1.0',
  options: block({ timeout: word(duration({ max: 60 })).default(5), max_clients: word(require(${JSON.stringify(sdk)}).int({ min: 1, max: 100 })) }),
  apply(api) {
    globalThis.__redisOptions = api.options;
    api.registerChecker({ keyword: 'REDIS_CHECK', schema: block({ port: word(port), password_file: word(require(${JSON.stringify(sdk)}).str()) }) });
  },
};
`;

const vs = (check: string) => `virtual_server 10.0.0.1 6379 {\n  real_server 10.0.0.2 6379 {\n${check}\n  }\n}\n`;

test('plugins block: a module by path, relative to the config file, with validated options', async () => {
  const r = await compileText(`plugins {\n  "./checks/redis.js" {\n    timeout 2\n  }\n}\n${vs('    REDIS_CHECK {\n      port 6380\n    }')}`, {
    'checks/redis.js': redisPlugin,
  });
  assert.deepEqual(r.errors, []);
  assert.ok(r.ok);
  assert.deepEqual((globalThis as { __redisOptions?: unknown }).__redisOptions, {
    pos: { file: path.join(r.dir, 'keepalived.conf'), line: 2, col: 3 },
    extensions: [],
    timeout: 2,
  });
  const rs = r.model!.virtualServer[0]!.realServer[0]!;
  assert.equal(rs.extensions[0]!.keyword, 'REDIS_CHECK');
  assert.equal((rs.extensions[0]!.value as { port: number }).port, 6380);
});

test("a plugin's own keywords are validated like core keywords", async () => {
  const r = await compileText(
    `plugins {\n  "./checks/redis.js"\n}\n${vs('    REDIS_CHECK {\n      port 99999\n      prot 1\n    }\n    REDIS_CHEK {\n    }')}`,
    { 'checks/redis.js': redisPlugin },
  );
  assert.deepEqual(r.errors, [
    'keepalived.conf:7:12: error: 99999 is out of range: expected 0..65535',
    "keepalived.conf:8:7: error: unknown keyword 'prot' in REDIS_CHECK (did you mean 'port'?)",
    "keepalived.conf:10:5: error: unknown keyword 'REDIS_CHEK' in real_server (did you mean 'REDIS_CHECK'?)",
  ]);
});

test('plugins block errors: unknown module, load failure, not a plugin, bad option, options to a plugin that takes none', async () => {
  const r = await compileText(
    [
      'plugins {',
      '  "./nope.js"',
      '  "@acme/alived-notify-pager"',
      '  "./broken.js"',
      '  "./notplugin.js"',
      '  "./checks/redis.js" {',
      '    timeout 100',
      '    colour red',
      '  }',
      '  "./plain.js" {',
      '    x 1',
      '  }',
      '}',
      '',
    ].join('\n'),
    {
      'broken.js': 'module.exports = {;',
      'notplugin.js': 'module.exports = { hello: 1 };',
      'checks/redis.js': redisPlugin,
      'plain.js': "module.exports = { name: 'plain', version: '1', apply() {} };",
    },
  );
  assert.equal(r.errors.length, 7, r.errors.join('\n'));
  assert.match(r.errors[0]!, /^keepalived.conf:2:3: error: plugin '.\/nope.js' not found: no file .*nope.js$/);
  assert.match(r.errors[1]!, /^keepalived.conf:3:3: error: plugin package '@acme\/alived-notify-pager' is not installed/);
  assert.match(r.errors[2]!, /^keepalived.conf:4:3: error: plugin '.\/broken.js' failed to load: Unexpected token/);
  assert.match(r.errors[3]!, /^keepalived.conf:5:3: error: plugin module '.\/notplugin.js' is not an alived plugin: 'name' must be/);
  assert.equal(r.errors[4], 'keepalived.conf:7:13: error: 100 is out of range: expected 0..60 seconds');
  assert.equal(r.errors[5], "keepalived.conf:8:5: error: unknown keyword 'colour' in plugin redis");
  assert.equal(r.errors[6], "keepalived.conf:10:16: error: plugin 'plain' takes no options");
});

test('registerBlockCheck: a plugin checks a block it adds keywords to, after they are parsed; a check that throws is a config error naming the plugin', async () => {
  const host = new PluginHost({ log: memoryLogger().log });
  await host.apply({
    name: 'pager',
    version: '1',
    apply(api) {
      api.registerKeyword('global_defs', 'pager_number', word(v.str()));
      api.registerKeyword('global_defs', 'pager_enabled', word(v.bool));
      api.registerBlockCheck('global_defs', (g, ctx, stmt) => {
        const on = g.extensions.find((e) => e.keyword === 'pager_enabled');
        const number = g.extensions.find((e) => e.keyword === 'pager_number');
        if (on?.value === true && !number)
          ctx.diags.error(
            'ALIVED_CONFIG_MISSING_REQUIRED',
            on.pos,
            `pager_enabled needs pager_number (router_id ${String(g.routerId)}, block at line ${stmt.name.pos.line})`,
          );
      });
    },
  });
  const bad = await compileText('global_defs {\n  router_id LB1\n  pager_enabled yes\n}\n', {}, { pluginHost: host });
  assert.deepEqual(bad.errors, ['keepalived.conf:3:3: error: pager_enabled needs pager_number (router_id LB1, block at line 1)']);
  const good = await compileText('global_defs {\n  pager_enabled yes\n  pager_number 555\n}\n', {}, { pluginHost: host });
  assert.deepEqual(good.errors, []);

  const thrower = new PluginHost({ log: memoryLogger().log });
  await thrower.apply({
    name: 'oops',
    version: '1',
    apply(api) {
      api.registerBlockCheck('vrrp_instance', () => {
        throw new Error('boom');
      });
    },
  });
  const r = await compileText('vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n}\n', {}, { pluginHost: thrower });
  assert.deepEqual(r.errors, ["keepalived.conf:1:1: error: plugin 'oops': its check of vrrp_instance threw: boom"]);

  await assert.rejects(
    new PluginHost({ log: memoryLogger().log }).apply({
      name: 'kw',
      version: '1',
      apply(api) {
        api.registerBlockCheck('nowhere' as 'root', () => undefined);
      },
    }),
    rejectsWith('ALIVED_PLUGIN_INVALID', /a check of unknown slot 'nowhere'/),
  );
});
