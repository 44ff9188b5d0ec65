import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { NotifyPipeline } from '../../core/notify/pipeline';
import { createNotifiers } from '../../core/notify/notifiers';
import { createHooks } from '../../core/plugin/hooks';
import type { NotifyEvent } from '../../core/plugin/events';
import type { ConfigModel } from '../../core/config/model';
import { compileText, noErrors, tmpDir } from '../helpers/config';
import { memoryLogger } from '../helpers/log';
import { waitFor } from '../helpers/lab';
import { drainFifo } from '../helpers/fifo';

/**
 * Priority changes, a master's lower-priority adverts and the states said
 * again after a reload are events of the pipeline: the `notify` hook sees
 * them, notify-script writes keepalived's FIFO lines for them, and mail and
 * webhooks accept none of them (keepalived mails none).
 */

test(
  'priority, master-rx-lower-pri and vrrp-state: through the notify hook to the script notifier, not to mail nor webhooks',
  { timeout: 20_000 },
  async () => {
    const d = tmpDir();
    const fifo = path.join(d, 'notify.fifo');
    const r = await compileText(`global_defs {
  notification_email {
    ops@example.com
  }
  smtp_server 127.0.0.1 2525
  notify_fifo ${fifo}
}
webhook ops {
  url http://127.0.0.1:9/hook
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  smtp_alert
  notify_priority_changes
  virtual_ipaddress {
    10.0.0.1/24
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  priority 100
  virtual_ipaddress {
    10.0.0.2/24
  }
}
`);
    noErrors(r);
    const model = r.model as ConfigModel;
    const { log } = memoryLogger('info');
    const hooks = createHooks();
    const seen: string[] = [];
    hooks.notify.tapPromise('test', async (e) => {
      seen.push(e.type);
    });
    const p = new NotifyPipeline({ log, hooks });
    const sinks = createNotifiers(model, r.pluginHost, log);
    assert.deepEqual(
      sinks.map((s) => [s.id, s.immediate === true]),
      [
        ['script:notify', true],
        ['mail:keepalived', false],
        ['webhook:ops', false],
      ],
    );
    const time = Date.now();
    const events: NotifyEvent[] = [
      { type: 'priority', instance: 'VI_1', from: 100, to: 90, state: 'MASTER', reason: 'tracking', time },
      { type: 'priority', instance: 'VI_2', from: 100, to: 90, state: 'BACKUP', reason: 'tracking', time },
      { type: 'master-rx-lower-pri', instance: 'VI_1', priority: 90, advertPriority: 80, sender: '10.0.0.9', time },
      { type: 'vrrp-state', kind: 'instance', name: 'VI_1', state: 'MASTER', priority: 90, time },
      { type: 'vrrp-state', kind: 'group', name: 'G1', state: 'BACKUP', priority: 0, time },
    ];
    const mail = sinks.find((s) => s.id === 'mail:keepalived')!.notifier;
    const webhook = sinks.find((s) => s.id === 'webhook:ops')!.notifier;
    const script = sinks.find((s) => s.id === 'script:notify')!.notifier;
    for (const e of events) {
      assert.equal(mail.accepts!(e), false, `mail takes no ${e.type}`);
      assert.equal(webhook.accepts!(e), false, `a webhook takes no ${e.type}`);
    }
    // notify_priority_changes: VI_1 has it, VI_2 does not
    assert.deepEqual(
      events.map((e) => script.accepts!(e)),
      [true, false, true, true, true],
    );

    p.setSinks(sinks);
    await p.ready();
    try {
      for (const e of events) p.publish(e);
      assert.deepEqual(seen, ['priority', 'priority', 'master-rx-lower-pri', 'vrrp-state', 'vrrp-state']);
      let got = '';
      await waitFor(
        'the FIFO lines',
        () => {
          got += drainFifo(fifo);
          return got.split('\n').filter(Boolean).length >= 4 ? true : undefined;
        },
        5000,
      );
      assert.deepEqual(got.split('\n').filter(Boolean), [
        'INSTANCE "VI_1" MASTER_PRIORITY 90',
        'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 90',
        'INSTANCE "VI_1" MASTER 90',
        'GROUP "G1" BACKUP 0',
      ]);
      const st = p.status().notifiers;
      assert.deepEqual(
        st.map((n) => [n.id, n.accepted]),
        [
          ['script:notify', 4],
          ['mail:keepalived', 0],
          ['webhook:ops', 0],
        ],
      );
    } finally {
      await p.stop({ drainMs: 0 });
      await r.pluginHost.close();
    }
  },
);

test('a config with no notify script and no notify FIFO has no script notifier', async () => {
  const r = await compileText(`vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  virtual_ipaddress {
    10.0.0.1/24
  }
}
`);
  noErrors(r);
  const { log } = memoryLogger('info');
  assert.deepEqual(
    createNotifiers(r.model as ConfigModel, r.pluginHost, log).map((s) => s.id),
    [],
  );
  await r.pluginHost.close();
});
