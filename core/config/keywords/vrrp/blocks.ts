import type { Pos } from '../../diagnostics';
import { block, value, word } from '../../schema';
import { custom, duration, flag, ifname, int, INVALID, ip, map, oneOf, optBool, type ArgsParser, type IpAddress, type WordParser } from '../../values';
import { clip, namedHeader, wordList } from '../common';
import { fail } from './helpers';
import { instanceList } from './sync-group';

/** The other VRRP blocks: track_group, garp_group, linkbeat_interfaces, interface_up_down_delays, bfd_instance */

/** `track_group NAME { group { VI_1 ... } }`: instances that go to FAULT when a static address, route or rule of the group is lost */
export const trackGroupSchema = block(
  { group: instanceList('track_group').required() },
  { header: namedHeader, feature: 'static-net', defines: { kind: 'track_group', name: (v: { name: string }) => v.name } },
);

/** garp_group { garp_interval, gna_interval, interface | interfaces { } } */
export const garpGroupSchema = block(
  {
    garp_interval: word(duration({ min: 0, max: 2147.483647 })).doc('seconds between gratuitous ARPs on these interfaces'),
    gna_interval: word(duration({ min: 0, max: 2147.483647 })).doc('seconds between unsolicited NAs on these interfaces'),
    interface: word(ifname),
    interfaces: wordList(ifname, { allowEmpty: false }),
  },
  {
    feature: 'vrrp',
    check: (v: { garpInterval?: number; gnaInterval?: number; interface?: string; interfaces?: string[]; pos: Pos }, ctx) => {
      if (v.garpInterval === undefined && v.gnaInterval === undefined) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', v.pos, `garp_group needs garp_interval or gna_interval`);
      }
      if (v.interface === undefined && v.interfaces === undefined) {
        ctx.diags.error('ALIVED_CONFIG_MISSING_REQUIRED', v.pos, `garp_group needs interface <NAME> or interfaces { ... }`);
      } else if (v.interface !== undefined && v.interfaces !== undefined) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `garp_group takes interface or interfaces, not both`);
      }
      for (const [k, val] of [
        ['garp_interval', v.garpInterval],
        ['gna_interval', v.gnaInterval],
      ] as const) {
        if (val !== undefined && val >= 1) ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, `${k} ${val} is very large (seconds between messages)`);
      }
    },
  },
);

/** `<INTERFACE> [MII|ETHTOOL|IOCTL]` */
export const linkbeatEntry = map(tuple2(ifname, oneOf(['MII', 'ETHTOOL', 'IOCTL'])), (t) => ({ interface: t[0], type: t[1] }));

/** `<INTERFACE> <DOWN_DELAY> [<UP_DELAY>]`, seconds up to 255; up defaults to down */
export const upDownDelayEntry = custom('<INTERFACE> <DOWN_SECONDS> [<UP_SECONDS>]', (words, at, keyword, ctx) => {
  const d = duration({ min: 0, max: 255 });
  if (words.length < 2)
    return fail(
      ctx,
      words[0]?.pos ?? at,
      `an entry of '${keyword}' needs an interface and a down delay: <INTERFACE> <DOWN_SECONDS> [<UP_SECONDS>]`,
      'ALIVED_CONFIG_MISSING_VALUE',
    );
  if (words.length > 3) return fail(ctx, words[3]!.pos, `unexpected '${clip(words[3]!.text)}' in ${keyword}`, 'ALIVED_CONFIG_EXTRA_VALUE');
  const iface = ifname.parse(words[0]!, ctx);
  const down = d.parse(words[1]!, ctx);
  const up = words[2] ? d.parse(words[2], ctx) : down;
  if (iface === INVALID || down === INVALID || up === INVALID) return INVALID;
  return { interface: iface, down, up, pos: words[0]!.pos };
});

function tuple2<A, B>(a: WordParser<A>, b: WordParser<B>): ArgsParser<[A, B | undefined]> {
  return custom(`${a.describe} [${b.describe}]`, (words, at, keyword, ctx) => {
    if (words.length === 0) return fail(ctx, at, `'${keyword}' entry needs ${a.describe}`, 'ALIVED_CONFIG_MISSING_VALUE');
    if (words.length > 2) return fail(ctx, words[2]!.pos, `unexpected '${clip(words[2]!.text)}' in ${keyword}`, 'ALIVED_CONFIG_EXTRA_VALUE');
    const x = a.parse(words[0]!, ctx);
    const y = words[1] ? b.parse(words[1], ctx) : undefined;
    return x === INVALID || y === INVALID ? INVALID : [x, y];
  });
}

/** bfd_instance NAME { ... }: a BFD session (RFC 5880) that VRRP instances track with track_bfd */
export const bfdInstanceSchema = block(
  {
    neighbor_ip: word(ip()).required().alias('neighbour_ip'),
    source_ip: word(ip()),
    min_rx: word(duration({ min: 0.001, max: 4294967 })).doc('milliseconds (resolution 1us); default 10'),
    min_tx: word(duration({ min: 0.001, max: 4294967 })).doc('milliseconds; default 10'),
    idle_tx: word(duration({ min: 1, max: 4294967 })).doc('milliseconds; default 1000'),
    multiplier: word(int({ min: 1, max: 255 })).doc('missed packets before down; default 5'),
    passive: value(flag),
    ttl: word(int({ min: 1, max: 255 }))
      .alias('hoplimit')
      .doc('default 255 (IPv4), 64 (IPv6)'),
    max_hops: word(int({ min: -1, max: 255 })),
    multihop: value(optBool),
    weight: value(
      custom('<-253..253> [reverse]', (words, at, keyword, ctx) => {
        const w = tuple2(int({ min: -253, max: 253 }), oneOf(['reverse'])).parse(words, at, keyword, ctx);
        return w === INVALID ? INVALID : { weight: w[0], reverse: w[1] === 'reverse' };
      }),
    ),
    vrrp: value(flag).doc('send events only to VRRP'),
    checker: value(flag).doc('send events only to the checkers'),
  },
  {
    header: custom('<NAME>', (words, at, keyword, ctx) => {
      const h = namedHeader.parse(words, at, keyword, ctx);
      if (h !== INVALID && h.name.length > 31) return fail(ctx, words[0]!.pos, `bfd_instance name '${h.name}' is longer than 31 characters`);
      return h;
    }),
    feature: 'bfd',
    defines: { kind: 'bfd_instance', name: (v: { name: string }) => v.name },
    check: (v: { neighborIp: IpAddress; sourceIp?: IpAddress; maxHops?: number; ttl?: number; name: string; pos: Pos }, ctx) => {
      if (v.sourceIp && v.sourceIp.family !== v.neighborIp.family) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `bfd_instance ${v.name}: source_ip and neighbor_ip are of different address families`);
      }
      const ttl = v.ttl ?? (v.neighborIp.family === 4 ? 255 : 64);
      if (v.maxHops !== undefined && v.maxHops > ttl) {
        ctx.diags.error('ALIVED_CONFIG_CONFLICT', v.pos, `bfd_instance ${v.name}: max_hops ${v.maxHops} exceeds the ttl/hoplimit ${ttl}`);
      }
    },
  },
);
