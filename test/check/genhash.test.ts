import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { runGenhash } from '../../core/cli/genhash';
import { silentLogger } from '../../core/log/logger';
import type { HttpGetConfig } from '../../plugins/check-http';
import { createHttpChecker } from '../../plugins/check-http/checker';
import { httpServer, httpsServer, makeCertificate, refusingPort, type TestServer } from '../../core/testing';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** the request lines and SNI names the servers saw */
const seen: string[] = [];

const servers: TestServer[] = [];
let web: TestServer;
let secure: TestServer;

before(async () => {
  web = await httpServer((req, res, clock) => {
    seen.push(`${req.method} ${req.url} HTTP/${req.httpVersion} host=${req.headers.host} connection=${req.headers.connection ?? '-'}`);
    if (req.url === '/chunked') {
      res.write('part one, ');
      clock.after(20, () => res.end('part two'));
    } else if (req.url === '/hang') {
      // never answers
    } else if (req.url === '/empty') {
      res.writeHead(204).end();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '12' }).end('hello world\n');
    }
  }).start();
  secure = await httpsServer(makeCertificate(), (req, res) => {
    seen.push(`sni=${(req.socket as import('node:tls').TLSSocket).servername} host=${req.headers.host}`);
    res.end('secure body');
  }).start();
  servers.push(web, secure);
});

after(async () => {
  for (const s of servers) await s.close();
});

async function genhash(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (d) => (chunks.out += d));
  err.on('data', (d) => (chunks.err += d));
  const code = await runGenhash(argv, out, err);
  return { code, ...chunks };
}

test('genhash prints the MD5 of the body, as HTTP_GET computes it; HTTP/1.0 without Connection by default', async () => {
  const r = await genhash('-s', '127.0.0.1', '-p', String(web.port), '-u', '/');
  assert.deepEqual(r, { code: 0, out: `${md5('hello world\n')}\n`, err: '' });
  assert.deepEqual(seen.splice(0), [`GET / HTTP/1.0 host=127.0.0.1:${web.port} connection=-`]);
  // the digest printed is the one an HTTP_GET url accepts
  const target = { address: '127.0.0.1', port: web.port };
  const url = { path: '/', digest: r.out.trim(), statusCode: [], regexOptions: [], regexNoMatch: false };
  const checker = createHttpChecker('HTTP_GET', { url: [url], httpProtocol: '1.0' } as unknown as HttpGetConfig, {
    target,
    realServer: target,
    log: silentLogger,
  });
  assert.deepEqual(await checker.check(AbortSignal.timeout(2000)), { ok: true, message: `HTTP_GET http://127.0.0.1:${web.port}/: status 200, digest ok` });
  seen.splice(0);
});

test('genhash: long options, --opt=value, -V virtualhost, -P 1.0c and 1.1', async () => {
  assert.equal((await genhash('--server=127.0.0.1', '--port', String(web.port), '--url', '/x', '-V', 'www.example.com', '-P', '1.0c')).code, 0);
  assert.equal((await genhash(`-p${web.port}`, '-s127.0.0.1', '-u/x', '--protocol', '1.1')).code, 0);
  assert.deepEqual(seen.splice(0), ['GET /x HTTP/1.0 host=www.example.com connection=close', `GET /x HTTP/1.1 host=127.0.0.1:${web.port} connection=close`]);
});

test('genhash -P 1.1: a chunked body is digested without its framing', async () => {
  const r = await genhash('-s', '127.0.0.1', '-p', String(web.port), '-u', '/chunked', '-P', '1.1');
  assert.equal(r.out, `${md5('part one, part two')}\n`);
  seen.splice(0);
});

test('genhash -S: TLS without verification; -I sends the virtualhost as SNI', async () => {
  const r = await genhash('-S', '-I', '-V', 'www.example.com', '-s', '127.0.0.1', '-p', String(secure.port), '-u', '/');
  assert.deepEqual(r, { code: 0, out: `${md5('secure body')}\n`, err: '' });
  const plain = await genhash('-S', '-s', '127.0.0.1', '-p', String(secure.port), '-u', '/');
  assert.equal(plain.code, 0);
  assert.deepEqual(seen.splice(0), ['sni=www.example.com host=www.example.com', `sni=false host=127.0.0.1:${secure.port}`]);
});

test('genhash -v shows the request, the response headers and body, the digest and the time', async () => {
  const r = await genhash('-v', '-s', '127.0.0.1', '-p', String(web.port), '-u', '/');
  assert.equal(r.code, 0);
  assert.match(r.out, /HTTP Request[\s\S]*GET \/ HTTP\/1\.0\nhost: 127\.0\.0\.1:\d+\nuser-agent: KeepAliveClient\n/);
  assert.match(r.out, /HTTP Header Ascii Buffer[\s\S]*HTTP 200 OK\n[\s\S]*content-length: 12\n/);
  assert.match(r.out, /HTML Buffer[\s\S]*12 bytes\nhello world\n/);
  assert.match(r.out, new RegExp(`HTML hash final resulting[^\\n]*\\n${md5('hello world\n')}\\n\\nGlobal response time for \\[/\\] = \\d+ usecs\\n$`));
  seen.splice(0);
});

