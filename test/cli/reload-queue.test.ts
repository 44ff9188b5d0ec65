import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { processAlive } from '../helpers/process';

/**
 * Reloads queue, as the issue found it with a real daemon: config A is
 * written and SIGHUP sent, then B written and SIGHUP sent while A's reload
 * runs. B must be the config that ends up running, and the log says that
 * a reload follows. Each config names itself by the include it misses, a
 * warning every reload logs. The daemons run the checks only (-C): no VRRP,
 * so no lab is needed.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const QUEUED = 'SIGHUP during a reload: another reload follows with the newest config';
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) {
    if (c.pid !== undefined && processAlive(c.pid)) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
});

const config = (name: string, extra = ''): string => `${extra}global_defs {\n  router_id ${name}\n}\ninclude missing-${name}.conf\n`;

function startDaemon(dir: string): { child: ChildProcess; out: { text: string }; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, '-n', '-l', '-G', '-C', '-f', 'keepalived.conf', '-p', path.join(dir, 'alived.pid')], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out = { text: '' };
  child.stdout!.on('data', (d) => (out.text += d));
  child.stderr!.on('data', (d) => (out.text += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited };
}

const count = (text: string, what: string): number => text.split(what).length - 1;

async function stop(d: ReturnType<typeof startDaemon>): Promise<void> {
  d.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((r) => (timer = setTimeout(() => r('no exit within 15 s'), 15_000)));
  try {
    assert.equal(await Promise.race([d.exited, timeout]), 0, d.out.text);
  } finally {
    clearTimeout(timer);
  }
}

test('A, SIGHUP, 12 ms later B, SIGHUP: B is the config that runs', async () => {
  const dir = tmpDir('alived-reload-queue-');
  const file = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(file, config('start'));
  const d = startDaemon(dir);
  try {
    await waitFor('Configuration loaded', () => (d.out.text.includes('Configuration loaded') ? true : undefined), 15_000);
    fs.writeFileSync(file, config('A'));
    d.child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 12));
    fs.writeFileSync(file, config('B'));
    d.child.kill('SIGHUP');
    // two SIGHUPs, two reloads, whenever the second came; the second read B
    await waitFor('two reloads complete', () => (count(d.out.text, 'Reload complete') >= 2 ? true : undefined), 15_000);
    const text = d.out.text;
    const second = text.indexOf('Reload complete', text.indexOf('Reload complete') + 1);
    const lastB = text.lastIndexOf('missing-B.conf');
    assert.ok(lastB >= 0 && text.lastIndexOf('missing-A.conf') < lastB && lastB < second, text);
  } finally {
    await stop(d);
  }
});

test('a SIGHUP while a reload is held runs one more reload, with the newest file, after it; more SIGHUPs join it', async () => {
  const dir = tmpDir('alived-reload-queue-');
  const file = path.join(dir, 'keepalived.conf');
  // A's plugin holds A's reload in its configLoaded hook until the test says so
  fs.writeFileSync(
    path.join(dir, 'hold.js'),
    `const fs = require('node:fs');
module.exports = {
  name: 'hold', version: '1.0.0',
  apply(api) {
    api.hooks.configLoaded.tapPromise('hold', async () => {
      fs.writeFileSync(${JSON.stringify(path.join(dir, 'held'))}, '');
      for (let i = 0; i < 500 && !fs.existsSync(${JSON.stringify(path.join(dir, 'release'))}); i++) await new Promise((r) => setTimeout(r, 10));
    });
  },
};
`,
  );
  fs.writeFileSync(file, config('start'));
  const d = startDaemon(dir);
  try {
    await waitFor('Configuration loaded', () => (d.out.text.includes('Configuration loaded') ? true : undefined), 15_000);
    fs.writeFileSync(file, config('A', 'plugins {\n  "./hold.js"\n}\n'));
    d.child.kill('SIGHUP');
    await waitFor("A's reload, held", () => (fs.existsSync(path.join(dir, 'held')) ? true : undefined), 15_000);
    fs.writeFileSync(file, config('B'));
    d.child.kill('SIGHUP');
    await waitFor('the follow-up announced', () => (d.out.text.includes(QUEUED) ? true : undefined), 5000);
    d.child.kill('SIGHUP');
    d.child.kill('SIGHUP');
    // the signals are handled before the reload is let go
    await new Promise((r) => setTimeout(r, 200));
    fs.writeFileSync(path.join(dir, 'release'), '');
    await waitFor('two reloads complete', () => (count(d.out.text, 'Reload complete') >= 2 ? true : undefined), 15_000);
    // nothing more comes: the three SIGHUPs during A's reload were one reload
    await new Promise((r) => setTimeout(r, 500));
    const text = d.out.text;
    assert.equal(count(text, QUEUED), 1, text);
    assert.equal(count(text, 'Reload complete'), 2, text);
    assert.equal(count(text, 'missing-B.conf'), 1, text);
    const aWarn = text.indexOf('missing-A.conf');
    const first = text.indexOf('Reload complete');
    const bWarn = text.indexOf('missing-B.conf');
    assert.ok(aWarn >= 0 && aWarn < first && first < bWarn && bWarn < text.indexOf('Reload complete', first + 1), text);
    assert.ok(text.indexOf(QUEUED) < first, 'announced while A ran');
  } finally {
    await stop(d);
  }
});
