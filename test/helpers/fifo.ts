import * as fs from 'node:fs';

/** everything waiting in a FIFO, read without blocking */
export function drainFifo(fifo: string): string {
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(65536);
  let out = '';
  try {
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n === 0) break;
      out += buf.subarray(0, n).toString();
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
