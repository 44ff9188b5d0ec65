import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keepalivedMissing, useLab } from '../helpers/lab';
import { tmpDir } from '../helpers/config';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import { capture, readPcap } from '../helpers/pcap';

const VIP = '10.99.0.99';
const COUNT = 100_000;

function conf(state: string, priority: number): string {
  return `vrrp_instance VI_1 {
  state ${state}
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass s3cret
  }
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

/** `Key: N` lines of keepalived's stats layout, by section */
function parseStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const m = /^(\s*)([^:]+):\s*(\d+)?\s*$/.exec(line);
    if (!m) continue;
    if (m[3] === undefined) section = m[2]!.trim();
    else out[`${m[1]!.length > 2 ? `${section}/` : ''}${m[2]!.trim()}`] = Number(m[3]);
  }
  return out;
}

test(`${COUNT} malformed, truncated, wrong-TTL, wrong-auth, wrong-VRID, wrong-version, bad-checksum and oversized packets: each counted and dropped; state and advert timing unchanged`, async (t) => {
  const missing = keepalivedMissing('the flood test');
  if (missing) return t.skip(missing);
  const lab = await useLab({
    name: 'flood',
    hosts: [
      { name: 'n1', ip: '10.99.0.11' },
      { name: 'n2', ip: '10.99.0.12' },
      { name: 'evil', ip: '10.99.0.66' },
    ],
  });
  const dir = tmpDir('alived-flood-');
  const v = new VrrpLab(lab, dir);
  const instance = `flood${process.pid}`;
  const master = v.startAlived('n1', conf('MASTER', 101), ['--instance', instance]);
  v.startKeepalived('n2', conf('BACKUP', 100));
  await v.waitHolder(VIP, 'n1', 15_000);
  await v.waitLine(master, /Entering MASTER STATE/, 5000);

  const before = await readStats(master.proc.pid!, instance);
  const transitionsBefore = master.lines.filter((l) => /Entering \w+ STATE/.test(l)).length;
  const pcap = path.join(dir, 'adverts.pcap');
  const dump = await capture(lab, 'n2', pcap, 'ip proto 112 and src host 10.99.0.11');
  await new Promise((r) => setTimeout(r, 1500));
  const flood = await lab.exec(
    'evil',
    [process.execPath, path.join(__dirname, '..', 'fixtures', 'vrrp-flood', 'flood.js'), '10.99.0.66', '224.0.0.18', '51', 's3cret', String(COUNT)],
    120_000,
  );
  assert.equal(flood.code, 0, flood.stderr);
  const sent = JSON.parse(flood.stdout) as Record<string, number>;
  await new Promise((r) => setTimeout(r, 2500));
  process.kill(dump.pid!, 'SIGTERM');
  await new Promise((r) => dump.once('exit', r));

  // still the master, never left it, the backup never took over
  assert.deepEqual(v.holders(VIP), ['n1']);
  assert.equal(master.lines.filter((l) => /Entering \w+ STATE/.test(l)).length, transitionsBefore, master.lines.filter((l) => /Entering/.test(l)).join('\n'));
  assert.equal(master.proc.exitCode, null, 'alived still runs');

  const after = await readStats(master.proc.pid!, instance);
  const stats: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) stats[k] = n - (before[k] ?? 0);
  const drops = [
    'Packet Errors/Length',
    'Packet Errors/TTL',
    'Packet Errors/Invalid Type',
    'Packet Errors/Advertisement Interval',
    'Packet Errors/Checksum',
    'Packet Errors/Version',
    'Packet Errors/VRID',
    'Authentication Errors/Invalid Type',
    'Authentication Errors/Type Mismatch',
    'Authentication Errors/Failure',
    'Other VRIDs',
  ];
  const counted = drops.reduce((n, k) => n + (stats[k] ?? 0), 0);
  const kernelDrops = rawSocketDrops(lab.host('n1').ns);
  assert.equal(kernelDrops, 0, 'the kernel dropped none for a full socket buffer');
  assert.equal(counted, COUNT, `every packet counted once: ${JSON.stringify(stats)} for ${JSON.stringify(sent)}`);
  assert.equal(stats['Advertisements/Received'], 0, `no hostile packet was taken for an advert: ${JSON.stringify(stats)} for ${JSON.stringify(sent)}`);
  assert.ok((stats['Packet Errors/TTL'] ?? 0) >= sent.ttl!, 'TTL errors');
  assert.ok((stats['Authentication Errors/Failure'] ?? 0) >= sent.auth!, 'password failures');
  assert.equal(stats['Other VRIDs'], sent.vrid, 'packets for other VRIDs');

  // adverts kept their 1 s rhythm through the flood
  const times = readPcap(fs.readFileSync(pcap)).map((p) => p.time);
  assert.ok(times.length >= 3, `captured ${times.length} adverts`);
  const gaps = times.slice(1).map((x, i) => (x - times[i]!) * 1000);
  for (const g of gaps)
    assert.ok(Math.abs(g - 1000) < 100, `advert interval ${g.toFixed(1)} ms during the flood (gaps ${gaps.map((x) => x.toFixed(1)).join(', ')})`);
});

/** keepalived's SIGUSR2: the daemon writes its counters to /tmp/alived_INSTANCE.stats */
async function readStats(pid: number, instance: string): Promise<Record<string, number>> {
  const file = `/tmp/alived_${instance}.stats`;
  fs.rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
  // the file appears when written whole (writeFile of one string), but give the write a moment
  await new Promise((r) => setTimeout(r, 50));
  const stats = parseStats(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file, { force: true });
  return stats;
}

/** drops the kernel counted on the raw sockets of a namespace (/proc/net/raw, last column) */
function rawSocketDrops(ns: string): number {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/raw'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .reduce((n, l) => n + Number(l.trim().split(/\s+/).pop()), 0);
}
