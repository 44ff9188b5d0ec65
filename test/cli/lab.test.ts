import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../helpers/config';

test('alived lab: two nodes and a client in namespaces, failover shown with its timings, everything removed', async () => {
  const bin = path.join(PROJECT_ROOT, 'dist', 'core', 'cli', 'main.js');
  const before = new Set(fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []);
  const child = spawn(process.execPath, [bin, 'lab'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGINT'), 60_000);
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 0, out);
  assert.match(out, /VIP 10\.99\.0\.99 is on: n1\n/);
  assert.match(out, /ping 10\.99\.0\.99: ok; the client's ARP entry: (\S+) \(n1 is \1\)/);
  const took = /n2 took 10\.99\.0\.99 ([\d.]+) ms after the crash/.exec(out);
  assert.ok(took, out);
  // Master_Down_Interval at priority 100, advert_int 1: 3609.375 ms
  assert.ok(Number(took[1]) <= 3609.375 + 50, `takeover ${took[1]} ms`);
  assert.match(out, /ARP entry: (\S+) \(n2 is \1\)/);
  assert.match(out, /VIP 10\.99\.0\.99 is now on: no host/);
  assert.match(out, /failover worked; cleaning up/);
  const after = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [];
  // only this run's namespaces (al<pid>...): other labs may come and go meanwhile
  assert.deepEqual(
    after.filter((n) => !before.has(n) && n.startsWith(`al${child.pid}`)),
    [],
    'no namespace left behind',
  );
});
