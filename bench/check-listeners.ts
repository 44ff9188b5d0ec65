/**
 * The real servers of the check benchmarks, in a process of their own so
 * that the checking process's CPU and memory figures are its own:
 * `node check-listeners.js tcp|http COUNT` listens on COUNT ports of
 * 127.0.0.1 (port 0: the kernel picks), prints `{"ports":[...]}` on one
 * line, and exits when its stdin closes (the benchmark ended or died).
 * Loopback only.
 */
import * as http from 'node:http';
import * as net from 'node:net';

async function main(): Promise<void> {
  const kind = process.argv[2];
  const count = Number(process.argv[3]);
  if ((kind !== 'tcp' && kind !== 'http') || !Number.isInteger(count) || count < 1) {
    process.stderr.write('usage: check-listeners.js tcp|http COUNT\n');
    process.exit(2);
  }
  const servers: net.Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server =
      kind === 'tcp'
        ? // TCP_CHECK connects and closes: read to the end, close our side
          net.createServer((s) => {
            s.on('error', () => {});
            s.on('end', () => s.end());
            s.resume();
          })
        : http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'));
    if (kind === 'http') (server as http.Server).on('clientError', (_e, s) => s.destroy());
    server.on('error', (err) => {
      process.stderr.write(`check-listeners: ${err.message}\n`);
      process.exit(1);
    });
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => resolve()));
    servers.push(server);
    ports.push((server.address() as net.AddressInfo).port);
  }
  process.stdout.write(JSON.stringify({ ports }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
}

void main();
