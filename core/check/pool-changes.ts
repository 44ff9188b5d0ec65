import type { Logger } from '../log/logger';
import type { VirtualServerPool, VirtualServerState } from './pool';

/**
 * The pools that changed, handed to `onPoolChange` once per burst: every
 * change of a virtual server's states marks its pool, and one microtask
 * later each marked pool that is still in the config goes out once.
 */
export class PoolChanges {
  private readonly dirty = new Set<VirtualServerState>();
  private flushQueued = false;
  /** whether pools reach the kernel, and who takes their changes: the daemon sets them again when a reload brings the first virtual_server */
  private programmed: boolean;
  private onPoolChange: ((pool: VirtualServerPool) => void) | undefined;
  /** said after a pool change in the log: nothing, or that the pool is not programmed */
  suffix: string;

  constructor(
    private readonly log: Logger,
    /** whether a virtual server is still in the config */
    private readonly current: (vs: VirtualServerState) => boolean,
    programmed: boolean,
    onPoolChange: ((pool: VirtualServerPool) => void) | undefined,
  ) {
    this.programmed = programmed;
    this.onPoolChange = onPoolChange;
    this.suffix = programmed ? '' : ' (pool not programmed)';
  }

  get isProgrammed(): boolean {
    return this.programmed;
  }

  /** Pools reach the kernel from now on (or not), their changes going to `onPoolChange`. */
  setProgramming(programmed: boolean, onPoolChange: ((pool: VirtualServerPool) => void) | undefined): void {
    this.programmed = programmed;
    this.onPoolChange = onPoolChange;
    this.suffix = programmed ? '' : ' (pool not programmed)';
  }

  mark(vs: VirtualServerState): void {
    if (!this.onPoolChange) return;
    this.dirty.add(vs);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** a virtual server leaves: a change marked for it is dropped (its removal goes out at once, through emit()) */
  forget(vs: VirtualServerState): void {
    this.dirty.delete(vs);
  }

  flush(): void {
    this.flushQueued = false;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const vs of dirty) if (this.current(vs)) this.emit(vs.pool());
  }

  emit(pool: VirtualServerPool): void {
    try {
      this.onPoolChange?.(pool);
    } catch (err) {
      this.log.error({ err, vs: pool.virtualServer }, 'pool change handler threw');
    }
  }
}
