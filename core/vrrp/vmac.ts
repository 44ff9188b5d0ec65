import type { Logger } from '../log/logger';
import { readSysctl, SysctlKeeper, writeSysctl, type SysctlChange } from './if-sysctl';
import { canonicalIp } from '../net/address';
import { attr, u32 } from '../netlink/attrs';
import type { Rtnl } from './rtnl';
import type { RtnlError } from './rtnl-error';
import type { LinkDetail, LinkInfo } from './rtnl-shapes';
import type { IpFamily } from './types';
import type { VmacSettings } from './vmac-settings';

/**
 * VMACs: the macvlan interface an instance with `use_vmac` runs on, with
 * the virtual router MAC, as keepalived makes it (vrrp_vmac.c
 * netlink_link_add_vmac, vrrp_if_config.c):
 *
 * - a macvlan in private mode on the instance's interface, named and
 *   addressed as core/vrrp/vmac-settings.ts resolved it, in the base's
 *   interface group; IPv6 address generation off (no EUI-64 link-local
 *   from the virtual MAC), IPv6 off altogether for an IPv4 instance; up;
 *   for IPv6 without vmac_xmit_base, the base's link-local address (or
 *   one made from the base's MAC) so adverts leave from a non-VIP address
 *   with the virtual MAC;
 * - on the VMAC: arp_ignore 1, and for IPv4 accept_local 1, rp_filter 0,
 *   promote_secondaries 1 (it goes away with the interface);
 * - on the base interface (IPv4): arp_ignore 1 and arp_filter 1, as
 *   keepalived, and arp_announce 2, which keepalived does not set: without
 *   it the master asks for a client's MAC from the base interface with the
 *   VIP as the sender address, and the client's ARP entry for the VIP then
 *   names the base's own MAC instead of the virtual one;
 * - net.ipv4.conf.all.rp_filter 0 (else the VMAC's rp_filter 0 does not
 *   count), after raising default.rp_filter and every interface's own to
 *   the old value of all, so nothing else changes behaviour (keepalived's
 *   clear_rp_filter).
 *
 * Every sysctl of the base and of all/default is put back at stop, when its
 * last VMAC goes (keepalived 2.2.7 leaves arp_ignore and arp_filter set). Their
 * originals are kept in the VMAC's alias too, so a VRRP process that
 * replaces a crashed one, or a daemon started after a crash, finds the
 * VMAC left behind, takes it over and still puts back the right values.
 */

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_LINK = 5;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_GROUP = 27;
const IFLA_AF_SPEC = 26;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_MACVLAN_MODE = 1;
const MACVLAN_MODE_PRIVATE = 1;
const AF_INET6 = 10;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
const IFF_UP = 1;

/** the alias of a VMAC alived made, before the originals of the sysctls it changed */
const ALIAS_TAG = 'alived-vmac';
/** IFALIASZ - 1 */
const ALIAS_MAX = 255;

/** ifinfomsg: AF_UNSPEC, the index (0 for a new link), flags and the flags to change */
function ifinfo(index: number, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((o) => parseInt(o, 16)));
}

/** fe80::/64 with the EUI-64 interface id of a MAC (keepalived's make_link_local_address) */
export function linkLocalFromMac(mac: string): string {
  const m = macBytes(mac);
  const g = [(m[0]! ^ 0x02) * 256 + m[1]!, m[2]! * 256 + 0xff, 0xfe00 + m[3]!, m[4]! * 256 + m[5]!];
  return canonicalIp(`fe80::${g.map((x) => x.toString(16)).join(':')}`);
}

