import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, removeStaleLabs } from '../../core/lab/netns';
import { daemonPid, VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { signalNumber } from '../../core/daemon/signals';
import { tmpDir } from '../helpers/config';
import { keepalivedMissing, waitFor } from '../helpers/lab';

/**
 * The same config under Debian's keepalived (built with --enable-json) and
 * under alived, on one lab host one after the other: each gets keepalived's
 * JSON signal (the number `--signum=JSON` prints) and SIGUSR1. alived's JSON
 * has keepalived's keys in keepalived's order with the same types, and the
 * same values where they must agree; the lines of alived's data file are
 * keepalived's lines, in keepalived's order. The config is full of secrets:
 * keepalived writes the VRRP password and a notify script's token; none of
 * alived's dumps (JSON, data, stats) holds any of them, nor the SMTP
 * password or the secrets of a webhook URL.
 */

const INSTANCE = 'dumpslab';
const SECRETS = ['SECRETPW', 'tok-script', 'pw-hook', 'tok-hook', 'pw-smtp'];
const dir = tmpDir('alived-dumps-lab-');
let lab: Lab;
let skip: string | false = false;

/** keepalived logs the SMTP keywords it does not know (alived's) and goes on */
const CONFIG = `global_defs {
  router_id lab1
  notification_email {
    ops@example.com
  }
  smtp_server 127.0.0.1
  smtp_auth_user alived
  smtp_auth_password_env ALIVED_DUMPS_LAB_SMTP_PW
  smtp_tls starttls
}
vrrp_script chk_a {
  script "/bin/true arg1"
  interval 1
  weight -20
}
track_file tf1 {
  file ${path.join(dir, 'tf1')}
  weight 1
}
vrrp_sync_group G1 {
  group {
    VI_1
  }
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  higher_prio_send_advert false
  authentication {
    auth_type PASS
    auth_pass SECRETPW
  }
  notify_master "/bin/echo https://hooks.example.com/m?api_key=tok-script"
  virtual_ipaddress {
    10.93.0.100/24
    10.93.0.101/24 dev eth0 label eth0:1
  }
  virtual_ipaddress_excluded {
    10.93.1.5/32
  }
  virtual_routes {
    10.93.5.0/24 via 10.93.0.254 dev eth0
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 100
  advert_int 1
  higher_prio_send_advert false
  nopreempt
  track_script {
    chk_a
  }
  track_file {
    tf1 weight 3
  }
  virtual_ipaddress {
    fe80::1234/64
  }
}
`;

/** alived-only: keepalived does not know webhooks; alived must keep the URL's secrets out of its dumps */
const ALIVED_EXTRA = `webhook ops {
  url http://ops:pw-hook@127.0.0.1:9/hook?token=tok-hook
}
`;

before(async () => {
  skip = keepalivedMissing('the dumps comparison with keepalived');
  if (skip) return;
  fs.writeFileSync(path.join(dir, 'tf1'), '0\n');
  // the SMTP password, from the environment the daemons inherit
  process.env.ALIVED_DUMPS_LAB_SMTP_PW = 'pw-smtp';
  removeStaleLabs();
  lab = await Lab.create({ name: 'dumps', hosts: [{ name: 'n1', ip: '10.93.0.11' }] });
});
after(() => {
  // keepalived's main process writes keepalived_parent.data on SIGUSR1 too
  for (const f of [
    '/tmp/keepalived.json',
    '/tmp/keepalived.data',
    '/tmp/keepalived_parent.data',
    ...['json', 'data', 'stats'].map((k) => `/tmp/alived_${INSTANCE}.${k}`),
  ])
    fs.rmSync(f, { force: true });
  return lab ? lab.destroy() : undefined;
});

/** Sends `signal` to the daemon and waits for `file` to be written anew; returns its text. */
async function dumpOf(d: LabDaemon, signal: number | NodeJS.Signals, file: string): Promise<string> {
  fs.rmSync(file, { force: true });
  process.kill(daemonPid(d), signal);
  return waitFor(`${file} from ${d.kind}`, () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined), 5000);
}

interface Dumps {
  json: { data: Record<string, unknown>; stats: Record<string, unknown> }[];
  jsonText: string;
  data: string;
  stats?: string;
}

async function run(v: VrrpLab, d: LabDaemon, files: { json: string; data: string; stats?: string }): Promise<Dumps> {
  try {
    // both instances are alone on the link: each becomes master
    for (const i of ['VI_1', 'VI_2']) await v.waitLine(d, new RegExp(`\\(${i}\\) Entering MASTER STATE`), 15_000);
    const jsonText = await dumpOf(d, signalNumber('JSON')!, files.json);
    const data = await dumpOf(d, 'SIGUSR1', files.data);
    const stats = files.stats ? await dumpOf(d, 'SIGUSR2', files.stats) : undefined;
    return { json: JSON.parse(jsonText) as Dumps['json'], jsonText, data, ...(stats !== undefined ? { stats } : {}) };
  } finally {
    v.signal(d, 'SIGTERM');
    await d.exited;
  }
}

let ka: Dumps;
let al: Dumps;

