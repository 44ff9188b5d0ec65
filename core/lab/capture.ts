import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns';

/**
 * tcpdump on a lab host's interface, writing the packets that match
 * `filter` with nanosecond kernel stamps to `file`; resolves once it
 * listens (killed, and rejected, if it does not within 10 s).
 */
export async function startTcpdump(lab: Lab, host: string, iface: string, file: string, filter: string, bufferKb = 8192): Promise<ChildProcess> {
  const proc = lab.spawn(
    host,
    [
      'tcpdump',
      '-i',
      iface,
      '-n',
      '-U',
      '-Z',
      'root',
      '-s',
      '96',
      '-B',
      String(bufferKb),
      '--immediate-mode',
      '--time-stamp-precision=nano',
      '-w',
      file,
      filter,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`tcpdump on ${host} ${iface} did not start within 10 s: ${err}`)), 10_000);
      proc.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump on ${host} ${iface} exited (${code}): ${err}`));
      });
    });
  } catch (err) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    throw err;
  }
  return proc;
}

const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_MAGIC_US = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;

/** One captured frame and its kernel stamp (ns since the epoch, CLOCK_REALTIME). */
export interface PcapRecord {
  tNs: bigint;
  frame: Buffer;
}

/**
 * The frames of a classic pcap file as `tcpdump -w` writes it (Ethernet link,
 * either byte order, µs or ns stamps). A record still being written (the file
 * is read while tcpdump runs) is left out; a file too short for its header has
 * none. Throws for a file that is not an Ethernet pcap.
 */
export function pcapRecords(b: Buffer, what = 'the capture'): PcapRecord[] {
  if (b.length < 24) return [];
  let le = true;
  let magic = b.readUInt32LE(0);
  if (magic !== PCAP_MAGIC_NS && magic !== PCAP_MAGIC_US) {
    le = false;
    magic = b.readUInt32BE(0);
  }
  if (magic !== PCAP_MAGIC_NS && magic !== PCAP_MAGIC_US) throw new Error(`${what}: not a pcap file`);
  const u32 = (at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  if ((u32(20) & 0xffff) !== LINKTYPE_ETHERNET) throw new Error(`${what}: link type ${u32(20)}, expected Ethernet`);
  const fracNs = magic === PCAP_MAGIC_NS ? 1n : 1000n;
  const out: PcapRecord[] = [];
  for (let at = 24; at + 16 <= b.length;) {
    const incl = u32(at + 8);
    if (at + 16 + incl > b.length) break;
    out.push({ tNs: BigInt(u32(at)) * 1_000_000_000n + BigInt(u32(at + 4)) * fracNs, frame: b.subarray(at + 16, at + 16 + incl) });
    at += 16 + incl;
  }
  return out;
}
