import type { Logger } from '../log/logger';

/** the umask alived started with, once a config set another */
let original: number | undefined;
/** global_defs umask, while one is in force */
let configured: number | undefined;

/**
 * global_defs umask: the file creation mask of the main process, as
 * keepalived sets its own (global_parser.c), so the files the config makes
 * alived create (notify FIFOs, the outbox's lock, ...) get their mode less
 * the mask. It only ever takes bits away: alived's private files (the
 * signal dumps, the outbox entries, every temporary file) are set to their
 * exact mode (0600) whatever the umask, and a mode alived asks for is never
 * widened. A reload applies a new mask; one without the keyword puts back
 * the mask alived started with.
 */
export function applyUmask(mask: number | undefined, log: Logger): void {
  if (mask === configured) return;
  if (mask === undefined) {
    if (original !== undefined) process.umask(original);
    configured = undefined;
    log.info({ umask: octal(original ?? 0) }, `umask back to ${octal(original ?? 0)}`);
    return;
  }
  const before = process.umask(mask);
  original ??= before;
  configured = mask;
  log.info({ umask: octal(mask) }, `umask ${octal(mask)}`);
}

/**
 * The mode a file alived creates with an explicit mode gets (mkfifo -m,
 * which the process umask does not reach): `mode` less the configured
 * umask; `mode` itself when the config sets none.
 */
export function maskedMode(mode: number): number {
  return configured === undefined ? mode : mode & ~configured;
}

function octal(n: number): string {
  return '0' + n.toString(8).padStart(3, '0');
}
