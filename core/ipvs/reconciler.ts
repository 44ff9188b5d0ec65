import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { readStateFile } from '../daemon/state-dir';
import { writeFileAtomicSync } from '../fs/safe-file';
import type { Logger } from '../log/logger';
import {
  describeService,
  destinationId,
  hostPort,
  serviceId,
  type DestinationSpec,
  type IpvsClient,
  type IpvsError,
  type ServiceKey,
  type ServiceSpec,
} from './client';
import type { DesiredTable } from './desired';

/**
 * Brings the kernel's IPVS table to the desired one with the fewest
 * requests: a service is added, changed in place (SET_SERVICE: its
 * connections survive) or removed; a destination likewise. Nothing that
 * did not change is touched, so a reload that changes one line sends one
 * request.
 *
 * What alived owns is written to a state file (per network namespace): a
 * later start after a crash removes what the crashed run created and the
 * new config no longer has, and adopts what it still has — never adds a
 * duplicate. Services alived did not create and the config does not name
 * are left alone.
 */

interface KernelService {
  spec: ServiceSpec;
  destinations: Map<string, DestinationSpec>;
}

export interface SyncReport {
  servicesAdded: number;
  servicesChanged: number;
  servicesRemoved: number;
  destinationsAdded: number;
  destinationsChanged: number;
  destinationsRemoved: number;
  /** requests that failed (each logged) */
  failures: number;
  /** netlink requests sent */
  requests: number;
  ms: number;
}

export interface ReconcilerOptions {
  readonly log: Logger;
  /** where the services alived owns are listed; undefined: no file (tests, embedders) */
  readonly stateFile?: string | undefined;
}

export interface BeginOptions {
  /** lvs_flush: empty the whole table first */
  readonly flush?: boolean;
}

function sameSettings(a: ServiceSpec, b: ServiceSpec): boolean {
  return (
    a.scheduler === b.scheduler &&
    // HASHED is the kernel's own bit; PERSISTENT follows the timeout
    (a.flags & ~0x3) === (b.flags & ~0x3) &&
    a.timeout === b.timeout &&
    (a.timeout === 0 || String(a.netmask) === String(b.netmask)) &&
    (a.persistenceEngine ?? '') === (b.persistenceEngine ?? '')
  );
}

function sameDestination(a: DestinationSpec, b: DestinationSpec): boolean {
  if (a.method !== b.method || a.weight !== b.weight || a.upperThreshold !== b.upperThreshold || a.lowerThreshold !== b.lowerThreshold) return false;
  if (a.method !== 'TUN') return true;
  const ta = a.tunnel ?? { type: 'ipip' };
  const tb = b.tunnel ?? { type: 'ipip' };
  return ta.type === tb.type && (ta.type !== 'gue' || ta.port === tb.port) && (ta.type === 'ipip' || (ta.checksum ?? 'nocsum') === (tb.checksum ?? 'nocsum'));
}

function copyDest(d: DestinationSpec): DestinationSpec {
  return {
    family: d.family,
    address: d.address,
    port: d.port,
    method: d.method,
    weight: d.weight,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    ...(d.tunnel ? { tunnel: d.tunnel } : {}),
  };
}

export class IpvsReconciler {
  /** the services alived owns, as it last left them in the kernel */
  private readonly known = new Map<string, KernelService>();
  /** a request failed: read the kernel again before the next sync */
  private stale = false;
  private lastStateJson = '';
  /** what the service keeps beside the services (the kernel's connection timeouts before alived changed them) */
  private extra: Record<string, unknown> = {};

  constructor(
    private readonly client: IpvsClient,
    private readonly opts: ReconcilerOptions,
  ) {}

  private get log(): Logger {
    return this.opts.log;
  }

  /** serviceIds alived owns now */
  ownedServices(): ServiceKey[] {
    return [...this.known.values()].map((s) => s.spec.key);
  }

