import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { createHaproxyChecker, createNginxChecker, createTomcatChecker } from '../../plugins/check-presets';
import type { Checker, CheckResult } from '../../core/sdk';
import { compileText, has, noErrors, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import { freePort, startHaproxy, startNginx, startTomcat, waitFor, type Haproxy, type Nginx, type Service } from '../helpers/services';

/**
 * NGINX_CHECK, HAPROXY_CHECK and TOMCAT_CHECK against Debian's nginx,
 * haproxy and Tomcat 10, started here on loopback: up while the daemon
 * runs and answers; a stuck (SIGSTOPped) daemon caught by the URL or the
 * stats socket; a killed one caught by its process (nginx's workers still
 * answer when only the master is killed).
 */

const root = tmpDir('alived-presets-');

async function presetConfig<T>(keyword: string, body: string, port: number): Promise<T> {
  const r = await compileText(`virtual_server 10.0.0.1 80 {\n  real_server 127.0.0.1 ${port} {\n    ${keyword} {\n${body}\n    }\n  }\n}\n`);
  noErrors(r);
  await r.pluginHost.close();
  return r.model!.virtualServer[0]!.realServer[0]!.extensions.find((e) => e.keyword === keyword)!.value as T;
}

function runner(c: Checker) {
  return (ms = 1500): Promise<CheckResult> => c.check(AbortSignal.timeout(ms));
}

const ctxFor = (port: number) => ({ target: { address: '127.0.0.1', port }, realServer: { address: '127.0.0.1', port }, log: memoryLogger().log });

test('config: the presets validate their keywords like the core ones', async () => {
  let r = await compileText(`virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    NGINX_CHECK {\n      urll /x\n    }\n  }\n}\n`);
  has(r, "error: unknown keyword 'urll' in NGINX_CHECK (did you mean 'url'?)");
  r = await compileText(`virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    TOMCAT_CHECK {\n      url health\n    }\n  }\n}\n`);
  has(r, "error: 'health' is not a path starting with /");
  r = await compileText(
    `virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    TOMCAT_CHECK {\n      status_code 700\n    }\n    HAPROXY_CHECK {\n      min_servers_up 0\n      process maybe\n    }\n  }\n}\n`,
  );
  assert.ok(
    r.errors.some((l) => /700/.test(l)),
    r.lines.join('\n'),
  );
  has(r, 'error: 0 is out of range: expected 1..65535');
  assert.ok(
    r.errors.some((l) => /maybe/.test(l)),
    r.lines.join('\n'),
  );
});

describe('NGINX_CHECK and HAPROXY_CHECK against nginx and haproxy', () => {
  let nginx: Nginx;
  let haproxy: Haproxy;
  let nginxPort: number;
  let haPort: number;
  before(async () => {
    nginxPort = await freePort();
    haPort = await freePort();
    nginx = await startNginx(path.join(root, 'nginx'), '127.0.0.1', nginxPort);
    haproxy = await startHaproxy(path.join(root, 'haproxy'), '127.0.0.1', haPort, [`127.0.0.1:${nginxPort}`]);
  });
  after(async () => {
    await haproxy?.stop();
    await nginx?.stop();
  });

  test('nginx: master running and stub_status answering; stuck: the URL times out; back: ok', async () => {
    const check = runner(createNginxChecker(await presetConfig('NGINX_CHECK', '      url /nginx_status', nginxPort), ctxFor(nginxPort)));
    let r = await check();
    assert.equal(r.ok, true, r.message);
    assert.match(r.message!, /^NGINX_CHECK 127\.0\.0\.1:\d+: master \d+ running, GET \/nginx_status 200 \(\d+ active connections\)$/);
    process.kill(-nginx.pid, 'SIGSTOP');
    try {
      r = await check(800);
      assert.equal(r.ok, false);
      assert.match(r.message!, /timed out/);
    } finally {
      process.kill(-nginx.pid, 'SIGCONT');
    }
    assert.equal((await check()).ok, true);
  });

  test('haproxy: stats socket show info and the backend servers up; the backend down when nginx is gone; stuck: the socket times out', async () => {
    const check = runner(
      createHaproxyChecker(await presetConfig('HAPROXY_CHECK', `      stats_socket ${haproxy.statsSocket}\n      backend app`, haPort), ctxFor(haPort)),
    );
    await waitFor(async () => (await check()).ok, 5000, 'haproxy backend up');
    let r = await check();
    assert.match(r.message!, /^HAPROXY_CHECK .*admin\.sock: haproxy \d+ running, show info: pid \d+, backend app 1\/1 up$/);
    process.kill(-haproxy.pid, 'SIGSTOP');
    try {
      r = await check(800);
      assert.equal(r.ok, false);
      assert.match(r.message!, /timed out/);
    } finally {
      process.kill(-haproxy.pid, 'SIGCONT');
    }
    assert.equal((await check()).ok, true);
    // nginx's master killed: its worker still answers (nginx's own behaviour), the preset sees the master gone
    const nginxCheck = runner(createNginxChecker(await presetConfig('NGINX_CHECK', '', nginxPort), ctxFor(nginxPort)));
    nginx.signal('SIGKILL');
    await nginx.exited;
    r = await nginxCheck();
    assert.equal(r.ok, false);
    assert.match(r.message!, /no nginx process of that kind runs in this network namespace/);
    await nginx.stop();
    await waitFor(async () => !(await check()).ok, 5000, 'haproxy backend down');
    r = await check();
    assert.match(r.message!, /backend app: 0 of 1 servers up, 1 needed/);
    haproxy.signal('SIGKILL');
    await haproxy.exited;
    r = await check();
    assert.equal(r.ok, false);
    assert.match(r.message!, /no haproxy process runs in this network namespace/);
  });
});

describe('TOMCAT_CHECK against Tomcat 10', () => {
  let tomcat: Service;
  let port: number;
  const base = path.join(root, 'tomcat');
  before(async () => {
    port = await freePort();
    tomcat = await startTomcat(base, '127.0.0.1', port);
  });
  after(() => tomcat?.stop());

  test('java running Catalina and the URL answering; stuck: timed out; another catalina_base: not ours; killed: gone', async () => {
    const check = runner(createTomcatChecker(await presetConfig('TOMCAT_CHECK', `      url /health.txt\n      catalina_base ${base}`, port), ctxFor(port)));
    let r = await check(3000);
    assert.equal(r.ok, true, r.message);
    assert.match(r.message!, /^TOMCAT_CHECK 127\.0\.0\.1:\d+: catalina \d+ running, GET \/health\.txt 200$/);
    const other = runner(createTomcatChecker(await presetConfig('TOMCAT_CHECK', `      catalina_base /nonexistent`, port), ctxFor(port)));
    r = await other();
    assert.equal(r.ok, false);
    assert.match(r.message!, /no java process of that kind/);
    const missing = runner(createTomcatChecker(await presetConfig('TOMCAT_CHECK', `      url /nope`, port), ctxFor(port)));
    r = await missing(3000);
    assert.match(r.message!, /GET \/nope: status 404, expected 200/);
    tomcat.signal('SIGSTOP');
    try {
      r = await check(800);
      assert.equal(r.ok, false);
      assert.match(r.message!, /timed out/);
    } finally {
      tomcat.signal('SIGCONT');
    }
    assert.equal((await check(3000)).ok, true);
    tomcat.signal('SIGKILL');
    await tomcat.exited;
    r = await check();
    assert.equal(r.ok, false);
    assert.match(r.message!, /no java process of that kind/);
  });
});
