import * as net from 'node:net';

/**
 * A TCP (or HTTP, given its server) service on 127.0.0.1 that can die and
 * come back on the same port: what a health check watches in a test.
 */
export class Backend {
  port = 0;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  constructor(private readonly make: () => net.Server = () => net.createServer((s) => s.resume())) {}

  async start(): Promise<this> {
    const server = this.make();
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const c of this.sockets) c.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
