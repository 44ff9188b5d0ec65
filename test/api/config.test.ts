import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { apiSettingsOf } from '../../core/api/settings';
import { compileText, has, noErrors, PROJECT_ROOT, writeFiles } from '../helpers/config';

const TOKEN = 'cfg-token-5e8b2a7c9d01f3';

/** A directory with a token file (mode 0600) and the config text, compiled. */
async function compileApi(block: string, files: Record<string, string> = {}, modes: Record<string, number> = {}) {
  const dir = writeFiles({ token: `${TOKEN}\nsecond line\n`, ...files });
  fs.chmodSync(path.join(dir, 'token'), 0o600);
  for (const [f, m] of Object.entries(modes)) fs.chmodSync(path.join(dir, f), m);
  const text = block.replaceAll('DIR', dir);
  return { dir, r: await compileText(text) };
}

test('a config without alived_api gets the unix socket only, at the path the flags choose', async () => {
  const r = await compileText('global_defs {\n  router_id a\n}\n');
  noErrors(r);
  assert.equal(r.model!.alivedApi, undefined);
  const s = apiSettingsOf(r.model!, {});
  assert.deepEqual(s.socket, { path: '/run/alived/alived.sock', mode: 0o660, group: null });
  assert.deepEqual(s.tcp, []);
  assert.equal(s.token, null);
  assert.equal(s.maxConnections, 64);
  assert.equal(s.maxStreamClients, 16);
  assert.equal(apiSettingsOf(r.model!, { instance: 'b' }).socket!.path, '/run/alived/alived_b.sock');
  assert.equal(apiSettingsOf(r.model!, { stateDir: '/srv/b' }).socket!.path, '/srv/b/alived.sock');
});

test('alived_api gives a typed model and settings with the token read from its file', async () => {
  const { r } = await compileApi(`alived_api {
  socket /run/alived-test/api.sock
  socket_mode 0640
  socket_group nogroup
  listen 127.0.0.1:9650
  listen [::1]:9651
  listen 10.0.0.1:9652
  token_file DIR/token
  max_connections 10
  max_stream_clients 2
}
`);
  noErrors(r);
  const b = r.model!.alivedApi!;
  assert.equal(b.socket, '/run/alived-test/api.sock');
  assert.equal(b.socketMode, 0o640);
  assert.equal(b.socketGroup, 'nogroup');
  assert.deepEqual(
    b.listen.map((l) => [l.host, l.port]),
    [
      ['127.0.0.1', 9650],
      ['::1', 9651],
      ['10.0.0.1', 9652],
    ],
  );
  const s = apiSettingsOf(r.model!, { instance: 'x' });
  assert.deepEqual(s.socket, { path: '/run/alived-test/api.sock', mode: 0o640, group: 'nogroup' });
  assert.deepEqual(s.tcp, [
    { host: '127.0.0.1', port: 9650 },
    { host: '::1', port: 9651 },
    { host: '10.0.0.1', port: 9652 },
  ]);
  assert.ok(s.token!.matches(`Bearer ${TOKEN}`));
  assert.ok(!s.token!.matches('Bearer second line'));
  assert.equal(s.maxConnections, 10);
  assert.equal(s.maxStreamClients, 2);
  assert.ok(!JSON.stringify(s).includes(TOKEN));
  // `socket off`: no unix socket
  const off = await compileText('alived_api {\n  socket off\n  listen 127.0.0.1:9650\n}\n');
  noErrors(off);
  assert.equal(apiSettingsOf(off.model!, {}).socket, null);
});

test('alived_api: each way it can be wrong is an error at its place', async () => {
  const { r } = await compileApi(`alived_api {
  socket run/alived.sock
  socket_mode 0999
  listen 127.0.0.1
  listen 127.0.0.1:70000
  listen ::1:9650
  listen 0.0.0.0:9650
  max_connections 0
  max_stream_client 3
}
`);
  has(r, "keepalived.conf:2:10: error: 'run/alived.sock' is not an absolute path or 'off'");
  has(r, "keepalived.conf:3:15: error: '0999' is not an octal file mode such as 0660");
  has(r, "keepalived.conf:4:10: error: '127.0.0.1' is not an address and port: 127.0.0.1:9650, or [::1]:9650 for IPv6");
  has(r, "keepalived.conf:5:10: error: port 70000 in '127.0.0.1:70000' is out of range: expected 1..65535");
  has(r, "keepalived.conf:6:10: error: '::1:9650' is not an address and port");
  has(r, 'keepalived.conf:8:19: error: 0 is out of range: expected 1..10000');
  has(r, "keepalived.conf:9:3: error: unknown keyword 'max_stream_client' in alived_api (did you mean 'max_stream_clients'?)");
  // the check across keywords runs on a block whose keywords are valid
  const open = await compileText('alived_api {\n  listen 127.0.0.1:9650\n  listen 0.0.0.0:9650\n  listen [::]:9651\n  listen 127.0.0.1:9650\n}\n');
  has(open, 'keepalived.conf:3:10: error: alived_api: listen 0.0.0.0:9650 is not a loopback address and no token_file is set');
  has(open, 'keepalived.conf:4:10: error: alived_api: listen [::]:9651 is not a loopback address');
  has(open, 'keepalived.conf:5:10: error: alived_api: listen 127.0.0.1:9650 is already given (at line 2)');
  assert.equal(open.errors.length, 3, open.errors.join('\n'));
});

