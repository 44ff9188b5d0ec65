import { ALIVED_VERSION, block, INVALID, map, name, one, optBool, value, type AlivedPlugin } from '../../core/sdk';

/** `name <BFD>`: a reference to a top-level bfd_instance; BFD_INAME_MAX is 32 with the NUL */
const bfdRef = map(one(name), (n, words, ctx) => {
  if (n.length > 31) {
    ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', words[0]!.pos, `BFD name '${n}' is longer than 31 characters`);
    return INVALID;
  }
  ctx.refer('bfd_instance', n, words[0]!.pos, 'BFD_CHECK');
  return n;
});

/**
 * `BFD_CHECK { name <BFD> }`: the real server follows the state of a
 * `bfd_instance` (check_bfd.c). It takes none of the common checker keywords
 * but alpha.
 */
export const bfdCheckSchema = block({
  name: value(bfdRef).required().doc('the bfd_instance to follow'),
  alpha: value(optBool).doc('start the real server down until the BFD session is up'),
});

const plugin: AlivedPlugin = {
  name: 'check-bfd',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'BFD_CHECK', schema: bfdCheckSchema });
  },
};

export default plugin;
