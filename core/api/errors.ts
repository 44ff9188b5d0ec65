import type { ErrorCode } from '../errors';

/**
 * The HTTP status of each error code an API response can carry; any other
 * code is a 500. A route answers with one by throwing an AlivedError with
 * the code: `throw new AlivedError('ALIVED_API_NOT_FOUND', 'no instance VI_9')`.
 */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  ALIVED_API_BAD_REQUEST: 400,
  ALIVED_API_UNAUTHORIZED: 401,
  ALIVED_API_FORBIDDEN: 403,
  ALIVED_API_NOT_FOUND: 404,
  ALIVED_API_METHOD: 405,
  ALIVED_API_TOO_LARGE: 413,
  ALIVED_API_BUSY: 429,
  ALIVED_STATUS_UNAVAILABLE: 503,
  ALIVED_API_FAILED: 500,
};

export function statusOf(code: string): number {
  return STATUS_OF[code as ErrorCode] ?? 500;
}

/** The JSON body of every error: `{ error: { code, message } }`. */
export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}
