import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileText, PROJECT_ROOT, has, instance, noErrors } from '../helpers/config';
import { TRACKER_PLUGINS } from '../../plugins/trackers';
import type { ExtensionValue } from '../../core/sdk';
import type { TrackScriptEntry } from '../../plugins/track-script';
import type { TrackFileEntry } from '../../plugins/track-file';
import type { TrackProcessEntry } from '../../plugins/track-process';

function ext<T>(list: ExtensionValue[], keyword: string): T[] {
  return list.filter((e) => e.keyword === keyword).map((e) => e.value as T);
}

test('the tracker plugins are built in and register their keywords', async () => {
  assert.deepEqual(
    TRACKER_PLUGINS.map((p) => p.name),
    ['track-script', 'track-file', 'track-process', 'vrrp-check'],
  );
  const r = await compileText('');
  const reg = r.pluginHost.registry;
  assert.deepEqual(
    reg
      .names('root')
      .filter((n) => /script|track/.test(n))
      .sort(),
    ['track_file', 'vrrp_script', 'vrrp_track_file', 'vrrp_track_process'],
  );
  for (const slot of ['vrrp_instance', 'vrrp_sync_group']) {
    assert.deepEqual(
      reg
        .names(slot)
        .filter((n) => n.startsWith('track_'))
        .sort(),
      ['track_check', 'track_file', 'track_process', 'track_script'],
      slot,
    );
  }
});

/**
 * Every module a source file loads: imports and re-exports (type-only ones
 * too), side-effect imports, import() and require() with a string literal;
 * a dynamic import or require of anything else is returned as `<dynamic>`,
 * which no rule allows.
 */
