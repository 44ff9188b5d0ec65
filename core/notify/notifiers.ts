import type { ConfigModel } from '../config/model';
import { errorText } from '../errors';
import type { Logger } from '../log/logger';
import type { Registered } from '../plugin/host';
import type { Notifier, NotifierDefinition } from '../plugin/types';
import type { SinkSpec } from './pipeline';

/** what the pipeline needs of a plugin host */
export interface NotifierHost {
  readonly notifiers: ReadonlyMap<string, Registered<NotifierDefinition<any>>>;
}

/**
 * The notifiers a config asks for: for every notifier definition a plugin
 * registered, one per block of its keyword (`webhook ops { }` gives
 * `webhook:ops`), or the list its configure() makes (notify-mail makes one
 * from global_defs). A definition without create() is accepted in configs
 * and not run; one marked `immediate` is delivered from publish() itself. A create() or configure() that throws is logged with its
 * plugin and skipped; the others go on.
 */
export function createNotifiers(model: ConfigModel, host: NotifierHost, log: Logger, previous?: (id: string) => Notifier | undefined): SinkSpec[] {
  const out: SinkSpec[] = [];
  for (const [keyword, { def, owner }] of host.notifiers) {
    if (!def.create) continue;
    const blocks = (model.extensions ?? []).filter((e) => e.keyword === keyword).map((e) => e.value);
    let list: ReadonlyArray<{ name: string; config: unknown }>;
    try {
      list = def.configure
        ? def.configure(model, blocks)
        : blocks.map((b) => ({ name: typeof (b as { name?: unknown }).name === 'string' ? (b as { name: string }).name : keyword, config: b }));
    } catch (err) {
      log.error(
        { code: 'ALIVED_NOTIFY_FAILED', plugin: owner, notifier: keyword, err },
        `notifier '${keyword}' of plugin '${owner}': configure() threw: ${errorText(err, { redact: true })}; not run`,
      );
      continue;
    }
    for (const { name, config } of list) {
      const id = `${keyword}:${name}`;
      const nlog = log.child({ plugin: owner, notifier: id });
      try {
        const prev = previous?.(id);
        const notifier = def.create(config, { log: nlog, name, model, ...(prev ? { previous: prev } : {}) });
        if (!notifier || typeof notifier.deliver !== 'function') throw new Error('create() returned no object with deliver()');
        out.push({
          id,
          kind: keyword,
          name,
          plugin: owner,
          notifier,
          options: def.delivery?.(config),
          log: nlog,
          ...(def.immediate ? { immediate: true } : {}),
        });
      } catch (err) {
        log.error(
          { code: 'ALIVED_NOTIFY_FAILED', plugin: owner, notifier: id, err },
          `notifier '${id}' of plugin '${owner}': create() failed: ${errorText(err, { redact: true })}; not run`,
        );
      }
    }
  }
  return out;
}
