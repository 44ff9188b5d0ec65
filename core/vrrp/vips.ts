import type { AddressEntry, RouteEntry } from '../config/keywords/vrrp';
import { AlivedError } from '../errors';
import { canonicalIp } from '../net/address';
import type { Rtnl } from './rtnl';
import type { RtnlError } from './rtnl-error';
import { addressText, routeMatches, routeText, type AddressInfo, type AddressSpec, type LinkInfo, type PreparedAddress, type RouteInfo } from './rtnl-shapes';

/**
 * The virtual addresses and routes of one VRRP instance, put on their
 * interfaces on becoming master and taken off on leaving it, as keepalived
 * does (vrrp.c vrrp_state_become_master / vrrp_restore_interface):
 * virtual_ipaddress and virtual_ipaddress_excluded first, then
 * virtual_routes; routes come off first.
 *
 * Every operation runs after the previous one finished, so a quick
 * master -> backup -> master never interleaves an add with a delete. A
 * failure is reported with what was asked and why; it never stops the rest.
 */

export interface VipManagerOptions {
  /** the instance's interface: where entries without `dev` go */
  ifname: string;
  vips: readonly AddressEntry[];
  excluded?: readonly AddressEntry[];
  routes?: readonly RouteEntry[];
  /** every failure of up(), down() and cleanStale(), as it happens */
  onFailure?: (err: VipError) => void;
  /** the interfaces as currently known (a link watch); without it each operation lists them from the kernel */
  links?: () => Iterable<LinkInfo>;
}

/**
 * One address or route that could not be added or removed
 * (ALIVED_VIP_FAILED): the message says which, where and why; `errno` is the
 * kernel's errno name (EEXIST, ENODEV, EPERM, ...) or EINVAL / EOPNOTSUPP for
 * what alived refused.
 */
export class VipError extends AlivedError {
  constructor(message: string, errno: string) {
    super('ALIVED_VIP_FAILED', message, { errno });
  }
}

/** the address, its prefix as the kernel will hold it, and its interface: what identifies it */
interface AddressItem {
  entry: AddressEntry;
  dev: string;
  spec: AddressSpec;
  /** `10.0.0.1/24 on eth0`, also the key of what is set */
  label: string;
  /** its add request, encoded ahead by prepare() */
  prepared?: PreparedAddress | undefined;
}

/**
 * keepalived's address options in the kernel's terms: IPv6 VIPs get
 * IFA_F_NODAD unless `-nodad` was written (the config's `nodad` flag), and a
 * /128 IPv6 VIP without preferred_lft is deprecated at once (preferred_lft
 * 0), so it is not chosen as a source address (vrrp_ipaddress.c).
 */
export function addressSpec(e: AddressEntry): AddressSpec {
  const v6 = e.family === 6;
  const max = v6 ? 128 : 32;
  const prefix = e.peer ? (e.peer.prefix ?? max) : (e.prefix ?? max);
  const spec: AddressSpec = { address: e.address, prefix: e.peer ? undefined : prefix };
  if (e.peer) spec.peer = { address: e.peer.address, prefix };
  if (e.broadcast !== undefined) spec.broadcast = e.broadcast;
  if (e.label !== undefined) spec.label = e.label;
  if (e.scope !== undefined) spec.scope = e.scope;
  if (e.home) spec.home = true;
  if (e.mngtmpaddr) spec.mngtmpaddr = true;
  if (e.noprefixroute) spec.noprefixroute = true;
  if (e.autojoin) spec.autojoin = true;
  if (v6 && !e.nodad) spec.nodad = true;
  if (e.preferredLft !== undefined) spec.preferredLft = e.preferredLft;
  else if (v6 && prefix === 128) spec.preferredLft = 0;
  return spec;
}

function addressItems(opts: Pick<VipManagerOptions, 'ifname' | 'vips' | 'excluded'>): AddressItem[] {
  return [...opts.vips, ...(opts.excluded ?? [])].map((entry) => {
    const dev = entry.dev ?? opts.ifname;
    return { entry, dev, spec: addressSpec(entry), label: addressLabel(entry, dev) };
  });
}

/** `10.0.0.1/24 on eth0`: how a manager names (and keys) an address it holds */
export function addressLabel(entry: AddressEntry, dev: string): string {
  const spec = addressSpec(entry);
  const max = entry.family === 6 ? 128 : 32;
  const prefix = spec.peer ? (spec.peer.prefix ?? max) : (spec.prefix ?? max);
  return `${addressText({ address: canonicalIp(entry.address), prefix })} on ${dev}`;
}

