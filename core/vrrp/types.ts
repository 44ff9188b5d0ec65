/**
 * Shared shapes of the VRRP engine: the state names, the clock the state
 * machine runs on, the counters an instance keeps, and the decoded advert.
 * The codec (packet.ts), the machine (machine.ts), the sockets, the VIP
 * manager and the announcer all speak these types.
 */

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';
export type VrrpVersion = 2 | 3;
export type IpFamily = 4 | 6;

/** VRRP is IP protocol 112; its multicast groups are fixed by RFC 5798. */
export const VRRP_PROTOCOL = 112;
export const VRRP_MCAST_V4 = '224.0.0.18';
export const VRRP_MCAST_V6 = 'ff02::12';
export const VRRP_TTL = 255;

export interface TimerHandle {
  readonly id: number;
}

/**
 * Time as the state machine sees it: a monotonic clock in milliseconds and
 * one-shot timers. The daemon passes a real one; tests pass a fake one that
 * advances without sleeping.
 */
export interface Clock {
  now(): number;
  /**
   * A one-shot timer. `precise`: fire at the deadline itself rather than at
   * the event loop's next millisecond tick (the master-down and skew timers,
   * which decide a takeover; at most once per takeover, so worth a short wait).
   */
  setTimer(ms: number, fn: () => void, precise?: boolean): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** A decoded advert, valid as far as the packet alone can tell. */
export interface Advert {
  version: VrrpVersion;
  /** 1: ADVERTISEMENT, the only type VRRP defines */
  type: number;
  vrid: number;
  priority: number;
  /** the advert interval in centiseconds (v2's whole seconds are converted) */
  advertIntCs: number;
  /** v2 only: 0 none, 1 simple text password, 2 IP authentication header */
  authType: number;
  /** v2 auth PASS: the 8 bytes of the authentication data, as sent */
  authData?: Buffer;
  /** the virtual addresses listed in the advert, in textual form */
  addresses: string[];
  /** the checksum as carried in the packet */
  checksum: number;
}

/** What arrived on the wire, before any check of the VRRP payload. */
export interface Received {
  family: IpFamily;
  /** source address of the IP packet */
  src: string;
  /** destination address of the IP packet */
  dst: string;
  /** TTL (IPv4) or hop limit (IPv6); undefined when the kernel did not say */
  ttl: number | undefined;
  /** the VRRP packet: IP payload from the VRRP header on */
  payload: Buffer;
  /** it came inside an IPsec AH header (IP protocol 51, auth_type AH) */
  ah?: ReceivedAh;
}

/** The IPsec AH header of an advert that came as IP protocol 51: what its checks need (core/vrrp/ah.ts). */
export interface ReceivedAh {
  /** the IPv4 header as received, options included */
  ipHeader: Buffer;
  /** the 24-byte AH header as received, ICV included */
  header: Buffer;
  spi: number;
  seq: number;
}

/**
 * Per-instance statistics, named as keepalived's `vrrp.stats` file names
 * them (`Advertisements: Received / Sent`, `Became master`, ...).
 */
export interface VrrpCounters {
  advertRcvd: number;
  advertSent: number;
  becomeMaster: number;
  releaseMaster: number;
  packetLenErr: number;
  ipTtlErr: number;
  invalidTypeRcvd: number;
  advertIntervalErr: number;
  addrListErr: number;
  invalidAuthType: number;
  authTypeMismatch: number;
  authFailure: number;
  priZeroRcvd: number;
  priZeroSent: number;
  /** beyond keepalived: packets dropped for checksum, version or VRID */
  checksumErr: number;
  versionErr: number;
  vridErr: number;
  /** beyond keepalived: VIPs and virtual routes someone else removed from a master, put back / not put back */
  vipRestored: number;
  vipLost: number;
}

export function newCounters(): VrrpCounters {
  return {
    advertRcvd: 0,
    advertSent: 0,
    becomeMaster: 0,
    releaseMaster: 0,
    packetLenErr: 0,
    ipTtlErr: 0,
    invalidTypeRcvd: 0,
    advertIntervalErr: 0,
    addrListErr: 0,
    invalidAuthType: 0,
    authTypeMismatch: 0,
    authFailure: 0,
    priZeroRcvd: 0,
    priZeroSent: 0,
    checksumErr: 0,
    versionErr: 0,
    vridErr: 0,
    vipRestored: 0,
    vipLost: 0,
  };
}
