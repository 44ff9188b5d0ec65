import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VrrpLab } from '../../core/lab/vrrp-lab';
import type { StatusDocument, TimelineEvent } from '../../core/status/types';
import { tmpDir } from '../helpers/config';
import { useLab } from '../helpers/lab';
import { cli, nodeConfig, stateDir, stopDaemons, waitApi, waitTransition, writeCheckScript } from './pair-lab';

/**
 * `alived status` on a lab pair whose master's tracker fails: n1 (priority
 * 150) tracks chk_x with weight -60, a script that says `connection
 * refused` on stderr and exits 1 once its flag file is gone; n2 has 100.
 * The status of n1 says it is BACKUP because of that tracker, as one line
 * and, with --json, as the cause chain's structure; `alived events` shows
 * the transition with the same cause.
 */

const N1 = '10.94.0.11';
const N2 = '10.94.0.12';
const VIP = '10.94.0.100';

test(
  'alived status names the failed tracker as the cause of BACKUP; --json gives the chain; alived events shows the transition',
  { timeout: 90_000 },
  async () => {
    const lab = await useLab({
      name: 'stlab',
      hosts: [
        { name: 'n1', ip: N1 },
        { name: 'n2', ip: N2 },
      ],
    });
    const dir = tmpDir('alived-status-lab-');
    const flag = path.join(dir, 'healthy');
    fs.writeFileSync(flag, '');
    const script = writeCheckScript(dir, flag);
    const v = new VrrpLab(lab, dir);
    after(() => stopDaemons(v));
    const s1 = stateDir(dir, 'n1');
    const s2 = stateDir(dir, 'n2');
    v.startAlived('n1', nodeConfig({ priority: 150, script, vip: VIP }), ['--state-dir', s1]);
    v.startAlived('n2', nodeConfig({ priority: 100, vip: VIP }), ['--state-dir', s2]);
    await v.waitHolder(VIP, 'n1', 15_000);
    await Promise.all([waitApi(s1), waitApi(s2)]);

    const t0 = Date.now();
    fs.rmSync(flag);
    await v.waitHolder(VIP, 'n2', 15_000);
    await waitTransition(s1, (e) => e.before === 'MASTER' && e.after === 'BACKUP' && e.time >= t0 - 1000);

    // the text: the instance line, then the why, root cause first
    const why = `why: BACKUP because tracker chk_x failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < ${N2}'s 100`;
    let text = '';
    // the VRRP part of the status is at most about a second old: wait for the master to be n2 in it
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await cli(['status', '--state-dir', s1]);
      assert.equal(r.code, 0, r.stderr);
      text = r.stdout;
      if (text.includes(why) || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.match(text, /^ {2}VI_1 {2}BACKUP {2}for \S+ {2}priority 90 \(base 150\) {2}eth0 {2}vrid 51 {2}v3$/m, text);
    assert.ok(text.includes(why), `'${why}' in:\n${text}`);
    assert.match(text, new RegExp(`master: ${N2.replace(/\./g, '\\.')} \\(priority 100, as last heard\\)`), text);
    assert.match(text, /tracker vrrp_script chk_x {2}down {2}effect -60 .* exit 1: "?connection refused"?$/m, text);

    // --json: the status document, the same chain as structure
    const j = await cli(['status', '--json', '--state-dir', s1]);
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout) as StatusDocument;
    const vi = doc.vrrp.instances.find((i) => i.name === 'VI_1')!;
    assert.equal(vi.state, 'BACKUP');
    assert.deepEqual([vi.basePriority, vi.effectivePriority], [150, 90]);
    assert.deepEqual(vi.master, { address: N2, priority: 100, self: false });
    assert.equal(vi.cause?.kind, 'advert');
    assert.deepEqual(vi.cause?.facts, { from: N2, priority: 100, ours: 90 });
    assert.equal(vi.cause?.because?.kind, 'priority');
    assert.equal(vi.cause?.because?.text, 'priority 150 - 60 = 90');
    assert.deepEqual(vi.cause?.because?.facts, { base: 150, effective: 90, trackers: 'chk_x' });
    const tracker = vi.cause?.because?.because;
    assert.equal(tracker?.kind, 'tracker');
    assert.equal(tracker?.text, 'tracker chk_x failed (exit 1: "connection refused")');
    assert.deepEqual(tracker?.facts, {
      type: 'vrrp_script',
      name: 'chk_x',
      state: 'down',
      weight: -60,
      effect: -60,
      value: null,
      result: 'exit 1: "connection refused"',
    });
    assert.deepEqual(vi.priorityCause, vi.cause?.because);
    assert.deepEqual(
      vi.trackers.map((t) => [t.type, t.name, t.state, t.effect, t.lastResult]),
      [['vrrp_script', 'chk_x', 'down', -60, 'exit 1: "connection refused"']],
    );

    // alived events: n1's transition MASTER -> BACKUP with the same chain, and the priority change before it
    const ev = await cli(['events', '--state-dir', s1]);
    assert.equal(ev.code, 0, ev.stderr);
    const line = ev.stdout.split('\n').find((l) => /vrrp-transition {2}VI_1 {2}MASTER -> BACKUP/.test(l));
    assert.ok(line, ev.stdout);
    assert.ok(line.endsWith(`tracker chk_x failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < ${N2}'s 100`), line);
    assert.match(ev.stdout, /priority {2}VI_1 {2}150 -> 90 {2}tracker chk_x failed \(exit 1: "connection refused"\) -> priority 150 - 60 = 90$/m, ev.stdout);
    const evj = await cli(['events', '--json', '--state-dir', s1]);
    assert.equal(evj.code, 0, evj.stderr);
    const events = evj.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as TimelineEvent);
    const down = events.find((e) => e.kind === 'vrrp-transition' && e.before === 'MASTER' && e.after === 'BACKUP')!;
    assert.deepEqual(
      [down.cause.kind, down.cause.because?.kind, down.cause.because?.because?.kind, down.cause.because?.because?.facts?.name],
      ['advert', 'priority', 'tracker', 'chk_x'],
    );
    // n2's events: BACKUP -> MASTER, preempting n1
    const ev2 = await cli(['events', '--state-dir', s2]);
    assert.match(
      ev2.stdout,
      new RegExp(`vrrp-transition {2}VI_1 {2}BACKUP -> MASTER {2}.*preempting ${N1.replace(/\./g, '\\.')}, whose priority 90 is lower than our 100$`, 'm'),
      ev2.stdout,
    );
  },
);
