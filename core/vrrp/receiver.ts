import { AlivedError } from '../errors';
import { nativeAddon } from './packet-socket';
import type { Received } from './types';

/**
 * Receives VRRP packets with what a plain raw socket read cannot tell. For both
 * families, when the kernel received each one (SO_TIMESTAMPNS): a backup's
 * down timer then counts from the advert's arrival on the wire side, not
 * from whenever its process was scheduled to read it (a halted virtual CPU
 * wakes up late by 0.1 to a few ms). For IPv6, also the hop limit (RFC 5798
 * 5.1.1.3: a multicast advert must arrive with 255) and the destination
 * address (for the v3 checksum's pseudo-header, and to tell a multicast
 * advert from a unicast one); an IPv4 raw socket hands the whole header.
 * The sockets live in the project's N-API addon (native/vrrp_recv.c, built
 * by `npm install`, or prebuilt): a raw socket for protocol 112 bound to one interface,
 * reading ancillary data, polled on Node's event loop. An IPv4 receiver may
 * take protocol 51 instead: keepalived's auth_type AH sends VRRPv2 inside
 * an IPsec AH header.
 *
 * Like every socket they act in the network namespace of the process that
 * opens them. They only receive: VrrpChannel sends through raw-socket.ts.
 */

export interface VrrpReceiverOptions {
  ifname: string;
  ifindex: number;
  /** multicast groups to join on the interface (224.0.0.18 or ff02::12, mcast_dst_ip); empty for unicast only */
  groups: string[];
  /** the socket's receive buffer in bytes (SO_RCVBUFFORCE); 0 or absent: the kernel's default */
  rcvBuf?: number;
  /** IPv4 only: the IP protocol received, 112 (VRRP, the default) or 51 (IPsec AH, auth_type AH) */
  protocol?: number;
}

/** the options of an IPv6 receiver (the same as IPv4's) */
export type Vrrp6ReceiverOptions = VrrpReceiverOptions;

/**
 * How long ago the kernel received a packet, in ms, measured just before it
 * was handed over; undefined when the kernel gave no stamp (or the wall
 * clock stepped in between).
 */
export type PacketAge = number | undefined;

/** A received IPv6 packet: destination and hop limit as the kernel reported them, the interface, and its age. */
export interface Received6 extends Received {
  family: 6;
  ifindex: number;
  ageMs: PacketAge;
}

export interface VrrpReceiver {
  /** True until close(). */
  readonly isOpen: boolean;
  /** Stops receiving and closes the socket (leaving its groups). Idempotent; fine from inside onPacket: no packet follows. */
  close(): void;
}

export type Vrrp6Receiver = VrrpReceiver;

/**
 * A system call of a receiver failed, when opening (thrown) or when receiving
 * (to onError): ALIVED_VRRP_SOCKET, with the errno name (ENODEV, EPERM, ...)
 * in `errno`.
 */
export class RecvError extends AlivedError {
  /** the negated errno, as Node's system errors carry it */
  readonly errnoNumber: number;
  readonly syscall: string;
  readonly ifname: string;
  /** what the receiver was doing: "binding to the interface (SO_BINDTODEVICE)", "joining ff02::12 (IPV6_ADD_MEMBERSHIP)", ... */
  readonly step: string;
  constructor(native: { message: string; code: string; errno: number; syscall: string; ifname: string; step: string }) {
    super('ALIVED_VRRP_SOCKET', native.message, { errno: native.code });
    this.errnoNumber = native.errno;
    this.syscall = native.syscall;
    this.ifname = native.ifname;
    this.step = native.step;
  }
}

type OpenRecv = (
  ifname: string,
  ifindex: number,
  groups: string[],
  rcvBuf: number,
  onPacket: (payload: Buffer, src: string, dst: string, hopLimit: number | undefined, ifindex: number, ageMs: PacketAge) => void,
  onError: (err: Error) => void,
  protocol?: number,
) => object;

interface RecvAddon {
  openRecv4: OpenRecv;
  openRecv6: OpenRecv;
  closeRecv(handle: object): void;
  dropAllFilter(): Buffer;
  /** the protocols openRecv4 takes; absent in an addon built before auth_type AH */
  recvProtocols4?: number[];
}

