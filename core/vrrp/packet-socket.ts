import * as path from 'node:path';
import { AlivedError } from '../errors';
import { errnoReason } from '../net/errno';

/**
 * Sends whole ethernet frames out of one interface through an AF_PACKET
 * socket: gratuitous ARPs and unsolicited neighbour adverts are link-layer
 * frames that raw IP sockets cannot send. The socket itself lives in the
 * project's N-API addon (native/packet_socket.c, built by `npm install`).
 *
 * Like every socket it acts in the network namespace of the process that
 * opens it.
 */

interface Addon {
  open(ifindex: number): object;
  send(handle: object, frame: Uint8Array): number;
  close(handle: object): void;
}

/** where node-gyp puts the addon (native/build/...), from dist/core/vrrp */
const ADDON_DIR = path.resolve(__dirname, '..', '..', '..', 'native', 'build');

let addon: Addon | undefined;

/**
 * A packet socket could not be opened or written (ALIVED_PACKET_SOCKET;
 * `errno` names the system error: ENETDOWN, ENODEV, ...), or the addon is not
 * built (ALIVED_PACKET_ADDON_MISSING).
 */
export class PacketSocketError extends AlivedError {
  /** the negated errno, as Node's system errors carry it; undefined when alived found the fault itself */
  readonly errnoNumber: number | undefined;
  readonly syscall: string | undefined;
  constructor(
    message: string,
    options: { code?: 'ALIVED_PACKET_SOCKET' | 'ALIVED_PACKET_ADDON_MISSING'; errno?: string; errnoNumber?: number; syscall?: string } = {},
  ) {
    super(options.code ?? 'ALIVED_PACKET_SOCKET', message, options.errno === undefined ? undefined : { errno: options.errno });
    this.errnoNumber = options.errnoNumber;
    this.syscall = options.syscall;
  }
}

function loadAddon(): Addon {
  if (addon) return addon;
  const tried: string[] = [];
  for (const build of ['Release', 'Debug']) {
    const file = path.join(ADDON_DIR, build, 'alived_packet.node');
    tried.push(file);
    try {
      addon = require(file) as Addon;
      return addon;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  throw new PacketSocketError(
    `the packet socket addon is not built (looked for ${tried.join(' and ')}): run \`npm install\` or \`npx node-gyp rebuild --directory=native\` in the alived directory (it needs a C compiler and Node's headers)`,
    { code: 'ALIVED_PACKET_ADDON_MISSING' },
  );
}

function wrapError(err: unknown, what: string, ifname: string): Error {
  const e = err as { errno?: unknown; syscall?: unknown };
  if (typeof e?.errno !== 'number') return err as Error;
  const { name, text } = errnoReason(e.errno);
  const syscall = typeof e.syscall === 'string' ? e.syscall : undefined;
  return new PacketSocketError(`${what} on ${ifname}: ${text} (${name})`, { errno: name, errnoNumber: e.errno, ...(syscall ? { syscall } : {}) });
}

/** One AF_PACKET socket bound to one interface; sends, never receives. */
export class PacketSocket {
  private handle: object | undefined;

  private constructor(
    private readonly lib: Addon,
    handle: object,
    /** the interface's name, for messages */
    readonly ifname: string,
    readonly ifindex: number,
  ) {
    this.handle = handle;
  }

  /** Opens a socket on the interface; throws a PacketSocketError (ENODEV when it does not exist, EPERM without CAP_NET_RAW). */
  static open(ifindex: number, ifname: string): PacketSocket {
    const lib = loadAddon();
    try {
      return new PacketSocket(lib, lib.open(ifindex), ifname, ifindex);
    } catch (err) {
      throw wrapError(err, `opening a packet socket (ifindex ${ifindex})`, ifname);
    }
  }

  /** True until close(). */
  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /**
   * Sends one frame (destination MAC first) at once, without blocking;
   * returns the bytes sent. A full queue is EAGAIN, a down link ENETDOWN.
   */
  send(frame: Uint8Array, what = 'sending a frame'): number {
    if (!this.handle) throw new PacketSocketError(`${what} on ${this.ifname}: the packet socket is closed`, { errno: 'EBADF' });
    try {
      return this.lib.send(this.handle, frame);
    } catch (err) {
      throw wrapError(err, what, this.ifname);
    }
  }

  close(): void {
    if (!this.handle) return;
    const h = this.handle;
    this.handle = undefined;
    this.lib.close(h);
  }
}

/**
 * The addon itself, for the other parts it holds (receiver.ts: the VRRP
 * receivers; clock.ts: the timerfd). Throws a PacketSocketError (ALIVED_PACKET_ADDON_MISSING) when it
 * is not built.
 */
export function nativeAddon(): object {
  return loadAddon();
}

/** True when the addon is built and loads; `npm install` builds it. */
export function packetSocketAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}
