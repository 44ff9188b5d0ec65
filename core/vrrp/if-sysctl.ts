import * as fs from 'node:fs';

/**
 * Interface sysctls that alived sets while it runs and puts back at stop
 * (the VMACs' base interfaces: core/vrrp/vmac.ts). A sysctl is named by its
 * path under /proc/sys (`net/ipv4/conf/eth0/arp_ignore`), which a process
 * reads in its own network namespace.
 *
 * The value found before alived first set a sysctl is its original; a
 * restore writes it back only while the sysctl still holds what alived set
 * (someone who changed it since keeps their value, as keepalived's
 * restore_rp_filter does). Originals survive a crash of the VRRP process
 * through the VMAC's alias (see vmac.ts): `adopt()` takes them back.
 */

const ROOT = '/proc/sys/';

export function readSysctl(path: string): string | undefined {
  try {
    return fs.readFileSync(ROOT + path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Writes a sysctl; throws with the path and the reason when the kernel refuses. */
export function writeSysctl(path: string, value: string): void {
  try {
    fs.writeFileSync(ROOT + path, value);
  } catch (err) {
    throw new Error(`setting ${path.replace(/\//g, '.')} to ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export interface SysctlChange {
  path: string;
  from: string;
  to: string;
}

export class SysctlKeeper {
  /** path -> [original, what alived set] */
  private readonly held = new Map<string, { original: string; set: string }>();

  /** Originals recorded elsewhere (a VMAC's alias after a crash): kept unless one is known already. */
  adopt(originals: ReadonlyMap<string, string>): void {
    for (const [path, original] of originals) if (!this.held.has(path)) this.held.set(path, { original, set: readSysctl(path) ?? original });
  }

  /** Sets a sysctl, recording its original the first time. Returns the change, or undefined when it already had that value and none is held. */
  set(path: string, value: string): SysctlChange | undefined {
    const now = readSysctl(path);
    if (now === undefined) throw new Error(`setting ${path.replace(/\//g, '.')}: no such sysctl`);
    const h = this.held.get(path);
    if (now === value) {
      if (h) h.set = value;
      return undefined;
    }
    writeSysctl(path, value);
    if (h) h.set = value;
    else this.held.set(path, { original: now, set: value });
    return { path, from: now, to: value };
  }

  /** The originals of what is held under these paths (for the VMAC's alias). */
  originals(filter: (path: string) => boolean = () => true): Map<string, string> {
    const out = new Map<string, string>();
    for (const [p, h] of this.held) if (filter(p)) out.set(p, h.original);
    return out;
  }

  has(path: string): boolean {
    return this.held.has(path);
  }

  /**
   * Puts back the originals of these paths. Returns what was put back and
   * what was left because someone changed it since (or it is gone, with
   * its interface).
   */
  restore(paths: Iterable<string>): { restored: SysctlChange[]; left: { path: string; now: string | undefined; original: string }[] } {
    const restored: SysctlChange[] = [];
    const left: { path: string; now: string | undefined; original: string }[] = [];
    for (const path of paths) {
      const h = this.held.get(path);
      if (!h) continue;
      this.held.delete(path);
      const now = readSysctl(path);
      if (now === h.original) continue;
      if (now !== h.set) {
        left.push({ path, now, original: h.original });
        continue;
      }
      try {
        writeSysctl(path, h.original);
        restored.push({ path, from: now, to: h.original });
      } catch {
        left.push({ path, now, original: h.original });
      }
    }
    return { restored, left };
  }
}
