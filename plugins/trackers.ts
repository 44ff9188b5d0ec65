import type { AlivedPlugin } from '../core/sdk';

/** Built-in tracker plugins (vrrp_script, track_file, vrrp_track_process). */
export const TRACKER_PLUGINS: readonly AlivedPlugin<any>[] = [];
