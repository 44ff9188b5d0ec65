import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planChecks, type CheckerPlan } from '../../core/check/plan';
import { PluginHost } from '../../core/plugin/host';
import { silentLogger } from '../../core/log/logger';
import { compileText } from '../helpers/config';

/** What the scheduler runs, from real configs compiled with the built-in checkers: every inherited value as keepalived resolves it. */

async function plan(text: string) {
  const host = new PluginHost({ log: silentLogger });
  const r = await compileText(text, {}, { pluginHost: host });
  assert.deepEqual(r.errors, [], r.errors.join('\n'));
  const p = planChecks(r.model!, host.checkers);
  await host.close();
  return p;
}

const timing = (c: CheckerPlan) => ({
  keyword: c.keyword,
  delayLoopMs: c.delayLoopMs,
  timeoutMs: c.timeoutMs,
  retry: c.retry,
  delayBeforeRetryMs: c.delayBeforeRetryMs,
  warmupMs: c.warmupMs,
  alpha: c.alpha,
});

const head = 'lvs_sched rr\n  lvs_method NAT\n  protocol TCP';

test("checker, else real_server, else virtual_server, else the checker's own default", async () => {
  const p = await plan(`virtual_server 10.0.0.1 80 {
  ${head}
  delay_loop 7
  connect_timeout 4
  real_server 10.0.0.2 80 {
    retry 5
    TCP_CHECK {}
    TCP_CHECK {
      connect_port 81
      delay_loop 2
      retry 0
      connect_timeout 1.5
      delay_before_retry 0.5
      warmup 0
      alpha
    }
    HTTP_GET {
      url {
        path /
      }
    }
    DNS_CHECK {
      name example.com
    }
    MISC_CHECK {
      misc_path /bin/true
    }
    MISC_CHECK {
      misc_path /bin/false
      misc_timeout 3
    }
  }
  real_server 10.0.0.3 80 {
    MISC_CHECK {
      misc_path /bin/true
    }
    DNS_CHECK {
      name example.com
    }
  }
}
`);
  const [a, b] = p.virtualServers[0]!.realServers;
  assert.deepEqual(a!.checkers.map(timing), [
    { keyword: 'TCP_CHECK', delayLoopMs: 7000, timeoutMs: 4000, retry: 5, delayBeforeRetryMs: 1000, warmupMs: 7000, alpha: false },
    { keyword: 'TCP_CHECK', delayLoopMs: 2000, timeoutMs: 1500, retry: 0, delayBeforeRetryMs: 500, warmupMs: 0, alpha: true },
    // HTTP_GET's own delay_before_retry is 3 s
    { keyword: 'HTTP_GET', delayLoopMs: 7000, timeoutMs: 4000, retry: 5, delayBeforeRetryMs: 3000, warmupMs: 7000, alpha: false },
    { keyword: 'DNS_CHECK', delayLoopMs: 7000, timeoutMs: 4000, retry: 5, delayBeforeRetryMs: 7000, warmupMs: 7000, alpha: false },
    // MISC_CHECK: no connect_timeout; misc_timeout, else the virtual server's delay_loop
    { keyword: 'MISC_CHECK', delayLoopMs: 7000, timeoutMs: 7000, retry: 5, delayBeforeRetryMs: 1000, warmupMs: 7000, alpha: false },
    { keyword: 'MISC_CHECK', delayLoopMs: 7000, timeoutMs: 3000, retry: 5, delayBeforeRetryMs: 1000, warmupMs: 7000, alpha: false },
  ]);
  assert.deepEqual(a!.checkers[1]!.target, { address: '10.0.0.2', port: 81, protocol: 'tcp' });
  // without a retry anywhere: MISC_CHECK 0, DNS_CHECK 3 (their own defaults)
  assert.deepEqual(
    b!.checkers.map((c) => [c.keyword, c.retry, c.delayBeforeRetryMs]),
    [
      ['MISC_CHECK', 0, 1000],
      ['DNS_CHECK', 3, 7000],
    ],
  );
});

test('servers: names, ports corrected as keepalived does, weights, inhibit, duplicates dropped, checkers not run listed', async () => {
  const p = await plan(`global_defs {
  smtp_alert_checker off
}
virtual_server 10.0.0.1 80 {
  ${head}
  weight 2
  inhibit_on_failure
  sorry_server 10.0.0.9 8080
  real_server 10.0.0.2 {
    PING_CHECK {}
  }
  real_server 10.0.0.3 8080 {
    lvs_method DR
    weight 5
    inhibit_on_failure off
  }
  real_server 10.0.0.2 80 {
  }
}
virtual_server fwmark 7 {
  lvs_sched rr
  lvs_method DR
  real_server 10.0.0.4 443 {
    TCP_CHECK {}
  }
}
`);
  const [vs, fw] = p.virtualServers;
  assert.equal(vs!.name, '[10.0.0.1]:tcp:80');
  assert.deepEqual(
    vs!.realServers.map((r) => [r.name, r.weight, r.inhibit, r.lvsMethod, r.smtpAlert, r.notRun.map((n) => n.keyword)]),
    [
      // NAT without a port: the virtual server's
      ['[10.0.0.2]:tcp:80', 2, true, 'NAT', false, ['PING_CHECK']],
      // DR: the virtual server's port
      ['[10.0.0.3]:tcp:80', 5, false, 'DR', false, []],
    ],
  );
  assert.deepEqual(vs!.sorryServer && [vs!.sorryServer.name, vs!.sorryServer.weight], ['[10.0.0.9]:tcp:8080', 1]);
  assert.equal(fw!.name, 'FWM 7');
  // a DR real server of a fwmark service has no port in IPVS (its checker still connects to 443)
  assert.deepEqual(
    fw!.realServers.map((r) => r.name),
    ['[10.0.0.4]:none:0'],
  );
  assert.deepEqual(fw!.realServers[0]!.checkers[0]!.target, { address: '10.0.0.4', port: 443 });
});

test("a DR real server written with its own port is checked on that port (check_api.c queue_checker) and named by the service's", async () => {
  const p = await plan(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method DR
  protocol TCP
  real_server 10.0.0.2 81 {
    TCP_CHECK {}
    TCP_CHECK {
      connect_port 82
    }
  }
  real_server 10.0.0.3 {
    TCP_CHECK {}
  }
}
`);
  const [a, b] = p.virtualServers[0]!.realServers;
  assert.equal(a!.name, '[10.0.0.2]:tcp:80');
  assert.deepEqual(
    a!.checkers.map((c) => c.target.port),
    [81, 82],
  );
  // without a port: the service's, for the server and its check
  assert.deepEqual([b!.name, b!.checkers[0]!.target.port], ['[10.0.0.3]:tcp:80', 80]);
});
