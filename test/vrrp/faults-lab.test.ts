import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { ClientObserver, neighbourNow } from '../../core/lab/client';
import { clearLoss, deleteVip, heal, killVrrpProcess, loss, partition, pause, resume } from '../../core/lab/faults';
import { eachLine, Lab, removeStaleLabs } from '../../core/lab/netns';
import { VrrpLab, type LabDaemon } from '../../core/lab/vrrp-lab';
import { tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';

/**
 * What a client sees when the network or a host misbehaves (issue 18): a
 * partition that heals, a master paused and resumed, a false failover from
 * lost adverts, a VIP deleted on the master, a VIP that cannot come back, a
 * VRRP process killed. Two alived nodes (a: priority 200, b: 100) and a client
 * pinging the VIP; each scenario ends by asking the client's kernel which MAC
 * its ARP entry names. Behaviour only: the waits are bounds, not timings
 * (bench/faults.ts measures, side by side with keepalived).
 *
 * The bounds discriminate: without a gratuitous ARP from the master after
 * the fault, the client's entry keeps naming the node that left until it
 * goes stale and is probed, 15 to 45 s on Linux, well past the 3 s allowed.
 */

const VIP = '10.99.0.99';
/** a second VIP on an interface of its own, for the VIP that cannot come back */
const VIP2 = '10.98.0.99';
const BACK_WITHIN_MS = 3000;

let lab: Lab;
let v: VrrpLab;
let a: LabDaemon;
let b: LabDaemon;
let client: ClientObserver;
let hook: { lines: string[]; stop: () => void };
const instance = `faults${process.pid}`;

/**
 * garp_master_delay 0: no second burst of gratuitous ARPs 5 s after a node
 * becomes master, which could bring a client back by chance (a paused
 * master's comes late, just after its resume); only what is under test
 * does.
 */
function conf(priority: number, extra = '', vips = `${VIP}/24`, instanceExtra = ''): string {
  return `global_defs {
  router_id n${priority}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int 0.1
  version 3
  garp_master_delay 0${instanceExtra ? `\n  ${instanceExtra}` : ''}
  virtual_ipaddress {
    ${vips}
  }
}
${extra}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the client's ARP entry for the VIP names `host`'s MAC (asked of the client's kernel). */
async function clientNames(host: string, timeoutMs: number): Promise<void> {
  const mac = lab.host(host).mac;
  await waitFor(
    `the client's ARP entry for ${VIP} to name ${host} (${mac}); it names ${(await neighbourNow(lab, 'client', VIP)) ?? 'nothing'}`,
    async () => ((await neighbourNow(lab, 'client', VIP)) === mac ? true : undefined),
    timeoutMs,
    25,
  );
}

async function holds(host: string, yes: boolean, timeoutMs: number): Promise<void> {
  await waitFor(`${host} ${yes ? 'to hold' : 'to drop'} ${VIP}`, () => (v.holders(VIP).includes(host) === yes ? true : undefined), timeoutMs, 25);
}

/** An HTTP server inside host a's namespace (on its loopback) that prints each request body as one line: a webhook's receiver. */
function webhookReceiver(port: number): Promise<{ lines: string[]; stop: () => void }> {
  const script = `require('http').createServer((q, s) => { let b = ''; q.on('data', (d) => (b += d)); q.on('end', () => { process.stdout.write(b.replace(/\\n/g, ' ') + '\\n'); s.end('ok'); }); }).listen(${port}, '127.0.0.1', () => process.stdout.write('ready\\n'));`;
  const proc = lab.spawn('a', [process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the webhook receiver did not start')), 10_000);
    eachLine(proc.stdout!, (line) => {
      if (line !== 'ready') {
        lines.push(line);
        return;
      }
      clearTimeout(timer);
      resolve({ lines, stop: () => proc.kill('SIGKILL') });
    });
  });
}

before(async () => {
  removeStaleLabs();
  lab = await Lab.create({
    name: 'faults',
    hosts: [
      { name: 'a', ip: '10.99.0.1' },
      { name: 'b', ip: '10.99.0.2' },
      { name: 'client', ip: '10.99.0.10' },
    ],
  });
  v = new VrrpLab(lab, tmpDir('alived-faults-'));
  await v.watch();
  hook = await webhookReceiver(18018);
  a = v.startAlived('a', conf(200, `webhook ops {\n  url http://127.0.0.1:18018/hook\n  events vrrp\n}\n`), ['--instance', instance]);
  b = v.startAlived('b', conf(100));
  await v.waitHolder(VIP, 'a', 15_000);
  client = await ClientObserver.start(lab, { vip: VIP });
  await clientNames('a', 5000);
});

// top level: node 20 runs an after() registered inside before() as soon as that hook ends
after(async () => {
  client?.stop();
  hook?.stop();
  await lab?.destroy();
});

