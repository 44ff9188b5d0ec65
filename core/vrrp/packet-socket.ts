import * as path from 'node:path';
import { AlivedError } from '../errors';
import { errnoReason } from '../net/errno';

/**
 * Sends whole ethernet frames out of one interface through an AF_PACKET
 * socket: gratuitous ARPs and unsolicited neighbour adverts are link-layer
 * frames that raw IP sockets cannot send. The socket itself lives in the
 * project's N-API addon (native/packet_socket.c; prebuilt in the package, or
 * built from source by `npm install` in a checkout).
 *
 * Like every socket it acts in the network namespace of the process that
 * opens it.
 */

interface Addon {
  open(ifindex: number): object;
  send(handle: object, frame: Uint8Array): number;
  close(handle: object): void;
}

/**
 * The addon's folder, native/ in the package's root (three folders up from
 * dist/core/vrrp), in a checkout as in an installed package: binding.gyp,
 * the C sources, build/ (a source build) and prebuilds/ (the binaries the
 * package ships).
 */
export const NATIVE_DIR = path.resolve(__dirname, '..', '..', '..', 'native');

/** how to build the addon from source, for messages */
const BUILD_HINT =
  "in a checkout run `npm install` (or `npm run build:native`); in an installed copy approve alived's install script (`npm install-scripts approve alived`) and run `npm rebuild alived --build-from-source`; a source build needs make, a C compiler and python3";

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

/**
 * Loads the addon through node-gyp-build: a source build in native/build
 * first (Release, then Debug), else the prebuilt binary the package ships for
 * this platform (native/prebuilds/linux-x64, made by `npm run prebuildify`).
 */
function loadAddon(): Addon {
  if (addon) return addon;
  const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  let file: string;
  try {
    file = gypBuild.resolve(NATIVE_DIR);
  } catch (err) {
    const detail = (err as Error).message.split('\n')[0];
    throw new PacketSocketError(
      `the native addon is neither built nor prebuilt for this system (${detail}; looked in ${path.join(NATIVE_DIR, 'build')} and ${path.join(NATIVE_DIR, 'prebuilds')}): ${BUILD_HINT}`,
      { code: 'ALIVED_PACKET_ADDON_MISSING' },
    );
  }
  try {
    addon = require(file) as Addon;
  } catch (err) {
    throw new PacketSocketError(`the native addon ${file} does not load (${(err as Error).message.split('\n')[0]}): build it from source: ${BUILD_HINT}`, {
      code: 'ALIVED_PACKET_ADDON_MISSING',
    });
  }
  return addon;
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

/** True when the addon (a source build or the package's prebuilt binary) loads. */
export function packetSocketAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}
