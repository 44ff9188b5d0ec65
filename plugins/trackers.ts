import type { AlivedPlugin } from '../core/sdk';
import trackScript from './track-script';
import trackFile from './track-file';
import trackProcess from './track-process';
import vrrpCheck from './vrrp-check';

/** Built-in tracker plugins (vrrp_script, track_file, vrrp_track_process, vrrp_check). */
export const TRACKER_PLUGINS: readonly AlivedPlugin<any>[] = [trackScript, trackFile, trackProcess, vrrpCheck];
