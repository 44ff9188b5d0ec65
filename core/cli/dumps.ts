import { formatKeepalivedCheckData, formatKeepalivedData } from '../status/keepalived-data';
import { formatKeepalivedJson } from '../status/keepalived-json';
import type { GlobalDumpConfig, InstanceDumpConfig } from '../status/keepalived-format';
import { globalDumpConfig, instanceDumpConfigs } from '../status/dump-config';
import { STATUS_VERSION, type InstanceStatusDoc, type StatusDocument } from '../status/types';
import type { Daemon } from '../daemon/daemon';
import type { VirtualServerStatus } from '../check/status';
import type { VirtualServerStatusDoc } from '../status/types';
import { ALIVED_VERSION } from '../version';

/**
 * keepalived's signal dumps as alived writes them: which file each signal
 * writes and what goes in it. The contents come from the status document
 * and the config part the document does not carry (DumpInputs).
 */

/** What the dumps are made from. */
export interface DumpInputs {
  readonly doc: StatusDocument;
  /** the instances' config, by name (instanceDumpConfigs()) */
  readonly config: ReadonlyMap<string, InstanceDumpConfig>;
  /** the tracker blocks' and sync groups' config (globalDumpConfig()) */
  readonly globals?: GlobalDumpConfig;
}

export type DumpInputSource = () => Promise<DumpInputs>;

/** Where the dumps go, before their extension: `/tmp/alived`, `/tmp/alived_NAME` with --instance NAME, `/tmp/keepalived` run as keepalived. */
export function dumpBase(o: { readonly instance: string | undefined; readonly dumpNames: 'alived' | 'keepalived' }): string {
  return `/tmp/${o.dumpNames}${o.instance ? `_${o.instance}` : ''}`;
}

/** The files a signal writes, with their contents: SIGUSR1 `data` (and `_check.data` with virtual servers), the JSON signal `json`. */
export function dumpFiles(kind: 'data' | 'json', inputs: DumpInputs, base: string): { file: string; text: string }[] {
  // as keepalived: no VRRP instance, no JSON file
  if (kind === 'json') return inputs.doc.vrrp.instances.length ? [{ file: `${base}.json`, text: formatKeepalivedJson(inputs.doc, inputs.config) }] : [];
  const out = [{ file: `${base}.data`, text: formatKeepalivedData(inputs.doc, inputs.config, inputs.globals) }];
  // keepalived's checker process writes its own file (keepalived_check.data)
  if (inputs.doc.virtualServers.length) out.push({ file: `${base}_check.data`, text: formatKeepalivedCheckData(inputs.doc) });
  return out;
}

/** The dumps' inputs: a status document and the config part of the daemon's running instances. */
export function dumpInputsFor(doc: StatusDocument, daemon: Daemon): DumpInputs {
  return { doc, config: instanceDumpConfigs(daemon.model, daemon.vrrpInstanceSettings()), globals: globalDumpConfig(daemon.model) };
}

/**
 * The dumps' inputs from what the daemon reports today: its VRRP status and
 * settings, and its checks' status. Only the parts of the document the
 * dumps read are filled in (no causes, notifiers or times of the last
 * change). The status service (core/status/service.ts) replaces it:
 * `() => service.snapshot().then((doc) => dumpInputsFor(doc, daemon))`.
 */
