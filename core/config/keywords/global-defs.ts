import * as net from 'node:net';
import { block, value, word } from '../schema';
import {
  custom,
  duration,
  email,
  filePath,
  flag,
  ifname,
  int,
  INVALID,
  ip,
  many,
  map,
  name,
  nearest,
  oneOf,
  optBool,
  script,
  str,
  text,
  tuple,
  uint,
  withOptions,
  type ArgsParser,
  type WordParser,
} from '../values';
import { badWord, clip, hostOrIp, optionalArg, wordList } from './common';

/**
 * global_defs { ... } and the global keywords keepalived 2.2.8 reads at the
 * top level (net_namespace, instance, ...): every keyword of
 * keepalived/core/global_parser.c, with the ranges its handlers enforce.
 */

const UINT32_MAX = 4294967295;
const INT32_MAX = 2147483647;
/** keepalived stores times in microseconds in an unsigned int: UINT_MAX / TIMER_HZ seconds */
const MAX_TIMER_SECS = Math.floor(UINT32_MAX / 1000000);

/** TASK_COMM_LEN - 1: keepalived truncates longer names with an error */
const processName = str({ minLength: 1, maxLength: 15 });

/** `FIFO_NAME [USER [GROUP]]` */
const fifo: ArgsParser<{ path: string; user: string | undefined; group: string | undefined }> = map(tuple([filePath(), str(), str()], 1), (t) => ({
  path: t[0]!,
  user: t[1],
  group: t[2],
}));

/** `<IP|HOST> [PORT]`, port 25 by default */
const smtpServer = map(tuple([hostOrIp, { ...int({ min: 1, max: 65535 }), describe: '<PORT>' }], 1), (t) => ({
  host: t[0]!,
  port: t[1] ?? 25,
}));

function multicast(family: 4 | 6, opts: { linkLocalWarning?: boolean } = {}): WordParser<string> {
  const base = ip({ family });
  return {
    describe: family === 4 ? '<IPv4 MULTICAST>' : '<IPv6 MULTICAST>',
    parse(w, ctx) {
      const a = base.parse(w, ctx);
      if (a === INVALID) return INVALID;
      if (!isMulticast(a.address)) return badWord(ctx, w, `'${clip(w.text)}' is not a multicast address`);
      if (opts.linkLocalWarning && family === 6 && !isLinkLocalMulticast6(a.address)) {
        ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', w.pos, `'${clip(w.text)}' should be a link-local multicast address (ff02::/16)`);
      }
      return a.address;
    },
  };
}

