// the rtnetlink part of the package only: its index also loads nl80211, WireGuard and generic netlink,
// half a megabyte of source the VRRP process would hold and never use
import { createRtNetlink, type RtNetlinkSocket } from 'netlink/dist/rt/rt';
import * as rt from 'netlink/dist/rt/structs';
import { parseError, type NetlinkMessage } from 'netlink/dist/structs';
import { attr, cstring } from '../netlink/attrs';
import { commitPoint } from './clock';
import { BUILTIN_SCOPES, scopeNumber } from './iproute2-names';
import { addressInfo, linkDetail, linkInfo, routeInfo } from './rtnl-decode';
import { addressBody, AF_INET, AF_INET6, bytesOf, familyOf, routeBody, ruleBody, specPrefix } from './rtnl-encode';
import { kernelError, RtnlError } from './rtnl-error';
import {
  addressText,
  routeText,
  ruleText,
  type AddressEvent,
  type AddressInfo,
  type AddressSpec,
  type LinkDetail,
  type LinkEvent,
  type LinkInfo,
  type LinkWatch,
  type NetlinkWatch,
  type PreparedAddress,
  type RouteEvent,
  type RouteSpec,
  type RtnlOptions,
  type RuleEvent,
  type RuleSpec,
} from './rtnl-shapes';

/**
 * rtnetlink for the VRRP engine: interfaces (list, look up, watch for
 * up/down), addresses (list, add, delete with keepalived's
 * virtual_ipaddress options) and routes (virtual_routes).
 *
 * The `netlink` package gives the socket, request/ACK matching and the
 * parsers of what the kernel sends; the requests alived sends are encoded
 * here, so every attribute is exactly the one keepalived sends
 * (vrrp_ipaddress.c netlink_ipaddress, vrrp_iproute.c netlink_route).
 *
 * A netlink socket acts in the network namespace of the process that opens
 * it: tests run this inside a lab namespace.
 *
 * The shapes it takes and gives are in rtnl-shapes.ts, the request bodies in
 * rtnl-encode.ts, the reading of answers in rtnl-decode.ts, the names of
 * scopes, tables and protocols in iproute2-names.ts.
 */

const NLMSG_ERROR = 2;
const F_EXCL = 0x200;
const F_CREATE = 0x400;
const F_APPEND = 0x800;
const F_DUMP = 0x300;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWRULE = 32;
const RTM_DELRULE = 33;

// ---------------------------------------------------------------------------
// the socket

