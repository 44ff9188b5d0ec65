/**
 * The compiler's long passes (the preprocessor, the block tree, the schema)
 * are generators: they yield where they may pause, when their slicer says the
 * current slice of time is used up. Run in slices (a reload in the daemon,
 * `alived -t`), each pause gives the event loop a turn (a setImmediate), so
 * signals, status requests and timers are answered while a large config
 * compiles; run to the end (the synchronous entry points, tests), they never
 * pause.
 */

/** a pass that may pause: it yields nothing, it returns its result */
export type Steps<T> = Generator<void, T, undefined>;

/** how long a slice runs before the event loop gets a turn */
export const DEFAULT_SLICE_MS = 10;

/** calls to due() between two readings of the clock: a pass calls it per line, and most calls cost a decrement */
const CHECK_EVERY = 64;

export class Slicer {
  /** times the passes paused */
  pauses = 0;
  private sliceStart = performance.now();
  private countdown = CHECK_EVERY;

  /** sliceMs: Infinity never pauses; 0 pauses at every reading of the clock (tests) */
  constructor(readonly sliceMs: number = DEFAULT_SLICE_MS) {}

  /** Whether the slice is used up: the pass should yield. */
  due(): boolean {
    if (--this.countdown > 0) return false;
    this.countdown = CHECK_EVERY;
    return performance.now() - this.sliceStart >= this.sliceMs;
  }

  /** The pause: the event loop runs what is pending (I/O, timers, signals), then a new slice starts. */
  async pause(): Promise<void> {
    this.pauses++;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }
}

/** the slicer of the synchronous entry points: never due */
export const NEVER_PAUSE: Slicer = new Slicer(Infinity);

/** Runs a pass to its end without pausing. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs a pass, pausing at each of its yields. */
export async function runInSlices<T>(steps: Steps<T>, slicer: Slicer): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await slicer.pause();
  }
}
