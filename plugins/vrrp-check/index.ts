import {
  ALIVED_VERSION,
  block,
  duration,
  flag,
  int,
  trackerHeader,
  trackerWeight,
  trackReference,
  value,
  word,
  type AlivedPlugin,
  type ArgsParser,
  type ExtensionValue,
  type Pos,
  type TrackReference,
} from '../../core/sdk';
import { createCheckTracker, type VrrpCheckConfig } from './tracker';

export { createCheckTracker, CheckResultCount, type CheckTrackerOptions, type VrrpCheckConfig } from './tracker';

/**
 * `vrrp_check NAME { <CHECKER> { ... } interval N timeout N weight N rise N fall N }`
 * and `track_check { NAME [weight N [reverse]] }` in vrrp_instance and
 * vrrp_sync_group: any checker that runs inside a real_server (TCP_CHECK,
 * HTTP_GET, MYSQL_CHECK, the presets, a third-party plugin's) moves VRRP
 * priority, as a vrrp_script would, without a script. An alived extension:
 * keepalived has no such block.
 */

const INT32_MAX = 2147483647;

/** the range of a weight, here and in the track list's entries */
const WEIGHT = { min: -254, max: 254 };

/** checkers that connect to a port and have no default one: in a vrrp_check there is no real server to take it from */
const NEEDS_PORT = new Set(['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'SMTP_CHECK', 'UDP_CHECK']);

export const vrrpCheckSchema = block(
  {
    interval: word(duration({ min: 0.01, max: 86400 }))
      .default(1)
      .doc('seconds between checks (from the start of each); default 1'),
    timeout: word(duration({ min: 0.001, max: 86400 })).doc("seconds one check may take; default the checker's connect_timeout, else the interval"),
    weight: value(trackerWeight(WEIGHT)).default({ value: 0, reverse: false }).doc('-254..254 [reverse]; 0 (default): FAULT while the check fails'),
    rise: word(int({ min: 1, max: INT32_MAX }))
      .default(1)
      .doc('successes before up; default 1'),
    fall: word(int({ min: 1, max: INT32_MAX }))
      .default(1)
      .doc('failures before down; default 1'),
    init_fail: value(flag).doc('start down, not unknown, until the first result'),
  },
  {
    header: trackerHeader,
    // every checker registered for real_server may stand here
    slot: 'real_server',
    defines: { kind: 'vrrp_check', name: (v: { name: string }) => v.name },
    check: (v: VrrpCheckConfig & { extensions: ExtensionValue[]; pos: Pos }, ctx) => {
      if (v.extensions.length === 0) {
        ctx.diags.error(
          'ALIVED_CONFIG_MISSING_REQUIRED',
          v.pos,
          `vrrp_check ${v.name} has no checker: put one checker block in it (TCP_CHECK, HTTP_GET, MYSQL_CHECK, ...)`,
        );
        return;
      }
      if (v.extensions.length > 1) {
        ctx.diags.error(
          'ALIVED_CONFIG_CONFLICT',
          v.extensions[1]!.pos,
          `vrrp_check ${v.name} runs one checker; '${v.extensions[1]!.keyword}' is a second one (after '${v.extensions[0]!.keyword}'): use another vrrp_check`,
        );
        return;
      }
      const e = v.extensions[0]!;
      const inner = e.value as { connectPort?: number };
      if (NEEDS_PORT.has(e.keyword) && inner.connectPort === undefined) {
        ctx.diags.error(
          'ALIVED_CONFIG_MISSING_REQUIRED',
          e.pos,
          `${e.keyword} in vrrp_check ${v.name} needs connect_port: there is no real server to take the port from`,
        );
      }
    },
  },
);

export type TrackCheckEntry = TrackReference;

/** `<CHECK_NAME> [weight <-254..254> [reverse|noreverse]]` */
export const trackCheckEntry: ArgsParser<TrackCheckEntry> = trackReference({
  kind: 'track_check',
  describe: '<VRRP_CHECK>',
  refersTo: 'vrrp_check',
  weight: WEIGHT,
  wording: 'plugin',
});

const plugin: AlivedPlugin = {
  name: 'vrrp-check',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerTracker({
      keyword: 'vrrp_check',
      schema: vrrpCheckSchema,
      defines: 'vrrp_check',
      reference: { keyword: 'track_check', entry: trackCheckEntry },
      create: (config, ctx) => createCheckTracker(config as VrrpCheckConfig, ctx, { findChecker: (k) => api.findChecker(k) }),
    });
  },
};

export default plugin;
