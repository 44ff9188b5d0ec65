import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as alived from '../../core/index';
import * as testing from '../../core/testing/index';
import { compileText } from '../helpers/config';

/*
 * A plugin that lives where no node_modules holds alived (beside the config
 * of a Debian-installed alived, in a folder of its own) still gets alived
 * from require('alived'): the running one, the same module instances.
 */

const PLUGIN = `
const alived = require('alived');
const testing = require('alived/testing');
globalThis.__alivedSeenByPlugin = { alived, testing };
module.exports = {
  name: 'shares-alived',
  version: '1.0.0',
  options: alived.block({ label: alived.word(alived.str()).default('x') }),
  apply() {},
};
`;

test("a plugin outside alived's node_modules gets the running alived from require('alived') and 'alived/testing'", async () => {
  const r = await compileText('plugins {\n  "./plugin/index.js" {\n    label hello\n  }\n}\n', { 'plugin/index.js': PLUGIN });
  assert.deepEqual(r.errors, []);
  const seen = (globalThis as { __alivedSeenByPlugin?: { alived: unknown; testing: unknown } }).__alivedSeenByPlugin;
  assert.ok(seen, 'the plugin was loaded');
  assert.equal(seen.alived, alived);
  assert.equal(seen.testing, testing);
});

test("a name under alived/ that is not one of its exports fails as Node's resolution would, naming it", async () => {
  const r = await compileText('plugins {\n  "./p.js"\n}\n', { 'p.js': "require('alived/no-such-export');\nmodule.exports = { name: 'p', apply() {} };\n" });
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /plugin '\.\/p\.js' failed to load: .*alived\/no-such-export/);
});