function addon(): RecvAddon {
  const lib = nativeAddon() as Partial<RecvAddon>;
  if (
    typeof lib.openRecv4 !== 'function' ||
    typeof lib.openRecv6 !== 'function' ||
    typeof lib.closeRecv !== 'function' ||
    typeof lib.dropAllFilter !== 'function'
  ) {
    throw new Error('the native addon (native/build) predates the VRRP receivers: rebuild it with `npm run build:native` in the alived checkout');
  }
  return lib as RecvAddon;
}

function fromNative(err: unknown): unknown {
  const e = err as { code?: unknown; errno?: unknown; step?: unknown; ifname?: unknown };
  if (err instanceof Error && typeof e.errno === 'number' && typeof e.code === 'string' && typeof e.step === 'string' && typeof e.ifname === 'string') {
    return new RecvError(err as Error & { code: string; errno: number; syscall: string; ifname: string; step: string });
  }
  return err;
}

function open(
  open: (lib: RecvAddon) => OpenRecv,
  o: VrrpReceiverOptions,
  onPacket: (payload: Buffer, src: string, dst: string, hopLimit: number | undefined, ifindex: number, ageMs: PacketAge) => void,
  onError: (err: RecvError) => void,
  name: string,
): VrrpReceiver {
  for (const [arg, fn] of [
    ['onPacket', onPacket],
    ['onError', onError],
  ] as const) {
    if (typeof fn !== 'function') throw Object.assign(new TypeError(`${name}: ${arg} must be a function`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  const lib = addon();
  if (o.protocol !== undefined && o.protocol !== 112 && !lib.recvProtocols4?.includes(o.protocol)) {
    throw new Error(
      `the native addon (native/build) cannot receive IP protocol ${o.protocol} (auth_type AH): rebuild it with \`npm run build:native\` in the alived checkout`,
    );
  }
  let handle: object | undefined;
  try {
    const onErr = (err: Error): void => onError(fromNative(err) as RecvError);
    handle =
      o.protocol === undefined
        ? open(lib)(o.ifname, o.ifindex, o.groups, o.rcvBuf ?? 0, onPacket, onErr)
        : open(lib)(o.ifname, o.ifindex, o.groups, o.rcvBuf ?? 0, onPacket, onErr, o.protocol);
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
      lib.closeRecv(h);
    },
  };
}

/**
 * Opens an IPv6 receiver on one interface: binds it, sizes its buffer, joins
 * the groups, and calls onPacket for each packet (dst, ttl and age set) until
 * close(). Throws a RecvError naming the step that failed (ENODEV for a
 * missing interface, EPERM without CAP_NET_RAW / CAP_NET_ADMIN), or a
 * TypeError / RangeError for bad options. An exception thrown by onPacket is
 * an uncaught exception, as from any Node socket's event.
 */
export function openVrrp6Receiver(o: VrrpReceiverOptions, onPacket: (rx: Received6) => void, onError: (err: RecvError) => void): VrrpReceiver {
  return open(
    (lib) => lib.openRecv6,
    o,
    typeof onPacket === 'function'
      ? (payload, src, dst, hopLimit, ifindex, ageMs) => onPacket({ family: 6, src, dst, ttl: hopLimit, payload, ifindex, ageMs })
      : (onPacket as never),
    onError,
    'openVrrp6Receiver',
  );
}

/**
 * The same for IPv4: onPacket gets each whole IP packet, header included
 * (TTL and destination are in it), and its age. `o.protocol` 51 receives
 * IPsec AH packets (auth_type AH) instead of VRRP.
 */
export function openVrrp4Receiver(
  o: VrrpReceiverOptions,
  onPacket: (packet: Buffer, ageMs: PacketAge) => void,
  onError: (err: RecvError) => void,
): VrrpReceiver {
  return open(
    (lib) => lib.openRecv4,
    o,
    typeof onPacket === 'function' ? (packet, _src, _dst, _hop, _ifindex, ageMs) => onPacket(packet, ageMs) : (onPacket as never),
    onError,
    'openVrrp4Receiver',
  );
}

/**
 * A classic BPF program of one instruction, `ret 0`, as the struct sock_fprog
 * that setsockopt(SOL_SOCKET, SO_ATTACH_FILTER) takes: attached to a raw
 * socket that only sends, it keeps the kernel from queueing it a copy of every
 * received packet. For RawSocket's `setOption(1, 26, buf)` (the struct points
 * into the addon, which JavaScript cannot do itself).
 */
export function dropAllFilter(): Buffer {
  return addon().dropAllFilter();
}