/** `route 10.0.0.0/8 via ...`: how a manager names (and keys) a route it holds */
export function routeLabel(r: RouteEntry): string {
  return `route ${routeText(r)}`;
}

/** the errors that mean "already as wanted": on add it exists, on delete it (or its interface) is gone */
const ALREADY_THERE = new Set(['EEXIST']);
const ALREADY_GONE = new Set(['EADDRNOTAVAIL', 'ESRCH', 'ENODEV', 'ENOENT']);

/** What the manager asks of rtnetlink. */
export type VipRtnl = Pick<Rtnl, 'addAddress' | 'delAddress' | 'addRoute' | 'delRoute' | 'addresses' | 'links' | 'prepareAddress'> &
  Partial<Pick<Rtnl, 'sentNow'>>;

export class VipManager {
  private addresses: AddressItem[];
  private routes: readonly RouteEntry[];
  private readonly onFailure: (err: VipError) => void;
  /** labels of addresses and routes this manager put in place (or found in place on up) */
  private readonly set = new Set<string>();
  /** the interface index each address in `set` was put on: a removal is matched by it, also once the interface is gone */
  private readonly heldOn = new Map<string, number>();
  /** labels this manager is removing right now: the kernel's notice of that removal is not someone else's */
  private readonly removing = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  /** add requests handed to the kernel during the current up() call itself */
  private sentAtOnce = 0;
  private allInPlace = false;
  /** operations asked for and not finished */
  private queued = 0;
  private readonly knownLinks: (() => Iterable<LinkInfo>) | undefined;

  constructor(
    private readonly rtnl: VipRtnl,
    opts: VipManagerOptions,
  ) {
    this.addresses = addressItems(opts);
    this.routes = opts.routes ?? [];
    this.onFailure = opts.onFailure ?? (() => {});
    this.knownLinks = opts.links;
  }

  /**
   * New addresses and routes (a reload): what is set and no longer wanted is
   * removed; with `up` (the instance is master) what is new is added, what
   * stays is not touched. Resolves with the failures.
   */
  reconfigure(opts: Pick<VipManagerOptions, 'ifname' | 'vips' | 'excluded' | 'routes'>, up: boolean): Promise<VipError[]> {
    return this.serial(async () => {
      const failures: VipError[] = [];
      const oldAddresses = this.addresses;
      const oldRoutes = this.routes;
      this.addresses = addressItems(opts);
      this.routes = opts.routes ?? [];
      this.prepare();
      const wantedRoutes = new Set(this.routes.map(routeLabel));
      for (const r of [...oldRoutes].reverse()) if (!wantedRoutes.has(routeLabel(r))) await this.removeRoute(r, failures);
      const wanted = new Set(this.addresses.map((a) => a.label));
      const drop = oldAddresses.filter((a) => this.set.has(a.label) && !wanted.has(a.label));
      const add = up ? this.addresses.filter((a) => !this.set.has(a.label)) : [];
      if (drop.length === 0 && add.length === 0 && !up) return failures;
      const links = await this.linkMap(failures, 'changing the virtual addresses');
      if (!links) return failures;
      for (const a of drop.reverse()) await this.removeAddress(a, links, failures);
      for (const a of add) await this.addAddress(a, links, failures);
      if (up) for (const r of this.routes) await this.addRoute(r, failures);
      return failures;
    });
  }

  /**
   * Encodes the request that adds each address, for its interface as the
   * link watch knows it now, so that up() only has to send it: a backup
   * prepares its takeover. An address that cannot be encoded is left to
   * up(), which reports why.
   */
  prepare(): void {
    const links = this.linksNow();
    if (!links) return;
    for (const a of this.addresses) {
      const link = links.get(a.dev);
      if (!link || (a.prepared && a.prepared.ifindex === link.index)) continue;
      try {
        a.prepared = this.rtnl.prepareAddress(link.index, a.spec);
      } catch {
        a.prepared = undefined;
      }
    }
  }

  /** Addresses (and routes) this manager holds as set: what down() will remove. */
  get held(): string[] {
    return [...this.set];
  }

  /**
   * Runs `op` once every earlier operation has finished; at once (its
   * requests sent before this returns) when none is pending.
   */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const p = (this.queued++ === 0 ? op() : this.chain.then(op, op)).finally(() => this.queued--);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private fail(failures: VipError[], message: string, errno: string): void {
    const err = new VipError(message, errno);
    failures.push(err);
    try {
      this.onFailure(err);
    } catch {
      // a failing reporter must not stop the remaining addresses
    }
  }

