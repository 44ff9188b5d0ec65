import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Lab } from '../core/lab/netns';

/* The real servers of the lab benchmarks: check-listeners.js in a lab host's namespace, and the virtual servers that check them. */

const LISTENERS = path.join(__dirname, 'check-listeners.js');

function killProc(p: ChildProcess): void {
  if (!p.pid || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    try {
      p.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** check-listeners.js in `host`'s namespace (n1 by default): COUNT ports on its loopback. */
export async function startListeners(lab: Lab, kind: 'tcp' | 'http', count: number, host = 'n1'): Promise<{ proc: ChildProcess; ports: number[] }> {
  const proc = lab.spawn(host, [process.execPath, LISTENERS, kind, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: proc.stdout! });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`check-listeners ${kind} ${count} did not start within 120 s`)), 120_000);
      rl.once('line', (l) => {
        clearTimeout(timer);
        resolve(l);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`check-listeners exited with ${code}`));
      });
    });
    const ports = (JSON.parse(line) as { ports: number[] }).ports;
    if (ports.length !== count) throw new Error(`check-listeners: ${ports.length} ports, expected ${count}`);
    return { proc, ports };
  } catch (err) {
    killProc(proc);
    throw err;
  } finally {
    rl.close();
  }
}

/** virtual servers of `per` real servers each on 127.0.0.1, as check-common.ts builds them */
export function virtualServers(ports: number[], checker: string, per = 100, delayLoopS = 1): string {
  const out: string[] = [];
  for (let v = 0; v * per < ports.length; v++) {
    out.push(`virtual_server 192.0.2.1 ${1000 + v} {\n  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n  delay_loop ${delayLoopS}`);
    for (const port of ports.slice(v * per, (v + 1) * per)) out.push(`  real_server 127.0.0.1 ${port} {\n${checker}\n  }`);
    out.push('}');
  }
  return out.join('\n') + '\n';
}
