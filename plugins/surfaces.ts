import type { AlivedPlugin } from '../core/sdk';
import metricsPrometheus from './metrics-prometheus';

/** Built-in plugins that show the status: Prometheus `GET /metrics`. */
export const SURFACE_PLUGINS: readonly AlivedPlugin<any>[] = [metricsPrometheus];