test('a partition heals: whichever way the two masters meet, the client ends on the master (four heals)', async () => {
  for (let run = 0; run < 4; run++) {
    const cut = await partition(lab, 'a', 'b');
    // b takes over on its side and its gratuitous ARPs reach the client, which follows b
    await holds('b', true, 3000);
    await clientNames('b', 3000);
    // a different phase against the adverts each time, so both orders of the meeting come up
    await sleep(200 + run * 37);
    // (taken before: frames flow again before the nft command returns)
    const healed = process.hrtime.bigint();
    await heal(cut);
    await holds('b', false, 3000);
    await clientNames('a', BACK_WITHIN_MS);
    assert.ok(
      v.events.some((e) => e.t >= healed && e.host === 'client' && e.kind === 'neigh' && e.address === VIP && e.mac === lab.host('a').mac),
      `run ${run}: the client's entry moved back to a after the heal`,
    );
  }
});

test('a master paused (SIGSTOP, a stalled VM) and resumed: the client comes back to it', async () => {
  const p = pause(lab, 'a');
  try {
    await holds('b', true, 3000);
    await clientNames('b', 3000);
    await sleep(1000);
  } finally {
    resume(p);
  }
  await holds('b', false, 3000);
  await clientNames('a', BACK_WITHIN_MS);
  await holds('a', true, 1000);
});

test('a false failover (every advert lost at the backup for a while): the client comes back to the master', async () => {
  const t0 = process.hrtime.bigint();
  const l = await loss(lab, 'b', 100);
  try {
    // b takes over and announces itself: the client follows it (a moment, when a answers b's first advert at once)
    await holds('b', true, 3000);
    await v.waitEvent((e) => e.host === 'client' && e.kind === 'neigh' && e.address === VIP && e.mac === lab.host('b').mac, t0, 3000);
    await sleep(500);
  } finally {
    await clearLoss(l);
  }
  await holds('b', false, 3000);
  await clientNames('a', BACK_WITHIN_MS);
});

test('a VIP deleted on the master (as a network manager does) comes back at once: logged, counted, notified; the backup never takes over', async () => {
  const t0 = process.hrtime.bigint();
  assert.ok((await deleteVip(lab, 'a', VIP)) !== undefined, 'a held the VIP');
  // (it may be back before the ip command returns: the kernel's own events tell the order)
  const gone = await v.waitEvent((e) => e.host === 'a' && e.kind === 'addr' && e.op === 'del' && e.address === VIP, t0, 2000);
  await v.waitEvent((e) => e.host === 'a' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, gone.t, 2000);
  await sleep(1000);
  assert.ok(!v.events.some((e) => e.t >= t0 && e.host === 'b' && e.kind === 'addr' && e.op === 'new' && e.address === VIP), 'b never took the VIP');
  assert.deepEqual(v.holders(VIP), ['a']);
  await clientNames('a', 1000);
  const line = await v.waitLine(
    a,
    /\(VI_1\) 10\.99\.0\.99\/24 on eth0 was removed by someone else \(the kernel reported it deleted: 10\.99\.0\.99\/24 dev eth0 scope global[^)]*\); put back in [\d.]+ ms/,
    2000,
  );
  assert.ok(line);
  // counted in keepalived's stats file
  const stats = `/tmp/alived_${instance}.stats`;
  fs.rmSync(stats, { force: true });
  process.kill(a.proc.pid!, 'SIGUSR2');
  const text = await waitFor(
    'the stats file',
    () => {
      const s = fs.existsSync(stats) ? fs.readFileSync(stats, 'utf8') : '';
      return /Not Restored: \d+/.test(s) ? s : undefined;
    },
    5000,
  );
  fs.rmSync(stats, { force: true });
  assert.match(text, /Virtual Addresses Removed By Others:\n {4}Restored: 1\n {4}Not Restored: 0/);
  // a notifier saw it: the webhook got a `vip` event
  const event = await waitFor(
    'a vip event at the webhook',
    () => hook.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.kind === 'vip'),
    10_000,
  );
  assert.equal(event.new_state, 'restored');
  assert.equal(event.source, 'vip:VI_1');
  assert.deepEqual(event.details, { address: '10.99.0.99/24 on eth0', action: 'restored' });
});

/**
 * Both nodes reloaded with `instanceExtra` in VI_1 (a changed down timer
 * makes the instance a new one: it starts again, and a preempts b); resolves
 * once a holds the VIP again, b does not, and the client names a.
 */