  /**
   * Start: with `flush` the table is emptied (lvs_flush). Otherwise
   * services of the desired table already in the kernel are adopted (a
   * crashed run left them, or someone made them by hand: their
   * destinations are brought to the desired ones by the next sync); what
   * the state file says a previous run created and the config no longer
   * has is removed; anything else is left alone.
   */
  async begin(desired: DesiredTable, opts: BeginOptions = {}): Promise<void> {
    const leftovers = this.readState();
    if (opts.flush) {
      await this.client.flush();
      this.log.info({}, 'lvs_flush: the IPVS table was emptied');
      this.writeState();
      return;
    }
    const table = await this.client.table();
    let adopted = 0;
    let foreign = 0;
    for (const s of table) {
      const id = serviceId(s.key);
      if (desired.has(id)) {
        this.known.set(id, { spec: s, destinations: new Map(s.destinations.map((d) => [destinationId(d), copyDest(d)])) });
        adopted++;
        this.log.info(
          { service: describeService(s.key) },
          `Adopting IPVS service ${describeService(s.key)} already in the kernel (${s.destinations.length} real servers)`,
        );
      } else if (leftovers.has(id)) {
        try {
          await this.client.deleteService(s.key);
          this.log.info(
            { service: describeService(s.key) },
            `Removing IPVS service ${describeService(s.key)} that a previous run left and the config no longer has`,
          );
        } catch (err) {
          this.fail(err);
        }
      } else {
        foreign++;
      }
    }
    if (foreign > 0) {
      this.log.info(
        { services: foreign },
        `${foreign} IPVS service${foreign === 1 ? '' : 's'} in the kernel not named by the config and not made by alived: left alone`,
      );
    }
    if (adopted > 0) this.writeState();
  }

  /** Reads the owned services back from the kernel (after a failed request, the picture may be wrong). */
  private async refresh(): Promise<void> {
    const table = await this.client.table();
    const inKernel = new Map(table.map((s) => [serviceId(s.key), s]));
    for (const [id, k] of this.known) {
      const s = inKernel.get(id);
      if (!s) this.known.delete(id);
      else {
        k.spec = s;
        k.destinations = new Map(s.destinations.map((d) => [destinationId(d), copyDest(d)]));
      }
    }
    this.stale = false;
  }

  private fail(err: unknown): void {
    this.stale = true;
    const e = err as IpvsError;
    this.log.error({ code: 'ALIVED_IPVS_FAILED', errno: e.errno, err }, e.message ?? String(err));
  }

