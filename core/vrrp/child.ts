/**
 * The VRRP process. The daemon forks it (see supervisor.ts) so that VRRP
 * timing never waits for checks, scripts, notifiers or plugins: this process
 * runs nothing but the engine. It talks to its parent over the IPC channel:
 *
 *   parent -> child  { type: 'start', settings, level, trackers, startedAt, resume }  { type: 'stop' }  { type: 'status', id }
 *                    { type: 'trackers', states }  { type: 'reload', id, settings }  { type: 'ping', id }
 *   child -> parent  { type: 'started' }  { type: 'transition', report }  { type: 'event', event }
 *                    { type: 'log', record }  { type: 'status', id, status }  { type: 'reloaded', id, counts }
 *                    { type: 'pong', id }
 *                    { type: 'stopped' }  { type: 'fatal', message }
 *
 * If the parent goes away (the channel closes), the engine stops as on
 * SIGTERM: masters send priority 0 and drop their VIPs.
 */
import { createLogger, type Level, type Logger, type LogRecord } from '../log/logger';
import { RealClock } from './clock';
import { VrrpEngine } from './engine';
import type { VrrpSettings } from './settings';
import { applyVrrpProcessSettings } from './process-settings';
import { StaticNet } from './static-net';
import type { StaticNetSettings } from './static-net-settings';
import type { TrackedState } from './tracking';

type ParentMessage =
  | { type: 'start'; settings: VrrpSettings; level: Level; trackers?: Record<string, TrackedState>; startedAt?: number; resume?: Record<string, number> }
  | { type: 'stop' }
  | { type: 'status'; id: number }
  | { type: 'ping'; id: number }
  | { type: 'trackers'; states: Record<string, TrackedState> }
  | {
      type: 'reload';
      id: number;
      /** the new settings without their instances */
      settings: Omit<VrrpSettings, 'instances'>;
      /** every instance name, in the new order */
      order: string[];
      /** the instances that are new or changed (the others keep the settings they run with) */
      changed: VrrpSettings['instances'];
      trackers?: Record<string, TrackedState>;
    };

function send(msg: unknown): void {
  if (process.connected) process.send!(msg, undefined, undefined, () => undefined);
}

const ipcSink = { write: (record: LogRecord) => send({ type: 'log', record }) };
let engine: VrrpEngine | undefined;
/** static_ipaddress, static_routes, static_rules: set whatever the VRRP state, until this process stops */
let statics: StaticNet | undefined;
let childLog: Logger | undefined;
let clock: RealClock | undefined;
let stopping: Promise<void> | undefined;

/** Sets the static entries of new settings (the first ones, or a reload's); a failure is logged, VRRP goes on. */
async function applyStatics(next: StaticNetSettings | undefined, log: Logger): Promise<void> {
  try {
    if (statics) await statics.reload(next);
    else if (next) {
      statics = new StaticNet(next, log);
      await statics.start();
    }
  } catch (err) {
    log.error({ err: (err as Error).message }, `static addresses, routes and rules: ${(err as Error).message}`);
  }
}

function stop(exitCode = 0): Promise<void> {
  stopping ??= (async () => {
    try {
      await engine?.stop();
      await statics?.stop();
    } finally {
      send({ type: 'stopped' });
      // let the IPC message leave before exiting
      setTimeout(() => process.exit(exitCode), 10);
    }
  })();
  return stopping;
}

process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'start') {
    if (engine) return;
    const log = (childLog = createLogger([ipcSink], msg.level));
    clock = new RealClock();
    applyVrrpProcessSettings(msg.settings.vrrpProcess, clock, log);
    engine = new VrrpEngine(msg.settings, {
      log,
      clock,
      ...(msg.startedAt !== undefined ? { startedAt: msg.startedAt } : {}),
      ...(msg.resume ? { resume: msg.resume } : {}),
      onTransition: (report) => send({ type: 'transition', report }),
      onEvent: (event) => send({ type: 'event', event }),
    });
    if (msg.trackers) engine.setTrackerStates(msg.trackers, true);
    const e = engine;
    applyStatics(msg.settings.statics, log)
      .then(() => e.start())
      .then(
        () => send({ type: 'started' }),
        (err: Error) => {
          send({ type: 'fatal', message: err.message });
          void stop(1);
        },
      );
  } else if (msg.type === 'stop') {
    void stop();
  } else if (msg.type === 'trackers') {
    engine?.setTrackerStates(msg.states);
  } else if (msg.type === 'reload') {
    const e = engine;
    if (!e) return;
    if (msg.trackers) e.setTrackerStates(msg.trackers, true);
    const changed = new Map(msg.changed.map((i) => [i.name, i]));
    const current = new Map(e.settings.instances.map((i) => [i.name, i]));
    const instances = msg.order.map((n) => changed.get(n) ?? current.get(n)).filter((i): i is VrrpSettings['instances'][number] => i !== undefined);
    applyVrrpProcessSettings(msg.settings.vrrpProcess, clock!, childLog!);
    applyStatics(msg.settings.statics, childLog!)
      .then(() => e.reload({ ...msg.settings, instances }, new Set(changed.keys())))
      .then(
        (counts) => send({ type: 'reloaded', id: msg.id, counts }),
        (err: Error) => send({ type: 'reloaded', id: msg.id, error: err.message }),
      );
  } else if (msg.type === 'status') {
    sendStatus(msg.id);
  } else if (msg.type === 'ping') {
    // answered from this process's event loop: the systemd watchdog counts on it turning
    send({ type: 'pong', id: msg.id });
  }
});

/** instances per part of a status answer: about a tenth of a millisecond of work each */
const STATUS_PART = 50;

/**
 * The status, in parts of STATUS_PART instances, each made and sent in its
 * own turn of the event loop (`status-part` messages, then `status` with
 * the last instances and the rest): a thousand instances' status is a few
 * milliseconds of work, and no advert due meanwhile waits for more than
 * one part.
 */
function sendStatus(id: number): void {
  const e = engine;
  if (!e) {
    send({ type: 'status', id, status: { instances: [], otherVrids: 0 } });
    return;
  }
  let from = 0;
  const step = (): void => {
    const to = from + STATUS_PART;
    const instances = e.statusPart(from, to);
    from = to;
    if (from >= e.instanceCount) send({ type: 'status', id, status: { ...e.statusRest(), instances } });
    else {
      send({ type: 'status-part', id, instances });
      setImmediate(step);
    }
  };
  step();
}
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
// Ctrl-C reaches the whole process group: the parent decides, and tells us to stop
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
process.on('uncaughtException', (err) => {
  send({ type: 'fatal', message: `${err.stack ?? err.message}` });
  process.exit(70);
});