export async function dumpInputsFromDaemon(daemon: Daemon, opts: { configFile: string; stateDir: string; instance: string | undefined }): Promise<DumpInputs> {
  const status = await daemon.vrrpStatus();
  const settings = daemon.vrrpInstanceSettings();
  const now = Date.now();
  const instances: InstanceStatusDoc[] = status.instances.map((i) => {
    const s = settings.find((x) => x.name === i.name);
    const c = i.counters;
    const master = i.state === 'MASTER';
    return {
      name: i.name,
      state: i.state,
      wantedState: s?.initialState ?? 'BACKUP',
      vrid: i.vrid,
      version: i.version,
      family: i.family === 6 ? 'inet6' : 'inet',
      interface: i.interface,
      basePriority: i.priority,
      effectivePriority: i.effectivePriority,
      advertIntervalMs: (s?.advertIntCs ?? 100) * 10,
      master: master
        ? i.sourceAddress
          ? { address: i.sourceAddress, priority: i.effectivePriority, self: true }
          : null
        : i.master
          ? { ...i.master, self: false }
          : null,
      syncGroup: i.syncGroup ?? null,
      since: null,
      cause: null,
      priorityCause: null,
      fault: i.fault ?? null,
      waiting: i.waiting ?? [],
      // a master holds its VIPs, a backup none
      vips: (s?.vips ?? []).map((a) => ({ address: `${a.address}/${a.prefix ?? (a.family === 4 ? 32 : 128)}`, dev: a.dev ?? s!.ifname, present: master })),
      trackers: (s?.tracks ?? []).map((t) => ({
        type: t.type,
        name: t.name,
        weight: t.weight,
        reverse: t.reverse,
        state: 'unknown' as const,
        value: null,
        lastResult: null,
        since: null,
        effect: 0,
      })),
      counters: {
        advert_rcvd: c.advertRcvd,
        advert_sent: c.advertSent,
        become_master: c.becomeMaster,
        release_master: c.releaseMaster,
        packet_len_err: c.packetLenErr,
        advert_interval_err: c.advertIntervalErr,
        ip_ttl_err: c.ipTtlErr,
        invalid_type_rcvd: c.invalidTypeRcvd,
        addr_list_err: c.addrListErr,
        invalid_authtype: c.invalidAuthType,
        authtype_mismatch: c.authTypeMismatch,
        auth_failure: c.authFailure,
        pri_zero_rcvd: c.priZeroRcvd,
        pri_zero_sent: c.priZeroSent,
      },
      extraCounters: { checksum_err: c.checksumErr, version_err: c.versionErr, vrid_err: c.vridErr, vip_restored: c.vipRestored, vip_lost: c.vipLost },
    };
  });
  const doc: StatusDocument = {
    version: STATUS_VERSION,
    generatedAt: now,
    daemon: {
      version: ALIVED_VERSION,
      pid: process.pid,
      configFile: opts.configFile,
      configHash: '',
      configFiles: [...daemon.files],
      startedAt: now,
      uptimeMs: 0,
      stateDir: opts.stateDir,
      instance: opts.instance ?? null,
      reloads: 0,
      reloadsRejected: 0,
      lastReload: null,
      vrrpProcess: null,
      eventLoopLag: { meanMs: 0, p99Ms: 0, maxMs: 0 },
    },
    vrrp: {
      running: status.instances.length > 0,
      instances,
      syncGroups: (status.groups ?? []).map((g) => ({ name: g.name, state: g.state, members: [...g.members] })),
      otherVrids: status.otherVrids,
    },
    virtualServers: (daemon.checkStatus()?.virtualServers ?? []).map(virtualServerDoc),
    notify: { outbox: null, published: 0, notifiers: [] },
  };
  return dumpInputsFor(doc, daemon);
}

/** A virtual server of the checks' status in the document's shape (`[10.0.0.1]:tcp:80` is `10.0.0.1:80 TCP` there). */
function virtualServerDoc(vs: VirtualServerStatus): VirtualServerStatusDoc {
  const svc = /^\[(.+)\]:(tcp|udp|sctp|none):(\d+)$/.exec(vs.name);
  const fwm = /^FWM (\d+)$/.exec(vs.name);
  const grp = /^\[(.+)\]:\d+$/.exec(vs.name);
  const name = svc ? `${svc[1]}:${svc[3]} ${svc[2]!.toUpperCase()}` : fwm ? `fwmark ${fwm[1]}` : grp ? `group ${grp[1]}` : vs.name;
  return {
    name,
    quorum: vs.quorum,
    hysteresis: vs.hysteresis,
    quorumUp: vs.quorumUp,
    aliveWeight: vs.aliveWeight,
    sorryServer: vs.sorryServer ? { name: vs.sorryServer.name, inUse: vs.sorryServer.active } : null,
    realServers: vs.realServers.map((rs) => ({
      name: rs.name,
      address: rs.address,
      port: rs.port,
      up: rs.alive,
      weight: rs.weight,
      configuredWeight: rs.configuredWeight,
      inhibit: rs.inhibit,
      since: null,
      cause: null,
      checkers: rs.checkers.map((c) => ({
        keyword: c.keyword,
        plugin: c.plugin,
        target: `${c.target.address}:${c.target.port}`,
        up: c.up,
        last: c.last ? { ok: c.last.ok, message: c.last.message, latencyMs: c.last.durationMs, at: c.last.time } : null,
        checks: c.checks,
        failures: c.failures,
        // the checks' status does not count failures in a row: a down checker has at least one
        consecutiveFailures: c.up ? 0 : Math.min(1, c.failures),
        error: c.error ?? null,
      })),
    })),
  };
}
