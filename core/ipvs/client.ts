import * as net from 'node:net';
import { createGenericNetlink, genl, parseError, type GenericNetlinkSocket, type NetlinkMessage } from 'netlink';
import { AlivedError } from '../errors';
import { bytesToIp, canonicalIp, ipToBytes } from '../net/address';
import { errnoName } from '../net/errno';
import { attr, be16, cstring, getBe16, getStr, getU16, getU32, getU64, nest, parseAttrs, u16, u32, u8 } from '../netlink/attrs';

/**
 * The kernel's IPVS table over generic netlink (family "IPVS"), with no
 * ipvsadm in between: services by address, protocol and port or by
 * firewall mark, their destinations, every scheduler and its flags, NAT /
 * DR / TUN forwarding with the tunnel's options, persistence, weights,
 * thresholds, the connection timeouts, and dumps with their counters.
 * Every attribute is the one <linux/ip_vs.h> defines and ipvsadm's libipvs
 * sends.
 *
 * The socket acts in the network namespace of the process that opens it;
 * each namespace has a table of its own. Mutations are pipelined (a window
 * of requests in flight); a dump has the socket to itself, as the netlink
 * package joins the datagrams of one multipart answer by order of arrival.
 */

// ---------------------------------------------------------------------------
// <linux/ip_vs.h>

const IPVS_GENL_NAME = 'IPVS';
const IPVS_GENL_VERSION = 1;

const CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;
type Cmd = (typeof CMD)[keyof typeof CMD];

const CMD_ATTR = { SERVICE: 1, DEST: 2, DAEMON: 3, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 } as const;
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE_NAME: 11, STATS64: 12 } as const;
const DEST = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
const STATS = { CONNS: 1, INPKTS: 2, OUTPKTS: 3, INBYTES: 4, OUTBYTES: 5, CPS: 6, INPPS: 7, OUTPPS: 8, INBPS: 9, OUTBPS: 10 } as const;
const INFO = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;
const DAEMON = { STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7, MCAST_TTL: 8 } as const;
/** IP_VS_STATE_*: the sync daemon's role */
const SYNC_STATE = { master: 1, backup: 2 } as const;

/** IP_VS_SVC_F_* */
export const SERVICE_FLAG = { PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20 } as const;

/** IP_VS_CONN_F_* forwarding methods */
const FWD = { NAT: 0, LOCAL: 1, TUN: 2, DR: 3, BYPASS: 4 } as const;
const TUN_TYPE = { ipip: 0, gue: 1, gre: 2 } as const;
const TUN_FLAG = { csum: 0x1, remcsum: 0x2 } as const;

const AF_INET = 2;
const AF_INET6 = 10;
const PROTO = { tcp: 6, udp: 17, sctp: 132 } as const;

const NLMSG_ERROR = 2;
const NLM_F_DUMP = 0x300;

// ---------------------------------------------------------------------------
// the model

export type IpvsProtocol = keyof typeof PROTO;
export type ForwardMethod = 'NAT' | 'DR' | 'TUN' | 'LOCAL' | 'BYPASS';
export type TunnelType = keyof typeof TUN_TYPE;
export type TunnelChecksum = 'nocsum' | 'csum' | 'remcsum';

/** What names a service: address, protocol and port, or a firewall mark (with the family of its destinations). */
export type ServiceKey =
  | { readonly family: 4 | 6; readonly protocol: IpvsProtocol; readonly address: string; readonly port: number; readonly fwmark?: undefined }
  | { readonly family: 4 | 6; readonly fwmark: number; readonly protocol?: undefined; readonly address?: undefined; readonly port?: undefined };

export interface ServiceSettings {
  readonly scheduler: string;
  /** IP_VS_SVC_F_* bits; PERSISTENT follows `timeout` */
  readonly flags: number;
  /** persistence timeout in seconds; 0: not persistent */
  readonly timeout: number;
  /** persistence granularity: an IPv4 netmask (255.255.255.255 when unset), or an IPv6 prefix length (128) */
  readonly netmask: string | number;
  /** persistence engine (sip), or undefined */
  readonly persistenceEngine?: string | undefined;
}

export interface ServiceSpec extends ServiceSettings {
  readonly key: ServiceKey;
}

