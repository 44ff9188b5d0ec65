import type { Logger } from '../log/logger';
import {
  describeSyncDaemon,
  type IpvsClient,
  type IpvsClientOptions,
  type IpvsError,
  type SyncDaemonEntry,
  type SyncDaemonSpec,
  type SyncDaemonState,
} from './client';
import { openIpvsClient } from './open';
import type { LvsSyncConfig } from './sync-daemon-config';

/**
 * The kernel's IPVS connection synchronisation (lvs_sync_daemon), run as
 * keepalived runs it: a backup sync daemon while the named VRRP instance is
 * BACKUP, FAULT or not yet decided, a master one while it is MASTER, and
 * both at once when no instance is named. The kernel does the work (a
 * master sends its connections to a multicast group, a backup enters them
 * in its table); this only starts and stops the two roles, over the IPVS
 * generic netlink family (NEW_DAEMON / DEL_DAEMON / GET_DAEMON).
 *
 * VRRP transitions reach it in the daemon's main process (the VRRP process
 * reports them); changes are applied in order, coalesced: only the latest
 * wanted roles count. Switching follows keepalived's order: the old role
 * stops before the new one starts. A reload with changed settings restarts
 * the daemons with them; one without the keyword stops them; at stop the
 * daemons alived started are stopped.
 */

const ROLES: readonly SyncDaemonState[] = ['master', 'backup'];

export interface LvsSyncDaemonOptions {
  readonly log: Logger;
  readonly client?: IpvsClientOptions;
  /** after a failed request, try again this much later; default 5000 ms */
  readonly retryMs?: number;
}

export interface LvsSyncDaemonStatus {
  readonly config: LvsSyncConfig | undefined;
  /** the state of the instance followed, as last reported */
  readonly instanceState: string | undefined;
  /** the roles alived runs now */
  readonly running: readonly SyncDaemonState[];
  readonly switches: number;
  readonly failures: number;
}

function sameSpec(a: SyncDaemonSpec, b: SyncDaemonSpec): boolean {
  return (
    a.state === b.state &&
    a.interface === b.interface &&
    a.syncId === b.syncId &&
    a.maxlen === b.maxlen &&
    a.port === b.port &&
    a.ttl === b.ttl &&
    a.group === b.group
  );
}

/** a daemon found in the kernel matches the config where the config says something (the kernel fills in the rest) */
function kernelMatches(k: SyncDaemonEntry, w: SyncDaemonSpec): boolean {
  return (
    k.interface === w.interface &&
    k.syncId === w.syncId &&
    (w.port === undefined || k.port === w.port) &&
    (w.ttl === undefined || k.ttl === w.ttl) &&
    (w.group === undefined || k.group === w.group) &&
    (w.maxlen === undefined || k.maxlen === w.maxlen)
  );
}

export class LvsSyncDaemon {
  private readonly log: Logger;
  private config: LvsSyncConfig | undefined;
  /** every instance's last reported state: a reload may name another instance */
  private readonly states = new Map<string, string>();
  /** what alived started and believes runs, by role */
  private readonly applied = new Map<SyncDaemonState, SyncDaemonSpec>();
  private client: IpvsClient | undefined;
  private opened = false;
  private syncing: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** the last error logged, so a retry that fails the same way is not logged again */
  private lastError: string | undefined;
  private switches = 0;
  private failures = 0;

  constructor(private readonly opts: LvsSyncDaemonOptions) {
    this.log = opts.log.child({ subsystem: 'ipvs-sync' });
  }

  /** At start and at every reload: the config to follow (undefined: no sync daemon). */
  configure(config: LvsSyncConfig | undefined): Promise<void> {
    const before = this.config;
    this.config = config;
    if (config && JSON.stringify(before) !== JSON.stringify(config)) {
      const follows = config.instance !== undefined ? `follows ${config.instance}` : 'no instance named: master and backup both run';
      this.log.info({ ...config }, `IPVS sync daemon on ${config.interface} (id ${config.syncId}): ${follows}`);
    }
    this.schedule();
    return this.idle();
  }

  /** A VRRP instance's transition (every instance: a reload may name another one). */
  instanceState(instance: string, state: string, opts: { ifUnknown?: boolean } = {}): void {
    // STOP: the daemon is stopping, and stop() ends the sync daemon; DELETED: a reload that
    // removes the instance also removes what refers to it
    if (state === 'STOP' || state === 'DELETED') return;
    // a state read from a status: a transition reported meanwhile is newer
    if (opts.ifUnknown && this.states.has(instance)) return;
    this.states.set(instance, state);
    if (this.config?.instance === instance) this.schedule();
  }

