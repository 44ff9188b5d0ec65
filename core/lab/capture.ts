import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns';

/**
 * tcpdump on a lab host's interface, writing the packets that match
 * `filter` with nanosecond kernel stamps to `file`; resolves once it
 * listens (killed, and rejected, if it does not within 10 s).
 */
export async function startTcpdump(lab: Lab, host: string, iface: string, file: string, filter: string, bufferKb = 8192): Promise<ChildProcess> {
  const proc = lab.spawn(host, ['tcpdump', '-i', iface, '-n', '-U', '-Z', 'root', '-s', '96', '-B', String(bufferKb), '--immediate-mode', '--time-stamp-precision=nano', '-w', file, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
