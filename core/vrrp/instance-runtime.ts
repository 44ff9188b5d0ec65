import type { LatenessStats } from './lateness';
import type { Logger } from '../log/logger';
import { Announcer, type AnnounceAddress, type AnnounceLink, type FrameSender } from './announce';
import { VrrpMachine } from './machine';
import { checkAdvert, encodeAdvert } from './packet';
import { AhSequence, ahKey, encodeAhPacket } from './ah';
import { scopeName } from './iproute2-names';
import type { Rtnl } from './rtnl';
import { addressText, type AddressInfo, type LinkEventType, type LinkInfo, type RouteInfo } from './rtnl-shapes';
import { settingsKey, type InstanceSettings, type SyncGroupSettings } from './settings';
import { firewallAddressesOf, type NftFirewall } from './firewall';
import type { RouteEntry } from '../config/keywords/vrrp';
import { evaluateTracking, type TrackedState, type TrackingVerdict } from './tracking';
import { ipv4Packet, ipv6Packet, type SendOptions, type VrrpChannel } from './socket';
import { newCounters, type Received, type VrrpCounters, type VrrpState } from './types';
import { VipManager } from './vips';
import type { Vmac, VmacHost } from './vmac';
import { extraIfAddresses } from './vmac-settings';
import type { EngineDeps, EngineEvent, InstanceStatus } from './engine-types';

/*
 * One VRRP instance at run time: its state machine bound to its channel, its
 * VIPs and virtual routes, its announcer, its VMAC and its trackers; and a
 * sync group's members moving together. The engine (engine.ts) runs them.
 */

/**
 * What an instance asks of the engine that runs it (VrrpEngine): its shared
 * channels, packet sockets, links and VMACs, its sync group's say, and the
 * reports that go out through it.
 */
export interface EngineHost {
  /** while the instances of the first start leave INIT: when the router started, clock ms */
  readonly bootSince: number | undefined;
  /** tracker states from the main process, by trackerKey() */
  readonly trackerStates: ReadonlyMap<string, TrackedState>;
  /** no_accept masters' VIPs in nftables (firewall.ts) */
  readonly firewall: NftFirewall | undefined;
  /** how late masters' adverts go out */
  readonly advertLateness: LatenessStats;
  refresh(changed: Iterable<InstanceRuntime>): void;
  canGoMaster(inst: InstanceRuntime): boolean;
  memberTransition(inst: InstanceRuntime, from: VrrpState, to: VrrpState, reason: string): void;
  event(e: EngineEvent): void;
  report(fn: () => void): void;
  vmacs(): VmacHost;
  linkKnown(index: number): Promise<void>;
  links(): Iterable<LinkInfo>;
  linkByName(name: string): LinkInfo | undefined;
  linkUp(ifname: string): boolean;
  frameSender(link: AnnounceLink): FrameSender;
  channelFor(inst: InstanceRuntime, link: LinkInfo): VrrpChannel;
  release(inst: InstanceRuntime): void;
}

/** A vrrp_sync_group: its members move together. */
export class SyncGroupRuntime {
  state: VrrpState = 'INIT';
  /** set while members are being moved together: their transitions do not re-derive the group's state */
  syncing = false;
  constructor(
    readonly settings: SyncGroupSettings,
    readonly members: InstanceRuntime[],
  ) {}
}

/** Log lines for bad packets are limited to one per kind per second per instance. */
const BAD_PACKET_LOG_MS = 1000;

