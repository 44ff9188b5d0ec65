import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Daemon } from '../../core/daemon/daemon';
import type { StatusDocument } from '../../core/status/types';
import { tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';

/**
 * The status model of a real daemon (Daemon level, checks only: no VRRP,
 * so no lab): a real server whose TCP service goes away is out, with the
 * failing checker and its message as the cause, and the timeline says so;
 * a rejected reload is in the document with its diagnostics; the timeline
 * outlives a restart under --state-dir.
 */

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
});

function listen(): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => c.destroy());
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

async function waitFor<T>(what: string, get: () => Promise<T | undefined>, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function config(port: number, extra = ''): string {
  return `global_defs {
  router_id status-test
}
virtual_server 127.0.0.1 18080 {
  delay_loop 0.2
  lvs_sched rr
  protocol TCP
  real_server 127.0.0.1 ${port} {
    weight 3
    TCP_CHECK {
      connect_timeout 1
      retry 0
      warmup 0
    }
  }
}
${extra}`;
}

test('a real server that goes out names its failing checker; a rejected reload carries its diagnostics; the timeline outlives a restart', async () => {
  const dir = tmpDir('alived-status-daemon-');
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir, { mode: 0o700 });
  const file = path.join(dir, 'keepalived.conf');
  const server = await listen();
  const port = (server.address() as net.AddressInfo).port;
  fs.writeFileSync(file, config(port));
  const { log } = memoryLogger();
  const daemon = await Daemon.build({ configFile: file, log, stateDir });
  stops.push(() => daemon.stop());
  await daemon.start();

  const up = await waitFor('the real server up', async () => {
    const d = await daemon.status.snapshot();
    const rs = d.virtualServers[0]?.realServers[0];
    return rs?.up && rs.checkers[0]?.last ? d : undefined;
  });
  assert.equal(up.version, 1);
  assert.equal(up.daemon.configFile, file);
  assert.equal(up.daemon.configHash, createHash('sha256').update(fs.readFileSync(file)).update('\0').digest('hex'));
  assert.equal(up.daemon.stateDir, stateDir);
  assert.equal(up.daemon.vrrpProcess, null, 'no VRRP in this config');
  assert.equal(up.vrrp.running, false);
  const rs = up.virtualServers[0]!.realServers[0]!;
  assert.equal(rs.weight, 3);
  assert.equal(rs.checkers[0]!.keyword, 'TCP_CHECK');
  assert.equal(rs.checkers[0]!.last?.ok, true);
  assert.ok(rs.checkers[0]!.last!.latencyMs >= 0);
  assert.equal(rs.checkers[0]!.consecutiveFailures, 0);

  // the service goes away: connection refused
  await new Promise<void>((r) => server.close(() => r()));
  const down = await waitFor('the real server out', async () => {
    const d = await daemon.status.snapshot();
    return d.virtualServers[0]?.realServers[0]?.up === false ? d : undefined;
  });
  const out = down.virtualServers[0]!.realServers[0]!;
  assert.equal(out.cause?.kind, 'check');
  assert.match(out.cause!.text, new RegExp(`^TCP_CHECK 127\\.0\\.0\\.1:${port}: .*refused`, 'i'));
  assert.ok(out.checkers[0]!.consecutiveFailures >= 1);
  assert.notEqual(out.since, null);
  const ev = daemon.status.timeline().find((e) => e.kind === 'real-server' && e.after === 'down');
  assert.ok(ev, 'the timeline has the real server going down');
  assert.equal(ev!.before, 'up');
  assert.match(ev!.subject, new RegExp(`127\\.0\\.0\\.1:${port}$`));

  // a reload with an error: rejected, with its diagnostics, and in the timeline
  fs.writeFileSync(file, config(port, 'vrrp_instance VI_1 {\n  virtual_router_id 300\n}\n'));
  const r = await daemon.reload();
  assert.equal(r.applied, false);
  const after1 = await daemon.status.snapshot();
  assert.equal(after1.daemon.reloadsRejected, 1);
  assert.equal(after1.daemon.reloads, 0);
  assert.equal(after1.daemon.lastReload?.applied, false);
  const diag = after1.daemon.lastReload!.diagnostics.find((d) => d.severity === 'error')!;
  assert.equal(diag.file, file);
  assert.ok(diag.line > 0 && diag.column > 0);
  const rejected = daemon.status.timeline().find((e) => e.kind === 'reload');
  assert.equal(rejected?.after, 'rejected');
  assert.match(rejected!.cause.text, /^reload rejected: \d+ errors?, first .*keepalived\.conf:\d+:\d+: /);

  // a good reload: applied, the hash follows the file
  fs.writeFileSync(file, config(port, '# changed\n'));
  assert.equal((await daemon.reload()).applied, true);
  const after2 = await daemon.status.snapshot();
  assert.equal(after2.daemon.reloads, 1);
  assert.notEqual(after2.daemon.configHash, up.daemon.configHash);

  await daemon.stop();
  stops.pop();
  const seqs = daemon.status.timeline().map((e) => e.seq);

  // a new daemon on the same state directory: the events are there, numbered on
  const again = await Daemon.build({ configFile: file, log, stateDir });
  stops.push(() => again.stop());
  await again.start();
  const kept = again.status.timeline();
  assert.deepEqual(
    kept.slice(0, seqs.length).map((e) => e.seq),
    seqs,
    'the last run kept its events',
  );
  const stop = kept.find((e) => e.kind === 'daemon' && e.after === 'stopping');
  assert.ok(stop, "the last run's stop is in the timeline");
  const start = kept.find((e) => e.seq > seqs[seqs.length - 1]!)!;
  assert.equal(start.kind, 'daemon');
  assert.equal(start.after, 'started', 'the first event of the new run is its start');
  assert.ok(start.seq > seqs[seqs.length - 1]!);
  const doc: StatusDocument = await again.status.snapshot();
  assert.equal(doc.daemon.reloads, 0, 'counts are per run');
});
