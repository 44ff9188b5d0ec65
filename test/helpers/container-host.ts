import * as fs from 'node:fs';
import type { Lab, LabHost } from '../../core/lab/netns';
import type { Spawner } from './services';

/**
 * A lab host made more like a machine of its own, as a container is: its
 * own mount namespace, where directories of the test are bind-mounted over
 * the fixed paths a shipped config names (/run/haproxy, /var/lib/tomcat10),
 * and its own PID namespace with its own /proc, so `vrrp_track_process
 * haproxy` on one host counts that host's haproxy and not the other's.
 *
 * pid 1 of the namespace is a `sleep` that holds it; commands join it with
 * `nsenter` after `ip netns exec`. `stop()` kills that pid 1, which ends
 * every process inside (the kernel kills a PID namespace with its init).
 * Nothing is mounted outside: the mount namespace is private.
 */

/** Spawns in a lab host (its network namespace), after an optional `enter` prefix, in `cwd` when given. */
export function labSpawner(lab: Lab, host: LabHost | string, enter: string[] = []): Spawner {
  return (argv, opts) =>
    lab.spawn(host, [...enter, ...(opts.cwd ? ['sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', opts.cwd] : []), ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: opts.env } : {}),
    });
}

export class ContainerHost {
  /** argv prefix that runs a command inside (after `ip netns exec`) */
  readonly enter: string[];
  readonly spawner: Spawner;

  private constructor(
    readonly lab: Lab,
    readonly host: LabHost,
    /** pid 1 of the host's PID namespace, as the test sees it */
    readonly pid: number,
  ) {
    this.enter = ['nsenter', '-t', String(pid), '-m', '-p', '-n', '--'];
    this.spawner = labSpawner(lab, host, this.enter);
  }

  /**
   * Makes the namespaces of `host`; `binds` maps a path inside (it must
   * exist on this machine) to the test's directory mounted there.
   */
  static async start(lab: Lab, host: LabHost | string, binds: Record<string, string> = {}): Promise<ContainerHost> {
    const h = typeof host === 'string' ? lab.host(host) : host;
    const mounts = Object.entries(binds).map(([inside, outside]) => {
      if (!fs.existsSync(inside)) throw new Error(`${inside} does not exist on this machine: a container host binds over existing paths only`);
      fs.mkdirSync(outside, { recursive: true });
      return `mount --bind '${outside}' '${inside}'`;
    });
    const script = [...mounts, 'echo ready', 'exec sleep infinity'].join(' && ');
    const unshare = lab.spawn(h, ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', 'sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    unshare.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`the namespaces of ${h.name} were not ready within 10 s: ${err}`)), 10_000);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        try {
          process.kill(-unshare.pid!, 'SIGKILL');
        } catch {
          // gone
        }
        reject(e);
      };
      unshare.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      unshare.once('exit', (code) => fail(new Error(`unshare in ${h.name} exited ${code}: ${err}`)));
    });
    // unshare forked pid 1 of the new namespace: its only child
    const children = fs.readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    if (children.length !== 1 || !children[0]) throw new Error(`unshare in ${h.name} has children [${children.join(' ')}], expected one`);
    return new ContainerHost(lab, h, children[0]);
  }

  /** Ends every process inside, and waits (at most 5 s) until pid 1 is gone. */
  async stop(): Promise<void> {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      return;
    }
    const until = Date.now() + 5000;
    while (Date.now() < until && fs.existsSync(`/proc/${this.pid}`)) await new Promise((r) => setTimeout(r, 20));
  }
}
