import { nativeAddon } from './packet-socket';
import type { Received } from './types';

/**
 * Receives IPv6 VRRP packets with what raw-socket cannot tell: the hop limit
 * (RFC 5798 5.1.1.3: a multicast advert must arrive with 255) and the
 * destination address (for the v3 checksum's pseudo-header, and to tell a
 * multicast advert from a unicast one). The socket lives in the project's
 * N-API addon (native/vrrp6_recv.c, built by `npm install`): a raw IPv6
 * socket for protocol 112 bound to one interface, reading IPV6_HOPLIMIT and
 * IPV6_PKTINFO from each packet's ancillary data, polled on Node's event loop.
 *
 * Like every socket it acts in the network namespace of the process that
 * opens it. It only receives: VrrpChannel sends through raw-socket.
 */

export interface Vrrp6ReceiverOptions {
  ifname: string;
  ifindex: number;
  /** multicast groups to join on the interface (ff02::12, mcast_dst_ip); empty for unicast only */
  groups: string[];
  /** the socket's receive buffer in bytes (SO_RCVBUFFORCE); 0 or absent: the kernel's default */
  rcvBuf?: number;
}

/** A received IPv6 packet: destination and hop limit as the kernel reported them, and the interface. */
export interface Received6 extends Received {
  family: 6;
  ifindex: number;
}

export interface Vrrp6Receiver {
  /** True until close(). */
  readonly isOpen: boolean;
  /** Stops receiving and closes the socket (leaving its groups). Idempotent; fine from inside onPacket: no packet follows. */
  close(): void;
}

/** A system call of the receiver failed: when opening (thrown) or when receiving (to onError). */
export class Recv6Error extends Error {
  /** errno name: ENODEV, EPERM, ... */
  readonly code: string;
  /** negated errno, as Node's system errors carry it */
  readonly errno: number;
  readonly syscall: string;
  readonly ifname: string;
  /** what the receiver was doing: "binding to the interface (SO_BINDTODEVICE)", "joining ff02::12 (IPV6_ADD_MEMBERSHIP)", ... */
  readonly step: string;
  constructor(native: { message: string; code: string; errno: number; syscall: string; ifname: string; step: string }) {
    super(native.message);
    this.name = 'Recv6Error';
    this.code = native.code;
    this.errno = native.errno;
    this.syscall = native.syscall;
    this.ifname = native.ifname;
    this.step = native.step;
  }
}

interface Recv6Addon {
  openRecv6(
    ifname: string,
    ifindex: number,
    groups: string[],
    rcvBuf: number,
    onPacket: (payload: Buffer, src: string, dst: string, hopLimit: number | undefined, ifindex: number) => void,
    onError: (err: Error) => void,
  ): object;
  closeRecv6(handle: object): void;
  dropAllFilter(): Buffer;
}

function addon(): Recv6Addon {
  const lib = nativeAddon() as Partial<Recv6Addon>;
  if (typeof lib.openRecv6 !== 'function' || typeof lib.closeRecv6 !== 'function' || typeof lib.dropAllFilter !== 'function') {
    throw new Error('the native addon (native/build) predates the IPv6 VRRP receiver: run `npm install` (or `npx node-gyp rebuild --directory=native`) in the alived directory');
  }
  return lib as Recv6Addon;
}

function fromNative(err: unknown): unknown {
  const e = err as { code?: unknown; errno?: unknown; step?: unknown; ifname?: unknown };
  if (err instanceof Error && typeof e.errno === 'number' && typeof e.code === 'string' && typeof e.step === 'string' && typeof e.ifname === 'string') {
    return new Recv6Error(err as Error & { code: string; errno: number; syscall: string; ifname: string; step: string });
  }
  return err;
}

/**
 * Opens a receiver on one interface: binds it, sizes its buffer, joins the
 * groups, and calls onPacket for each packet (dst and ttl set) until close().
 * Throws a Recv6Error naming the step that failed (ENODEV for a missing
 * interface, EPERM without CAP_NET_RAW / CAP_NET_ADMIN), or a TypeError /
 * RangeError for bad options. An exception thrown by onPacket is an uncaught
 * exception, as from any Node socket's event.
 */
export function openVrrp6Receiver(o: Vrrp6ReceiverOptions, onPacket: (rx: Received6) => void, onError: (err: Recv6Error) => void): Vrrp6Receiver {
  for (const [name, fn] of [['onPacket', onPacket], ['onError', onError]] as const) {
    if (typeof fn !== 'function') throw Object.assign(new TypeError(`openVrrp6Receiver: ${name} must be a function`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  const lib = addon();
  let handle: object | undefined;
  try {
    handle = lib.openRecv6(
      o.ifname,
      o.ifindex,
      o.groups,
      o.rcvBuf ?? 0,
      (payload, src, dst, hopLimit, ifindex) => onPacket({ family: 6, src, dst, ttl: hopLimit, payload, ifindex }),
      (err) => onError(fromNative(err) as Recv6Error),
    );
  } catch (err) {
    throw fromNative(err);
  }
  return {
    get isOpen() {
      return handle !== undefined;
    },
    close() {
      if (!handle) return;
      const h = handle;
      handle = undefined;
      lib.closeRecv6(h);
    },
  };
}

/**
 * A classic BPF program of one instruction, `ret 0`, as the struct sock_fprog
 * that setsockopt(SOL_SOCKET, SO_ATTACH_FILTER) takes: attached to a raw
 * socket that only sends, it keeps the kernel from queueing it a copy of every
 * received packet. For raw-socket's `setOption(1, 26, buf, buf.length)` (the
 * struct points into the addon, which JavaScript cannot do itself).
 */
export function dropAllFilter(): Buffer {
  return addon().dropAllFilter();
}