export class InstanceRuntime {
  readonly counters = newCounters();
  readonly machine: VrrpMachine;
  group: SyncGroupRuntime | undefined;
  /** what its trackers say now (evaluate()) */
  verdict: TrackingVerdict;
  /** its own interface: missing, down or unusable (undefined when fine) */
  private linkFault: string | undefined;
  /** a VIP or virtual route someone else removed could not be put back: why, and on which interface (it clears when that interface changes) */
  private vipFault: { reason: string; dev: string | undefined } | undefined;
  /** when it entered its state, and why (for the status) */
  private lastTransition: { time: number; reason: string } | undefined;
  private lastFault: string | undefined;
  /** the interface fault as of the last apply(): a cleared fault that was this one is the interface coming back */
  private lastLinkFault: string | undefined;
  private attached = false;
  private machineStarted = false;
  private deleting = false;
  private readonly vips: VipManager;
  announcer: Announcer | undefined;
  private channel: VrrpChannel | undefined;
  /** clock ms since when its channel receives adverts */
  private listeningSince: number | undefined;
  /** until when (epoch ms) it may go on as the master it was in a VRRP process that died just now (EngineDeps.resume) */
  resumeUntil: number | undefined;
  private link: LinkInfo | undefined;
  /** use_vmac: its macvlan (core/vrrp/vmac.ts) */
  private readonly vmac: Vmac | undefined;
  private src: string | undefined;
  /**
   * The adverts last sent, one per destination: they change only with the
   * priority, the interval, the source or the settings, so a master sends the
   * same bytes every interval without building them again (the channel copies
   * them into each IP packet).
   */
  /** the adverts last built: [0] at a running priority, [1] at priority 0 (the release, prepared ahead too) */
  private readonly adverts: [AdvertCache | undefined, AdvertCache | undefined] = [undefined, undefined];
  private readonly log: Logger;
  private readonly badLogAt = new Map<string, { at: number; suppressed: number }>();
  /** auth_type AH: the sequence counter, kept across reloads as keepalived keeps it (a replaced instance takes its predecessor's) */
  ahSeq = new AhSequence();
  /** the AH sequence number of the advert being handled (a master hearing a lower priority continues above it) */
  private rxAhSeq: number | undefined;

  constructor(
    public settings: InstanceSettings,
    private readonly engine: EngineHost,
    private readonly rtnl: Rtnl,
    private readonly deps: EngineDeps,
  ) {
    this.log = deps.log.child({ vrrp: settings.name });
    this.vmac = settings.vmac ? engine.vmacs().create(settings.vmac, settings.family, settings.name) : undefined;
    this.vips = new VipManager(rtnl, {
      ifname: settings.ifname,
      vips: settings.vips,
      excluded: settings.excludedVips,
      routes: settings.routes,
      links: () => engine.links(),
    });
    this.machine = new VrrpMachine(
      {
        name: settings.name,
        version: settings.version,
        priority: settings.priority,
        advertIntCs: settings.advertIntCs,
        initialState: settings.initialState,
        preempt: settings.preempt,
        preemptDelayMs: settings.preemptDelayMs,
        localAddress: settings.srcAddress ?? (settings.family === 4 ? '0.0.0.0' : '::'),
        downTimerAdverts: settings.downTimerAdverts,
        lowerPrioNoAdvert: settings.lowerPrioNoAdvert,
        higherPrioSendAdvert: settings.higherPrioSendAdvert,
        clock: deps.clock,
      },
      {
        sendAdvert: (priority, advertIntCs) => this.sendAdvert(priority, advertIntCs),
        becomeMaster: () => this.becomeMaster(),
        leaveMaster: () => this.leaveMaster(),
        transition: (from, to, reason) => this.onTransition(from, to, reason),
        rxLowerPriority: (adv) => this.heardLowerPriority(adv.priority, adv.src),
        rxLowerPriorityFirst: () => this.syncAhAboveLower(),
        canBecomeMaster: () => this.engine.canGoMaster(this),
        note: (message) => this.log.debug({}, message),
        advertLate: (ms) => this.engine.advertLateness.record(ms),
      },
      this.counters,
    );
    this.verdict = { priority: settings.priority, waiting: [] };
  }

  /** Its trackers' verdict from the current states (applied by apply()). */
  evaluate(): void {
    this.verdict = evaluateTracking(this.settings, this.engine.trackerStates, (ifname) => this.engine.linkUp(ifname));
  }

  /** Its own reason to be in FAULT: its interface, else a tracker. */
  ownFault(): string | undefined {
    return this.linkFault ?? this.vipFault?.reason ?? this.verdict.fault;
  }

