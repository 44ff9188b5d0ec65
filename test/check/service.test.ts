import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { CheckService } from '../../core/check/service';
import type { VirtualServerPool } from '../../core/check/pool';
import { NotifyPipeline } from '../../core/notify/pipeline';
import { ScriptNotifier } from '../../plugins/notify-script/script-notifier';
import { scriptSink } from '../../plugins/notify-script/script-sink';
import { PluginHost } from '../../core/plugin/host';
import type { CheckResultEvent, QuorumChangeEvent, RealServerChangeEvent } from '../../core/sdk';
import { Backend } from '../helpers/backend';
import { compileText, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * The check service with the real built-in checkers against real servers
 * on loopback: a server that dies goes down after its failed check and
 * retries, its notify_down script runs (and writes a file), the hooks fire;
 * it comes back, notify_up runs. The notifications go through the notifier
 * pipeline to the script notifier, as in the daemon. Real timers, short
 * delays; every wait is bounded and every server, script and timer is gone
 * at the end.
 */

const dir = tmpDir('alived-service-');
fs.chmodSync(dir, 0o755);

const backends: Backend[] = [];
const services: Array<{ stop(): Promise<void> }> = [];
const hosts: PluginHost[] = [];
after(async () => {
  for (const s of services) await s.stop();
  for (const b of backends) await b.stop();
  for (const h of hosts) await h.close();
});

async function backend(make: () => net.Server): Promise<Backend> {
  const b = await new Backend(make).start();
  backends.push(b);
  return b;
}

const tcpBackend = () => backend(() => net.createServer((s) => s.resume()));

/** a script line that appends `word` to the events file */
const record = (file: string, word: string) => `"/bin/sh -c 'echo ${word} >> ${file}'"`;

interface Running {
  service: CheckService;
  host: PluginHost;
  results: CheckResultEvent[];
  changes: RealServerChangeEvent[];
  quorum: QuorumChangeEvent[];
  pools: VirtualServerPool[];
  records: ReturnType<typeof memoryLogger>['records'];
}

async function run(text: string): Promise<Running> {
  const { log, records } = memoryLogger('debug');
  const host = new PluginHost({ log });
  hosts.push(host);
  const r = await compileText(text, {}, { pluginHost: host });
  assert.deepEqual(r.errors, [], r.errors.join('\n'));
  await host.hooks.configLoaded.promise(r.model!);
  const results: CheckResultEvent[] = [];
  const changes: RealServerChangeEvent[] = [];
  const quorum: QuorumChangeEvent[] = [];
  const pools: VirtualServerPool[] = [];
  host.hooks.checkResult.tap('test', (e) => void results.push(e));
  host.hooks.realServerChange.tap('test', (e) => void changes.push(e));
  host.hooks.quorumChange.tap('test', (e) => void quorum.push(e));
  // the daemon's wiring: the checks' notifications to the pipeline, notify scripts in the script notifier
  const notifier = new ScriptNotifier({ log });
  await notifier.start(r.model!);
  const pipeline = new NotifyPipeline({ log });
  pipeline.setSinks([scriptSink(notifier)]);
  const service = new CheckService({ log, hooks: host.hooks, bootstrapDelayMs: 20, onPoolChange: (p) => pools.push(p), onNotify: (e) => pipeline.publish(e) });
  services.push(service, notifier, pipeline);
  service.start(r.model!, host);
  return { service, host, results, changes, quorum, pools, records };
}

async function waitFor<T>(what: string, get: () => T | undefined | false, ms = 8000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : []);

test('TCP_CHECK: a server that dies goes down after its retries, notify_down runs; it comes back, notify_up runs; hooks fire', async () => {
  const events = path.join(dir, 'tcp.events');
  const a = await tcpBackend();
  const b = await tcpBackend();
  const r = await run(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  delay_loop 0.3
  quorum 2
  quorum_up ${record(events, 'quorum-up')}
  quorum_down ${record(events, 'quorum-down')}
  real_server 127.0.0.1 ${a.port} {
    notify_up ${record(events, 'a-up')}
    notify_down ${record(events, 'a-down')}
    TCP_CHECK {
      connect_timeout 1
      retry 2
      delay_before_retry 0.1
      warmup 0
    }
  }
  real_server 127.0.0.1 ${b.port} {
    TCP_CHECK {
      connect_timeout 1
      warmup 0
    }
  }
}
`);
  await waitFor('the first results', () => r.results.length >= 2);
  assert.ok(
    r.results.every((e) => e.ok),
    JSON.stringify(r.results),
  );
  assert.equal(r.results[0]!.message, `TCP_CHECK 127.0.0.1:${r.results[0]!.realServer.port}: connected`);
  await waitFor('quorum_up', () => lines(events).includes('quorum-up'));
  assert.deepEqual(
    r.service.pools()[0]!.destinations.map((d) => d.port),
    [a.port, b.port],
  );

  await a.stop();
  const down = await waitFor('the real server to go down', () => r.changes.find((c) => !c.up));
  assert.deepEqual(down.realServer, { address: '127.0.0.1', port: a.port, protocol: 'tcp' });
  assert.match(down.reason, /^TCP_CHECK 127\.0\.0\.1:\d+: connection refused/);
  // the failed check and its two retries came before the change
  const failed = r.results.filter((e) => e.realServer.port === a.port && !e.ok);
  assert.equal(failed.length, 3, JSON.stringify(failed));
  await waitFor('notify_down and quorum_down', () => lines(events).includes('a-down') && lines(events).includes('quorum-down'));
  assert.deepEqual(
    r.quorum.map((q) => [q.up, q.alive, q.quorum]),
    [
      [true, 2, 2],
      [false, 1, 2],
    ],
  );
  assert.deepEqual(
    r.service.pools()[0]!.destinations.map((d) => d.port),
    [b.port],
  );
  const log = r.records.map((x) => x.msg);
  assert.ok(log.includes(`TCP_CHECK on service [127.0.0.1]:tcp:${a.port} of VS [10.0.0.1]:tcp:80 failed after 2 retries.`), log.join('\n'));
  assert.ok(log.includes(`Removing service [127.0.0.1]:tcp:${a.port} from VS [10.0.0.1]:tcp:80 (pool not programmed)`));

  await a.start();
  const up = await waitFor('the real server to come back', () => r.changes.find((c) => c.up));
  assert.equal(up.realServer.port, a.port);
  await waitFor('notify_up and quorum_up', () => lines(events).length === 5);
  // the two scripts of one change run side by side: their lines may come in either order
  const seen = lines(events);
  assert.deepEqual([seen[0], seen.slice(1, 3).sort(), seen.slice(3).sort()], ['quorum-up', ['a-down', 'quorum-down'], ['a-up', 'quorum-up']]);
  assert.deepEqual(
    r.service.pools()[0]!.destinations.map((d) => d.port),
    [a.port, b.port],
  );
  assert.equal(r.pools.at(-1)!.destinations.length, 2);

  const st = r.service.status();
  assert.equal(st.running, true);
  assert.deepEqual(
    st.virtualServers[0]!.realServers.map((x) => x.alive),
    [true, true],
  );
  assert.ok(st.stats.checks >= r.results.length);
  await r.service.stop();
  assert.equal(r.service.status().running, false);
  const n = r.results.length;
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(r.results.length, n, 'no check after stop()');
});

test('HTTP_GET: a server answering 503 goes down; 200 again brings it back', async () => {
  let status = 200;
  const web = await backend(() => http.createServer((_req, res) => res.writeHead(status).end('ok\n')));
  const events = path.join(dir, 'http.events');
  const r = await run(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  delay_loop 0.3
  real_server 127.0.0.1 ${web.port} {
    notify_up ${record(events, 'up')}
    notify_down ${record(events, 'down')}
    HTTP_GET {
      url {
        path /health
        status_code 200
      }
      connect_timeout 1
      retry 1
      delay_before_retry 0.1
      warmup 0
    }
  }
}
`);
  await waitFor('a first success', () => r.results.some((e) => e.ok));
  status = 503;
  const down = await waitFor('down', () => r.changes.find((c) => !c.up));
  assert.equal(down.reason, `HTTP_GET http://127.0.0.1:${web.port}/health: status 503, expected 200`);
  status = 200;
  await waitFor('up again', () => r.changes.find((c) => c.up));
  await waitFor('both scripts', () => lines(events).length === 2);
  assert.deepEqual(lines(events), ['down', 'up']);
  await r.service.stop();
});

