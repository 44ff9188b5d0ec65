import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { BUILTIN_PLUGINS } from '../../core/plugin/builtins';
import { TrackerService, type TrackerChange } from '../../core/track/service';
import { compileText, noErrors } from '../helpers/config';
import { pluginFromDoc } from '../helpers/doc-plugin';
import { memoryLogger } from '../helpers/log';

/**
 * The custom tracker of docs/writing-a-plugin.md, taken from the page as
 * it is, compiled, enabled next to the built-ins, and run by the tracker
 * service against a real listener on loopback: up while the port accepts,
 * down once it is closed.
 */

const servers: net.Server[] = [];
const services: TrackerService[] = [];
after(async () => {
  for (const s of services) await s.stop();
  for (const s of servers) s.close();
});

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

test('the track_port example of docs/writing-a-plugin.md runs: up while the port accepts, down when it closes', async () => {
  const server = net.createServer((s) => s.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const r = await compileText(
    `track_port app {\n  port ${port}\n  interval 0.1\n  weight -30\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.168.1.10/24\n  }\n  track_port {\n    app\n  }\n}\n`,
    {},
    { builtins: [...BUILTIN_PLUGINS, pluginFromDoc('## 10. A custom tracker')] },
  );
  noErrors(r);
  const changes: TrackerChange[] = [];
  const service = new TrackerService({ log: memoryLogger().log, onChange: (c) => changes.push(c) });
  services.push(service);
  service.start(r.model!, r.pluginHost);
  assert.ok(await waitUntil(() => changes.length === 1, 3000));
  assert.deepEqual(
    changes.map(({ time, ...c }) => c),
    [{ type: 'track_port', name: 'app', plugin: 'track-port', up: true }],
  );
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(await waitUntil(() => changes.length === 2, 3000));
  assert.equal(changes[1]!.up, false);
  await service.stop();
});
