import type * as Prom from 'prom-client';
import { ALIVED_VERSION, errorText, isAlivedError, type AlivedPlugin, type ApiResponse, type PluginApi, type StatusDocument } from '../../core/sdk';
import { StatusMetrics } from './metrics';

export { StatusMetrics, VRRP_STATE_VALUES, KEEPALIVED_COUNTERS, CHECK_DURATION_BUCKETS, checkerNames } from './metrics';

/**
 * `GET /metrics`: the status document in Prometheus's text format, made
 * with prom-client from a fresh snapshot at each scrape. The metrics are
 * documented in docs/metrics.md.
 */

const PLUGIN_NAME = 'metrics-prometheus';

/** The route's handler for one plugin instance: its own metrics, one scrape at a time. */
function metricsHandler(api: Pick<PluginApi, 'status' | 'log'>): () => Promise<ApiResponse> {
  let metrics: StatusMetrics | undefined;
  let failing = false;
  const scrape = async (): Promise<ApiResponse> => {
    // loaded at the first scrape: a daemon nobody scrapes does not carry prom-client
    metrics ??= new StatusMetrics(require('prom-client') as typeof Prom);
    let doc: StatusDocument | null = null;
    try {
      doc = await api.status.snapshot();
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
    metrics.update(doc, ALIVED_VERSION);
    return { status: 200, contentType: metrics.contentType, body: await metrics.render() };
  };
  // One scrape at a time (update() and render() of two must not interleave
  // on the shared metrics), and at most one waiting: requests that come
  // while a scrape runs share the one that follows it, so scrapers faster
  // than a page can be made never pile up.
  let running: Promise<ApiResponse> | undefined;
  let waiting: Promise<ApiResponse> | undefined;
  const start = (): Promise<ApiResponse> => {
    running = scrape().finally(() => {
      running = undefined;
    });
    return running;
  };
  return () => {
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
}

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  apply(api) {
    const handle = metricsHandler(api);
    api.registerRoute({ method: 'GET', path: '/metrics', description: 'Prometheus metrics (docs/metrics.md)', handle });
  },
};

export default plugin;
