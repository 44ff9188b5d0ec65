import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, isJournalStream, streamSink } from '../../core/log/logger';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';
import { waitFor } from '../helpers/lab';
import { processAlive } from '../helpers/process';

/**
 * Under systemd, stderr is the journal's stream and $JOURNAL_STREAM names
 * its device and inode: the console lines then start with their syslog
 * level, `<N>` (sd-daemon(3)), which journald turns into the entry's
 * priority. The daemon here gets a file as its stderr and JOURNAL_STREAM
 * set to that file's device and inode, as systemd sets it for its socket.
 * The daemons run the checks only (-C): no VRRP, no lab.
 */

const BIN = path.join(PROJECT_ROOT, 'dist/core/cli/main.js');
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) {
    if (c.pid !== undefined && processAlive(c.pid)) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    }
  }
});

test('a sink with levelPrefix: <N> from the level, on every line of a record', () => {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += d));
  const log = createLogger([streamSink(s, 'text', 'alived[1]', { levelPrefix: true })], 'debug');
  log.error({}, 'one');
  log.warn({}, 'two');
  log.notice({}, 'three');
  log.info({}, 'four\nand a second line');
  log.debug({}, 'five');
  const lines = text.trimEnd().split('\n');
  assert.deepEqual(
    lines.map((l) => l.slice(0, 3)),
    ['<3>', '<4>', '<5>', '<6>', '<6>', '<7>'],
  );
  assert.match(lines[0]!, /^<3>\d{4}-.* alived\[1\] ERROR one$/);
  assert.equal(lines[4], '<6>and a second line');
});

test('isJournalStream: true only when JOURNAL_STREAM names the descriptor itself', () => {
  const dir = tmpDir('alived-journal-');
  const fd = fs.openSync(path.join(dir, 'err'), 'w');
  const other = fs.openSync(path.join(dir, 'other'), 'w');
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const id = `${st.dev}:${st.ino}`;
    assert.equal(isJournalStream(fd, { JOURNAL_STREAM: id }), true);
    assert.equal(isJournalStream(other, { JOURNAL_STREAM: id }), false, 'stderr redirected elsewhere keeps the variable');
    assert.equal(isJournalStream(fd, {}), false);
    assert.equal(isJournalStream(fd, { JOURNAL_STREAM: 'garbage' }), false);
  } finally {
    fs.closeSync(fd);
    fs.closeSync(other);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** runs `alived -n -l -C` with a file as stderr; JOURNAL_STREAM names it when `journal`; returns the file's text once it has run */
async function runDaemon(extra: string[], journal: 'matching' | 'other' | 'unset'): Promise<string> {
  const dir = tmpDir('alived-journal-');
  fs.writeFileSync(path.join(dir, 'alived.conf'), 'global_defs {\n  router_id J\n}\ninclude missing.conf\n');
  const errFile = path.join(dir, 'stderr');
  const fd = fs.openSync(errFile, 'w');
  const st = fs.fstatSync(fd, { bigint: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.JOURNAL_STREAM;
  if (journal === 'matching') env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
  if (journal === 'other') env.JOURNAL_STREAM = `${st.dev}:${st.ino + 1n}`;
  const child = spawn(
    process.execPath,
    [BIN, '-n', '-l', '-G', '-C', ...extra, '-f', 'alived.conf', '-p', path.join(dir, 'pid'), '--state-dir', path.join(dir, 'state')],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', fd],
      env,
    },
  );
  children.push(child);
  fs.closeSync(fd);
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor('Configuration loaded', () => (fs.readFileSync(errFile, 'utf8').includes('Configuration loaded') ? true : undefined), 15_000);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const text = fs.readFileSync(errFile, 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  return text;
}

test('the daemon with JOURNAL_STREAM naming its stderr: every console line carries its level', async () => {
  const text = await runDaemon([], 'matching');
  const lines = text.trimEnd().split('\n');
  assert.ok(lines.length > 3, text);
  for (const l of lines) assert.match(l, /^<[0-7]>/, `every line: ${l}`);
  assert.ok(
    lines.some((l) => /^<5>.* NOTICE Starting alived/.test(l)),
    text,
  );
  assert.ok(
    lines.some((l) => /^<4>.* WARN .*missing\.conf/.test(l)),
    text,
  );
  assert.ok(
    lines.some((l) => /^<6>.* INFO Configuration loaded/.test(l)),
    text,
  );
});

test('--log-json under the journal: the prefix, then a JSON object journald keeps as the message', async () => {
  const text = await runDaemon(['--log-json'], 'matching');
  for (const l of text.trimEnd().split('\n')) {
    const m = /^<([0-7])>(\{.*\})$/.exec(l);
    assert.ok(m, `a prefixed JSON line: ${l}`);
    const rec = JSON.parse(m[2]!) as { level: string };
    assert.equal(m[1], { debug: '7', info: '6', notice: '5', warn: '4', error: '3' }[rec.level]);
  }
});

test('JOURNAL_STREAM naming another stream, or unset: plain lines', async () => {
  for (const which of ['other', 'unset'] as const) {
    const text = await runDaemon([], which);
    assert.ok(text.includes('Configuration loaded'), text);
    for (const l of text.trimEnd().split('\n')) assert.doesNotMatch(l, /^</, `${which}: ${l}`);
  }
});