export function isMulticast(address: string): boolean {
  if (net.isIPv4(address)) {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return /^ff/i.test(address);
}

/** ffX2::/16: link-local scope */
export function isLinkLocalMulticast6(address: string): boolean {
  return /^ff[0-9a-f]2:/i.test(address);
}

/** `[all] <SECONDS>`: periodic GARP/NA on interfaces other than the instance's */
export function garpExtraIf(min: number): ArgsParser<{ all: boolean; interval: number }> {
  const secs = int({ min, max: 86400 });
  return custom(`[all] <SECONDS ${min}..86400>`, (words, at, keyword, ctx) => {
    let all = false;
    let interval: number | undefined;
    let ok = true;
    for (const w of words) {
      if (w.text === 'all') {
        all = true;
        continue;
      }
      const n = secs.parse(w, ctx);
      if (n === INVALID) ok = false;
      else interval = n;
    }
    if (!ok) return INVALID;
    if (interval === undefined) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs an interval in seconds: ${keyword} [all] <SECONDS>`);
      return INVALID;
    }
    return { all, interval };
  });
}

/** `<IF> [[inst] <VRRP_INSTANCE>] [id <0..255>] [maxlen <LEN>] [port <PORT>] [ttl <TTL>] [group <IP>]` */
const lvsSyncDaemon = custom(
  '<INTERFACE> [[inst] <VRRP_INSTANCE>] [id <0..255>] [maxlen <1..65507>] [port <1..65535>] [ttl <1..255>] [group <MULTICAST IP>]',
  (words, at, keyword, ctx) => {
    if (words.length === 0) {
      ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs an interface: ${keyword} <INTERFACE> [inst <VRRP_INSTANCE>] ...`);
      return INVALID;
    }
    const iface = ifname.parse(words[0]!, ctx);
    let ok = iface !== INVALID;
    const out: {
      interface: string;
      instance?: string;
      syncId?: number;
      maxlen?: number;
      port?: number;
      ttl?: number;
      group?: string;
    } = { interface: iface === INVALID ? '' : iface };
    const opts: Record<string, WordParser<number | string>> = {
      id: int({ min: 0, max: 255 }),
      maxlen: int({ min: 1, max: 65535 - 20 - 8 }),
      port: int({ min: 1, max: 65535 }),
      ttl: int({ min: 1, max: 255 }),
      group: {
        describe: '<MULTICAST IP>',
        parse: (w, c) => {
          const a = ip().parse(w, c);
          if (a === INVALID) return INVALID;
          return isMulticast(a.address) ? a.address : badWord(c, w, `lvs_sync_daemon group '${clip(w.text)}' is not a multicast address`);
        },
      },
    };
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      const key = w.text;
      if (key === 'inst' || (i === 1 && !(key in opts))) {
        const nameWord = key === 'inst' ? words[++i] : w;
        if (!nameWord) {
          ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', w.pos, `option 'inst' needs a vrrp_instance name`);
          return INVALID;
        }
        if (out.instance !== undefined) {
          ctx.diags.error('ALIVED_CONFIG_DUPLICATE', nameWord.pos, `${keyword}: the vrrp instance is already given`);
          ok = false;
          continue;
        }
        out.instance = nameWord.text;
        ctx.refer('vrrp_instance', nameWord.text, nameWord.pos, keyword);
        continue;
      }
      // keepalived's old form `lvs_sync_daemon IF VRRP_INSTANCE SYNC_ID`
      if (i === 2 && out.instance !== undefined && words[1]!.text !== 'inst' && /^\d+$/.test(key)) {
        const v = opts.id!.parse(w, ctx);
        if (v === INVALID) ok = false;
        else {
          out.syncId = v as number;
          ctx.diags.note('ALIVED_CONFIG_DEPRECATED', w.pos, `write 'id ${key}': a sync id without 'id' is an old form of ${keyword}; accepted`);
        }
        continue;
      }
      const p = opts[key];
      if (!p) {
        const hint = nearest(key, ['inst', ...Object.keys(opts)]);
        ctx.diags.error('ALIVED_CONFIG_UNKNOWN_KEYWORD', w.pos, `unknown option '${clip(key)}' for '${keyword}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
        return INVALID;
      }
      const vw = words[++i];
      if (!vw) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', w.pos, `option '${clip(key)}' needs a value: ${key} ${p.describe}`);
        return INVALID;
      }
      const v = p.parse(vw, ctx);
      if (v === INVALID) ok = false;
      else if (key === 'id') out.syncId = v as number;
      else (out as Record<string, unknown>)[key] = v;
    }
    return ok ? out : INVALID;
  },
);

/** `[tcp <SECS>] [tcpfin <SECS>] [udp <SECS>]`, at least one */
const lvsTimeoutOptions = withOptions([], {
  tcp: int({ min: 0, max: 86400 * 31 }),
  tcpfin: int({ min: 0, max: 86400 * 31 }),
  udp: int({ min: 0, max: 86400 * 31 }),
});
const lvsTimeouts = custom(lvsTimeoutOptions.describe, (words, at, keyword, ctx) => {
  if (words.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs at least one of tcp <SECS>, tcpfin <SECS>, udp <SECS>`);
    return INVALID;
  }
  const v = lvsTimeoutOptions.parse(words, at, keyword, ctx);
  return v === INVALID ? INVALID : v.options;
});