export class Rtnl {
  private readonly sock: RtNetlinkSocket;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(opts: RtnlOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    // unreferenced: the socket keeps the process alive only while a request is pending
    this.sock = createRtNetlink({ ref: false } as Parameters<typeof createRtNetlink>[0]);
    this.sock.socket.on('error', () => {
      // errors of a pending request reach its promise; nothing else is sent on this socket
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }

  /** the request in flight: one at a time on this socket */
  private inFlight: Promise<unknown> = Promise.resolve();
  /** requests asked for and not yet answered */
  private waiting = 0;
  private sentAtOnce = false;

  /**
   * Whether the last request was handed to the kernel before the call that
   * made it returned (none was waiting). rtnetlink carries out a request
   * inside sendmsg(): an address added so is on its interface already.
   */
  get sentNow(): boolean {
    return this.sentAtOnce;
  }

  /**
   * Sends one request and waits for its answer; a kernel error becomes an
   * RtnlError naming `what`. Requests take turns: the kernel answers EBUSY to
   * a second dump on the socket, and an ACK arriving between the datagrams of
   * a dump makes the netlink package end that dump early. When none is
   * waiting, the request goes to the kernel before this call returns: a
   * takeover's address is added in the timer's own turn of the event loop.
   */
  private async talk(type: number, body: Buffer, flags: number, describe: string | (() => Promise<string>)): Promise<NetlinkMessage[]> {
    const exchange = (): ReturnType<Rtnl['exchange']> => this.exchange(type, body, flags);
    this.sentAtOnce = this.waiting === 0 && !this.closed;
    const turn = (this.waiting++ === 0 ? exchange() : this.inFlight.then(exchange)).finally(() => this.waiting--);
    this.inFlight = turn.catch(() => undefined);
    const r = await turn;
    if ('msgs' in r) return r.msgs;
    // the description may need a lookup (an interface's name), itself a request:
    // made only when there is an error to report, and after this request's turn
    const what = typeof describe === 'string' ? describe : await describe().catch(() => 'an rtnetlink request');
    if (r.errno !== undefined) throw kernelError(what, r.errno);
    throw new RtnlError(`${what}: ${r.message}`, r.code);
  }

  /** One request and its answer; failures come back as values so that talk() can name them outside the queue. */
  private async exchange(type: number, body: Buffer, flags: number): Promise<{ msgs: NetlinkMessage[] } | { errno?: number; message: string; code: string }> {
    if (this.closed) return { message: 'the rtnetlink socket is closed', code: 'EBADF' };
    let msgs: NetlinkMessage[];
    try {
      // a takeover's address request: not before its deadline (the timer's callback started early)
      commitPoint();
      [msgs] = await this.sock.socket.request(type, [body], { flags, checkError: false, timeout: this.timeoutMs });
    } catch (err) {
      const e = err as { errno?: number; message?: string };
      if (typeof e.errno === 'number') return { errno: e.errno < 0 ? e.errno : -e.errno, message: '', code: '' };
      return { message: e.message ?? String(err), code: /timeout/i.test(e.message ?? '') ? 'ETIMEDOUT' : 'EIO' };
    }
    for (const m of msgs) {
      if (m.type !== NLMSG_ERROR) continue;
      const { errno } = parseError(m.data, m.flags);
      if (errno !== 0) return { errno, message: '', code: '' };
    }
    return { msgs };
  }

  // links ---------------------------------------------------------------

  async links(): Promise<LinkInfo[]> {
    const body = Buffer.alloc(16); // ifinfomsg, all zero: every link
    const msgs = await this.talk(RTM_GETLINK, body, F_DUMP, 'listing interfaces');
    return msgs.filter((m) => m.type === RTM_NEWLINK).map((m) => linkInfo(rt.parseLinkMessage(m.data)));
  }

  /** The interface of that name, or undefined when there is none. */
  async linkByName(name: string): Promise<LinkInfo | undefined> {
    if (name.length === 0 || name.length > 15) return undefined;
    return this.getLink(Buffer.concat([Buffer.alloc(16), attr(3 /* IFLA_IFNAME */, cstring(name))]), name, linkInfo);
  }

  async linkByIndex(index: number): Promise<LinkInfo | undefined> {
    const body = Buffer.alloc(16);
    body.writeInt32LE(index, 4);
    return this.getLink(body, String(index), linkInfo);
  }

  /**
   * The interface of that name with what a VMAC manager needs beyond
   * LinkInfo: its kind (IFLA_INFO_KIND), its lower interface (IFLA_LINK),
   * its macvlan mode and its alias. Undefined when there is none.
   */
  async linkDetail(name: string): Promise<LinkDetail | undefined> {
    if (name.length === 0 || name.length > 15) return undefined;
    return this.getLink(Buffer.concat([Buffer.alloc(16), attr(3 /* IFLA_IFNAME */, cstring(name))]), name, linkDetail);
  }

  /** One RTM_GETLINK (an ifinfomsg naming the link in `body`), read by `parse`; undefined when there is no such link (ENODEV). */
  private async getLink<T>(body: Buffer, shown: string, parse: (m: rt.LinkMessage) => T): Promise<T | undefined> {
    try {
      const msgs = await this.talk(RTM_GETLINK, body, 0, `looking up interface ${shown}`);
      const m = msgs.find((x) => x.type === RTM_NEWLINK);
      return m ? parse(rt.parseLinkMessage(m.data)) : undefined;
    } catch (err) {
      if ((err as RtnlError).errno === 'ENODEV') return undefined;
      throw err;
    }
  }

  /**
   * A link request encoded by the caller (an ifinfomsg and its attributes):
   * `new` creates (NLM_F_CREATE | NLM_F_EXCL), `set` changes an existing
   * link, `del` deletes one. Errors are RtnlErrors naming `what`.
   */
  async linkRequest(kind: 'new' | 'set' | 'del', body: Buffer, what: string): Promise<void> {
    const type = kind === 'del' ? RTM_DELLINK : RTM_NEWLINK;
    await this.talk(type, body, kind === 'new' ? F_CREATE | F_EXCL : 0, what);
  }

  /** a name for messages: the interface's, or `ifindex N` when it is gone */
  private async ifname(index: number): Promise<string> {
    try {
      return (await this.linkByIndex(index))?.name ?? `ifindex ${index}`;
    } catch {
      return `ifindex ${index}`;
    }
  }

  /**
   * Watches the links: `cb` gets 'added' for a new interface, 'up'/'down'
   * when it becomes usable (IFF_UP and IFF_RUNNING) or stops being so,
   * 'changed' for a new name, MAC, MTU or state that is not an up/down,
   * and 'deleted'. Resolves once the current links are known (they are not
   * reported as added). If the kernel drops notifications (ENOBUFS), the
   * links are read again and the differences reported. `onError` gets
   * errors of the watch socket; `cb` throwing is reported there too. The
   * watch has a socket of its own, which keeps the process alive until
   * close().
   */
  async watchLinks(cb: (ev: LinkEvent) => void, onError: (err: Error) => void = () => {}): Promise<LinkWatch> {
    const current = new Map<number, LinkInfo>();
    // a socket of its own, so notifications never meet this socket's request sequence numbers
    const watcher = createRtNetlink({ ref: true } as Parameters<typeof createRtNetlink>[0]);
    let ready = false;
    let closed = false;
    const early: NetlinkMessage[][] = [];
    const deliver = (ev: LinkEvent): void => {
      try {
        cb(ev);
      } catch (err) {
        onError(err as Error);
      }
    };
    const apply = (type: number, link: LinkInfo): void => {
      const prev = current.get(link.index);
      if (type === RTM_DELLINK) {
        current.delete(link.index);
        deliver({ type: 'deleted', link, ...(prev ? { previous: prev } : {}) });
        return;
      }
      current.set(link.index, link);
      if (!prev) return deliver({ type: 'added', link });
      if (prev.up !== link.up) return deliver({ type: link.up ? 'up' : 'down', link, previous: prev });
      if (
        prev.name !== link.name ||
        prev.mac !== link.mac ||
        prev.mtu !== link.mtu ||
        prev.adminUp !== link.adminUp ||
        prev.operstate !== link.operstate ||
        prev.noarp !== link.noarp
      ) {
        deliver({ type: 'changed', link, previous: prev });
      }
    };
    const handle = (msgs: NetlinkMessage[]): void => {
      for (const m of msgs) {
        if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) continue;
        let link: LinkInfo;
        try {
          link = linkInfo(rt.parseLinkMessage(m.data));
        } catch (err) {
          onError(new RtnlError(`watching interfaces: cannot parse a link message: ${(err as Error).message}`, 'EPROTO'));
          continue;
        }
        apply(m.type, link);
      }
    };
    /** reads every link again and reports the differences with what is known */
    const resync = async (): Promise<void> => {
      const now = await this.links();
      const seen = new Set<number>();
      for (const l of now) {
        seen.add(l.index);
        apply(RTM_NEWLINK, l);
      }
      for (const [index, l] of [...current]) if (!seen.has(index)) apply(RTM_DELLINK, l);
    };
    watcher.socket.on('message', (msgs) => {
      if (closed) return;
      if (!ready) early.push(msgs);
      else handle(msgs);
    });
    watcher.socket.on('error', (err) => {
      if (closed) return;
      if (err.code === 'ENOBUFS') {
        resync().catch((e: Error) => onError(e));
        return;
      }
      onError(new RtnlError(`watching interfaces: ${err.message}`, err.code ?? 'EIO', err.errno));
    });
    try {
      watcher.addMembership('LINK');
      for (const l of await this.links()) current.set(l.index, l);
    } catch (err) {
      closed = true;
      watcher.socket.close();
      throw err;
    }
    // notifications that came in while the dump ran: compared with it, so only real changes are reported
    ready = true;
    for (const msgs of early.splice(0)) handle(msgs);
    return {
      current,
      close: () => {
        if (closed) return;
        closed = true;
        watcher.socket.close();
      },
    };
  }

  /**
   * Watches the addresses of every interface: `cb` gets each one added or
   * removed, by anyone (this process included). When the kernel dropped
   * notifications (ENOBUFS: the socket's buffer overflowed) `onOverrun` is
   * called, since what changed meanwhile is unknown: the caller reads the
   * addresses again. Resolves once subscribed.
   */
  watchAddresses(cb: (ev: AddressEvent) => void, onOverrun: () => void, onError: (err: Error) => void = () => {}): Promise<NetlinkWatch> {
    return this.watchGroups(['IPV4_IFADDR', 'IPV6_IFADDR'], 'addresses', onOverrun, onError, (m) => {
      if (m.type !== RTM_NEWADDR && m.type !== RTM_DELADDR) return;
      const a = addressInfo(rt.parseAddressMessage(m.data));
      if (a) cb({ type: m.type === RTM_NEWADDR ? 'added' : 'deleted', address: a });
    });
  }

  /** Watches the routes of every table, as watchAddresses() watches addresses. */
  watchRoutes(cb: (ev: RouteEvent) => void, onOverrun: () => void, onError: (err: Error) => void = () => {}): Promise<NetlinkWatch> {
    return this.watchGroups(['IPV4_ROUTE', 'IPV6_ROUTE'], 'routes', onOverrun, onError, (m) => {
      if (m.type !== RTM_NEWROUTE && m.type !== RTM_DELROUTE) return;
      const r = routeInfo(rt.parseRouteMessage(m.data));
      if (r) cb({ type: m.type === RTM_NEWROUTE ? 'added' : 'deleted', route: r });
    });
  }

  /** Watches the policy routing rules of both families, as watchAddresses() watches addresses. */
  watchRules(cb: (ev: RuleEvent) => void, onOverrun: () => void, onError: (err: Error) => void = () => {}): Promise<NetlinkWatch> {
    return this.watchGroups(['IPV4_RULE', 'IPV6_RULE'], 'rules', onOverrun, onError, (m) => {
      if (m.type !== RTM_NEWRULE && m.type !== RTM_DELRULE) return;
      const family = m.data[0] === AF_INET ? 4 : m.data[0] === AF_INET6 ? 6 : undefined;
      if (family) cb({ type: m.type === RTM_NEWRULE ? 'added' : 'deleted', family });
    });
  }

  /** A socket of its own subscribed to `groups`; each message goes to `handle`, a throw from it to onError. */
  private async watchGroups(
    groups: Array<'IPV4_IFADDR' | 'IPV6_IFADDR' | 'IPV4_ROUTE' | 'IPV6_ROUTE' | 'IPV4_RULE' | 'IPV6_RULE'>,
    what: string,
    onOverrun: () => void,
    onError: (err: Error) => void,
    handle: (m: NetlinkMessage) => void,
  ): Promise<NetlinkWatch> {
    const watcher = createRtNetlink({ ref: true } as Parameters<typeof createRtNetlink>[0]);
    let closed = false;
    watcher.socket.on('message', (msgs) => {
      if (closed) return;
      for (const m of msgs) {
        try {
          handle(m);
        } catch (err) {
          onError(new RtnlError(`watching ${what}: ${(err as Error).message}`, 'EPROTO'));
        }
      }
    });
    watcher.socket.on('error', (err) => {
      if (closed) return;
      if (err.code === 'ENOBUFS') {
        onOverrun();
        return;
      }
      onError(new RtnlError(`watching ${what}: ${err.message}`, err.code ?? 'EIO', err.errno));
    });
    try {
      for (const g of groups) watcher.addMembership(g);
    } catch (err) {
      closed = true;
      watcher.socket.close();
      throw err;
    }
    return {
      close: () => {
        if (closed) return;
        closed = true;
        watcher.socket.close();
      },
    };
  }

  // addresses -----------------------------------------------------------

  /** Addresses of every interface, or of one; IPv4 and IPv6, or one family. */
  async addresses(ifindex?: number, family?: 4 | 6): Promise<AddressInfo[]> {
    const body = Buffer.alloc(8);
    body.writeUInt8(family === 4 ? AF_INET : family === 6 ? AF_INET6 : 0, 0);
    const msgs = await this.talk(RTM_GETADDR, body, F_DUMP, 'listing addresses');
    const out: AddressInfo[] = [];
    for (const m of msgs) {
      if (m.type !== RTM_NEWADDR) continue;
      const a = addressInfo(rt.parseAddressMessage(m.data));
      if (a && (ifindex === undefined || a.ifindex === ifindex)) out.push(a);
    }
    return out;
  }

  /**
   * The request that adds `spec` to interface `ifindex`, encoded ahead of
   * time (addAddress takes it): a backup prepares its VIPs so that taking
   * over only sends them. Throws what addAddress would for a bad spec.
   */
  prepareAddress(ifindex: number, spec: AddressSpec): PreparedAddress {
    return { ifindex, spec, body: addressBody(ifindex, spec, true) };
  }

  /** Adds an address; EEXIST when it is already there (the VIP manager takes that as done). */
  async addAddress(ifindex: number, spec: AddressSpec, prepared?: PreparedAddress): Promise<void> {
    const body = prepared && prepared.ifindex === ifindex && prepared.spec === spec ? prepared.body : addressBody(ifindex, spec, true);
    // named only for an error: nothing but the request itself comes before the send
    const prefix = (): number => specPrefix(spec, familyOf(spec.address, addressText(spec)));
    try {
      await this.talk(
        RTM_NEWADDR,
        body,
        F_CREATE | F_EXCL,
        async () => `adding ${addressText({ address: spec.address, prefix: prefix() })} to ${await this.ifname(ifindex)}`,
      );
    } catch (err) {
      if ((err as RtnlError).errno === 'EINVAL' && familyOf(spec.address, addressText(spec)) === 4 && !spec.peer)
        throw await this.scopeHint(err as RtnlError, ifindex, spec, prefix());
      throw err;
    }
  }

  /**
   * Linux 6.x refuses an IPv4 address whose scope differs from the primary
   * address of the same subnet on the interface ("ipv4: Invalid scope
   * value" in the extended ACK, which this socket does not receive): say so
   * when that is the cause.
   */
  private async scopeHint(err: RtnlError, ifindex: number, spec: AddressSpec, prefix: number): Promise<RtnlError> {
    try {
      const scope = spec.scope === undefined ? 0 : scopeNumber(spec.scope);
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      const subnet = (a: string): number => (bytesOf(a, a).readUInt32BE(0) & mask) >>> 0;
      const primary = (await this.addresses(ifindex, 4)).find(
        (a) => a.prefix === prefix && !a.flags.includes('secondary') && subnet(a.address) === subnet(spec.address),
      );
      if (!primary || primary.scope === scope) return err;
      const name = (n: number): string => Object.keys(BUILTIN_SCOPES).find((k) => BUILTIN_SCOPES[k] === n) ?? String(n);
      return new RtnlError(
        `${err.message}: ${primary.address}/${prefix} on that interface has scope ${name(primary.scope)}, and the kernel wants the addresses of one subnet to share its scope (asked: ${name(scope)})`,
        err.errno ?? 'EINVAL',
        err.errnoNumber,
      );
    } catch {
      return err;
    }
  }

  /** Deletes an address (matched by address and prefix); EADDRNOTAVAIL when it is not there. */
  async delAddress(ifindex: number, spec: AddressSpec): Promise<void> {
    const family = familyOf(spec.address, addressText(spec));
    const shown = addressText({ address: spec.address, prefix: specPrefix(spec, family) });
    const body = addressBody(ifindex, spec, false);
    await this.talk(RTM_DELADDR, body, 0, async () => `deleting ${shown} from ${await this.ifname(ifindex)}`);
  }

  // routes --------------------------------------------------------------

  private async ifindexOf(name: string, what: string): Promise<number> {
    const l = await this.linkByName(name);
    if (!l) throw new RtnlError(`${what}: no interface ${name}`, 'ENODEV');
    return l.index;
  }

  /** Adds a route: created (prepend, the default), exclusively (add) or as another path (append). EEXIST when it is there. */
  async addRoute(r: RouteSpec): Promise<void> {
    const what = `adding route ${routeText(r)}`;
    const body = await routeBody(r, true, what, (name, w) => this.ifindexOf(name, w));
    const mode = r.mode ?? 'prepend';
    const flags = F_CREATE | (mode === 'add' ? F_EXCL : mode === 'append' ? F_APPEND : 0);
    await this.talk(RTM_NEWROUTE, body, flags, what);
  }

  /** Deletes a route; ESRCH when there is no such route. */
  async delRoute(r: RouteSpec): Promise<void> {
    const what = `deleting route ${routeText(r)}`;
    const body = await routeBody(r, false, what, (name, w) => this.ifindexOf(name, w));
    await this.talk(RTM_DELROUTE, body, 0, what);
  }

  // rules ---------------------------------------------------------------

  /** Adds a rule; EEXIST when the same rule is there (the kernel compares every attribute given). */
  async addRule(r: RuleSpec): Promise<void> {
    const what = `adding rule ${ruleText(r)}`;
    await this.talk(RTM_NEWRULE, ruleBody(r, what), F_CREATE | F_EXCL, what);
  }

  /** Deletes a rule; ENOENT when there is no such rule. */
  async delRule(r: RuleSpec): Promise<void> {
    const what = `deleting rule ${ruleText(r)}`;
    await this.talk(RTM_DELRULE, ruleBody(r, what), 0, what);
  }
}
