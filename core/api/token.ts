import { createHash, timingSafeEqual } from 'node:crypto';
import * as util from 'node:util';

/**
 * The bearer token of the TCP listeners, held as its SHA-256 digest. It
 * never shows: JSON, util.inspect and String() give `[redacted]`. The API
 * thread gets the digest (digestOf) and makes its own (fromDigest).
 */
export class ApiToken {
  readonly #digest: Buffer;

  constructor(token: string) {
    this.#digest = createHash('sha256').update(token).digest();
  }

  static fromDigest(digest: Uint8Array): ApiToken {
    const t = new ApiToken('');
    t.#digest.set(digest);
    return t;
  }

  /** the digest, for the API thread */
  static digestOf(t: ApiToken): Uint8Array {
    return new Uint8Array(t.#digest);
  }

  /** whether an Authorization header carries this token (`Bearer TOKEN`), in constant time */
  matches(authorization: string | undefined): boolean {
    const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    // digests of equal length: the comparison takes the same time whatever was sent
    const sent = createHash('sha256')
      .update(m ? m[1]! : '')
      .digest();
    return timingSafeEqual(sent, this.#digest) && m !== null;
  }

  equals(other: ApiToken | null): boolean {
    return other !== null && timingSafeEqual(other.#digest, this.#digest);
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [util.inspect.custom](): string {
    return '[redacted]';
  }
}
