import { block, lines, sub, value, word, type CheckCtx } from '../schema';
import {
  duration,
  flag,
  ifname,
  int,
  ip,
  ipPrefix,
  name,
  oneOf,
  one,
  optBool,
  script,
  str,
  withOptions,
  INVALID,
  map,
  type Family,
} from '../values';
import { namedHeader } from './common';

const SCOPES = ['site', 'link', 'host', 'nowhere', 'global'] as const;

/** `<IPADDR>[/<MASK>] [brd <IPADDR>] [dev <STRING>] [scope <SCOPE>] [label <LABEL>] ...` */
export const vipEntry = map(
  withOptions([ipPrefix()], {
    brd: ip({ family: 4 }),
    broadcast: ip({ family: 4 }),
    dev: ifname,
    scope: oneOf(SCOPES),
    label: str({ maxLength: 15 }),
    peer: ipPrefix(),
    home: null,
    '-nodad': null,
    nodad: null,
    noprefixroute: null,
    autojoin: null,
    no_track: null,
    track_group: name,
  }),
  (v) => ({ ...v.args[0]!, ...v.options }),
);

export const vrrpInstanceSchema = block(
  {
    state: word(oneOf(['MASTER', 'BACKUP'])),
    interface: word(ifname).required(),
    virtual_router_id: word(int({ min: 1, max: 255 })).required(),
    priority: word(int({ min: 1, max: 255 })).default(100),
    advert_int: word(duration({ min: 0.01, max: 255 })).default(1),
    version: word(int({ min: 2, max: 3 })),
    virtual_ipaddress: lines(vipEntry),
    virtual_ipaddress_excluded: lines(vipEntry),
    unicast_src_ip: word(ip()),
    unicast_peer: lines(
      map(withOptions([ip()], { min_ttl: int({ min: 0, max: 255 }), max_ttl: int({ min: 0, max: 255 }) }), (v) => ({ ...v.args[0]!, ...v.options })),
    ),
    mcast_src_ip: word(ip()),
    authentication: sub(
      block({
        auth_type: word(oneOf(['PASS', 'AH'])),
        auth_pass: word(str({ minLength: 1 })),
      }),
    ),
    nopreempt: value(flag),
    preempt: value(flag),
    preempt_delay: word(duration({ max: 1000 })),
    track_interface: lines(
      map(withOptions([ifname], { weight: int({ min: -253, max: 253 }), reverse: null }), (v) => ({ interface: v.args[0]!, ...v.options })),
    ),
    notify_master: value(script).feature('notify-script'),
    notify_backup: value(script).feature('notify-script'),
    notify_fault: value(script).feature('notify-script'),
    notify_stop: value(script).feature('notify-script'),
    notify_deleted: value(optScriptOrFlag()).feature('notify-script'),
    notify: value(script).feature('notify-script'),
    notify_master_rx_lower_pri: value(script).feature('notify-script'),
    smtp_alert: value(optBool).feature('notify-mail'),
  },
  {
    header: namedHeader,
    feature: 'vrrp',
    defines: { kind: 'vrrp_instance', name: (v: { name: string }) => v.name },
    check: (v, ctx) => checkInstance(v, ctx),
  },
);

/** notify_deleted may stand alone (then `notify` gets DELETED) or name a script. */
function optScriptOrFlag() {
  return {
    describe: `[${script.describe}]`,
    parse: (words: Parameters<typeof script.parse>[0], at: Parameters<typeof script.parse>[1], keyword: string, ctx: CheckCtx) =>
      words.length === 0 ? (true as const) : script.parse(words, at, keyword, ctx),
  };
}

export const vrrpSyncGroupSchema = block(
  {
    group: lines(
      map(one(name), (n, words, ctx) => {
        ctx.refer('vrrp_instance', n, words[0]!.pos, 'vrrp_sync_group');
        return n;
      }),
    ).required(),
    notify_master: value(script).feature('notify-script'),
    notify_backup: value(script).feature('notify-script'),
    notify_fault: value(script).feature('notify-script'),
    notify_stop: value(script).feature('notify-script'),
    notify: value(script).feature('notify-script'),
    smtp_alert: value(optBool).feature('notify-mail'),
  },
  { header: namedHeader, feature: 'vrrp-sync', slot: 'vrrp_sync_group', defines: { kind: 'vrrp_sync_group', name: (v: { name: string }) => v.name } },
);

export const vrrpRootFields = {
  vrrp_instance: sub(vrrpInstanceSchema).repeatable(),
  vrrp_sync_group: sub(vrrpSyncGroupSchema).repeatable(),
};

type Instance = ReturnType<typeof vrrpInstanceSchema.parseBlock> extends infer T ? Exclude<T, typeof INVALID> : never;

function familyOf(v: Instance): Family | undefined {
  return v.virtualIpaddress?.[0]?.family;
}

function checkInstance(v: Instance, ctx: CheckCtx): void {
  const vips = v.virtualIpaddress ?? [];
  const fam = familyOf(v);
  for (const vip of vips) {
    if (vip.family !== fam) {
      ctx.diags.error(
        'ALIVED_CONFIG_CONFLICT',
        v.pos,
        `vrrp_instance ${v.name}: virtual_ipaddress mixes IPv4 and IPv6 (${vips[0]!.address} and ${vip.address}); put the other family in virtual_ipaddress_excluded or another instance`,
      );
      break;
    }
  }
  if (v.nopreempt && v.preempt) {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `vrrp_instance ${v.name}: both nopreempt and preempt are set`);
  }
  const version = v.version;
  if (version === 3 && v.authentication) {
    ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.authentication.pos, `vrrp_instance ${v.name}: VRRPv3 has no authentication; remove the authentication block or use version 2`);
  }
}

/** Checks across instances: a VRID may be used once per interface and address family. */
export function checkVrrpRoot(model: { vrrpInstance?: Instance[] }, ctx: CheckCtx): void {
  const seen = new Map<string, Instance>();
  for (const inst of model.vrrpInstance ?? []) {
    const fam = familyOf(inst) ?? 4;
    const key = `${inst.interface}\0${fam}\0${inst.virtualRouterId}`;
    const prev = seen.get(key);
    if (prev) {
      ctx.diags.error(
        'ALIVED_CONFIG_CONFLICT',
        inst.pos,
        `vrrp_instance ${inst.name}: virtual_router_id ${inst.virtualRouterId} is already used on ${inst.interface} (IPv${fam}) by vrrp_instance ${prev.name} at line ${prev.pos.line}`,
      );
    } else seen.set(key, inst);
  }
}
