import * as net from 'node:net';
import type { Pos } from '../diagnostics';
import type { Token } from '../lexer';
import { block, BlockSchema, sub, value, word, type BlockBase, type CheckCtx } from '../schema';
import type { Stmt } from '../tree';
import { bytesToIp, ipToBytes } from '../../net/address';
import {
  bareFlag,
  custom,
  duration,
  int,
  INVALID,
  ip,
  name,
  nearest,
  oneOf,
  optBool,
  port,
  script,
  str,
  uint,
  type ArgsParser,
  type WordParser,
  type Family,
  type Invalid,
  clip,
} from '../values';
import { namedHeader } from './common';

/**
 * The LVS part of keepalived.conf: virtual_server_group, virtual_server,
 * real_server, as keepalived 2.2 declares them (check_parser.c, check_data.c).
 * Health checkers (TCP_CHECK, HTTP_GET, ...) are plugins registered into the
 * real_server slot.
 *
 * Where keepalived corrects a setting while reading it (no protocol: UDP; no
 * scheduler: wlc; hysteresis >= quorum ...), the check hooks warn as keepalived
 * does and put keepalived's effective value into the model.
 */

// ---------------------------------------------------------------------------
// values

/** keepalived's lvs_schedulers[], in its order */
export const LVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'sh', 'mh', 'dh', 'fo', 'ovf', 'lblcr', 'sed', 'nq', 'twos'] as const;
export type LvsScheduler = (typeof LVS_SCHEDULERS)[number];

/** IPVS_WEIGHT_LIMIT (INT32_MAX) */
const WEIGHT_MAX = 2147483647;
/** LVS_MAX_TIMEOUT: 31 days */
const LVS_MAX_TIMEOUT = 86400 * 31;
/** IPVS_SVC_PERSISTENT_TIMEOUT */
export const DEFAULT_PERSISTENCE_TIMEOUT = 360;
/** read_timer(..., 1, UINT_MAX) for connect_timeout: UINT_MAX microseconds */
const CONNECT_TIMEOUT_MAX = 4294.967295;

export interface ServerAddress {
  readonly family: Family;
  readonly address: string;
  /** 0 when none was written */
  readonly port: number;
}

function serverAddress(what: string): ArgsParser<ServerAddress> {
  const describe = '<IPADDR> [<PORT>]';
  return custom(describe, (words, at, keyword, ctx) => {
    if (words.length === 0) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs ${what}: ${keyword} ${describe}`);
      return INVALID;
    }
    if (words.length > 2) {
      ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[2]!.pos, `'${keyword}' takes ${describe}; unexpected '${words[2]!.text}'`);
      return INVALID;
    }
    const a = ip().parse(words[0]!, ctx);
    const p = words[1] ? port.parse(words[1], ctx) : 0;
    return a === INVALID || p === INVALID ? INVALID : { family: a.family, address: a.address, port: p };
  });
}

export type LvsMethodName = 'NAT' | 'DR' | 'TUN';
export type TunnelType = 'ipip' | 'gue' | 'gre';
export type TunnelChecksum = 'nocsum' | 'csum' | 'remcsum';

export interface LvsMethod {
  readonly method: LvsMethodName;
  /** TUN only; ipip unless written */
  readonly tunnelType?: TunnelType;
  /** the GUE port; required with gue, refused otherwise */
  readonly tunnelPort?: number;
  readonly checksum?: TunnelChecksum;
}

const LVS_METHOD_DESCRIBE = 'NAT|DR|TUN [type ipip|gue|gre] [port <PORT>] [nocsum|csum|remcsum]';

/** `lvs_method NAT|DR|TUN [type {ipip|gue port NUM|gre} [nocsum|csum|remcsum]]`, as svr_forwarding_handler() reads it. */
export const lvsMethod: ArgsParser<LvsMethod> = custom(LVS_METHOD_DESCRIBE, (words, at, keyword, ctx) => {
  if (words.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a forwarding method: ${keyword} ${LVS_METHOD_DESCRIBE}`);
    return INVALID;
  }
  const method = oneOf(['NAT', 'DR', 'TUN'] as const).parse(words[0]!, ctx);
  if (method === INVALID) return INVALID;
  let tunnelType: TunnelType | undefined;
  let tunnelPort: number | undefined;
  let checksum: TunnelChecksum | undefined;
  let typeTok: Token | undefined;
  let portTok: Token | undefined;
  let csumTok: Token | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w.text === 'type' || w.text === 'port') {
      const v = words[i + 1];
      if (!v) {
        ctx.diags.error(
          'ALIVED_CONFIG_MISSING_VALUE',
          w.pos,
          `'${w.text}' in '${keyword}' needs a value: ${w.text === 'type' ? 'type ipip|gue|gre' : 'port <PORT 1..65535>'}`,
        );
        return INVALID;
      }
      if (w.text === 'type') {
        const t = oneOf(['ipip', 'gue', 'gre'] as const).parse(v, ctx);
        if (t === INVALID) return INVALID;
        tunnelType = t;
        typeTok = w;
      } else {
        const p = int({ min: 1, max: 65535 }).parse(v, ctx);
        if (p === INVALID) return INVALID;
        tunnelPort = p;
        portTok = w;
      }
      i++;
      continue;
    }
    if (w.text === 'nocsum' || w.text === 'csum' || w.text === 'remcsum') {
      checksum = w.text;
      csumTok = w;
      continue;
    }
    const hint = nearest(w.text, ['type', 'port', 'nocsum', 'csum', 'remcsum']);
    ctx.diags.error(
      'ALIVED_CONFIG_UNKNOWN_KEYWORD',
      w.pos,
      `unknown tunnel option '${w.text}' for '${keyword}'${hint ? ` (did you mean '${hint}'?)` : ''}; expected ${LVS_METHOD_DESCRIBE}`,
    );
    return INVALID;
  }
  const first = typeTok ?? portTok ?? csumTok;
  if (method !== 'TUN') {
    if (first) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', first.pos, `tunnel options apply to lvs_method TUN only; ignored with ${method}`);
    }
    return { method };
  }
  const type = tunnelType ?? 'ipip';
  if ((type === 'gue') !== (tunnelPort !== undefined)) {
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      (type === 'gue' ? typeTok : portTok)!.pos,
      type === 'gue' ? "a gue tunnel needs 'port <PORT>'" : `'port' applies to gue tunnels only, not ${type}`,
    );
    return INVALID;
  }
  if (type === 'ipip' && checksum !== undefined && checksum !== 'nocsum') {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', csumTok!.pos, `ipip tunnels do not support the '${checksum}' checksum option`);
    return INVALID;
  }
  if (type === 'gre' && checksum === 'remcsum') {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', csumTok!.pos, "gre tunnels do not support the 'remcsum' checksum option");
    return INVALID;
  }
  return {
    method,
    tunnelType: type,
    ...(tunnelPort !== undefined ? { tunnelPort } : {}),
    ...(checksum !== undefined ? { checksum } : {}),
  };
});