/** `MTU|ADVERT|<BYTES>` */
const rxBufsPolicy = custom('<MTU|ADVERT|BYTES>', (words, at, keyword, ctx) => {
  if (words.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs MTU, ADVERT or a size in bytes`);
    return INVALID;
  }
  let policy: 'MTU' | 'ADVERT' | undefined;
  let size: number | undefined;
  for (const w of words) {
    const t = w.text.toUpperCase();
    if (t === 'MTU' || t === 'ADVERT') {
      if (policy && policy !== t) return badWord(ctx, w, `${keyword}: MTU and ADVERT cannot both be set`, 'ALIVED_CONFIG_CONFLICT');
      policy = t;
      continue;
    }
    const n = uint().parse(w, ctx);
    if (n === INVALID) return INVALID;
    size = n;
  }
  if (policy && size !== undefined) {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', words[0]!.pos, `${keyword}: give either a size or a policy (MTU, ADVERT), not both`);
    return INVALID;
  }
  return policy ? { policy } : { size: size! };
});

const UMASK_BITS: Record<string, number> = {
  IRUSR: 0o400,
  IWUSR: 0o200,
  IXUSR: 0o100,
  IRWXU: 0o700,
  IRGRP: 0o040,
  IWGRP: 0o020,
  IXGRP: 0o010,
  IRWXG: 0o070,
  IROTH: 0o004,
  IWOTH: 0o002,
  IXOTH: 0o001,
  IRWXO: 0o007,
};

/** `<NUMBER>` (decimal, 0octal or 0xhex) or `IRUSR|IWGRP|...` */
const umask = custom('<NUMBER|BITS>', (words, at, keyword, ctx) => {
  if (words.length === 0) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a mask: a number such as 0027, or bits such as IWGRP|IRWXO`);
    return INVALID;
  }
  const first = words[0]!;
  if (/^\d/.test(first.text)) {
    if (words.length > 1) {
      ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[1]!.pos, `'${keyword}' takes one number; unexpected '${clip(words[1]!.text)}'`);
      return INVALID;
    }
    const t = first.text;
    const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^0[0-7]*$/.test(t) ? parseInt(t, 8) : /^[1-9]\d*$/.test(t) ? Number(t) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 0o777)
      return badWord(ctx, first, `'${clip(t)}' is not a umask: expected a number 0..0777 (octal with a leading 0)`);
    return n;
  }
  const joined = words.map((w) => w.text).join('');
  let mask = 0;
  for (const part of joined.split('|')) {
    const bit = UMASK_BITS[part];
    if (bit === undefined) {
      const hint = nearest(part, Object.keys(UMASK_BITS));
      return badWord(
        ctx,
        first,
        `'${clip(part)}' is not a umask bit: expected ${Object.keys(UMASK_BITS).join(', ')} joined with '|'${hint ? ` (did you mean '${hint}'?)` : ''}`,
      );
    }
    mask |= bit;
  }
  return mask;
});

/**
 * An interval that old configs write as 0 for "no delay". keepalived 2.2
 * rejects 0 (its minimum is 1 us) and then uses its default, which is no
 * delay: alived accepts 0 with a note that says so.
 */
function zeroOrInterval(keyword: string): WordParser<number> {
  const interval = duration({ min: 0.000001, max: MAX_TIMER_SECS });
  return {
    describe: `0 | ${interval.describe}`,
    parse(word, ctx) {
      if (/^0+(\.0*)?$/.test(word.text)) {
        ctx.diags.note(
          'ALIVED_CONFIG_DEPRECATED',
          word.pos,
          `${keyword} 0 is an old spelling of the default, no delay; accepted (keepalived 2.2 reports it as invalid); leave the line out`,
        );
        return 0;
      }
      return interval.parse(word, ctx);
    },
  };
}

/** `[[+|-]readable|match|wildcard_match|brace_match ...]`: read by the preprocessor as it includes files */
const INCLUDE_CHECKS = ['readable', 'match', 'wildcard_match', 'brace_match'] as const;
const includeCheck = custom('[[+|-]readable|read|match|wildcard_match|brace_match ...]', (words, _at, keyword, ctx) => {
  const out: Array<{ op: '=' | '+' | '-'; check: (typeof INCLUDE_CHECKS)[number] }> = [];
  let ok = true;
  words.forEach((w, i) => {
    const op = w.text[0] === '+' || w.text[0] === '-' ? (w.text[0] as '+' | '-') : '=';
    const check = op === '=' ? w.text : w.text.slice(1);
    if (op === '=' && i > 0) {
      ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `${keyword}: '${clip(w.text)}' sets the checks again; only the first option may stand without + or -`);
      ok = false;
      return;
    }
    // keepalived 2.2.8's parser spells it 'read', its manual 'readable': both are accepted
    if (check === 'read') {
      out.push({ op, check: 'readable' });
      return;
    }
    if (!(INCLUDE_CHECKS as readonly string[]).includes(check)) {
      const hint = nearest(check, INCLUDE_CHECKS);
      ctx.diags.error(
        'ALIVED_CONFIG_BAD_VALUE',
        w.pos,
        `'${clip(check)}' is not an include check: expected ${INCLUDE_CHECKS.join(', ')}${hint ? ` (did you mean '${hint}'?)` : ''}`,
      );
      ok = false;
      return;
    }
    out.push({ op, check: check as (typeof INCLUDE_CHECKS)[number] });
  });
  return ok ? out : INVALID;
});

