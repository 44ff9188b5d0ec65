import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Lab } from '../../core/lab/netns';
import { daemonPid, VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';
import { useLab, waitFor } from '../helpers/lab';
import { cli, startReceiver, stateDir, stopDaemons, waitApi, waitTransition, writeCheckScript, writeTokenFile } from './pair-lab';

/**
 * No secret in any surface. A lab pair runs a config full of secrets: the
 * auth_pass of a PASS and of an AH instance, an SMTP password (from
 * smtp_auth_password_file, its server down, so mails wait in the outbox
 * with their errors), a webhook with a user:password@ and a ?token= in its
 * URL, an HMAC secret_file and a secret header, a vrrp_script and a
 * notify_master whose command lines carry a token in a URL, and the API's
 * token. The node fails over (its tracker fails) so the timeline, the
 * notifications and the causes all have something to say. Then every
 * surface is read and searched for every secret: each GET route over the
 * unix socket, /v1/status and /metrics over TCP with the token (and the 401
 * without it), a few seconds of /v1/events, the three dumps (SIGUSR1 data
 * and check data, SIGUSR2, the JSON signal), the CLI (status, events,
 * plugins, outbox, notify test, each also with --json, and `-t -d`), both
 * daemons' logs, and every file under their --state-dir.
 */

const N1 = '10.92.0.11';
const N2 = '10.92.0.12';
const N3 = '10.92.0.13';
const VIP_PASS = '10.92.0.100';
const VIP_AH = '10.92.0.101';
const WEB_PORT = 8080;
const API_PORT = 9650;
const NAME = 'secretslab';

const SECRET = {
  pass: 'PsSecr01',
  ah: 'AhSecr02',
  smtp: 'smtp-pw-Secr03',
  hookPassword: 'hook-pw-Secr04',
  hookToken: 'hook-tok-Secr05',
  hmac: 'hmac-key-Secr06',
  header: 'hdr-key-Secr07',
  script: 'scr-tok-Secr08',
  notify: 'ntf-tok-Secr09',
  api: 'api-token-Secr10-abcdefgh',
} as const;

function config(dir: string, ip: string, priority: number, script: string): string {
  return `global_defs {
  router_id sec${priority}
  notification_email {
    ops@example.com
  }
  smtp_server ${N3} 2525
  smtp_connect_timeout 2
  smtp_auth_user alived
  smtp_auth_password_file ${path.join(dir, 'smtp-password')}
  smtp_tls starttls
  smtp_alert
}
alived_api {
  listen ${ip}:${API_PORT}
  token_file ${path.join(dir, 'api-token')}
}
vrrp_script chk_x {
  script "${script} https://health.example.com/check?token=${SECRET.script}"
  interval 1
  weight -60
  fall 1
  rise 1
}
vrrp_instance VI_PASS {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority ${priority}
  advert_int 1
  version 2
  authentication {
    auth_type PASS
    auth_pass ${SECRET.pass}
  }
  notify_master "/bin/echo https://hooks.example.com/m?api_key=${SECRET.notify}"
  track_script {
    chk_x
  }
  virtual_ipaddress {
    ${VIP_PASS}/24
  }
}
vrrp_instance VI_AH {
  state BACKUP
  interface eth0
  virtual_router_id 62
  priority ${priority}
  advert_int 1
  version 2
  authentication {
    auth_type AH
    auth_pass ${SECRET.ah}
  }
  virtual_ipaddress {
    ${VIP_AH}/24
  }
}
webhook ops {
  url http://hookuser:${SECRET.hookPassword}@${N3}:${WEB_PORT}/hook?token=${SECRET.hookToken}
  secret_file ${path.join(dir, 'hmac')}
  header X-Api-Key "${SECRET.header}"
}
virtual_server ${VIP_PASS} 80 {
  delay_loop 1
  protocol TCP
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
}

/** A GET over the unix socket, its raw answer (for a stream: what came within streamMs). */
function rawGet(socketPath: string, route: string, streamMs = 0): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: route, headers: { Host: 'alived' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      const done = (): void => resolve({ status: res.statusCode ?? 0, body });
      res.on('end', done);
      if (streamMs > 0)
        setTimeout(() => {
          req.destroy();
          done();
        }, streamMs);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${route}: no answer`)));
    req.on('error', (err) => (streamMs > 0 && req.destroyed ? undefined : reject(err)));
  });
}