test('token_file: a regular file others cannot read, with a token of 16 characters or more', async () => {
  const readable = await compileApi('alived_api {\n  listen 127.0.0.1:9650\n  token_file DIR/token\n}\n', {}, { token: 0o644 });
  has(readable.r, 'keepalived.conf:3:14: error: token_file: ');
  has(readable.r, 'token is readable by other users (mode 0644); chmod o-rwx it');
  const short = await compileApi('alived_api {\n  listen 127.0.0.1:9650\n  token_file DIR/short\n}\n', { short: 'abc\n' }, { short: 0o600 });
  has(short.r, 'keepalived.conf:3:14: error: token_file: the first line of');
  has(short.r, 'is not a token of at least 16 characters');
  const missing = await compileApi('alived_api {\n  listen 127.0.0.1:9650\n  token_file DIR/none\n}\n');
  has(missing.r, 'keepalived.conf:3:14: error: token_file: cannot read');
  has(missing.r, 'ENOENT');
  const { dir } = await compileApi('');
  fs.symlinkSync(path.join(dir, 'token'), path.join(dir, 'link'));
  const link = await compileText(`alived_api {\n  listen 127.0.0.1:9650\n  token_file ${dir}/link\n}\n`);
  has(link, 'keepalived.conf:3:14: error: token_file: ');
  has(link, 'link is not a regular file');
  // no token content in any message
  for (const r of [readable.r, short.r, missing.r, link]) assert.ok(!r.lines.join('\n').includes(TOKEN));
});

test('tls_cert and tls_key go together; the key is not readable by others; no effect without listen', async () => {
  const one = await compileApi('alived_api {\n  listen 127.0.0.1:9650\n  tls_cert DIR/cert.pem\n}\n', { 'cert.pem': 'CERT\n' });
  has(one.r, 'keepalived.conf:3:3: error: alived_api: tls_cert needs tls_key too (both or neither)');
  const open = await compileApi(
    'alived_api {\n  listen 127.0.0.1:9650\n  tls_cert DIR/cert.pem\n  tls_key DIR/key.pem\n}\n',
    { 'cert.pem': 'CERT\n', 'key.pem': 'KEY\n' },
    { 'key.pem': 0o604 },
  );
  has(open.r, 'keepalived.conf:4:11: error: tls_key: ');
  has(open.r, 'key.pem is readable by other users');
  const good = await compileApi(
    'alived_api {\n  listen 127.0.0.1:9650\n  tls_cert DIR/cert.pem\n  tls_key DIR/key.pem\n}\n',
    { 'cert.pem': 'CERT\n', 'key.pem': 'KEY\n' },
    { 'key.pem': 0o600 },
  );
  noErrors(good.r);
  const tls = apiSettingsOf(good.r.model!, {}).tls!;
  assert.equal(tls.cert.toString(), 'CERT\n');
  assert.equal(tls.key.toString(), 'KEY\n');
  const unused = await compileApi('alived_api {\n  token_file DIR/token\n}\n');
  noErrors(unused.r);
  has(unused.r, 'keepalived.conf:2:3: warning: alived_api: token_file has no effect without a listen address');
});

test('apiSettingsOf refuses a token file that changed after the check', async () => {
  const { dir, r } = await compileApi('alived_api {\n  listen 127.0.0.1:9650\n  token_file DIR/token\n}\n');
  noErrors(r);
  fs.chmodSync(path.join(dir, 'token'), 0o644);
  assert.throws(() => apiSettingsOf(r.model!, {}), { code: 'ALIVED_API_LISTEN', message: /127\.0\.0\.1:9650: token_file: .* is readable by other users/ });
});

test('alived -t reports alived_api errors with FILE:LINE:COL', () => {
  const dir = writeFiles({ 'keepalived.conf': 'alived_api {\n  listen 192.0.2.1:9650\n  socket_mode 8\n}\n' });
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/core/cli/main.js'), '-t', '-f', 'keepalived.conf'], {
    encoding: 'utf8',
    cwd: dir,
    timeout: 20_000,
  });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const out = r.stdout + r.stderr;
  assert.match(out, /keepalived\.conf:3:15: error: '8' is not an octal file mode/);
  assert.doesNotMatch(out, /listen 192/, 'the cross-keyword check waits for valid keywords');
  const dir2 = writeFiles({ 'keepalived.conf': 'alived_api {\n  listen 192.0.2.1:9650\n}\n' });
  const r2 = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/core/cli/main.js'), '-t', '-f', 'keepalived.conf'], {
    encoding: 'utf8',
    cwd: dir2,
    timeout: 20_000,
  });
  assert.equal(r2.status, 1, r2.stdout + r2.stderr);
  assert.match(r2.stdout + r2.stderr, /keepalived\.conf:2:10: error: alived_api: listen 192\.0\.2\.1:9650 is not a loopback address and no token_file is set/);
});
