import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText, has, instance, noErrors } from '../helpers/config';
import { lvsSyncConfig } from '../../core/ipvs/sync-daemon-config';
import { LvsSyncDaemon } from '../../core/ipvs/sync-daemon';
import { memoryLogger } from '../helpers/log';

/**
 * lvs_sync_daemon and the old lvs_sync_daemon_interface, read as keepalived
 * reads them. The sync daemon itself runs in the VM
 * (test/ipvs/lvs-sync.vmtest.ts): this host's kernel has no IPVS.
 */

const noNotActedOn = (lines: string[]): void => assert.ok(!lines.some((l) => /not acted on/.test(l) && /lvs_sync/.test(l)), lines.join('\n'));

test('lvs_sync_daemon with an instance: follows it, id defaults to its virtual_router_id, acted on', async () => {
  const r = await compileText(
    `global_defs {\n  lvs_sync_daemon eth1 inst VI_1 maxlen 1400 port 8900 ttl 2 group 239.1.2.3\n}\n` +
      instance('', 'VI_1', 'interface eth0\n  virtual_router_id 61'),
  );
  noErrors(r);
  noNotActedOn(r.lines);
  assert.deepEqual(lvsSyncConfig(r.model!), {
    interface: 'eth1',
    instance: 'VI_1',
    syncId: 61,
    maxlen: 1400,
    port: 8900,
    ttl: 2,
    group: '239.1.2.3',
    keyword: 'lvs_sync_daemon',
  });
  // it runs where VRRP runs (keepalived's VRRP process): not with --check
  assert.equal(lvsSyncConfig(r.model!, { vrrp: false, checks: true }), undefined);
  assert.equal(lvsSyncConfig(r.model!, { vrrp: true, checks: false })?.instance, 'VI_1');
});

test('lvs_sync_daemon: id given, the old positional forms, an IPv6 group', async () => {
  const a = await compileText(`global_defs {\n  lvs_sync_daemon eth1 VI_1 id 7 group ff02::81\n}\n` + instance());
  noErrors(a);
  assert.equal(lvsSyncConfig(a.model!)?.syncId, 7);
  assert.equal(lvsSyncConfig(a.model!)?.group, 'ff02::81');
  const b = await compileText(`global_defs {\n  lvs_sync_daemon eth1 VI_1 9\n}\n` + instance());
  noErrors(b);
  has(b, "keepalived.conf:2:29: note: write 'id 9': a sync id without 'id' is an old form of lvs_sync_daemon; accepted");
  assert.deepEqual(lvsSyncConfig(b.model!)?.syncId, 9);
});

test('lvs_sync_daemon with no instance: master and backup both, id 0, where the checks run', async () => {
  const r = await compileText(`global_defs {\n  lvs_sync_daemon eth1\n}\n`);
  noErrors(r);
  assert.deepEqual(lvsSyncConfig(r.model!), {
    interface: 'eth1',
    instance: undefined,
    syncId: 0,
    maxlen: undefined,
    port: undefined,
    ttl: undefined,
    group: undefined,
    keyword: 'lvs_sync_daemon',
  });
  assert.equal(lvsSyncConfig(r.model!, { vrrp: true, checks: false }), undefined);
});