test('keepalived and alived answer the JSON signal and SIGUSR1 with the same config', async (t) => {
  if (skip) return t.skip(skip);
  const v = new VrrpLab(lab, dir);
  ka = await run(v, v.startKeepalived('n1', CONFIG), { json: '/tmp/keepalived.json', data: '/tmp/keepalived.data' });
  al = await run(v, v.startAlived('n1', CONFIG + ALIVED_EXTRA, ['--instance', INSTANCE]), {
    json: `/tmp/alived_${INSTANCE}.json`,
    data: `/tmp/alived_${INSTANCE}.data`,
    stats: `/tmp/alived_${INSTANCE}.stats`,
  });
  // private files, as the other dumps
  for (const f of ['json', 'data', 'stats']) assert.equal(fs.statSync(`/tmp/alived_${INSTANCE}.${f}`).mode & 0o777, 0o600, f);
});

test("JSON: keepalived's keys in its order, the same types, the same values where they must agree", (t) => {
  if (skip || !ka || !al) return t.skip(skip || 'no dumps');
  assert.deepEqual(
    al.json.map((i) => i.data.iname),
    ka.json.map((i) => i.data.iname),
  );
  for (let n = 0; n < ka.json.length; n++) {
    const [k, a] = [ka.json[n]!, al.json[n]!];
    assert.deepEqual(Object.keys(a), Object.keys(k));
    assert.deepEqual(Object.keys(a.data), Object.keys(k.data), `${k.data.iname}: data keys`);
    assert.deepEqual(Object.keys(a.stats), Object.keys(k.stats), `${k.data.iname}: stats keys`);
    for (const key of Object.keys(k.data)) assert.equal(typeof a.data[key], typeof k.data[key], `${k.data.iname}.${key}: type`);
    for (const key of Object.keys(k.stats)) assert.equal(typeof a.stats[key], 'number', `${k.data.iname}.${key}: type`);
    // the time of the last transition differs, the password is masked, the script's token too
    const differ = new Set(['last_transition', 'auth_data', 'script_master']);
    for (const key of Object.keys(k.data).filter((x) => !differ.has(x))) assert.deepEqual(a.data[key], k.data[key], `${k.data.iname}.${key}`);
    if ('auth_data' in k.data) assert.equal(a.data.auth_data, '********');
    if ('script_master' in k.data) assert.equal(a.data.script_master, String(k.data.script_master).replace('tok-script', '********'));
  }
});

test("data: every line alived writes about the instances is keepalived's, in keepalived's order", (t) => {
  if (skip || !ka || !al) return t.skip(skip || 'no dumps');
  // alived's own lines, and keepalived's that carry a secret or a uid:gid alived does not write
  const own = [/^ {3}Master (router|priority) = /, /^ {3}Password = \*{8}$/, / state transition script = /, /^ {3}Status = /];
  const kaLines = ka.data.split('\n');
  let from = 0;
  // a time differs between the two daemons: such a line is matched up to its '='
  const timed = /^( {3}Last transition = )\d+\.\d{6} \(.*\)$/;
  for (const line of al.data.split('\n').filter((l) => l && !own.some((re) => re.test(l)))) {
    const head = timed.exec(line)?.[1];
    const at = head ? kaLines.findIndex((l, i) => i >= from && l.startsWith(head)) : kaLines.indexOf(line, from);
    assert.ok(at >= 0, `'${line}' is not in keepalived's data file after line ${from}:\n${kaLines.slice(from, from + 30).join('\n')}`);
    from = at + 1;
  }
  // and the sections keepalived writes about instances, sync groups and trackers are all there
  const sections = (t: string): string[] => t.split('\n').filter((l) => /^------< .* >------$/.test(l));
  assert.deepEqual(sections(al.data), [
    '------< VRRP Topology >------',
    '------< VRRP Sync groups >------',
    '------< VRRP Scripts >------',
    '------< VRRP Track files >------',
  ]);
  for (const l of [
    ' VRRP Script = chk_a',
    '   Interval = 1 sec',
    ' Track file = tf1',
    '   Weight = 1',
    '     VI_2, weight 3',
    '   Using smtp notification = no',
  ]) {
    assert.ok(al.data.split('\n').includes(l), `'${l}' in:\n${al.data}`);
  }
  assert.match(ka.data, /^ {3}Master state transition script = '\/usr\/bin\/echo' 'https:\/\/hooks\.example\.com\/m\?api_key=tok-script', uid:gid 0:0$/m);
  assert.match(al.data, /^ {3}Master state transition script = '\/usr\/bin\/echo' 'https:\/\/hooks\.example\.com\/m\?api_key=\*{8}'$/m);
});

test("no secret in any of alived's dumps (keepalived writes them)", (t) => {
  if (skip || !ka || !al) return t.skip(skip || 'no dumps');
  assert.ok(ka.jsonText.includes('SECRETPW') && ka.data.includes('SECRETPW') && ka.data.includes('tok-script'), 'keepalived writes the secrets');
  for (const [name, text] of Object.entries({ json: al.jsonText, data: al.data, stats: al.stats ?? '' })) {
    assert.ok(text.length > 0, name);
    for (const s of SECRETS) assert.ok(!text.includes(s), `${s} in alived's ${name} dump:\n${text}`);
  }
});