/** A GET over TCP from inside a lab host, with or without a bearer token. */
async function tcpGet(lab: Lab, host: string, url: string, token?: string): Promise<{ status: number; body: string }> {
  const script =
    'fetch(process.argv[1],{headers:process.argv[2]?{Authorization:"Bearer "+process.argv[2]}:{},signal:AbortSignal.timeout(8000)})' +
    '.then(async r=>process.stdout.write(JSON.stringify({status:r.status,body:await r.text()})))' +
    '.catch(e=>{process.stderr.write(String(e));process.exit(1)})';
  const r = await lab.exec(host, [process.execPath, '-e', script, url, token ?? ''], 15_000);
  if (r.code !== 0) throw new Error(`GET ${url} in ${host}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

/** Sends `signal` to the daemon and waits for each file to be written anew; returns their texts. */
async function dumps(d: LabDaemon, signal: number | NodeJS.Signals, files: string[]): Promise<Record<string, string>> {
  for (const f of files) fs.rmSync(f, { force: true });
  process.kill(daemonPid(d), signal);
  const out: Record<string, string> = {};
  for (const f of files) out[f] = await waitFor(f, () => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined), 5000);
  return out;
}

/** Every regular file under dir, by path (sockets and the like are not files to read). */
function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    if (e.isFile()) out[p] = fs.readFileSync(p, 'utf8');
  }
  return out;
}

const DUMP_FILES = ['data', 'check.data', 'stats', 'json'].map((k) => `/tmp/alived_${NAME}${k === 'check.data' ? '_check.data' : `.${k}`}`);
after(() => {
  for (const f of DUMP_FILES) fs.rmSync(f, { force: true });
});

test('no secret of the config in any endpoint, dump, CLI output, log or state file', { timeout: 120_000 }, async () => {
  const lab = await useLab({
    name: 'secret',
    hosts: [
      { name: 'n1', ip: N1 },
      { name: 'n2', ip: N2 },
      { name: 'n3', ip: N3 },
    ],
  });
  const dir = tmpDir('alived-secrets-');
  const flag = path.join(dir, 'healthy');
  fs.writeFileSync(flag, '');
  const script = writeCheckScript(dir, flag);
  writeTokenFile(dir, SECRET.api);
  fs.writeFileSync(path.join(dir, 'smtp-password'), `${SECRET.smtp}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'hmac'), `${SECRET.hmac}\n`, { mode: 0o600 });
  const web = startReceiver(lab, 'n3', N3, WEB_PORT);
  await web.ready;

  const v = new VrrpLab(lab, dir);
  after(() => stopDaemons(v));
  const s1 = stateDir(dir, 'n1');
  const s2 = stateDir(dir, 'n2');
  const d1 = v.startAlived('n1', config(dir, N1, 150, script), ['--state-dir', s1, '--instance', NAME]);
  // n2's tracker has a flag of its own, which stays
  const dir2 = path.join(dir, 'n2');
  fs.mkdirSync(dir2);
  fs.writeFileSync(path.join(dir2, 'healthy'), '');
  const d2 = v.startAlived('n2', config(dir, N2, 100, writeCheckScript(dir2, path.join(dir2, 'healthy'))), ['--state-dir', s2]);
  // both instances authenticate: n1 is master of both, n2 hears it (a mismatch would make both masters)
  await v.waitHolder(VIP_PASS, 'n1', 15_000);
  await v.waitHolder(VIP_AH, 'n1', 5000);
  await Promise.all([waitApi(s1), waitApi(s2)]);

  // n1's tracker fails: VI_PASS moves to n2; the timeline, causes and notifications have something to say
  fs.rmSync(flag);
  await v.waitHolder(VIP_PASS, 'n2', 15_000);
  await waitTransition(s1, (e) => e.before === 'MASTER' && e.after === 'BACKUP', 10_000, 'VI_PASS');
  await waitFor('the webhook deliveries', () => (web.requests.some((r) => r.includes(SECRET.hookToken)) ? true : undefined), 10_000);

  const surfaces: Record<string, string> = {};
  for (const [node, state] of [
    ['n1', s1],
    ['n2', s2],
  ] as const) {
    const sock = path.join(state, 'alived.sock');
    for (const route of [
      '/',
      '/v1/status',
      '/v1/instances/VI_PASS',
      '/v1/instances/VI_AH',
      '/v1/virtual-servers',
      '/v1/timeline',
      '/v1/plugins',
      '/metrics',
      '/v1/outbox',
    ]) {
      const r = await rawGet(sock, route);
      assert.equal(r.status, 200, `${node} GET ${route}: ${r.body}`);
      surfaces[`${node} GET ${route}`] = r.body;
    }
    const stream = await rawGet(sock, '/v1/events?since=0', 2000);
    assert.match(stream.body, /event: timeline/, `${node} /v1/events`);
    surfaces[`${node} GET /v1/events`] = stream.body;
  }
  // the mails wait in the outbox (the SMTP server is down), with their errors
  assert.match(surfaces['n1 GET /v1/outbox']!, /smtp_alert|mail/, surfaces['n1 GET /v1/outbox']);

  // over TCP: with the token, the same documents; without, a 401 that echoes nothing
  for (const route of ['/v1/status', '/metrics', '/v1/timeline']) {
    const r = await tcpGet(lab, 'n2', `http://${N1}:${API_PORT}${route}`, SECRET.api);
    assert.equal(r.status, 200, `TCP ${route}: ${r.body}`);
    surfaces[`TCP GET ${route}`] = r.body;
  }
  const denied = await tcpGet(lab, 'n2', `http://${N1}:${API_PORT}/v1/status`, `${SECRET.api}-wrong`);
  assert.equal(denied.status, 401);
  surfaces['TCP GET /v1/status with a wrong token'] = denied.body;

  // the dumps: SIGUSR1 (data and check data), SIGUSR2, the JSON signal (its number from `alived --signum=JSON`)
  const signum = await cli(['--signum=JSON']);
  assert.equal(signum.code, 0, signum.stderr);
  const [data, checkData, stats, json] = DUMP_FILES;
  Object.assign(surfaces, await dumps(d1, 'SIGUSR1', [data!, checkData!]));
  Object.assign(surfaces, await dumps(d1, 'SIGUSR2', [stats!]));
  Object.assign(surfaces, await dumps(d1, Number(signum.stdout.trim()), [json!]));
  assert.match(surfaces[data!]!, /VI_PASS/);
  assert.match(surfaces[checkData!]!, new RegExp(`${N3.replace(/\./g, '\\.')}`));

  // the CLI
  const runs: [string, string[]][] = [
    ['status', ['status']],
    ['status --json', ['status', '--json']],
    ['events', ['events']],
    ['events --json', ['events', '--json']],
    ['plugins', ['plugins']],
    ['plugins --json', ['plugins', '--json']],
    ['outbox', ['outbox']],
    ['outbox --json', ['outbox', '--json']],
    ['notify test', ['notify', 'test']],
    ['notify test --json', ['notify', 'test', '--json']],
  ];
  for (const [name, args] of runs) {
    for (const [node, state] of [
      ['n1', s1],
      ['n2', s2],
    ] as const) {
      const r = await cli([...args, '--state-dir', state], 30_000);
      // notify test: the webhook delivers, the mail fails (no SMTP server): exit 1
      assert.ok(r.code === 0 || (name.startsWith('notify test') && r.code === 1), `${node} alived ${name}: exit ${r.code}: ${r.stderr}`);
      surfaces[`${node} alived ${name}`] = r.stdout + r.stderr;
    }
  }
  assert.match(surfaces['n1 alived notify test']!, /^ok +webhook:ops: delivered/m, surfaces['n1 alived notify test']);
  const conf = await cli(['-t', '-d', '-f', d1.config]);
  surfaces['alived -t -d'] = conf.stdout + conf.stderr;
  assert.match(surfaces['alived -t -d']!, /VI_AH/, surfaces['alived -t -d']);

  // the daemons' logs (their whole run, the stop included) and what they left in their state directories
  await stopDaemons(v);
  surfaces['n1 log'] = d1.lines.join('\n');
  surfaces['n2 log'] = d2.lines.join('\n');
  for (const state of [s1, s2]) Object.assign(surfaces, filesUnder(state));
  assert.ok(
    Object.keys(surfaces).some((k) => k.endsWith('timeline.jsonl')),
    `timeline.jsonl among ${Object.keys(surfaces).join(', ')}`,
  );

  const leaks: string[] = [];
  for (const [where, text] of Object.entries(surfaces)) {
    assert.ok(text.length > 0, `${where} is empty`);
    for (const [what, secret] of Object.entries(SECRET))
      if (text.includes(secret))
        leaks.push(`${what} (${secret}) in ${where}: …${text.slice(Math.max(0, text.indexOf(secret) - 150), text.indexOf(secret) + 60)}…`);
  }
  assert.deepEqual(leaks, []);
  // the secrets were live: the webhook got its token and basic auth, the VRRP pair agreed on its passwords
  assert.ok(web.requests.some((r) => r.includes(`Basic ${Buffer.from(`hookuser:${SECRET.hookPassword}`).toString('base64')}`)));
  assert.ok(web.requests.some((r) => r.includes(SECRET.header)));
});
