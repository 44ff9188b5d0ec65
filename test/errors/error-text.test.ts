import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlivedError, errorText } from '../../core/errors';

const sysError = (message: string, code: string, errno: number): NodeJS.ErrnoException =>
  Object.assign(new Error(message), { code, errno, syscall: 'connect' });

test('errorText: the message, with the system error name where the message lacks it', () => {
  assert.equal(errorText(new Error('plain')), 'plain');
  assert.equal(errorText(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })), 'no space left on device (ENOSPC)');
  assert.equal(errorText(sysError('connect ECONNREFUSED 127.0.0.1:25', 'ECONNREFUSED', -111)), 'connect ECONNREFUSED 127.0.0.1:25');
  assert.equal(
    errorText(Object.assign(new Error('hostname mismatch'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })),
    'hostname mismatch (ERR_TLS_CERT_ALTNAME_INVALID)',
  );
  assert.equal(errorText('a string'), 'a string');
  assert.equal(errorText({ message: 'an object with a message', code: 'EIO' }), 'an object with a message (EIO)');
  assert.equal(errorText(new Error('')), 'Error');
  assert.equal(errorText(undefined), 'undefined');
});

test("errorText: an AlivedError's registry code is not text; its errno is", () => {
  assert.equal(errorText(new AlivedError('ALIVED_LAB_FAILED', 'the lab is destroyed')), 'the lab is destroyed');
  assert.equal(errorText(new AlivedError('ALIVED_FILE_FAILED', '/x: cannot write', { errno: 'ENOSPC' })), '/x: cannot write (ENOSPC)');
  assert.equal(errorText(new AlivedError('ALIVED_FILE_FAILED', '/x: cannot write: ENOSPC', { errno: 'ENOSPC' })), '/x: cannot write: ENOSPC');
});

test('errorText options: firstLine, explain, redact', () => {
  assert.equal(errorText(new Error("Cannot find module 'x'\nRequire stack:\n- /a.js"), { firstLine: true }), "Cannot find module 'x'");
  assert.equal(errorText(new SyntaxError('Unexpected token }\n    at x'), { firstLine: true }), 'Unexpected token }');
  assert.equal(errorText(sysError('connect ECONNREFUSED 127.0.0.1:25', 'ECONNREFUSED', -111), { explain: true }), 'connection refused (ECONNREFUSED)');
  assert.equal(
    errorText(Object.assign(new Error('x'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER', reason: 'wrong version number' }), { explain: true }),
    'TLS handshake failed: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)',
  );
  assert.equal(
    errorText(Object.assign(new Error('altnames'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: "Host: a. is not in the cert's altnames" }), {
      explain: true,
    }),
    "certificate verification failed: Host: a. is not in the cert's altnames (ERR_TLS_CERT_ALTNAME_INVALID)",
  );
  assert.equal(errorText(Object.assign(new Error('getaddrinfo ENOTFOUND h'), { code: 'ENOTFOUND' }), { explain: true }), 'getaddrinfo ENOTFOUND h');
  assert.equal(errorText(new Error('POST https://u:pw@h/x?token=abc failed'), { redact: true }), 'POST https://u:[redacted]@h/x?token=[redacted] failed');
  assert.equal(errorText(new Error('POST https://u:pw@h/x failed')), 'POST https://u:pw@h/x failed');
});

test("AlivedError takes errno from its cause only when it is a system error's name", () => {
  // nodemailer replaces a socket error's code with its own ESOCKET; the numeric errno still names it
  const socket = Object.assign(sysError('connect ECONNREFUSED 127.0.0.1:25', 'ECONNREFUSED', -111), { code: 'ESOCKET' });
  assert.equal(new AlivedError('ALIVED_NOTIFY_RETRY', 'x', { cause: socket }).errno, 'ECONNREFUSED');
  assert.equal(new AlivedError('ALIVED_NOTIFY_FAILED', 'x', { cause: Object.assign(new Error('Invalid login'), { code: 'EAUTH' }) }).errno, undefined);
  assert.equal(
    new AlivedError('ALIVED_NOTIFY_RETRY', 'x', { cause: Object.assign(new Error('Connection timeout'), { code: 'ETIMEDOUT' }) }).errno,
    'ETIMEDOUT',
  );
  assert.equal(new AlivedError('ALIVED_PLUGIN_LOAD_FAILED', 'x', { cause: Object.assign(new Error('m'), { code: 'MODULE_NOT_FOUND' }) }).errno, undefined);
  assert.equal(new AlivedError('ALIVED_FILE_FAILED', 'x', { cause: new AlivedError('ALIVED_LAB_FAILED', 'y') }).errno, undefined);
  assert.equal(new AlivedError('ALIVED_FILE_FAILED', 'x', { errno: 'EXDEV' }).errno, 'EXDEV');
  const e = new AlivedError('ALIVED_LAB_FAILED', 'z');
  assert.equal(e.code, 'ALIVED_LAB_FAILED');
  assert.equal(e.name, 'AlivedError');
  assert.ok(!('errno' in e) || e.errno === undefined);
});
