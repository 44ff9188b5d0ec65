/**
 * systemd's notify protocol (sd_notify(3)), as a service of `Type=notify`
 * speaks it: one unix datagram of `KEY=VALUE` lines to the socket systemd
 * names in $NOTIFY_SOCKET (a path, or an abstract name written `@name`).
 * Node has no unix datagram sockets: the send is in alived's addon
 * (native/notify.c), loaded only when there is something to send.
 *
 * The environment is taken once, by the process systemd started, before
 * it forks anything: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are
 * removed from process.env, so neither the VRRP process nor a script alived
 * runs can speak in alived's name (with `NotifyAccess=main` systemd would
 * drop their messages anyway; without it, a script's READY=1 or a hung
 * VRRP process's WATCHDOG=1 would count).
 */

export interface SystemdEnvironment {
  /** where the messages go: a path, or `@name` for an abstract socket */
  readonly notifySocket: string;
  /** the watchdog period (WatchdogSec=) in microseconds, when systemd watches this process */
  readonly watchdogUsec?: number;
}

interface NotifyAddon {
  notifySocketSend(address: string, message: string): void;
  monotonicMicros(): number;
}

/**
 * Reads and removes systemd's notify variables from `env`; returns where to
 * send, or undefined when systemd gave no socket (or one this protocol
 * cannot reach: only paths and abstract names are). The watchdog is this
 * process's when WATCHDOG_USEC is a positive number and WATCHDOG_PID, if
 * set, is this pid.
 */
export function takeSystemdEnvironment(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): SystemdEnvironment | undefined {
  const socket = env.NOTIFY_SOCKET;
  const usec = env.WATCHDOG_USEC;
  const watchdogPid = env.WATCHDOG_PID;
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  if (!socket || !(socket.startsWith('/') || (socket.startsWith('@') && socket.length > 1))) return undefined;
  const period = usec !== undefined && /^[1-9][0-9]*$/.test(usec) ? Number(usec) : undefined;
  const mine = watchdogPid === undefined || watchdogPid === String(pid);
  return { notifySocket: socket, ...(period !== undefined && mine ? { watchdogUsec: period } : {}) };
}

let addon: NotifyAddon | undefined;

function lib(): NotifyAddon {
  if (addon) return addon;
  // the addon loader lives with the packet socket; this module stays light for the CLI's start
  const { nativeAddon, PacketSocketError } = require('../vrrp/packet-socket') as typeof import('../vrrp/packet-socket');
  const a = nativeAddon() as Partial<NotifyAddon>;
  if (typeof a.notifySocketSend !== 'function' || typeof a.monotonicMicros !== 'function') {
    throw new PacketSocketError('the native addon was built from older sources (no notifySocketSend): rebuild it with `npm install`', {
      code: 'ALIVED_PACKET_ADDON_MISSING',
    });
  }
  addon = a as NotifyAddon;
  return addon;
}

/**
 * Sends one notify message: the fields as `KEY=VALUE` lines, in order.
 * A value's newlines become spaces (a newline would start another field).
 * Throws the system error (ENOENT, ECONNREFUSED, EAGAIN...) with `errno`
 * and `syscall`, or ALIVED_PACKET_ADDON_MISSING without the addon.
 */
export function sdNotify(socket: string, fields: readonly (readonly [string, string | number])[]): void {
  const message = fields.map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, ' ')}`).join('\n');
  lib().notifySocketSend(socket, message);
}

/**
 * CLOCK_MONOTONIC in microseconds, the clock of MONOTONIC_USEC. Read
 * through the addon: libuv's hrtime (process.hrtime) happens to read the
 * same clock on Linux, but Node does not promise which clock it is.
 */
export function monotonicUsec(): number {
  return lib().monotonicMicros();
}
