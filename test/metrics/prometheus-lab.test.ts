import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { runDashboard, withoutData } from '../helpers/grafana';
import { useLab } from '../helpers/lab';
import { PrometheusServer, prometheusMissing } from '../helpers/prometheus';
import { nodeConfig, startReceiver, stateDir, stopDaemons, waitApi, waitTransition, writeCheckScript, writeTokenFile } from '../status/pair-lab';

/**
 * A real Prometheus (Debian's package, in a lab host of its own) scrapes two
 * alived nodes over TCP with the API's bearer token. n1 (priority 150)
 * tracks a script with weight -60; n2 has 100. PromQL sees n1's
 * keepalived_vrrp_state at 2 and n2's at 1; the test makes the script fail,
 * n1 drops to 90, n2 preempts, and PromQL sees n1 at 1 and n2 at 2 (n1 stays
 * up and scrapeable as BACKUP). Both nodes' timelines show the failover
 * with its cause. Then every PromQL of the Grafana dashboard returns data
 * from this Prometheus: the pool panels from a virtual server whose real
 * servers are a lab host's HTTP server (up) and a port nobody listens on
 * (down), the notification panels from a webhook to that same server.
 */

const DASHBOARD = path.join(PROJECT_ROOT, 'examples/grafana/alived-dashboard.json');
const N1 = '10.95.0.11';
const N2 = '10.95.0.12';
const N3 = '10.95.0.13';
const VIP = '10.95.0.100';
const API_PORT = 9650;
const WEB_PORT = 8080;
const TOKEN = 'lab-prom-token-0123456789abcdef';
const skip = prometheusMissing();