/** `[<-1..99>]`: alone, the highest real-time priority */
const maxAutoPriority = optionalArg(int({ min: -1, max: 99 }));

/** CPU ids for sched_setaffinity (CPU_SETSIZE is 1024) */
const cpuList = many(int({ min: 0, max: 1023 }));
const niceness = int({ min: -20, max: 19 });
const rtPriority = int({ min: 1, max: 99 });
const rlimit = int({ min: 1, max: UINT32_MAX });
const rcvBufs = uint();
const rlimitNote = "the keyword is spelled '*_rlimit_rttime' since keepalived 2.0.20";

export const globalDefsSchema = block(
  {
    // process names
    process_names: value(flag).feature('process').doc('name the processes keepalived, keepalived_vrrp, keepalived_ipvs, keepalived_bfd'),
    process_name: word(processName).feature('process').doc('name of the parent process (at most 15 characters)'),
    vrrp_process_name: word(processName).feature('process'),
    checker_process_name: word(processName).feature('process').alias('lvs_process_name', { deprecated: true }),
    bfd_process_name: word(processName).feature('process'),

    // identity and email
    router_id: value(text).feature('notify-mail').doc('names this node in notifications; default the host name'),
    notification_email: wordList(email)
      .validate((list, ctx, stmt) => {
        if (list.length === 0)
          ctx.diags.compat('ALIVED_CONFIG_NO_EFFECT', stmt.name.pos, `'notification_email' block is empty: no mail goes to anyone, as in keepalived`);
      })
      .feature('notify-mail')
      .doc('recipients of email notifications'),
    notification_email_from: value(text).feature('notify-mail').doc('From: address; default keepalived@<host name>'),
    smtp_server: value(smtpServer).feature('notify-mail').doc('<IP|HOST> [PORT]; port 25 by default'),
    smtp_helo_name: word(str()).feature('notify-mail').doc('name in HELO; default the host name'),
    smtp_connect_timeout: word(int({ min: 1, max: MAX_TIMER_SECS }))
      .default(30)
      .feature('notify-mail')
      .doc('seconds; default 30'),
    smtp_alert: value(optBool).feature('notify-mail').doc('default for every smtp_alert'),
    smtp_alert_vrrp: value(optBool).feature('notify-mail').doc('default for vrrp_instance and vrrp_sync_group smtp_alert'),
    smtp_alert_checker: value(optBool).feature('notify-mail').doc('default for checker smtp_alert'),
    no_email_faults: value(flag).feature('notify-mail').doc('no email for FAULT transitions'),
    no_checker_emails: value(optBool).feature('notify-mail').doc('email only when a real server is added or removed'),
    checker_log_all_failures: value(optBool).feature('checker').doc('log every failed check, not only state changes'),
    rs_init_notifies: value(optBool).feature('checker').doc('notify the initial state of real servers at startup'),

    // startup and shutdown scripts
    startup_script: value(script).feature('notify-script').doc('run once before the child processes start'),
    startup_script_timeout: word(int({ min: 1, max: 1000 }))
      .feature('notify-script')
      .doc('seconds, 1..1000; default 10'),
    shutdown_script: value(script).feature('notify-script').doc('run once after the child processes stop'),
    shutdown_script_timeout: word(int({ min: 1, max: 1000 }))
      .feature('notify-script')
      .doc('seconds, 1..1000; default 10'),
    script_user: value(map(tuple([str(), str()], 1), (t) => ({ user: t[0]!, group: t[1] })))
      .feature('notify-script')
      .doc('default user (and group) for scripts; default keepalived_script if it exists, else root'),
    enable_script_security: value(flag).feature('notify-script').doc('refuse scripts that run as root but are writable by others'),

    // scheduling
    max_auto_priority: value(maxAutoPriority)
      .feature('process-tuning')
      .doc('highest real-time priority the VRRP process is raised to when its timers run late; alone: 99; 0 or -1: none'),
    min_auto_priority_delay: word(int({ min: 1, max: 10000000 }))
      .feature('process-tuning')
      .doc('microseconds late before the priority is raised; default 1000000'),
    vrrp_priority: word(niceness).feature('vrrp').doc('nice value of the VRRP process'),
    checker_priority: word(niceness).feature('checker').doc('nice value of the process that runs the checks (the main process)'),
    bfd_priority: word(niceness).feature('process'),
    vrrp_no_swap: value(flag).feature('process-tuning').doc('lock the VRRP process in memory'),
    checker_no_swap: value(flag).feature('process-tuning').doc('lock the process that runs the checks (the main process) in memory'),
    bfd_no_swap: value(flag).feature('process'),
    vrrp_rt_priority: word(int({ min: 0, max: 99 }))
      .feature('vrrp')
      .doc(
        'real-time (SCHED_RR) priority of the VRRP process: keeps adverts on time when the CPUs are busy; default 1 when health checks run in the same daemon, else none; 0 (alived) keeps normal scheduling',
      ),
    checker_rt_priority: word(rtPriority).feature('checker').doc('real-time (SCHED_RR) priority of the process that runs the checks'),
    bfd_rt_priority: word(rtPriority).feature('process'),
    vrrp_cpu_affinity: value(cpuList).feature('process'),
    checker_cpu_affinity: value(cpuList).feature('process'),
    bfd_cpu_affinity: value(cpuList).feature('process'),
    vrrp_rlimit_rttime: word(rlimit)
      .feature('process')
      .alias('vrrp_rlimit_rtime', { deprecated: true, note: rlimitNote })
      .doc('microseconds of CPU between blocking calls under real-time scheduling; default 10000'),
    checker_rlimit_rttime: word(rlimit).feature('process').alias('checker_rlimit_rtime', { deprecated: true, note: rlimitNote }),
    bfd_rlimit_rttime: word(rlimit).feature('process').alias('bfd_rlimit_rtime', { deprecated: true, note: rlimitNote }),

    // interfaces
    dynamic_interfaces: value(optionalArg(oneOf(['allow_if_changes'])))
      .feature('vrrp')
      .doc('allow interfaces that do not exist at startup'),
    default_interface: word(ifname).feature('static-net').doc('interface of static addresses without dev; default eth0'),
    disable_local_igmp: value(flag).feature('vmac'),

    // LVS
    lvs_timeouts: value(lvsTimeouts).feature('ipvs').doc('tcp, tcpfin and udp connection timeouts in seconds'),
    lvs_flush: value(flag).feature('ipvs').doc('flush the IPVS table at startup'),
    lvs_flush_on_stop: value(optionalArg(oneOf(['VS'])))
      .feature('ipvs')
      .alias('lvs_flush_onstop', { deprecated: true })
      .doc('flush the IPVS table at shutdown; VS: remove only the virtual servers'),
    lvs_sync_daemon: value(lvsSyncDaemon).feature('lvs-sync'),

    // VRRP defaults
    vrrp_mcast_group4: word(multicast(4)).feature('vrrp').doc('default 224.0.0.18'),
    vrrp_mcast_group6: word(multicast(6, { linkLocalWarning: true }))
      .feature('vrrp')
      .doc('default ff02::12'),
    vrrp_garp_master_delay: word(int({ min: 0, max: MAX_TIMER_SECS }))
      .feature('vrrp')
      .doc('seconds before the second set of gratuitous ARPs after becoming MASTER; 0: none; default 5'),
    vrrp_garp_master_repeat: word(int({ min: 1, max: UINT32_MAX }))
      .feature('vrrp')
      .doc('gratuitous ARPs sent at a time on becoming MASTER; default 5'),
    vrrp_garp_master_refresh: word(int({ min: 0, max: UINT32_MAX }))
      .feature('vrrp')
      .doc('seconds between gratuitous ARP refreshes while MASTER; 0: none (default)'),
    vrrp_garp_master_refresh_repeat: word(int({ min: 1, max: UINT32_MAX }))
      .feature('vrrp')
      .doc('default 1'),
    vrrp_garp_lower_prio_delay: word(int({ min: 0, max: MAX_TIMER_SECS }))
      .feature('vrrp')
      .doc('seconds before a second set of gratuitous ARPs after a master heard a lower priority; 0: none; default vrrp_garp_master_delay'),
    vrrp_garp_lower_prio_repeat: word(int({ min: 0, max: INT32_MAX }))
      .feature('vrrp')
      .doc('gratuitous ARPs sent at a time when a master hears a lower priority; 0: none; default vrrp_garp_master_repeat'),
    vrrp_down_timer_adverts: word(int({ min: 1, max: 100 }))
      .feature('vrrp')
      .doc('adverts missed before the master is down; default 3'),
    vrrp_garp_interval: word(zeroOrInterval('vrrp_garp_interval'))
      .feature('vrrp')
      .doc('seconds between gratuitous ARPs on an interface (resolution 1us); 0 or left out: no delay'),
    vrrp_gna_interval: word(zeroOrInterval('vrrp_gna_interval'))
      .feature('vrrp')
      .doc('seconds between unsolicited NAs on an interface; 0 or left out: no delay'),
    vrrp_min_garp: value(optBool).feature('vrrp').doc('one gratuitous ARP/NA, no repeat'),
    vrrp_garp_extra_if: value(garpExtraIf(1)).feature('vmac').alias('vrrp_vmac_garp_intvl', { deprecated: true }),
    vrrp_lower_prio_no_advert: value(optBool).feature('vrrp'),
    vrrp_higher_prio_send_advert: value(optBool).feature('vrrp'),
    vrrp_version: word(int({ min: 2, max: 3 }))
      .feature('vrrp')
      .doc('default version of vrrp_instances; default 2 (IPv6 instances use 3)'),
    v3_checksum_as_v2: value(optBool).feature('vrrp'),
    vrrp_check_unicast_src: value(flag).feature('vrrp'),
    vrrp_skip_check_adv_addr: value(flag).feature('vrrp'),
    vrrp_strict: value(flag).feature('vrrp-strict').doc('strict RFC compliance for every instance without strict_mode'),
    vrrp_startup_delay: word(duration({ min: 0.001, max: MAX_TIMER_SECS }))
      .feature('vrrp')
      .doc('seconds before VRRP instances start'),
    log_unknown_vrids: value(flag).feature('vrrp'),
    vrrp_rx_bufs_policy: value(rxBufsPolicy).feature('vrrp-more'),
    vrrp_rx_bufs_multiplier: word(int({ min: 1, max: UINT32_MAX }))
      .feature('vrrp-more')
      .doc('default 3'),
    vrrp_netlink_cmd_rcv_bufs: word(rcvBufs).feature('vrrp-more'),
    vrrp_netlink_cmd_rcv_bufs_force: value(optBool).feature('vrrp-more'),
    vrrp_netlink_monitor_rcv_bufs: word(rcvBufs).feature('vrrp-more'),
    vrrp_netlink_monitor_rcv_bufs_force: value(optBool).feature('vrrp-more'),
    process_monitor_rcv_bufs: word(rcvBufs).feature('process-track'),
    process_monitor_rcv_bufs_force: value(optBool).feature('process-track'),
    lvs_netlink_cmd_rcv_bufs: word(rcvBufs).feature('ipvs'),
    lvs_netlink_cmd_rcv_bufs_force: value(optBool).feature('ipvs'),
    lvs_netlink_monitor_rcv_bufs: word(rcvBufs).feature('ipvs'),
    lvs_netlink_monitor_rcv_bufs_force: value(optBool).feature('ipvs'),
    vmac_prefix: word(str({ minLength: 1, maxLength: 12 }))
      .feature('vmac')
      .doc('prefix of generated VMAC names; default vrrp'),
    vmac_addr_prefix: word(str({ minLength: 1, maxLength: 12 })).feature('vmac-addr'),

    // firewall
    vrrp_iptables: value(many(str({ maxLength: 27 }), { min: 0, max: 2 }))
      .feature('vrrp-firewall')
      .validate((_v, ctx, stmt) =>
        ctx.diags.note(
          'ALIVED_CONFIG_DEPRECATED',
          stmt.name.pos,
          `vrrp_iptables: alived has no iptables; no_accept's drop rules go in nftables (the nftables table, default 'alived'), as Debian's keepalived, built without iptables, does; write 'nftables' instead`,
        ),
      )
      .doc('[IN_CHAIN [OUT_CHAIN]]: mapped to nftables (the chains are not used)'),
    vrrp_ipsets: value(many(str({ maxLength: 30 }), { min: 0, max: 5 }))
      .feature('vrrp-firewall')
      .validate((_v, ctx, stmt) =>
        ctx.diags.note(
          'ALIVED_CONFIG_DEPRECATED',
          stmt.name.pos,
          `vrrp_ipsets: alived has no iptables or ipsets; the VIPs go in a set of the nftables table (default 'alived'); write 'nftables' instead`,
        ),
      )
      .doc('[IPV4 [IPV6 [IPV6_IFACE [IGMP [MLD]]]]]: mapped to nftables (the set names are not used)'),
    nftables: value(optionalArg(str({ maxLength: 31 })))
      .feature('vrrp-firewall')
      .doc("[TABLE]; default table alived (keepalived's: keepalived)"),
    nftables_priority: word(int({ min: -2147483648, max: INT32_MAX }))
      .feature('vrrp-firewall')
      .doc('default -1'),
    nftables_ifindex: value(flag).feature('vrrp-firewall'),
    nftables_counters: value(flag).feature('vrrp-firewall'),
    nftables_ipvs: value(optionalArg(str({ maxLength: 31 })))
      .feature('ipvs-nftables')
      .doc('[TABLE]; default table keepalived_ipvs'),
    nftables_ipvs_priority: word(int({ min: -2147483648, max: INT32_MAX })).feature('ipvs-nftables'),
    nftables_ipvs_start_fwmark: word(int({ min: 1, max: UINT32_MAX }))
      .feature('ipvs-nftables')
      .doc('default 1000'),

    // notify FIFOs
    notify_fifo: value(fifo).feature('notify-script').doc('FIFO [USER [GROUP]] receiving every notify event'),
    notify_fifo_script: value(script).feature('notify-script'),
    vrrp_notify_fifo: value(fifo).feature('notify-script'),
    vrrp_notify_fifo_script: value(script).feature('notify-script'),
    lvs_notify_fifo: value(fifo).feature('notify-script'),
    lvs_notify_fifo_script: value(script).feature('notify-script'),
    vrrp_notify_priority_changes: value(optBool).feature('notify-script'),
    fifo_write_vrrp_states_on_reload: value(flag).feature('notify-script'),

    // SNMP and D-Bus
    snmp_socket: word(str({ minLength: 1, maxLength: 4095 }))
      .feature('snmp')
      .doc('AgentX socket; default unix:/var/agentx/master'),
    enable_traps: value(flag).feature('snmp'),
    enable_snmp_vrrp: value(flag).feature('snmp').alias('enable_snmp_keepalived', { deprecated: true }),
    enable_snmp_checker: value(flag).feature('snmp'),
    enable_snmp_rfc: value(flag).feature('snmp'),
    enable_snmp_rfcv2: value(flag).feature('snmp'),
    enable_snmp_rfcv3: value(flag).feature('snmp'),
    enable_dbus: value(flag).feature('dbus'),
    dbus_service_name: word(
      str({ pattern: /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+$/, patternText: 'a D-Bus service name such as org.keepalived.Vrrp1' }),
    ).feature('dbus'),

    // files, reload, misc
    umask: value(umask).feature('process-tuning').doc('mask for files alived creates (notify FIFOs, the outbox lock); never widens its private files'),
    random_seed: word(uint()).doc('seed of ${_RANDOM}'),
    reload_check_config: value(optionalArg(filePath())).feature('reload').doc('check the config before a reload, logging to FILE'),
    reload_time_file: word(filePath()).feature('reload'),
    reload_repeat: value(flag).feature('reload'),
    reload_file: value(optionalArg(filePath())).feature('reload'),
    include_check: value(includeCheck).feature('').doc('checks on include files; applied by the preprocessor as it reads the config'),
    config_save_dir: word(filePath()).feature('reload'),
    tmp_config_directory: word(filePath()),
    data_use_instance: value(optBool),
    json_version: word(int({ min: 1, max: 2 })),
  },
  { feature: 'global', slot: 'global_defs' },
);

/**
 * Global keywords keepalived reads at the top level, outside global_defs
 * (install_keyword_root in global_parser.c).
 */
export const globalRootFields = {
  net_namespace: word(name).feature('namespace').doc('network namespace to run in'),
  net_namespace_ipvs: value(optionalArg(name)).feature('namespace').doc('namespace of the IPVS configuration; alone: the default namespace'),
  namespace_with_ipsets: value(flag).feature('namespace'),
  instance: word(name).feature('namespace').doc('name in pid files when several keepalived run in one namespace'),
  use_pid_dir: value(flag).feature('namespace'),
  child_wait_time: word(uint()).feature('process').doc('seconds to wait for children at shutdown; default 5'),
  linkbeat_use_polling: value(flag).feature('vrrp-more').doc('poll interface link state (MII, ethtool, ioctl) instead of netlink'),
};
