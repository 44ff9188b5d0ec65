import * as os from 'node:os';
import { nativeAddon, PacketSocketError } from '../vrrp/packet-socket';

/**
 * keepalived's signal functions and their numbers, as `keepalived
 * --signum=NAME` prints them (keepalived's lib/signals.c get_signum()), and
 * a way to catch the real-time ones, which Node's process.on() cannot:
 * process.on('SIGRTMIN+2') or process.on(36) only adds an event listener
 * that nothing emits, and the signal still ends the process.
 *
 * Two of them are real-time signals: JSON is SIGRTMIN+2 and STATS_CLEAR
 * SIGRTMAX-1. Their numbers depend on the C library (glibc keeps the first
 * two real-time signals for its threads, so SIGRTMIN is 34 there and 35 on
 * musl): the project's addon reports them as the libc alived runs on sets
 * them (native/signal.c). TDUMP exists only in keepalived's debug builds and
 * is unknown here, as in Debian's keepalived.
 */

export const SIGNAL_FUNCTIONS = ['STOP', 'RELOAD', 'DATA', 'STATS', 'STATS_CLEAR', 'JSON'] as const;
export type SignalFunction = (typeof SIGNAL_FUNCTIONS)[number];

interface SignalAddon {
  realtimeSignals(): { min: number; max: number };
  watchSignal(signum: number, onSignal: (signum: number) => void): object;
  closeSignal(handle: object): void;
}

/** glibc's values, for when the addon is not built (nothing can then catch them either) */
const GLIBC_REALTIME = { min: 34, max: 64 };

function addon(): SignalAddon | undefined {
  try {
    const lib = nativeAddon() as Partial<SignalAddon>;
    return typeof lib.realtimeSignals === 'function' && typeof lib.watchSignal === 'function' ? (lib as SignalAddon) : undefined;
  } catch {
    return undefined;
  }
}

/** SIGRTMIN and SIGRTMAX of this process's C library. */
export function realtimeSignals(): { min: number; max: number } {
  return addon()?.realtimeSignals() ?? GLIBC_REALTIME;
}

/** The number of a signal function (keepalived's names, case as given), or undefined for an unknown name. */
export function signalNumber(name: string): number | undefined {
  const named = os.constants.signals;
  switch (name) {
    case 'STOP':
      return named.SIGTERM;
    case 'RELOAD':
      return named.SIGHUP;
    case 'DATA':
      return named.SIGUSR1;
    case 'STATS':
      return named.SIGUSR2;
    case 'STATS_CLEAR':
      return realtimeSignals().max - 1;
    case 'JSON':
      return realtimeSignals().min + 2;
    default:
      return undefined;
  }
}

/**
 * `alived --signum=NAME`: what keepalived prints (the number and a newline,
 * exit 0; `Unknown sigfunc NAME` on stderr, exit 1).
 */
export function printSignum(name: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  const n = signalNumber(name);
  if (n === undefined) {
    err.write(`Unknown sigfunc ${name}\n`);
    return 1;
  }
  out.write(`${n}\n`);
  return 0;
}

/**
 * Catches a real-time signal: `onSignal` runs on the event loop for each one
 * delivered to the process. Returns the function that stops catching it (its
 * default action, ending the process, is back then). Throws
 * ALIVED_PACKET_ADDON_MISSING when the addon is not built, a RangeError when
 * the number is not a real-time signal.
 */
export function watchRealtimeSignal(signum: number, onSignal: () => void): () => void {
  // throws ALIVED_PACKET_ADDON_MISSING when the addon is not built
  const lib = nativeAddon() as Partial<SignalAddon>;
  if (typeof lib.watchSignal !== 'function' || typeof lib.closeSignal !== 'function') {
    throw new PacketSocketError(
      'the native addon was built from older sources (no watchSignal): rebuild it with `npm run build:native` in the alived checkout',
      {
        code: 'ALIVED_PACKET_ADDON_MISSING',
      },
    );
  }
  const handle = lib.watchSignal(signum, () => onSignal());
  const close = lib.closeSignal;
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    close(handle);
  };
}

/**
 * A signal's job, one run at a time: a signal that comes while it runs
 * makes one more run after it, however many come. A dump signal sent in a
 * loop (`kill -USR1` every few ms) then costs at most two dumps in flight,
 * and the last one written shows the state after the last signal.
 */
export function oneRunAtATime(job: () => Promise<unknown>): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    running = true;
    void job()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (!again) return;
        again = false;
        run();
      });
  };
  return () => {
    if (running) again = true;
    else run();
  };
}
