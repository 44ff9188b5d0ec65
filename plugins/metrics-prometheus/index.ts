import {
  acceptsGzip,
  ALIVED_VERSION,
  block,
  errorText,
  int,
  isAlivedError,
  word,
  type AlivedPlugin,
  type ApiRequest,
  type ApiResponse,
  type BlockOf,
  type PluginApi,
  type StatusDocument,
} from '../../core/sdk';
import { FrameBuilder } from './frame';
import { PageThread } from './page-thread';

export { StatusMetrics, VRRP_STATE_VALUES, KEEPALIVED_COUNTERS, CHECK_DURATION_BUCKETS, checkerNames } from './metrics';

/**
 * `GET /metrics`: the status document in Prometheus's text format, made
 * from a snapshot with prom-client in a worker thread (page-thread.ts), and
 * kept for a short while (maxAgeMs) so that many scrapers cost one page.
 * The metrics are documented in docs/metrics.md.
 */

const PLUGIN_NAME = 'metrics-prometheus';

/**
 * How long a page is served before it is made again, by default: the VRRP
 * part of the document is up to about a second old anyway.
 */
export const DEFAULT_MAX_AGE_MS = 1000;
/** A page older than maxAgeMs is still served at once, while a new one is made, up to this many times maxAgeMs. */
export const STALE_FACTOR = 10;

export const metricsOptions = block({
  max_age_ms: word(int({ min: 0, max: 60_000 }))
    .default(DEFAULT_MAX_AGE_MS)
    .doc('how long a page is served before it is made again, ms (0: a new page at every scrape)'),
});

export type MetricsOptions = BlockOf<typeof metricsOptions>;

/**
 * The route's handler for one plugin instance: its own metrics, one page
 * made at a time, and a page cache. A page younger than maxAgeMs is served
 * as it is; an older one, up to STALE_FACTOR times maxAgeMs, is served at
 * once while a new one is made in the background (stale while revalidate);
 * without such a page the request waits for a new one.
 */
function metricsHandler(api: Pick<PluginApi, 'status' | 'log' | 'onClose'>, maxAgeMs: number): (req: ApiRequest) => Promise<ApiResponse> {
  const frames = new FrameBuilder();
  // started at the first scrape: a daemon nobody scrapes has no such thread and does not load prom-client
  const pages = new PageThread(() => frames.resend());
  api.onClose(() => pages.close());
  let failing = false;
  /** a scraper asked for gzip: pages are made gzipped too from then on */
  let gzipAsked = false;
  const scrape = async (): Promise<ApiResponse> => {
    let doc: StatusDocument | null = null;
    try {
      // the document the API's readers share, when pages may be that old anyway
      doc = await api.status.snapshot(maxAgeMs > 0 ? { maxAgeMs } : {});
      if (failing) api.log.info('/metrics: the status is available again');
      failing = false;
    } catch (err) {
      // logged when it starts failing, not at every scrape
      if (!failing) {
        api.log.warn(
          { code: isAlivedError(err) ? err.code : undefined, err },
          `/metrics: no status (${errorText(err)}); serving keepalived_up 0 until there is`,
        );
      }
      failing = true;
    }
    // a thread started now (the first, or after one died) has no metrics: the frame must carry its layout
    pages.start();
    const made = await pages.make(await frames.frameInParts(doc, ALIVED_VERSION), gzipAsked);
    return { status: 200, contentType: made.contentType, body: made.page, ...(made.gzip && { gzip: made.gzip }) };
  };
  // One scrape at a time (frames are applied in order, each on the one
  // before it), and at most one waiting: requests that come
  // while a scrape runs share the one that follows it, so scrapers faster
  // than a page can be made never pile up.
  let running: Promise<ApiResponse> | undefined;
  let waiting: Promise<ApiResponse> | undefined;
  /** the last page made, and when the snapshot it shows was asked for */
  let page: { res: ApiResponse; at: number } | undefined;
  /** Makes a page; `later`: after the pending I/O, so the responses with the stale page go out before the event loop is busy with it. */
  const start = (later = false): Promise<ApiResponse> => {
    const made = (later ? new Promise<void>((resolve) => setImmediate(resolve)) : Promise.resolve()).then(async () => {
      const at = performance.now();
      const res = await scrape();
      page = { res, at };
      return res;
    });
    running = made.finally(() => {
      running = undefined;
    });
    return running;
  };
  const next = (): Promise<ApiResponse> => {
    if (!running) return start();
    waiting ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        waiting = undefined;
        return start();
      });
    return waiting;
  };
  /** The page, which the API thread may give every scraper while it is fresh, and stale while the next is made. */
  const shared = (p: { res: ApiResponse; at: number }): ApiResponse =>
    maxAgeMs > 0 ? { ...p.res, shared: { maxAgeMs, staleMs: (STALE_FACTOR - 1) * maxAgeMs, ageMs: performance.now() - p.at } } : p.res;
  return (req) => {
    if (!gzipAsked && acceptsGzip(req.headers['accept-encoding'])) {
      gzipAsked = true;
      // the page served has no gzip: it goes on being served, as stale, while one with gzip is made
      if (page) page.at = Math.min(page.at, performance.now() - maxAgeMs);
    }
    const age = page ? performance.now() - page.at : Infinity;
    if (page && age < maxAgeMs) return Promise.resolve(shared(page));
    if (page && age < STALE_FACTOR * maxAgeMs) {
      // the page being made replaces this one; a failure leaves this one, and the next request tries again
      if (!running) {
        start(true).catch((err: unknown) => api.log.warn({ err }, `/metrics: the page could not be made (${errorText(err)})`));
      }
      return Promise.resolve(shared(page));
    }
    return next().then((res) => (page?.res === res ? shared(page) : res));
  };
}

const plugin: AlivedPlugin<MetricsOptions> = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  options: metricsOptions,
  apply(api) {
    const handle = metricsHandler(api, api.options?.maxAgeMs ?? DEFAULT_MAX_AGE_MS);
    api.registerRoute({ method: 'GET', path: '/metrics', description: 'Prometheus metrics (docs/metrics.md)', handle });
  },
};

export default plugin;
