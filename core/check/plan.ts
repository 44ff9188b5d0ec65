import type { ConfigModel, RealServerConfig, VirtualServerConfig } from '../config/model';
import type { LvsMethodName, VirtualServerKey } from '../config/keywords/lvs';
import type { ScriptLine } from '../config/values';
import type { Endpoint } from '../plugin/events';
import type { Registered } from '../plugin/host';
import type { CheckerDefinition } from '../plugin/types';
import { formatService, formatVirtualServer, type ServiceProtocol, type VirtualServerName } from './format';

/**
 * From the validated model to what the scheduler runs: every virtual
 * server, its real servers and their checkers, with every inherited value
 * resolved as keepalived's validate_check_config() resolves it
 * (check_data.c): checker, else real_server, else virtual_server, else the
 * checker's own default. Pure: no timer, no socket.
 */

/** keepalived's checker defaults when no checker definition says otherwise (queue_checker()) */
export const DEFAULT_RETRY = 1;
export const DEFAULT_DELAY_BEFORE_RETRY_S = 1;
/** IPVS_WEIGHT_LIMIT */
export const WEIGHT_LIMIT = 2147483647;

export interface CheckerPlan {
  readonly keyword: string;
  /** the plugin that registered the keyword, named in every log line about a misbehaving check */
  readonly plugin: string;
  readonly def: CheckerDefinition<unknown>;
  readonly config: unknown;
  readonly target: Endpoint;
  readonly delayLoopMs: number;
  /** when the check's signal aborts with a TimeoutError */
  readonly timeoutMs: number;
  readonly retry: number;
  readonly delayBeforeRetryMs: number;
  /** the first check comes within a random delay up to this */
  readonly warmupMs: number;
  readonly alpha: boolean;
  readonly logAllFailures: boolean;
}

export interface ServerPlan {
  /** `10.0.0.2|80`: a real server is its address and port (rs_iseq()) */
  readonly id: string;
  /** `[10.0.0.2]:tcp:80` */
  readonly name: string;
  readonly endpoint: Endpoint;
  readonly lvsMethod: LvsMethodName;
  /** the configured weight (keepalived's iweight) */
  readonly weight: number;
  readonly inhibit: boolean;
}

export interface RealServerPlan extends ServerPlan {
  readonly alpha: boolean;
  readonly notifyUp: ScriptLine | undefined;
  readonly notifyDown: ScriptLine | undefined;
  readonly smtpAlert: boolean;
  readonly checkers: readonly CheckerPlan[];
  /** checker blocks whose plugin registers no create(): accepted, not run */
  readonly notRun: ReadonlyArray<{ readonly keyword: string; readonly plugin: string }>;
}

export interface VirtualServerPlan {
  /** what a virtual server is across a reload (vs_iseq()) */
  readonly id: string;
  /** `[10.0.0.1]:tcp:80`, `FWM 5`, `[group]:0` */
  readonly name: string;
  readonly key: VirtualServerKey;
  readonly protocol: ServiceProtocol | undefined;
  /** lvs_sched (keepalived's default wlc) */
  readonly scheduler: string;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly quorumUp: ScriptLine | undefined;
  readonly quorumDown: ScriptLine | undefined;
  readonly omega: boolean;
  readonly smtpAlert: boolean;
  readonly haSuspend: boolean;
  readonly sorryServer: ServerPlan | undefined;
  readonly realServers: readonly RealServerPlan[];
}

export interface CheckPlan {
  readonly virtualServers: readonly VirtualServerPlan[];
  /** global_defs' checker_log_all_failures */
  readonly logAllFailures: boolean;
  /** global_defs' no_checker_emails: alerts only when a real server is added or removed */
  readonly noCheckerEmails: boolean;
  /** global_defs' rs_init_notifies: notify the state of real servers found up at start */
  readonly rsInitNotifies: boolean;
}

/** one empty list shared by the 10,000 real servers that have nothing to put in it */
const NONE: readonly never[] = Object.freeze([]);

/** the block keys the scheduler reads; a checker that keeps them matches across a reload whatever they say */
const SCHEDULING_KEYS = new Set(['retry', 'delayBeforeRetry', 'warmup', 'delayLoop', 'alpha', 'logAllFailures']);

/**
 * What a checker of a real server is across a reload: same keyword, same
 * target and same check (its block without positions and scheduling
 * keywords), as keepalived's checker compare functions decide. Computed at
 * reload only: 10,000 such strings need not live in the running plan.
 */
export function checkerMatchKey(cp: CheckerPlan): string {
  const check = JSON.stringify(cp.config, (key, value) => (key === 'pos' || SCHEDULING_KEYS.has(key) ? undefined : value));
  return `${cp.keyword}|${cp.target.address}|${cp.target.port}|${check}`;
}