/** `persistence_timeout [<INTEGER>]`: alone it means 360 seconds. */
const persistenceTimeout: ArgsParser<number> = custom(`[<SECONDS 1..${LVS_MAX_TIMEOUT}>]`, (words, _at, keyword, ctx) => {
  if (words.length === 0) return DEFAULT_PERSISTENCE_TIMEOUT;
  if (words.length > 1) {
    ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[1]!.pos, `'${keyword}' takes [<SECONDS 1..${LVS_MAX_TIMEOUT}>]; unexpected '${words[1]!.text}'`);
    return INVALID;
  }
  if (words[0]!.text === '0') {
    // keepalived refuses the value and keeps what it had: no persistence (checkVirtualServer drops the 0)
    ctx.diags.compat(
      'ALIVED_CONFIG_OUT_OF_RANGE',
      words[0]!.pos,
      `persistence_timeout 0 is out of range (1..${LVS_MAX_TIMEOUT}); as keepalived does, the line is ignored and the service is not persistent`,
    );
    return 0;
  }
  return int({ min: 1, max: LVS_MAX_TIMEOUT }).parse(words[0]!, ctx);
});

/** `quorum <1..>`: keepalived takes 0 (or any bad number) as 1, with a line in its log. */
const quorum: WordParser<number> = {
  describe: '<1..4294967295>',
  parse(word, ctx) {
    if (word.text === '0') {
      ctx.diags.compat('ALIVED_CONFIG_OUT_OF_RANGE', word.pos, `quorum 0 is out of range (1..4294967295); the quorum is 1, as keepalived sets it`);
      return 1;
    }
    return int({ min: 1, max: 4294967295 }).parse(word, ctx);
  },
};

export type PersistenceGranularity =
  { readonly family: 4; readonly netmask: string; readonly pos: Pos } | { readonly family: 6; readonly prefix: number; readonly pos: Pos };

/**
 * `persistence_granularity <NETMASK>`: an IPv4 netmask, or an IPv6 prefix
 * length 1..128. Which one depends on the virtual server's family; the
 * virtual_server check hook verifies it.
 */
const persistenceGranularity: ArgsParser<PersistenceGranularity> = custom('<IPv4 NETMASK>|<IPv6 PREFIX 1..128>', (words, at, keyword, ctx) => {
  if (words.length !== 1) {
    if (words.length === 0)
      ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a netmask (IPv4, e.g. 255.255.255.0) or a prefix length (IPv6, 1..128)`);
    else ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[1]!.pos, `'${keyword}' takes one netmask; unexpected '${words[1]!.text}'`);
    return INVALID;
  }
  const w = words[0]!;
  if (w.text.includes('.')) {
    if (!net.isIPv4(w.text)) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${w.text}' is not an IPv4 netmask (e.g. 255.255.255.0)`);
      return INVALID;
    }
    return { family: 4, netmask: w.text, pos: w.pos };
  }
  const p = int({ min: 1, max: 128 }).parse(w, ctx);
  return p === INVALID ? INVALID : { family: 6, prefix: p, pos: w.pos };
});

// ---------------------------------------------------------------------------
// real_server