function importsOf(src: string): string[] {
  const found = [...src.matchAll(/\bfrom\s+'([^']+)'|\bimport\s+'([^']+)'|\b(?:import|require)\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  const dynamic = [...src.matchAll(/\b(?:import|require)\(\s*(?!'[^']+'\s*\))/g)].map(() => '<dynamic>');
  return [...found, ...dynamic];
}

test("built-in plugins use only the public SDK, their own files, other built-in plugins' files and packages alived depends on, however they load them", () => {
  const deps = Object.keys(
    (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies,
  );
  const seen = new Map<string, string[]>();
  const dirs = fs
    .readdirSync(path.join(PROJECT_ROOT, 'plugins'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.ok(dirs.length >= 15 && dirs.includes('track-process') && dirs.includes('shared'), dirs.join(' '));
  for (const dir of dirs) {
    const folder = path.join(PROJECT_ROOT, 'plugins', dir);
    for (const f of fs.readdirSync(folder).filter((n) => n.endsWith('.ts'))) {
      const imports = importsOf(fs.readFileSync(path.join(folder, f), 'utf8'));
      seen.set(`${dir}/${f}`, imports);
      // never a path into alived's core but the SDK; a package, as a third-party plugin would declare it;
      // shared code of the built-ins (plugins/shared) is another plugins folder's file
      const sibling = (i: string): boolean => /^\.\.\/([\w-]+)\/[\w-]+$/.test(i) && dirs.includes(i.split('/')[1]!);
      for (const i of imports)
        assert.ok(i === '../../core/sdk' || i.startsWith('node:') || /^\.\/[\w-]+$/.test(i) || sibling(i) || deps.includes(i), `${dir}/${f} imports ${i}`);
    }
    // shared is code the built-in plugins share, not a plugin
    if (dir !== 'shared') assert.ok(fs.existsSync(path.join(folder, 'README.md')), `${dir}/README.md`);
  }
  // the rule sees what is loaded only when needed: the proc connector's netlink
  assert.ok(seen.get('track-process/watcher.ts')?.includes('netlink'), 'the dynamic import of netlink is seen');
  assert.deepEqual(
    importsOf(`import type { A } from './a';\nimport './b';\nconst c = await import('../c');\nrequire("d" + e);\nexport * from '../../core/x';`),
    ['./a', './b', '../c', '../../core/x', '<dynamic>'],
  );
});

// ---------------------------------------------------------------------------
// vrrp_script / track_script

test('vrrp_script and track_script give a typed model', async () => {
  const r = await compileText(
    `vrrp_script chk_nginx {
  script "/usr/bin/pgrep -x nginx"
  interval 2
  timeout 5
  weight -20
  fall 3
  rise 2
  user nobody
}
vrrp_script chk_plain {
  script /usr/local/bin/check
}
` +
      instance(`  track_script {
    chk_nginx
    chk_plain weight 10 reverse
  }
`),
  );
  noErrors(r);
  const m = r.model!;
  const [nginx, plain] = ext<any>(m.extensions, 'vrrp_script');
  assert.equal(nginx.name, 'chk_nginx');
  assert.deepEqual(nginx.script.argv, ['/usr/bin/pgrep', '-x', 'nginx']);
  assert.equal(nginx.interval, 2);
  assert.equal(nginx.timeout, 5);
  assert.deepEqual(nginx.weight, { value: -20, reverse: false });
  assert.equal(nginx.fall, 3);
  assert.equal(nginx.rise, 2);
  assert.deepEqual(nginx.user, { user: 'nobody', group: undefined });
  // defaults
  assert.equal(plain.interval, 1);
  assert.deepEqual(plain.weight, { value: 0, reverse: false });
  assert.equal(plain.rise, 1);
  assert.equal(plain.fall, 1);
  assert.equal(plain.timeout, undefined);
  const [entries] = ext<TrackScriptEntry[]>(m.vrrpInstance[0]!.extensions, 'track_script');
  assert.deepEqual(
    entries!.map((e) => [e.name, e.weight, e.reverse]),
    [
      ['chk_nginx', undefined, undefined],
      ['chk_plain', 10, true],
    ],
  );
  // acted on: no "not acted on yet" warning for tracking
  assert.ok(!r.lines.some((l) => /does not act on VRRP tracking/.test(l)), r.lines.join('\n'));
});

test('an unknown track_script reference is an error at the reference, with a did-you-mean', async () => {
  const r = await compileText('vrrp_script chk_haproxy {\n  script /bin/true\n}\n' + instance('  track_script {\n    chk_haproxi\n  }\n'));
  has(r, "keepalived.conf:11:5: error: track_script refers to vrrp_script 'chk_haproxi', which is not defined (did you mean 'chk_haproxy'?)");
  // in a sync group too
  const g = await compileText(
    'vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n  track_script {\n    nope\n  }\n}\n' +
      instance('', 'VI_1') +
      instance('', 'VI_2', 'interface eth1\n  virtual_router_id 52'),
  );
  has(g, "keepalived.conf:7:5: error: track_script refers to vrrp_script 'nope', which is not defined");
});

test('track_script and vrrp_script values are checked', async () => {
  const r = await compileText(
    `vrrp_script a {
  script /bin/check arg
  weight 300
  interval 0
  rise 0
}
vrrp_script b {
  interval 2
}
vrrp_script a {
  script /bin/true
}
` +
      instance(`  track_script {
    a weight 254
    b weight 5 no_reverse
    a wieght 5
  }
`),
  );
  has(r, "keepalived.conf:2:21: error: 'script' takes one word: quote a command that has arguments");
  has(r, 'keepalived.conf:3:10: error: 300 is out of range: expected -253..253');
  has(r, 'keepalived.conf:4:12: error: 0 is out of range: expected 1..4294');
  has(r, 'keepalived.conf:5:8: error: 0 is out of range: expected 1..2147483647');
  has(r, "keepalived.conf:7:1: error: 'vrrp_script b' lacks required 'script'");
  // keepalived keeps both and tracks the first
  has(r, "keepalived.conf:10:13: warning: vrrp_script 'a' is already defined at line 1; as keepalived does, the first one is used and this one is ignored");
  has(r, 'keepalived.conf:20:14: error: 254 is out of range: expected -253..253');
  has(r, "keepalived.conf:21:16: error: unknown weight option 'no_reverse': expected reverse or noreverse (did you mean 'noreverse'?)");
  has(r, "keepalived.conf:22:7: error: unknown track_script option 'wieght' (did you mean 'weight'?)");
});

// ---------------------------------------------------------------------------
// track_file / vrrp_track_file

test('track_file and its references; vrrp_track_file is accepted with a note', async () => {
  const r = await compileText(
    `track_file tf_main {
  file /var/run/ka/main
  weight -2 reverse
  init_file 10 overwrite
}
vrrp_track_file tf_old {
  file /var/run/ka/old
}
` +
      instance(`  track_file {
    tf_main
    tf_old weight 0 noreverse
  }
`),
  );
  noErrors(r);
  has(r, "keepalived.conf:6:1: note: 'vrrp_track_file' is the old spelling of 'track_file'; accepted");
  const m = r.model!;
  const [main] = ext<any>(m.extensions, 'track_file');
  const [old] = ext<any>(m.extensions, 'vrrp_track_file');
  assert.equal(main.file, '/var/run/ka/main');
  assert.deepEqual(main.weight, { value: -2, reverse: true });
  assert.deepEqual(main.initFile, { value: 10, overwrite: true });
  assert.deepEqual(old.weight, { value: 1, reverse: false });
  const [refs] = ext<TrackFileEntry[]>(m.vrrpInstance[0]!.extensions, 'track_file');
  assert.deepEqual(
    refs!.map((e) => [e.name, e.weight, e.reverse]),
    [
      ['tf_main', undefined, undefined],
      ['tf_old', 0, false],
    ],
  );
});

test('track_file errors', async () => {
  const r = await compileText(
    `track_file tf {
  weight 255
  init_file 300 overwrit
}
` + instance('  track_file {\n    tf weight -255\n    missing\n  }\n'),
  );
  has(r, "keepalived.conf:1:1: error: 'track_file tf' lacks required 'file'");
  has(r, 'keepalived.conf:2:10: error: 255 is out of range: expected -254..254');
  has(r, 'keepalived.conf:3:13: error: 300 is out of range: expected -254..254');
  has(r, "keepalived.conf:3:17: error: unknown init_file option 'overwrit': expected a value and/or overwrite (did you mean 'overwrite'?)");
  has(r, 'keepalived.conf:12:15: error: -255 is out of range: expected -254..254');
  has(r, "keepalived.conf:13:5: error: track_file refers to track_file 'missing', which is not defined");
});

test('a track_file whose directory this host lacks is a warning', async () => {
  const r = await compileText(
    'track_file tf {\n  file /nonexistent-dir/x\n}\n',
    {},
    { host: { interfaceExists: () => true, fileExists: (p) => !p.startsWith('/nonexistent-dir') } },
  );
  noErrors(r);
  has(r, "keepalived.conf:2:8: warning: the directory '/nonexistent-dir' of the tracked file does not exist on this host");
});

// ---------------------------------------------------------------------------
// vrrp_track_process / track_process

test('vrrp_track_process and track_process', async () => {
  const r = await compileText(
    `vrrp_track_process haproxy {
  process haproxy
  weight 10 reverse
  quorum 2
  quorum_max 4
  delay 0.5
}
vrrp_track_process nginx_master {
  process /usr/sbin/nginx -g "daemon off;"
  param_match partial
  full_command
}
` +
      instance(`  track_process {
    haproxy weight -254
    nginx_master
  }
`),
  );
  noErrors(r);
  const m = r.model!;
  const [hp, ng] = ext<any>(m.extensions, 'vrrp_track_process');
  assert.deepEqual(hp.process, { name: 'haproxy', params: [] });
  assert.deepEqual(hp.weight, { value: 10, reverse: true });
  assert.equal(hp.quorum, 2);
  assert.equal(hp.quorumMax, 4);
  assert.equal(hp.delay, 0.5);
  assert.deepEqual(ng.process, { name: '/usr/sbin/nginx', params: ['-g', 'daemon off;'] });
  assert.equal(ng.paramMatch, 'partial');
  assert.equal(ng.fullCommand, true);
  const [refs] = ext<TrackProcessEntry[]>(m.vrrpInstance[0]!.extensions, 'track_process');
  assert.deepEqual(
    refs!.map((e) => [e.name, e.weight]),
    [
      ['haproxy', -254],
      ['nginx_master', undefined],
    ],
  );
  // acted on: no "not acted on yet" warning for process tracking
  assert.ok(!r.lines.some((l) => /does not act on (process|VRRP) tracking/.test(l)), r.lines.join('\n'));
});

test('vrrp_track_process errors and warnings', async () => {
  const r = await compileText(
    `vrrp_track_process p {
  process keepalived_worker_process
  quorum 5
  quorum_max 2
  fork_delay 0
  param_match exact
}
` + instance('  track_process {\n    q\n  }\n'),
  );
  has(r, 'keepalived.conf:5:14: error: 0 is out of range: expected 0.000001..3600 seconds');
  has(r, "keepalived.conf:6:15: error: 'exact' is not one of initial, partial");
  has(r, "keepalived.conf:15:5: error: track_process refers to vrrp_track_process 'q', which is not defined");
  const q = await compileText('vrrp_track_process p {\n  process keepalived_worker_process\n  quorum 5\n  quorum_max 2\n}\n');
  has(q, 'keepalived.conf:1:1: error: vrrp_track_process p: quorum 5 is greater than quorum_max 2');
  has(q, "keepalived.conf:1:1: warning: vrrp_track_process p: process names are at most 15 characters, so 'keepalived_worker_process' never matches");
});