export interface TunnelSettings {
  readonly type: TunnelType;
  /** the GUE port */
  readonly port?: number | undefined;
  readonly checksum?: TunnelChecksum | undefined;
}

export interface DestinationSpec {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
  readonly method: ForwardMethod;
  readonly weight: number;
  /** 0: no limit */
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  /** TUN only */
  readonly tunnel?: TunnelSettings | undefined;
}

export interface IpvsStats {
  readonly connections: number;
  readonly inPackets: number;
  readonly outPackets: number;
  readonly inBytes: number;
  readonly outBytes: number;
  readonly cps: number;
  readonly inPps: number;
  readonly outPps: number;
  readonly inBps: number;
  readonly outBps: number;
}

export interface ServiceEntry extends ServiceSpec {
  readonly stats: IpvsStats;
}

export interface DestinationEntry extends DestinationSpec {
  readonly activeConnections: number;
  readonly inactiveConnections: number;
  readonly persistentConnections: number;
  readonly stats: IpvsStats;
}

export interface IpvsTimeouts {
  /** seconds; 0 in a request: leave as it is */
  readonly tcp: number;
  readonly tcpFin: number;
  readonly udp: number;
}

export type SyncDaemonState = keyof typeof SYNC_STATE;

/**
 * The connection synchronisation daemon of one role (ipvsadm
 * --start-daemon): a master sends the connections of this director to a
 * multicast group, a backup receives them into its table.
 */
export interface SyncDaemonSpec {
  readonly state: SyncDaemonState;
  /** the multicast interface */
  readonly interface: string;
  /** 0..255; a backup takes only the messages of its id */
  readonly syncId: number;
  /** the largest sync message, bytes; the kernel's default (from the MTU) when unset */
  readonly maxlen?: number | undefined;
  /** UDP port; 8848 when unset */
  readonly port?: number | undefined;
  /** the master's multicast TTL; 1 when unset */
  readonly ttl?: number | undefined;
  /** the multicast group, IPv4 or IPv6; 224.0.0.81 when unset */
  readonly group?: string | undefined;
}

/** A sync daemon as the kernel reports it: every field set, defaults included. */
export interface SyncDaemonEntry extends SyncDaemonSpec {
  readonly maxlen: number;
  readonly port: number;
  readonly ttl: number;
  readonly group: string;
}

export interface IpvsInfo {
  /** e.g. 1.2.1 */
  readonly version: string;
  readonly connectionTableSize: number;
}

/** `TCP 10.0.0.1:80`, `UDP [2001:db8::1]:53`, `FWM 5` */
export function describeService(key: ServiceKey): string {
  if (key.fwmark !== undefined) return `FWM ${key.fwmark}${key.family === 6 ? ' IPv6' : ''}`;
  return `${key.protocol.toUpperCase()} ${hostPort(key.address, key.port)}`;
}