  /** name -> link from the engine's link watch, which already knows every interface; undefined without one */
  private linksNow(): Map<string, LinkInfo> | undefined {
    return this.knownLinks ? new Map([...this.knownLinks()].map((l) => [l.name, l])) : undefined;
  }

  /** name -> link, or a failure for everything when the interfaces cannot be read */
  private async linkMap(failures: VipError[], doing: string): Promise<Map<string, LinkInfo> | undefined> {
    const known = this.linksNow();
    if (known) return known;
    try {
      return new Map((await this.rtnl.links()).map((l) => [l.name, l]));
    } catch (err) {
      this.fail(failures, `${doing}: cannot read the interfaces: ${(err as Error).message}`, (err as RtnlError).errno ?? 'EIO');
      return undefined;
    }
  }

  /** Puts one address on its interface; already there counts as done. */
  private async addAddress(a: AddressItem, links: Map<string, LinkInfo>, failures: VipError[]): Promise<AddOutcome> {
    const link = links.get(a.dev);
    if (!link) {
      this.fail(failures, `adding ${addressText(a.entry)} to ${a.dev}: no interface ${a.dev}`, 'ENODEV');
      return 'failed';
    }
    try {
      const added = this.rtnl.addAddress(link.index, a.spec, a.prepared);
      if (this.rtnl.sentNow === true) this.sentAtOnce++;
      await added;
      this.hold(a.label, link.index);
      return 'added';
    } catch (err) {
      const e = err as RtnlError;
      if (ALREADY_THERE.has(e.errno ?? '')) {
        this.hold(a.label, link.index);
        return 'present';
      }
      this.fail(failures, e.message, e.errno ?? 'EIO');
      return 'failed';
    }
  }

  private hold(label: string, ifindex: number): void {
    this.set.add(label);
    this.heldOn.set(label, ifindex);
  }

  private release(label: string): void {
    this.set.delete(label);
    this.heldOn.delete(label);
  }

  /** Takes one address this manager set off its interface; gone already (or its interface gone) counts as done. */
  private async removeAddress(a: AddressItem, links: Map<string, LinkInfo>, failures: VipError[]): Promise<void> {
    if (!this.set.has(a.label)) return;
    const link = links.get(a.dev);
    if (!link) {
      // the interface went away, and its addresses with it
      this.release(a.label);
      return;
    }
    this.removing.add(a.label);
    try {
      await this.rtnl.delAddress(link.index, a.spec);
      this.release(a.label);
    } catch (err) {
      const e = err as RtnlError;
      if (ALREADY_GONE.has(e.errno ?? '')) this.release(a.label);
      else this.fail(failures, e.message, e.errno ?? 'EIO');
    } finally {
      this.removing.delete(a.label);
    }
  }

  private async addRoute(r: RouteEntry, failures: VipError[]): Promise<AddOutcome> {
    const label = routeLabel(r);
    if (this.set.has(label)) return 'present';
    try {
      await this.rtnl.addRoute(r);
      this.set.add(label);
      return 'added';
    } catch (err) {
      const e = err as RtnlError;
      if (ALREADY_THERE.has(e.errno ?? '')) {
        this.set.add(label);
        return 'present';
      }
      this.fail(failures, e.message, e.errno ?? 'EIO');
      return 'failed';
    }
  }

  private async removeRoute(r: RouteEntry, failures: VipError[]): Promise<void> {
    const label = routeLabel(r);
    if (!this.set.has(label)) return;
    this.removing.add(label);
    try {
      await this.rtnl.delRoute(r);
      this.set.delete(label);
    } catch (err) {
      const e = err as RtnlError;
      if (ALREADY_GONE.has(e.errno ?? '')) this.set.delete(label);
      else this.fail(failures, e.message, e.errno ?? 'EIO');
    } finally {
      this.removing.delete(label);
    }
  }

  /**
   * Adds every address, then every route; those already there count as
   * added. Resolves with the failures. With nothing pending and the link
   * watch's interfaces, the first address's request is in the kernel when
   * this returns.
   */
  up(): Promise<VipError[]> {
    this.sentAtOnce = 0;
    const done = this.serial(async () => {
      const failures: VipError[] = [];
      // (awaiting the known links would cost the takeover a turn of the microtask queue)
      const links = this.linksNow() ?? (await this.linkMap(failures, 'adding the virtual addresses'));
      if (!links) return failures;
      for (const a of this.addresses) await this.addAddress(a, links, failures);
      for (const r of this.routes) await this.addRoute(r, failures);
      return failures;
    });
    this.allInPlace = this.addresses.length > 0 && this.sentAtOnce === this.addresses.length && this.routes.length === 0;
    return done;
  }

