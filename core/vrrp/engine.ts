import { LatenessStats } from './lateness';
import { warmUpAnnouncer, type AnnounceLink, type FrameSender } from './announce';
import { PacketSocket } from './packet-socket';
import { warmUpMachine } from './machine';
import { parseIpv4, peekVrid } from './packet';
import { AH_PROTOCOL } from './ah';
import { Rtnl } from './rtnl';
import type { AddressInfo, LinkEventType, LinkInfo, LinkWatch, NetlinkWatch } from './rtnl-shapes';
import { settingsKey, type VrrpSettings } from './settings';
import { NftFirewall } from './firewall';
import type { TrackedState } from './tracking';
import { VrrpChannel } from './socket';
import type { Received, VrrpState } from './types';
import { warmUpVips } from './vips';
import { VmacHost } from './vmac';
import type { EngineDeps, EngineEvent, EngineStatus, InstanceStatus } from './engine-types';
import { InstanceRuntime, sameElection, SyncGroupRuntime, type EngineHost } from './instance-runtime';

export type { EngineDeps, EngineEvent, EngineStatus, InstanceStatus, TransitionReport } from './engine-types';

/**
 * Runs every VRRP instance of a config: resolves interfaces through
 * rtnetlink, opens one raw channel per interface and family, and binds each
 * instance's state machine to its channel, its VIPs and its announcer. An
 * interface that is missing or down puts its instances in FAULT; it never
 * stops the engine.
 */
export class VrrpEngine implements EngineHost {
  private rtnl: Rtnl | undefined;
  private readonly instances: InstanceRuntime[] = [];
  private readonly channels = new Map<string, { channel: VrrpChannel; users: InstanceRuntime[] }>();
  private linkWatch: LinkWatch | undefined;
  /** addresses and routes, to put back a master's VIPs and virtual routes when someone else removes them */
  private addressWatch: NetlinkWatch | undefined;
  private routeWatch: NetlinkWatch | undefined;
  private readonly packetSockets = new Map<number, PacketSocket>();
  private stopped = false;
  private started = false;
  /** while the instances of the first start leave INIT: when the router started, clock ms */
  bootSince: number | undefined;
  /** packets for a VRID no instance of ours has */
  unknownVrid = 0;
  /** how late masters' adverts went out, every instance's together */
  readonly advertLateness = new LatenessStats();
  /** tracker states from the main process, by trackerKey() */
  readonly trackerStates = new Map<string, TrackedState>();
  private groups = new Map<string, SyncGroupRuntime>();
  private vmacHost: VmacHost | undefined;
  /** no_accept masters' VIPs in nftables (firewall.ts) */
  firewall: NftFirewall | undefined;

  constructor(
    public settings: VrrpSettings,
    private readonly deps: EngineDeps,
  ) {}

  /** Tracker states from the main process: `replace` drops those not given (a full snapshot). */
  setTrackerStates(states: Record<string, TrackedState>, replace = false): void {
    if (replace) this.trackerStates.clear();
    for (const [k, v] of Object.entries(states)) this.trackerStates.set(k, v);
    if (this.started) this.refresh(this.instances);
  }

  /** Re-evaluates trackers and faults of `changed`, and applies them with their sync groups. */
  refresh(changed: Iterable<InstanceRuntime>): void {
    const touched = new Set<InstanceRuntime>();
    for (const inst of changed) {
      inst.evaluate();
      touched.add(inst);
      const g = inst.group;
      if (g) for (const m of g.members) touched.add(m);
    }
    for (const inst of touched) {
      const g = inst.group;
      let groupFault: string | undefined;
      let groupWaiting = false;
      if (g) {
        for (const m of g.members) {
          if (m !== inst && m.ownFault() !== undefined) groupFault ??= `sync group ${g.settings.name}: ${m.settings.name} is in FAULT`;
          if (m !== inst && m.verdict.waiting.length > 0) groupWaiting = true;
        }
      }
      inst.apply(groupFault, groupWaiting);
    }
  }

