import * as os from 'node:os';
import { parentPort } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import type * as Prom from 'prom-client';
import { MetricsPage } from './page';
import { PAGE_THREAD_NICE, type PageReply, type PageRequest } from './page-thread';

/*
 * The worker thread that makes the pages of /metrics (page-thread.ts starts
 * it): it applies each frame it is sent to its MetricsPage and answers with
 * the rendered page, as UTF-8 bytes (and gzipped when asked) in
 * SharedArrayBuffers: they reach the daemon's thread, and from it the API
 * thread that sends them, without being copied. Nothing writes to them once
 * sent.
 */

/** `b` in a SharedArrayBuffer of its own */
function shared(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(b.byteLength));
  out.set(b);
  return out;
}

const port = parentPort;
if (!port) throw new Error('page-worker.js runs in a worker thread (page-thread.ts starts it)');

/*
 * This thread at the lowest CPU priority: a page takes a few hundred ms of
 * CPU, and on a small machine it would otherwise take it from the daemon's
 * thread (the checks, the API's routes) and the API thread. On Linux a nice value is a
 * thread's own, and setPriority without a pid sets the calling thread's.
 */
try {
  os.setPriority(PAGE_THREAD_NICE);
} catch {
  // not allowed (an unprivileged daemon that may not lower its priority back is still allowed to raise nice; some sandboxes refuse both): the page is made all the same
}
const page = new MetricsPage(require('prom-client') as typeof Prom);

port.on('message', (req: PageRequest) => {
  const reply = async (): Promise<void> => {
    try {
      page.apply(req.frame);
      const text = await page.render();
      const bytes = new Uint8Array(new SharedArrayBuffer(Buffer.byteLength(text)));
      new TextEncoder().encodeInto(text, bytes);
      // level 1: a tenth of the default's CPU, and the text still comes out about ten times smaller
      const gzip = req.gzip ? shared(zlib.gzipSync(bytes, { level: 1 })) : undefined;
      const answer: PageReply = { id: req.id, page: bytes, ...(gzip && { gzip }), contentType: page.contentType };
      port.postMessage(answer);
    } catch (err) {
      const answer: PageReply = { id: req.id, error: err instanceof Error ? err.message : String(err) };
      port.postMessage(answer);
    }
  };
  void reply();
});
