#!/usr/bin/env node
'use strict';
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner.
// Test files are listed explicitly: node 20 would also run any .js under a test/
// folder (helpers, fixture plugins) if it were given the directory.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', 'dist', 'test');
if (!fs.existsSync(root)) {
  console.error('test/run.js: dist/test does not exist; run `npm test` (it compiles first)');
  process.exit(1);
}
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'fixtures') walk(p);
    } else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(root);

const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error(`test/run.js: no test files${only.length ? ` match ${only.join(' ')}` : ''}`);
  process.exit(1);
}
// ALIVED_REQUIRE_LAB: a daemon a test starts refuses to run VRRP outside a lab namespace
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...selected], {
  stdio: 'inherit',
  env: { ...process.env, ALIVED_REQUIRE_LAB: '1' },
});
process.exit(r.status ?? 1);
