import * as http from 'node:http';
import * as net from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** Real receivers on loopback for the notifier tests: an SMTP server (smtp-server) and an HTTP endpoint (node:http). */

export interface ReceivedMail {
  readonly helo: string;
  readonly from: string;
  readonly to: string[];
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly raw: string;
  readonly secure: boolean;
  readonly user?: string;
  readonly at: number;
}

export interface SmtpReceiver {
  readonly port: number;
  readonly mails: ReceivedMail[];
  /** connections seen (also those that sent nothing) */
  connections: number;
  close(): Promise<void>;
}

/** header names lower-cased, folded lines joined */
export function parseMail(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.slice(split + 4);
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) {
    body = Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  }
  return { headers, body };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function smtpReceiver(
  opts: { port?: number; host?: string; options?: SMTPServerOptions; users?: Record<string, string>; refuse?: (to: string) => boolean } = {},
): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const r = { port: 0, mails, connections: 0, close: async () => undefined } as SmtpReceiver & { port: number };
  const server = new SMTPServer({
    logger: false,
    authOptional: !opts.users,
    disabledCommands: opts.users ? [] : ['AUTH'],
    ...(opts.options ?? {}),
    onConnect(_session, cb) {
      r.connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      if (opts.users && opts.users[auth.username ?? ''] === auth.password) return cb(null, { user: auth.username });
      return cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, cb) {
      if (opts.refuse?.(address.address)) return cb(Object.assign(new Error('no such user'), { responseCode: 550 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const { headers, body } = parseMail(raw);
        mails.push({
          helo: session.hostNameAppearsAs,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((a) => a.address),
          headers,
          body,
          raw,
          secure: session.secure,
          ...(session.user ? { user: String(session.user) } : {}),
          at: Date.now(),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  server.on('error', () => undefined);
  r.port = (server.server.address() as net.AddressInfo).port;
  r.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return r;
}

export interface HttpRequestSeen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

export interface HttpReceiver {
  readonly port: number;
  readonly url: string;
  readonly requests: HttpRequestSeen[];
  /** what to answer: a status, or 'hang' (never answer) */
  answer: number | 'hang' | ((n: number) => number | 'hang');
  close(): Promise<void>;
}

export async function httpReceiver(answer: HttpReceiver['answer'] = 200): Promise<HttpReceiver> {
  const requests: HttpRequestSeen[] = [];
  const r = { port: 0, url: '', requests, answer, close: async () => undefined } as HttpReceiver & { port: number; url: string };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const a = typeof r.answer === 'function' ? r.answer(requests.length) : r.answer;
      if (a === 'hang') return;
      res.writeHead(a, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.port = (server.address() as net.AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}