test('genhash: an empty body has the digest of nothing', async () => {
  assert.equal((await genhash('-s', '127.0.0.1', '-p', String(web.port), '-u', '/empty')).out, `${md5('')}\n`);
  seen.splice(0);
});

test('genhash: failures go to stderr with exit 1 (keepalived exits 0)', async () => {
  const refused = await refusingPort().start();
  const r = await genhash('-s', '127.0.0.1', '-p', String(refused.port), '-u', '/');
  assert.deepEqual(r, { code: 1, out: '', err: `alived genhash: http://127.0.0.1:${refused.port}/: connection refused (ECONNREFUSED)\n` });
  const t0 = Date.now();
  const hung = await genhash('-t', '0.3', '-s', '127.0.0.1', '-p', String(web.port), '-u', '/hang');
  assert.equal(hung.code, 1);
  assert.equal(hung.err, `alived genhash: http://127.0.0.1:${web.port}/hang: timed out waiting for the response\n`);
  assert.ok(Date.now() - t0 < 1500, 'bounded by -t');
  seen.splice(0);
});

test('genhash: usage errors', async () => {
  const cases: Array<[string[], string]> = [
    [['-s', '127.0.0.1', '-p', '80'], 'alived genhash: missing -u url'],
    [['-s', 'www.example.com', '-p', '80', '-u', '/'], 'alived genhash: server should be an IP, not www.example.com'],
    [['-s', '127.0.0.1', '-p', '0', '-u', '/'], "alived genhash: invalid port number '0'"],
    [['-s', '127.0.0.1', '-p', '80', '-u', '/', '-P', '2'], "alived genhash: invalid HTTP protocol version '2'"],
    [['-s', '127.0.0.1', '-p', '80', '-u', '/', '-m', '7'], 'alived genhash: alived cannot set a fwmark (-m): Node.js cannot set SO_MARK on a socket'],
    [['-s', '127.0.0.1', '-p', '80', '-u', '/', '-x'], 'alived genhash: Unknown option -x'],
    [['-s', '127.0.0.1', '-p', '80', '-u', '/', 'extra'], 'alived genhash: Unexpected argument(s): extra'],
    [['-s', '127.0.0.1', '-p'], 'alived genhash: Missing parameter for option -p'],
  ];
  for (const [argv, first] of cases) {
    const r = await genhash(...argv);
    assert.equal(r.code, 1, argv.join(' '));
    assert.equal(r.err.split('\n')[0], first);
    assert.match(r.err, /Usage: alived genhash COMMAND \[OPTIONS\]/);
  }
  const help = await genhash('-h');
  assert.equal(help.code, 0);
  assert.match(help.out, /--use-virtualhost\s+-V HOST/);
});

/** keepalived's own genhash (Debian's keepalived package installs it) */
function keepalivedGenhash(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('genhash', argv, { timeout: 10_000 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error("keepalived's genhash is not installed: run `bash scripts/setup-debian.sh` (as root); this test compares digests with it"));
      } else if (err) reject(err);
      else resolve(stdout);
    });
  });
}

test("interop: the same digest as keepalived's genhash for HTTP/1.0, 1.0C and TLS; for 1.1 with a chunked body keepalived digests the chunk framing", async () => {
  const base = ['-s', '127.0.0.1', '-p', String(web.port)];
  for (const extra of [
    ['-u', '/'],
    ['-u', '/', '-P', '1.0c'],
    ['-u', '/', '-P', '1.1'],
    ['-u', '/chunked'],
  ]) {
    const theirs = await keepalivedGenhash([...base, ...extra]);
    const ours = await genhash(...base, ...extra);
    assert.equal(ours.out, theirs, extra.join(' '));
  }
  const tlsArgs = ['-S', '-s', '127.0.0.1', '-p', String(secure.port), '-u', '/'];
  assert.equal((await genhash(...tlsArgs)).out, await keepalivedGenhash(tlsArgs));
  const chunked11 = [...base, '-u', '/chunked', '-P', '1.1'];
  const theirs = (await keepalivedGenhash(chunked11)).trim();
  assert.notEqual(theirs, md5('part one, part two'), 'keepalived includes the chunk sizes in its digest');
  assert.equal((await genhash(...chunked11)).out, `${md5('part one, part two')}\n`);
  seen.splice(0);
});
