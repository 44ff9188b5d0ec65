import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VirtualServerPool } from '../check/pool';
import type { ConfigModel, VirtualServerConfig } from '../config/model';
import type { VirtualServerKey } from '../config/keywords/lvs';
import type { Logger } from '../log/logger';
import type { AlivedHooks } from '../plugin/hooks';
import { canonicalIp } from '../net/address';
import { describeService, IpvsClient, type IpvsClientOptions, type IpvsError, type IpvsMessageCounts, type IpvsStats, type IpvsTimeouts } from './client';
import { openIpvsClient } from './open';
import { desiredTable, type DesiredTable } from './desired';
import { IpvsReconciler, type SyncReport } from './reconciler';

/**
 * IPVS in the daemon: opens the IPVS client (loading ip_vs when the kernel
 * has it as a module), applies lvs_flush and lvs_timeouts, adopts or
 * cleans what an earlier run left, then keeps the kernel's table equal to
 * the config and the health checks' pools: every pool change, reload and
 * VRRP transition (ha_suspend) is a sync of the differences. At stop it
 * removes what it made, unless --dont-release-ipvs.
 */

export const DEFAULT_STATE_DIR = '/run/alived';
const PLUGIN_NAME = 'alived-ipvs';

export interface IpvsServiceOptions {
  readonly log: Logger;
  /** remove alived's services at stop (default); false with -I / --dont-release-ipvs */
  readonly release?: boolean;
  /** where the record of what alived made is kept (per network namespace); default /run/alived */
  readonly stateDir?: string;
  readonly client?: IpvsClientOptions;
  /** after a failed request, sync again this much later; default 5000 ms */
  readonly retryMs?: number;
}

/** What the checks need to know: whether pools reach the kernel, and a handler for their changes. */
export interface PoolProgramming {
  readonly programsPools: boolean;
  /** why not, when not (the kernel has no IPVS, or alived may not use it) */
  readonly ipvsReason?: string;
  readonly onPoolChange: (pool: VirtualServerPool) => void;
}

export interface IpvsRealServerStatus {
  readonly address: string;
  readonly port: number;
  readonly method: string;
  readonly weight: number;
  readonly activeConnections: number;
  readonly inactiveConnections: number;
  readonly persistentConnections: number;
  readonly stats: IpvsStats;
}

export interface IpvsServiceStatus {
  /** `TCP 10.0.0.1:80`, `FWM 5` */
  readonly service: string;
  readonly virtualServer: string | undefined;
  readonly scheduler: string;
  readonly stats: IpvsStats;
  readonly realServers: readonly IpvsRealServerStatus[];
}

export interface IpvsStatus {
  readonly available: boolean;
  readonly programmed: boolean;
  readonly messages: IpvsMessageCounts;
  readonly syncs: number;
  readonly failures: number;
  readonly lastSync: SyncReport | undefined;
  /** VRRP instances in MASTER (what ha_suspend follows) */
  readonly masters: readonly string[];
  readonly services: readonly IpvsServiceStatus[];
}

interface PoolSource {
  pools(): VirtualServerPool[];
}

/** The network namespace's inode: each namespace has a table (and a state file) of its own. */
function netnsId(): string {
  try {
    return String(fs.statSync('/proc/self/ns/net').ino);
  } catch {
    return 'default';
  }
}

