import type { Logger } from '../log/logger';
import { Announcer, type AnnounceLink, type FrameSender } from './announce';
import { PacketSocket } from './packet-socket';
import { VrrpMachine } from './machine';
import { checkAdvert, encodeAdvert, parseIpv4, peekVrid } from './packet';
import { Rtnl, type LinkEventType, type LinkInfo, type LinkWatch } from './rtnl';
import type { InstanceSettings, VrrpSettings } from './settings';
import { ipv4Packet, ipv6Packet, VrrpChannel } from './socket';
import { newCounters, type Clock, type Received, type VrrpCounters, type VrrpState } from './types';
import { VipManager } from './vips';

/** A state change of one instance, as the engine reports it to whoever runs it. */
export interface TransitionReport {
  instance: string;
  from: VrrpState;
  to: VrrpState;
  priority: number;
  reason: string;
  /** epoch ms */
  time: number;
  /** monotonic ms (the clock's) */
  at: number;
}

export interface InstanceStatus {
  name: string;
  state: VrrpState;
  vrid: number;
  version: number;
  family: number;
  interface: string;
  priority: number;
  effectivePriority: number;
  master?: { address: string; priority: number };
  sourceAddress?: string;
  counters: VrrpCounters;
}

/** Everything the engine can tell about itself. */
export interface EngineStatus {
  instances: InstanceStatus[];
  /** packets that reached a VRRP socket for a VRID none of our instances has */
  otherVrids: number;
}

export interface EngineDeps {
  log: Logger;
  clock: Clock;
  onTransition?: (t: TransitionReport) => void;
}

/**
 * Runs every VRRP instance of a config: resolves interfaces through
 * rtnetlink, opens one raw channel per interface and family, and binds each
 * instance's state machine to its channel, its VIPs and its announcer. An
 * interface that is missing or down puts its instances in FAULT; it never
 * stops the engine.
 */
export class VrrpEngine {
  private rtnl: Rtnl | undefined;
  private readonly instances: InstanceRuntime[] = [];
  private readonly channels = new Map<string, { channel: VrrpChannel; users: InstanceRuntime[] }>();
  private linkWatch: LinkWatch | undefined;
  private readonly packetSockets = new Map<number, PacketSocket>();
  private stopped = false;
  /** packets for a VRID no instance of ours has */
  unknownVrid = 0;

  constructor(
    readonly settings: VrrpSettings,
    private readonly deps: EngineDeps,
  ) {}

  async start(): Promise<void> {
    const log = this.deps.log;
    this.rtnl = new Rtnl();
    // the link watch first: it knows every interface from then on, so nothing lists them again
    this.linkWatch = await this.rtnl.watchLinks(
      (ev) => this.onLink(ev.link, ev.type),
      (err) => log.warn({ err: err.message }, `link events: ${err.message}`),
    );
    for (const s of this.settings.instances) {
      const inst = new InstanceRuntime(s, this, this.rtnl, this.deps);
      this.instances.push(inst);
    }
    // VIPs a crashed earlier run left behind go first: the instances start as backups
    for (const inst of this.instances) await inst.cleanStale();
    if (this.settings.startupDelayMs > 0) {
      log.info({ delayMs: this.settings.startupDelayMs }, `VRRP instances start in ${this.settings.startupDelayMs} ms (vrrp_startup_delay)`);
      await new Promise((r) => setTimeout(r, this.settings.startupDelayMs));
      if (this.stopped) return;
    }
    for (const inst of this.instances) await inst.attach(this.linkByName(inst.settings.ifname));
    log.info({ instances: this.instances.length }, `VRRP engine started with ${this.instances.length} instance${this.instances.length === 1 ? '' : 's'}`);
  }