  /**
   * Applies the verdict: the effective priority (re-timing a backup's down
   * timer), FAULT in or out (its own reason, else its sync group's), and the
   * start of the state machine once no weight-0 tracker holds it in INIT.
   */
  apply(groupFault: string | undefined, groupWaiting: boolean): void {
    const s = this.settings;
    if (this.deleting || this.machine.state === 'STOP') return;
    const to = this.verdict.priority;
    const from = this.machine.priority;
    if (to !== from) {
      this.machine.setPriority(to);
      this.log.info({ from, to }, `(${s.name}) Changing effective priority from ${from} to ${to}`);
      this.engine.event({ type: 'priority', instance: s.name, from, to, state: this.machine.state, reason: 'tracking', time: Date.now() });
    }
    const fault = this.ownFault() ?? groupFault;
    if (!this.machineStarted) {
      if (!this.attached || this.verdict.waiting.length > 0 || groupWaiting) return;
      this.machineStarted = true;
      if (fault !== undefined) this.machine.setFault(true, fault);
      this.lastFault = fault;
      this.lastLinkFault = this.linkFault;
      const since = this.engine.bootSince;
      // (still in time: a tracker holding it in INIT may have made it late)
      const resume = this.resumeUntil !== undefined && performance.timeOrigin + performance.now() < this.resumeUntil;
      this.resumeUntil = undefined;
      this.machine.start(since !== undefined && this.listeningSince !== undefined ? { since, listening: this.listeningSince } : undefined, resume);
      return;
    }
    if (fault !== undefined) {
      this.lastFault = fault;
      this.machine.setFault(true, fault);
    } else if (this.lastFault !== undefined) {
      const was = this.lastFault;
      this.lastFault = undefined;
      this.machine.setFault(false, was === this.lastLinkFault ? `interface ${s.ifname} up` : `no longer: ${was}`);
    }
    this.lastLinkFault = this.linkFault;
  }

  /** A reload changed settings that keep the election: applied in place, in whatever state it is. */
  async update(next: InstanceSettings): Promise<void> {
    const old = this.settings;
    this.settings = next;
    this.machine.reconfigure({
      preempt: next.preempt,
      preemptDelayMs: next.preemptDelayMs,
      lowerPrioNoAdvert: next.lowerPrioNoAdvert,
      higherPrioSendAdvert: next.higherPrioSendAdvert,
    });
    const addrs = (x: InstanceSettings) => settingsKey([x.vips, x.excludedVips, x.routes]);
    const master = this.machine.state === 'MASTER';
    if (addrs(old) !== addrs(next)) {
      const failures = await this.vips.reconfigure({ ifname: next.ifname, vips: next.vips, excluded: next.excludedVips, routes: next.routes }, master);
      for (const f of failures) this.log.error({ err: f.message }, `(${next.name}) ${f.message}`);
    }
    if (addrs(old) !== addrs(next) || JSON.stringify(old.garp) !== JSON.stringify(next.garp)) {
      this.announcer?.stop();
      this.announcer = undefined;
      if (this.link) this.announcer = this.makeAnnouncer(this.link);
      if (this.machine.state === 'MASTER') this.announcer?.announce();
    }
    this.syncFirewall();
    this.log.info({}, `(${next.name}) settings changed by reload; state ${this.machine.state} kept`);
    if (this.vipFault) this.clearVipFault('the config was reloaded');
  }

  /** Removed by a reload: a master releases (priority 0, VIPs removed); reported as DELETED. */
  async remove(): Promise<void> {
    const from = this.machine.state;
    this.deleting = true;
    await this.stop();
    this.engine.release(this);
    await this.removeVmac();
    this.log.notice({ from }, `(${this.settings.name}) removed by reload (was ${from})`);
    this.engine.event({ type: 'deleted', instance: this.settings.name, from, priority: this.machine.priority, time: Date.now() });
  }

  private linkFaultFor(link: LinkInfo | undefined): string | undefined {
    const name = this.settings.ifname;
    if (!link) return `interface ${name} does not exist`;
    if (!this.channel) return `interface ${name} is unusable`;
    if (!link.up) return this.settings.trackPrimary ? `interface ${name} down` : undefined;
    return undefined;
  }

  async cleanStale(present?: readonly AddressInfo[]): Promise<void> {
    const removed = await this.vips.cleanStale(present);
    for (const r of removed) this.log.notice({ address: r }, `(${this.settings.name}) removed ${r}, left on the interface by an earlier run`);
  }

  /** Binds to the interface (or FAULT without it) and starts the state machine. */
  async attach(link: LinkInfo | undefined): Promise<void> {
    await this.bind(link);
    // a missing or down interface: straight from INIT to FAULT (the engine's refresh starts the machine)
    this.linkFault = this.linkFaultFor(link);
    this.attached = true;
  }