/** `real_server <IP> [<PORT>] { ... }`; checkers (TCP_CHECK, ...) come from plugins through the real_server slot. */
export const realServerSchema = block(
  {
    weight: word(int({ min: 0, max: WEIGHT_MAX })).doc("relative weight; default the virtual_server's weight (1)"),
    lvs_method: value(lvsMethod).doc("forwarding method; default the virtual_server's"),
    uthreshold: word(uint()).doc('maximum number of connections to the server'),
    lthreshold: word(uint()).doc('minimum number of connections to the server'),
    inhibit_on_failure: value(optBool).doc("on failure set the weight to 0 instead of removing the server; default the virtual_server's"),
    notify_up: value(script).feature('checker').doc('script run when the checkers consider the server up'),
    notify_down: value(script).feature('checker').doc('script run when the checkers consider the server down'),
    alpha: value(optBool).feature('checker').doc("start down until the first successful check; default the virtual_server's"),
    retry: word(int({ min: 1, max: 4294967295 }))
      .feature('checker')
      .doc('default retry of its checkers'),
    delay_before_retry: word(duration()).feature('checker').doc('default delay_before_retry of its checkers'),
    warmup: word(duration()).feature('checker').doc('default warmup of its checkers'),
    connect_timeout: word(duration({ min: 0.000001, max: CONNECT_TIMEOUT_MAX }))
      .feature('checker')
      .doc('default connect_timeout of its checkers'),
    delay_loop: word(duration({ min: 0.000001 }))
      .feature('checker')
      .doc('default delay_loop of its checkers'),
    smtp_alert: value(optBool).feature('notify-mail').doc('mail on state changes (default yes, unless global smtp_alert/smtp_alert_checker is set)'),
    virtualhost: word(str()).feature('checker').doc('default Host header of its HTTP_GET/SSL_GET checkers'),
    snmp_name: word(str()).feature('snmp').doc('name reported over SNMP'),
  },
  {
    header: serverAddress('an address'),
    slot: 'real_server',
    feature: 'ipvs',
    blockOptional: true,
  },
);

// ---------------------------------------------------------------------------
// virtual_server

export type VirtualServerKey =
  | { readonly kind: 'address'; readonly family: Family; readonly address: string; readonly port: number }
  | { readonly kind: 'fwmark'; readonly fwmark: number }
  | { readonly kind: 'group'; readonly group: string };

const VS_HEADER = '<IPADDR> [<PORT>] | fwmark <INTEGER> | group <NAME>';

