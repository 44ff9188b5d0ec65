import { spawn } from 'node:child_process';
import type { Logger } from '../log/logger';
import type { FirewallSettings } from './settings';

/**
 * No_accept mode's firewall, as keepalived 2.2.7 builds it with nftables
 * (vrrp_nftables.c): while an instance is master without being the address
 * owner and without `accept`, the host drops traffic to and from its VIPs.
 * The rules live in a table of alived's own (`nftables [TABLE]`, default
 * `alived`), laid out as keepalived lays out its `keepalived` table:
 *
 *   table ip T    set vips (ipv4_addr); chain in (hook input, nftables_priority):
 *                 ip daddr @vips drop; chain out (hook output): ip saddr @vips drop
 *   table ip6 T   the same for IPv6, with neighbour solicitations and
 *                 advertisements let through, and link-local VIPs keyed by
 *                 address . interface (index, or name under dont_track_primary
 *                 without nftables_ifindex) in chains in_link_local / out_link_local
 *
 * Each table is made the first time an address of its family is added (a
 * table of the same name that a crashed run left is deleted then, and at
 * start), the addresses come and go with the masters, and the tables are
 * deleted at stop. `nftables_counters` puts a counter on each drop rule.
 *
 * It runs the `nft` command, one batch (`nft -f -`, all or nothing) per
 * change, one at a time and in order, so a takeover's VIPs, advert and
 * gratuitous ARPs are never delayed by it: the engine hands a change over
 * after those (keepalived sends its netlink batch before the VIPs; here a
 * few milliseconds pass between the VIP and its drop rule).
 */

/** One address as the firewall keys it. */
export interface FirewallAddress {
  address: string;
  family: 4 | 6;
  /** the interface it is on: the key of an IPv6 link-local VIP */
  ifname: string;
  /** an IPv6 link-local VIP keyed by interface name rather than index */
  byName?: boolean;
}

/** Runs an nft script (`nft -f -`); rejects with nft's message. */
export type NftRunner = (script: string) => Promise<void>;

const NFT_TIMEOUT_MS = 5000;

/** `nft -f -` with the script on stdin, killed after 5 s. `prefix` runs it through another command (tests: `ip netns exec NS`). */
export function nftRunner(prefix: readonly string[] = []): NftRunner {
  return (script) =>
    new Promise<void>((resolve, reject) => {
      const argv = [...prefix, 'nft', '-f', '-'];
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (stderr.length < 4096) stderr += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), NFT_TIMEOUT_MS);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`nft could not run: ${err.message} (install nftables)`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else
          reject(
            new Error(
              signal ? `nft was killed (${signal}) after ${NFT_TIMEOUT_MS} ms` : `nft exited ${code}: ${stderr.trim().split('\n').slice(0, 3).join(' | ')}`,
            ),
          );
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(script);
    });
}

type SetName = 'vips' | 'vips_link_local' | 'vips_link_local_name';

function isLinkLocal6(a: string): boolean {
  return /^fe[89ab][0-9a-f]?:/i.test(a);
}

