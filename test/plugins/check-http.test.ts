import { before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { CheckerTester, httpServer, httpsServer, makeCertificate, refusingPort, tcpServer, type Certificate, type ServerBehaviour } from '../../core/testing';
import checkHttp from '../../plugins/check-http';

const tester = new CheckerTester({ plugin: checkHttp, keyword: 'HTTP_GET' });
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const at = (port: number | undefined, path = '/health'): string => `HTTP_GET http://127.0.0.1:${port}${path}`;

/** what the server saw of each request: method, path, version and headers */
const requests: Array<{ line: string; headers: Record<string, string | string[] | undefined> }> = [];

/** whether the chunked case's responses went out chunked */
const chunked: boolean[] = [];

const answering = (status: number, body = 'ok\n', description = `an HTTP server answering ${status}`): ServerBehaviour =>
  httpServer((req, res) => {
    requests.push({ line: `${req.method} ${req.url} HTTP/${req.httpVersion}`, headers: req.headers });
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  }, description);

tester.run('HTTP_GET against real servers on loopback', [
  {
    name: 'healthy: status 200, one fresh connection per check, keepalived headers',
    config: 'connect_timeout 1\nurl {\npath /health\n}',
    server: answering(200),
    runs: 2,
    expect: { ok: true, message: (s) => `${at(s?.port)}: status 200` },
    inspect: (s) => {
      assert.equal(s!.received(), 2, 'one connection per check');
      const seen = requests.splice(0);
      assert.equal(seen.length, 2);
      // http_protocol 1.0 by default, without a Connection header, as keepalived's request_template
      assert.equal(seen[0]!.line, 'GET /health HTTP/1.0');
      assert.equal(seen[0]!.headers.host, `127.0.0.1:${s!.port}`);
      assert.equal(seen[0]!.headers['user-agent'], 'KeepAliveClient');
      assert.equal(seen[0]!.headers.connection, undefined);
    },
  },
  {
    name: 'http_protocol 1.0C: HTTP/1.0 with Connection: close',
    config: 'connect_timeout 1\nhttp_protocol 1.0C\nurl {\npath /health\n}',
    server: answering(200),
    expect: { ok: true },
    inspect: () =>
      assert.deepEqual(
        requests.splice(0).map((r) => [r.line, r.headers.connection]),
        [['GET /health HTTP/1.0', 'close']],
      ),
  },
  {
    name: 'http_protocol 1.1: HTTP/1.1 with Connection: close',
    config: 'connect_timeout 1\nhttp_protocol 1.1\nurl {\npath /health\n}',
    server: answering(200),
    expect: { ok: true },
    inspect: () =>
      assert.deepEqual(
        requests.splice(0).map((r) => [r.line, r.headers.connection]),
        [['GET /health HTTP/1.1', 'close']],
      ),
  },
  {
    name: 'virtualhost: the Host header without a port; a url virtualhost wins over the checker one',
    config: 'connect_timeout 1\nvirtualhost www.example.com\nurl {\npath /a\n}\nurl {\npath /b\nvirtualhost api.example.com\n}',
    server: answering(200),
    expect: { ok: true, message: (s) => `HTTP_GET http://127.0.0.1:${s!.port}: 2 urls ok (/a status 200; /b status 200)` },
    inspect: () =>
      assert.deepEqual(
        requests.splice(0).map((r) => [r.line, r.headers.host]),
        [
          ['GET /a HTTP/1.0', 'www.example.com'],
          ['GET /b HTTP/1.0', 'api.example.com'],
        ],
      ),
  },
  {
    name: 'wrong status: 503 is not in the default 200-299',
    config: 'connect_timeout 1\nurl {\npath /health\n}',
    server: answering(503, 'down\n'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: status 503, expected 200-299` },
  },
  {
    name: 'status_code lists and ranges: 503 accepted when listed',
    config: 'connect_timeout 1\nurl {\npath /health\nstatus_code 200-204 503\n}',
    server: answering(503, 'down\n'),
    expect: { ok: true, message: (s) => `${at(s?.port)}: status 503` },
  },
  {
    name: 'status_code: a redirect outside the accepted codes',
    config: 'connect_timeout 1\nurl {\npath /health\nstatus_code 200-204\nstatus_code 301\n}',
    server: answering(302, ''),
    expect: { ok: false, message: (s) => `${at(s?.port)}: status 302, expected 200-204, 301` },
  },
  {
    name: 'digest: the MD5 of the body matches',
    config: `connect_timeout 1\nurl {\npath /health\ndigest ${md5('all good\n').toUpperCase()}\n}`,
    server: answering(200, 'all good\n'),
    expect: { ok: true, message: (s) => `${at(s?.port)}: status 200, digest ok` },
  },
  {
    name: 'wrong body: the digest differs',
    config: `connect_timeout 1\nurl {\npath /health\ndigest ${md5('all good\n')}\n}`,
    server: answering(200, 'all bad\n'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: body digest ${md5('all bad\n')}, expected ${md5('all good\n')}` },
  },
  {
    name: 'http_protocol 1.1: the digest of a chunked body is the digest of its content (keepalived would include the chunk framing)',
    config: `connect_timeout 1\nhttp_protocol 1.1\nurl {\npath /health\ndigest ${md5('part one, part two')}\n}`,
    server: httpServer((_req, res, clock) => {
      res.write('part one, ');
      chunked.push(res.chunkedEncoding);
      clock.after(20, () => res.end('part two'));
    }, 'an HTTP server sending a chunked body'),
    expect: { ok: true },
    inspect: () => assert.deepEqual(chunked.splice(0), [true]),
  },
  {
    name: 'regex matches the body',
    config: 'connect_timeout 1\nurl {\npath /health\nregex "status: (ok|degraded)"\n}',
    server: answering(200, '<html>status: degraded</html>'),
    expect: { ok: true, message: (s) => `${at(s?.port)}: status 200, regex matched` },
  },
  {
    name: 'wrong body: the regex does not match',
    config: 'connect_timeout 1\nurl {\npath /health\nregex "status: ok"\n}',
    server: answering(200, 'status: failing'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: the body does not match regex 'status: ok'` },
  },
  {
    name: 'regex_no_match: a body that matches is down',
    config: 'connect_timeout 1\nurl {\npath /health\nregex "[Ee]rror"\nregex_no_match\n}',
    server: answering(200, 'Internal Error'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: the body matches regex '[Ee]rror' (regex_no_match)` },
  },
  {
    name: 'regex_options caseless; regex_min_offset skips the start of the body',
    config: 'connect_timeout 1\nurl {\npath /health\nregex "^?ok"\nregex "OK"\nregex_options caseless\nregex_min_offset 3\n}',
    server: answering(200, 'ok ok'),
    expect: { ok: true },
  },
  {
    name: 'regex_max_offset: a match starting past it does not count',
    config: 'connect_timeout 1\nurl {\npath /health\nregex "ready"\nregex_max_offset 5\n}',
    server: answering(200, 'not yet ready'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: the body does not match regex 'ready'` },
  },
  {
    name: 'a PCRE2-only regex: a warning at -t, and the check says why it cannot run',
    config: 'connect_timeout 1\nurl {\npath /health\nregex "(?i)ok"\n}',
    server: answering(200, 'OK'),
    warnings: [/^regex '\(\?i\)ok' uses PCRE2 syntax that alived cannot verify/],
    expect: { ok: false, message: /: regex '\(\?i\)ok' uses PCRE2 syntax JavaScript cannot run .*; alived cannot check it$/ },
  },
  {
    name: 'every url must pass: the second one fails the check',
    config: 'connect_timeout 1\nurl {\npath /health\n}\nurl {\npath /deep\nstatus_code 200\n}',
    server: httpServer((req, res) => res.writeHead(req.url === '/deep' ? 500 : 200).end('x'), 'an HTTP server failing /deep'),
    expect: { ok: false, message: (s) => `${at(s?.port, '/deep')}: status 500, expected 200` },
  },
  {
    name: 'slow: headers after connect_timeout',
    config: 'connect_timeout 0.3\nurl {\npath /health\n}',
    server: httpServer((_req, res, clock) => clock.after(1000, () => res.end('late')), 'an HTTP server answering after 1 s'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: timed out waiting for the response` },
  },
  {
    name: 'hanging: the server never answers',
    config: 'connect_timeout 0.3\nurl {\npath /health\n}',
    server: httpServer(() => {}, 'an HTTP server that never answers'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: timed out waiting for the response` },
  },
  {
    name: 'slow body: headers, then the body stalls',
    config: `connect_timeout 0.3\nurl {\npath /health\ndigest ${md5('x')}\n}`,
    server: httpServer((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345');
    }, 'an HTTP server stalling in the body'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: timed out reading the body` },
  },
  {
    name: 'resetting: the server resets the connection on the request',
    config: 'connect_timeout 1\nurl {\npath /health\n}',
    server: httpServer((req) => req.socket.resetAndDestroy(), 'an HTTP server resetting on the request'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: connection reset by the server (ECONNRESET) waiting for the response` },
  },
  {
    name: 'the server closes without answering (keepalived: no data received)',
    config: 'connect_timeout 1\nurl {\npath /health\n}',
    server: httpServer((req) => req.socket.destroy(), 'an HTTP server closing on the request'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: the server closed the connection without answering` },
  },
  {
    name: 'not HTTP: a server answering garbage',
    config: 'connect_timeout 1\nurl {\npath /health\n}',
    server: tcpServer((sock) => sock.once('data', () => sock.end('SSH-2.0-OpenSSH_9.2\r\n')), 'an SSH server'),
    expect: { ok: false, message: /: the response is not valid HTTP: / },
  },
  {
    name: 'nothing listening',
    config: 'connect_timeout 1\nurl {\npath /health\n}',
    server: refusingPort(),
    expect: { ok: false, message: (s) => `${at(s?.port)}: connection refused (ECONNREFUSED)` },
  },
  {
    name: 'a path without a leading slash: a warning at -t, and the check fails saying so',
    config: 'connect_timeout 1\nurl {\npath health\n}',
    server: answering(200),
    warnings: ["path 'health' does not start with '/': alived does not send such a request, and the check fails (keepalived sends it as written)"],
    expect: { ok: false, message: (s) => `HTTP_GET http://127.0.0.1:${s!.port}health: path 'health' does not start with '/'` },
  },
  {
    name: 'verify_cert is an SSL_GET keyword',
    config: 'verify_cert\nurl {\npath /\n}',
    errors: ["unknown keyword 'verify_cert' in HTTP_GET"],
  },
]);

// ---------------------------------------------------------------------------
// SSL_GET

const selfSigned = makeCertificate();
const expired = makeCertificate({ expired: true });
/** the certificates' files, for the SSL block: known once made */
let selfSignedFile = '';
let expiredFile = '';
before(async () => {
  selfSignedFile = (await selfSigned).certFile;
  expiredFile = (await expired).certFile;
});

/** the TLS server name each connection asked for (false: none), for the cases that look */
const servernames: Array<string | false | null> = [];

const tlsAnswering = (cert: Promise<Certificate>, what: string, names?: Array<string | false | null>): ServerBehaviour =>
  httpsServer(
    cert,
    (req, res) => {
      names?.push((req.socket as tls.TLSSocket).servername);
      res.end('secure ok');
    },
    `an HTTPS server with ${what}`,
  );

const sslTester = new CheckerTester({ plugin: checkHttp, keyword: 'SSL_GET' });
const sslAt = (port: number | undefined): string => `SSL_GET https://127.0.0.1:${port}/`;

sslTester.run('SSL_GET against real TLS servers on loopback', [
  {
    name: 'self-signed certificate, no verification (keepalived never verifies): up, no SNI',
    config: 'connect_timeout 1\nurl {\npath /\n}',
    server: tlsAnswering(selfSigned, 'a self-signed certificate', servernames),
    expect: { ok: true, message: (s) => `${sslAt(s?.port)}: status 200` },
    inspect: () => assert.deepEqual(servernames.splice(0), [false]),
  },
  {
    name: 'self-signed certificate with verify_cert: down',
    config: 'connect_timeout 1\nverify_cert\nurl {\npath /\n}',
    server: tlsAnswering(selfSigned, 'a self-signed certificate'),
    expect: { ok: false, message: (s) => `${sslAt(s?.port)}: certificate verification failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)` },
  },
  {
    name: 'verify_cert with the certificate as the SSL block ca: up',
    top: () => `SSL {\n  ca ${selfSignedFile}\n}\n`,
    config: 'connect_timeout 1\nverify_cert\nurl {\npath /\n}',
    server: tlsAnswering(selfSigned, 'a self-signed certificate'),
    expect: { ok: true },
  },
  {
    name: 'verify_cert checks the name: the virtualhost is not in the certificate',
    top: () => `SSL {\n  ca ${selfSignedFile}\n}\n`,
    config: 'connect_timeout 1\nverify_cert\nvirtualhost www.example.com\nurl {\npath /\n}',
    server: tlsAnswering(selfSigned, 'a certificate for localhost and 127.0.0.1'),
    expect: {
      ok: false,
      message:
        /certificate verification failed: Host: www\.example\.com\. is not in the cert's altnames: DNS:localhost, IP Address:127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    },
  },
  {
    name: 'expired certificate, no verification: up',
    config: 'connect_timeout 1\nurl {\npath /\n}',
    server: tlsAnswering(expired, 'an expired certificate'),
    expect: { ok: true },
  },
  {
    name: 'expired certificate with verify_cert: down',
    top: () => `SSL {\n  ca ${expiredFile}\n}\n`,
    config: 'connect_timeout 1\nverify_cert\nurl {\npath /\n}',
    server: tlsAnswering(expired, 'an expired certificate'),
    expect: { ok: false, message: (s) => `${sslAt(s?.port)}: certificate verification failed: the certificate has expired (CERT_HAS_EXPIRED)` },
  },
  {
    name: 'enable_sni sends the virtualhost as the server name; the Host header carries it too',
    config: 'connect_timeout 1\nenable_sni\nvirtualhost www.example.com\nurl {\npath /\n}',
    server: tlsAnswering(selfSigned, 'a self-signed certificate', servernames),
    expect: { ok: true, message: (s) => `${sslAt(s?.port)} (virtualhost www.example.com): status 200` },
    inspect: () => assert.deepEqual(servernames.splice(0), ['www.example.com']),
  },
  {
    name: 'without enable_sni a virtualhost is not sent as SNI (undici would)',
    config: 'connect_timeout 1\nvirtualhost www.example.com\nurl {\npath /\n}',
    server: tlsAnswering(selfSigned, 'a self-signed certificate', servernames),
    expect: { ok: true },
    inspect: () => assert.deepEqual(servernames.splice(0), [false]),
  },
  {
    name: 'hanging TLS handshake: the server accepts and never speaks',
    config: 'connect_timeout 0.3\nurl {\npath /\n}',
    server: tcpServer(undefined, 'a TCP server that never speaks'),
    expect: { ok: false, message: (s) => `${sslAt(s?.port)}: timed out in the TLS handshake` },
  },
  {
    name: 'a plain HTTP server: the TLS handshake fails',
    config: 'connect_timeout 1\nurl {\npath /\n}',
    server: tcpServer((sock) => sock.once('data', () => sock.end('HTTP/1.1 400 Bad Request\r\n\r\n')), 'a plain HTTP server'),
    expect: { ok: false, message: (s) => `${sslAt(s?.port)}: TLS handshake failed: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)` },
  },
  {
    name: 'slow: the response after connect_timeout',
    config: 'connect_timeout 0.3\nurl {\npath /\n}',
    server: httpsServer(selfSigned, (_req, res, clock) => clock.after(1000, () => res.end('late')), 'an HTTPS server answering after 1 s'),
    expect: { ok: false, message: (s) => `${sslAt(s?.port)}: timed out waiting for the response` },
  },
  {
    name: 'tls_compliant sends a close_notify before closing; by default keepalived shuts down quietly',
    config: 'connect_timeout 1\ntls_compliant\nurl {\npath /\n}',
    server: alertWatchingTls(selfSigned),
    runs: 1,
    expect: { ok: true },
    inspect: async () => {
      await waitFor(() => closeNotifies.length > 0);
      assert.deepEqual(closeNotifies.splice(0), [true]);
    },
  },
  {
    name: 'without tls_compliant no close_notify',
    config: 'connect_timeout 1\nurl {\npath /\n}',
    server: alertWatchingTls(selfSigned),
    expect: { ok: true },
    inspect: async () => {
      await waitFor(() => closeNotifies.length > 0);
      assert.deepEqual(closeNotifies.splice(0), [false]);
    },
  },
  {
    name: 'an SSL block naming a ca file that cannot be read: every check says so',
    top: () => `SSL {\n  ca ${selfSignedFile}.missing\n}\n`,
    config: 'connect_timeout 1\nurl {\npath /\n}',
    server: tlsAnswering(selfSigned, 'a self-signed certificate'),
    warnings: [/^file '.*\.missing' does not exist on this host$/],
    expect: { ok: false, message: /: SSL block: cannot read ca \/.*\/cert\.pem\.missing: ENOENT$/ },
  },
]);

/** per connection through alertWatchingTls(): did the client send a TLS alert (close_notify) before closing? */
const closeNotifies: boolean[] = [];

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

/**
 * A TCP server that relays to an HTTPS server limited to TLS 1.2, where an
 * alert record's type is readable on the wire: it notes whether the
 * client's last record before closing was an alert (21), i.e. a close_notify.
 */
function alertWatchingTls(cert: Promise<Certificate>): ServerBehaviour {
  return {
    description: 'an HTTPS server (TLS 1.2) behind a relay reading record types',
    protocol: 'tcp',
    async start() {
      const c = await cert;
      const inner = https.createServer({ key: c.key, cert: c.cert, maxVersion: 'TLSv1.2' }, (_req, res) => res.end('ok'));
      await new Promise<void>((r) => inner.listen(0, '127.0.0.1', r));
      const innerPort = (inner.address() as net.AddressInfo).port;
      const relay = tcpServer((sock) => {
        const up = net.connect(innerPort, '127.0.0.1');
        up.on('error', () => sock.destroy());
        let buf = Buffer.alloc(0);
        let lastType = 0;
        sock.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          // TLS records: type (1), version (2), length (2), payload
          while (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
            lastType = buf[0]!;
            buf = buf.subarray(5 + buf.readUInt16BE(3));
          }
          up.write(d);
        });
        sock.on('close', () => {
          closeNotifies.push(lastType === 21);
          up.destroy();
        });
        up.on('data', (d) => sock.write(d));
        up.on('close', () => sock.end());
      }, 'a relay');
      const started = await relay.start();
      return {
        ...started,
        async close() {
          await started.close();
          inner.closeAllConnections();
          await new Promise<void>((r) => inner.close(() => r()));
        },
      };
    },
  };
}