  /**
   * After up() returned: whether it handed every address to the kernel
   * before returning, nothing else to follow (one address, no routes, no
   * request waiting before it). rtnetlink carries a request out inside
   * sendmsg(), so they are on their interface already (barring an error,
   * which up()'s promise reports): a takeover may announce them at once,
   * as keepalived does right after its netlink call, rather than a turn of
   * the event loop later when the kernel's answer is read.
   */
  get inPlaceNow(): boolean {
    return this.allInPlace;
  }

  /** Removes the routes, then the addresses, that up() put in place; gone already is fine. Resolves with the failures. */
  down(): Promise<VipError[]> {
    return this.serial(async () => {
      const failures: VipError[] = [];
      if (this.set.size === 0) return failures;
      for (const r of [...this.routes].reverse()) await this.removeRoute(r, failures);
      if (!this.addresses.some((a) => this.set.has(a.label))) return failures;
      const links = await this.linkMap(failures, 'removing the virtual addresses');
      if (!links) return failures;
      for (const a of [...this.addresses].reverse()) await this.removeAddress(a, links, failures);
      return failures;
    });
  }

  /**
   * At start, before the instance may become master: removes the
   * configured routes and addresses that are already in place (a crashed or
   * killed earlier run left them), as keepalived does at startup. Resolves
   * with what was removed (`10.0.0.1/24 on eth0`, `route ...`); failures go
   * to onFailure. `present`: the addresses in the kernel, when the caller
   * read them already (one list for every instance); else they are read.
   */
  cleanStale(present?: readonly AddressInfo[]): Promise<string[]> {
    return this.serial(async () => {
      const removed: string[] = [];
      const failures: VipError[] = [];
      for (const r of this.routes) {
        try {
          await this.rtnl.delRoute(r);
          removed.push(`route ${routeText(r)}`);
        } catch (err) {
          const e = err as RtnlError;
          if (!ALREADY_GONE.has(e.errno ?? '')) this.fail(failures, e.message, e.errno ?? 'EIO');
        }
      }
      const links = await this.linkMap(failures, 'removing stale virtual addresses');
      if (!links) return removed;
      if (!present) {
        try {
          present = await this.rtnl.addresses();
        } catch (err) {
          this.fail(failures, `removing stale virtual addresses: ${(err as Error).message}`, (err as RtnlError).errno ?? 'EIO');
          return removed;
        }
      }
      for (const a of this.addresses) {
        const link = links.get(a.dev);
        if (!link) continue;
        const want = canonicalIp(a.entry.address);
        const prefix = a.spec.peer?.prefix ?? a.spec.prefix;
        const found = present.find((p) => p.ifindex === link.index && p.address === want && p.prefix === prefix);
        if (!found) continue;
        try {
          await this.rtnl.delAddress(link.index, a.spec);
          removed.push(a.label);
        } catch (err) {
          const e = err as RtnlError;
          if (!ALREADY_GONE.has(e.errno ?? '')) this.fail(failures, e.message, e.errno ?? 'EIO');
        }
      }
      this.set.clear();
      this.heldOn.clear();
      return removed;
    });
  }

  // ---------------------------------------------------------------------------
  // removed by someone else

  /**
   * The kernel reports an address removed: its label when it is one this
   * manager holds and did not remove itself (someone else did: a network
   * manager, an administrator, the interface going away); else undefined.
   */
  removedElsewhere(a: Pick<AddressInfo, 'ifindex' | 'address' | 'prefix'>): string | undefined {
    for (const item of this.addresses) {
      if (!this.set.has(item.label) || this.removing.has(item.label)) continue;
      if (this.heldOn.get(item.label) !== a.ifindex || canonicalIp(item.entry.address) !== a.address || itemPrefix(item) !== a.prefix) continue;
      return item.label;
    }
    return undefined;
  }

  /** The virtual route a route the kernel reports removed is, when this manager holds it and did not remove it itself. */
  routeRemovedElsewhere(r: RouteInfo): RouteEntry | undefined {
    return this.routes.find((entry) => {
      const label = routeLabel(entry);
      return this.set.has(label) && !this.removing.has(label) && routeMatches(entry, r);
    });
  }

