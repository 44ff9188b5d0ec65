import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { createCheckTracker, CheckResultCount, type VrrpCheckConfig } from '../../plugins/vrrp-check';
import { TrackerService, type TrackerChange } from '../../core/track/service';
import type { Tracker, TrackerContext, TrackerState } from '../../core/sdk';
import { compileText, has, instance, noErrors } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import type { PluginHost } from '../../core/plugin/host';

/**
 * vrrp_check / track_check: any checker as a VRRP tracker. Real servers on
 * loopback (port 0): TCP_CHECK and HTTP_GET going up and down with rise and
 * fall, a hanging server caught by the timeout, a third-party checker
 * plugin enabled from the config, and the tracker service running it for
 * an instance that references it.
 */

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

async function compiled(text: string) {
  const r = await compileText(text);
  noErrors(r);
  cleanups.push(() => r.pluginHost.close());
  return r;
}

function startFrom(r: Awaited<ReturnType<typeof compiled>>, name = 'chk') {
  const config = r.model!.extensions.find((e) => e.keyword === 'vrrp_check' && (e.value as { name: string }).name === name)!.value as VrrpCheckConfig;
  const { log, records } = memoryLogger('debug');
  const disabled: string[] = [];
  const ctx: TrackerContext = { log, name, reload: false, disable: (why) => disabled.push(why) };
  const host = r.pluginHost as PluginHost;
  const tracker: Tracker = createCheckTracker(config, ctx, { findChecker: (k) => host.checkers.get(k)?.def });
  cleanups.push(() => tracker.stop());
  const reports: TrackerState[] = [];
  tracker.start((s) => reports.push(s));
  const last = () => reports[reports.length - 1];
  const until = async (up: boolean, ms = 3000) => {
    assert.ok(
      await waitUntil(() => last()?.up === up, ms),
      `waiting for up=${up}; reports ${JSON.stringify(reports)}; log ${records.map((x) => x.msg).join(' | ')}`,
    );
  };
  return { tracker, reports, records, disabled, last, until };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

test('rise/fall counting: the first result decides, then rise successes or fall failures in a row', () => {
  const c = new CheckResultCount(2, 3, undefined);
  assert.equal(c.record(false), false);
  assert.equal(c.record(true), undefined);
  assert.equal(c.record(true), true);
  assert.equal(c.record(false), undefined);
  assert.equal(c.record(true), undefined);
  assert.equal(c.record(false), undefined);
  assert.equal(c.record(false), undefined);
  assert.equal(c.record(false), false);
});

test('config: one checker per vrrp_check, connect_port where there is no real server to take it from, unknown keywords with a hint', async () => {
  let r = await compileText(`vrrp_check chk {\n  interval 1\n}\n${instance('  track_check {\n    chk\n  }\n')}`);
  has(r, 'error: vrrp_check chk has no checker: put one checker block in it (TCP_CHECK, HTTP_GET, MYSQL_CHECK, ...)');
  r = await compileText(
    `vrrp_check chk {\n  TCP_CHECK {\n    connect_port 80\n  }\n  HTTP_GET {\n    connect_port 80\n    url {\n      path /\n    }\n  }\n}\n${instance('  track_check {\n    chk\n  }\n')}`,
  );
  has(r, "error: vrrp_check chk runs one checker; 'HTTP_GET' is a second one (after 'TCP_CHECK'): use another vrrp_check");
  r = await compileText(`vrrp_check chk {\n  TCP_CHECK {\n  }\n}\n${instance('  track_check {\n    chk\n  }\n')}`);
  has(r, 'error: TCP_CHECK in vrrp_check chk needs connect_port: there is no real server to take the port from');
  r = await compileText(`vrrp_check chk {\n  TCP_CHECK {\n    conect_port 80\n  }\n  intervall 2\n}\n${instance('  track_check {\n    chk\n  }\n')}`);
  has(r, "error: unknown keyword 'conect_port' in TCP_CHECK (did you mean 'connect_port'?)");
  has(r, "error: unknown keyword 'intervall' in vrrp_check (did you mean 'interval'?)");
  r = await compileText(`vrrp_check chk {\n  TCP_CHECK {\n    connect_port 80\n  }\n}\n${instance('  track_check {\n    chk weight -300\n    nochk\n  }\n')}`);
  assert.ok(
    r.errors.some((l) => /weight.*-300|-300.*range/.test(l)),
    r.lines.join('\n'),
  );
  assert.ok(
    r.errors.some((l) => /nochk/.test(l)),
    r.lines.join('\n'),
  );
  r = await compileText(
    `vrrp_check chk {\n  TCP_CHECK {\n    connect_port 80\n  }\n  interval 0.5\n  timeout 0.2\n  weight -20 reverse\n  rise 2\n  fall 3\n}\n${instance('  track_check {\n    chk weight 10\n  }\n')}`,
  );
  noErrors(r);
  assert.ok(!r.lines.some((l) => /not act on/.test(l)), r.lines.join('\n'));
  const v = r.model!.extensions.find((e) => e.keyword === 'vrrp_check')!.value as VrrpCheckConfig;
  assert.deepEqual(
    { interval: v.interval, timeout: v.timeout, weight: v.weight, rise: v.rise, fall: v.fall, checker: v.extensions[0]!.keyword },
    {
      interval: 0.5,
      timeout: 0.2,
      weight: { value: -20, reverse: true },
      rise: 2,
      fall: 3,
      checker: 'TCP_CHECK',
    },
  );
  await r.pluginHost.close();
});

test('TCP_CHECK as a tracker: up while the port accepts, down after fall failures, up again after rise successes', async () => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  cleanups.push(() => server.close());
  const r = await compiled(
    `vrrp_check chk {\n  TCP_CHECK {\n    connect_port ${port}\n  }\n  interval 0.1\n  rise 2\n  fall 2\n}\n${instance('  track_check {\n    chk\n  }\n')}`,
  );
  const t = startFrom(r);
  await t.until(true);
  await new Promise((res) => server.close(res));
  await t.until(false);
  assert.ok(
    t.records.some((x) => /VRRP_Check\(chk\) failed: TCP_CHECK 127\.0\.0\.1:\d+: connection refused/.test(x.msg)),
    t.records.map((x) => x.msg).join('\n'),
  );
  server.listen(port, '127.0.0.1');
  await t.until(true);
  assert.deepEqual(t.reports, [{ up: true }, { up: false }, { up: true }]);
});

