import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { prepareVmImage } from './image';
import { runInVm } from './machine';
import type { GuestResult } from './guest-result';

/**
 * The IPVS tests: the running kernel has no IPVS, so they run inside a VM
 * that boots Debian's kernel with ip_vs loaded (test/vm/image.ts). One VM
 * runs every test/ipvs/*.vmtest.js; each of their tests comes back here as
 * a test of this file. Nothing is skipped: without QEMU or the kernel this
 * fails and says what to install.
 */

const ROOT = path.join(__dirname, '..', '..', '..');
const GUEST_DIR = path.join(__dirname, '..', 'ipvs');

test('IPVS tests in a VM with a real IPVS kernel', { timeout: 30 * 60_000 }, async (t) => {
  const only = process.env.ALIVED_VM_ONLY;
  const files = fs
    .readdirSync(GUEST_DIR)
    .filter((f) => f.endsWith('.vmtest.js') && (!only || f.includes(only)))
    .sort()
    .map((f) => path.join(GUEST_DIR, f));
  assert.ok(files.length > 0, `no compiled guest tests in ${GUEST_DIR}`);
  const image = prepareVmImage();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-vmtest-'));
  t.after(() => fs.rmSync(runDir, { recursive: true, force: true }));
  const results = path.join(runDir, 'results.jsonl');
  const reporter = path.join(__dirname, 'reporter.js');
  const command = [
    'exec node --test --test-concurrency=1',
    '--test-reporter=spec --test-reporter-destination=stdout',
    `--test-reporter=${reporter} --test-reporter-destination=${results}`,
    ...files,
  ].join(' ');
  const consoleTail: string[] = [];
  const r = await runInVm({
    command,
    cwd: ROOT,
    image,
    runDir,
    env: { ALIVED_REQUIRE_LAB: '1', ALIVED_IN_VM: '1', ...(process.env.CI ? { CI: process.env.CI } : {}) },
    timeoutMs: 25 * 60_000,
    onLine: (l) => {
      consoleTail.push(l);
      if (consoleTail.length > 400) consoleTail.shift();
      if (process.env.ALIVED_VM_VERBOSE) process.stdout.write(`  vm| ${l}\n`);
    },
  });
  t.diagnostic(`kernel ${image.release}, ${r.accel}: boot ${r.bootMs ?? '-'} ms, whole run ${r.totalMs} ms`);
  const lines = fs.existsSync(results) ? fs.readFileSync(results, 'utf8').split('\n').filter(Boolean) : [];
  const guest = lines.map((l) => JSON.parse(l) as GuestResult);
  const tops = guest.filter((g) => g.nesting === 0 && g.file !== undefined && !/\.vmtest\.js$/.test(g.name));
  for (const g of tops) {
    await t.test(`${path.basename(g.file ?? '')}: ${g.name}`, () => {
      if (g.ok) return;
      const subs = guest.filter((s) => s.file === g.file && s.nesting > 0 && !s.ok).map((s) => `  ${s.name}: ${s.error ?? ''}`);
      throw new Error(`${g.error ?? 'failed in the VM'}${subs.length ? `\n${subs.join('\n')}` : ''}`);
    });
  }
  const why = r.timedOut ? 'the VM timed out' : r.exitCode === undefined ? 'the VM gave no exit status (crash?)' : `the guest's test run exited ${r.exitCode}`;
  assert.ok(tops.length > 0, `no test result came back from the VM (${why}); console:\n${consoleTail.slice(-80).join('\n')}`);
  assert.equal(r.exitCode, 0, `${why}; console:\n${consoleTail.slice(-120).join('\n')}`);
});
