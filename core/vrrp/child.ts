/**
 * The VRRP process. The daemon forks it (see supervisor.ts) so that VRRP
 * timing never waits for checks, scripts, notifiers or plugins: this process
 * runs nothing but the engine. It talks to its parent over the IPC channel:
 *
 *   parent -> child  { type: 'start', settings, level }  { type: 'stop' }  { type: 'status', id }
 *   child -> parent  { type: 'started' }  { type: 'transition', report }  { type: 'log', record }
 *                    { type: 'status', id, status }  { type: 'stopped' }  { type: 'fatal', message }
 *
 * If the parent goes away (the channel closes), the engine stops as on
 * SIGTERM: masters send priority 0 and drop their VIPs.
 */
import { createLogger, type Level, type LogRecord } from '../log/logger';
import { RealClock } from './clock';
import { VrrpEngine } from './engine';
import type { VrrpSettings } from './settings';

type ParentMessage = { type: 'start'; settings: VrrpSettings; level: Level } | { type: 'stop' } | { type: 'status'; id: number };

function send(msg: unknown): void {
  if (process.connected) process.send!(msg, undefined, undefined, () => undefined);
}

const ipcSink = { write: (record: LogRecord) => send({ type: 'log', record }) };
let engine: VrrpEngine | undefined;
let stopping: Promise<void> | undefined;

function stop(exitCode = 0): Promise<void> {
  stopping ??= (async () => {
    try {
      await engine?.stop();
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
    const log = createLogger([ipcSink], msg.level);
    engine = new VrrpEngine(msg.settings, { log, clock: new RealClock(), onTransition: (report) => send({ type: 'transition', report }) });
    engine.start().then(
      () => send({ type: 'started' }),
      (err: Error) => {
        send({ type: 'fatal', message: err.message });
        void stop(1);
      },
    );
  } else if (msg.type === 'stop') {
    void stop();
  } else if (msg.type === 'status') {
    send({ type: 'status', id: msg.id, status: engine?.status() ?? { instances: [], otherVrids: 0 } });
  }
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
// Ctrl-C reaches the whole process group: the parent decides, and tells us to stop
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
process.on('uncaughtException', (err) => {
  send({ type: 'fatal', message: `${err.stack ?? err.message}` });
  process.exit(70);
});