test('HTTP_GET as a tracker: a status the url does not expect is down; a server that does not answer is caught by the timeout', async () => {
  let mode: 'ok' | 'error' | 'hang' = 'ok';
  const server = http.createServer((req, res) => {
    if (mode === 'hang') return;
    res.statusCode = mode === 'ok' ? 200 : 503;
    res.end('x');
  });
  const port = await listen(server);
  cleanups.push(() => server.closeAllConnections());
  cleanups.push(() => server.close());
  const r = await compiled(
    `vrrp_check web {\n  HTTP_GET {\n    connect_port ${port}\n    url {\n      path /status\n      status_code 200\n    }\n  }\n  interval 0.2\n  timeout 0.3\n}\n${instance('  track_check {\n    web weight -50\n  }\n')}`,
  );
  const t = startFrom(r, 'web');
  await t.until(true);
  mode = 'error';
  await t.until(false);
  mode = 'ok';
  await t.until(true);
  mode = 'hang';
  const at = Date.now();
  await t.until(false);
  assert.ok(Date.now() - at < 2000, `a hanging server caught after ${Date.now() - at} ms`);
});

test('a custom checker plugin enabled from the config drives a tracker, run by the tracker service for the instance that tracks it', async () => {
  const dir = (await import('../helpers/config')).tmpDir('alived-vrrp-check-');
  const fs = await import('node:fs');
  const path = await import('node:path');
  // a third-party plugin: FLAG_CHECK { file PATH } is up while the file says "ok"
  const flag = path.join(dir, 'flag');
  fs.writeFileSync(flag, 'ok');
  const sdk = require.resolve('../../core/sdk');
  fs.writeFileSync(
    path.join(dir, 'flag-check.js'),
    `const { block, word, str } = require(${JSON.stringify(sdk)});
const fs = require('node:fs');
module.exports = { name: 'flag-check', version: '1.0.0', apply(api) {
  api.registerChecker({ keyword: 'FLAG_CHECK', schema: block({ file: word(str()).required() }), create: (c) => ({
    async check() { const ok = fs.readFileSync(c.file, 'utf8').trim() === 'ok'; return { ok, message: ok ? 'flag ok' : 'flag not ok' }; },
  }) });
} };
`,
  );
  const conf = `plugins {\n  "${path.join(dir, 'flag-check.js')}"\n}\nvrrp_check flag {\n  FLAG_CHECK {\n    file ${flag}\n  }\n  interval 0.1\n}\n${instance('  track_check {\n    flag weight -30\n  }\n')}`;
  const r = await compiled(conf);
  const changes: TrackerChange[] = [];
  const { log } = memoryLogger('debug');
  const svc = new TrackerService({ log, onChange: (c) => changes.push(c) });
  cleanups.push(() => svc.stop());
  svc.start(r.model!, r.pluginHost as PluginHost);
  assert.ok(await waitUntil(() => changes.some((c) => c.type === 'vrrp_check' && c.name === 'flag' && c.up), 3000), JSON.stringify(changes));
  fs.writeFileSync(flag, 'no');
  assert.ok(await waitUntil(() => changes[changes.length - 1]?.up === false, 3000), JSON.stringify(changes));
  await svc.stop();
});
