import type { IncomingHttpHeaders } from 'node:http';

/**
 * The messages between the daemon's thread (server.ts: routing, the
 * routes' handlers, the status) and the API thread (api-thread.ts: the
 * listeners, connections, limits, the token, shared answers, event-stream
 * clients). The API thread answers what it can without the daemon's thread
 * (refusals, and the shared answers routes allow: /v1/status, /metrics), so
 * a scrape is not held by what holds the daemon's event loop (the checks,
 * its garbage collector).
 */

/** The API settings as the API thread takes them (files read and listeners judged on the daemon's thread). */
export interface ThreadSettings {
  readonly socket: { readonly path: string; readonly mode: number; readonly group: string | null } | null;
  readonly tcp: readonly ThreadTcpListener[];
  /** sha256 of the bearer token: the API thread compares digests */
  readonly tokenDigest: Uint8Array | null;
  readonly tls: { readonly cert: Uint8Array; readonly key: Uint8Array } | null;
  readonly maxConnections: number;
}

export interface ThreadTcpListener {
  readonly host: string;
  readonly port: number;
  /** `127.0.0.1:9650`, `[::1]:9650` */
  readonly name: string;
  /** why it may not be opened (tcpListenerProblem), or null */
  readonly problem: string | null;
}

export interface ThreadLimits {
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly requestTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly maxStreamBacklogBytes: number;
}

export interface ThreadAddresses {
  readonly socket: string | null;
  readonly tcp: readonly { readonly host: string; readonly port: number }[];
}

/** How long an answer may be given to other requests (ApiResponse.shared, as sent). */
export interface SharedFor {
  readonly maxAgeMs: number;
  readonly staleMs: number;
  readonly ageMs: number;
}

/** An answer from the daemon's thread. */
export type WireAnswer =
  | {
      readonly kind: 'body';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Uint8Array | string;
      readonly gzip?: Uint8Array;
      /** the answer may be given to other GETs of the same path and query */
      readonly shared?: SharedFor & { readonly version: number };
    }
  /** the answer the API thread holds as `version` is still the one: only its age is new */
  | { readonly kind: 'same'; readonly shared: SharedFor & { readonly version: number } }
  /** an event stream opened: the events follow as `event` messages */
  | { readonly kind: 'stream' };

export type ToThread =
  /** the listeners to have (the first: all open or none); answered by `configured` */
  | { readonly type: 'configure'; readonly seq: number; readonly settings: ThreadSettings; readonly limits: ThreadLimits; readonly initial: boolean }
  /** closes every listener and connection; answered by `stopped` */
  | { readonly type: 'stop'; readonly seq: number }
  | { readonly type: 'answer'; readonly id: number; readonly answer: WireAnswer }
  /** text to write on an event stream (whole SSE messages) */
  | { readonly type: 'event'; readonly id: number; readonly text: string }
  /** the daemon's thread ends a stream */
  | { readonly type: 'end'; readonly id: number };

export interface ThreadRequest {
  readonly type: 'request';
  readonly id: number;
  readonly method: string;
  /** as sent: path and query */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly transport: 'unix' | 'tcp';
  /** the body's text (at most maxBodyBytes), undefined when empty */
  readonly body: string | undefined;
  /** a GET or HEAD: the version of the shared answer the API thread holds for its path and query (0: none) */
  readonly holds: number;
  /** asked to renew a shared answer: nobody waits for it */
  readonly renew: boolean;
}

export type FromThread =
  | {
      readonly type: 'configured';
      readonly seq: number;
      readonly addresses: ThreadAddresses;
      readonly error?: { readonly code: string; readonly message: string };
    }
  | { readonly type: 'stopped'; readonly seq: number }
  | ThreadRequest
  /** an event-stream client left, or was dropped */
  | { readonly type: 'closed'; readonly id: number }
  | {
      readonly type: 'log';
      readonly level: 'info' | 'warn' | 'error';
      readonly fields: Readonly<Record<string, unknown>>;
      readonly msg: string;
    };