test('Prometheus sees the failover of two alived nodes, their timelines say why, and every dashboard query has data', { skip, timeout: 120_000 }, async () => {
  const lab = await useLab({
    name: 'prom',
    hosts: [
      { name: 'n1', ip: N1 },
      { name: 'n2', ip: N2 },
      { name: 'n3', ip: N3 },
    ],
  });
  const dir = tmpDir('alived-prom-lab-');
  const flag = path.join(dir, 'healthy');
  fs.writeFileSync(flag, '');
  const script = writeCheckScript(dir, flag);
  const tokenFile = writeTokenFile(dir, TOKEN);

  // n3: the real server that is up, the sorry server and the webhook receiver
  const web = startReceiver(lab, 'n3', N3, WEB_PORT);
  await web.ready;
  const extra = `webhook lab {
  url http://${N3}:${WEB_PORT}/hook
}
virtual_server ${VIP} 80 {
  delay_loop 1
  protocol TCP
  sorry_server ${N3} ${WEB_PORT}
  real_server ${N3} ${WEB_PORT} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server ${N3} ${WEB_PORT + 1} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;
  const api = (ip: string): string => `  listen ${ip}:${API_PORT}\n  token_file ${tokenFile}`;
  const v = new VrrpLab(lab, dir);
  after(() => stopDaemons(v));
  const s1 = stateDir(dir, 'n1');
  const s2 = stateDir(dir, 'n2');
  v.startAlived('n1', nodeConfig({ priority: 150, script, vip: VIP, api: api(N1), extra }), ['--state-dir', s1]);
  v.startAlived('n2', nodeConfig({ priority: 100, vip: VIP, api: api(N2), extra }), ['--state-dir', s2]);
  await v.waitHolder(VIP, 'n1', 15_000);
  await Promise.all([waitApi(s1), waitApi(s2)]);

  const prom = await PrometheusServer.start({
    targets: [`${N1}:${API_PORT}`, `${N2}:${API_PORT}`],
    listen: `${N3}:9090`,
    lab: { lab, host: 'n3' },
    bearerTokenFile: tokenFile,
  });
  after(() => prom.stop());
  // both nodes answer Prometheus with the token: up is 1 for each
  await prom.waitScraped(2, 20_000);

  const stateOf = (series: { metric: Record<string, string>; value: number }[]): Record<string, number> =>
    Object.fromEntries(series.map((s) => [s.metric.instance!, s.value]));
  const n1 = `${N1}:${API_PORT}`;
  const n2 = `${N2}:${API_PORT}`;
  const STATE = 'keepalived_vrrp_state{iname="VI_1"}';
  await prom.waitFor(STATE, (s) => stateOf(s)[n1] === 2 && stateOf(s)[n2] === 1, 15_000);

  // the tracker fails: n1 goes to 150 - 60 = 90 < 100, n2 preempts, n1 stays up as BACKUP
  const t0 = Date.now();
  fs.rmSync(flag);
  await v.waitHolder(VIP, 'n2', 15_000);
  const after1 = await prom.waitFor(STATE, (s) => stateOf(s)[n1] === 1 && stateOf(s)[n2] === 2, 15_000);
  assert.equal(after1.length, 2, 'both nodes are still scraped');
  const prio = await prom.vector(`alived_instance_priority{iname="VI_1", kind="effective"}`);
  assert.deepEqual(stateOf(prio), { [n1]: 90, [n2]: 100 });

  // n1's timeline: MASTER -> BACKUP because of n2's advert, because of its priority, because of the tracker
  const down = await waitTransition(s1, (e) => e.before === 'MASTER' && e.after === 'BACKUP' && e.time >= t0 - 1000);
  assert.equal(down.cause.kind, 'advert', JSON.stringify(down.cause));
  assert.equal(down.cause.facts?.from, N2);
  assert.equal(down.cause.facts?.priority, 100);
  assert.equal(down.cause.facts?.ours, 90);
  const prioCause = down.cause.because;
  assert.equal(prioCause?.kind, 'priority', JSON.stringify(down.cause));
  assert.deepEqual([prioCause?.facts?.base, prioCause?.facts?.effective], [150, 90]);
  const trackerCause = prioCause?.because;
  assert.equal(trackerCause?.kind, 'tracker', JSON.stringify(down.cause));
  assert.equal(trackerCause?.facts?.name, 'chk_x');
  assert.equal(trackerCause?.facts?.state, 'down');
  assert.equal(trackerCause?.facts?.result, 'exit 1: "connection refused"');
  // n2's: BACKUP -> MASTER, preempting n1 whose advertised priority fell below its own
  const up = await waitTransition(s2, (e) => e.before === 'BACKUP' && e.after === 'MASTER' && e.time >= t0 - 1000);
  assert.equal(up.cause.kind, 'master-down', JSON.stringify(up.cause));
  assert.equal(up.cause.facts?.lastMaster, N1);
  assert.equal(up.cause.facts?.lastMasterPriority, 90);
  assert.match(up.cause.text, new RegExp(`^preempting ${N1.replace(/\./g, '\\.')}, whose priority 90 is lower than our 100$`));

  // every query of the dashboard has data: rates and quantiles need samples in their 1m window
  await prom.waitScraped(6, 20_000);
  await prom.waitFor('alived_notifications_sent_total', (s) => s.some((x) => x.value > 0), 15_000);
  const outcomes = await runDashboard(prom, DASHBOARD);
  assert.ok(outcomes.length >= 25, `${outcomes.length} queries`);
  assert.deepEqual(withoutData(outcomes), []);
  // the pool panels show the lab's pool: one real server up, one out
  const rsUp = outcomes.find((o) => o.query.where === 'panel "Real servers up" A')!.series!;
  const upBy = (inst: string): Record<string, number> =>
    Object.fromEntries(rsUp.filter((s) => s.metric.instance === inst).map((s) => [s.metric.real_server!, s.value]));
  for (const inst of [n1, n2]) assert.deepEqual(upBy(inst), { [`[${N3}]:tcp:${WEB_PORT}`]: 1, [`[${N3}]:tcp:${WEB_PORT + 1}`]: 0 }, inst);
  // and the webhook receiver got the transitions
  assert.ok(
    web.requests.some((r) => r.includes('"new_state":"MASTER"') || r.includes('\\"new_state\\":\\"MASTER\\"')),
    'the webhook received a MASTER transition',
  );
});