const virtualServerHeader: ArgsParser<VirtualServerKey> = custom(VS_HEADER, (words, at, keyword, ctx) => {
  if (words.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs ${VS_HEADER}`);
    return INVALID;
  }
  const first = words[0]!;
  if (!first.quoted && (first.text === 'fwmark' || first.text === 'group')) {
    if (words.length !== 2) {
      if (words.length < 2)
        ctx.diags.error(
          'ALIVED_CONFIG_MISSING_VALUE',
          first.pos,
          `'${keyword} ${first.text}' needs ${first.text === 'fwmark' ? 'a mark 1..4294967295' : 'a virtual_server_group name'}`,
        );
      else ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[2]!.pos, `'${keyword} ${first.text}' takes one value; unexpected '${words[2]!.text}'`);
      return INVALID;
    }
    if (first.text === 'fwmark') {
      const m = int({ min: 1, max: 4294967295 }).parse(words[1]!, ctx);
      return m === INVALID ? INVALID : { kind: 'fwmark', fwmark: m };
    }
    const g = name.parse(words[1]!, ctx);
    if (g === INVALID) return INVALID;
    ctx.refer('virtual_server_group', g, words[1]!.pos, `virtual_server group ${g}`);
    return { kind: 'group', group: g };
  }
  if (words.length > 2) {
    ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[2]!.pos, `'${keyword}' takes ${VS_HEADER}; unexpected '${words[2]!.text}'`);
    return INVALID;
  }
  const a = ip().parse(first, ctx);
  const p = words[1] ? port.parse(words[1], ctx) : 0;
  return a === INVALID || p === INVALID ? INVALID : { kind: 'address', family: a.family, address: a.address, port: p };
});

const checkerDefault = (what: string) => `default ${what} of the checkers of its real servers`;

export const virtualServerSchema = block(
  {
    ip_family: word(oneOf(['inet', 'inet6'] as const)).doc('address family of a fwmark service whose real servers are all tunnelled'),
    retry: word(int({ min: 1, max: 4294967295 }))
      .feature('checker')
      .doc(checkerDefault('retry')),
    delay_before_retry: word(duration()).feature('checker').doc(checkerDefault('delay_before_retry')),
    warmup: word(duration()).feature('checker').doc(checkerDefault('warmup')),
    connect_timeout: word(duration({ min: 0.000001, max: CONNECT_TIMEOUT_MAX }))
      .default(5)
      .feature('checker')
      .doc(checkerDefault('connect_timeout') + ' (5 seconds)'),
    delay_loop: word(duration({ min: 0.000001 }))
      .default(60)
      .feature('checker')
      .doc(checkerDefault('delay_loop') + ' (60 seconds)'),
    inhibit_on_failure: value(bareFlag).default(false).doc("on failure set real servers' weight to 0 instead of removing them"),
    lvs_sched: word(oneOf(LVS_SCHEDULERS)).alias('lb_algo', { deprecated: true }).doc('IPVS scheduler (default wlc)'),
    hashed: value(bareFlag).deprecated('it has no effect in keepalived 2.2; accepted and ignored'),
    ops: value(bareFlag).default(false).doc('one-packet scheduling (UDP only; ipvsadm -o)'),
    'flag-1': value(bareFlag).default(false).doc('scheduler flag-1 (ipvsadm -b flag-1)'),
    'flag-2': value(bareFlag).default(false).doc('scheduler flag-2 (ipvsadm -b flag-2)'),
    'flag-3': value(bareFlag).default(false).doc('scheduler flag-3 (ipvsadm -b flag-3)'),
    'sh-port': value(bareFlag).default(false).doc('sh scheduler: hash the port too'),
    'sh-fallback': value(bareFlag).default(false).doc('sh scheduler: fall back to another server when the chosen one is unavailable'),
    'mh-port': value(bareFlag).default(false).doc('mh scheduler: hash the port too'),
    'mh-fallback': value(bareFlag).default(false).doc('mh scheduler: fall back to another server when the chosen one is unavailable'),
    lvs_method: value(lvsMethod).alias('lb_kind', { deprecated: true }).doc('forwarding method (default NAT)'),
    persistence_engine: word(str({ maxLength: 16 })).doc('IPVS persistence engine (sip)'),
    persistence_timeout: value(persistenceTimeout).doc('persistence timeout in seconds; alone: 360'),
    persistence_granularity: value(persistenceGranularity).doc('persistence netmask (IPv4) or prefix length (IPv6)'),
    protocol: word(oneOf(['TCP', 'UDP', 'SCTP'] as const, { caseInsensitive: true })).doc('L4 protocol; keepalived defaults to UDP when none is set'),
    ha_suspend: value(bareFlag).default(false).feature('checker').doc('suspend the checkers while the virtual address is not configured'),
    smtp_alert: value(optBool).feature('notify-mail').doc('mail on quorum changes (default no, unless global smtp_alert/smtp_alert_checker is set)'),
    virtualhost: word(str()).feature('checker').doc('default Host header of HTTP_GET/SSL_GET checkers'),
    snmp_name: word(str()).feature('snmp').doc('name reported over SNMP'),
    alpha: value(bareFlag).default(false).feature('checker').doc('real servers start down until their first successful check'),
    omega: value(bareFlag).default(false).feature('checker').doc('run quorum_down and notify_down when the daemon stops'),
    quorum_up: value(script).feature('checker').doc('script run when the quorum is gained'),
    quorum_down: value(script).feature('checker').doc('script run when the quorum is lost'),
    quorum: word(quorum).default(1).doc('minimum total weight of live real servers'),
    hysteresis: word(uint()).default(0).doc('weight tolerated around the quorum before it changes'),
    weight: word(int({ min: 1, max: WEIGHT_MAX }))
      .default(1)
      .doc('default weight of its real servers'),
    sorry_server: value(serverAddress('an address')).doc('server put in when the quorum is lost'),
    sorry_server_inhibit: value(bareFlag).default(false).doc('inhibit_on_failure for the sorry server'),
    sorry_server_lvs_method: value(lvsMethod).doc("forwarding method of the sorry server; default the virtual server's"),
    real_server: sub(realServerSchema).repeatable(),
  },
  {
    header: virtualServerHeader,
    slot: 'virtual_server',
    feature: 'ipvs',
    check: (v: unknown, ctx: CheckCtx, stmt: Stmt): void => checkVirtualServer(v as VirtualServer, ctx, stmt),
  },
);

type RealServer = Exclude<ReturnType<typeof realServerSchema.parseBlock>, Invalid>;
type VirtualServer = ReturnType<typeof virtualServerSchema.parseBlock> extends infer T ? Exclude<T, Invalid> : never;

/** where the first statement named `name` stands in a block */
function childPos(stmt: Stmt, name: string): Pos | undefined {
  return stmt.block?.find((c) => !c.name.quoted && c.name.text === name)?.name.pos;
}

function before(a: Pos, b: Pos): boolean {
  return a.file === b.file ? a.line < b.line || (a.line === b.line && a.col < b.col) : false;
}

/** a word echoed in a message, shortened when it is very long */

const fam = (f: Family): string => (f === 4 ? 'IPv4' : 'IPv6');

/** validate_check_config() and the level-end handlers of keepalived, for one virtual server */
/** what each step of checkVirtualServer reads: the block, its key, and the model it corrects */
interface VsCheck {
  readonly vs: VirtualServer;
  /** the same object, writable: where keepalived changes a value, the model holds keepalived's value */
  readonly m: { -readonly [K in keyof VirtualServer]: VirtualServer[K] };
  readonly ctx: CheckCtx;
  readonly stmt: Stmt;
  readonly key: VirtualServerKey;
  readonly isAddress: boolean;
  readonly isFwmark: boolean;
  readonly at: Pos;
  /** "10.0.0.1 80", "fwmark 3", "group web" */
  readonly describe: string;
  readonly ssPos: Pos | undefined;
  /** the service's address family, as far as it is known so far */
  af: Family | undefined;
  /** whether a real or sorry server takes the virtual server's lvs_method */
  inheritsMethod: boolean;
}

function checkVirtualServer(vs: VirtualServer, ctx: CheckCtx, stmt: Stmt): void {
  const m = vs as VsCheck['m'];
  if (m.persistenceTimeout === 0) delete m.persistenceTimeout;
  const key = vs as unknown as VirtualServerKey;
  const isAddress = key.kind === 'address';
  const isFwmark = key.kind === 'fwmark';
  const describe = isAddress ? `${key.address}${key.port ? ` ${key.port}` : ''}` : isFwmark ? `fwmark ${key.fwmark}` : `group ${key.group}`;
  const c: VsCheck = {
    vs,
    m,
    ctx,
    stmt,
    key,
    isAddress,
    isFwmark,
    at: stmt.name.pos,
    describe,
    ssPos: childPos(stmt, 'sorry_server'),
    af: isAddress ? key.family : undefined,
    inheritsMethod: false,
  };
  checkSorryServerOrder(c);
  if (vs.realServer.length === 0) {
    ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', c.at, `virtual_server ${describe} has no real_server; keepalived ignores it`);
  }
  checkScheduler(c);
  checkProtocol(c);
  checkIpFamily(c);
  const weightSum = checkRealServers(c);
  checkSorryServer(c);
  if (!vs.lvsMethod && c.inheritsMethod) {
    ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', c.at, `virtual_server ${describe} sets no lvs_method; keepalived uses NAT`);
    m.lvsMethod = { method: 'NAT' };
  }
  checkPersistence(c);
  checkQuorum(c, weightSum);
}

/** sorry_server_inhibit / sorry_server_lvs_method act only after sorry_server */
function checkSorryServerOrder({ stmt, ctx, m, ssPos }: VsCheck): void {
  for (const kw of ['sorry_server_inhibit', 'sorry_server_lvs_method'] as const) {
    const p = childPos(stmt, kw);
    if (!p) continue;
    if (!ssPos || before(p, ssPos)) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', p, `'${kw}' ${ssPos ? 'comes before' : 'is used without'} 'sorry_server'; keepalived ignores it`);
      if (kw === 'sorry_server_inhibit') m.sorryServerInhibit = false;
      else m.sorryServerLvsMethod = undefined;
    }
  }
}

/** the scheduler and its flags */
function checkScheduler({ vs, m, ctx, stmt, at, describe }: VsCheck): void {
  if (!vs.lvsSched) {
    ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', at, `virtual_server ${describe} sets no lvs_sched; keepalived uses wlc`);
    m.lvsSched = 'wlc';
  }
  for (const [flag, sched] of [
    ['sh-port', 'sh'],
    ['sh-fallback', 'sh'],
    ['mh-port', 'mh'],
    ['mh-fallback', 'mh'],
  ] as const) {
    if (vs[flag] && vs.lvsSched !== sched) {
      ctx.diags.warning(
        'ALIVED_CONFIG_NO_EFFECT',
        childPos(stmt, flag) ?? at,
        `'${flag}' applies to the ${sched} scheduler only; ignored with lvs_sched ${vs.lvsSched}`,
      );
      m[flag] = false;
    }
  }
}

/** protocol, ops, port 0, ha_suspend */
function checkProtocol({ vs, m, ctx, stmt, key, at, describe, isAddress, isFwmark }: VsCheck): void {
  if (isAddress) {
    if (!vs.protocol) {
      ctx.diags.compat(
        'ALIVED_CONFIG_NO_EFFECT',
        at,
        `virtual_server ${describe} sets no protocol; keepalived uses UDP, and so does alived (write 'protocol TCP' if that is meant)`,
      );
      m.protocol = 'UDP';
    }
    if (vs.ops && m.protocol !== 'UDP') {
      ctx.diags.compat(
        'ALIVED_CONFIG_CONFLICT',
        childPos(stmt, 'ops') ?? at,
        `one-packet scheduling (ops) needs protocol UDP; keepalived turns it off for ${m.protocol}, and so does alived`,
      );
      m.ops = false;
    }
    if (key.kind === 'address' && key.port === 0 && vs.persistenceTimeout === undefined) {
      ctx.diags.compat(
        'ALIVED_CONFIG_CONFLICT',
        at,
        `virtual_server ${describe} has no port, which only a persistent service may have; keepalived sets persistence_timeout ${DEFAULT_PERSISTENCE_TIMEOUT}, and so does alived`,
      );
      m.persistenceTimeout = DEFAULT_PERSISTENCE_TIMEOUT;
    }
  }
  if (isFwmark) {
    if (vs.protocol) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', childPos(stmt, 'protocol') ?? at, `protocol is ignored for a fwmark virtual server`);
      m.protocol = undefined;
    }
    if (vs.haSuspend) {
      ctx.diags.warning(
        'ALIVED_CONFIG_CONFLICT',
        childPos(stmt, 'ha_suspend') ?? at,
        `ha_suspend cannot be used with a fwmark virtual server; keepalived clears it`,
      );
      m.haSuspend = false;
    }
  }
}

/** the address family: the header, then ip_family (the real and sorry servers that are not tunnelled follow) */
function checkIpFamily(c: VsCheck): void {
  const { vs, ctx, stmt, at, describe } = c;
  if (!vs.ipFamily) return;
  const f: Family = vs.ipFamily === 'inet' ? 4 : 6;
  if (c.af !== undefined && f !== c.af) {
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      childPos(stmt, 'ip_family') ?? at,
      `ip_family ${vs.ipFamily} conflicts with the ${fam(c.af)} address of virtual_server ${describe}`,
    );
  }
  c.af ??= f;
}

function methodOf(vs: VirtualServer, own: { method: LvsMethodName } | undefined): LvsMethodName {
  return own?.method ?? vs.lvsMethod?.method ?? 'NAT';
}

/** each real server's family, duplicates, and ports the forwarding method ignores; returns the total weight */
function checkRealServers(c: VsCheck): number {
  const { vs, ctx, key, describe, isAddress, isFwmark } = c;
  const seen = new Map<string, RealServer>();
  let weightSum = 0;
  for (const rs of vs.realServer) {
    if (!rs.lvsMethod) c.inheritsMethod = true;
    const method = methodOf(vs, rs.lvsMethod);
    const rsDesc = `${rs.address}${rs.port ? ` ${rs.port}` : ''}`;
    if (method !== 'TUN') {
      if (c.af === undefined) c.af = rs.family;
      else if (rs.family !== c.af) {
        ctx.diags.error(
          'ALIVED_CONFIG_CONFLICT',
          rs.pos,
          `real_server ${rsDesc} is ${fam(rs.family)} but virtual_server ${describe} is ${fam(c.af)}; only TUN real servers may differ`,
        );
      }
    }
    const id = `${rs.address}\0${rs.port}`;
    const prev = seen.get(id);
    if (prev) {
      ctx.diags.warning('ALIVED_CONFIG_DUPLICATE', rs.pos, `real_server ${rsDesc} is already defined at line ${prev.pos.line}; keepalived drops this one`);
      continue;
    }
    seen.set(id, rs);
    weightSum += rs.weight ?? vs.weight;
    if (method !== 'NAT' && rs.port !== 0) {
      if (isFwmark && rs.extensions.length === 0) {
        // the port reaches neither IPVS (keepalived clears it) nor a checker (the default port of its checks): it says what does not happen
        ctx.diags.error(
          'ALIVED_CONFIG_NO_EFFECT',
          rs.pos,
          `fwmark virtual_server ${describe}: the port of ${method} real_server ${rsDesc} is used by nothing: a fwmark service forwards each packet to the port it was sent to (keepalived clears this one), and no checker of this real server connects to it; write the real server without a port`,
        );
      } else if (isFwmark) {
        ctx.diags.warning(
          'ALIVED_CONFIG_NO_EFFECT',
          rs.pos,
          `fwmark virtual_server ${describe}: the port of ${method} real_server ${rsDesc} is ignored by IPVS (keepalived clears it); its checkers connect to it`,
        );
      } else if (isAddress && key.kind === 'address' && rs.port !== key.port) {
        ctx.diags.warning(
          'ALIVED_CONFIG_CONFLICT',
          rs.pos,
          key.port === 0
            ? `real_server ${rsDesc} uses ${method} and virtual_server ${describe} has no port; keepalived clears the real server's port`
            : `real_server ${rsDesc} uses ${method}, so its port must be the virtual server's (${key.port}); keepalived programs ${key.port} (its checks still connect to ${rs.port})`,
        );
      }
    }
  }
  return weightSum;
}

