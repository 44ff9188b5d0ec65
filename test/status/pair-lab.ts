import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { apiRequest } from '../../core/api/client';
import type { Lab, LabHost } from '../../core/lab/netns';
import type { LabDaemon, VrrpLab } from '../../core/lab/vrrp-lab';
import type { TimelineEvent } from '../../core/status/types';

/*
 * What the lab tests of the status surfaces share: a pair of alived nodes
 * (n1 priority 150 with a script tracker of weight -60, n2 priority 100),
 * each with its own state directory (so its API socket is
 * `<state-dir>/alived.sock`), a tracker script that fails as a real check
 * does (a message on stderr, exit 1), a small HTTP server in a lab host that
 * is both a real server of the pool and a webhook receiver, and the CLI.
 */

/** dist/core/cli/main.js: the alived command */
export const ALIVED_CLI = path.join(__dirname, '..', '..', 'core', 'cli', 'main.js');

/**
 * A tracker script: exit 0 while `flag` exists, else `connection refused`
 * on stderr and exit 1 (what a failing check prints).
 */
export function writeCheckScript(dir: string, flag: string): string {
  const file = path.join(dir, 'chk.sh');
  fs.writeFileSync(file, `#!/bin/sh\n[ -e '${flag}' ] && exit 0\necho "connection refused" >&2\nexit 1\n`, { mode: 0o755 });
  return file;
}

/** A token file as alived_api wants it: mode 0600, one line. */
export function writeTokenFile(dir: string, token: string): string {
  const file = path.join(dir, 'api-token');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

export interface NodeConfig {
  readonly priority: number;
  /** the vrrp_script's command line; none: the instance tracks nothing */
  readonly script?: string;
  readonly vip: string;
  readonly vrid?: number;
  /** alived_api's body */
  readonly api?: string;
  /** text added at the top level (global_defs, webhooks, virtual servers) */
  readonly extra?: string;
  /** lines added inside the vrrp_instance */
  readonly instanceExtra?: string;
}

/** One node's config: the tracker chk_x (weight -60) when a script is given, VI_1 with one VIP, advert_int 0.1. */
export function nodeConfig(c: NodeConfig): string {
  const tracker = c.script
    ? `vrrp_script chk_x {
  script "${c.script}"
  interval 1
  weight -60
  fall 1
  rise 1
}
`
    : '';
  return `${c.api ? `alived_api {\n${c.api}\n}\n` : ''}${tracker}vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id ${c.vrid ?? 51}
  priority ${c.priority}
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${c.vip}/24
  }
${c.script ? '  track_script {\n    chk_x\n  }\n' : ''}${c.instanceExtra ?? ''}}
${c.extra ?? ''}`;
}

/** A state directory for a node: created mode 0700, as alived wants it. */
export function stateDir(dir: string, node: string): string {
  const d = path.join(dir, `${node}.state`);
  fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

/**
 * An HTTP server in a lab host, on ip:port: it answers every request 200
 * (a webhook receiver, a real server for TCP_CHECK) and prints each
 * request's method, URL, headers and body as a JSON line on stdout.
 */
export function startReceiver(lab: Lab, host: LabHost | string, ip: string, port: number): { proc: ChildProcess; requests: string[]; ready: Promise<void> } {
  const script =
    "const http=require('http');http.createServer((q,s)=>{let b='';q.on('data',d=>b+=d);q.on('end',()=>{" +
    'process.stdout.write(JSON.stringify({method:q.method,url:q.url,headers:q.headers,body:b})+"\\n");s.end("ok")})})' +
    ".listen(Number(process.argv[2]),process.argv[1],()=>process.stdout.write('ready\\n'))";
  const proc = lab.spawn(host, [process.execPath, '-e', script, ip, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const requests: string[] = [];
  let buf = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the receiver on ${ip}:${port} did not start`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          clearTimeout(timer);
          resolve();
        } else requests.push(line);
      }
    });
  });
  return { proc, requests, ready };
}

/** A GET of a node's API over its unix socket (`<state-dir>/alived.sock`). */
export function apiGet<T = unknown>(state: string, route: string): Promise<T> {
  return apiRequest<T>({ socketPath: path.join(state, 'alived.sock'), timeoutMs: 5000 }, 'GET', route);
}

/** Waits until the node's API answers on its unix socket, at most timeoutMs. */
export async function waitApi(state: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await apiGet(state, '/v1/status');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The node's vrrp-transition events of an instance. */
export async function transitions(state: string, instance = 'VI_1'): Promise<TimelineEvent[]> {
  const { events } = await apiGet<{ events: TimelineEvent[] }>(state, '/v1/timeline?limit=1000');
  return events.filter((e) => e.kind === 'vrrp-transition' && e.subject === instance);
}

/** Polls the node's timeline until `accept` finds a transition of the instance, at most timeoutMs. */
export async function waitTransition(state: string, accept: (e: TimelineEvent) => boolean, timeoutMs = 10_000, instance = 'VI_1'): Promise<TimelineEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await transitions(state, instance)).find(accept);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no such transition within ${timeoutMs} ms: ${JSON.stringify(await transitions(state, instance))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the alived command (here, in the root namespace: the unix socket is a file) and waits for it, at most timeoutMs. */
export function cli(args: readonly string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ALIVED_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Stops every daemon of the lab that still runs (SIGTERM) and waits for each. */
export async function stopDaemons(v: VrrpLab): Promise<void> {
  await Promise.all(
    v.daemons.map(async (d: LabDaemon) => {
      if (d.proc.exitCode === null && d.proc.signalCode === null) {
        try {
          v.signal(d, 'SIGTERM');
        } catch {
          // it is gone
        }
        await Promise.race([d.exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
    }),
  );
}
