import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Frame } from './frame';

/** A frame to make a page of, numbered to match its answer. */
export interface PageRequest {
  readonly id: number;
  readonly frame: Frame;
  /** also the page gzipped */
  readonly gzip: boolean;
}

export type PageReply =
  | { readonly id: number; readonly page: Uint8Array; readonly gzip?: Uint8Array; readonly contentType: string; readonly error?: undefined }
  | { readonly id: number; readonly error: string };

/** The nice value of the page thread (page-worker.ts sets it): the lowest priority. */
export const PAGE_THREAD_NICE = 19;

/** A page made: its bytes, gzipped when asked, and its content type. */
export interface MadePage {
  readonly page: Buffer;
  readonly gzip?: Buffer;
  readonly contentType: string;
}

/**
 * The pages of /metrics made in a worker thread (page-worker.js), so the
 * daemon's event loop, which runs the health checks and the API's routes,
 * is not held while prom-client sets tens of thousands of series and
 * renders them. The thread is started at the first page and again after it
 * died (with its metrics empty: `restarted` tells the caller to send a
 * whole layout again). It keeps the process alive only while it makes a
 * page.
 */
export class PageThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: MadePage) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private closed = false;

  /** Called when a new thread started: it has none of the previous metrics. */
  constructor(private readonly restarted: () => void) {}

  /** The page of `frame` (and gzipped, with `gzip`). Frames must be sent in order, one at a time; the values' buffers are handed over. */
  make(frame: Frame, gzip = false): Promise<MadePage> {
    if (this.closed) return Promise.reject(new Error('the /metrics page thread is closed'));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      const transfer = frame.down ? [] : ([frame.values.buffer, frame.observedIn.buffer, frame.observed.buffer] as ArrayBuffer[]);
      worker.postMessage({ id, frame, gzip } satisfies PageRequest, transfer);
    });
  }

  /** Stops the thread; pages not made yet fail. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    this.failAll(new Error('the /metrics page thread was closed'));
  }

  /** Starts the thread unless it runs; a caller that builds frames calls it first, to learn of a new thread before it builds the next frame. */
  start(): Worker {
    if (this.closed) throw new Error('the /metrics page thread is closed');
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(__dirname, 'page-worker.js'));
    worker.unref();
    worker.on('message', (r: PageReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (r.error !== undefined) {
        // its metrics may be half set: the next frame brings the whole layout
        this.restarted();
        p.reject(new Error(`the /metrics page thread failed: ${r.error}`));
      } else {
        const buffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
        p.resolve({ page: buffer(r.page), ...(r.gzip && { gzip: buffer(r.gzip) }), contentType: r.contentType });
      }
    });
    const gone = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.restarted();
      this.failAll(err);
    };
    worker.on('error', (err) => gone(err));
    worker.on('exit', (code) => gone(new Error(`the /metrics page thread exited (code ${code})`)));
    this.worker = worker;
    this.restarted();
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
