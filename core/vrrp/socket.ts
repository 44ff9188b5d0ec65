import { commitPoint } from './clock';
import { dropAllFilter, openVrrp4Receiver, openVrrp6Receiver, type PacketAge, type VrrpReceiver } from './receiver';
import { AlivedError } from '../errors';
import { ipToBytes } from '../net/address';
import { AH_PROTOCOL, encodeAhPacket } from './ah';
import { RawSocket } from './raw-socket';
import { VRRP_PROTOCOL, type IpFamily, type Received } from './types';

/**
 * Raw IP sockets for VRRP (protocol 112), from the project's addon
 * (raw-socket.ts, native/raw_socket.c).
 *
 * We write the IP header ourselves (IP_HDRINCL / IPV6_HDRINCL), as keepalived
 * does: the sending socket is bound to the interface only (SO_BINDTODEVICE),
 * not to an address, and the header is the only way to send from
 * `mcast_src_ip` / `unicast_src_ip` rather than from whatever address the
 * kernel would pick. It also gives keepalived's own header: TOS 0xc0 (network
 * control), TTL 255, no DF, an id counting up.
 *
 * One channel per interface and family; instances on it are told apart by
 * VRID by whoever listens. keepalived's auth_type AH (IPv4, VRRPv2) sends
 * IP protocol 51, an IPsec AH header around the VRRP packet (ah.ts): the same
 * socket sends it (the header is ours), and a second receiver, opened while
 * an instance on the channel uses AH (openAh), receives protocol 51.
 *
 * Both families receive through the addon's receivers (receiver.ts), which
 * read ancillary data: the kernel's receive stamp of each packet (a backup's
 * down timer counts from it), and for IPv6, whose raw sockets hand over no
 * header, the hop limit and destination. (An IPv4 raw socket hands the whole
 * IP header, TTL and destination included.) The sending socket only sends
 * (see open()).
 */

// Linux socket option numbers
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_BINDTODEVICE = 25;
const SO_ATTACH_FILTER = 26;
/** a burst of adverts (or a flood) waits here while the event loop is busy; the kernel default (~200 KB) holds ~90 packets */
const DEFAULT_RCVBUF = 4 * 1024 * 1024;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const IP_MULTICAST_IF = 32;
const IP_MULTICAST_LOOP = 34;
const IPPROTO_IPV6 = 41;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_MULTICAST_LOOP = 19;
const IPV6_HDRINCL = 36;

export interface ChannelOptions {
  family: IpFamily;
  ifname: string;
  ifindex: number;
  /** multicast groups to join on the interface (224.0.0.18 / ff02::12 unless mcast_dst_ip says otherwise) */
  groups: string[];
  /** kernel receive buffer in bytes (kernel_rx_buf_size); default 4 MiB */
  rcvBuf?: number;
}

export interface SendOptions {
  src: string;
  dst: string;
  /** 255 for multicast; unicast_ttl for unicast */
  ttl: number;
  /** auth_type AH (IPv4): sent as protocol 51 inside an AH header with this key and sequence number */
  ah?: { key: Buffer; seq: number; unicast: boolean };
}

/** A VRRP channel could not be opened, configured or written (ALIVED_VRRP_SOCKET); `errno` names the system error when there was one. */
export class ChannelError extends AlivedError {
  constructor(message: string, options?: { cause?: unknown }) {
    // a receiver's RecvError carries its errno name in errno, a Node system error in code
    const errno = (options?.cause as { errno?: unknown } | undefined)?.errno;
    super('ALIVED_VRRP_SOCKET', message, { ...options, ...(typeof errno === 'string' ? { errno } : {}) });
  }
}

/** A raw socket for protocol 112 on one interface and family. */
export class VrrpChannel {
  private sock: RawSocket | undefined;
  /** the receiving side (the sending socket only sends) */
  private receiver: VrrpReceiver | undefined;
  /** the receiver of IP protocol 51 (auth_type AH), while an instance on the channel uses it */
  private ahReceiver: VrrpReceiver | undefined;
  private ipId = 0;
  private closed = false;
  private listener: ((rx: Received | Buffer, ageMs: PacketAge) => void) | undefined;
  private errorListener: ((err: Error) => void) | undefined;
  /** send errors since the last success (logged by the owner, not thrown) */
  sendErrors = 0;

  constructor(readonly options: ChannelOptions) {}

