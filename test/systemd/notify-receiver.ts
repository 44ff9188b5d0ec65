import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * systemd's side of the notify protocol, for tests: a unix datagram socket
 * (a path, or an abstract name as `@name`) read by python3, which Node
 * cannot do. Like systemd's own socket it sets SO_PASSCRED, so each
 * message comes with the pid of the process that sent it, and it stamps
 * each one with CLOCK_MONOTONIC when it arrived (MONOTONIC_USEC's clock).
 */

const SCRIPT = `
import json, os, socket, struct, sys, time
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\\0" + addr[1:] if addr.startswith("@") else addr)
print(json.dumps({"listening": addr}), flush=True)
while True:
    msg, anc, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    at = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    pid = None
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    print(json.dumps({"at": at, "pid": pid, "text": msg.decode()}), flush=True)
`;

export interface NotifyMessage {
  /** CLOCK_MONOTONIC, µs, when it arrived */
  at: number;
  /** the sender's pid, from its credentials */
  pid: number;
  text: string;
  fields: Record<string, string>;
  /** index in the order of arrival */
  n: number;
}

export class NotifyReceiver {
  readonly messages: NotifyMessage[] = [];
  private constructor(
    readonly address: string,
    private readonly proc: ChildProcess,
  ) {}

  /** Listens on `address` (a path in `dir`, or `@name`); resolves once bound. */
  static async listen(address: string, dir: string): Promise<NotifyReceiver> {
    const script = path.join(dir, 'notify-receiver.py');
    fs.writeFileSync(script, SCRIPT);
    const proc = spawn('python3', [script, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = new NotifyReceiver(address, proc);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the notify receiver (python3) did not start within 10 s')), 10_000);
      proc.once('error', (err) => reject(new Error(`python3: ${err.message} (apt-get install python3)`)));
      proc.once('exit', (code) => reject(new Error(`the notify receiver exited (${code})`)));
      let buf = '';
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, nl)) as { listening?: string; at: number; pid: number; text: string };
          buf = buf.slice(nl + 1);
          if (line.listening) {
            clearTimeout(timer);
            resolve();
            continue;
          }
          const fields: Record<string, string> = {};
          for (const l of line.text.split('\n')) {
            const eq = l.indexOf('=');
            if (eq > 0) fields[l.slice(0, eq)] = l.slice(eq + 1);
          }
          r.messages.push({ at: line.at, pid: line.pid, text: line.text, fields, n: r.messages.length });
        }
      });
    });
    return r;
  }

  /** The first message from index `from` on that `match` accepts, waited for at most timeoutMs. */
  async next(what: string, match: (m: NotifyMessage) => boolean, from = 0, timeoutMs = 10_000): Promise<NotifyMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.slice(from).find(match);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got:\n${this.messages.map((x) => JSON.stringify(x.text)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

/** CLOCK_MONOTONIC now, µs, as the receiver reads it (python3's time.clock_gettime) */
export function monotonicNowUsec(): number {
  return Number(execFileSync('python3', ['-c', 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)'], { encoding: 'utf8' }).trim());
}
