import { block, sub, word } from '../schema';
import { duration, int, ip, port, oneOf } from '../values';
import { custom, INVALID, name } from '../values';

/** `real_server <IP> <PORT> { ... }`; checkers (TCP_CHECK, ...) come from plugins through the real_server slot. */
export const realServerSchema = block(
  {
    weight: word(int({ min: 0, max: 65535 })).default(1),
  },
  {
    header: custom('<IP> [<PORT>]', (words, at, keyword, ctx) => {
      if (words.length === 0 || words.length > 2) {
        ctx.diags.error(words.length === 0 ? 'ALIVED_CONFIG_MISSING_VALUE' : 'ALIVED_CONFIG_EXTRA_VALUE', words[2]?.pos ?? at, `${keyword} takes <IP> [<PORT>]`);
        return INVALID;
      }
      const a = ip().parse(words[0]!, ctx);
      const p = words[1] ? port.parse(words[1], ctx) : 0;
      return a === INVALID || p === INVALID ? INVALID : { ...a, port: p };
    }),
    slot: 'real_server',
    feature: 'ipvs',
    blockOptional: true,
  },
);

export const virtualServerSchema = block(
  {
    delay_loop: word(duration({ min: 0.000001 })).default(60),
    lvs_sched: word(oneOf(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'])).alias('lb_algo', { deprecated: true }),
    lvs_method: word(oneOf(['NAT', 'DR', 'TUN'])).alias('lb_kind', { deprecated: true }),
    protocol: word(oneOf(['TCP', 'UDP', 'SCTP'])).default('TCP'),
    real_server: sub(realServerSchema).repeatable(),
  },
  {
    header: custom('<IP> <PORT> | fwmark <INT> | group <NAME>', (words, at, keyword, ctx) => {
      if (words[0]?.text === 'fwmark' || words[0]?.text === 'group') {
        if (words.length !== 2) {
          ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', words[0]!.pos, `${keyword} ${words[0]!.text} takes one value`);
          return INVALID;
        }
        if (words[0]!.text === 'fwmark') {
          const m = int({ min: 1, max: 4294967295 }).parse(words[1]!, ctx);
          return m === INVALID ? INVALID : { fwmark: m };
        }
        const g = name.parse(words[1]!, ctx);
        if (g === INVALID) return INVALID;
        ctx.refer('virtual_server_group', g, words[1]!.pos, `virtual_server group ${g}`);
        return { group: g };
      }
      if (words.length !== 2) {
        ctx.diags.error(words.length < 2 ? 'ALIVED_CONFIG_MISSING_VALUE' : 'ALIVED_CONFIG_EXTRA_VALUE', words[2]?.pos ?? at, `${keyword} takes <IP> <PORT>, fwmark <INT> or group <NAME>`);
        return INVALID;
      }
      const a = ip().parse(words[0]!, ctx);
      const p = port.parse(words[1]!, ctx);
      return a === INVALID || p === INVALID ? INVALID : { ...a, port: p };
    }),
    slot: 'virtual_server',
    feature: 'ipvs',
  },
);

export const virtualServerGroupSchema = block({}, { feature: 'ipvs' });

export const lvsRootFields = {
  virtual_server: sub(virtualServerSchema).repeatable(),
};
