import { ALIVED_VERSION, bareFlag, block, int, map, name, one, oneOf, value, withOptions, type AlivedPlugin } from '../../core/sdk';

/**
 * `FILE_CHECK { track_file <NAME> ... }`: the real server follows the number
 * in a file declared by a top-level `track_file <NAME> { }` block
 * (check_file.c). It takes none of the common checker keywords.
 */

export interface FileWeight {
  readonly weight: number;
  /** `reverse`: a higher value in the file lowers the weight */
  readonly reverse: boolean;
}

/** `track_file <NAME>`: a reference to a top-level track_file block */
const trackFileRef = map(one(name), (n, words, ctx) => {
  ctx.refer('track_file', n, words[0]!.pos, 'FILE_CHECK');
  return n;
});

const fileWeight = map(
  withOptions([int({ min: -2147483647, max: 2147483647 }), oneOf(['reverse', 'noreverse'] as const)], {}, { required: 1 }),
  (v): FileWeight => ({ weight: v.args[0]!, reverse: v.args[1] === 'reverse' }),
);

export const fileCheckSchema = block({
  track_file: value(trackFileRef).required().doc('the track_file block whose file to follow'),
  weight: value(fileWeight).doc("multiplier of the file's value, optionally reversed; default the track_file's weight"),
  dynamic: value(bareFlag)
    .default(false)
    .validate((_v, ctx, stmt) => {
      ctx.diags.warning(
        'ALIVED_CONFIG_NO_EFFECT',
        stmt.name.pos,
        "'dynamic' is in keepalived's manual, but keepalived 2.2.8 does not accept it in FILE_CHECK; the file's value always adjusts the weight",
      );
    })
    .doc('documented by keepalived, not implemented by it; accepted with a warning'),
});

const plugin: AlivedPlugin = {
  name: 'check-file',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'FILE_CHECK', schema: fileCheckSchema });
  },
};

export default plugin;
