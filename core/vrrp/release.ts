import { Rtnl } from './rtnl';
import type { VrrpSettings } from './settings';
import { VipManager, type VipError } from './vips';

/**
 * Removes every VIP, excluded VIP and virtual route of the config's
 * instances (those `which` names) that is on this host now: what a VRRP
 * process that died may have held. The supervisor calls it in the main
 * process the moment the VRRP process exits (for its masters, once the next
 * process could not resume them in time), so a dead master holds nothing
 * while a backup takes over. One list of interfaces and one of addresses
 * serve every instance.
 */
export async function removeLeftovers(
  settings: VrrpSettings,
  which: (instance: string) => boolean = () => true,
): Promise<{ removed: string[]; failures: VipError[] }> {
  const rtnl = new Rtnl();
  const removed: string[] = [];
  const failures: VipError[] = [];
  try {
    const links = await rtnl.links();
    const present = await rtnl.addresses();
    for (const s of settings.instances) {
      if (!which(s.name)) continue;
      const vips = new VipManager(rtnl, {
        ifname: s.ifname,
        vips: s.vips,
        excluded: s.excludedVips,
        routes: s.routes,
        links: () => links,
        onFailure: (err) => failures.push(err),
      });
      for (const r of await vips.cleanStale(present)) removed.push(`${r} (${s.name})`);
    }
  } finally {
    rtnl.close();
  }
  return { removed, failures };
}
