import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyPipeline, permanentFailure, type SinkSpec } from '../../core/notify/pipeline';
import type { NotifyEvent } from '../../core/plugin/events';
import type { DeliveryOptions, Notifier } from '../../core/plugin/types';
import { memoryLogger } from '../helpers/log';
import { waitFor } from '../helpers/lab';
import { freePort } from './receivers';

/**
 * A notifier's error that names a URL with its secrets (Node's fetch()
 * refuses a URL with credentials and says which): the pipeline's status
 * (lastError) and every log record show it masked, whether the delivery is
 * retried, fails for good, or runs at once (scripts' path).
 */

const pipelines: NotifyPipeline[] = [];
after(async () => {
  await Promise.all(pipelines.map((p) => p.stop({ drainMs: 0 })));
});

const FAST: DeliveryOptions = { retryInitialMs: 20, retryMaxMs: 80, attemptTimeoutMs: 2000, coalesceLimit: 0 };
const event: NotifyEvent = { type: 'vrrp', kind: 'instance', name: 'VI_1', from: 'BACKUP', to: 'MASTER', priority: 100, reason: 'test', time: Date.now() };

function sink(id: string, notifier: Notifier, extra: Partial<SinkSpec> = {}): SinkSpec {
  return { id, kind: 'test', name: id, notifier, options: FAST, ...extra };
}

test('fetch() errors that name a credentialed URL: masked in lastError and in the log, retried, failed for good, or immediate', async () => {
  const port = await freePort();
  const url = `http://alice:pw-fetch@127.0.0.1:${port}/hook?token=tok-fetch`;
  const viaFetch: Notifier = {
    async deliver(_e, signal) {
      await fetch(url, { method: 'POST', body: '{}', signal });
    },
  };
  const refused: Notifier = {
    async deliver() {
      throw permanentFailure(`POST ${url.replace('alice', 'bob')}: HTTP 403`);
    },
  };
  const { log, records } = memoryLogger('info');
  const p = new NotifyPipeline({ log });
  pipelines.push(p);
  p.setSinks([sink('test:retried', viaFetch), sink('test:refused', refused), sink('test:now', viaFetch, { immediate: true })]);
  p.publish(event);
  await waitFor(
    'a retry, a failure for good and the immediate failure',
    () => {
      const st = p.status().notifiers;
      return st.every((n) => n.lastError !== undefined) && records.some((r) => r.fields.code === 'ALIVED_NOTIFY_RETRY') ? true : undefined;
    },
    5000,
  );
  const last = Object.fromEntries(p.status().notifiers.map((n) => [n.id, n.lastError]));
  const fetchMessage = `Request cannot be constructed from a URL that includes credentials: http://alice:[redacted]@127.0.0.1:${port}/hook?token=[redacted]`;
  assert.equal(last['test:retried'], fetchMessage);
  assert.equal(last['test:now'], fetchMessage);
  assert.equal(last['test:refused'], `POST http://bob:[redacted]@127.0.0.1:${port}/hook?token=[redacted]: HTTP 403`);
  const all = JSON.stringify(records) + JSON.stringify(p.status());
  assert.ok(!all.includes('pw-fetch') && !all.includes('tok-fetch'), all);
  assert.ok(records.some((r) => r.fields.code === 'ALIVED_NOTIFY_FAILED' && r.msg.includes('failed for good: POST http://bob:[redacted]@')));
});
