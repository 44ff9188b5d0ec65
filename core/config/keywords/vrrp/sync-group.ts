import { block, lines, value, type CheckCtx } from '../../schema';
import { flag, name, optBool, script } from '../../values';
import { namedHeader, wordList } from '../common';
import { checkDuplicateTracks, trackBfdEntry, trackInterfaceEntry, type TrackBfdEntry, type TrackInterfaceEntry } from './entries';

/** vrrp_sync_group */

/** `group { VI_1 VI_2 ... }`: names of vrrp_instances, on one line or many */
export function instanceList(usedBy: string) {
  return wordList(name, { allowEmpty: false, onWord: (n, w, ctx) => ctx.refer('vrrp_instance', n, w.pos, usedBy) });
}

export const vrrpSyncGroupSchema = block(
  {
    group: instanceList('vrrp_sync_group').required().doc('the vrrp_instances that change state together'),
    track_interface: lines(trackInterfaceEntry).feature('vrrp-track'),
    track_bfd: lines(trackBfdEntry).feature('bfd'),
    notify_master: value(script).feature('notify-script'),
    notify_backup: value(script).feature('notify-script'),
    notify_fault: value(script).feature('notify-script'),
    notify_stop: value(script).feature('notify-script'),
    notify: value(script).feature('notify-script'),
    notify_priority_changes: value(optBool).feature('notify-script'),
    smtp_alert: value(optBool).feature('notify-mail'),
    sync_group_tracking_weight: value(flag).alias('global_tracking', {
      deprecated: true,
      note: 'use track_interface, track_script and track_file on the sync group',
    }),
  },
  {
    header: namedHeader,
    feature: 'vrrp-sync',
    slot: 'vrrp_sync_group',
    defines: { kind: 'vrrp_sync_group', name: (v: { name: string }) => v.name },
    check: (v: { name: string; trackInterface?: TrackInterfaceEntry[]; trackBfd?: TrackBfdEntry[] }, ctx: CheckCtx): void =>
      checkDuplicateTracks(v, `vrrp_sync_group ${v.name}`, ctx),
  },
);