export class NftFirewall {
  private readonly run: NftRunner;
  private readonly log: Logger;
  /** which table and sets exist now */
  private v4 = false;
  private v6 = false;
  private ll = { index: false, name: false };
  /** every element in the sets, with how many instances hold it */
  private readonly held = new Map<string, { family: 4 | 6; set: SetName; element: string; count: number }>();
  /** each instance's elements (keys of `held`) */
  private readonly owners = new Map<string, Set<string>>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly settings: FirewallSettings,
    deps: { log: Logger; run?: NftRunner },
  ) {
    this.run = deps.run ?? nftRunner();
    this.log = deps.log;
  }

  /** Deletes tables of this name that an earlier run (a crash) left, with everything in them. */
  clearLeftover(): Promise<void> {
    return this.enqueue(async () => {
      await this.run(this.deleteTables(true, true));
    }, 'removing a table an earlier run left');
  }

  /**
   * The addresses `owner` (an instance) holds in the firewall from now on:
   * those of a no_accept master, none otherwise. Applied in order after
   * what is queued; failures are logged.
   */
  set(owner: string, addresses: readonly FirewallAddress[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const want = new Map<string, { family: 4 | 6; set: SetName; element: string }>();
    for (const a of addresses) {
      const e = this.elementOf(a);
      want.set(`${e.family} ${e.set} ${e.element}`, e);
    }
    const had = this.owners.get(owner) ?? new Set<string>();
    const add: Array<{ family: 4 | 6; set: SetName; element: string }> = [];
    const del: Array<{ family: 4 | 6; set: SetName; element: string }> = [];
    for (const [key, e] of want) {
      if (had.has(key)) continue;
      const h = this.held.get(key);
      if (h) h.count++;
      else {
        this.held.set(key, { ...e, count: 1 });
        add.push(e);
      }
    }
    for (const key of had) {
      if (want.has(key)) continue;
      const h = this.held.get(key)!;
      if (--h.count === 0) {
        this.held.delete(key);
        del.push(h);
      }
    }
    if (want.size > 0) this.owners.set(owner, new Set(want.keys()));
    else this.owners.delete(owner);
    if (add.length === 0 && del.length === 0) return this.queue;
    // what the sets hold once this change is made: a table made (again) now gets all of its family's
    const all = [...this.held.values()].map((h) => ({ family: h.family, set: h.set, element: h.element }));
    const since = performance.now();
    return this.enqueue(async () => {
      const had = { 4: this.v4, 6: this.v6 };
      // a table that does not exist yet (or must be made again) gets every element of its family
      const adds = [...add, ...all.filter((e) => !(e.family === 4 ? this.v4 : this.v6) && !add.some((x) => x.set === e.set && x.element === e.element))];
      const script = [...this.setupFor(adds), ...adds.map((e) => `add element ${fam(e.family)} ${this.settings.table} ${e.set} { ${e.element} }`)];
      // an element whose table is gone (deleted by someone) is not there to delete
      for (const e of del) if (had[e.family]) script.push(`delete element ${fam(e.family)} ${this.settings.table} ${e.set} { ${e.element} }`);
      if (script.length === 0) return;
      try {
        await this.run(script.join('\n') + '\n');
      } catch (err) {
        // the tables are in an unknown state: made again, from scratch, at the next change
        this.v4 = this.v6 = false;
        this.ll = { index: false, name: false };
        throw err;
      }
      // ms: from the change (a takeover: the VIPs just requested) to nft's exit, when the rule is in place
      const ms = Math.round((performance.now() - since) * 10) / 10;
      if (add.length > 0) this.log.info({ table: this.settings.table, addresses: add.map((e) => e.element), ms }, `(${owner}) setting firewall drop rule`);
      if (del.length > 0) this.log.info({ table: this.settings.table, addresses: del.map((e) => e.element), ms }, `(${owner}) removing firewall drop rule`);
    }, `(${owner}) updating the firewall drop rules`);
  }

  /** The addresses in the sets now (for status and tests). */
  elements(): string[] {
    return [...this.held.values()].map((h) => h.element);
  }

  /** Stop: deletes the tables (and what is in them). */
  close(): Promise<void> {
    if (this.closed) return this.queue;
    this.closed = true;
    this.owners.clear();
    this.held.clear();
    return this.enqueue(async () => {
      const v4 = this.v4;
      const v6 = this.v6;
      this.v4 = this.v6 = false;
      if (v4 || v6) await this.run(this.deleteTables(v4, v6));
    }, 'deleting the firewall table');
  }

  private enqueue(step: () => Promise<void>, what: string): Promise<void> {
    const next = this.queue.then(step).catch((err: Error) => {
      this.log.error({ err: err.message, table: this.settings.table }, `firewall (nftables table ${this.settings.table}): ${what} failed: ${err.message}`);
    });
    this.queue = next;
    return next;
  }

  private elementOf(a: FirewallAddress): { family: 4 | 6; set: SetName; element: string } {
    if (a.family === 6 && isLinkLocal6(a.address)) {
      const set: SetName = a.byName && !this.settings.ifindex ? 'vips_link_local_name' : 'vips_link_local';
      return { family: 6, set, element: `${a.address} . ${JSON.stringify(a.ifname)}` };
    }
    return { family: a.family, set: 'vips', element: a.address };
  }

  /** `add table; delete table`: deletes a table whether it exists or not, in one batch. */
  private deleteTables(v4: boolean, v6: boolean): string {
    const t = this.settings.table;
    const lines: string[] = [];
    if (v4) lines.push(`add table ip ${t}`, `delete table ip ${t}`);
    if (v6) lines.push(`add table ip6 ${t}`, `delete table ip6 ${t}`);
    return lines.join('\n') + '\n';
  }

  /** The tables, chains, sets and rules the added elements need and that do not exist yet. */
  private setupFor(add: ReadonlyArray<{ family: 4 | 6; set: SetName }>): string[] {
    const t = this.settings.table;
    const p = this.settings.priority;
    const counter = this.settings.counters ? 'counter ' : '';
    const out: string[] = [];
    const base = (family: 'ip' | 'ip6') => [
      // a table left by a crashed run goes first
      `add table ${family} ${t}`,
      `delete table ${family} ${t}`,
      `add table ${family} ${t}`,
      `add chain ${family} ${t} out { type filter hook output priority ${p}; policy accept; }`,
      `add chain ${family} ${t} in { type filter hook input priority ${p}; policy accept; }`,
    ];
    if (!this.v4 && add.some((e) => e.family === 4)) {
      out.push(
        ...base('ip'),
        `add set ip ${t} vips { type ipv4_addr; }`,
        `add rule ip ${t} in ip daddr @vips ${counter}drop`,
        `add rule ip ${t} out ip saddr @vips ${counter}drop`,
      );
      this.v4 = true;
    }
    if (!this.v6 && add.some((e) => e.family === 6)) {
      out.push(
        ...base('ip6'),
        `add chain ip6 ${t} in_link_local`,
        `add chain ip6 ${t} out_link_local`,
        `add set ip6 ${t} vips { type ipv6_addr; }`,
        `add set ip6 ${t} neighbor-discovery { type icmpv6_type; flags constant; elements = { nd-neighbor-solicit, nd-neighbor-advert }; }`,
        `add rule ip6 ${t} in icmpv6 type @neighbor-discovery accept`,
        `add rule ip6 ${t} in ip6 daddr fe80::/10 goto in_link_local`,
        `add rule ip6 ${t} out icmpv6 type @neighbor-discovery accept`,
        `add rule ip6 ${t} out ip6 saddr fe80::/10 goto out_link_local`,
        `add rule ip6 ${t} in ip6 daddr @vips ${counter}drop`,
        `add rule ip6 ${t} out ip6 saddr @vips ${counter}drop`,
      );
      this.v6 = true;
      this.ll = { index: false, name: false };
    }
    if (!this.ll.index && add.some((e) => e.set === 'vips_link_local')) {
      out.push(
        `add set ip6 ${t} vips_link_local { type ipv6_addr . iface_index; }`,
        `add rule ip6 ${t} in_link_local ip6 daddr . iif @vips_link_local ${counter}drop`,
        `add rule ip6 ${t} out_link_local ip6 saddr . oif @vips_link_local ${counter}drop`,
      );
      this.ll.index = true;
    }
    if (!this.ll.name && add.some((e) => e.set === 'vips_link_local_name')) {
      out.push(
        `add set ip6 ${t} vips_link_local_name { type ipv6_addr . ifname; }`,
        `add rule ip6 ${t} in_link_local ip6 daddr . iifname @vips_link_local_name ${counter}drop`,
        `add rule ip6 ${t} out_link_local ip6 saddr . oifname @vips_link_local_name ${counter}drop`,
      );
      this.ll.name = true;
    }
    return out;
  }
}

function fam(f: 4 | 6): 'ip' | 'ip6' {
  return f === 4 ? 'ip' : 'ip6';
}

/** What an instance holds in the firewall: its VIPs and excluded VIPs while it is a no_accept master that does not own them. */
export function firewallAddressesOf(
  s: { ifname: string; priority: number; accept: boolean; trackPrimary: boolean; vips: readonly AddrLike[]; excludedVips: readonly AddrLike[] },
  master: boolean,
): FirewallAddress[] {
  if (!master || s.accept || s.priority === 255) return [];
  return [...s.vips, ...s.excludedVips].map((v) => ({
    address: v.address,
    family: v.family,
    ifname: v.dev ?? s.ifname,
    // keepalived keys a link-local VIP by interface name under dont_track_primary (for one on the instance's interface or not tracked)
    byName: !s.trackPrimary && (v.dev === undefined || v.dev === s.ifname || v.noTrack === true),
  }));
}

interface AddrLike {
  address: string;
  family: 4 | 6;
  dev?: string;
  noTrack?: true;
}
