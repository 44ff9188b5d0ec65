import type { RouteEntry, RuleEntry } from '../config/keywords/vrrp';
import type { Logger } from '../log/logger';
import { Rtnl } from './rtnl';
import type { RtnlError } from './rtnl-error';
import { ruleText, type AddressInfo, type LinkWatch, type NetlinkWatch } from './rtnl-shapes';
import type { StaticNetSettings } from './static-net-settings';
import { addressLabel, routeLabel, VipManager, type VipError } from './vips';

/** the errors of a rule request that mean "already as wanted" */
const RULE_THERE = new Set(['EEXIST']);
const RULE_GONE = new Set(['ENOENT', 'ESRCH']);

/** An entry as a reload compares it: every field but where the config said it and its track_group */
function entryKey(e: unknown): string {
  return JSON.stringify(e, (key, value: unknown) => (key === 'pos' || key === 'trackGroup' ? undefined : value));
}
const ruleKey = (r: RuleEntry): string => entryKey(r);

/**
 * The labels (the VIP manager's keys) of entries a reload keeps under the
 * same label with other attributes (a scope, a label, a source, a metric
 * option): those are removed and set again.
 */
function changedUnderLabel<T>(old: readonly T[], next: readonly T[], label: (e: T) => string): Set<string> {
  const before = new Map(old.map((e) => [label(e), entryKey(e)]));
  return new Set(next.filter((e) => before.has(label(e)) && before.get(label(e)) !== entryKey(e)).map(label));
}

/**
 * static_ipaddress, static_routes and static_rules, in the VRRP process as
 * in keepalived's VRRP child (vrrp_daemon.c): at start what an earlier run
 * left is removed and every entry is set, whatever the VRRP state; a reload
 * removes what the new config no longer has and adds what it adds, leaving
 * the rest untouched; stop removes rules, routes, then addresses. An entry
 * someone else deletes is put back (not with no_track), and so are the
 * addresses and routes of an interface that comes up again.
 */
