import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../core/lab/netns';

/** The packets of a classic pcap file (microsecond or nanosecond stamps, either byte order). */
export interface PcapPacket {
  /** seconds since the epoch, fractional */
  time: number;
  data: Buffer;
}

export function readPcap(buf: Buffer): PcapPacket[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = (at: number): number => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const out: PcapPacket[] = [];
  for (let at = 24; at + 16 <= buf.length;) {
    const sec = u32(at);
    const frac = u32(at + 4);
    const caplen = u32(at + 8);
    if (at + 16 + caplen > buf.length) break;
    out.push({ time: sec + frac / (nano ? 1e9 : 1e6), data: buf.subarray(at + 16, at + 16 + caplen) });
    at += 16 + caplen;
  }
  return out;
}

/**
 * tcpdump on a lab host's eth0 writing `file` packet by packet; resolves once
 * it listens. Stop it with SIGTERM (it flushes) and wait for its exit.
 */
export function capture(lab: Lab, host: string, file: string, filter: string): Promise<ChildProcess> {
  // -Z root: tcpdump would otherwise write as its own user, which cannot enter the test's private temp dir
  const child = lab.spawn(host, ['tcpdump', '-Z', 'root', '-i', 'eth0', '-n', '--immediate-mode', '-U', '-w', file, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump in ${host} did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/listening on/.test(err)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`tcpdump in ${host} exited: ${err}`));
    });
  });
}