export function hostPort(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One string per service, equal for the same service however its address is written. */
export function serviceId(key: ServiceKey): string {
  if (key.fwmark !== undefined) return `fwm|${key.family}|${key.fwmark}`;
  return `${key.protocol}|${canonicalIp(key.address)}|${key.port}`;
}

export function destinationId(d: { address: string; port: number }): string {
  return `${canonicalIp(d.address)}|${d.port}`;
}

// ---------------------------------------------------------------------------
// errors

/**
 * An IPVS request the kernel refused or that could not be made
 * (ALIVED_IPVS_FAILED): what was asked and why; `errno` is the errno name
 * (EEXIST, ESRCH, ENOENT, ..., or ENOPROTOOPT when the kernel has no IPVS).
 */
export class IpvsError extends AlivedError {
  constructor(
    message: string,
    errno: string,
    /** the negated errno the kernel answered; undefined for errors alived found itself */
    readonly errnoNumber?: number,
  ) {
    super('ALIVED_IPVS_FAILED', message, { errno });
  }
}

/** ipvsadm's reading of the errors of each command (libipvs ipvs_strerror()) */
const REASONS: Partial<Record<Cmd, Record<string, string>>> = {
  [CMD.NEW_SERVICE]: {
    EEXIST: 'the service already exists',
    ENOENT: 'the kernel has no such scheduler or persistence engine (module not loaded or not built)',
  },
  [CMD.SET_SERVICE]: { ESRCH: 'no such service', ENOENT: 'the kernel has no such scheduler or persistence engine (module not loaded or not built)' },
  [CMD.DEL_SERVICE]: { ESRCH: 'no such service' },
  [CMD.NEW_DEST]: { ESRCH: 'the service does not exist', EEXIST: 'the destination already exists' },
  [CMD.SET_DEST]: { ESRCH: 'the service does not exist', ENOENT: 'no such destination' },
  [CMD.DEL_DEST]: { ESRCH: 'the service does not exist', ENOENT: 'no such destination' },
  [CMD.GET_DEST]: { ESRCH: 'the service does not exist' },
  [CMD.ZERO]: { ESRCH: 'no such service' },
  [CMD.NEW_DAEMON]: {
    EEXIST: 'a sync daemon of that role already runs',
    ENODEV: 'no such interface in this network namespace',
    EADDRNOTAVAIL: 'the interface has no address to send from',
  },
  [CMD.DEL_DAEMON]: { ESRCH: 'no sync daemon of that role runs' },
};

function errorOf(what: string, cmd: Cmd, errno: number): IpvsError {
  const { name, description } = errnoName(errno);
  const reason = REASONS[cmd]?.[name] ?? (name === 'EPERM' ? 'permission denied (IPVS needs CAP_NET_ADMIN)' : (description ?? `error ${-errno}`));
  return new IpvsError(`${what}: ${reason} (${name})`, name, errno);
}

// ---------------------------------------------------------------------------
// encoding

/** union nf_inet_addr: always 16 bytes */
function inetAddr(address: string, what: string): Buffer {
  const b = ipToBytes(address);
  if (!b) throw new IpvsError(`${what}: '${address}' is not an IP address`, 'EINVAL');
  const out = Buffer.alloc(16);
  b.copy(out);
  return out;
}

function familyOf(address: string): 4 | 6 {
  return net.isIPv6(address) ? 6 : 4;
}

/** the netmask attribute: IPv4 netmask bytes in network order, IPv6 a prefix length */
function netmaskAttr(family: 4 | 6, netmask: string | number): Buffer {
  if (family === 6) return u32(typeof netmask === 'number' ? netmask : 128);
  const text = typeof netmask === 'string' ? netmask : '255.255.255.255';
  const b = ipToBytes(text);
  return b && b.length === 4 ? Buffer.from(b) : Buffer.from([255, 255, 255, 255]);
}

/** the attributes that name a service (enough for DEL_SERVICE, GET_DEST and as the parent of a destination) */
function serviceKeyAttrs(key: ServiceKey, what: string): Buffer[] {
  const af = key.family === 6 ? AF_INET6 : AF_INET;
  if (key.fwmark !== undefined) return [attr(SVC.AF, u16(af)), attr(SVC.FWMARK, u32(key.fwmark))];
  return [attr(SVC.AF, u16(af)), attr(SVC.PROTOCOL, u16(PROTO[key.protocol])), attr(SVC.ADDR, inetAddr(key.address, what)), attr(SVC.PORT, be16(key.port))];
}

/** every attribute of a service, as NEW_SERVICE and SET_SERVICE need them */
function serviceAttrs(s: ServiceSpec, what: string): Buffer[] {
  const flags = Buffer.alloc(8);
  const bits = (s.flags & ~SERVICE_FLAG.PERSISTENT) | (s.timeout > 0 ? SERVICE_FLAG.PERSISTENT : 0);
  flags.writeUInt32LE(bits >>> 0, 0);
  // the mask: every flag is set to what `bits` says
  flags.writeUInt32LE(0xffffffff, 4);
  return [
    ...serviceKeyAttrs(s.key, what),
    attr(SVC.SCHED_NAME, cstring(s.scheduler)),
    ...(s.persistenceEngine ? [attr(SVC.PE_NAME, cstring(s.persistenceEngine))] : []),
    attr(SVC.FLAGS, flags),
    attr(SVC.TIMEOUT, u32(s.timeout)),
    attr(SVC.NETMASK, netmaskAttr(s.key.family, s.netmask)),
  ];
}

const METHOD_CODE: Record<ForwardMethod, number> = { NAT: FWD.NAT, LOCAL: FWD.LOCAL, TUN: FWD.TUN, DR: FWD.DR, BYPASS: FWD.BYPASS };

function destAttrs(d: DestinationSpec, what: string, keyOnly = false): Buffer[] {
  const out = [attr(DEST.ADDR_FAMILY, u16(d.family === 6 ? AF_INET6 : AF_INET)), attr(DEST.ADDR, inetAddr(d.address, what)), attr(DEST.PORT, be16(d.port))];
  if (keyOnly) return out;
  out.push(attr(DEST.FWD_METHOD, u32(METHOD_CODE[d.method])), attr(DEST.WEIGHT, u32(d.weight)));
  if (d.method === 'TUN') {
    const t = d.tunnel ?? { type: 'ipip' };
    out.push(attr(DEST.TUN_TYPE, u8(TUN_TYPE[t.type])));
    if (t.type === 'gue') out.push(attr(DEST.TUN_PORT, be16(t.port ?? 0)));
    if (t.type !== 'ipip') {
      const f = t.checksum === 'csum' ? TUN_FLAG.csum : t.checksum === 'remcsum' ? TUN_FLAG.remcsum : 0;
      out.push(attr(DEST.TUN_FLAGS, u16(f)));
    }
  }
  out.push(attr(DEST.U_THRESH, u32(d.upperThreshold)), attr(DEST.L_THRESH, u32(d.lowerThreshold)));
  return out;
}

// ---------------------------------------------------------------------------
// decoding

function addrText(b: Buffer | undefined, family: 4 | 6): string {
  if (!b) return family === 6 ? '::' : '0.0.0.0';
  return bytesToIp(family === 6 ? b.subarray(0, 16) : b.subarray(0, 4));
}

function parseStats(b: Buffer | undefined): IpvsStats {
  const a = b ? parseAttrs(b) : new Map<number, Buffer>();
  return {
    connections: getU64(a.get(STATS.CONNS)),
    inPackets: getU64(a.get(STATS.INPKTS)),
    outPackets: getU64(a.get(STATS.OUTPKTS)),
    inBytes: getU64(a.get(STATS.INBYTES)),
    outBytes: getU64(a.get(STATS.OUTBYTES)),
    cps: getU64(a.get(STATS.CPS)),
    inPps: getU64(a.get(STATS.INPPS)),
    outPps: getU64(a.get(STATS.OUTPPS)),
    inBps: getU64(a.get(STATS.INBPS)),
    outBps: getU64(a.get(STATS.OUTBPS)),
  };
}

function parseService(b: Buffer): ServiceEntry {
  const a = parseAttrs(b);
  const family: 4 | 6 = getU16(a.get(SVC.AF)) === AF_INET6 ? 6 : 4;
  const fwmark = getU32(a.get(SVC.FWMARK));
  let key: ServiceKey;
  if (fwmark) key = { family, fwmark };
  else {
    const p = getU16(a.get(SVC.PROTOCOL));
    const protocol = (Object.keys(PROTO) as IpvsProtocol[]).find((k) => PROTO[k] === p) ?? 'tcp';
    key = { family, protocol, address: addrText(a.get(SVC.ADDR), family), port: getBe16(a.get(SVC.PORT)) };
  }
  const nm = a.get(SVC.NETMASK);
  const pe = getStr(a.get(SVC.PE_NAME));
  return {
    key,
    scheduler: getStr(a.get(SVC.SCHED_NAME)),
    flags: getU32(a.get(SVC.FLAGS)),
    timeout: getU32(a.get(SVC.TIMEOUT)),
    netmask: family === 6 ? getU32(nm) : nm && nm.length >= 4 ? bytesToIp(nm.subarray(0, 4)) : '255.255.255.255',
    persistenceEngine: pe || undefined,
    stats: parseStats(a.get(SVC.STATS64) ?? a.get(SVC.STATS)),
  };
}

function parseDest(b: Buffer, serviceFamily: 4 | 6): DestinationEntry {
  const a = parseAttrs(b);
  const af = a.get(DEST.ADDR_FAMILY);
  const family: 4 | 6 = af ? (getU16(af) === AF_INET6 ? 6 : 4) : serviceFamily;
  const fwd = getU32(a.get(DEST.FWD_METHOD)) & 7;
  const method = (Object.keys(METHOD_CODE) as ForwardMethod[]).find((k) => METHOD_CODE[k] === fwd) ?? 'NAT';
  let tunnel: TunnelSettings | undefined;
  if (method === 'TUN') {
    const t = a.get(DEST.TUN_TYPE)?.[0] ?? 0;
    const type = (Object.keys(TUN_TYPE) as TunnelType[]).find((k) => TUN_TYPE[k] === t) ?? 'ipip';
    const f = getU16(a.get(DEST.TUN_FLAGS));
    tunnel = {
      type,
      ...(type === 'gue' ? { port: getBe16(a.get(DEST.TUN_PORT)) } : {}),
      ...(type !== 'ipip' ? { checksum: f & TUN_FLAG.remcsum ? 'remcsum' : f & TUN_FLAG.csum ? 'csum' : 'nocsum' } : {}),
    };
  }
  return {
    family,
    address: addrText(a.get(DEST.ADDR), family),
    port: getBe16(a.get(DEST.PORT)),
    method,
    weight: getU32(a.get(DEST.WEIGHT)),
    upperThreshold: getU32(a.get(DEST.U_THRESH)),
    lowerThreshold: getU32(a.get(DEST.L_THRESH)),
    ...(tunnel ? { tunnel } : {}),
    activeConnections: getU32(a.get(DEST.ACTIVE_CONNS)),
    inactiveConnections: getU32(a.get(DEST.INACT_CONNS)),
    persistentConnections: getU32(a.get(DEST.PERSIST_CONNS)),
    stats: parseStats(a.get(DEST.STATS64) ?? a.get(DEST.STATS)),
  };
}

function daemonAttrs(d: SyncDaemonSpec, what: string): Buffer[] {
  const out = [attr(DAEMON.STATE, u32(SYNC_STATE[d.state])), attr(DAEMON.MCAST_IFN, cstring(d.interface)), attr(DAEMON.SYNC_ID, u32(d.syncId))];
  // host order, as the kernel reads them (nla_get_u16 / nla_get_u8)
  if (d.maxlen) out.push(attr(DAEMON.SYNC_MAXLEN, u16(d.maxlen)));
  if (d.port) out.push(attr(DAEMON.MCAST_PORT, u16(d.port)));
  if (d.ttl) out.push(attr(DAEMON.MCAST_TTL, u8(d.ttl)));
  if (d.group) {
    const b = ipToBytes(d.group);
    if (!b) throw new IpvsError(`${what}: '${d.group}' is not an IP address`, 'EINVAL');
    out.push(attr(b.length === 4 ? DAEMON.MCAST_GROUP : DAEMON.MCAST_GROUP6, Buffer.from(b)));
  }
  return out;
}

function parseDaemon(b: Buffer): SyncDaemonEntry | undefined {
  const a = parseAttrs(b);
  const code = getU32(a.get(DAEMON.STATE));
  const state = (Object.keys(SYNC_STATE) as SyncDaemonState[]).find((k) => SYNC_STATE[k] === code);
  if (!state) return undefined;
  const g6 = a.get(DAEMON.MCAST_GROUP6);
  const g4 = a.get(DAEMON.MCAST_GROUP);
  return {
    state,
    interface: getStr(a.get(DAEMON.MCAST_IFN)),
    syncId: getU32(a.get(DAEMON.SYNC_ID)),
    maxlen: getU16(a.get(DAEMON.SYNC_MAXLEN)),
    port: getU16(a.get(DAEMON.MCAST_PORT)),
    ttl: a.get(DAEMON.MCAST_TTL)?.[0] ?? 0,
    group: g6 && g6.length >= 16 ? bytesToIp(g6.subarray(0, 16)) : g4 && g4.length >= 4 ? bytesToIp(g4.subarray(0, 4)) : '',
  };
}

/** `master sync daemon on eth0 (id 51)` */
export function describeSyncDaemon(d: Pick<SyncDaemonSpec, 'state' | 'interface' | 'syncId'>): string {
  return `${d.state} sync daemon on ${d.interface} (id ${d.syncId})`;
}

// ---------------------------------------------------------------------------
// the client

export interface IpvsClientOptions {
  /** bound on each request, ms; default 5000 */
  readonly timeoutMs?: number;
  /** mutations in flight at once; default 32 */
  readonly window?: number;
}

/** Netlink messages exchanged, for benchmarks and the status. */
export interface IpvsMessageCounts {
  /** requests sent */
  requests: number;
  /** messages received in answer (ACKs, errors, dump parts) */
  replies: number;
}

export class IpvsClient {
  readonly counts: IpvsMessageCounts = { requests: 0, replies: 0 };
  private closed = false;
  private active = 0;
  private dumping = false;
  private waiting: Array<{ dump: boolean; go: () => void }> = [];
  private head = 0;

  private constructor(
    private readonly sock: GenericNetlinkSocket,
    private readonly family: number,
    private readonly timeoutMs: number,
    private readonly window: number,
  ) {}

  /**
   * Opens a generic netlink socket and resolves the IPVS family. Throws
   * an IpvsError with errno ENOPROTOOPT when the kernel has no IPVS (the
   * family exists only once ip_vs is loaded).
   */
  static async open(opts: IpvsClientOptions = {}): Promise<IpvsClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const sock = createGenericNetlink({ ref: false } as Parameters<typeof createGenericNetlink>[0]);
    sock.socket.on('error', () => {
      // a pending request gets its own error; nothing else is sent on this socket
    });
    let familyId: number | undefined;
    try {
      const [fam] = await sock.ctrlRequest(genl.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME }, { timeout: timeoutMs });
      familyId = fam?.familyId;
    } catch (err) {
      sock.socket.close();
      const msg = (err as Error).message ?? String(err);
      if (/ENOENT/.test(msg))
        throw new IpvsError('IPVS is not available: the kernel has no generic netlink family IPVS (the ip_vs module is not loaded)', 'ENOPROTOOPT');
      throw new IpvsError(`resolving the generic netlink family IPVS: ${msg}`, /timeout/i.test(msg) ? 'ETIMEDOUT' : 'EIO');
    }
    if (familyId === undefined) {
      sock.socket.close();
      throw new IpvsError('resolving the generic netlink family IPVS: the controller gave no family id', 'EIO');
    }
    return new IpvsClient(sock, familyId, timeoutMs, Math.max(1, opts.window ?? 32));
  }

  /** SO_RCVBUF of the socket (lvs_netlink_cmd_rcv_bufs); the kernel caps it at net.core.rmem_max */
  setReceiveBuffer(bytes: number): void {
    this.sock.socket.setRecvBufferSize(bytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }

  /** a turn on the socket: mutations share it up to the window, a dump has it alone; first come, first served */
  private acquire(dump: boolean): Promise<void> | undefined {
    if (this.waiting.length - this.head === 0 && this.canRun(dump)) {
      this.take(dump);
      return undefined;
    }
    return new Promise<void>((resolve) => this.waiting.push({ dump, go: resolve }));
  }

  private canRun(dump: boolean): boolean {
    return dump ? this.active === 0 && !this.dumping : !this.dumping && this.active < this.window;
  }

  private take(dump: boolean): void {
    if (dump) this.dumping = true;
    this.active++;
  }

  private release(dump: boolean): void {
    this.active--;
    if (dump) this.dumping = false;
    // wake only those whose turn it is: waking every waiter at each release is quadratic
    while (this.head < this.waiting.length && this.canRun(this.waiting[this.head]!.dump)) {
      const w = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as unknown as { dump: boolean; go: () => void };
      this.take(w.dump);
      w.go();
    }
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    }
  }

  /** One request and its answer; a refusal becomes an IpvsError that says `what`. */
  private async request(cmd: Cmd, body: Buffer[], what: string, dump = false): Promise<NetlinkMessage[]> {
    const turn = this.acquire(dump);
    if (turn) await turn;
    try {
      if (this.closed) throw new IpvsError(`${what}: the IPVS socket is closed`, 'EBADF');
      this.counts.requests++;
      let msgs: NetlinkMessage[];
      try {
        // the raw socket: the genl layer refuses an ERROR answer as "a reply of another family"
        const header = Buffer.from([cmd, IPVS_GENL_VERSION, 0, 0]);
        [msgs] = await this.sock.socket.request(this.family, [header, ...body], {
          flags: dump ? NLM_F_DUMP : 0,
          checkError: false,
          timeout: this.timeoutMs,
        });
      } catch (err) {
        const e = err as { errno?: number; message?: string };
        if (typeof e.errno === 'number') throw errorOf(what, cmd, e.errno < 0 ? e.errno : -e.errno);
        const m = e.message ?? String(err);
        throw new IpvsError(`${what}: ${/timeout/i.test(m) ? `no answer within ${this.timeoutMs} ms` : m}`, /timeout/i.test(m) ? 'ETIMEDOUT' : 'EIO');
      }
      // a dump's closing DONE is not counted by the package: count it here
      this.counts.replies += msgs.length + (dump ? 1 : 0);
      for (const m of msgs) {
        if (m.type !== NLMSG_ERROR) continue;
        const { errno } = parseError(m.data, m.flags);
        if (errno !== 0) throw errorOf(what, cmd, errno);
      }
      return msgs.filter((m) => m.type === this.family);
    } finally {
      this.release(dump);
    }
  }

  // -- reading --------------------------------------------------------------

  async info(): Promise<IpvsInfo> {
    const [m] = await this.request(CMD.GET_INFO, [], 'reading the IPVS version');
    const a = parseAttrs(genlPayload(m));
    const v = getU32(a.get(INFO.VERSION));
    return { version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, connectionTableSize: getU32(a.get(INFO.CONN_TAB_SIZE)) };
  }

  async services(): Promise<ServiceEntry[]> {
    const msgs = await this.request(CMD.GET_SERVICE, [], 'listing the IPVS services', true);
    const out: ServiceEntry[] = [];
    for (const m of msgs) {
      const s = parseAttrs(genlPayload(m)).get(CMD_ATTR.SERVICE);
      if (s) out.push(parseService(s));
    }
    return out;
  }

  async destinations(key: ServiceKey): Promise<DestinationEntry[]> {
    const what = `listing the destinations of ${describeService(key)}`;
    const msgs = await this.request(CMD.GET_DEST, [nest(CMD_ATTR.SERVICE, serviceKeyAttrs(key, what))], what, true);
    const out: DestinationEntry[] = [];
    for (const m of msgs) {
      const d = parseAttrs(genlPayload(m)).get(CMD_ATTR.DEST);
      if (d) out.push(parseDest(d, key.family));
    }
    return out;
  }

  /** Every service with its destinations. */
  async table(): Promise<Array<ServiceEntry & { destinations: DestinationEntry[] }>> {
    const services = await this.services();
    const out: Array<ServiceEntry & { destinations: DestinationEntry[] }> = [];
    for (const s of services) {
      try {
        out.push({ ...s, destinations: await this.destinations(s.key) });
      } catch (err) {
        // removed between the two dumps
        if ((err as IpvsError).errno !== 'ESRCH') throw err;
      }
    }
    return out;
  }

  async timeouts(): Promise<IpvsTimeouts> {
    const [m] = await this.request(CMD.GET_CONFIG, [], 'reading the IPVS connection timeouts');
    const a = parseAttrs(genlPayload(m));
    return { tcp: getU32(a.get(CMD_ATTR.TIMEOUT_TCP)), tcpFin: getU32(a.get(CMD_ATTR.TIMEOUT_TCP_FIN)), udp: getU32(a.get(CMD_ATTR.TIMEOUT_UDP)) };
  }

  // -- changing -------------------------------------------------------------

  async addService(s: ServiceSpec): Promise<void> {
    const what = `adding virtual service ${describeService(s.key)} (${s.scheduler})`;
    await this.request(CMD.NEW_SERVICE, [nest(CMD_ATTR.SERVICE, serviceAttrs(s, what))], what);
  }

  async updateService(s: ServiceSpec): Promise<void> {
    const what = `changing virtual service ${describeService(s.key)} (${s.scheduler})`;
    await this.request(CMD.SET_SERVICE, [nest(CMD_ATTR.SERVICE, serviceAttrs(s, what))], what);
  }

  async deleteService(key: ServiceKey): Promise<void> {
    const what = `removing virtual service ${describeService(key)}`;
    await this.request(CMD.DEL_SERVICE, [nest(CMD_ATTR.SERVICE, serviceKeyAttrs(key, what))], what);
  }

  async addDestination(key: ServiceKey, d: DestinationSpec): Promise<void> {
    const what = `adding real server ${hostPort(d.address, d.port)} (${d.method}, weight ${d.weight}) to ${describeService(key)}`;
    await this.request(CMD.NEW_DEST, [nest(CMD_ATTR.SERVICE, serviceKeyAttrs(key, what)), nest(CMD_ATTR.DEST, destAttrs(d, what))], what);
  }

  async updateDestination(key: ServiceKey, d: DestinationSpec): Promise<void> {
    const what = `changing real server ${hostPort(d.address, d.port)} (${d.method}, weight ${d.weight}) of ${describeService(key)}`;
    await this.request(CMD.SET_DEST, [nest(CMD_ATTR.SERVICE, serviceKeyAttrs(key, what)), nest(CMD_ATTR.DEST, destAttrs(d, what))], what);
  }

  async deleteDestination(key: ServiceKey, d: { family?: 4 | 6; address: string; port: number }): Promise<void> {
    const what = `removing real server ${hostPort(d.address, d.port)} from ${describeService(key)}`;
    const spec: DestinationSpec = {
      family: d.family ?? familyOf(d.address),
      address: d.address,
      port: d.port,
      method: 'NAT',
      weight: 0,
      upperThreshold: 0,
      lowerThreshold: 0,
    };
    await this.request(CMD.DEL_DEST, [nest(CMD_ATTR.SERVICE, serviceKeyAttrs(key, what)), nest(CMD_ATTR.DEST, destAttrs(spec, what, true))], what);
  }

  /** Sets the connection timeouts; a 0 leaves that one as it is (ipvsadm --set). */
  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    const parts: Buffer[] = [];
    if (t.tcp) parts.push(attr(CMD_ATTR.TIMEOUT_TCP, u32(t.tcp)));
    if (t.tcpFin) parts.push(attr(CMD_ATTR.TIMEOUT_TCP_FIN, u32(t.tcpFin)));
    if (t.udp) parts.push(attr(CMD_ATTR.TIMEOUT_UDP, u32(t.udp)));
    if (parts.length === 0) return;
    await this.request(CMD.SET_CONFIG, parts, `setting the IPVS connection timeouts (tcp ${t.tcp}, tcpfin ${t.tcpFin}, udp ${t.udp})`);
  }

  /** Zeroes the counters of one service, or of every service. */
  async zero(key?: ServiceKey): Promise<void> {
    const what = key ? `zeroing the counters of ${describeService(key)}` : 'zeroing the IPVS counters';
    await this.request(CMD.ZERO, key ? [nest(CMD_ATTR.SERVICE, serviceKeyAttrs(key, what))] : [], what);
  }

  // -- the connection sync daemon --------------------------------------------

  /** The sync daemons that run in this namespace: none, a master, a backup, or both. */
  async syncDaemons(): Promise<SyncDaemonEntry[]> {
    const msgs = await this.request(CMD.GET_DAEMON, [], 'listing the IPVS sync daemons', true);
    const out: SyncDaemonEntry[] = [];
    for (const m of msgs) {
      const d = parseAttrs(genlPayload(m)).get(CMD_ATTR.DAEMON);
      const e = d ? parseDaemon(d) : undefined;
      if (e) out.push(e);
    }
    return out;
  }

  /** Starts the sync daemon of a role (ipvsadm --start-daemon); EEXIST when one of that role runs. */
  async startSyncDaemon(d: SyncDaemonSpec): Promise<void> {
    const what = `starting the IPVS ${describeSyncDaemon(d)}`;
    await this.request(CMD.NEW_DAEMON, [nest(CMD_ATTR.DAEMON, daemonAttrs(d, what))], what);
  }

  /** Stops the sync daemon of a role (ipvsadm --stop-daemon); ESRCH when none of that role runs. */
  async stopSyncDaemon(state: SyncDaemonState): Promise<void> {
    await this.request(CMD.DEL_DAEMON, [nest(CMD_ATTR.DAEMON, [attr(DAEMON.STATE, u32(SYNC_STATE[state]))])], `stopping the IPVS ${state} sync daemon`);
  }

  /** Removes every service of this namespace's table (ipvsadm -C). */
  async flush(): Promise<void> {
    await this.request(CMD.FLUSH, [], 'flushing the IPVS table');
  }
}

/** the attributes of a generic netlink message: what follows its 4-byte genl header */
function genlPayload(m: NetlinkMessage | undefined): Buffer {
  return m ? m.data.subarray(4) : Buffer.alloc(0);
}

/** The default settings of a service whose config says nothing (wlc, not persistent). */
export function defaultSettings(family: 4 | 6): ServiceSettings {
  return { scheduler: 'wlc', flags: 0, timeout: 0, netmask: family === 6 ? 128 : '255.255.255.255' };
}