/** the sorry server's family and the port its forwarding method ignores */
function checkSorryServer(c: VsCheck): void {
  const { vs, ctx, key, at, describe, isAddress, isFwmark, ssPos } = c;
  const ss = vs.sorryServer;
  if (!ss) return;
  const ssMethod = methodOf(vs, vs.sorryServerLvsMethod);
  if (!vs.sorryServerLvsMethod) c.inheritsMethod = true;
  if (ssMethod !== 'TUN') {
    if (c.af === undefined) c.af = ss.family;
    else if (ss.family !== c.af) {
      ctx.diags.error(
        'ALIVED_CONFIG_CONFLICT',
        ssPos ?? at,
        `sorry_server ${ss.address} is ${fam(ss.family)} but virtual_server ${describe} is ${fam(c.af)}; only a TUN sorry server may differ`,
      );
    }
  }
  if (ssMethod !== 'NAT' && ss.port !== 0) {
    if (isFwmark) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', ssPos ?? at, `fwmark virtual_server ${describe}: the port of the ${ssMethod} sorry_server is ignored`);
    } else if (isAddress && key.kind === 'address' && ss.port !== key.port) {
      ctx.diags.warning(
        'ALIVED_CONFIG_CONFLICT',
        ssPos ?? at,
        key.port === 0
          ? `sorry_server uses ${ssMethod} and virtual_server ${describe} has no port; keepalived clears the sorry server's port`
          : `sorry_server uses ${ssMethod}, so its port must be the virtual server's (${key.port}); keepalived uses ${key.port}`,
      );
    }
  }
}