interface CheckerBlock {
  connectIp?: { address: string };
  connectPort?: number;
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  warmup?: number;
  delayLoop?: number;
  alpha?: boolean;
  logAllFailures?: boolean;
}

type Global = Partial<{
  checkerLogAllFailures: boolean;
  noCheckerEmails: boolean;
  rsInitNotifies: boolean;
  smtpAlert: boolean;
  smtpAlertChecker: boolean;
}>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const ms = (seconds: number): number => Math.round(seconds * 1000);
/** timers have millisecond resolution: a sub-millisecond delay_loop is 1 ms, never a busy loop */
const atLeast1ms = (seconds: number): number => Math.max(1, ms(seconds));

function protocolOf(vs: VirtualServerConfig): ServiceProtocol | undefined {
  const p = (vs as { protocol?: string }).protocol;
  return p ? (p.toLowerCase() as ServiceProtocol) : undefined;
}

function vsIdentity(key: VirtualServerKey, protocol: ServiceProtocol | undefined): string {
  switch (key.kind) {
    case 'address':
      return `${protocol ?? 'none'}|${key.address}|${key.port}`;
    case 'fwmark':
      return `fwmark|${key.fwmark}`;
    case 'group':
      return `group|${key.group}`;
  }
}

/**
 * The port a real (or sorry) server is reached on, as check_data.c corrects
 * it: NAT keeps its own (none: the virtual server's); DR and TUN use the
 * virtual server's port, none for a fwmark service.
 */
function serverPort(key: VirtualServerKey, method: LvsMethodName, port: number): number {
  if (key.kind === 'fwmark') return method === 'NAT' ? port : 0;
  if (key.kind === 'address') return method === 'NAT' ? port || key.port : key.port;
  return port;
}

export function planChecks(model: ConfigModel, checkers: ReadonlyMap<string, Registered<CheckerDefinition<any>>>): CheckPlan {
  const g = ((model as { globalDefs?: unknown }).globalDefs ?? {}) as Global;
  const logAllFailuresGlobal = g.checkerLogAllFailures ?? false;
  const groupSeq = new Map<string, number>();
  const seenVs = new Set<string>();
  const virtualServers: VirtualServerPlan[] = [];

  for (const vs of (model as { virtualServer?: VirtualServerConfig[] }).virtualServer ?? []) {
    const key = vs as unknown as VirtualServerKey;
    const protocol = key.kind === 'fwmark' ? undefined : protocolOf(vs);
    const id = vsIdentity(key, protocol);
    // keepalived refuses a second virtual server with the same identity at parse time; the model keeps both, the first one runs
    if (seenVs.has(id)) continue;
    seenVs.add(id);
    let nameKey: VirtualServerName;
    if (key.kind === 'group') {
      const seq = groupSeq.get(key.group) ?? 0;
      groupSeq.set(key.group, seq + 1);
      nameKey = { kind: 'group', group: key.group, seq };
    } else if (key.kind === 'fwmark') nameKey = { kind: 'fwmark', fwmark: key.fwmark };
    else nameKey = { kind: 'address', address: key.address, port: key.port, protocol };
    const vsMethod: LvsMethodName = vs.lvsMethod?.method ?? 'NAT';

    const realServers: RealServerPlan[] = [];
    const seenRs = new Set<string>();
    for (const rs of vs.realServer) {
      const plan = planRealServer(vs, rs, key, protocol, vsMethod, g, logAllFailuresGlobal, checkers);
      // a duplicate real server: keepalived removes the second (the config already warned)
      if (seenRs.has(plan.id)) continue;
      seenRs.add(plan.id);
      realServers.push(plan);
    }

    let sorryServer: ServerPlan | undefined;
    if (vs.sorryServer) {
      const method = vs.sorryServerLvsMethod?.method ?? vsMethod;
      const port = serverPort(key, method, vs.sorryServer.port);
      const sid = `${vs.sorryServer.address}|${port}`;
      // a sorry server that is also a real server takes the real server's inhibit_on_failure (check_data.c)
      const twin = realServers.find((r) => r.id === sid);
      sorryServer = {
        id: sid,
        name: formatService(vs.sorryServer.address, port, protocol),
        endpoint: { address: vs.sorryServer.address, port, ...(protocol ? { protocol } : {}) },
        lvsMethod: method,
        // alloc_ssvr(): a sorry server has weight 1
        weight: 1,
        inhibit: twin ? twin.inhibit : vs.sorryServerInhibit,
      };
    }

    virtualServers.push({
      id,
      name: formatVirtualServer(nameKey),
      key,
      protocol,
      scheduler: vs.lvsSched ?? 'wlc',
      quorum: vs.quorum,
      hysteresis: vs.hysteresis,
      quorumUp: vs.quorumUp,
      quorumDown: vs.quorumDown,
      omega: vs.omega,
      smtpAlert: vs.smtpAlert ?? g.smtpAlertChecker ?? g.smtpAlert ?? false,
      haSuspend: vs.haSuspend,
      sorryServer,
      realServers,
    });
  }

  return {
    virtualServers,
    logAllFailures: logAllFailuresGlobal,
    noCheckerEmails: g.noCheckerEmails ?? false,
    rsInitNotifies: g.rsInitNotifies ?? false,
  };
}

