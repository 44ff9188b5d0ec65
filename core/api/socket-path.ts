import * as path from 'node:path';
import { DEFAULT_STATE_DIR, instanceStateDir } from '../daemon/state-dir';

/** Where the API's unix socket is when nothing else is said. */
export const DEFAULT_SOCKET_DIR = '/run/alived';
export const DEFAULT_SOCKET = `${DEFAULT_SOCKET_DIR}/alived.sock`;

/**
 * The unix socket of a daemon started with these flags (the config's
 * `alived_api { socket PATH }` overrides it). The daemon and the CLI both ask
 * here, so `alived status --instance b` finds the daemon started with
 * `--instance b`, and two daemons never share a socket:
 *
 * - `--state-dir DIR`: DIR/alived.sock;
 * - else `--instance NAME`: /run/alived/alived_NAME.sock;
 * - else /run/alived/alived.sock.
 *
 * `stateDir` is the --state-dir given on the command line. The directories
 * used without one (/var/lib/alived, and /var/lib/alived/instance/NAME under
 * --instance) count as not given, so a caller may pass the state directory
 * it ends up with (CliOptions.stateDir) and get the same answer.
 */
export function defaultSocketPath(flags: { stateDir?: string | undefined; instance?: string | undefined } = {}): string {
  const { stateDir, instance } = flags;
  const implicit =
    stateDir === undefined || path.resolve(stateDir) === DEFAULT_STATE_DIR || (instance !== undefined && path.resolve(stateDir) === instanceStateDir(instance));
  if (!implicit) return path.join(path.resolve(stateDir), 'alived.sock');
  if (instance !== undefined) return `${DEFAULT_SOCKET_DIR}/alived_${instance}.sock`;
  return DEFAULT_SOCKET;
}