  private async bind(link: LinkInfo | undefined): Promise<void> {
    const s = this.settings;
    if (this.channel && (!link || link.index !== this.link?.index)) {
      this.engine.release(this);
      this.channel = undefined;
    }
    this.link = link;
    if (!link) return;
    try {
      this.src = s.srcAddress ?? (await this.primaryAddress(link));
      if (this.src) this.machine.setLocalAddress(this.src);
      if (!this.src) {
        this.log.warn({ interface: s.ifname }, `(${s.name}) interface ${s.ifname} has no IPv${s.family} address to send adverts from yet`);
      }
      // use_vmac: adverts are sent and heard on the VMAC (on the base with vmac_xmit_base), as keepalived's: a
      // peer's advert carries the same virtual MAC as our own VMAC, and the macvlan driver hands a multicast
      // frame from a MAC of one of its private macvlans to that macvlan alone, never to the base
      let sendOn = link;
      if (this.vmac) {
        const v = await this.vmac.ensure(link);
        await this.engine.linkKnown(v.index);
        if (!s.vmac!.xmitBase) sendOn = v;
        if (!v.noarp) this.engine.frameSender({ ifname: v.name, ifindex: v.index, mac: v.mac });
      }
      if (!this.channel) {
        this.channel = this.engine.channelFor(this, sendOn);
        this.listeningSince = this.deps.clock.now();
      }
      this.warmUp();
      this.announcer?.stop();
      this.announcer = this.makeAnnouncer(link);
      // open the interface's packet socket now (it loads the addon), not at the first takeover
      if (!link.noarp) {
        try {
          this.engine.frameSender({ ifname: link.name, ifindex: link.index, mac: link.mac });
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, `(${s.name}) ${(err as Error).message}`);
        }
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, `(${s.name}) ${(err as Error).message}`);
      this.channel = undefined;
    }
  }

  /** Deletes its VMAC (at stop, after the priority-0 advert left; when a reload removes it). */
  async removeVmac(): Promise<void> {
    if (!this.vmac) return;
    this.vmacGoing = true;
    await this.vmac.remove();
  }

  private vmacGoing = false;

  /** Someone deleted its VMAC while it runs: made again, and the channel moves to the new one. */
  private vmacDeleted(): void {
    if (this.vmacGoing || !this.link) return;
    this.log.warn({ interface: this.settings.vmac!.ifname }, `(${this.settings.name}) VMAC ${this.settings.vmac!.ifname} was deleted: making it again`);
    if (this.channel) {
      this.engine.release(this);
      this.channel = undefined;
    }
    void this.bind(this.link).then(() => {
      this.linkFault = this.linkFaultFor(this.link);
      this.engine.refresh([this]);
      if (this.machine.state === 'MASTER') this.becomeMaster();
    });
  }

  private makeAnnouncer(link: LinkInfo): Announcer {
    const s = this.settings;
    return new Announcer({
      ifname: link.name,
      ifindex: link.index,
      mac: link.mac,
      noarp: link.noarp,
      addresses: this.announced(),
      clock: this.deps.clock,
      ...s.garp,
      onError: (err: Error) => this.log.warn({ err: err.message }, `(${s.name}) ${err.message}`),
      openSender: (l) => this.engine.frameSender(l),
      extraIfAddresses: extraIfAddresses(s),
    });
  }

  /**
   * What the announcer announces: every VIP and excluded VIP, as keepalived's
   * vrrp_send_link_update(), each on its own interface (`dev`); one whose
   * interface does not exist now is left out.
   */
  private announced(): Array<string | AnnounceAddress> {
    const s = this.settings;
    const out: Array<string | AnnounceAddress> = [];
    for (const v of [...s.vips, ...s.excludedVips]) {
      const dev = v.dev ?? s.ifname;
      if (dev === s.ifname) {
        out.push(v.address);
        continue;
      }
      const l = this.engine.linkByName(dev);
      if (l) out.push({ address: v.address, ifname: l.name, ifindex: l.index, mac: l.mac, noarp: l.noarp });
    }
    return out;
  }

  private resolving = false;
  private resolveSource(): void {
    if (this.resolving || !this.link) return;
    this.resolving = true;
    const link = this.link;
    this.primaryAddress(link)
      .then((a) => {
        if (a && !this.src) {
          this.src = a;
          this.machine.setLocalAddress(a);
          this.log.info({ address: a }, `(${this.settings.name}) sending adverts from ${a}`);
        }
      })
      .catch(() => undefined)
      .finally(() => (this.resolving = false));
  }

  private async primaryAddress(link: LinkInfo): Promise<string | undefined> {
    const addrs = await this.rtnl.addresses(link.index);
    const vipSet = new Set(this.settings.vips.map((v) => v.address));
    const mine = addrs.filter((a) => a.family === this.settings.family && !vipSet.has(a.address));
    if (this.settings.family === 6) return mine.find((a) => a.address.startsWith('fe80:'))?.address ?? mine[0]?.address;
    return mine[0]?.address;
  }

  async linkChanged(link: LinkInfo | undefined): Promise<void> {
    const s = this.settings;
    const wasUp = Boolean(this.link?.up) && this.channel !== undefined;
    if (!link || link.index !== this.link?.index || (link.up && !this.channel)) await this.bind(link);
    else this.link = link;
    const up = Boolean(link?.up) && this.channel !== undefined;
    if (up === wasUp || !this.attached) return;
    if (up) {
      this.log.info({ interface: s.ifname }, `(${s.name}) interface ${s.ifname} is up`);
      this.linkFault = undefined;
    } else {
      this.log.warn({ interface: s.ifname }, `(${s.name}) interface ${s.ifname} ${link ? 'is down' : 'is gone'}`);
      this.linkFault = !link ? `interface ${s.ifname} deleted` : this.linkFaultFor(link);
    }
    this.engine.refresh([this]);
  }

  /** at: clock ms when the packet arrived (default now) */
  receive(rx: Received, at?: number): void {
    const s = this.settings;
    if (rx.family === 6 && !rx.dst) rx = { ...rx, dst: s.group ?? this.src ?? '::' };
    if (rx.src === this.src) return;
    if (s.unicastPeers.length > 0 && s.checkUnicastSrc && !s.unicastPeers.some((p) => p.address === rx.src)) {
      this.malformed('addrListErr', `advert from ${rx.src}, which is not a unicast_peer`);
      return;
    }
    const peer = s.unicastPeers.find((p) => p.address === rx.src);
    const stateBefore: VrrpState = this.machine.state;
    const outcome = checkAdvert(
      rx,
      {
        version: s.version,
        family: s.family,
        vrid: s.vrid,
        advertIntCs: s.advertIntCs,
        ...(s.authPass !== undefined ? { authPass: s.authPass } : {}),
        ...(s.ahPass !== undefined ? { ah: { key: ahKey(s.ahPass), sequence: this.ahSeq, backup: this.machine.state === 'BACKUP' } } : {}),
        addresses: s.advertAddresses,
        unicast: s.unicastPeers.length > 0,
        // keepalived applies a peer's TTL range only with check_unicast_src
        ...(s.checkUnicastSrc && peer?.minTtl !== undefined ? { minTtl: peer.minTtl } : {}),
        ...(s.checkUnicastSrc && peer?.maxTtl !== undefined ? { maxTtl: peer.maxTtl } : {}),
        skipCheckAdvAddr: s.skipCheckAdvAddr,
        ...(this.machine.state === 'BACKUP' && this.machine.master ? { knownMaster: this.machine.master.address } : {}),
      },
      this.counters,
    );
    if (!outcome.ok) {
      this.logBad(outcome.counter, outcome.reason);
      return;
    }
    for (const note of outcome.notes) this.logBad('note', note);
    this.rxAhSeq = rx.ah?.seq;
    this.machine.onAdvert({ priority: outcome.advert.priority, advertIntCs: outcome.advert.advertIntCs, src: rx.src, ...(at !== undefined ? { at } : {}) });
    this.rxAhSeq = undefined;
    // a master yielding to a higher priority: keepalived clears the AH counter's cycled flag there too
    if (rx.ah && stateBefore === 'MASTER' && this.machine.state === 'BACKUP') this.ahSeq.heardMaster();
  }

  /** auth_type AH: a master that heard a lower priority continues above that advert's sequence number, before it answers (keepalived). */
  private syncAhAboveLower(): void {
    if (this.settings.ahPass === undefined || this.rxAhSeq === undefined) return;
    this.ahSeq.syncAbove(this.rxAhSeq);
    this.log.debug({}, `(${this.settings.name}) IPSEC-AH : Syncing seq_num - Increment seq`);
  }

  /** A packet rejected before it reached this instance's checks. */
  malformed(counter: keyof VrrpCounters, reason: string): void {
    this.counters[counter]++;
    this.logBad(counter, reason);
  }

  private logBad(kind: string, reason: string): void {
    const now = this.deps.clock.now();
    const last = this.badLogAt.get(kind);
    if (last && now - last.at < BAD_PACKET_LOG_MS) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.badLogAt.set(kind, { at: now, suppressed: 0 });
    this.log.warn({ counter: kind, suppressed }, `(${this.settings.name}) ${reason}${suppressed ? ` (${suppressed} more like it not logged)` : ''}`);
  }

  /**
   * Prepares a takeover: the adverts at the current priority and the
   * requests that add the VIPs are encoded now, and the IP packet built
   * once, unsent. Taking over then only sends, and the send path is already
   * compiled (V8 compiles a function at its first call).
   */
  private warmUp(): void {
    const s = this.settings;
    this.vips.prepare();
    if (!this.src) return;
    try {
      // a master's release (SIGTERM, FAULT) sends priority 0: prepared as well
      this.advertPackets(0, s.advertIntCs);
      const first = this.advertPackets(this.machine.priority, s.advertIntCs)[0];
      if (!first) return;
      if (s.ahPass !== undefined) encodeAhPacket({ vrrp: first.payload, ...first.to, id: 1, seq: 0, key: ahKey(s.ahPass), unicast: s.unicastPeers.length > 0 });
      else if (s.family === 4) ipv4Packet(first.payload, first.to, 0);
      else ipv6Packet(first.payload, first.to);
    } catch {
      // only a warm-up: the real send reports its own errors
    }
  }

  /** This instance's adverts from `src` at that priority and interval, one per destination: built once, reused at every advert. */
  private advertPackets(priority: number, advertIntCs: number): Array<{ payload: Buffer; to: SendOptions }> {
    const s = this.settings;
    const src = this.src!;
    const slot = priority === 0 ? 1 : 0;
    const c = this.adverts[slot];
    if (c && c.settings === s && c.src === src && c.priority === priority && c.advertIntCs === advertIntCs) return c.packets;
    const dsts = s.group ? [s.group] : s.unicastPeers.map((p) => p.address);
    const packets = dsts.map((dst) => ({
      payload: encodeAdvert({
        version: s.version,
        family: s.family,
        vrid: s.vrid,
        priority,
        advertIntCs,
        addresses: s.advertAddresses,
        ...(s.authPass !== undefined ? { authPass: s.authPass } : {}),
        ...(s.ahPass !== undefined ? { ah: true } : {}),
        src,
        dst,
      }),
      to: { src, dst, ttl: s.ttl },
    }));
    this.adverts[slot] = { settings: s, src, priority, advertIntCs, packets };
    return packets;
  }

  private sendAdvert(priority: number, advertIntCs: number): void {
    if (!this.channel) return;
    if (!this.src) {
      // the interface came up before its address: look again, and send from the next advert on
      this.resolveSource();
      return;
    }
    const s = this.settings;
    const packets = this.advertPackets(priority, advertIntCs);
    if (s.ahPass !== undefined) {
      // one sequence number per advert, whatever its destinations (keepalived)
      const ah = { key: ahKey(s.ahPass), seq: this.ahSeq.next(), unicast: s.unicastPeers.length > 0 };
      for (const p of packets) this.channel.send(p.payload, { ...p.to, ah });
      return;
    }
    for (const p of packets) this.channel.send(p.payload, p.to);
  }

  private becomeMaster(): void {
    this.ahSeq.becomingMaster();
    // the announcer starts once the addresses are on the interface, so the first gratuitous ARP
    // already finds them in place: at once when up() handed them all to the kernel before it
    // returned (the kernel adds an address inside sendmsg), right after the advert the machine
    // sends next; else once the kernel's answers are in
    const up = this.vips.up();
    const now = this.vips.inPlaceNow;
    if (now) {
      queueMicrotask(() => {
        if (this.machine.state === 'MASTER') this.announcer?.announce();
      });
    }
    // no_accept: the drop rules after the advert and the gratuitous ARPs (an nft command: milliseconds)
    queueMicrotask(() => this.syncFirewall());
    void up.then((failures) => {
      for (const f of failures) this.log.error({ err: f.message }, `(${this.settings.name}) ${f.message}`);
      if (!now && this.machine.state === 'MASTER') this.announcer?.announce();
    });
  }

  /**
   * As master, a lower-priority advert: the other router was master too (a
   * partition, a pause, lost adverts) and clients may have followed it. The
   * machine has answered with an advert; the VIPs are announced again, this
   * instance's and those of the other masters of its sync group (keepalived
   * does the same for them: they hear no advert of their own).
   */
  private heardLowerPriority(priority: number, from: string): void {
    this.announcer?.lowerPriority();
    for (const m of this.group?.members ?? []) if (m !== this && m.machine.state === 'MASTER') m.announcer?.lowerPriority();
    this.engine.event({ type: 'rxLowerPri', instance: this.settings.name, priority: this.machine.priority, advertPriority: priority, from, time: Date.now() });
  }

  // ---------------------------------------------------------------------------
  // VIPs and virtual routes removed by someone else

  /** The kernel reports an address removed: a master puts back the VIP it was, at once, and announces it. */
  addressRemoved(a: AddressInfo): void {
    if (this.machine.state !== 'MASTER') return;
    const label = this.vips.removedElsewhere(a);
    if (!label) return;
    const dev = this.vips.deviceOf(label) ?? `ifindex ${a.ifindex}`;
    const flags = a.flags.length ? `, ${a.flags.join(' ')}` : '';
    const tag = a.label && a.label !== dev ? `, label ${a.label}` : '';
    this.putBack([label], [], `the kernel reported it deleted: ${addressText(a)} dev ${dev} scope ${scopeName(a.scope)}${flags}${tag}`);
  }

  /** The kernel reports a route removed: a master puts back the virtual route it was. */
  routeRemoved(r: RouteInfo): void {
    if (this.machine.state !== 'MASTER') return;
    const route = this.vips.routeRemovedElsewhere(r);
    if (!route) return;
    this.putBack([], [route], `the kernel reported route ${r.dst}/${r.prefix} deleted from table ${r.table}`);
  }

  /** After lost notifications: the VIPs a master holds that the kernel's list lacks are put back. */
  recheckAddresses(present: readonly AddressInfo[]): void {
    if (this.machine.state !== 'MASTER') return;
    const missing = this.vips.missingFrom(present);
    if (missing.length > 0) this.putBack(missing, [], 'missing from the kernel after address notifications were lost');
  }

  recheckRoutes(): void {
    if (this.machine.state !== 'MASTER' || this.settings.routes.length === 0) return;
    this.putBack([], [], 're-checked after route notifications were lost');
  }

  /**
   * Puts back what someone removed (the requests leave before this
   * returns when nothing else is pending), announces the addresses as a
   * takeover does, then logs, counts and reports each; what cannot be put
   * back puts the instance in FAULT, so the backup takes over rather than
   * this master advertising what it does not hold.
   */
  private putBack(labels: string[], routes: RouteEntry[], what: string): void {
    const clock = this.deps.clock;
    const started = clock.now();
    const done = this.vips.restore(labels, routes);
    const addresses = labels.map((l) => this.vips.addressOf(l)).filter((a): a is string => a !== undefined);
    const inPlace = this.vips.inPlaceNow;
    if (inPlace && addresses.length > 0) this.announcer?.restored(addresses);
    void done.then(({ restored, lost, failures }) => {
      const ms = clock.now() - started;
      const back = restored.map((l) => this.vips.addressOf(l)).filter((a): a is string => a !== undefined);
      if (!inPlace && back.length > 0 && this.machine.state === 'MASTER') this.announcer?.restored(back);
      const s = this.settings;
      for (const label of restored) {
        this.counters.vipRestored++;
        this.log.warn({ address: label, ms }, `(${s.name}) ${label} was removed by someone else (${what}); put back in ${ms.toFixed(2)} ms`);
        this.engine.event({ type: 'vip', instance: s.name, address: label, action: 'restored', reason: what, time: Date.now() });
      }
      if (lost.length === 0) return;
      const why = failures.map((f) => f.message).join('; ');
      for (const label of lost) {
        this.counters.vipLost++;
        this.log.error({ address: label }, `(${s.name}) ${label} was removed by someone else (${what}) and cannot be put back: ${why}`);
        this.engine.event({ type: 'vip', instance: s.name, address: label, action: 'lost', reason: `${what}; cannot be put back: ${why}`, time: Date.now() });
      }
      if (this.machine.state !== 'MASTER') return;
      this.vipFault = { reason: `${lost[0]} cannot be put back: ${why}`, dev: this.vips.deviceOf(lost[0]!) };
      this.engine.refresh([this]);
    });
  }

  /**
   * Something changed on an interface (it appeared, came up, went, got an
   * address). The announcer follows a VIP's own interface (`dev`) to its new
   * index and MAC; a VIP fault on it may be over.
   */
  interfaceChanged(ifname: string, type: LinkEventType | 'address' = 'changed'): void {
    const s = this.settings;
    if (type === 'deleted' && s.vmac?.ifname === ifname && this.vmac?.link) this.vmacDeleted();
    if (type !== 'address' && ifname !== s.ifname && this.link && [...s.vips, ...s.excludedVips].some((v) => v.dev === ifname)) {
      this.announcer?.stop();
      this.announcer = this.makeAnnouncer(this.link);
    }
    if (type === 'deleted') return;
    if (this.vipFault && (this.vipFault.dev === undefined || this.vipFault.dev === ifname)) this.clearVipFault(`interface ${ifname} changed`);
  }

  private clearVipFault(why: string): void {
    this.log.info({}, `(${this.settings.name}) the VIP fault is cleared (${why}); the election runs again`);
    this.vipFault = undefined;
    this.engine.refresh([this]);
  }

  /** Its VIPs in the firewall while it is a no_accept master, out of it otherwise. */
  syncFirewall(): void {
    void this.engine.firewall?.set(this.settings.name, firewallAddressesOf(this.settings, this.machine.state === 'MASTER'));
  }

  private leaveMaster(): void {
    this.announcer?.stop();
    void this.engine.firewall?.set(this.settings.name, []);
    void this.vips.down().then((failures) => {
      for (const f of failures) this.log.error({ err: f.message }, `(${this.settings.name}) ${f.message}`);
    });
  }

  private onTransition(from: VrrpState, to: VrrpState, reason: string): void {
    const s = this.settings;
    if (this.deleting) return;
    const priority = this.machine.priority;
    const time = Date.now();
    const at = this.deps.clock.now();
    // the master as heard now: the cause of the transition names it (a backup preempting it, or taking over from its silence)
    const master = this.machine.master;
    this.lastTransition = { time, reason };
    // the log line and the report to the main process wait for the end of this turn of the event loop:
    // a takeover's VIP request (queued on microtasks by becomeMaster) reaches the kernel first
    this.engine.report(() => {
      this.log.notice({ from, to, priority, reason }, `(${s.name}) Entering ${to} STATE${reason ? ` (${reason})` : ''}`);
      this.deps.onTransition?.({ instance: s.name, from, to, priority, reason, time, at, ...(master ? { master } : {}) });
    });
    this.engine.memberTransition(this, from, to, reason);
  }

  async stop(): Promise<void> {
    this.machine.stop();
    this.announcer?.stop();
    // stop() left master (priority 0 sent, VIPs removing): wait for the removal
    await this.vips.down().then((failures) => {
      for (const f of failures) this.log.error({ err: f.message }, `(${this.settings.name}) ${f.message}`);
    });
  }

  status(): InstanceStatus {
    const s = this.settings;
    const master = this.machine.master;
    return {
      name: s.name,
      state: this.machine.state,
      ...(s.syncGroup ? { syncGroup: s.syncGroup } : {}),
      ...(this.ownFault() !== undefined ? { fault: this.ownFault()! } : {}),
      ...(!this.machineStarted && this.verdict.waiting.length > 0 ? { waiting: this.verdict.waiting } : {}),
      vrid: s.vrid,
      version: s.version,
      family: s.family,
      interface: s.ifname,
      priority: s.priority,
      effectivePriority: this.machine.priority,
      ...(master ? { master } : {}),
      ...(this.src ? { sourceAddress: this.src } : {}),
      advertIntCs: s.advertIntCs,
      masterAdvertIntCs: this.machine.masterAdvertIntCs,
      ...(this.lastTransition ? { since: this.lastTransition.time, reason: this.lastTransition.reason } : {}),
      vips: this.vips.presence(),
      counters: { ...this.counters },
    };
  }
}

/** An instance's adverts, built for one priority, interval and source address */
interface AdvertCache {
  settings: InstanceSettings;
  src: string;
  priority: number;
  advertIntCs: number;
  packets: Array<{ payload: Buffer; to: SendOptions }>;
}

/** Settings an instance's election depends on: a change to any of them replaces the instance on reload. */
export function sameElection(a: InstanceSettings, b: InstanceSettings): boolean {
  const key = (x: InstanceSettings) =>
    JSON.stringify([
      x.vrid,
      x.version,
      x.family,
      x.ifname,
      x.vmac,
      x.advertIntCs,
      x.downTimerAdverts,
      x.srcAddress,
      x.group,
      x.unicastPeers,
      x.ttl,
      x.rxBufSize,
      x.initialState,
      x.priority === 255,
      x.ahPass !== undefined,
    ]);
  return key(a) === key(b);
}