  /**
   * Opens the socket, binds it to the interface, joins the groups. Throws a ChannelError naming what failed.
   * IPv4 packets arrive whole (header included, as a Buffer); IPv6 ones as a Received with the
   * destination and hop limit the kernel reported (and the ifindex). With each, how long ago the
   * kernel received it (ms; undefined without a stamp).
   */
  open(onPacket: (rx: Received | Buffer, ageMs: PacketAge) => void, onError: (err: Error) => void): void {
    const o = this.options;
    this.listener = onPacket;
    this.errorListener = onError;
    const what = `VRRP socket on ${o.ifname} (IPv${o.family})`;
    let sock: RawSocket;
    try {
      // no onPacket: it never reads
      sock = RawSocket.open({ family: o.family, protocol: VRRP_PROTOCOL });
    } catch (err) {
      throw new ChannelError(`opening the ${what}: ${(err as Error).message}`, { cause: err });
    }
    this.sock = sock;
    const step = (label: string, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        this.close();
        throw new ChannelError(`${label} for the ${what}: ${(err as Error).message}`, { cause: err });
      }
    };
    // This socket only sends; the receiver reads. The kernel must not queue it a copy of every packet
    // for protocol 112 either: a BPF program that accepts nothing drops each copy before it is queued (counted in
    // the socket's drops, /proc/net/raw and raw6). What came in before the filter (microseconds, and
    // not yet bound to the interface) is bounded by the smallest receive buffer the kernel allows.
    step('attaching a drop-all filter (SO_ATTACH_FILTER)', () => {
      const prog = dropAllFilter();
      sock.setOption(SOL_SOCKET, SO_ATTACH_FILTER, prog);
    });
    step('shrinking the receive buffer', () => sock.setOption(SOL_SOCKET, SO_RCVBUF, 0));
    const ifnameBuf = Buffer.from(`${o.ifname}\0`);
    step('binding to the interface', () => sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, ifnameBuf));
    if (o.family === 4) {
      step('IP_HDRINCL', () => sock.setOption(IPPROTO_IP, IP_HDRINCL, 1));
      step('choosing the multicast interface', () => sock.setOption(IPPROTO_IP, IP_MULTICAST_IF, mreqn('0.0.0.0', o.ifindex)));
      step('turning off multicast loop', () => sock.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0));
    } else {
      step('IPV6_HDRINCL', () => sock.setOption(IPPROTO_IPV6, IPV6_HDRINCL, 1));
      step('choosing the multicast interface', () => sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_IF, o.ifindex));
      step('setting the multicast hop limit', () => sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255));
      step('turning off multicast loop', () => sock.setOption(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0));
    }
    // the receiver joins the groups; FORCE: root may pass net.core.rmem_max, as keepalived's kernel_rx_buf_size does
    const ro = { ifname: o.ifname, ifindex: o.ifindex, groups: o.groups, rcvBuf: o.rcvBuf ?? DEFAULT_RCVBUF };
    const onRecvError = (err: Error): void => {
      if (!this.closed) this.errorListener?.(new ChannelError(`${what}: ${err.message}`, { cause: err }));
    };
    try {
      this.receiver =
        o.family === 4
          ? openVrrp4Receiver(
              ro,
              (packet, ageMs) => {
                if (!this.closed) this.listener?.(packet, ageMs);
              },
              onRecvError,
            )
          : openVrrp6Receiver(
              ro,
              (rx) => {
                if (!this.closed) this.listener?.(rx, rx.ageMs);
              },
              onRecvError,
            );
    } catch (err) {
      this.close();
      throw new ChannelError(`opening the receiver for the ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Receives IP protocol 51 (IPsec AH) as well, for instances with auth_type
   * AH (IPv4): its packets reach the same listener, whole. Idempotent. Throws
   * a ChannelError naming what failed.
   */
  openAh(): void {
    if (this.ahReceiver || this.closed || !this.listener) return;
    const o = this.options;
    if (o.family !== 4) throw new ChannelError(`IPsec AH (auth_type AH) is IPv4 only, and ${o.ifname}'s channel is IPv6`);
    try {
      this.ahReceiver = openVrrp4Receiver(
        { ifname: o.ifname, ifindex: o.ifindex, groups: o.groups, rcvBuf: o.rcvBuf ?? DEFAULT_RCVBUF, protocol: AH_PROTOCOL },
        (packet, ageMs) => {
          if (!this.closed) this.listener?.(packet, ageMs);
        },
        (err) => {
          if (!this.closed) this.errorListener?.(new ChannelError(`IPsec AH socket on ${o.ifname}: ${err.message}`, { cause: err }));
        },
      );
    } catch (err) {
      throw new ChannelError(`opening the IPsec AH (protocol 51) receiver on ${o.ifname}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Stops receiving protocol 51: no instance on the channel uses AH any more. */
  closeAh(): void {
    const r = this.ahReceiver;
    this.ahReceiver = undefined;
    r?.close();
  }

  /** True while protocol 51 is received (openAh). */
  get receivesAh(): boolean {
    return this.ahReceiver !== undefined;
  }

  /** Sends one VRRP packet from `src` to `dst` (inside an AH header with `o.ah`). Errors go to the error listener, never thrown. */
  send(payload: Buffer, o: SendOptions): void {
    if (!this.sock || this.closed) return;
    const family = this.options.family;
    const packet = family === 4 ? this.ipv4(payload, o) : ipv6Packet(payload, o);
    const dst = family === 6 && isLinkLocal6(o.dst) ? `${o.dst}%${this.options.ifname}` : o.dst;
    // built ahead, sent no earlier than a takeover's deadline
    commitPoint();
    // out at once (the callback runs before send() returns), or behind a full socket buffer
    this.sock.send(packet, dst, (err) => {
      if (err) {
        this.sendErrors++;
        if (!this.closed) this.errorListener?.(new ChannelError(`sending a VRRP packet to ${o.dst} on ${this.options.ifname}: ${err.message}`, { cause: err }));
      } else this.sendErrors = 0;
    });
  }

  private ipv4(payload: Buffer, o: SendOptions): Buffer {
    this.ipId = (this.ipId + 1) & 0xffff;
    if (!o.ah) return ipv4Packet(payload, o, this.ipId);
    // the id is in the ICV: it must not be 0, which the kernel would replace after the ICV was computed
    if (this.ipId === 0) this.ipId = 1;
    return encodeAhPacket({ vrrp: payload, src: o.src, dst: o.dst, ttl: o.ttl, id: this.ipId, seq: o.ah.seq, key: o.ah.key, unicast: o.ah.unicast });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const receiver = this.receiver;
    this.receiver = undefined;
    // closing the receiver's socket leaves its groups
    receiver?.close();
    this.closeAh();
    const sock = this.sock;
    this.sock = undefined;
    if (!sock) return;
    try {
      sock.close();
    } catch {
      // already closed
    }
  }
}

/** An IPv4 header in keepalived's form (TOS 0xc0, no DF) followed by the VRRP packet. */
export function ipv4Packet(payload: Buffer, o: SendOptions, id: number): Buffer {
  // from Node's pool: one is built at every advert, and every byte of it is written here
  const p = Buffer.allocUnsafe(20 + payload.length);
  p[0] = 0x45;
  p[1] = 0xc0;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(id & 0xffff, 4);
  p.writeUInt16BE(0, 6);
  p[8] = o.ttl;
  p[9] = VRRP_PROTOCOL;
  p.writeUInt16BE(0, 10);
  writeIpv4(p, 12, o.src);
  writeIpv4(p, 16, o.dst);
  p.writeUInt16BE(inetChecksum(p.subarray(0, 20)), 10);
  payload.copy(p, 20);
  return p;
}

/** An IPv6 header (traffic class 0xc0, hop limit as given) followed by the VRRP packet. */
export function ipv6Packet(payload: Buffer, o: SendOptions): Buffer {
  const p = Buffer.alloc(40 + payload.length);
  p.writeUInt32BE((6 << 28) | (0xc0 << 20), 0);
  p.writeUInt16BE(payload.length, 4);
  p[6] = VRRP_PROTOCOL;
  p[7] = o.ttl;
  ipv6Bytes(o.src).copy(p, 8);
  ipv6Bytes(o.dst).copy(p, 24);
  payload.copy(p, 40);
  return p;
}

export function inetChecksum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** parsed IPv4 addresses: an instance sends from and to the same few at every advert */
const ipv4Parsed = new Map<string, Buffer>();

function writeIpv4(buf: Buffer, at: number, addr: string): void {
  let b = ipv4Parsed.get(addr);
  if (!b) {
    b = ipToBytes(addr, 4);
    if (!b) throw new ChannelError(`'${addr}' is not an IPv4 address`);
    // a daemon's own addresses are few; bounded all the same
    if (ipv4Parsed.size >= 1024) ipv4Parsed.clear();
    ipv4Parsed.set(addr, b);
  }
  b.copy(buf, at);
}

function mreqn(group: string, ifindex: number): Buffer {
  const b = Buffer.alloc(12);
  writeIpv4(b, 0, group);
  b.writeInt32LE(ifindex, 8);
  return b;
}

/** The 16 bytes of an IPv6 address (any textual form, zone ids ignored): the codec's parser. */
export function ipv6Bytes(addr: string): Buffer {
  const b = ipToBytes(addr, 6);
  if (!b) throw new ChannelError(`'${addr}' is not an IPv6 address`);
  return b;
}

function isLinkLocal6(addr: string): boolean {
  const b = ipv6Bytes(addr);
  return (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) || (b[0] === 0xff && (b[1]! & 0x0f) === 0x02);
}
