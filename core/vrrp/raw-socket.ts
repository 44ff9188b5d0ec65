import { nativeAddon } from './packet-socket';

/**
 * A raw IP socket from the project's N-API addon (native/raw_socket.c): VRRP
 * sends on one (IP protocol 112, and 51 for auth_type AH, with the IP header
 * written by alived: IP_HDRINCL / IPV6_HDRINCL through setOption), and the
 * lab's pinger sends and receives ICMP on one.
 *
 * A packet goes to sendto(2) at once; when the socket buffer is full
 * (EAGAIN) it waits in a queue, in order with those after it, until the
 * kernel takes packets again. The socket receives only when opened with
 * onPacket; without it, it never reads, and whatever the kernel queues to it
 * stays there (a sender attaches a drop-all filter so nothing is queued).
 * Like every socket it acts in the network namespace of the process that
 * opens it; opening one needs CAP_NET_RAW.
 */

interface RawAddon {
  openRaw(family: 4 | 6, protocol: number, onError: (err: Error) => void, onWritable: () => void, onPacket?: (packet: Buffer, src: string) => void): object;
  setRawOption(handle: object, level: number, name: number, value: number | Buffer): void;
  sendRaw(handle: object, packet: Uint8Array, address: string): number;
  waitWritable(handle: object): void;
  closeRaw(handle: object): void;
}

export interface RawSocketOptions {
  family: 4 | 6;
  /** the IP protocol number: 112 (VRRP), 51 (IPsec AH), 1 (ICMP), ... */
  protocol: number;
  /** receives: each packet (IPv4: the whole packet, header included; IPv6: the payload) and its source */
  onPacket?: (packet: Buffer, src: string) => void;
  /** a failed receive or poll; sends report through their callbacks */
  onError?: (err: Error) => void;
}

/** called with the error, or with the bytes the kernel took */
export type SendCallback = (err: Error | null, bytes?: number) => void;

function addon(): RawAddon {
  const lib = nativeAddon() as Partial<RawAddon>;
  if (typeof lib.openRaw !== 'function' || typeof lib.sendRaw !== 'function' || typeof lib.waitWritable !== 'function') {
    throw new Error('the native addon (native/build) predates its raw sockets: rebuild it with `npm run build:native` in the alived checkout');
  }
  return lib as RawAddon;
}

function isWouldBlock(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

export class RawSocket {
  private handle: object | undefined;
  /** packets the kernel could not take yet, oldest first */
  private readonly queue: { packet: Uint8Array; address: string; cb: SendCallback | undefined }[] = [];

  private constructor(
    private readonly lib: RawAddon,
    readonly family: 4 | 6,
    protocol: number,
    onPacket: ((packet: Buffer, src: string) => void) | undefined,
    onError: ((err: Error) => void) | undefined,
  ) {
    const reportError = (err: Error): void => {
      if (this.handle) onError?.(err);
    };
    this.handle = lib.openRaw(family, protocol, reportError, () => this.flush(), onPacket);
  }

  /** Opens the socket; throws the system error (EPERM without CAP_NET_RAW) with its code, errno and syscall. */
  static open(o: RawSocketOptions): RawSocket {
    return new RawSocket(addon(), o.family, o.protocol, o.onPacket, o.onError);
  }

  /** True until close(). */
  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /** Packets waiting for the socket buffer to drain. */
  get queued(): number {
    return this.queue.length;
  }

  /** setsockopt(2): an int option, or a Buffer passed as it is. Throws the system error. */
  setOption(level: number, name: number, value: number | Buffer): void {
    if (!this.handle) throw Object.assign(new Error('setsockopt: the raw socket is closed'), { code: 'EBADF' });
    this.lib.setRawOption(this.handle, level, name, value);
  }

  /**
   * Sends one packet to `address` (IPv6: with `%ifname` for a link-local or
   * link-scope multicast destination). It goes out at once when nothing
   * waits before it: `cb` then runs before send() returns. When the socket
   * buffer is full it waits, and `cb` runs once the kernel took it or
   * refused it. The packet must not change while it waits. A packet still
   * waiting at close() is dropped, its callback never called.
   */
  send(packet: Uint8Array, address: string, cb?: SendCallback): void {
    if (!this.handle) {
      cb?.(Object.assign(new Error('sendto: the raw socket is closed'), { code: 'EBADF' }));
      return;
    }
    if (this.queue.length === 0) {
      let bytes: number;
      try {
        bytes = this.lib.sendRaw(this.handle, packet, address);
      } catch (err) {
        if (!isWouldBlock(err)) {
          cb?.(err as Error);
          return;
        }
        this.queue.push({ packet, address, cb });
        this.lib.waitWritable(this.handle);
        return;
      }
      cb?.(null, bytes);
      return;
    }
    this.queue.push({ packet, address, cb });
  }

  /** the socket takes packets again: send what waits, in order, until it is full again */
  private flush(): void {
    while (this.handle && this.queue.length > 0) {
      const next = this.queue[0]!;
      let bytes: number;
      try {
        bytes = this.lib.sendRaw(this.handle, next.packet, next.address);
      } catch (err) {
        if (isWouldBlock(err)) {
          this.lib.waitWritable(this.handle);
          return;
        }
        this.queue.shift();
        next.cb?.(err as Error);
        continue;
      }
      this.queue.shift();
      next.cb?.(null, bytes);
    }
  }

  /** Closes the socket (idempotent); packets still waiting are dropped. */
  close(): void {
    const h = this.handle;
    if (!h) return;
    this.handle = undefined;
    this.queue.length = 0;
    this.lib.closeRaw(h);
  }
}