  /**
   * Applies `desired`: new services, then changed ones, then their
   * destinations (added, changed, removed), then services that left. A
   * failed request is logged and counted; the rest goes on, and the next
   * sync starts from a fresh read of the kernel.
   */
  async sync(desired: DesiredTable): Promise<SyncReport> {
    const t0 = performance.now();
    const req0 = this.client.counts.requests;
    const r: SyncReport = {
      servicesAdded: 0,
      servicesChanged: 0,
      servicesRemoved: 0,
      destinationsAdded: 0,
      destinationsChanged: 0,
      destinationsRemoved: 0,
      failures: 0,
      requests: 0,
      ms: 0,
    };
    if (this.stale) {
      try {
        await this.refresh();
      } catch (err) {
        this.fail(err);
        r.failures++;
      }
    }
    const run = async (p: Promise<void>, ok: () => void): Promise<boolean> => {
      try {
        await p;
        ok();
        return true;
      } catch (err) {
        this.fail(err);
        r.failures++;
        return false;
      }
    };

    // 1. services: added or changed in place
    const ready: Array<[string, KernelService, ReadonlyMap<string, DestinationSpec>]> = [];
    const svcOps: Promise<unknown>[] = [];
    for (const [id, want] of desired) {
      const have = this.known.get(id);
      if (!have) {
        svcOps.push(
          this.add(want.spec).then(
            (k) => {
              this.known.set(id, k);
              if (k.destinations.size === 0) r.servicesAdded++;
              ready.push([id, k, want.destinations]);
              this.log.info(
                { service: describeService(want.spec.key), vs: want.virtualServer },
                `Adding IPVS service ${describeService(want.spec.key)} (${want.spec.scheduler}) for VS ${want.virtualServer}`,
              );
            },
            (err) => {
              this.fail(err);
              r.failures++;
            },
          ),
        );
      } else if (!sameSettings(have.spec, want.spec)) {
        svcOps.push(
          run(this.client.updateService(want.spec), () => {
            have.spec = want.spec;
            r.servicesChanged++;
            this.log.info(
              { service: describeService(want.spec.key), vs: want.virtualServer },
              `Changing IPVS service ${describeService(want.spec.key)} (${want.spec.scheduler}) of VS ${want.virtualServer} in place`,
            );
          }),
        );
        ready.push([id, have, want.destinations]);
      } else {
        ready.push([id, have, want.destinations]);
      }
    }
    await Promise.all(svcOps);

    // 2. destinations: added and changed first, so that a pool never empties on the way
    const destOps: Promise<unknown>[] = [];
    const removals: Array<[KernelService, DestinationSpec, string]> = [];
    for (const [, have, wanted] of ready) {
      const key = have.spec.key;
      for (const [did, d] of wanted) {
        const cur = have.destinations.get(did);
        if (!cur) {
          destOps.push(
            run(this.client.addDestination(key, d), () => {
              have.destinations.set(did, d);
              r.destinationsAdded++;
              this.log.debug({ service: describeService(key), rs: hostPort(d.address, d.port), weight: d.weight }, 'IPVS destination added');
            }),
          );
        } else if (!sameDestination(cur, d)) {
          destOps.push(
            run(this.client.updateDestination(key, d), () => {
              have.destinations.set(did, d);
              r.destinationsChanged++;
              this.log.debug({ service: describeService(key), rs: hostPort(d.address, d.port), weight: d.weight }, 'IPVS destination changed');
            }),
          );
        }
      }
      for (const [did, d] of have.destinations) if (!wanted.has(did)) removals.push([have, d, did]);
    }
    await Promise.all(destOps);
    await Promise.all(
      removals.map(([have, d, did]) =>
        run(this.client.deleteDestination(have.spec.key, d), () => {
          have.destinations.delete(did);
          r.destinationsRemoved++;
          this.log.debug({ service: describeService(have.spec.key), rs: hostPort(d.address, d.port) }, 'IPVS destination removed');
        }),
      ),
    );

    // 3. services that left the desired table
    const gone = [...this.known].filter(([id]) => !desired.has(id));
    await Promise.all(
      gone.map(([id, have]) =>
        run(this.client.deleteService(have.spec.key), () => {
          this.known.delete(id);
          r.servicesRemoved++;
          this.log.info({ service: describeService(have.spec.key) }, `Removing IPVS service ${describeService(have.spec.key)}`);
        }),
      ),
    );
    if (r.servicesAdded || r.servicesRemoved) this.writeState();
    r.requests = this.client.counts.requests - req0;
    r.ms = performance.now() - t0;
    return r;
  }

  /**
   * Adds a service; one that appeared in the kernel since the start (made
   * by hand, or by another program) is adopted as it is, so that the
   * destinations are brought to the desired ones instead of failing again
   * at every sync.
   */
  private async add(spec: ServiceSpec): Promise<KernelService> {
    try {
      await this.client.addService(spec);
      return { spec, destinations: new Map() };
    } catch (err) {
      if ((err as IpvsError).errno !== 'EEXIST') throw err;
      const dests = await this.client.destinations(spec.key);
      this.log.info(
        { service: describeService(spec.key) },
        `Adopting IPVS service ${describeService(spec.key)} that appeared in the kernel (${dests.length} real servers)`,
      );
      await this.client.updateService(spec);
      return { spec, destinations: new Map(dests.map((d) => [destinationId(d), copyDest(d)])) };
    }
  }

  /** Stop: removes every service alived owns (keepalived's clear_services()). */
  async release(): Promise<number> {
    let n = 0;
    await Promise.all(
      [...this.known].map(async ([id, have]) => {
        try {
          await this.client.deleteService(have.spec.key);
          this.known.delete(id);
          n++;
        } catch (err) {
          // already gone is what was wanted
          if ((err as IpvsError).errno === 'ESRCH') this.known.delete(id);
          else this.fail(err);
        }
      }),
    );
    this.writeState();
    return n;
  }