function planRealServer(
  vs: VirtualServerConfig,
  rs: RealServerConfig,
  key: VirtualServerKey,
  protocol: ServiceProtocol | undefined,
  vsMethod: LvsMethodName,
  g: Global,
  logAllFailuresGlobal: boolean,
  checkers: ReadonlyMap<string, Registered<CheckerDefinition<any>>>,
): RealServerPlan {
  const method = rs.lvsMethod?.method ?? vsMethod;
  const port = serverPort(key, method, rs.port);
  const id = `${rs.address}|${port}`;
  const endpoint: Endpoint = { address: rs.address, port, ...(protocol ? { protocol } : {}) };
  const vsTimeouts = vs as unknown as CheckerBlock;
  const rsTimeouts = rs as unknown as CheckerBlock;
  const plans: CheckerPlan[] = [];
  let notRun: Array<{ keyword: string; plugin: string }> | undefined;
  for (const ext of rs.extensions) {
    const reg = checkers.get(ext.keyword);
    if (!reg) continue;
    if (!reg.def.create) {
      (notRun ??= []).push({ keyword: ext.keyword, plugin: reg.owner });
      continue;
    }
    const c = (ext.value ?? {}) as CheckerBlock;
    const def = reg.def as CheckerDefinition<unknown>;
    // check_data.c validate_check_config(): checker, else real server (which took the virtual server's), else the checker's default
    const delayLoop = num(c.delayLoop) ?? num(rsTimeouts.delayLoop) ?? num(vsTimeouts.delayLoop) ?? 60;
    const connectTimeout = num(c.connectTimeout) ?? num(rsTimeouts.connectTimeout) ?? num(vsTimeouts.connectTimeout) ?? 5;
    const retry = num(c.retry) ?? num(rsTimeouts.retry) ?? num(vsTimeouts.retry) ?? def.defaults?.retry ?? DEFAULT_RETRY;
    const warmup = num(c.warmup) ?? num(rsTimeouts.warmup) ?? num(vsTimeouts.warmup) ?? delayLoop;
    const defaultDbr = def.defaults?.delayBeforeRetry ?? DEFAULT_DELAY_BEFORE_RETRY_S;
    const delayBeforeRetry =
      num(c.delayBeforeRetry) ?? num(rsTimeouts.delayBeforeRetry) ?? num(vsTimeouts.delayBeforeRetry) ?? (defaultDbr === 'delay_loop' ? delayLoop : defaultDbr);
    const hasConnectTimeout = 'connect_timeout' in (def.schema?.fields ?? {});
    let timeout: number | undefined;
    try {
      timeout = num(def.timeout?.(ext.value));
    } catch {
      // a broken timeout() is the plugin's bug; the common rule below still bounds the check
      timeout = undefined;
    }
    timeout ??= hasConnectTimeout ? connectTimeout : (num(vsTimeouts.delayLoop) ?? delayLoop);
    // check_api.c queue_checker(): a checker connects to the real server as written,
    // before validate_check_config() moves a DR/TUN server to the service's port
    const target: Endpoint = {
      address: c.connectIp?.address ?? rs.address,
      port: num(c.connectPort) ?? (rs.port || port),
      ...(protocol ? { protocol } : {}),
    };
    plans.push({
      keyword: ext.keyword,
      plugin: reg.owner,
      def,
      config: ext.value,
      target,
      delayLoopMs: atLeast1ms(delayLoop),
      timeoutMs: atLeast1ms(timeout),
      retry: Math.max(0, Math.trunc(retry)),
      delayBeforeRetryMs: ms(delayBeforeRetry),
      warmupMs: ms(warmup),
      alpha: bool(c.alpha) ?? rs.alpha ?? vs.alpha,
      logAllFailures: bool(c.logAllFailures) ?? logAllFailuresGlobal,
    });
  }
  return {
    id,
    name: formatService(rs.address, port, protocol),
    endpoint,
    lvsMethod: method,
    weight: Math.min(rs.weight ?? vs.weight, WEIGHT_LIMIT),
    inhibit: rs.inhibitOnFailure ?? vs.inhibitOnFailure,
    alpha: rs.alpha ?? vs.alpha,
    notifyUp: rs.notifyUp,
    notifyDown: rs.notifyDown,
    // the one smtp_alert whose default is on, for backwards compatibility (check_data.c)
    smtpAlert: rs.smtpAlert ?? g.smtpAlertChecker ?? g.smtpAlert ?? true,
    checkers: plans,
    notRun: notRun ?? NONE,
  };
}
