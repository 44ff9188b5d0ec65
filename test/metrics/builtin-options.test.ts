import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiRequest } from '../../core/api/types';
import { compileText } from '../helpers/config';
import { fixtureProvider, statusFixture } from './status-fixture';

/*
 * A built-in plugin named in `plugins { }` takes its options from there:
 * metrics-prometheus's max_age_ms, which its /metrics answers carry as how
 * long the API thread may share them.
 */

const VRRP = 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n}\n';

const GET: ApiRequest = { method: 'GET', path: '/metrics', query: new URLSearchParams(), headers: {}, transport: 'unix', body: undefined, params: {} };

async function maxAgeOf(text: string): Promise<{ maxAgeMs: number | undefined; errors: string[]; enabledAt: number | undefined }> {
  const r = await compileText(text);
  if (!r.ok) return { maxAgeMs: undefined, errors: r.errors, enabledAt: undefined };
  r.pluginHost.setStatusProvider(fixtureProvider(() => statusFixture()));
  const route = r.pluginHost.routes.find((x) => x.def.path === '/metrics')!;
  const res = await route.def.handle(GET);
  const info = r.pluginHost.plugins.find((p) => p.name === 'metrics-prometheus');
  await r.pluginHost.close();
  return { maxAgeMs: res.shared?.maxAgeMs, errors: r.errors, enabledAt: info?.enabledAt?.line };
}

test('metrics-prometheus { max_age_ms N } sets how long a /metrics page is shared; without it, 1000', async () => {
  assert.deepEqual(await maxAgeOf(VRRP), { maxAgeMs: 1000, errors: [], enabledAt: undefined });
  assert.deepEqual(await maxAgeOf(`plugins {\n  metrics-prometheus {\n    max_age_ms 250\n  }\n}\n${VRRP}`), { maxAgeMs: 250, errors: [], enabledAt: 2 });
  // named without a block: its defaults
  assert.deepEqual(await maxAgeOf(`plugins {\n  metrics-prometheus\n}\n${VRRP}`), { maxAgeMs: 1000, errors: [], enabledAt: 2 });
  // 0: a page at every scrape, which is then not shared
  assert.equal((await maxAgeOf(`plugins {\n  metrics-prometheus { max_age_ms 0 }\n}\n${VRRP}`)).maxAgeMs, undefined);
});

test('a bad option of a built-in plugin, or the built-in configured twice, is an error naming it', async () => {
  const bad = await maxAgeOf(`plugins {\n  metrics-prometheus { max_age_ms 70000 }\n}\n${VRRP}`);
  assert.equal(bad.errors.length, 1, bad.errors.join('\n'));
  assert.match(bad.errors[0]!, /keepalived\.conf:2:.*70000 is out of range/);
  const unknown = await maxAgeOf(`plugins {\n  metrics-prometheus { max_age 5 }\n}\n${VRRP}`);
  assert.equal(unknown.errors.length, 1, unknown.errors.join('\n'));
  assert.match(unknown.errors[0]!, /max_age/);
  const twice = await maxAgeOf(`plugins {\n  metrics-prometheus { max_age_ms 100 }\n  metrics-prometheus { max_age_ms 200 }\n}\n${VRRP}`);
  assert.equal(twice.errors.length, 1, twice.errors.join('\n'));
  assert.match(twice.errors[0]!, /keepalived\.conf:3:.*plugin 'metrics-prometheus' is configured already, at line 2/);
  const args = await maxAgeOf(`plugins {\n  metrics-prometheus 5\n}\n${VRRP}`);
  assert.match(args.errors.join('\n'), /plugin 'metrics-prometheus': options go in a \{ \} block after its name/);
});