export class IpvsService {
  private readonly log: Logger;
  private client: IpvsClient | undefined;
  private reconciler: IpvsReconciler | undefined;
  private openError: string | undefined;
  private model: ConfigModel | undefined;
  private checks: PoolSource | undefined;
  private readonly masters = new Set<string>();
  private syncing: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private started = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private syncs = 0;
  private failures = 0;
  private lastSync: SyncReport | undefined;
  private lastDesired: DesiredTable = new Map();
  private originalTimeouts: IpvsTimeouts | undefined;
  private timeoutsJson = '';
  private tapped: AlivedHooks | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: IpvsServiceOptions) {
    this.log = opts.log.child({ subsystem: 'ipvs' });
  }

  /**
   * Opens the IPVS client when the config has virtual servers; loads ip_vs
   * with modprobe when the kernel has it as a module not yet loaded (as
   * keepalived does). Returns what the checks need to know. Never throws:
   * without IPVS the checks run, and say their pools are not programmed.
   */
  async open(model: ConfigModel): Promise<PoolProgramming> {
    const onPoolChange = (): void => this.schedule();
    if ((model.virtualServer ?? []).length === 0) return { programsPools: false, ipvsReason: 'no virtual_server', onPoolChange };
    try {
      this.client = await this.tryOpen();
    } catch (err) {
      const e = err as IpvsError;
      this.openError = e.message;
      if (e.errno !== 'ENOPROTOOPT') this.log.error({ code: 'ALIVED_IPVS_FAILED', err }, `cannot use IPVS: ${e.message}`);
      return { programsPools: false, ipvsReason: e.message, onPoolChange };
    }
    return { programsPools: true, onPoolChange };
  }

  private tryOpen(): Promise<IpvsClient> {
    return openIpvsClient(this.opts.client, this.log);
  }

  get available(): boolean {
    return this.client !== undefined;
  }

  /** Start: lvs_flush or adoption of what is there, lvs_timeouts, the first sync. */
  async start(model: ConfigModel, checks: PoolSource, hooks: AlivedHooks): Promise<void> {
    this.model = model;
    this.checks = checks;
    this.tap(hooks);
    if (!this.client) return;
    this.started = true;
    this.reconciler = new IpvsReconciler(this.client, {
      log: this.log,
      stateFile: path.join(this.opts.stateDir ?? DEFAULT_STATE_DIR, `ipvs-netns-${netnsId()}.json`),
    });
    const g = model.globalDefs;
    this.warnNoEffect(model);
    try {
      await this.reconciler.begin(this.desired(), { flush: g?.lvsFlush === true });
    } catch (err) {
      this.failures++;
      this.log.error({ code: 'ALIVED_IPVS_FAILED', err }, `reading the IPVS table at start: ${(err as Error).message}`);
    }
    await this.applyTimeouts(model);
    this.schedule();
    await this.idle();
  }

  /** A reload: the new config's services, settings and timeouts; only the differences reach the kernel. */
  async reload(model: ConfigModel, hooks: AlivedHooks): Promise<void> {
    this.model = model;
    this.tap(hooks);
    if (!this.started || this.stopped) return;
    this.warnNoEffect(model);
    await this.applyTimeouts(model);
    this.schedule();
    await this.idle();
  }

  private tap(hooks: AlivedHooks): void {
    if (this.tapped === hooks) return;
    this.tapped = hooks;
    hooks.vrrpTransition.tap(PLUGIN_NAME, (t) => {
      if (t.kind !== 'instance') return;
      const was = this.masters.has(t.name);
      if (t.to === 'MASTER') this.masters.add(t.name);
      else this.masters.delete(t.name);
      if (was !== this.masters.has(t.name) && this.hasHaSuspend()) this.schedule();
    });
  }

  private hasHaSuspend(): boolean {
    return ((this.model?.virtualServer ?? []) as VirtualServerConfig[]).some((v) => v.haSuspend);
  }

  private warnNoEffect(model: ConfigModel): void {
    const g = (model.globalDefs ?? {}) as Record<string, unknown>;
    for (const k of ['lvsNetlinkMonitorRcvBufs', 'lvsNetlinkMonitorRcvBufsForce', 'lvsNetlinkCmdRcvBufsForce'] as const) {
      if (g[k] !== undefined) {
        const kw = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        this.log.warn(
          { keyword: kw },
          `${kw} has no effect in alived: it keeps no IPVS monitor socket, and sets the command socket's buffer with SO_RCVBUF (lvs_netlink_cmd_rcv_bufs)`,
        );
      }
    }
    const rcv = g.lvsNetlinkCmdRcvBufs;
    if (typeof rcv === 'number' && rcv > 0 && this.client) {
      try {
        this.client.setReceiveBuffer(rcv);
      } catch (err) {
        this.log.warn({ err }, `lvs_netlink_cmd_rcv_bufs ${rcv}: ${(err as Error).message}`);
      }
    }
  }

  /** lvs_timeouts: set at start and when a reload changes them; the kernel's own come back at stop. */
  private async applyTimeouts(model: ConfigModel): Promise<void> {
    const t = model.globalDefs?.lvsTimeouts as { tcp?: number; tcpfin?: number; udp?: number } | undefined;
    const want: IpvsTimeouts = { tcp: t?.tcp ?? 0, tcpFin: t?.tcpfin ?? 0, udp: t?.udp ?? 0 };
    const json = JSON.stringify(want);
    if (json === this.timeoutsJson || !this.client) return;
    try {
      if (!this.originalTimeouts) {
        // after a crash, the kernel's own timeouts are the ones the crashed run recorded
        const kept = this.reconciler?.previousExtra.timeouts as IpvsTimeouts | undefined;
        this.originalTimeouts = kept ?? (await this.client.timeouts());
        this.reconciler?.setExtra({ timeouts: this.originalTimeouts });
      }
      const o = this.originalTimeouts;
      // a timeout the new config no longer sets goes back to the kernel's
      await this.client.setTimeouts({ tcp: want.tcp || o.tcp, tcpFin: want.tcpFin || o.tcpFin, udp: want.udp || o.udp });
      this.timeoutsJson = json;
      if (want.tcp || want.tcpFin || want.udp)
        this.log.info({ ...want }, `IPVS connection timeouts set: tcp ${want.tcp || o.tcp} s, tcpfin ${want.tcpFin || o.tcpFin} s, udp ${want.udp || o.udp} s`);
    } catch (err) {
      this.failures++;
      this.log.error({ code: 'ALIVED_IPVS_FAILED', err }, (err as Error).message);
    }
  }

  /** ha_suspend: the virtual server is programmed only while this node is MASTER of the instance holding its address. */
  private holders(): Map<string, string> {
    const m = new Map<string, string>();
    for (const inst of (this.model?.vrrpInstance ?? []) as Array<{
      name: string;
      virtualIpaddress?: Array<{ address: string }>;
      virtualIpaddressExcluded?: Array<{ address: string }>;
    }>) {
      for (const a of [...(inst.virtualIpaddress ?? []), ...(inst.virtualIpaddressExcluded ?? [])]) {
        const k = canonicalIp(a.address);
        if (!m.has(k)) m.set(k, inst.name);
      }
    }
    return m;
  }

  private desired(): DesiredTable {
    if (!this.model || !this.checks) return new Map();
    const holders = this.holders();
    return desiredTable(this.model, this.checks.pools(), {
      suspended: (vs) => {
        if (!vs.haSuspend) return false;
        const key = vs as unknown as VirtualServerKey;
        if (key.kind !== 'address') return false;
        const holder = holders.get(canonicalIp(key.address));
        return holder !== undefined && !this.masters.has(holder);
      },
    });
  }

  /** A sync soon: changes that come together (one check round, a reload) make one pass. */
  schedule(): void {
    if (!this.started || this.stopped) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.loop());
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        if (this.stopped || !this.reconciler) break;
        let desired: DesiredTable;
        try {
          desired = this.desired();
        } catch (err) {
          this.failures++;
          this.log.error({ code: 'ALIVED_IPVS_FAILED', err }, `cannot compute the IPVS table: ${(err as Error).message}`);
          break;
        }
        this.lastDesired = desired;
        const r = await this.reconciler.sync(desired);
        this.syncs++;
        this.lastSync = r;
        if (r.requests > 0) {
          const parts = [
            ['services added', r.servicesAdded],
            ['services changed', r.servicesChanged],
            ['services removed', r.servicesRemoved],
            ['real servers added', r.destinationsAdded],
            ['real servers changed', r.destinationsChanged],
            ['real servers removed', r.destinationsRemoved],
            ['failed', r.failures],
          ].filter(([, n]) => n) as Array<[string, number]>;
          this.log.info(
            { ...r },
            `IPVS synced: ${parts.map(([w, n]) => `${n} ${w}`).join(', ') || 'nothing changed'} (${r.requests} request${r.requests === 1 ? '' : 's'}, ${r.ms.toFixed(1)} ms)`,
          );
        }
        if (r.failures > 0) {
          this.failures += r.failures;
          this.retryLater();
        }
      } while (this.again);
    } finally {
      this.syncing = undefined;
    }
  }

  private retryLater(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, this.opts.retryMs ?? 5000);
    this.retryTimer.unref();
  }

  /** Resolves when no sync runs (tests and benchmarks wait for the table to settle). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && this.syncing; i++) await this.syncing;
  }

  /**
   * Stop (after the checks stopped): lvs_flush_on_stop empties the table
   * (VS: removes every virtual server); otherwise alived's services are
   * removed, unless release is off (-I). The kernel's connection timeouts
   * come back.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.syncing?.catch(() => undefined);
    const client = this.client;
    const rec = this.reconciler;
    if (!client || !rec) {
      client?.close();
      return;
    }
    const onStop = this.model?.globalDefs?.lvsFlushOnStop as string | boolean | undefined;
    try {
      if (onStop !== undefined && onStop !== false) {
        if (onStop === 'VS') {
          for (const s of await client.services()) await client.deleteService(s.key);
          this.log.info({}, 'lvs_flush_on_stop VS: every IPVS virtual server removed');
        } else {
          await client.flush();
          this.log.info({}, 'lvs_flush_on_stop: the IPVS table was emptied');
        }
        rec.forget();
      } else if (this.opts.release === false) {
        rec.keep();
        const n = rec.ownedServices().length;
        this.log.info({ services: n }, `--dont-release-ipvs: leaving ${n} IPVS service${n === 1 ? '' : 's'} in the kernel`);
      } else {
        const n = await rec.release();
        this.log.info({ services: n }, `Removed ${n} IPVS service${n === 1 ? '' : 's'}`);
      }
      if (this.originalTimeouts && this.opts.release !== false) {
        await client.setTimeouts(this.originalTimeouts);
        rec.setExtra({});
      }
    } catch (err) {
      this.log.error({ code: 'ALIVED_IPVS_FAILED', err }, `at stop: ${(err as Error).message}`);
    } finally {
      client.close();
      this.client = undefined;
    }
  }

  /** The counters of every service alived owns and of its real servers, read from the kernel now. */
  async status(): Promise<IpvsStatus> {
    const services: IpvsServiceStatus[] = [];
    const client = this.client;
    if (client && this.reconciler && !this.stopped) {
      const owned = new Set(this.reconciler.ownedServices().map((k) => describeService(k)));
      const vsOf = new Map([...this.lastDesired.values()].map((d) => [describeService(d.spec.key), d.virtualServer]));
      for (const s of await client.table()) {
        const name = describeService(s.key);
        if (!owned.has(name)) continue;
        services.push({
          service: name,
          virtualServer: vsOf.get(name),
          scheduler: s.scheduler,
          stats: s.stats,
          realServers: s.destinations.map((d) => ({
            address: d.address,
            port: d.port,
            method: d.method,
            weight: d.weight,
            activeConnections: d.activeConnections,
            inactiveConnections: d.inactiveConnections,
            persistentConnections: d.persistentConnections,
            stats: d.stats,
          })),
        });
      }
    }
    return {
      available: this.client !== undefined,
      programmed: this.started && !this.stopped,
      messages: client ? { ...client.counts } : { requests: 0, replies: 0 },
      syncs: this.syncs,
      failures: this.failures,
      lastSync: this.lastSync,
      masters: [...this.masters],
      services,
    };
  }

  /** why pools are not programmed, when they are not */
  get unavailableReason(): string | undefined {
    return this.openError;
  }
}