  /** -I / --dont-release-ipvs: the table stays, and so does the record of what alived made. */
  keep(): void {
    this.writeState();
  }

  /** Forgets what it owns without touching the kernel (lvs_flush_on_stop did the removing). */
  forget(): void {
    this.known.clear();
    this.writeState();
  }

  // -- the state file ---------------------------------------------------------

  /** Something to keep in the state file beside the services, read back by the next start after a crash. */
  setExtra(extra: Record<string, unknown>): void {
    this.extra = extra;
    this.writeState();
  }

  /** What an earlier run kept with setExtra(), read by begin(). */
  previousExtra: Record<string, unknown> = {};

  private readState(): Set<string> {
    const f = this.opts.stateFile;
    const ids = new Set<string>();
    if (!f) return ids;
    const r = readStateFile(f);
    if (r.missing) return ids;
    const state = r.text === undefined ? r.problem! : parseIpvsState(r.text);
    if (typeof state === 'string') {
      this.log.warn({ file: f }, `cannot use the IPVS state file ${f}: ${state}; leftovers of an earlier run are not recognised`);
      return ids;
    }
    this.previousExtra = state.extra;
    for (const k of state.services) ids.add(serviceId(k));
    return ids;
  }

  private writeState(): void {
    const f = this.opts.stateFile;
    if (!f) return;
    const json = JSON.stringify({ pid: process.pid, services: this.ownedServices(), extra: this.extra });
    if (json === this.lastStateJson) return;
    try {
      if (this.known.size === 0 && Object.keys(this.extra).length === 0) {
        fs.rmSync(f, { force: true });
      } else {
        fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
        writeFileAtomicSync(f, json);
      }
      this.lastStateJson = json;
    } catch (err) {
      this.log.warn({ file: f, err }, `cannot write the IPVS state file ${f}: after a crash, the next start will not recognise what this run made`);
    }
  }
}

/**
 * The IPVS state file as a reconciler wrote it, checked field by field: it
 * decides which kernel services are alived's leftovers (and get removed),
 * so nothing in it is trusted before that. A string says what is wrong.
 */
export function parseIpvsState(text: string): { services: ServiceKey[]; extra: Record<string, unknown> } | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'not a JSON object';
  const { services, extra } = data as { services?: unknown; extra?: unknown };
  if (!Array.isArray(services)) return 'services is not a list';
  const keys: ServiceKey[] = [];
  for (const [i, k] of services.entries()) {
    const o = k as Record<string, unknown> | null;
    const port = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535;
    if (typeof o !== 'object' || o === null || (o.family !== 4 && o.family !== 6)) return `services[${i}] is not a service`;
    if (o.fwmark !== undefined) {
      if (!Number.isInteger(o.fwmark) || (o.fwmark as number) < 0 || (o.fwmark as number) > 0xffffffff) return `services[${i}].fwmark is not a 32-bit mark`;
      keys.push({ family: o.family, fwmark: o.fwmark as number });
    } else {
      if (o.protocol !== 'tcp' && o.protocol !== 'udp' && o.protocol !== 'sctp') return `services[${i}].protocol is not tcp, udp or sctp`;
      if (typeof o.address !== 'string' || net.isIP(o.address) !== o.family) return `services[${i}].address is not an IPv${o.family} address`;
      if (!port(o.port)) return `services[${i}].port is not a port`;
      keys.push({ family: o.family, protocol: o.protocol, address: o.address, port: o.port as number });
    }
  }
  if (extra !== undefined && (typeof extra !== 'object' || extra === null || Array.isArray(extra))) return 'extra is not an object';
  const out: Record<string, unknown> = {};
  const t = (extra as Record<string, unknown> | undefined)?.timeouts as Record<string, unknown> | undefined;
  if (t !== undefined) {
    const secs = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0x7fffffff;
    if (typeof t !== 'object' || t === null || !secs(t.tcp) || !secs(t.tcpFin) || !secs(t.udp)) return 'extra.timeouts is not three timeouts in seconds';
    out.timeouts = { tcp: t.tcp, tcpFin: t.tcpFin, udp: t.udp };
  }
  return { services: keys, extra: out };
}