  groupOf(name: string): SyncGroupRuntime | undefined {
    for (const g of this.groups.values()) if (g.settings.members.includes(name)) return g;
    return undefined;
  }

  /** keepalived's vrrp_sync_can_goto_master(): every other member wants MASTER too (or the group is master) */
  canGoMaster(inst: InstanceRuntime): boolean {
    const g = inst.group;
    if (!g || g.state === 'MASTER') return true;
    return g.members.every((m) => m === inst || m.machine.state === 'MASTER' || m.machine.wantsMaster);
  }

  /** An instance changed state: report it, move its sync group with it, report the group's change. */
  memberTransition(inst: InstanceRuntime, from: VrrpState, to: VrrpState, reason: string): void {
    const g = inst.group;
    if (!g || g.syncing) return;
    const why = `sync group ${g.settings.name}: ${inst.settings.name} ${to === 'MASTER' ? 'became MASTER' : 'went BACKUP'}`;
    if (to === 'MASTER' || (from === 'MASTER' && to === 'BACKUP')) {
      g.syncing = true;
      try {
        for (const m of g.members) {
          if (m === inst) continue;
          if (to === 'MASTER') m.machine.forceMaster(why);
          else m.machine.forceBackup(why);
        }
      } finally {
        g.syncing = false;
      }
    }
    this.deriveGroupState(g, reason);
  }

  private deriveGroupState(g: SyncGroupRuntime, reason: string): void {
    const states = g.members.map((m) => m.machine.state);
    let next: VrrpState | undefined;
    if (states.every((st) => st === 'STOP')) next = 'STOP';
    else if (states.some((st) => st === 'FAULT')) next = 'FAULT';
    else if (states.some((st) => st === 'MASTER')) next = 'MASTER';
    else if (states.every((st) => st === 'BACKUP')) next = 'BACKUP';
    if (!next || next === g.state) return;
    const from = g.state;
    g.state = next;
    const time = Date.now();
    this.report(() =>
      this.deps.log.notice({ group: g.settings.name, from, to: next }, `VRRP_Group(${g.settings.name}) Entering ${next} STATE${reason ? ` (${reason})` : ''}`),
    );
    this.event({ type: 'group', group: g.settings.name, from, to: next, reason, time });
  }

  event(e: EngineEvent): void {
    this.report(() => this.deps.onEvent?.(e));
  }

  private reports: Array<() => void> = [];
  private reportsArmed = false;

  /**
   * Logs and reports to the main process, in order, at the end of the
   * current turn of the event loop (setImmediate): what the state machine
   * does for a transition (adverts, VIP requests) goes first.
   */
  report(fn: () => void): void {
    this.reports.push(fn);
    if (this.reportsArmed) return;
    this.reportsArmed = true;
    setImmediate(() => this.flushReports());
  }