test('lvs_sync_daemon: the instance must exist, values in range, the interface on this host', async () => {
  const r = await compileText(`global_defs {\n  lvs_sync_daemon eth1 inst VI_11 id 256 maxlen 65508 port 0 ttl 256 group 10.0.0.1\n}\n` + instance('', 'VI_1'));
  has(r, "keepalived.conf:2:29: error: lvs_sync_daemon refers to vrrp_instance 'VI_11', which is not defined (did you mean 'VI_1'?)");
  has(r, 'keepalived.conf:2:38: error: 256 is out of range: expected 0..255');
  has(r, 'keepalived.conf:2:49: error: 65508 is out of range: expected 1..65507');
  has(r, 'keepalived.conf:2:60: error: 0 is out of range: expected 1..65535');
  has(r, 'keepalived.conf:2:66: error: 256 is out of range: expected 1..255');
  has(r, "keepalived.conf:2:76: error: lvs_sync_daemon group '10.0.0.1' is not a multicast address");
  const bad = await compileText(`global_defs {\n  lvs_sync_daemon eth1 inst VI_1 idd 3\n}\n` + instance());
  has(bad, "keepalived.conf:2:34: error: unknown option 'idd' for 'lvs_sync_daemon' (did you mean 'id'?)");
  const missing = await compileText(
    `global_defs {\n  lvs_sync_daemon no-such-if0 inst VI_1\n}\n` + instance(),
    {},
    { host: { interfaceExists: (n) => n === 'eth0', fileExists: () => true } },
  );
  noErrors(missing);
  has(missing, "keepalived.conf:2:19: warning: interface 'no-such-if0' does not exist on this host");
});

test('lvs_sync_daemon_interface in an instance: lvs_sync_daemon IF inst THAT_INSTANCE, with a note that it is deprecated', async () => {
  const r = await compileText(instance('  lvs_sync_daemon_interface eth1\n', 'VI_1', 'interface eth0\n  virtual_router_id 52'));
  noErrors(r);
  noNotActedOn(r.lines);
  has(r, "keepalived.conf:7:3: note: 'lvs_sync_daemon_interface' is deprecated: use 'lvs_sync_daemon <INTERFACE> inst <VRRP_INSTANCE>' in global_defs");
  assert.deepEqual(lvsSyncConfig(r.model!), { interface: 'eth1', instance: 'VI_1', syncId: 52, keyword: 'lvs_sync_daemon_interface' });
});

test('one sync daemon per host: the global keyword wins, then the first instance; the others are pointed at', async () => {
  const r = await compileText(
    `global_defs {\n  lvs_sync_daemon eth2 inst VI_2\n}\n` +
      instance('  lvs_sync_daemon_interface eth1\n', 'VI_1', 'interface eth0\n  virtual_router_id 51') +
      instance('', 'VI_2', 'interface eth0\n  virtual_router_id 52'),
  );
  noErrors(r);
  has(
    r,
    'keepalived.conf:10:3: warning: lvs_sync_daemon_interface is ignored: the IPVS sync daemon is already given by lvs_sync_daemon (line 2), and there is one per host',
  );
  assert.equal(lvsSyncConfig(r.model!)?.interface, 'eth2');
  assert.equal(lvsSyncConfig(r.model!)?.instance, 'VI_2');
  const two = await compileText(
    instance('  lvs_sync_daemon_interface eth1\n', 'VI_1', 'interface eth0\n  virtual_router_id 51') +
      instance('  lvs_sync_daemon_interface eth2\n', 'VI_2', 'interface eth0\n  virtual_router_id 52'),
  );
  has(
    two,
    'keepalived.conf:15:3: warning: lvs_sync_daemon_interface is ignored: the IPVS sync daemon is already given by lvs_sync_daemon_interface of vrrp_instance VI_1 (line 7), and there is one per host',
  );
  assert.equal(lvsSyncConfig(two.model!)?.instance, 'VI_1');
});

test('without IPVS in the kernel the sync daemon says why once, and neither throws nor retries', async () => {
  // this host's kernel has no IPVS (the VM test runs the real thing)
  const { log, records } = memoryLogger();
  const s = new LvsSyncDaemon({ log, retryMs: 20 });
  await s.configure({ interface: 'eth1', instance: 'VI_1', syncId: 1, keyword: 'lvs_sync_daemon' });
  s.instanceState('VI_1', 'MASTER');
  await s.idle();
  await new Promise((r) => setTimeout(r, 100));
  await s.idle();
  const errors = records.filter((x) => x.fields.code === 'ALIVED_IPVS_FAILED');
  assert.equal(errors.length, 1, records.map((x) => x.msg).join('\n'));
  assert.match(errors[0]!.msg, /^cannot run the IPVS sync daemon: IPVS is not available/);
  assert.deepEqual(s.status().running, []);
  await s.stop();
});
