import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * mlockall() under V8: the kernel refuses to discard locked pages
 * (MADV_DONTNEED gives EINVAL) and V8 aborts the process (SIGTRAP) when it
 * returns code or heap pages that way. A node process locked by setNoSwap()
 * compiles and drops code and memory through several full collections, and
 * exits cleanly, with memory locked.
 */
test('a process locked in memory by setNoSwap() survives V8 returning code and heap pages, and exits cleanly', () => {
  const noSwap = path.join(__dirname, '..', '..', 'core', 'vrrp', 'memory-lock.js');
  const script = `
    const { setNoSwap } = require(${JSON.stringify(noSwap)});
    const fs = require('fs');
    const lines = [];
    const log = { info: (o, m) => lines.push(m), warn: (o, m) => lines.push(m), error: (o, m) => lines.push('ERROR ' + m) };
    setNoSwap(true, 'the test process', log);
    const locked = Number(/VmLck:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
    let s = 0;
    for (let i = 0; i < 20000; i++) {
      s += new RegExp('a' + i + 'b+c').test('xa' + i + 'bbc') ? 1 : 0;
      eval('(function f' + i + '() { return ' + i + ' })')();
      if (i % 4000 === 0) global.gc();
    }
    let big = [];
    for (let i = 0; i < 40; i++) big.push(Buffer.alloc(1 << 20, 1));
    big = null;
    global.gc();
    console.log(JSON.stringify({ lines, locked, s }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(0, 400)}`);
  assert.equal(r.status, 0, r.stderr.slice(0, 400));
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { lines: string[]; locked: number; s: number };
  assert.ok(
    out.lines.some((l) => /is locked in memory/.test(l)),
    out.lines.join('\n'),
  );
  assert.ok(out.locked > 1000, `VmLck ${out.locked} kB`);
  assert.equal(out.s, 20000);
});
