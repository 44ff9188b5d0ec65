import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Real servers on loopback for checker tests: each listens on port 0,
 * counts its connections (a checker that leaves one open is caught), and
 * closes everything, its handlers' timers included, in close(). Part of
 * the tester alived ships for plugin authors (see tester.ts).
 */

export interface TestServer {
  /** where the checker connects */
  readonly address: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  /** connections open now (TCP; always 0 for UDP) */
  openConnections(): number;
  /** connections accepted, or datagrams received, so far */
  received(): number;
  close(): Promise<void>;
}

/** What a test server does; started by the tester for each case. */
export interface ServerBehaviour {
  /** shown when a case fails: `an HTTP server answering 503` */
  readonly description: string;
  readonly protocol: 'tcp' | 'udp';
  start(): Promise<TestServer>;
}

/** Timers of a server's handlers: cleared when the server closes, so no handler runs after its test. */
export interface ServerClock {
  after(ms: number, fn: () => void): void;
}

export interface ListenOptions {
  /** default 127.0.0.1; `::1` for IPv6 */
  readonly host?: string;
}

class Clock implements ServerClock {
  private readonly timers = new Set<NodeJS.Timeout>();
  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Counts a TCP server's connections and destroys them all on close. */
class Connections {
  readonly open = new Set<net.Socket>();
  accepted = 0;
  track(sock: net.Socket): void {
    this.accepted++;
    this.open.add(sock);
    sock.once('close', () => this.open.delete(sock));
    // a client that resets is what some cases test: not an error of the test
    sock.on('error', () => {});
  }
  destroyAll(): void {
    for (const s of this.open) s.destroy();
  }
}

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function startTcpLike(server: net.Server, conns: Connections, clock: Clock, host: string): Promise<TestServer> {
  const port = await listen(server, host);
  return {
    address: host,
    port,
    protocol: 'tcp',
    openConnections: () => conns.open.size,
    received: () => conns.accepted,
    async close() {
      clock.clear();
      conns.destroyAll();
      await closeServer(server);
    },
  };
}

/**
 * A TCP server that hands every connection to `onConnection`. With no
 * handler it accepts the connection and never writes, reading and dropping
 * what comes: a server that hangs after the handshake.
 *
 * A handler that never reads should still consume (`socket.resume()`):
 * unread data keeps Node from seeing the checker close its side, and the
 * tester would report the connection as left open.
 */
export function tcpServer(
  onConnection: (socket: net.Socket, clock: ServerClock) => void = (socket) => void socket.resume(),
  description = 'a TCP server',
  opts: ListenOptions = {},
): ServerBehaviour {
  return {
    description,
    protocol: 'tcp',
    async start() {
      const clock = new Clock();
      const conns = new Connections();
      const server = net.createServer((sock) => {
        conns.track(sock);
        onConnection(sock, clock);
      });
      return startTcpLike(server, conns, clock, opts.host ?? '127.0.0.1');
    },
  };
}

/** A port nothing listens on: connections are refused. */
export function refusingPort(opts: ListenOptions = {}): ServerBehaviour {
  return {
    description: 'a port nothing listens on',
    protocol: 'tcp',
    async start() {
      const host = opts.host ?? '127.0.0.1';
      const probe = net.createServer();
      const port = await listen(probe, host);
      await closeServer(probe);
      return { address: host, port, protocol: 'tcp', openConnections: () => 0, received: () => 0, close: async () => {} };
    },
  };
}

export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse, clock: ServerClock) => void;

function httpLike(make: (handler: http.RequestListener) => http.Server, handler: HttpHandler, description: string, opts: ListenOptions): ServerBehaviour {
  return {
    description,
    protocol: 'tcp',
    async start() {
      const clock = new Clock();
      const conns = new Connections();
      const server = make((req, res) => handler(req, res, clock));
      // the raw TCP connection, before any TLS: what the checker opened
      server.on('connection', (sock: net.Socket) => conns.track(sock));
      server.on('clientError', (_err, sock: net.Socket) => sock.destroy());
      server.on('tlsClientError', () => {});
      const started = await startTcpLike(server, conns, clock, opts.host ?? '127.0.0.1');
      return {
        ...started,
        async close() {
          clock.clear();
          server.closeAllConnections();
          conns.destroyAll();
          await closeServer(server);
        },
      };
    },
  };
}

/** An HTTP/1.1 server (node:http) whose requests go to `handler`. */
export function httpServer(handler: HttpHandler, description = 'an HTTP server', opts: ListenOptions = {}): ServerBehaviour {
  return httpLike((h) => http.createServer(h), handler, description, opts);
}

/**
 * An HTTPS server with `certificate` (see makeCertificate()), which may
 * still be in the making when the case table is written.
 */
