import { createLogger, type LogRecord, type Logger } from '../../core/log/logger';

/** A logger that keeps its records, for assertions. */
export function memoryLogger(level: 'debug' | 'info' = 'debug'): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { log: createLogger([{ write: (r) => records.push(r) }], level), records };
}
