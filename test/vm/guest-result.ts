/** One finished test of the guest side, as test/vm/reporter.ts writes it. */
export interface GuestResult {
  readonly name: string;
  readonly file: string | undefined;
  readonly nesting: number;
  readonly ok: boolean;
  readonly skipped: boolean;
  readonly durationMs: number;
  readonly error: string | undefined;
}
