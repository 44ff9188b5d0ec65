import { after } from 'node:test';
import { Lab, removeStaleLabs, type LabSpec } from '../../core/lab/netns';
import { keepalivedAvailable } from '../../core/lab/vrrp-lab';

export { Lab, type LabHost, type LabSpec } from '../../core/lab/netns';

let sweptStale = false;

/**
 * Builds a lab for the current test file and destroys it when the file's
 * tests end, failed or not. Labs a crashed earlier run left are removed
 * first, once per process.
 */
export async function useLab(spec: LabSpec): Promise<Lab> {
  if (!sweptStale) {
    sweptStale = true;
    removeStaleLabs();
  }
  const lab = await Lab.create(spec);
  after(() => lab.destroy());
  process.once('exit', () => void lab.destroy());
  return lab;
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined, at most `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Why tests that need keepalived as their peer cannot run here, or false when
 * they can. CI installs keepalived (scripts/setup-debian.sh): its absence
 * there throws, a failure rather than a skip.
 */
export function keepalivedMissing(what: string): string | false {
  if (keepalivedAvailable()) return false;
  if (process.env.CI) throw new Error(`keepalived is not installed: ${what} cannot run`);
  return 'keepalived is not installed (apt-get install keepalived)';
}
