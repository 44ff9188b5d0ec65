import type * as Prom from 'prom-client';
import type { StatusDocument } from '../../core/sdk';
import { FrameBuilder } from './frame';
import { MetricsPage } from './page';

export { VRRP_STATE_VALUES, KEEPALIVED_COUNTERS, CHECK_DURATION_BUCKETS, checkerNames } from './frame';

/**
 * Both halves in one thread: a document's frame (frame.ts) applied at once
 * to a page (page.ts). One set of metrics in a private registry: two
 * daemons (or a daemon and a test) in one process never share series. The
 * plugin's route makes its pages in a worker thread instead
 * (page-worker.ts); this is the same work, for tests and the benchmark.
 */
export class StatusMetrics {
  private readonly frames = new FrameBuilder();
  private readonly page: MetricsPage;

  constructor(prom: typeof Prom) {
    this.page = new MetricsPage(prom);
  }

  get registry(): Prom.Registry {
    return this.page.registry;
  }

  get contentType(): string {
    return this.page.contentType;
  }

  /** Sets every metric from `doc`; without one the page says keepalived_up 0 (MetricsPage.apply). */
  update(doc: StatusDocument | null, version: string): void {
    this.page.apply(this.frames.frame(doc, version));
  }

  /** The exposition of what update() set, in the registry's format. */
  render(): Promise<string> {
    return this.page.render();
  }
}