  /** the roles the config and the instance's state ask for */
  private wanted(): Map<SyncDaemonState, SyncDaemonSpec> {
    const out = new Map<SyncDaemonState, SyncDaemonSpec>();
    const c = this.config;
    if (!c || this.stopped) return out;
    const spec = (state: SyncDaemonState): SyncDaemonSpec => ({
      state,
      interface: c.interface,
      syncId: c.syncId,
      maxlen: c.maxlen,
      port: c.port,
      ttl: c.ttl,
      group: c.group,
    });
    if (c.instance === undefined) {
      for (const r of ROLES) out.set(r, spec(r));
    } else {
      // INIT, BACKUP, FAULT, or no report yet: backup, as keepalived starts it before the first transition
      const r: SyncDaemonState = this.states.get(c.instance) === 'MASTER' ? 'master' : 'backup';
      out.set(r, spec(r));
    }
    return out;
  }

  private schedule(): void {
    if (this.stopped && this.applied.size === 0) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.loop());
  }

  /** Resolves when no change is being applied. */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && this.syncing; i++) await this.syncing;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.apply();
      } while (this.again);
    } finally {
      this.syncing = undefined;
    }
  }

  private async apply(): Promise<void> {
    const want = this.wanted();
    if (want.size === 0 && this.applied.size === 0) return;
    const client = await this.open();
    if (!client) return;
    const started = performance.now();
    let failed = false;
    const fail = (err: unknown): void => {
      failed = true;
      this.failures++;
      const message = (err as Error).message;
      if (message !== this.lastError) this.log.error({ code: 'ALIVED_IPVS_FAILED', err }, message);
      this.lastError = message;
    };
    if (!this.opened) {
      this.opened = true;
      // what an earlier run (or someone else) left running: kept when it is what the config asks for
      try {
        for (const k of await client.syncDaemons()) {
          const w = want.get(k.state);
          if (w && kernelMatches(k, w)) {
            this.applied.set(k.state, w);
            this.log.info({ state: k.state }, `the IPVS ${describeSyncDaemon(k)} already runs as configured: kept`);
          } else {
            // a role not wanted, or with other settings: stopped below, as a switch would stop it
            this.applied.set(k.state, k);
          }
        }
      } catch (err) {
        fail(err);
      }
    }
    // the old role first, then the new one (keepalived's order)
    for (const r of ROLES) {
      const a = this.applied.get(r);
      const w = want.get(r);
      if (!a || (w && sameSpec(a, w))) continue;
      try {
        await client.stopSyncDaemon(r);
        this.log.info({ state: r }, `IPVS ${describeSyncDaemon(a)} stopped${this.why()}`);
      } catch (err) {
        // ESRCH: it stopped already (someone ran ipvsadm --stop-daemon)
        if ((err as IpvsError).errno !== 'ESRCH') {
          fail(err);
          continue;
        }
      }
      this.applied.delete(r);
    }
    for (const r of ROLES) {
      const w = want.get(r);
      if (!w || this.applied.has(r)) continue;
      try {
        await this.start(client, w);
        this.applied.set(r, w);
        this.switches++;
        const ms = (performance.now() - started).toFixed(1);
        this.log.info({ state: r, ms }, `IPVS ${describeSyncDaemon(w)} started${this.why()} (${ms} ms)`);
      } catch (err) {
        fail(err);
      }
    }
    if (!failed) this.lastError = undefined;
    else this.retryLater();
    if (this.applied.size === 0 && (this.stopped || !this.config)) this.close();
  }

  /** starts a role; one of that role that runs unknown to alived (ipvsadm --start-daemon) is replaced */
  private async start(client: IpvsClient, w: SyncDaemonSpec): Promise<void> {
    try {
      await client.startSyncDaemon(w);
    } catch (err) {
      if ((err as IpvsError).errno !== 'EEXIST') throw err;
      await client.stopSyncDaemon(w.state);
      await client.startSyncDaemon(w);
    }
  }

  private why(): string {
    const c = this.config;
    if (this.stopped) return ' (alived stops)';
    if (!c) return ' (no lvs_sync_daemon in the config)';
    if (c.instance === undefined) return '';
    return ` (${c.instance} is ${this.states.get(c.instance) ?? 'starting'})`;
  }

  private async open(): Promise<IpvsClient | undefined> {
    if (this.client) return this.client;
    try {
      this.client = await openIpvsClient(this.opts.client, this.log);
      return this.client;
    } catch (err) {
      this.failures++;
      const message = `cannot run the IPVS sync daemon: ${(err as Error).message}`;
      if (message !== this.lastError) this.log.error({ code: 'ALIVED_IPVS_FAILED', err }, message);
      this.lastError = message;
      // without IPVS in the kernel there is nothing to retry
      if ((err as IpvsError).errno !== 'ENOPROTOOPT') this.retryLater();
      return undefined;
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

  private close(): void {
    this.client?.close();
    this.client = undefined;
    this.opened = false;
  }

  /** At alived's stop: the sync daemons alived runs are stopped. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      await this.idle();
      if (this.applied.size > 0) {
        this.schedule();
        await this.idle();
      }
      this.close();
    })();
    return this.stopping;
  }

  status(): LvsSyncDaemonStatus {
    const c = this.config;
    return {
      config: c,
      instanceState: c?.instance !== undefined ? this.states.get(c.instance) : undefined,
      running: [...this.applied.keys()],
      switches: this.switches,
      failures: this.failures,
    };
  }
}