  /** SIGTERM: every master sends priority 0 and drops its VIPs; sockets close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.linkWatch?.close();
    await Promise.all(this.instances.map((i) => i.stop()));
    // the priority-0 adverts are queued on the sockets: let them leave before closing
    await new Promise((r) => setTimeout(r, 20));
    for (const { channel } of this.channels.values()) channel.close();
    this.channels.clear();
    // closing a packet socket waits out a kernel grace period (ms): only now, after the priority-0 adverts
    for (const sock of this.packetSockets.values()) sock.close();
    this.packetSockets.clear();
    this.rtnl?.close();
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
    return { instances: this.instances.map((i) => i.status()), otherVrids: this.unknownVrid };
  }

  /** A channel for this instance's interface and family, shared with the other instances on it. */
  channelFor(inst: InstanceRuntime, link: LinkInfo): VrrpChannel {
    const s = inst.settings;
    const key = `${s.family}/${link.name}/${link.index}`;
    let entry = this.channels.get(key);
    if (!entry) {
      const groups = [...new Set(this.instances.filter((i) => i.settings.family === s.family && i.settings.ifname === s.ifname && i.settings.group).map((i) => i.settings.group!))];
      const sizes = this.instances.filter((i) => i.settings.family === s.family && i.settings.ifname === s.ifname && i.settings.rxBufSize).map((i) => i.settings.rxBufSize!);
      const channel = new VrrpChannel({ family: s.family, ifname: link.name, ifindex: link.index, groups, ...(sizes.length ? { rcvBuf: Math.max(...sizes) } : {}) });
      const users: InstanceRuntime[] = [];
      channel.open(
        (rx) => this.dispatch(users, rx),
        (err) => this.deps.log.warn({ err: err.message, interface: link.name }, err.message),
      );
      entry = { channel, users };
      this.channels.set(key, entry);
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
      }
    }
  }

  private dispatch(users: InstanceRuntime[], raw: Received | Buffer): void {
    let rx: Received;
    if (Buffer.isBuffer(raw)) {
      const parsed = parseIpv4(raw);
      if (!parsed.ok) {
        // no VRID to charge it to: count on every instance of the channel
        for (const u of users) u.malformed('packetLenErr', parsed.reason);
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
      if (u.settings.vrid !== vrid) continue;
      matched = true;
      u.receive(rx);
    }
    if (!matched) this.unknownVrid++;
  }

  private onLink(link: LinkInfo, type: LinkEventType): void {
    for (const inst of this.instances) {
      if (inst.settings.ifname !== link.name) continue;
      void inst.linkChanged(type === 'deleted' ? undefined : link);
    }
  }
}

/** Log lines for bad packets are limited to one per kind per second per instance. */
const BAD_PACKET_LOG_MS = 1000;

class InstanceRuntime {
  readonly counters = newCounters();
  readonly machine: VrrpMachine;
  private readonly vips: VipManager;
  private announcer: Announcer | undefined;
  private channel: VrrpChannel | undefined;
  private link: LinkInfo | undefined;
  private src: string | undefined;
  private readonly log: Logger;
  private readonly badLogAt = new Map<string, { at: number; suppressed: number }>();