test('MISC_CHECK with misc_dynamic: the exit status sets the weight; the script is killed at misc_timeout', async () => {
  const code = path.join(dir, 'misc.code');
  fs.writeFileSync(code, '12\n');
  const check = path.join(dir, 'misc.sh');
  fs.writeFileSync(check, `#!/bin/sh\nc=$(cat ${code})\nif [ "$c" = hang ]; then sleep 30; fi\nexit $c\n`, { mode: 0o755 });
  const r = await run(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  delay_loop 0.3
  real_server 127.0.0.1 9 {
    weight 3
    MISC_CHECK {
      misc_path ${check}
      misc_dynamic
      misc_timeout 1
      warmup 0
    }
  }
}
`);
  await waitFor('weight 10', () => r.service.pools()[0]!.destinations[0]?.weight === 10);
  fs.writeFileSync(code, '0\n');
  await waitFor('the configured weight back', () => r.service.pools()[0]!.destinations[0]?.weight === 3);
  fs.writeFileSync(code, 'hang\n');
  const down = await waitFor('down at misc_timeout', () => r.changes.find((c) => !c.up), 10_000);
  assert.match(down.reason, /^MISC_CHECK '.*misc\.sh': timed out/);
  assert.deepEqual(r.service.pools()[0]!.destinations, []);
  await r.service.stop();
});

test('without IPVS the service says once that pools are not programmed, and the status says so', async () => {
  const r = await run(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 127.0.0.1 9 {
  }
}
virtual_server 10.0.0.1 81 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 127.0.0.1 9 {
  }
}
`);
  const ipvs = fs.existsSync('/proc/net/ip_vs');
  const said = r.records.filter((x) => /pool/.test(x.msg) && x.level === 'warn');
  assert.equal(said.length, 1);
  assert.equal(
    said[0]!.msg,
    ipvs
      ? 'IPVS is in this kernel but alived cannot program it (no IPVS reconciler runs): health checks of 2 virtual servers run and drive notify scripts and hooks; their pools are computed (see status) but not programmed'
      : 'IPVS is not available in this kernel (/proc/net/ip_vs is absent): health checks of 2 virtual servers run and drive notify scripts and hooks, but no pool is programmed',
  );
  assert.deepEqual(r.service.status().ipvs, { available: ipvs, programmed: false });
  await r.service.reload(
    (await compileText('virtual_server 10.0.0.1 80 {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n real_server 127.0.0.1 9 {\n }\n}\n')).model!,
    r.host,
  );
  assert.equal(r.records.filter((x) => /pool/.test(x.msg) && x.level === 'warn').length, 1, 'said once');
  await r.service.stop();
});
