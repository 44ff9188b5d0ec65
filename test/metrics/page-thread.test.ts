import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as prom from 'prom-client';
import { TurnBudget } from '../../core/status/turns';
import { FrameBuilder } from '../../plugins/metrics-prometheus/frame';
import { StatusMetrics } from '../../plugins/metrics-prometheus/metrics';
import { PageThread } from '../../plugins/metrics-prometheus/page-thread';
import { liveFixture, statusFixture } from './status-fixture';

test('the page thread makes the same pages as both halves in one thread, from frames that carry the layout once', async () => {
  const frames = new FrameBuilder();
  const pages = new PageThread(() => frames.resend());
  const local = new StatusMetrics(prom);
  const next = liveFixture();
  try {
    for (let i = 0; i < 4; i++) {
      const doc = next();
      pages.start();
      const frame = frames.frame(doc, '0.1.0');
      assert.equal(frame.down, false);
      assert.equal(frame.down === false && frame.layout !== undefined, i === 0, `layout in frame ${i}`);
      const made = await pages.make(frame);
      local.update(doc, '0.1.0');
      assert.equal(made.contentType, 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(made.page.toString('utf8'), await local.render(), `page ${i}`);
    }
    // without a document: keepalived_up 0 and the version
    const down = await pages.make(frames.frame(null, '0.1.0'));
    assert.match(down.page.toString('utf8'), /^keepalived_up 0$/m);
    assert.match(down.page.toString('utf8'), /^alived_info\{version="0.1.0"\} 1$/m);
  } finally {
    await pages.close();
  }
  await assert.rejects(pages.make(frames.frame(statusFixture(), '0.1.0')), /closed/);
});

test('a new page thread has no metrics: the frame built after it started carries the whole layout again', async () => {
  const frames = new FrameBuilder();
  let restarts = 0;
  const pages = new PageThread(() => {
    restarts++;
    frames.resend();
  });
  try {
    frames.frame(statusFixture(), '0.1.0');
    const valuesOnly = frames.frame(statusFixture(), '0.1.0');
    assert.equal(valuesOnly.down === false && valuesOnly.layout, undefined);
    // a thread that never had the layout refuses values alone, and the next frame has it
    await assert.rejects(pages.make(valuesOnly), /page thread failed: a frame of \d+ values for a layout of 0 series/);
    assert.equal(restarts, 2, 'started, then told the layout is lost');
    pages.start();
    const whole = frames.frame(statusFixture(), '0.1.0');
    assert.ok(whole.down === false && whole.layout);
    const text = (await pages.make(whole)).page.toString('utf8');
    assert.match(text, /^keepalived_vrrp_state\{iname="VI_1",intf="eth0",vrid="51",ip_address="10.0.0.100\/24"\} 2$/m);
  } finally {
    await pages.close();
  }
});

test('frameInParts makes the frame frame() makes, giving the event loop turns along a big document', async () => {
  const doc = statusFixture();
  const vs = doc.virtualServers[0]!;
  const rs = vs.realServers[0]!;
  const big = {
    ...doc,
    virtualServers: [
      { ...vs, realServers: Array.from({ length: 1000 }, (_, i) => ({ ...rs, name: `[10.1.${i >> 8}.${i & 255}]:tcp:80` })) },
      ...doc.virtualServers.slice(1),
    ],
  };
  const whole = new FrameBuilder().frame(big, '0.1.0');
  let turned = false;
  const parts = new FrameBuilder().frameInParts(big, '0.1.0', new TurnBudget(0));
  setImmediate(() => (turned = true));
  assert.deepEqual(await parts, whole);
  assert.ok(turned, 'another callback ran while the frame was made');
});
