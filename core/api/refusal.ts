import { AlivedError, type ErrorCode } from '../errors';

/** An error that answers a request: its code gives the status (errors.ts), unless `status` is another. */
export class Refusal extends AlivedError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly status?: number,
  ) {
    super(code, message);
  }
}
