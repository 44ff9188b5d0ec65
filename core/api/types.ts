import type { IncomingHttpHeaders } from 'node:http';

/*
 * The HTTP API's contract: the routes the core serves, the routes plugins
 * add (api.registerRoute: /metrics is the metrics plugin's), and the
 * daemon's actions the unix socket alone accepts.
 *
 * Core routes (docs/status.md):
 *   GET    /v1/status                 the StatusDocument
 *   GET    /v1/instances/NAME         one InstanceStatusDoc
 *   GET    /v1/virtual-servers        { virtualServers: VirtualServerStatusDoc[] }
 *   GET    /v1/timeline?since=&limit= { events: TimelineEvent[] }
 *   GET    /v1/events?since=          Server-Sent Events: `id: SEQ`, `event: timeline`, `data: TimelineEvent`
 *   GET    /v1/plugins                { plugins: PluginInfo[] }
 *   POST   /v1/notify/test            body { notifier?: string } -> { results: NotifyTestResult[] }   (unix socket only)
 *   GET    /v1/outbox                 { entries: OutboxItem[] }
 *   POST   /v1/outbox/retry           body { id?: string } -> { retried: number }                  (unix socket only)
 *   DELETE /v1/outbox/ID              { dropped: string }                                          (unix socket only)
 * Every error is JSON: { error: { code: 'ALIVED_API_...', message } }.
 */

export interface ApiRequest {
  readonly method: string;
  /** the path without the query: `/v1/instances/VI_1` */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** how it came: the unix socket (local, trusted by its mode) or TCP (token) */
  readonly transport: 'unix' | 'tcp';
  /** the parsed JSON body of a POST (undefined without one) */
  readonly body: unknown;
  /** the path's parameters, by the names in the route's `:name` segments */
  readonly params: Readonly<Record<string, string>>;
}

export interface ApiResponse {
  readonly status: number;
  /** default application/json; an object body is sent as JSON */
  readonly contentType?: string;
  /**
   * A Buffer over a SharedArrayBuffer reaches the API thread without being
   * copied (large shared answers); it must not be written to once returned.
   */
  readonly body: string | Buffer | object;
  /**
   * The same body compressed with gzip, made by the route (once for many
   * readers): sent instead, with `Content-Encoding: gzip`, to a client whose
   * Accept-Encoding takes gzip (Prometheus's does).
   */
  readonly gzip?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * This answer may be given to every GET of the same path and query, over
   * any listener, without asking the route again: for `maxAgeMs` after it
   * was made (`ageMs` ago), then for `staleMs` more while the route is asked
   * for the next (stale while revalidate). The API thread gives it without
   * the daemon's thread, so a scrape is not held by what holds that
   * thread. Only for answers that depend on nothing else of the request
   * (the gzip aside).
   */
  readonly shared?: { readonly maxAgeMs: number; readonly staleMs?: number; readonly ageMs?: number };
}

/** A route a plugin adds to the API (GET only over TCP; others over the unix socket only). */
export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** `/metrics`, `/v1/my-plugin/:name`: fixed segments and `:param` segments */
  readonly path: string;
  /** one line for the API's index and docs */
  readonly description: string;
  handle(req: ApiRequest): ApiResponse | Promise<ApiResponse>;
}

export interface NotifyTestResult {
  /** the notifier: `webhook:ops`, `smtp_alert:keepalived` */
  readonly id: string;
  readonly ok: boolean;
  /** how long the delivery took, ms */
  readonly ms: number;
  readonly error?: string;
  /** the notifier does not take test notifications (notify scripts and FIFOs); `error` says why */
  readonly skipped?: boolean;
}

/** An event waiting in the outbox for one notifier. */
export interface OutboxItem {
  readonly id: string;
  readonly notifier: string;
  readonly sequence: number;
  readonly acceptedAt: number;
  /** `vrrp VI_1 BACKUP -> MASTER` */
  readonly summary: string;
  readonly attempts: number;
  readonly lastError: string | null;
}

/** What the daemon does on request (the unix socket's POST and DELETE routes). */
export interface DaemonActions {
  /** a test message to one notifier, or to every one that takes it, through the real delivery pipeline */
  notifyTest(notifier?: string): Promise<readonly NotifyTestResult[]>;
  outbox(): readonly OutboxItem[];
  /** the next attempt of one entry (or of all) now instead of after its backoff; the number that will be tried */
  outboxRetry(id?: string): number;
  /** removes one entry for good (from disk too); false when there is none by that id */
  outboxDrop(id: string): Promise<boolean>;
}