/** persistence_granularity against the family, and the timeout it implies */
function checkPersistence({ vs, m, ctx, describe, af }: VsCheck): void {
  const pg = vs.persistenceGranularity;
  if (!pg) return;
  if (af === 6 && pg.family === 4) {
    ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', pg.pos, `virtual_server ${describe} is IPv6: persistence_granularity is a prefix length 1..128, not a netmask`);
  } else if (af === 4 && pg.family === 6) {
    ctx.diags.warning(
      'ALIVED_CONFIG_CONFLICT',
      pg.pos,
      `virtual_server ${describe} is IPv4: persistence_granularity is a netmask such as 255.255.255.0; keepalived reads '${pg.prefix}' as the netmask 0.0.0.${pg.prefix}`,
    );
  }
  if (vs.persistenceTimeout === undefined) {
    ctx.diags.note(
      'ALIVED_CONFIG_NO_EFFECT',
      pg.pos,
      `persistence_granularity without persistence_timeout: the timeout is ${DEFAULT_PERSISTENCE_TIMEOUT} seconds`,
    );
    m.persistenceTimeout = DEFAULT_PERSISTENCE_TIMEOUT;
  }
}

/** quorum against the total weight, and hysteresis below the quorum */
function checkQuorum({ vs, m, ctx, stmt, at }: VsCheck, weightSum: number): void {
  if (vs.realServer.length > 0 && vs.quorum > weightSum) {
    ctx.diags.warning(
      'ALIVED_CONFIG_CONFLICT',
      childPos(stmt, 'quorum') ?? at,
      `quorum ${vs.quorum} exceeds the total weight of the real servers (${weightSum}); keepalived lowers it to ${weightSum}`,
    );
    m.quorum = weightSum;
  }
  if (vs.hysteresis >= m.quorum && (vs.hysteresis > 0 || m.quorum > 0)) {
    ctx.diags.warning(
      'ALIVED_CONFIG_CONFLICT',
      childPos(stmt, 'hysteresis') ?? childPos(stmt, 'quorum') ?? at,
      `hysteresis ${vs.hysteresis} must be below the quorum (${m.quorum}); keepalived uses ${Math.max(0, m.quorum - 1)}`,
    );
    m.hysteresis = Math.max(0, m.quorum - 1);
  }
}

