import * as os from 'node:os';
import type { DaemonActions, NotifyTestResult, OutboxItem } from '../api/types';
import { AlivedError } from '../errors';
import { ALIVED_VERSION } from '../version';
import type { NotifyPipeline } from './pipeline';

/**
 * What the API's unix socket lets an operator do to notifications
 * (`alived notify test`, `alived outbox`), on top of the delivery pipeline:
 * a test message through each notifier's real deliver(), the outbox listed,
 * retried now, or one entry dropped.
 *
 * An outbox entry's id is `<event id>:<notifier>` (one event goes to every
 * notifier that accepts it, under one event id); wherever an id is taken, a
 * prefix that names one entry will do, as with git's commit ids.
 */

export interface NotifyActionsOptions {
  /** the host name the test message names; default os.hostname() */
  readonly host?: string;
  readonly now?: () => number;
}

export function notifyActions(pipeline: NotifyPipeline, opts: NotifyActionsOptions = {}): DaemonActions {
  const host = opts.host ?? (os.hostname() || 'localhost');
  const now = opts.now ?? Date.now;

  /** the entry key an id or a prefix of one names; undefined when none; throws when it names several */
  const resolve = (id: string): string | undefined => {
    const keys = pipeline.pending().map((p) => p.key);
    if (keys.includes(id)) return id;
    const hits = [...new Set(keys.filter((k) => k.startsWith(id)))];
    if (hits.length > 1) {
      throw new AlivedError(
        'ALIVED_API_BAD_REQUEST',
        `outbox id '${id}' names ${hits.length} entries (${hits.slice(0, 5).join(', ')}${hits.length > 5 ? ', ...' : ''}); give more of it`,
      );
    }
    return hits[0];
  };

  return {
    async notifyTest(notifier?: string): Promise<readonly NotifyTestResult[]> {
      const ids = notifier === undefined ? undefined : notifiersNamed(pipeline, notifier);
      const results = await pipeline.deliverTest(
        { type: 'test', time: now(), text: `test notification from alived ${ALIVED_VERSION} on ${host}, sent with 'alived notify test'` },
        ids,
      );
      return results;
    },

    outbox(): readonly OutboxItem[] {
      return pipeline.pending().map((p) => ({
        id: p.key,
        notifier: p.notifier,
        sequence: p.sequence,
        acceptedAt: p.acceptedAt,
        summary: p.state === 'held' ? `${p.summary} (held for a flapping summary)` : p.summary,
        attempts: p.attempts,
        lastError: p.lastError,
      }));
    },

    outboxRetry(id?: string): number {
      if (id === undefined) return pipeline.retryNow();
      const key = resolve(id);
      if (key === undefined) throw new AlivedError('ALIVED_API_NOT_FOUND', `no outbox entry '${id}' (alived outbox lists them)`);
      return pipeline.retryNow(key);
    },

    async outboxDrop(id: string): Promise<boolean> {
      const key = resolve(id);
      return key === undefined ? false : pipeline.drop(key);
    },
  };
}

/**
 * The notifiers a name given to `alived notify test` means: an id
 * (`webhook:ops`), else the notifiers of that name (`ops`), else those of
 * that kind (`webhook`, `mail`). Throws ALIVED_API_NOT_FOUND, listing the
 * notifiers, when none matches.
 */
export function notifiersNamed(pipeline: NotifyPipeline, name: string): string[] {
  const all = pipeline.status().notifiers;
  const byId = all.filter((n) => n.id === name);
  const byName = all.filter((n) => n.name === name);
  const byKind = all.filter((n) => n.kind === name);
  const hit = byId.length ? byId : byName.length ? byName : byKind;
  if (hit.length === 0) {
    throw new AlivedError(
      'ALIVED_API_NOT_FOUND',
      all.length
        ? `no notifier '${name}'; the notifiers are: ${all.map((n) => n.id).join(', ')}`
        : `no notifier '${name}': the config sets up none (mail, webhook, notify scripts)`,
    );
  }
  return hit.map((n) => n.id);
}
