import { spawnSync, type ChildProcess } from 'node:child_process';
import type { Lab } from '../../core/lab/netns';

/**
 * Pieces the IPVS tests share inside the VM: real HTTP servers in lab
 * namespaces, a client that counts which server answered, and the
 * director's table as ipvsadm sees it.
 */

const SERVER = `
const http = require('node:http');
const [name, port] = process.argv.slice(1);
http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(name); })
  .listen(Number(port), '0.0.0.0', () => console.log('listening'));
`;

const CLIENT = `
const http = require('node:http');
const [url, n, timeout] = process.argv.slice(1);
(async () => {
  const counts = {};
  let errors = 0;
  for (let i = 0; i < Number(n); i++) {
    const body = await new Promise((resolve) => {
      const req = http.get(url, { agent: false, timeout: Number(timeout) }, (res) => {
        let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve(b));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(undefined));
    });
    if (body === undefined) errors++; else counts[body] = (counts[body] || 0) + 1;
  }
  console.log(JSON.stringify({ counts, errors }));
})();
`;

/** Starts an HTTP server answering its name on `port` in a lab host; resolves once it listens. */
export function startHttpServer(lab: Lab, host: string, name: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = lab.spawn(host, [process.execPath, '-e', SERVER, name, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(`the HTTP server ${name} did not start within 30 s`)), 30_000);
    p.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve(p);
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP server ${name} exited ${code}`));
    });
  });
}

const HOLD = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const s = net.connect(Number(port), host, () => {
  // the request line and a header now, the end of the headers when told to
  s.write('GET / HTTP/1.1\\r\\nHost: hold\\r\\n');
  console.log('connected ' + s.localPort);
});
let reply = '';
s.on('data', (d) => (reply += d));
s.on('end', () => { console.log('reply ' + JSON.stringify(reply)); process.exit(0); });
s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });
process.stdin.once('data', () => s.write('\\r\\n'));
`;

/**
 * An HTTP request held open across something the test does: connects from
 * `host`, sends half a request, and finishes it when `finish()` is called,
 * resolving with what the server answered (or the socket's error).
 */
export async function holdConnection(lab: Lab, host: string, address: string, port: number): Promise<{ finish(): Promise<string> }> {
  const p = lab.spawn(host, [process.execPath, '-e', HOLD, address, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  await until('the held connection', () => out.includes('connected') || p.exitCode !== null, 15_000);
  if (!out.includes('connected')) throw new Error(`the held connection failed: ${out.trim()}`);
  return {
    async finish(): Promise<string> {
      p.stdin!.write('go\n');
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
      if (!done) await stopProcess(p);
      return done ? out.trim().split('\n').pop()! : 'no answer within 15 s';
    },
  };
}

/** Stops a process the lab started (its whole group), and waits for it. */
export async function stopProcess(p: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  try {
    process.kill(-p.pid!, signal);
  } catch {
    p.kill(signal);
  }
  await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
}

/** `n` sequential HTTP requests (a new connection each) from a lab host: which server answered how often. */
export async function requests(lab: Lab, host: string, url: string, n: number, timeoutMs = 3000): Promise<{ counts: Record<string, number>; errors: number }> {
  const r = await lab.exec(host, [process.execPath, '-e', CLIENT, url, String(n), String(timeoutMs)], 60_000 + n * timeoutMs);
  if (r.code !== 0) throw new Error(`the HTTP client failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { counts: Record<string, number>; errors: number };
}

/** ipvsadm in a namespace */
export function ipvsadm(ns: string, ...args: string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ipvsadm', ...args], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ipvsadm ${args.join(' ')} in ${ns}: ${r.stderr}`);
  return r.stdout;
}

/** The destinations of a service as `address:port weight` lines, sorted (from ipvsadm -Ln). */
export function destinations(ns: string, service: string): string[] {
  const out = ipvsadm(ns, '-Ln');
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.includes(` ${service} `) || l.endsWith(` ${service}`));
  if (at < 0) return [];
  const res: string[] = [];
  for (let i = at + 1; i < lines.length && lines[i]!.startsWith('  ->'); i++) {
    const f = lines[i]!.trim().split(/\s+/);
    res.push(`${f[1]} ${f[3]}`);
  }
  return res.sort();
}

/** Polls `probe` until it returns true, at most timeoutMs; resolves with the time it took. */
export async function until(what: string, probe: () => boolean, timeoutMs: number, everyMs = 50): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (probe()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function sysctl(lab: Lab, host: string, kv: string): void {
  const r = spawnSync('ip', ['netns', 'exec', lab.host(host).ns, 'sysctl', '-qw', kv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sysctl ${kv} in ${host}: ${r.stderr}`);
}

/** An LVS-DR (or TUN) real server: the virtual addresses on lo, never answered for in ARP. */
export function drRealServer(lab: Lab, host: string, ...vips: string[]): void {
  for (const v of vips) ipIn(lab, host, 'addr', 'add', `${v}/32`, 'dev', 'lo');
  for (const k of [
    'net.ipv4.conf.all.arp_ignore=1',
    'net.ipv4.conf.eth0.arp_ignore=1',
    'net.ipv4.conf.all.arp_announce=2',
    'net.ipv4.conf.eth0.arp_announce=2',
  ])
    sysctl(lab, host, k);
}

export function ipIn(lab: Lab, host: string, ...args: string[]): void {
  const r = spawnSync('ip', ['-n', lab.host(host).ns, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} in ${host}: ${r.stderr}`);
}
