/**
 * Long work on the daemon's thread (a status document of thousands of
 * instances and real servers, its JSON, the metrics read from it) done in
 * turns of the event loop of about TURN_BUDGET_MS each, so that between
 * them the checks run and the API answers. Time, not a count of items,
 * bounds a turn: items differ in size, and several such jobs may run at
 * once (each then takes its own turn).
 */
export const TURN_BUDGET_MS = 2;

export class TurnBudget {
  private started = performance.now();

  constructor(private readonly budgetMs = TURN_BUDGET_MS) {}

  /** Whether this turn's time is spent: the caller then ends its turn (next()). */
  spent(): boolean {
    return performance.now() - this.started >= this.budgetMs;
  }

  /** Ends the turn: resolves in a later turn of the event loop, where a new budget starts. */
  async next(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.started = performance.now();
  }
}