  constructor(
    readonly settings: InstanceSettings,
    private readonly engine: VrrpEngine,
    private readonly rtnl: Rtnl,
    private readonly deps: EngineDeps,
  ) {
    this.log = deps.log.child({ vrrp: settings.name });
    this.vips = new VipManager(rtnl, { ifname: settings.ifname, vips: settings.vips, excluded: settings.excludedVips, routes: settings.routes, links: () => engine.links() });
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
      },
      this.counters,
    );
  }

  async cleanStale(): Promise<void> {
    const removed = await this.vips.cleanStale();
    for (const r of removed) this.log.notice({ address: r }, `(${this.settings.name}) removed ${r}, left on the interface by an earlier run`);
  }

  /** Binds to the interface (or FAULT without it) and starts the state machine. */
  async attach(link: LinkInfo | undefined): Promise<void> {
    await this.bind(link);
    // a missing or down interface: straight from INIT to FAULT
    if (!link || !link.up || !this.channel) this.machine.setFault(true, link ? `interface ${this.settings.ifname} is ${link.up ? 'unusable' : 'down'}` : `interface ${this.settings.ifname} does not exist`);
    this.machine.start();
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
      this.channel ??= this.engine.channelFor(this, link);
      this.warmUp();
      this.announcer?.stop();
      this.announcer = new Announcer({
        ifname: link.name,
        ifindex: link.index,
        mac: link.mac,
        noarp: link.noarp,
        addresses: s.vips.filter((v) => (v.dev ?? s.ifname) === s.ifname).map((v) => v.address),
        clock: this.deps.clock,
        ...s.garp,
        onError: (err: Error) => this.log.warn({ err: err.message }, `(${s.name}) ${err.message}`),
        openSender: (l) => this.engine.frameSender(l),
      });
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
    if (up === wasUp) return;
    if (up) {
      this.log.info({ interface: s.ifname }, `(${s.name}) interface ${s.ifname} is up`);
      this.machine.setFault(false, `interface ${s.ifname} up`);
    } else {
      this.log.warn({ interface: s.ifname }, `(${s.name}) interface ${s.ifname} ${link ? 'is down' : 'is gone'}`);
      this.machine.setFault(true, link ? `interface ${s.ifname} down` : `interface ${s.ifname} deleted`);
    }
  }

  receive(rx: Received): void {
    const s = this.settings;
    if (rx.family === 6 && !rx.dst) rx = { ...rx, dst: s.group ?? this.src ?? '::' };
    if (rx.src === this.src) return;
    if (s.unicastPeers.length > 0 && s.checkUnicastSrc && !s.unicastPeers.some((p) => p.address === rx.src)) {
      this.malformed('addrListErr', `advert from ${rx.src}, which is not a unicast_peer`);
      return;
    }
    const peer = s.unicastPeers.find((p) => p.address === rx.src);
    const outcome = checkAdvert(
      rx,
      {
        version: s.version,
        family: s.family,
        vrid: s.vrid,
        advertIntCs: s.advertIntCs,
        ...(s.authPass !== undefined ? { authPass: s.authPass } : {}),
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
    this.machine.onAdvert({ priority: outcome.advert.priority, advertIntCs: outcome.advert.advertIntCs, src: rx.src });
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
   * Builds an advert and its IP packet once, unsent: a backup's first advert
   * is the one that announces a takeover, and compiling the send path then
   * (V8 compiles a function at its first call) would delay it.
   */
  private warmUp(): void {
    const s = this.settings;
    if (!this.src) return;
    const dst = s.group ?? s.unicastPeers[0]?.address;
    if (!dst) return;
    try {
      const payload = encodeAdvert({ version: s.version, family: s.family, vrid: s.vrid, priority: s.priority, advertIntCs: s.advertIntCs, addresses: s.advertAddresses, ...(s.authPass !== undefined ? { authPass: s.authPass } : {}), src: this.src, dst });
      if (s.family === 4) ipv4Packet(payload, { src: this.src, dst, ttl: s.ttl }, 0);
      else ipv6Packet(payload, { src: this.src, dst, ttl: s.ttl });
    } catch {
      // only a warm-up: the real send reports its own errors
    }
  }

  private sendAdvert(priority: number, advertIntCs: number): void {
    const s = this.settings;
    if (!this.channel) return;
    if (!this.src) {
      // the interface came up before its address: look again, and send from the next advert on
      this.resolveSource();
      return;
    }
    const dsts = s.group ? [s.group] : s.unicastPeers.map((p) => p.address);
    for (const dst of dsts) {
      const payload = encodeAdvert({
        version: s.version,
        family: s.family,
        vrid: s.vrid,
        priority,
        advertIntCs,
        addresses: s.advertAddresses,
        ...(s.authPass !== undefined ? { authPass: s.authPass } : {}),
        src: this.src,
        dst,
      });
      this.channel.send(payload, { src: this.src, dst, ttl: s.ttl });
    }
  }

  private becomeMaster(): void {
    // adding addresses is async: the announcer starts once they are on the interface,
    // so the first gratuitous ARP already finds the address in place
    void this.vips.up().then((failures) => {
      for (const f of failures) this.log.error({ err: f.message }, `(${this.settings.name}) ${f.message}`);
      if (this.machine.state === 'MASTER') this.announcer?.announce();
    });
  }

  private leaveMaster(): void {
    this.announcer?.stop();
    void this.vips.down().then((failures) => {
      for (const f of failures) this.log.error({ err: f.message }, `(${this.settings.name}) ${f.message}`);
    });
  }

  private onTransition(from: VrrpState, to: VrrpState, reason: string): void {
    const s = this.settings;
    this.log.notice({ from, to, priority: this.machine.priority, reason }, `(${s.name}) Entering ${to} STATE${reason ? ` (${reason})` : ''}`);
    this.deps.onTransition?.({ instance: s.name, from, to, priority: this.machine.priority, reason, time: Date.now(), at: this.deps.clock.now() });
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
      vrid: s.vrid,
      version: s.version,
      family: s.family,
      interface: s.ifname,
      priority: s.priority,
      effectivePriority: this.machine.priority,
      ...(master ? { master } : {}),
      ...(this.src ? { sourceAddress: this.src } : {}),
      counters: { ...this.counters },
    };
  }
}