// ---------------------------------------------------------------------------
// virtual_server_group

export type VirtualServerGroupEntry =
  | { readonly kind: 'fwmark'; readonly fwmark: number; readonly family: Family | undefined; readonly pos: Pos }
  | {
      readonly kind: 'address';
      readonly family: Family;
      /** the first address of the range */
      readonly address: string;
      /** the last address of the range (the address itself when no range is written) */
      readonly last: string;
      /** the /prefix of a subnet entry */
      readonly prefix: number | undefined;
      /** 0 when none was written */
      readonly port: number;
      readonly pos: Pos;
    };

export interface VirtualServerGroup extends BlockBase {
  readonly name: string;
  readonly entries: VirtualServerGroupEntry[];
}

const VSG_ENTRY = '<IPADDR>[-<END>|/<PREFIX>] [<PORT>] | fwmark <INTEGER> [inet|inet6]';

/** an address as one number (for ranges), through core's one parser and RFC 5952 formatter */
function toInt(f: Family, a: string): bigint {
  const bytes = ipToBytes(a, f);
  if (!bytes) throw new RangeError(`not an IPv${f} address: ${a}`);
  return bytes.reduce((n, o) => (n << 8n) | BigInt(o), 0n);
}

function fromInt(f: Family, n: bigint): string {
  const bytes = new Uint8Array(f === 4 ? 4 : 16);
  for (let i = bytes.length - 1; i >= 0; i--, n >>= 8n) bytes[i] = Number(n & 255n);
  return bytesToIp(bytes);
}

