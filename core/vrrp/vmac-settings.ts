import type { AddressEntry } from '../config/keywords/vrrp';
import type { IpFamily } from './types';

/**
 * What an instance with `use_vmac` runs on, resolved from the config as
 * keepalived resolves it (vrrp.c vrrp_complete_instance, create_vmac_name):
 * plain data, it crosses to the VRRP process with the other settings. The
 * interface itself is made by core/vrrp/vmac.ts.
 */
export interface VmacSettings {
  /** the macvlan's name: use_vmac's NAME, else `vmac_prefix` (vrrp) + `.` + VRID */
  ifname: string;
  /** 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6), or use_vmac's MAC */
  mac: string;
  /** vmac_xmit_base: adverts go out of the base interface, not the VMAC */
  xmitBase: boolean;
  /** the instance's configured interface, the macvlan's lower one */
  base: string;
}

/** The linux limit on an interface name (IFNAMSIZ - 1). */
const IFNAME_MAX = 15;

/** RFC 5798's virtual router MAC: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6. */
export function virtualMac(family: IpFamily, vrid: number): string {
  return `00:00:5e:00:0${family === 6 ? 2 : 1}:${vrid.toString(16).padStart(2, '0')}`;
}

/** use_vmac's MAC: six octets as given, or five with the VRID as the sixth (keepalived's rule). */
export function configuredMac(text: string, vrid: number): string {
  const octets = text
    .replace(/:$/, '')
    .split(':')
    .map((o) => parseInt(o, 16));
  if (octets.length === 5) octets.push(vrid);
  return octets.map((o) => o.toString(16).padStart(2, '0')).join(':');
}

/** `PREFIX[N].VRID`, the prefix cut so that the name fits in 15 characters (create_vmac_name). */
function vmacName(prefix: string, num: number | undefined, vrid: number): string {
  const tail = `${num ?? ''}.${vrid}`;
  return `${prefix.slice(0, Math.max(0, IFNAME_MAX - tail.length))}${tail}`;
}

/**
 * keepalived's generated names: `vrrp.51`, then `vrrp1.51`, `vrrp2.51`, ...
 * for IPv4, and `vrrp.51`, `vrrp6.51`, `vrrp1.51`, ... (6 skipped the
 * second time) for IPv6, the first not taken by another instance.
 */
export function generatedVmacName(prefix: string, vrid: number, family: IpFamily, taken: ReadonlySet<string>): string {
  let num: number | undefined;
  for (let i = 0; i < 1000; i++) {
    const name = vmacName(prefix, num, vrid);
    if (!taken.has(name)) return name;
    if (family === 6) num = num === undefined ? 6 : num === 6 ? 1 : num + 1 === 6 ? 7 : num + 1;
    else num = (num ?? 0) + 1;
  }
  throw new Error(`no free VMAC name for VRID ${vrid} with prefix ${prefix}`);
}

interface VmacInstance {
  name: string;
  vrid: number;
  family: IpFamily;
  ifname: string;
  vips: AddressEntry[];
  excludedVips: AddressEntry[];
  vmac?: VmacSettings;
}

interface VmacConfig {
  useVmac?: { interface?: string; mac?: string };
  vmacXmitBase?: boolean;
}

/**
 * Gives each instance with `use_vmac` its VMAC, and moves its addresses
 * there as keepalived does: a VIP or excluded VIP of the instance's family
 * with no `dev`, or with the instance's own interface as `dev`, goes on the
 * VMAC; one of the other family without `dev` stays on the base interface.
 * Names given in the config are kept; the others are generated after them.
 */
export function assignVmacs(instances: VmacInstance[], configs: readonly VmacConfig[], vmacPrefix: string | undefined): void {
  const taken = new Set<string>();
  for (const c of configs) if (c.useVmac?.interface) taken.add(c.useVmac.interface);
  // a name two instances give: the first keeps it, the later ones get generated names (the config check warns)
  const given = new Set<string>();
  instances.forEach((inst, at) => {
    const c = configs[at];
    if (!c?.useVmac) return;
    let ifname = c.useVmac.interface;
    if (ifname !== undefined && given.has(ifname)) ifname = undefined;
    else if (ifname !== undefined) given.add(ifname);
    if (!ifname) {
      ifname = generatedVmacName(vmacPrefix ?? 'vrrp', inst.vrid, inst.family, taken);
      taken.add(ifname);
    }
    const mac = c.useVmac.mac ? configuredMac(c.useVmac.mac, inst.vrid) : virtualMac(inst.family, inst.vrid);
    inst.vmac = { ifname, mac, xmitBase: c.vmacXmitBase === true, base: inst.ifname };
    const place = (e: AddressEntry): AddressEntry => {
      if (e.family === inst.family && (e.dev === undefined || e.dev === inst.ifname)) return { ...e, dev: ifname };
      if (e.dev === undefined) return { ...e, dev: inst.ifname };
      return e;
    };
    inst.vips = inst.vips.map(place);
    inst.excludedVips = inst.excludedVips.map(place);
  });
}

/**
 * garp_extra_if: the first VIP of each interface the adverts do not leave
 * from, as keepalived picks them (vrrp.c vrrp_gratuitous_arp_vmac_update_thread):
 * the VMAC with vmac_xmit_base, and with `all` every other VIP interface too.
 */
export function extraIfAddresses(s: {
  ifname: string;
  vips: readonly AddressEntry[];
  excludedVips: readonly AddressEntry[];
  vmac?: VmacSettings;
  garp: { extraIfInterval: number; extraIfAll: boolean };
}): string[] {
  if (s.garp.extraIfInterval <= 0) return [];
  const own = s.vmac?.ifname ?? s.ifname;
  const done = new Set<string>();
  const out: string[] = [];
  for (const v of [...s.vips, ...s.excludedVips]) {
    const dev = v.dev ?? s.ifname;
    if (done.has(dev)) continue;
    if (dev !== s.vmac?.ifname && !s.garp.extraIfAll) continue;
    if (dev === own && !s.vmac?.xmitBase) continue;
    done.add(dev);
    out.push(v.address);
  }
  return out;
}
