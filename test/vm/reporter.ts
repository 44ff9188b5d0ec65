/**
 * A node:test reporter for the guest side of the VM tests: one JSON line
 * per finished test (name, file, nesting, ok, duration, error), which the
 * host side reads back from the shared run directory and turns into tests
 * of its own.
 */

import type { GuestResult } from './guest-result';

interface TestEvent {
  type: string;
  data: {
    name: string;
    file?: string;
    nesting: number;
    skip?: unknown;
    todo?: unknown;
    details?: { duration_ms?: number; error?: { message?: string; stack?: string; cause?: { message?: string; stack?: string } } };
  };
}

function errorText(e: NonNullable<NonNullable<TestEvent['data']['details']>['error']>): string {
  // the runner wraps a test's own error: its cause carries the assertion
  const inner = e.cause && typeof e.cause === 'object' ? e.cause : e;
  return String(inner.stack ?? inner.message ?? e.message ?? 'failed');
}

async function* reporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  for await (const ev of source) {
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    const d = ev.data;
    const r: GuestResult = {
      name: d.name,
      file: d.file,
      nesting: d.nesting,
      ok: ev.type === 'test:pass',
      skipped: Boolean(d.skip) || Boolean(d.todo),
      durationMs: d.details?.duration_ms ?? 0,
      error: ev.type === 'test:fail' && d.details?.error ? errorText(d.details.error) : undefined,
    };
    yield `${JSON.stringify(r)}\n`;
  }
}

// node loads a reporter module's export itself (a CommonJS default export would be an object)
export = reporter;