/** One line of a virtual_server_group, as alloc_vsg_entry() reads it. */
function parseVsgEntry(words: readonly Token[], ctx: CheckCtx): VirtualServerGroupEntry | Invalid {
  const first = words[0]!;
  const bad = (t: Token, msg: string, code = 'ALIVED_CONFIG_BAD_VALUE'): Invalid => {
    ctx.diags.error(code, t.pos, msg);
    return INVALID;
  };
  if (!first.quoted && first.text === 'fwmark') {
    if (words.length < 2)
      return bad(first, `'fwmark' in virtual_server_group needs a mark: fwmark <INTEGER 1..4294967295> [inet|inet6]`, 'ALIVED_CONFIG_MISSING_VALUE');
    if (words.length > 3)
      return bad(
        words[3]!,
        `a virtual_server_group fwmark entry takes fwmark <INTEGER> [inet|inet6]; unexpected '${clip(words[3]!.text)}'`,
        'ALIVED_CONFIG_EXTRA_VALUE',
      );
    const mark = int({ min: 1, max: 4294967295 }).parse(words[1]!, ctx);
    const family = words[2] ? oneOf(['inet', 'inet6'] as const).parse(words[2], ctx) : undefined;
    if (mark === INVALID || family === INVALID) return INVALID;
    return { kind: 'fwmark', fwmark: mark, family: family === undefined ? undefined : family === 'inet' ? 4 : 6, pos: first.pos };
  }
  if (words.length > 2)
    return bad(words[2]!, `a virtual_server_group entry takes ${VSG_ENTRY}; unexpected '${clip(words[2]!.text)}'`, 'ALIVED_CONFIG_EXTRA_VALUE');
  const p = words[1] ? port.parse(words[1], ctx) : 0;
  if (p === INVALID) return INVALID;
  const t = first.text;
  const slash = t.indexOf('/');
  const dash = t.indexOf('-');
  const cut = slash >= 0 ? slash : dash;
  const start = cut >= 0 ? t.slice(0, cut) : t;
  const family = net.isIP(start) as 0 | Family;
  if (family === 0) {
    return bad(first, `'${clip(t)}' is not a virtual_server_group entry: expected ${VSG_ENTRY}`);
  }
  const base = { kind: 'address' as const, family, address: start, port: p, pos: first.pos };
  if (slash >= 0) {
    const maxLen = family === 4 ? 32 : 128;
    const ms = t.slice(slash + 1);
    if (!/^\d+$/.test(ms) || Number(ms) < 1 || Number(ms) > maxLen) return bad(first, `'/${clip(ms)}' in '${clip(t)}' is not a prefix length 1..${maxLen}`);
    const len = Number(ms);
    const bits = BigInt(maxLen);
    const hostMask = (1n << (bits - BigInt(len))) - 1n;
    const n = toInt(family, start);
    if ((n & hostMask) !== 0n) return bad(first, `'${clip(t)}' has host bits set: the address must be the first of its /${len} subnet`);
    return { ...base, last: fromInt(family, n | hostMask), prefix: len };
  }
  if (dash >= 0) {
    const rest = t.slice(dash + 1);
    const n = toInt(family, start);
    const fullEnd = family === 4 ? rest.includes('.') : rest.includes(':');
    if (fullEnd) {
      const endFam = net.isIP(rest);
      if (endFam === 0)
        return bad(first, `'${clip(rest)}' in '${clip(t)}' is not an address: the range end is an address or the last ${family === 4 ? 'octet' : 'group'}`);
      if (endFam !== family) return bad(first, `the range '${clip(t)}' mixes IPv4 and IPv6`);
      const e = toInt(family, rest);
      if (e < n) return bad(first, `the range '${clip(t)}' ends before it starts`);
      return { ...base, last: fromInt(family, e), prefix: undefined };
    }
    const re = family === 4 ? /^\d+$/ : /^[0-9a-fA-F]+$/;
    const lim = family === 4 ? 255 : 0xffff;
    if (!re.test(rest)) {
      return bad(first, `'${clip(rest)}' in '${clip(t)}' is not the last ${family === 4 ? 'octet (0..255)' : 'group (hexadecimal 0..ffff)'} of a range`);
    }
    const endPart = parseInt(rest, family === 4 ? 10 : 16);
    if (endPart > lim) {
      ctx.diags.error(
        'ALIVED_CONFIG_OUT_OF_RANGE',
        first.pos,
        `the range end '${clip(rest)}' in '${clip(t)}' is too large: at most ${family === 4 ? '255' : 'ffff'}`,
      );
      return INVALID;
    }
    const shift = family === 4 ? 8n : 16n;
    const startPart = Number(n & ((1n << shift) - 1n));
    if (startPart >= endPart)
      return bad(first, `the range '${clip(t)}' does not end after it starts (${family === 4 ? startPart : startPart.toString(16)} >= ${clip(rest)})`);
    return { ...base, last: fromInt(family, ((n >> shift) << shift) | BigInt(endPart)), prefix: undefined };
  }
  return { ...base, last: start, prefix: undefined };
}

/**
 * `virtual_server_group <NAME> { <entries> }`: its lines are entries, not
 * keywords, so it parses them itself after the block's header.
 */
class VirtualServerGroupSchema extends BlockSchema<VirtualServerGroup> {
  constructor() {
    super({}, { header: namedHeader, feature: 'ipvs', defines: { kind: 'virtual_server_group', name: (v: { name: string }) => v.name } });
  }

  override parseBlock(stmt: Stmt, keyword: string, ctx: CheckCtx, inheritedFeature: string | undefined): VirtualServerGroup | Invalid {
    if (!stmt.block) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_BLOCK', stmt.name.pos, `'${keyword}' needs a { } block of entries: ${VSG_ENTRY}`);
      return INVALID;
    }
    // the header, the name's definition and the feature, as any block
    const head = super.parseBlock({ ...stmt, block: [] }, keyword, ctx, inheritedFeature);
    if (head === INVALID) return INVALID;
    const entries: VirtualServerGroupEntry[] = [];
    let ok = true;
    for (const child of stmt.block) {
      if (child.block) {
        ctx.diags.error('ALIVED_CONFIG_UNEXPECTED_BLOCK', child.blockOpen ?? child.name.pos, `an entry of '${keyword}' takes no { } block`);
        ok = false;
        continue;
      }
      const e = parseVsgEntry([child.name, ...child.args], ctx);
      if (e === INVALID) ok = false;
      else entries.push(e);
    }
    if (!ok) return INVALID;
    const out: VirtualServerGroup = { ...head, entries };
    const addrs = entries.filter((e) => e.kind === 'address');
    const marks = entries.filter((e) => e.kind === 'fwmark');
    if (entries.length === 0) {
      ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', stmt.name.pos, `virtual_server_group ${out.name} has no entries; keepalived removes it`);
    } else {
      const v4 = addrs.some((e) => e.family === 4) || marks.some((e) => e.family === 4);
      const v6 = addrs.some((e) => e.family === 6) || marks.some((e) => e.family === 6);
      const bare = marks.find((e) => e.family === undefined);
      if (v4 && v6 && bare) {
        ctx.diags.error(
          'ALIVED_CONFIG_CONFLICT',
          bare.pos,
          `virtual_server_group ${out.name} has IPv4 and IPv6 entries, so its fwmark entries need a family: fwmark ${bare.fwmark} inet|inet6`,
        );
        return INVALID;
      }
    }
    return out;
  }
}

export const virtualServerGroupSchema = new VirtualServerGroupSchema();

export const lvsRootFields = {
  virtual_server_group: sub(virtualServerGroupSchema).repeatable().feature('ipvs'),
  virtual_server: sub(virtualServerSchema).repeatable().feature('ipvs'),
};