export class StaticNet {
  private readonly rtnl = new Rtnl();
  private readonly vips: VipManager;
  /** rules this process set (or found set), by ruleKey */
  private readonly heldRules = new Set<string>();
  /** rules being removed by this process: the kernel's notice of it is not someone else's */
  private removingRules = 0;
  private watches: NetlinkWatch[] = [];
  private linkWatch: LinkWatch | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private settings: StaticNetSettings,
    private readonly log: Logger,
  ) {
    this.vips = new VipManager(this.rtnl, {
      // every static address has its dev (resolveStaticNet)
      ifname: '',
      vips: settings.addresses,
      routes: settings.routes,
      links: () => (this.linkWatch ? this.linkWatch.current.values() : []),
      onFailure: (err) => this.failed(err),
    });
  }

  private failed(err: VipError | RtnlError): void {
    this.log.warn({ code: err.code, errno: err.errno, err: err.message }, `static entry: ${err.message}`);
  }

  /** one change at a time: start, reload, a putting back, stop */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.chain.then(op, op);
    this.chain = p.catch(() => undefined);
    return p;
  }

  start(): Promise<void> {
    return this.serial(async () => {
      this.linkWatch = await this.rtnl.watchLinks(
        (ev) => {
          if (ev.type === 'up' || (ev.type === 'added' && ev.link.up)) void this.interfaceUp(ev.link.name);
        },
        (err) => this.log.warn({ err: err.message }, `static entries: link events: ${err.message}`),
      );
      // what a crashed or killed earlier run left, as keepalived clears it before setting its own
      const removed = await this.vips.cleanStale();
      for (const r of this.settings.rules) await this.delRule(r, true);
      if (removed.length) this.log.info({ removed }, `removed static entries left by an earlier run: ${removed.join(', ')}`);
      await this.vips.up();
      for (const r of this.settings.rules) await this.addRule(r);
      const n = this.settings.addresses.length + this.settings.routes.length + this.settings.rules.length;
      this.log.info(
        { addresses: this.settings.addresses.length, routes: this.settings.routes.length, rules: this.settings.rules.length },
        `${n} static entr${n === 1 ? 'y' : 'ies'} set`,
      );
      await this.watch();
    });
  }

  /** A reload: only the differences reach the kernel. */
  reload(next: StaticNetSettings | undefined): Promise<void> {
    return this.serial(async () => {
      const settings = next ?? { addresses: [], routes: [], rules: [] };
      const wanted = new Set(settings.rules.map(ruleKey));
      for (const r of [...this.settings.rules].reverse()) if (!wanted.has(ruleKey(r))) await this.delRule(r);
      const addrLabel = (a: StaticNetSettings['addresses'][number]): string => addressLabel(a, a.dev!);
      const changedAddresses = changedUnderLabel(this.settings.addresses, settings.addresses, addrLabel);
      const changedRoutes = changedUnderLabel(this.settings.routes, settings.routes, routeLabel);
      if (changedAddresses.size || changedRoutes.size) {
        // first without them (they come off), then with them (they are set with their new attributes)
        const vips = settings.addresses.filter((a) => !changedAddresses.has(addrLabel(a)));
        const routes = settings.routes.filter((r) => !changedRoutes.has(routeLabel(r)));
        await this.vips.reconfigure({ ifname: '', vips, routes }, true);
      }
      await this.vips.reconfigure({ ifname: '', vips: settings.addresses, routes: settings.routes }, true);
      this.settings = settings;
      for (const r of settings.rules) await this.addRule(r);
      await this.watch();
    });
  }

  /** Removes rules, routes, then addresses (keepalived's order at exit); the watches close first. */
  stop(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      this.stopped = true;
      this.closeWatches();
      this.linkWatch?.close();
      for (const r of [...this.settings.rules].reverse()) await this.delRule(r);
      await this.vips.down();
      this.rtnl.close();
    });
  }

  private closeWatches(): void {
    for (const w of this.watches) w.close();
    this.watches = [];
  }

  /** Address, route and rule deletions are watched only while some entry is tracked (not no_track). */
  private async watch(): Promise<void> {
    this.closeWatches();
    const s = this.settings;
    const onError = (err: Error): void => this.log.warn({ err: err.message }, `static entries: ${err.message}`);
    if (s.addresses.some((a) => !a.noTrack)) {
      this.watches.push(
        await this.rtnl.watchAddresses(
          (ev) => {
            if (ev.type === 'deleted') this.addressDeleted(ev.address);
          },
          () => void this.addressesLost(),
          onError,
        ),
      );
    }
    if (s.routes.some((r) => !r.noTrack)) {
      this.watches.push(
        await this.rtnl.watchRoutes(
          (ev) => {
            if (ev.type !== 'deleted') return;
            const entry = this.vips.routeRemovedElsewhere(ev.route);
            if (entry && !entry.noTrack) void this.putBack([], [entry]);
          },
          () =>
            void this.putBack(
              [],
              s.routes.filter((r) => !r.noTrack),
            ),
          onError,
        ),
      );
    }
    if (s.rules.some((r) => !r.noTrack)) {
      this.watches.push(
        await this.rtnl.watchRules(
          (ev) => {
            if (ev.type === 'deleted' && this.removingRules === 0) void this.rulesDeleted();
          },
          () => void this.rulesDeleted(),
          onError,
        ),
      );
    }
  }

  private addressDeleted(a: AddressInfo): void {
    const label = this.vips.removedElsewhere(a);
    if (!label) return;
    const entry = this.settings.addresses.find((e) => addressLabel(e, e.dev!) === label);
    if (entry && !entry.noTrack) void this.putBack([label], []);
  }

  /** the kernel dropped address notices: every tracked address missing now is put back */
  private async addressesLost(): Promise<void> {
    try {
      const present = await this.rtnl.addresses();
      const tracked = new Set(this.settings.addresses.filter((a) => !a.noTrack).map((a) => addressLabel(a, a.dev!)));
      const missing = this.vips.missingFrom(present).filter((l) => tracked.has(l));
      if (missing.length) await this.putBack(missing, []);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `static entries: cannot read the addresses: ${(err as Error).message}`);
    }
  }

  /** keepalived's interface_up(): the static addresses and routes of an interface that comes up are set again */
  private async interfaceUp(ifname: string): Promise<void> {
    const labels = this.settings.addresses.filter((a) => a.dev === ifname && !a.noTrack).map((a) => addressLabel(a, ifname));
    const routes = this.settings.routes.filter((r) => r.dev === ifname && !r.noTrack);
    if (labels.length || routes.length) await this.putBack(labels, routes, `interface ${ifname} is up`);
  }

  private putBack(labels: string[], routes: RouteEntry[], why = 'deleted by someone else'): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      const r = await this.vips.restore(labels, routes);
      for (const what of r.restored)
        this.log.notice({ entry: what, reason: why }, `Restoring static ${what.startsWith('route ') ? what : `address ${what}`} (${why})`);
    });
  }

  /** a rule was deleted: each tracked rule is added again; the ones still there answer EEXIST */
  private rulesDeleted(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      for (const r of this.settings.rules) {
        if (r.noTrack) continue;
        if ((await this.addRule(r, true)) === 'added') this.log.notice({ rule: ruleText(r) }, `Restoring deleted static rule ${ruleText(r)}`);
      }
    });
  }

  /** Sets a rule; already there counts as set. `again`: a putting back, whatever this process believes it holds. */
  private async addRule(r: RuleEntry, again = false): Promise<'added' | 'present' | 'failed'> {
    const key = ruleKey(r);
    if (!again && this.heldRules.has(key)) return 'present';
    try {
      await this.rtnl.addRule(r);
      this.heldRules.add(key);
      return 'added';
    } catch (err) {
      const e = err as RtnlError;
      if (RULE_THERE.has(e.errno ?? '')) {
        this.heldRules.add(key);
        return 'present';
      }
      this.failed(e);
      return 'failed';
    }
  }

  /** Removes a rule this process set; `leftover`: one an earlier run may have left, whether held or not. */
  private async delRule(r: RuleEntry, leftover = false): Promise<void> {
    const key = ruleKey(r);
    if (!leftover && !this.heldRules.has(key)) return;
    this.removingRules++;
    try {
      await this.rtnl.delRule(r);
      this.heldRules.delete(key);
    } catch (err) {
      const e = err as RtnlError;
      if (RULE_GONE.has(e.errno ?? '')) this.heldRules.delete(key);
      else if (!leftover) this.failed(e);
    } finally {
      this.removingRules--;
    }
  }
}