  private flushReports(): void {
    this.reportsArmed = false;
    const todo = this.reports;
    this.reports = [];
    for (const fn of todo) {
      try {
        fn();
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message }, `reporting a VRRP event failed: ${(err as Error).message}`);
      }
    }
  }

  private buildGroups(): void {
    const groups = new Map<string, SyncGroupRuntime>();
    for (const gs of this.settings.syncGroups ?? []) {
      const members = gs.members.map((n) => this.instances.find((i) => i.settings.name === n)).filter((i): i is InstanceRuntime => i !== undefined);
      const g = new SyncGroupRuntime(gs, members);
      const old = this.groups.get(gs.name);
      if (old) g.state = old.state;
      groups.set(gs.name, g);
    }
    this.groups = groups;
    for (const inst of this.instances) inst.group = [...groups.values()].find((g) => g.members.includes(inst));
  }

  async start(): Promise<void> {
    const log = this.deps.log;
    // compile the takeover path now, not at the first takeover
    warmUpMachine();
    warmUpVips();
    warmUpAnnouncer();
    this.rtnl = new Rtnl();
    // the link watch first: it knows every interface from then on, so nothing lists them again
    this.linkWatch = await this.rtnl.watchLinks(
      (ev) => this.onLink(ev.link, ev.type),
      (err) => log.warn({ err: err.message }, `link events: ${err.message}`),
    );
    this.addressWatch = await this.rtnl.watchAddresses(
      (ev) => (ev.type === 'deleted' ? this.onAddressRemoved(ev.address) : this.onAddressAdded(ev.address)),
      () => this.onAddressesLost(),
      (err) => log.warn({ err: err.message }, `address events: ${err.message}`),
    );
    for (const s of this.settings.instances) {
      const inst = new InstanceRuntime(s, this, this.rtnl, this.deps);
      this.instances.push(inst);
    }
    await this.watchRoutesIfNeeded();
    this.buildGroups();
    if (this.settings.firewall) await this.setFirewall(this.settings.firewall);
    // VIPs a crashed earlier run left behind go first: the instances start as backups
    const present = await this.rtnl.addresses().catch(() => undefined);
    const now = performance.timeOrigin + performance.now();
    for (const inst of this.instances) {
      const until = this.deps.resume?.[inst.settings.name];
      if (until !== undefined && now < until && this.settings.startupDelayMs === 0) inst.resumeUntil = until;
      else await inst.cleanStale(present);
    }
    if (this.settings.startupDelayMs > 0) {
      log.info({ delayMs: this.settings.startupDelayMs }, `VRRP instances start in ${this.settings.startupDelayMs} ms (vrrp_startup_delay)`);
      await new Promise((r) => setTimeout(r, this.settings.startupDelayMs));
      if (this.stopped) return;
    }
    if (this.settings.disableLocalIgmp) this.vmacs().localIgmpReports(false);
    for (const inst of this.instances) await inst.attach(this.linkByName(inst.settings.ifname));
    this.started = true;
    // a startup delay is the operator's wish to wait: the boot time is not counted then
    if (this.settings.startupDelayMs === 0) this.bootSince = bootClockMs(this.deps);
    this.refresh(this.instances);
    this.bootSince = undefined;
    log.info({ instances: this.instances.length }, `VRRP engine started with ${this.instances.length} instance${this.instances.length === 1 ? '' : 's'}`);
  }

  /** SIGTERM: every master sends priority 0 and drops its VIPs; sockets close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // every master's priority-0 advert leaves in this call (machine.stop), before anything else
    const stopping = Promise.all(this.instances.map((i) => i.stop()));
    this.linkWatch?.close();
    this.addressWatch?.close();
    this.routeWatch?.close();
    await stopping;
    await this.firewall?.close();
    // the priority-0 adverts are queued on the sockets: let them leave before closing
    await new Promise((r) => setTimeout(r, 20));
    for (const inst of this.instances) await inst.removeVmac();
    this.vmacHost?.localIgmpReports(true);
    for (const { channel } of this.channels.values()) channel.close();
    this.channels.clear();
    // closing a packet socket waits out a kernel grace period (ms): only now, after the priority-0 adverts
    for (const sock of this.packetSockets.values()) sock.close();
    this.packetSockets.clear();
    this.rtnl?.close();
  }

  /** The VMACs' keeper (core/vrrp/vmac.ts), made for the first instance with use_vmac. */
  vmacs(): VmacHost {
    this.vmacHost ??= new VmacHost(this.rtnl!, this.deps.log);
    return this.vmacHost;
  }

  /** Waits (at most 2 s) until the link watch knows interface `index`: what follows looks interfaces up there. */
  async linkKnown(index: number): Promise<void> {
    for (let i = 0; i < 400 && !this.linkWatch?.current.has(index); i++) await new Promise((r) => setTimeout(r, 5));
  }

  /** The interfaces as the link watch knows them. */
  links(): Iterable<LinkInfo> {
    return this.linkWatch ? this.linkWatch.current.values() : [];
  }

  linkByName(name: string): LinkInfo | undefined {
    for (const l of this.links()) if (l.name === name) return l;
    return undefined;
  }

  /**
   * The gratuitous ARP / NA sender of an interface, shared by its instances
   * and kept open for the engine's life: opening loads the addon and closing
   * blocks for a kernel grace period, neither of which belongs in a takeover.
   */
  frameSender(link: AnnounceLink): FrameSender {
    let sock = this.packetSockets.get(link.ifindex);
    if (!sock || !sock.isOpen) {
      sock = PacketSocket.open(link.ifindex, link.ifname);
      this.packetSockets.set(link.ifindex, sock);
    }
    const s = sock;
    return { send: (frame, what) => void s.send(frame, what), close: () => undefined };
  }

  status(): EngineStatus {
    return { ...this.statusRest(), instances: this.statusPart(0, this.instances.length) };
  }

  get instanceCount(): number {
    return this.instances.length;
  }

  /** the status of the instances from index `from` up to `to` (a part of status()) */
  statusPart(from: number, to: number): InstanceStatus[] {
    return this.instances.slice(from, to).map((i) => i.status());
  }

  /** status() without the instances */
  statusRest(): Omit<EngineStatus, 'instances'> {
    const lateness = this.advertLateness.summary();
    return {
      ...(this.groups.size > 0
        ? { groups: [...this.groups.values()].map((g) => ({ name: g.settings.name, state: g.state, members: g.settings.members })) }
        : {}),
      otherVrids: this.unknownVrid,
      ...(lateness ? { advertLateness: lateness } : {}),
    };
  }

  /** A channel for this instance's interface and family, shared with the other instances on it. */
  channelFor(inst: InstanceRuntime, link: LinkInfo): VrrpChannel {
    const s = inst.settings;
    const key = `${s.family}/${link.name}/${link.index}`;
    let entry = this.channels.get(key);
    if (!entry) {
      const groups = [
        ...new Set(
          this.instances.filter((i) => i.settings.family === s.family && i.settings.ifname === s.ifname && i.settings.group).map((i) => i.settings.group!),
        ),
      ];
      const sizes = this.instances
        .filter((i) => i.settings.family === s.family && i.settings.ifname === s.ifname && i.settings.rxBufSize)
        .map((i) => i.settings.rxBufSize!);
      const channel = new VrrpChannel({
        family: s.family,
        ifname: link.name,
        ifindex: link.index,
        groups,
        ...(sizes.length ? { rcvBuf: Math.max(...sizes) } : {}),
      });
      const users: InstanceRuntime[] = [];
      channel.open(
        (rx, ageMs) => this.dispatch(users, rx, ageMs),
        (err) => this.deps.log.warn({ err: err.message, interface: link.name }, err.message),
      );
      entry = { channel, users };
      this.channels.set(key, entry);
    }
    if (s.ahPass !== undefined) {
      try {
        entry.channel.openAh();
      } catch (err) {
        if (entry.users.length === 0) {
          entry.channel.close();
          this.channels.delete(key);
        }
        throw err;
      }
    }
    if (!entry.users.includes(inst)) entry.users.push(inst);
    return entry.channel;
  }

  /** Drops an instance from its channel; the last one out closes it. */
  release(inst: InstanceRuntime): void {
    for (const [key, entry] of this.channels) {
      const at = entry.users.indexOf(inst);
      if (at < 0) continue;
      entry.users.splice(at, 1);
      if (entry.users.length === 0) {
        entry.channel.close();
        this.channels.delete(key);
      } else if (!entry.users.some((u) => u.settings.ahPass !== undefined)) entry.channel.closeAh();
    }
  }

  private dispatch(users: InstanceRuntime[], raw: Received | Buffer, ageMs?: number): void {
    // the arrival: a backup's down timer counts from here. When the kernel received it, if it said
    // (a stamp taken as the packet came in, not when this process was scheduled to read it); else now
    const now = this.deps.clock.now();
    const at = ageMs !== undefined && ageMs >= 0 && ageMs < MAX_PACKET_AGE_MS ? now - ageMs : now;
    let rx: Received;
    if (Buffer.isBuffer(raw)) {
      const parsed = parseIpv4(raw);
      if (!parsed.ok) {
        if (parsed.ignore) return;
        // no VRID to charge it to: count on every instance of the channel that receives its protocol
        for (const u of users)
          if (parsed.protocol === undefined || (parsed.protocol === AH_PROTOCOL) === (u.settings.ahPass !== undefined))
            u.malformed('packetLenErr', parsed.reason);
        return;
      }
      rx = parsed.rx;
    } else rx = raw;
    const vrid = peekVrid(rx.payload);
    if (vrid === undefined) {
      for (const u of users) u.malformed('packetLenErr', `a ${rx.payload.length}-byte packet from ${rx.src} is too short for VRRP`);
      return;
    }
    let matched = false;
    for (const u of users) {
      // as keepalived's sockets are per protocol: AH packets reach AH instances only, VRRP packets the others
      if (u.settings.vrid !== vrid || (rx.ah !== undefined) !== (u.settings.ahPass !== undefined)) continue;
      matched = true;
      u.receive(rx, at);
    }
    if (!matched) this.unknownVrid++;
  }

  /** Routes are watched only while some instance has virtual routes: a router's own route churn is not the VRRP process's business otherwise. */
  private async watchRoutesIfNeeded(): Promise<void> {
    const need = this.instances.some((i) => i.settings.routes.length > 0);
    if (!need) {
      this.routeWatch?.close();
      this.routeWatch = undefined;
      return;
    }
    if (this.routeWatch || !this.rtnl) return;
    this.routeWatch = await this.rtnl.watchRoutes(
      (ev) => {
        if (ev.type === 'deleted') for (const inst of this.instances) inst.routeRemoved(ev.route);
      },
      () => this.onRoutesLost(),
      (err) => this.deps.log.warn({ err: err.message }, `route events: ${err.message}`),
    );
  }

  private onAddressRemoved(a: AddressInfo): void {
    for (const inst of this.instances) inst.addressRemoved(a);
  }

  private onAddressAdded(a: AddressInfo): void {
    for (const l of this.links()) {
      if (l.index !== a.ifindex) continue;
      for (const inst of this.instances) inst.interfaceChanged(l.name, 'address');
    }
  }

  /** The kernel dropped address notifications: every master compares what it holds with the kernel's list. */
  private onAddressesLost(): void {
    const masters = this.instances.filter((i) => i.machine.state === 'MASTER');
    this.deps.log.warn(
      {},
      `address notifications were lost (the kernel's buffer overflowed): ${masters.length} master instance${masters.length === 1 ? '' : 's'} check their VIPs`,
    );
    if (masters.length === 0 || !this.rtnl) return;
    this.rtnl.addresses().then(
      (present) => {
        for (const inst of masters) inst.recheckAddresses(present);
      },
      (err: Error) => this.deps.log.error({ err: err.message }, `checking the VIPs after lost notifications: ${err.message}`),
    );
  }

  /** The kernel dropped route notifications: every master puts back whichever of its virtual routes are gone. */
  private onRoutesLost(): void {
    this.deps.log.warn({}, 'route notifications were lost (the kernel buffer overflowed): masters check their virtual routes');
    for (const inst of this.instances) inst.recheckRoutes();
  }

  private onLink(link: LinkInfo, type: LinkEventType): void {
    for (const inst of this.instances) {
      inst.interfaceChanged(link.name, type);
      if (inst.settings.ifname !== link.name) continue;
      void inst.linkChanged(type === 'deleted' ? undefined : link);
    }
    if (!this.started) return;
    const tracking = this.instances.filter((i) => i.settings.trackInterfaces.some((t) => t.ifname === link.name));
    if (tracking.length > 0) this.refresh(tracking);
  }

  /** whether an interface exists and is up, as the link watch knows it */
  linkUp(ifname: string): boolean {
    return this.linkByName(ifname)?.up === true;
  }

  /**
   * A reloaded config: instances whose settings did not change are not
   * touched; changed ones are updated in place when their election stays the
   * same (VIPs, routes, priority, trackers, preemption, announcements), else
   * replaced; removed ones stop (reported as DELETED); new ones start.
   */
  /** The firewall of these settings, a table an earlier run left removed; the masters' addresses go into a new one. */
  private async setFirewall(settings: VrrpSettings['firewall']): Promise<void> {
    await this.firewall?.close();
    this.firewall = settings ? new NftFirewall(settings, { log: this.deps.log }) : undefined;
    if (!this.firewall) return;
    await this.firewall.clearLeftover();
    for (const inst of this.instances) inst.syncFirewall();
  }

  async reload(
    next: VrrpSettings,
    changed?: ReadonlySet<string>,
  ): Promise<{ kept: number; updated: number; replaced: number; added: number; removed: number }> {
    const counts = { kept: 0, updated: 0, replaced: 0, added: 0, removed: 0 };
    const byName = new Map(this.instances.map((i) => [i.settings.name, i]));
    const keep: InstanceRuntime[] = [];
    const fresh: InstanceRuntime[] = [];
    const gone: InstanceRuntime[] = [];
    for (const s of next.instances) {
      const old = byName.get(s.name);
      byName.delete(s.name);
      if (old && (changed ? !changed.has(s.name) : settingsKey(old.settings) === settingsKey(s))) {
        keep.push(old);
        counts.kept++;
      } else if (old && sameElection(old.settings, s)) {
        await old.update(s);
        keep.push(old);
        counts.updated++;
      } else {
        if (old) {
          gone.push(old);
          counts.replaced++;
        } else counts.added++;
        const inst = new InstanceRuntime(s, this, this.rtnl!, this.deps);
        // keepalived keeps the AH sequence counter over a reload: the old one's last adverts count too
        if (old) inst.ahSeq = old.ahSeq;
        fresh.push(inst);
        keep.push(inst);
      }
    }
    for (const old of byName.values()) {
      gone.push(old);
      counts.removed++;
    }
    for (const old of gone) await old.remove();
    this.instances.length = 0;
    this.instances.push(...keep);
    const groupsBefore = JSON.stringify(this.settings.syncGroups ?? []);
    this.settings = next;
    this.buildGroups();
    if (JSON.stringify(this.firewall?.settings) !== JSON.stringify(next.firewall)) await this.setFirewall(next.firewall);
    for (const inst of fresh) await inst.attach(this.linkByName(inst.settings.ifname));
    await this.watchRoutesIfNeeded();
    // only what changed is evaluated again (all of it when the sync groups changed)
    const sameGroups = groupsBefore === JSON.stringify(next.syncGroups ?? []);
    this.refresh(sameGroups && changed ? this.instances.filter((i) => changed.has(i.settings.name)) : this.instances);
    return counts;
  }
}

/** The router's start on the engine's clock, when it is known and plausible (at most a minute ago). */
function bootClockMs(deps: EngineDeps): number | undefined {
  if (deps.startedAt === undefined) return undefined;
  const now = deps.clock.now();
  const ago = performance.timeOrigin + performance.now() - deps.startedAt;
  return ago >= 0 && ago <= 60_000 ? now - ago : undefined;
}

/**
 * A receive stamp older than this is not used: the wall clock (which the
 * kernel stamps with) may have been stepped forward since, and counting from
 * a wrong past would end a down timer early. What the stamp corrects, the
 * backup's wake-up and reading, is well under it.
 */
const MAX_PACKET_AGE_MS = 20;