  /**
   * Puts back addresses (by label) someone else removed, then every held
   * route that is gone (named in `routes`, or flushed by the kernel with an
   * address it depended on: those answer EEXIST when still there). With
   * nothing pending the first request is in the kernel when this returns
   * (inPlaceNow says whether every address was). Resolves with the labels
   * put back, those that could not be, and why (each failure names the
   * address and the kernel's reason).
   */
  restore(labels: readonly string[], routes: readonly RouteEntry[] = []): Promise<{ restored: string[]; lost: string[]; failures: VipError[] }> {
    this.sentAtOnce = 0;
    const items = labels.map((l) => this.addresses.find((a) => a.label === l)).filter((a): a is AddressItem => a !== undefined);
    const named = new Set(routes.map(routeLabel));
    const done = this.serial(async () => {
      const failures: VipError[] = [];
      const restored: string[] = [];
      const lost: string[] = [];
      for (const a of items) this.release(a.label);
      const recheck = this.routes.filter((r) => named.has(routeLabel(r)) || this.set.has(routeLabel(r)));
      for (const r of recheck) this.set.delete(routeLabel(r));
      const links = items.length > 0 ? (this.linksNow() ?? (await this.linkMap(failures, 'putting back the virtual addresses'))) : new Map<string, LinkInfo>();
      if (!links) return { restored, lost: items.map((a) => a.label), failures };
      for (const a of items) (await this.addAddress(a, links, failures)) === 'failed' ? lost.push(a.label) : restored.push(a.label);
      for (const r of recheck) {
        const outcome = await this.addRoute(r, failures);
        if (outcome === 'added') restored.push(routeLabel(r));
        else if (outcome === 'failed') lost.push(routeLabel(r));
      }
      return { restored, lost, failures };
    });
    this.allInPlace = items.length > 0 && this.sentAtOnce === items.length;
    return done;
  }

  /**
   * The labels of held addresses that are not among `present` (the
   * kernel's list): after the kernel dropped notifications, what someone
   * may have removed unseen.
   */
  missingFrom(present: readonly AddressInfo[]): string[] {
    return this.addresses
      .filter((item) => this.set.has(item.label) && !this.removing.has(item.label))
      .filter(
        (item) =>
          !present.some((p) => p.ifindex === this.heldOn.get(item.label) && p.address === canonicalIp(item.entry.address) && p.prefix === itemPrefix(item)),
      )
      .map((item) => item.label);
  }

  /** The address of a label (the announcer's key), or undefined for a route or an unknown label. */
  addressOf(label: string): string | undefined {
    return this.addresses.find((a) => a.label === label)?.entry.address;
  }

  /** Every address of the instance, `10.0.0.1/24`, with its interface and whether it is in place now (put there, and not removed by someone else since). */
  presence(): { address: string; dev: string; present: boolean }[] {
    return this.addresses.map((a) => ({ address: `${a.entry.address}/${itemPrefix(a)}`, dev: a.dev, present: this.set.has(a.label) }));
  }

  /** The interface an address label is put on. */
  deviceOf(label: string): string | undefined {
    return this.addresses.find((a) => a.label === label)?.dev;
  }
}

/** what adding one address or route came to */
type AddOutcome = 'added' | 'present' | 'failed';

function itemPrefix(a: AddressItem): number {
  const max = a.entry.family === 6 ? 128 : 32;
  return a.spec.peer ? (a.spec.peer.prefix ?? max) : (a.spec.prefix ?? max);
}

let rehearsed = false;

/**
 * Runs a throwaway manager, on an rtnetlink that answers at once and
 * touches nothing, through up() and down(): V8 compiles a function at its
 * first call, and a backup's first takeover would otherwise compile the
 * path to its VIP request then. Once per process.
 */
export function warmUpVips(): void {
  if (rehearsed) return;
  rehearsed = true;
  const done = (): Promise<void> => Promise.resolve();
  const rehearsal: VipRtnl = {
    addAddress: done,
    delAddress: done,
    addRoute: done,
    delRoute: done,
    addresses: () => Promise.resolve([]),
    links: () => Promise.resolve([]),
    prepareAddress: (ifindex, spec) => ({ ifindex, spec, body: Buffer.alloc(0) }),
  };
  const link: LinkInfo = { index: 1, name: 'rehearsal', mac: '', up: true, adminUp: true, operstate: 'up', mtu: 1500, noarp: false, type: 1 };
  const pos = { file: 'rehearsal', line: 1, col: 1 };
  const vips = new VipManager(rehearsal, {
    ifname: link.name,
    vips: [
      { address: '192.0.2.10', family: 4, prefix: 24, pos },
      { address: '2001:db8::10', family: 6, prefix: undefined, pos },
    ],
    links: () => [link],
  });
  vips.prepare();
  // the path of a VIP someone removed, put back at once, too
  void vips
    .up()
    .then(() => {
      vips.removedElsewhere({ ifindex: link.index, address: '192.0.2.10', prefix: 24 });
      return vips.restore(vips.held);
    })
    .then(() => vips.down());
}
