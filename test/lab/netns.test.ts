import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { useLab } from '../helpers/lab';
import { inLabNamespace, Lab } from '../../core/lab/netns';

test('a lab connects its hosts over a bridge in its own namespace, and destroy removes everything', async () => {
  const lab = await Lab.create({
    name: 'nstest',
    hosts: [
      { name: 'a', ip: '10.99.0.1', ip6: 'fd99::1' },
      { name: 'b', ip: '10.99.0.2', ip6: 'fd99::2' },
    ],
  });
  try {
    const a = lab.host('a');
    assert.match(await lab.run(a, ['ip', '-br', 'link', 'show', 'eth0']), /02:00:00:99:01:01/);
    await lab.run(a, ['ping', '-c', '1', '-W', '2', '10.99.0.2']);
    await lab.run(a, ['ping', '-6', '-c', '1', '-W', '2', 'fd99::2']);
    // nothing of the lab in the root namespace
    const rootLinks = await new Promise<string>((r) => require('node:child_process').execFile('ip', ['-br', 'link'], (_e: unknown, out: string) => r(out)));
    assert.doesNotMatch(rootLinks, /\bp0\b|br0/);
    const sleeper = lab.spawn(a, ['sleep', '60']);
    assert.ok(sleeper.pid);
    lab.setLink(a, false);
    const r = await lab.exec(a, ['ping', '-c', '1', '-W', '1', '10.99.0.2']);
    assert.notEqual(r.code, 0, 'the link is cut');
    lab.setLink(a, true);
  } finally {
    await lab.destroy();
  }
  for (const h of lab.hosts) assert.equal(fs.existsSync(`/run/netns/${h.ns}`), false);
  assert.equal(fs.existsSync(`/run/netns/${lab.bridgeNs}`), false);
});

test('a process inside a lab namespace knows it; the test runner itself is not in one', async () => {
  assert.equal(inLabNamespace(), false);
  const lab = await useLab({ name: 'ident', hosts: [{ name: 'a', ip: '10.99.0.1' }] });
  const out = await lab.run('a', [process.execPath, '-e', `console.log(require(${JSON.stringify(require.resolve('../../core/lab/netns'))}).inLabNamespace())`]);
  assert.equal(out.trim(), 'true');
});

test('a lab refuses a bad name', async () => {
  await assert.rejects(Lab.create({ name: 'Bad Name', hosts: [] }), /lowercase/);
});