async function reloadBoth(instanceExtra: string): Promise<void> {
  const before = [a, b].map((d) => d.lines.filter((l) => /VRRP reloaded in /.test(l)).length);
  for (const d of [a, b]) {
    fs.writeFileSync(d.config, conf(d === a ? 200 : 100, '', `${VIP}/24`, instanceExtra));
    process.kill(d.proc.pid!, 'SIGHUP');
  }
  await waitFor(
    'both nodes reloaded',
    () => ([a, b].every((d, i) => d.lines.filter((l) => /VRRP reloaded in /.test(l)).length > before[i]!) ? true : undefined),
    5000,
  );
  await holds('a', true, 5000);
  await holds('b', false, 5000);
  await clientNames('a', 3000);
}

test("the master's VRRP process killed: a new one resumes as master before the backup can take over; the VIP never leaves, the client loses no reply", async () => {
  // The new process must run within (down_timer_adverts - 1) advert intervals of the death: 200 ms
  // at this lab's advert_int 0.1 with keepalived's 3, which a node process starting on a loaded
  // machine can miss (docs/vrrp.md). down_timer_adverts 5 on both nodes gives it 400 ms.
  await reloadBoth('down_timer_adverts 5');
  const kill = killVrrpProcess(a);
  assert.ok(kill, 'a runs a VRRP process');
  await v.waitLine(a, new RegExp(`VRRP process ${kill!.pid} died \\(SIGKILL\\); restarting it in 0 ms; it may resume VI_1 as master`), 3000);
  const resumed = await v.waitLine(a, /\(VI_1\) Entering MASTER STATE \(resumed: the VRRP process was restarted while master\)/, 3000);
  assert.ok(resumed);
  // the pings of the second after the kill are final one reply timeout (1 s) later
  await sleep(2000);
  const after = v.events.filter((e) => e.t >= kill!.t && e.kind === 'addr' && e.address === VIP);
  assert.deepEqual(after, [], 'neither a nor b added or removed the VIP');
  assert.deepEqual(v.holders(VIP), ['a']);
  const pings = client.pings(kill!.t, kill!.t + 1_000_000_000n);
  assert.ok(pings.sent >= 5, `the client pinged (${pings.sent})`);
  assert.equal(pings.lost, 0, `the client lost ${pings.lost} of ${pings.sent} replies`);
  await clientNames('a', 1000);
  await reloadBoth('');
});

test('a VIP that cannot come back (its interface is gone) faults the instance: the backup takes over; the interface back, so is the master', async () => {
  // a second VIP on an interface of its own, on both nodes
  for (const h of ['a', 'b']) {
    await lab.run(h, ['ip', 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1']);
    for (const i of ['vx0', 'vx1']) await lab.run(h, ['ip', 'link', 'set', i, 'up']);
  }
  for (const d of [a, b]) {
    fs.writeFileSync(d.config, conf(d === a ? 200 : 100, '', `${VIP}/24\n    ${VIP2}/24 dev vx0`));
    process.kill(d.proc.pid!, 'SIGHUP');
  }
  await waitFor('a to hold the second VIP', () => (v.holders(VIP).includes('a') && hasAddress('a', 'vx0', VIP2) ? true : undefined), 5000);
  const t = process.hrtime.bigint();
  await lab.run('a', ['ip', 'link', 'del', 'vx0']);

  await v.waitLine(a, /\(VI_1\) 10\.98\.0\.99\/24 on vx0 was removed by someone else .* and cannot be put back: /, 3000);
  await v.waitLine(a, /\(VI_1\) Entering FAULT STATE \(10\.98\.0\.99\/24 on vx0 cannot be put back: /, 3000);
  await v.waitEvent((e) => e.host === 'b' && e.kind === 'addr' && e.op === 'new' && e.address === VIP, t, 3000);
  await holds('a', false, 1000);
  await clientNames('b', BACK_WITHIN_MS);
  // the interface comes back: the fault ends, a preempts b again
  await lab.run('a', ['ip', 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1']);
  for (const i of ['vx0', 'vx1']) await lab.run('a', ['ip', 'link', 'set', i, 'up']);
  await holds('a', true, 5000);
  await holds('b', false, 3000);
  await waitFor('the second VIP back on a', () => (hasAddress('a', 'vx0', VIP2) ? true : undefined), 3000);
  await clientNames('a', BACK_WITHIN_MS);
  // the announcer followed vx0 to its new index: the gratuitous ARPs of the new master went out
  const cleared = a.lines.findIndex((x) => /\(VI_1\) the VIP fault is cleared \(interface vx0 changed\)/.test(x));
  assert.ok(cleared >= 0, 'the fault ended with the interface back');
  assert.ok(!a.lines.slice(cleared).some((l) => /sending gratuitous ARP for 10\.98\.0\.99 on vx0/.test(l)), a.lines.slice(cleared).join('\n'));
});

function hasAddress(host: string, dev: string, address: string): boolean {
  const r = spawnSync('ip', ['-n', lab.host(host).ns, '-j', 'addr', 'show', 'dev', dev], { encoding: 'utf8' });
  const info = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
  return info.some((i) => (i.addr_info ?? []).some((x) => x.local === address));
}
