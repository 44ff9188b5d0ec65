import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OPTIONS } from '../../core/cli/options';
import { keywordNames, keywordTree } from '../../scripts/doc/keyword-tree';
import { escapeText, literal } from '../../scripts/doc/roff';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';

// the man pages and the bash completion, written as `npm run man` and scripts/build-deb.sh write them
const WRITE = path.join(PROJECT_ROOT, 'dist', 'scripts', 'doc', 'write.js');

function written(): { dir: string; page8: string; page5: string; completion: string } {
  const dir = tmpDir('alived-man-');
  const r = spawnSync(process.execPath, [WRITE, '--man', dir, '--completion', path.join(dir, 'alived.bash')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
  return { dir, page8: read('alived.8'), page5: read('alived.conf.5'), completion: read('alived.bash') };
}

const out = written();

for (const page of ['alived.8', 'alived.conf.5']) {
  test(`${page}: groff renders it without a warning`, () => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', path.join(out.dir, page)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.error, undefined, 'groff must be installed (scripts/setup-debian.sh)');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  test(`${page}: man -l shows it`, () => {
    const r = spawnSync('man', ['-l', path.join(out.dir, page)], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, MANPAGER: 'cat', MANWIDTH: '100' },
    });
    assert.equal(r.error, undefined, 'man must be installed (scripts/setup-debian.sh)');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^NAME$/m);
    assert.match(r.stdout, /^SEE ALSO$/m);
  });
}

test('alived(8) has every option of the CLI, with the words of docs/cli.md', () => {
  for (const o of OPTIONS) {
    assert.ok(out.page8.includes(`\\fB${literal(`--${o.long}`)}\\fR`), `--${o.long} in alived(8)`);
    if (o.short) assert.ok(out.page8.includes(`\\fB${literal(`-${o.short}`)}\\fR`), `-${o.short} in alived(8)`);
  }
  assert.match(out.page8, /^\.SH "EXIT STATUS"$/m);
  assert.match(out.page8, /^\.SH "SIGNALS"$/m);
  // a sentence of docs/cli.md's option table
  assert.ok(out.page8.includes('stay in the foreground. Without it alived checks the config in the foreground'));
});

test('alived.conf(5) has every keyword of the registry the compiler uses, built-in plugins included', async () => {
  const names = keywordNames(await keywordTree());
  assert.ok(names.length > 300, `${names.length} keywords`);
  for (const k of ['vrrp_instance', 'virtual_router_id', 'TCP_CHECK', 'vrrp_script', 'smtp_tls', 'alived_api']) assert.ok(names.includes(k), k);
  const missing = names.filter((n) => !out.page5.includes(`\\fB${literal(n)}\\fR`) && !out.page5.includes(escapeText(n)));
  assert.deepEqual(missing, []);
});

test('the bash completion is valid bash and completes every option', () => {
  const r = spawnSync('bash', ['-n', path.join(out.dir, 'alived.bash')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const o of OPTIONS) assert.ok(out.completion.includes(` --${o.long}`), `--${o.long} completed`);
  assert.match(out.completion, /outbox\) flags='[^']*--yes[^']*'; valued='[^']*'; subwords='list retry drop'/);
  assert.match(out.completion, /complete -F _alived alived/);
});

test('the bash completion completes options, subcommands and their words under bash-completion', () => {
  const lib = '/usr/share/bash-completion/bash_completion';
  assert.ok(fs.existsSync(lib), 'bash-completion must be installed (scripts/setup-debian.sh)');
  const script = [
    `source ${lib}`,
    `source ${path.join(out.dir, 'alived.bash')}`,
    'c() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _alived; echo "${COMPREPLY[*]}"; }',
    'c alived --config',
    'c alived st',
    "c alived outbox ''",
    'c alived status --wa',
    'c alived events -',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const [options, commands, outbox, watch, events] = r.stdout.split('\n');
  assert.deepEqual(options!.split(' ').sort(), ['--config-id', '--config-test']);
  assert.equal(commands, 'status');
  assert.equal(outbox, 'list retry drop');
  assert.equal(watch, '--watch');
  for (const f of ['--since', '-n', '--lines', '-f', '--follow', '--json', '--socket', '-h']) assert.ok(events!.split(' ').includes(f), `events ${f}`);
});
