/**
 * A vrrp_script's verdict from its runs, counted exactly as keepalived
 * 2.2.8 counts them (vrrp_scheduler.c vrrp_script_child_thread(),
 * vrrp_init_script(), vrrp.c clear_diff_script()): one number, `result`,
 * from 0 to rise + fall - 1; the script is OK at rise and above.
 *
 * - A success below rise - 1 counts up; at rise - 1 it turns OK; in OK it
 *   goes back to the top, rise + fall - 1.
 * - A failure above rise counts down; at rise it turns KO; in KO it stays 0.
 * - At startup (keepalived's init state) result is rise - 1 and the first
 *   run decides, whatever rise and fall say: a success is OK at once, a
 *   failure KO at once.
 * - init_fail: KO from the start (result 0); rise successes turn it OK.
 * - After a reload that changed the block, the old verdict goes on: OK at
 *   the top, KO at 0.
 */

export type ResultStart = 'init' | 'failed' | { readonly up: boolean };

export class ScriptResult {
  /** keepalived's vscript->result */
  result: number;
  /** keepalived's SCRIPT_INIT_STATE_INIT: no run has finished yet */
  private init: boolean;

  constructor(
    readonly rise: number,
    readonly fall: number,
    start: ResultStart,
  ) {
    if (start === 'init') {
      this.init = true;
      this.result = rise - 1;
    } else if (start === 'failed') {
      this.init = false;
      this.result = 0;
    } else {
      this.init = false;
      this.result = start.up ? rise + fall - 1 : 0;
    }
  }

  /** OK, KO, or undefined before the first run in the init state */
  get up(): boolean | undefined {
    return this.init ? undefined : this.result >= this.rise;
  }

  /** Counts one run; returns the verdict when it turned (or was first decided), else undefined. */
  record(success: boolean): boolean | undefined {
    const wasInit = this.init;
    this.init = false;
    const { rise, fall } = this;
    if (success) {
      if (this.result < rise - 1) {
        this.result++;
        return undefined;
      }
      if (this.result === rise + fall - 1) return undefined;
      const turned = this.result < rise;
      this.result = rise + fall - 1;
      return turned ? true : undefined;
    }
    if (this.result > rise) {
      this.result--;
      return undefined;
    }
    const turned = this.result === rise || wasInit;
    this.result = 0;
    return turned ? false : undefined;
  }
}