export function httpsServer(
  certificate: Certificate | Promise<Certificate>,
  handler: HttpHandler,
  description = 'an HTTPS server',
  opts: ListenOptions = {},
): ServerBehaviour {
  // a failed makeCertificate() surfaces when the case starts the server, not as an unhandled rejection at load
  if (certificate instanceof Promise) certificate.catch(() => {});
  return {
    description,
    protocol: 'tcp',
    async start() {
      const c = await certificate;
      return httpLike((h) => https.createServer({ key: c.key, cert: c.cert }, h), handler, description, opts).start();
    },
  };
}

/**
 * A UDP server: every datagram goes to `onMessage` with a function that
 * answers its sender. With no handler it never answers.
 */
export function udpServer(
  onMessage: (msg: Buffer, reply: (data: Buffer) => void, clock: ServerClock, from: dgram.RemoteInfo) => void = () => {},
  description = 'a UDP server',
  opts: ListenOptions = {},
): ServerBehaviour {
  return {
    description,
    protocol: 'udp',
    async start() {
      const host = opts.host ?? '127.0.0.1';
      const clock = new Clock();
      const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      let count = 0;
      sock.on('message', (msg, rinfo) => {
        count++;
        onMessage(msg, (data) => sock.send(data, rinfo.port, rinfo.address), clock, rinfo);
      });
      sock.on('error', () => {});
      await new Promise<void>((resolve) => sock.bind(0, host, () => resolve()));
      return {
        address: host,
        port: sock.address().port,
        protocol: 'udp',
        openConnections: () => 0,
        received: () => count,
        async close() {
          clock.clear();
          await new Promise<void>((resolve) => sock.close(() => resolve()));
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------
// certificates

export interface Certificate {
  /** PEM */
  readonly key: string;
  readonly cert: string;
  /** the same, as files (an SSL block's `ca` names a file) */
  readonly keyFile: string;
  readonly certFile: string;
}

export interface CertificateOptions {
  /** default localhost */
  readonly commonName?: string;
  /** subjectAltName entries; default DNS:<commonName> and IP:127.0.0.1 */
  readonly altNames?: readonly string[];
  /** valid from 2020-01-01 to 2020-01-02, so long expired */
  readonly expired?: boolean;
  /** a CA certificate (basicConstraints CA:TRUE), to issue others with */
  readonly ca?: boolean;
  /** issued (signed) by this CA certificate instead of self-signed */
  readonly issuer?: Certificate;
}

const certDirs: string[] = [];
process.once('exit', () => {
  for (const d of certDirs) fs.rmSync(d, { recursive: true, force: true });
});

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new Error(
          missing
            ? 'makeCertificate needs the openssl command (Debian: apt-get install openssl)'
            : `openssl ${args[0]} failed: ${stderr.trim() || err.message}`,
        ),
      );
    });
  });
}

/** `20200101000000Z` */
const asn1Time = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/**
 * A certificate (EC P-256) made with the openssl command, self-signed or
 * issued by a CA made here too: valid from yesterday for 30 days, or long
 * expired. `openssl ca` is used because `req -x509` cannot date a
 * certificate in the past.
 */
export async function makeCertificate(opts: CertificateOptions = {}): Promise<Certificate> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-cert-'));
  certDirs.push(dir);
  const cn = opts.commonName ?? 'localhost';
  const alt = (opts.altNames ?? [`DNS:${cn}`, 'IP:127.0.0.1']).join(',');
  const caExt = opts.ca ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'] : [];
  const signer = opts.issuer ? ['-cert', opts.issuer.certFile, '-keyfile', opts.issuer.keyFile] : ['-selfsign', '-keyfile', 'key.pem'];
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  // random: certificates of one issuer never share a serial
  fs.writeFileSync(path.join(dir, 'serial'), `${crypto.randomBytes(8).toString('hex')}\n`);
  fs.writeFileSync(
    path.join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = this',
      '[ this ]',
      'dir = .',
      'database = ./index.txt',
      'new_certs_dir = .',
      'serial = ./serial',
      'default_md = sha256',
      'policy = any',
      'copy_extensions = copy',
      'unique_subject = no',
      '[ any ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const day = 24 * 3600 * 1000;
  const now = Date.now();
  const [start, end] = opts.expired ? ['20200101000000Z', '20200102000000Z'] : [asn1Time(new Date(now - day)), asn1Time(new Date(now + 30 * day))];
  await openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'req.csr',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${alt}`,
      ...caExt,
    ],
    dir,
  );
  await openssl(['ca', '-batch', '-config', 'ca.cnf', ...signer, '-in', 'req.csr', '-out', 'cert.pem', '-startdate', start, '-enddate', end, '-notext'], dir);
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), keyFile, certFile };
}