/** a sysctl path in the form an operator knows (net.ipv4.conf.eth0.arp_ignore) */
export function sysctlName(path: string): string {
  return path.replace(/\//g, '.');
}

const conf4 = (ifname: string, key: string): string => `net/ipv4/conf/${ifname}/${key}`;

/** The alias of a VMAC: the tag, then `IF/KEY=ORIGINAL` for the IPv4 conf sysctls alived changed, as many as fit. */
export function encodeAlias(originals: ReadonlyMap<string, string>): string {
  let out = ALIAS_TAG;
  for (const [path, value] of originals) {
    const m = /^net\/ipv4\/conf\/([^/]+)\/([a-z_]+)$/.exec(path);
    if (!m) continue;
    const entry = ` ${m[1]}/${m[2]}=${value}`;
    if (out.length + entry.length > ALIAS_MAX) break;
    out += entry;
  }
  return out;
}

/** The originals a VMAC's alias records; undefined when alived did not make it. */
export function decodeAlias(alias: string | undefined): Map<string, string> | undefined {
  if (!alias || (alias !== ALIAS_TAG && !alias.startsWith(`${ALIAS_TAG} `))) return undefined;
  const out = new Map<string, string>();
  for (const entry of alias.slice(ALIAS_TAG.length).trim().split(/\s+/)) {
    const m = /^([^/=\s]+)\/([a-z_]+)=(-?\d+)$/.exec(entry);
    if (m) out.set(conf4(m[1]!, m[2]!), m[3]!);
  }
  return out;
}

/**
 * The VMACs of one VRRP process and what they changed: the sysctls of
 * their base interfaces (put back when a base's last VMAC goes) and the
 * all/default rp_filter (put back when the last IPv4 VMAC goes).
 */
export class VmacHost {
  readonly sysctls = new SysctlKeeper();
  private readonly vmacs = new Set<Vmac>();

  constructor(
    readonly rtnl: Rtnl,
    readonly log: Logger,
  ) {}

  create(settings: VmacSettings, family: IpFamily, instance: string): Vmac {
    return new Vmac(this, settings, family, instance);
  }

  /**
   * disable_local_igmp: no IGMP reports for the link-local groups
   * (224.0.0.0/24, VRRP's included) while alived runs, as keepalived's
   * set_disable_local_igmp; `true` puts the original back.
   */
  localIgmpReports(on: boolean): void {
    const path = 'net/ipv4/igmp_link_local_mcast_reports';
    if (on) {
      this.report(this.sysctls.restore([path]));
      return;
    }
    try {
      const c = this.sysctls.set(path, '0');
      if (c) this.log.info({ sysctl: sysctlName(path), from: c.from }, `${sysctlName(path)} set to 0 (was ${c.from}): disable_local_igmp`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `disable_local_igmp: ${(err as Error).message}`);
    }
  }

  /** the names of the VMACs in place */
  names(): Set<string> {
    return new Set([...this.vmacs].map((v) => v.settings.ifname));
  }

  /** @internal a VMAC is in place */
  hold(v: Vmac): void {
    this.vmacs.add(v);
  }

  /** @internal a VMAC went: what no other VMAC needs is put back */
  release(v: Vmac): void {
    if (!this.vmacs.delete(v)) return;
    const paths: string[] = [];
    const v4 = [...this.vmacs].filter((x) => x.family === 4);
    if (v.family === 4 && !v4.some((x) => x.settings.base === v.settings.base)) {
      for (const key of BASE_SYSCTLS) paths.push(conf4(v.settings.base, key[0]));
    }
    if (v.family === 4 && v4.length === 0) {
      // the rp_filter of all, default and every interface alived raised
      for (const p of this.sysctls.originals((p) => p.endsWith('/rp_filter')).keys()) paths.push(p);
    }
    this.report(this.sysctls.restore(paths));
  }

  private report({ restored, left }: ReturnType<SysctlKeeper['restore']>): void {
    for (const r of restored)
      this.log.info({ sysctl: sysctlName(r.path), value: r.to }, `${sysctlName(r.path)} put back to ${r.to} (was ${r.from} while alived ran)`);
    for (const l of left) {
      if (l.now === undefined) continue;
      this.log.warn(
        { sysctl: sysctlName(l.path), now: l.now, original: l.original },
        `${sysctlName(l.path)} is ${l.now}, changed by someone else since alived set it: left as it is (it was ${l.original} before alived)`,
      );
    }
  }
}

/** what keepalived sets on a VMAC's base interface, and alived's arp_announce */
const BASE_SYSCTLS: ReadonlyArray<[string, string]> = [
  ['arp_ignore', '1'],
  ['arp_filter', '1'],
  ['arp_announce', '2'],
];

/** The macvlan of one instance. */
export class Vmac {
  /** the VMAC as last made or found */
  link: LinkInfo | undefined;
  private held = false;

  constructor(
    private readonly host: VmacHost,
    readonly settings: VmacSettings,
    readonly family: IpFamily,
    private readonly instance: string,
  ) {}

  private get rtnl(): Rtnl {
    return this.host.rtnl;
  }

  /**
   * Makes the VMAC on `base` (or takes over one left by an earlier run),
   * sets the sysctls, brings it up. Resolves with the VMAC's link; throws
   * what went wrong (the instance is then in FAULT).
   */
  async ensure(base: LinkInfo): Promise<LinkInfo> {
    const s = this.settings;
    const log = this.host.log;
    const found = await this.rtnl.linkDetail(s.ifname);
    let reuse = false;
    if (found) {
      const originals = decodeAlias(found.alias);
      if (originals) this.host.sysctls.adopt(originals);
      if (found.kind !== 'macvlan')
        throw new Error(`interface ${s.ifname} exists and is not a macvlan (it is ${found.kind ?? 'a physical interface'}): not used as the VMAC`);
      if (found.lowerIndex === base.index && found.macvlanMode === MACVLAN_MODE_PRIVATE && found.mac === s.mac) {
        reuse = true;
        if (!this.held) log.notice({ interface: s.ifname }, `(${this.instance}) taking over VMAC ${s.ifname}, left by an earlier run`);
      } else if (originals || /^00:00:5e:00:0[12]:/.test(found.mac)) {
        log.notice(
          { interface: s.ifname },
          `(${this.instance}) removing ${s.ifname}: a macvlan on another interface or with another MAC or mode (${found.mac}), made again as the VMAC`,
        );
        await this.delete(found);
      } else {
        throw new Error(`interface ${s.ifname} is a macvlan that is not a VMAC (MAC ${found.mac}): not used`);
      }
    }
    // the base first: its originals go into the new VMAC's alias
    const changes = this.family === 4 ? await this.setBase(base) : [];
    const alias = encodeAlias(this.host.sysctls.originals());
    let index: number;
    if (reuse) index = found!.index;
    else {
      const group = (await this.rtnl.linkDetail(base.name))?.group;
      const data = attr(IFLA_INFO_DATA, attr(IFLA_MACVLAN_MODE, u32(MACVLAN_MODE_PRIVATE)));
      const linkinfo = attr(IFLA_LINKINFO, Buffer.concat([attr(IFLA_INFO_KIND, Buffer.from('macvlan')), data]));
      const body = Buffer.concat([
        ifinfo(0),
        linkinfo,
        attr(IFLA_LINK, u32(base.index)),
        attr(IFLA_IFNAME, Buffer.from(`${s.ifname}\0`)),
        attr(IFLA_ADDRESS, macBytes(s.mac)),
        attr(IFLA_IFALIAS, Buffer.from(alias)),
        // the base's interface group, so that firewall rules on groups (iifgroup, oifgroup) still match
        ...(group ? [attr(IFLA_GROUP, u32(group))] : []),
      ]);
      await this.rtnl.linkRequest('new', body, `creating VMAC ${s.ifname} on ${base.name}`);
      const made = await this.rtnl.linkByName(s.ifname);
      if (!made) throw new Error(`VMAC ${s.ifname} was created but is not there`);
      index = made.index;
      log.info({ interface: s.ifname, mac: s.mac, base: base.name }, `(${this.instance}) created VMAC ${s.ifname} (${s.mac}, macvlan private) on ${base.name}`);
    }
    this.held = true;
    this.host.hold(this);
    for (const c of changes)
      log.info({ sysctl: sysctlName(c.path), from: c.from, to: c.to }, `${sysctlName(c.path)} set to ${c.to} (was ${c.from}) for VMAC ${s.ifname}`);
    this.setOwn();
    // the alias (originals) and no EUI-64 address from the virtual MAC: before the link goes up
    const spec = attr(IFLA_AF_SPEC, attr(AF_INET6, attr(IFLA_INET6_ADDR_GEN_MODE, Buffer.from([IN6_ADDR_GEN_MODE_NONE]))));
    await this.rtnl.linkRequest('set', Buffer.concat([ifinfo(index), attr(IFLA_IFALIAS, Buffer.from(alias)), spec]), `setting up VMAC ${s.ifname}`);
    await this.rtnl.linkRequest('set', ifinfo(index, IFF_UP, IFF_UP), `bringing VMAC ${s.ifname} up`);
    if (this.family === 6 && !s.xmitBase) await this.addLinkLocal(base, index);
    const link = await this.rtnl.linkByIndex(index);
    if (!link) throw new Error(`VMAC ${s.ifname} went away while it was set up`);
    this.link = link;
    return link;
  }

  /** The base interface's sysctls (IPv4), and all.rp_filter 0 as keepalived's clear_rp_filter. */
  private async setBase(base: LinkInfo): Promise<SysctlChange[]> {
    const k = this.host.sysctls;
    const changes: SysctlChange[] = [];
    const note = (c: SysctlChange | undefined): void => {
      if (c) changes.push(c);
    };
    for (const [key, value] of BASE_SYSCTLS) note(k.set(conf4(base.name, key), value));
    // the value all had before alived: held (set to 0 by an earlier VMAC) or as it is now
    const allPath = conf4('all', 'rp_filter');
    const all = Number(k.originals((p) => p === allPath).get(allPath) ?? readSysctl(allPath) ?? '0');
    if (all > 0) {
      const dflt = Number(readSysctl(conf4('default', 'rp_filter')) ?? '0');
      if (dflt < all) note(k.set(conf4('default', 'rp_filter'), String(all)));
      const vmacs = this.host.names();
      for (const l of await this.rtnl.links()) {
        // the VMACs keep their rp_filter 0
        if (l.name === this.settings.ifname || vmacs.has(l.name)) continue;
        const own = readSysctl(conf4(l.name, 'rp_filter'));
        if (own !== undefined && Number(own) < all) note(k.set(conf4(l.name, 'rp_filter'), String(all)));
      }
      note(k.set(conf4('all', 'rp_filter'), '0'));
    }
    return changes;
  }

  /** The VMAC's own sysctls (they go with it). */
  private setOwn(): void {
    const name = this.settings.ifname;
    const own: Array<[string, string]> =
      this.family === 4
        ? [
            [conf4(name, 'arp_ignore'), '1'],
            [conf4(name, 'accept_local'), '1'],
            [conf4(name, 'rp_filter'), '0'],
            [conf4(name, 'promote_secondaries'), '1'],
            [`net/ipv6/conf/${name}/disable_ipv6`, '1'],
          ]
        : [
            [conf4(name, 'arp_ignore'), '1'],
            [`net/ipv6/conf/${name}/disable_ipv6`, '0'],
          ];
    for (const [path, value] of own) {
      // IPv6 may be off in this kernel: no net/ipv6 to set
      if (readSysctl(path) === undefined && path.startsWith('net/ipv6/')) continue;
      writeSysctl(path, value);
    }
  }

  /** The base's link-local address on the VMAC (keepalived's set_link_local_address), without DAD: the base holds it already. */
  private async addLinkLocal(base: LinkInfo, index: number): Promise<void> {
    const ll = (await this.rtnl.addresses(base.index, 6)).find((a) => a.address.startsWith('fe80:'))?.address ?? linkLocalFromMac(base.mac);
    try {
      await this.rtnl.addAddress(index, { address: ll, prefix: 64, nodad: true });
    } catch (err) {
      if ((err as RtnlError).errno !== 'EEXIST') throw err;
    }
  }

  private async delete(l: LinkDetail | LinkInfo): Promise<void> {
    try {
      await this.rtnl.linkRequest('del', ifinfo(l.index), `deleting VMAC ${l.name}`);
    } catch (err) {
      if ((err as RtnlError).errno !== 'ENODEV') throw err;
    }
  }

  /** At stop (or when the instance goes): the VMAC is deleted, and what only it needed is put back. */
  async remove(): Promise<void> {
    const s = this.settings;
    try {
      const found = await this.rtnl.linkDetail(s.ifname);
      if (found && found.kind === 'macvlan' && (decodeAlias(found.alias) || found.mac === s.mac)) {
        await this.delete(found);
        this.host.log.info({ interface: s.ifname }, `(${this.instance}) removed VMAC ${s.ifname}`);
      }
    } catch (err) {
      this.host.log.error({ err: (err as Error).message }, `(${this.instance}) removing VMAC ${s.ifname}: ${(err as Error).message}`);
    } finally {
      this.link = undefined;
      this.held = false;
      this.host.release(this);
    }
  }
}
