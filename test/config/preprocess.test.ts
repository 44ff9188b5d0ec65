import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_LIMITS, preprocess, WORK_PER_LINE, WORK_PER_REFERENCE, WORK_PER_TOKEN } from '../../core/config/preprocess';
import { Diagnostics, formatDiagnostic } from '../../core/config/diagnostics';
import { FIXTURES, PROJECT_ROOT, writeFiles } from '../helpers/config';

function run(files: Record<string, string>, opts: { configId?: string; limits?: object } = {}) {
  const dir = writeFiles(files);
  const diags = new Diagnostics();
  const r = preprocess(path.join(dir, 'keepalived.conf'), { configId: opts.configId ?? 'node1', diagnostics: diags, limits: opts.limits, random: () => 0 });
  const rel = (f: string) => path.relative(dir, f);
  return {
    lines: r.lines.map((l) => l.map((t) => t.text).join(' ')),
    at: r.lines.map((l) => l.map((t) => `${rel(t.pos.file)}:${t.pos.line}:${t.pos.col}`)),
    diags: diags.list.map((d) => formatDiagnostic({ ...d, pos: { ...d.pos, file: rel(d.pos.file) } })),
    files: r.files.map(rel),
    work: r.work,
  };
}

test('comments with ! and # anywhere, but not inside double quotes or when escaped', () => {
  const r = run({ 'keepalived.conf': '! all comment\n# too\na b # tail\nc "x # y" ! tail\nd \\#e \\!f\n' });
  assert.deepEqual(r.lines, ['a b', 'c x # y', 'd #e !f']);
  assert.deepEqual(r.at[1], ['keepalived.conf:4:1', 'keepalived.conf:4:3']);
  // the escaped comment characters keep their columns: '\#e' starts at column 3
  assert.deepEqual(r.at[2], ['keepalived.conf:5:1', 'keepalived.conf:5:4', 'keepalived.conf:5:8']);
});

test('braces are words of their own, blocks may sit on one line', () => {
  const r = run({ 'keepalived.conf': 'vrrp_instance VI_1 {state MASTER}\n' });
  assert.deepEqual(r.lines, ['vrrp_instance VI_1 { state MASTER }']);
  assert.deepEqual(r.at[0], [
    'keepalived.conf:1:1',
    'keepalived.conf:1:15',
    'keepalived.conf:1:20',
    'keepalived.conf:1:21',
    'keepalived.conf:1:27',
    'keepalived.conf:1:33',
  ]);
});

test('quoted strings: double and single quotes, escaped quote inside, unterminated quote is an error at the quote', () => {
  const r = run({ 'keepalived.conf': 'a "one two" \'three four\' "say \\"hi\\""\nb "open\n' });
  assert.deepEqual(r.lines[0], 'a one two three four say "hi"');
  assert.deepEqual(r.diags, ['keepalived.conf:2:3: error: missing terminating " character']);
});

test('$NAME and ${NAME} substitution; a bare $NAME must end at a blank, comma or parenthesis', () => {
  const r = run({ 'keepalived.conf': '$IP=10.0.0.1\n$PFX = 24\nvip $IP/${PFX}\nraw $IPx ${IP}x\n' });
  assert.deepEqual(r.lines, ['vip $IP/24', 'raw $IPx 10.0.0.1x']);
  // substituted text points at the reference
  assert.equal(r.at[1][2], 'keepalived.conf:4:10');
});

test('undefined ${NAME} is an error at the reference', () => {
  const r = run({ 'keepalived.conf': 'a ${NOPE} b\n' });
  assert.deepEqual(r.lines, ['a b']);
  assert.deepEqual(r.diags, ['keepalived.conf:1:3: error: parameter ${NOPE} is not defined']);
});

test('multi-line definitions expand to several lines with the positions of the definition body', () => {
  const text = ['$INST= \\', 'vrrp_instance VI_${N} { \\', '  virtual_router_id ${N} \\', '}', '$N=1', '$INST', '$N=2', '$INST'].join('\n');
  const r = run({ 'keepalived.conf': text });
  assert.deepEqual(r.lines, ['vrrp_instance VI_1 {', 'virtual_router_id 1', '}', 'vrrp_instance VI_2 {', 'virtual_router_id 2', '}']);
  assert.equal(r.at[1][0], 'keepalived.conf:3:3');
});

test('a multi-line definition used in the middle of a line is an error', () => {
  const r = run({ 'keepalived.conf': '$M= \\\na \\\nb\nx $M y\n' });
  assert.match(r.diags[0]!, /keepalived.conf:4:3: error: multi-line definition \$M must be the last thing on its line/);
});

test('predefined ${_HASH} ${_BANG} ${_INSTANCE} ${_PWD} ${_RANDOM}', () => {
  const r = run({ 'keepalived.conf': 'a ${_HASH} ${_BANG} ${_INSTANCE} ${_RANDOM 5 9}\n' }, { configId: 'alpha' });
  assert.deepEqual(r.lines, ['a # ! alpha 5']);
});

test('@id and @^id lines follow the config id', () => {
  const text = '@high priority 150\n@low priority 100\n@^high weight 1\nplain 1\n@lonely\n';
  assert.deepEqual(run({ 'keepalived.conf': text }, { configId: 'high' }).lines, ['priority 150', 'plain 1']);
  assert.deepEqual(run({ 'keepalived.conf': text }, { configId: 'low' }).lines, ['priority 100', 'weight 1', 'plain 1']);
});

test('~SEQ with start, step and end; with one or two numbers; ~SEQx in hex', () => {
  const r = run({
    'keepalived.conf': '~SEQ(S, 0, 3) ip 10.0.${S}.1\n~SEQ(T, 3) t $T\n~SEQ(U, 5, 3) u $U\n~SEQx(H, 0x90, 0x10, 0xb0) h fe80::${H}\n',
  });
  assert.deepEqual(r.lines, [
    'ip 10.0.0.1',
    'ip 10.0.1.1',
    'ip 10.0.2.1',
    'ip 10.0.3.1',
    't 1',
    't 2',
    't 3',
    'u 5',
    'u 4',
    'u 3',
    'h fe80::90',
    'h fe80::a0',
    'h fe80::b0',
  ]);
  assert.equal(r.at[0][1], 'keepalived.conf:1:18');
});

test('~LST with several variables, nested with ~SEQ (the man page example)', () => {
  const r = run({
    'keepalived.conf': '~LST({IP, IP1}, {10,1},{20,4}) ~SEQ(IP2,168,2,172) 192.${IP2}.${IP}.${IP1}\n~LST(A, x, y) ~LST(B, 1, 2) $A$B ${A}${B}\n',
  });
  assert.deepEqual(r.lines, [
    '192.168.10.1',
    '192.170.10.1',
    '192.172.10.1',
    '192.168.20.4',
    '192.170.20.4',
    '192.172.20.4',
    '$A1 x1',
    '$A2 x2',
    '$A1 y1',
    '$A2 y2',
  ]);
});

test('bad sequences are errors naming what is wrong', () => {
  const r = run({ 'keepalived.conf': '~SEQ(I, 1, 0, 5) a\n~SEQ(I 1 2) b\n~LST(X) c\n~SEQ(I, 1, 2\n' });
  assert.deepEqual(r.lines, []);
  assert.deepEqual(r.diags, [
    'keepalived.conf:1:1: error: invalid ~SEQ specification: step 0 never gets from 1 to 5',
    'keepalived.conf:2:1: error: invalid ~SEQ specification: expected ~SEQ(var, [start,] [step,] end)',
    'keepalived.conf:3:1: error: invalid ~LST specification: expected a variable and at least one value',
    "keepalived.conf:4:1: error: invalid ~SEQ specification: missing ')'",
  ]);
});

test('sequence bombs and self-referring definitions stop at their bounds with an error', () => {
  const bomb = run({ 'keepalived.conf': '~SEQ(A,1,1000) ~SEQ(B,1,1000) ~SEQ(C,1,1000) x $A $B $C\n' }, { limits: { lines: 10_000 } });
  // the line that goes past the bound is refused whole: nothing it made is kept
  assert.equal(bomb.lines.length, 0);
  assert.deepEqual(bomb.diags, ['keepalived.conf:1:46: error: the config expands to more than 10000 lines']);
  const self = run({ 'keepalived.conf': '$A=x $A\ny $A\n' });
  assert.match(self.diags[0]!, /keepalived.conf:2:1: error: expansion nests deeper than 64 levels/);
  const big = run({ 'keepalived.conf': '~SEQ(A, 1, 99999999999) x\n' });
  assert.match(big.diags[0]!, /~SEQ would repeat its line 99999999999 times/);
});

const WORK_LIMIT = /error: expansion goes past its limit of (\d+) units of work \(.*\); nothing after this line is read$/;

test('nested ~SEQ that makes definitions, or lines an @id drops, stops at the work limit, at the line that expands', () => {
  // 300 x 300 x 300: 27 million definitions and not one line of config (the 24 s, and a frozen daemon)
  const defs = run({ 'keepalived.conf': 'global_defs {\n  router_id a\n}\n~SEQ(a, 300) ~SEQ(b, 300) ~SEQ(c, 300) $X_${a}_${b}_${c}=1\nafter 1\n' });
  assert.equal(defs.diags.length, 1, defs.diags.join('\n'));
  assert.match(defs.diags[0]!, /^keepalived.conf:4:1: /);
  assert.equal(WORK_LIMIT.exec(defs.diags[0]!)?.[1], String(DEFAULT_LIMITS.work));
  // what came before stays, nothing after is read
  assert.deepEqual(defs.lines, ['global_defs {', 'router_id a', '}']);
  assert.ok(defs.work > DEFAULT_LIMITS.work && defs.work <= DEFAULT_LIMITS.work + WORK_PER_LINE + 100);

  const dropped = run({ 'keepalived.conf': 'x 1\n  ~SEQ(a, 300) ~SEQ(b, 300) ~SEQ(c, 300) @elsewhere y $a\n' });
  assert.deepEqual(dropped.lines, ['x 1']);
  assert.match(dropped.diags[0]!, /^keepalived.conf:2:3: /);
  assert.match(dropped.diags[0]!, WORK_LIMIT);
  assert.equal(dropped.diags.length, 1);
});

test('definitions that expand to more definitions stop at the work limit, at the line that uses them', () => {
  // $L1 is two lines of $L0, $L2 two of $L1, ...: $L40 would be 2^40 definitions of $Z
  const text = ['$L0=\\', '$Z=1'];
  for (let i = 1; i <= 40; i++) text.push(`$L${i}=\\`, `$L${i - 1}\\`, `$L${i - 1}`);
  text.push('', 'a 1', '$L40', 'b 2', '');
  const r = run({ 'keepalived.conf': text.join('\n') });
  assert.deepEqual(r.lines, ['a 1']);
  assert.equal(r.diags.length, 1, r.diags.join('\n'));
  assert.match(r.diags[0]!, new RegExp(`^keepalived.conf:${text.indexOf('$L40') + 1}:1: `));
  assert.match(r.diags[0]!, WORK_LIMIT);

  // a value that doubles at each level, into a line an @id drops: every use is over a million units of work for nothing
  const doubling = ['$D0=@e'];
  for (let i = 1; i <= 17; i++) doubling.push(`$D${i}=$D${i - 1} $D${i - 1}`);
  for (let i = 0; i < 100; i++) doubling.push('$D17');
  const d = run({ 'keepalived.conf': doubling.join('\n') + '\n' });
  assert.equal(d.diags.length, 1, d.diags.join('\n'));
  assert.match(d.diags[0]!, WORK_LIMIT);
  const line = Number(/^keepalived.conf:(\d+):1: /.exec(d.diags[0]!)?.[1]);
  assert.ok(line > 20 && line < 118, `stops at a use of $D17 before the last: line ${line}`);
});

test('the work counts characters read and produced, lines expansion makes, parameters defined and references replaced', () => {
  // the parameter i is new once; each repetition is the line 'x$i' (3 characters), one reference replaced, and the line 'x<n>'
  // and each line kept costs WORK_PER_TOKEN per word
  const text = '~SEQ(i, 100) x$i\n';
  const per = (n: number): number => WORK_PER_LINE + 3 + WORK_PER_REFERENCE + WORK_PER_LINE + `x${n}`.length + WORK_PER_TOKEN;
  let work = text.length + WORK_PER_LINE + 'i'.length;
  for (let n = 1; n <= 100; n++) work += per(n);
  const all = run({ 'keepalived.conf': text });
  assert.equal(all.lines.length, 100);
  assert.equal(all.work, work);
  // below what it needs, the line is refused whole at its position
  const r = run({ 'keepalived.conf': `a 1\n${text}b 2\n` }, { limits: { work: 10_000 } });
  assert.deepEqual(r.lines, ['a 1']);
  assert.match(r.diags[0]!, /^keepalived.conf:2:1: error: expansion goes past its limit of 10000 units of work/);

  // text read counts too: the same file included again and again stops at the include that goes over
  const inc = run({ 'keepalived.conf': 'a 1\n~SEQ(i, 1000) include part.conf\n', 'part.conf': `p ${'x'.repeat(98)}\n` }, { limits: { work: 20_000 } });
  assert.ok(inc.files.length > 10 && inc.files.length < 200, `${inc.files.length} files read`);
  assert.equal(inc.diags.length, 1, inc.diags.join('\n'));
  assert.match(inc.diags[0]!, /^keepalived.conf:2:1: error: expansion goes past its limit of 20000 units/);
});

test('the configs of examples/ and test/fixtures take a small part of the work limit', () => {
  const roots = [path.join(PROJECT_ROOT, 'examples'), FIXTURES];
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.conf$|keepalived\.conf\./.test(e.name)) files.push(p);
    }
  };
  roots.forEach(walk);
  assert.ok(files.length > 50, `${files.length} configs`);
  let most = { work: 0, file: '' };
  for (const file of files) {
    const diags = new Diagnostics();
    const r = preprocess(file, { configId: 'node1', diagnostics: diags });
    // the fixtures of the limits themselves (test/fixtures/broken/seq-*.conf, self-referential-param.conf)
    if (diags.list.some((d) => d.code === 'ALIVED_CONFIG_EXPANSION_LIMIT')) continue;
    if (r.work > most.work) most = { work: r.work, file };
  }
  assert.ok(most.work < DEFAULT_LIMITS.work / 100, `${path.relative(PROJECT_ROOT, most.file)} takes ${most.work} units`);
});

test('include: relative to the including file, globs sorted, braces in order', () => {
  const r = run({
    'keepalived.conf': 'top 1\ninclude conf.d/*.conf\ninclude other/{b,a}.conf\ntop 2\n',
    'conf.d/20-b.conf': 'b 20\n',
    'conf.d/10-a.conf': 'a 10\ninclude ../other/a.conf\n',
    'conf.d/skip.txt': 'never\n',
    'other/a.conf': 'oa\n',
    'other/b.conf': 'ob\n',
  });
  assert.deepEqual(r.lines, ['top 1', 'a 10', 'oa', 'b 20', 'ob', 'oa', 'top 2']);
  assert.deepEqual(r.at[1], ['conf.d/10-a.conf:1:1', 'conf.d/10-a.conf:1:3']);
  assert.deepEqual(r.files, ['keepalived.conf', 'conf.d/10-a.conf', 'other/a.conf', 'conf.d/20-b.conf', 'other/b.conf', 'other/a.conf']);
});

test('include variants: plain include warns on no match, includem/includew/includeb/includea make it an error', () => {
  const r = run({
    'keepalived.conf': [
      'include none.conf',
      'includer none*.conf',
      'includem none.conf',
      'includem none*.conf',
      'includew none*.conf',
      'includeb {x,y}.conf',
      'includea {x,y}*.conf',
    ].join('\n'),
    'x.conf': 'x\n',
  });
  assert.deepEqual(r.lines, ['x', 'x']);
  assert.deepEqual(r.diags, [
    "keepalived.conf:1:1: warning: include: 'none.conf' matches no file; nothing is included from it",
    "keepalived.conf:2:1: warning: includer: 'none*.conf' matches no file; nothing is included from it",
    "keepalived.conf:3:1: error: includem: 'none.conf' matches no file",
    "keepalived.conf:4:1: warning: includem: 'none*.conf' matches no file; nothing is included from it",
    "keepalived.conf:5:1: error: includew: 'none*.conf' matches no file",
    "keepalived.conf:6:1: error: includeb: brace alternative 'y.conf' matches no file",
    "keepalived.conf:7:1: error: includea: brace alternative 'y*.conf' matches no file",
  ]);
});

test('include_check makes plain include strict for the rest of the file', () => {
  const r = run({ 'keepalived.conf': 'include a.conf\ninclude_check\ninclude b.conf\n' });
  assert.deepEqual(r.diags, [
    "keepalived.conf:1:1: warning: include: 'a.conf' matches no file; nothing is included from it",
    "keepalived.conf:3:1: error: include: 'b.conf' matches no file",
  ]);
});

test('include cycles are errors at the include line, and reading goes on', () => {
  const r = run({ 'keepalived.conf': 'include a.conf\nafter\n', 'a.conf': 'in_a\ninclude b.conf\n', 'b.conf': 'in_b\ninclude a.conf\n' });
  assert.deepEqual(r.lines, ['in_a', 'in_b', 'after']);
  assert.equal(r.diags.length, 1);
  assert.match(r.diags[0]!, /^b.conf:2:1: error: include cycle: '.*a.conf' is already being read/);
});

test('a missing root file is an error at its first line', () => {
  const diags = new Diagnostics();
  preprocess('/nonexistent/alived.conf', { configId: 'x', diagnostics: diags });
  assert.deepEqual(diags.list.map(formatDiagnostic), ["/nonexistent/alived.conf:1:1: error: cannot read '/nonexistent/alived.conf': no such file"]);
});

test('a line ending in a backslash outside a definition is an error', () => {
  const r = run({ 'keepalived.conf': 'a b \\\nc\n' });
  assert.deepEqual(r.diags, ["keepalived.conf:1:5: error: a line may end in '\\' only inside a $NAME= definition"]);
});

test('CRLF line ends are read like LF', () => {
  const r = run({ 'keepalived.conf': 'a 1\r\nb 2\r\n' });
  assert.deepEqual(r.lines, ['a 1', 'b 2']);
});

test('include fan-out without a cycle (each file includes the next twice) stops at the file limit', { timeout: 60_000 }, () => {
  const files: Record<string, string> = {};
  for (let i = 0; i <= 32; i++) files[i === 0 ? 'keepalived.conf' : `f${i}.conf`] = `include f${i + 1}.conf\ninclude f${i + 1}.conf\n`;
  const r = run(files, { limits: { files: 200 } });
  assert.ok(r.files.length <= 200);
  assert.ok(r.diags.some((d) => /includes read more than 200 files in all/.test(d)));
  // the same problem at the same place is reported once
  assert.equal(new Set(r.diags).size, r.diags.length);
});

test('a glob with a bracket range the regexp engine refuses matches nothing', () => {
  const r = run({ 'keepalived.conf': 'include [z-a].conf\n' });
  assert.deepEqual(r.diags, ["keepalived.conf:1:1: warning: include: '[z-a].conf' matches no file; nothing is included from it"]);
});

test('only regular files are included: a device or a FIFO is refused, not read', () => {
  const r = run({ 'keepalived.conf': 'includer /dev/zero\ninclude /dev/null\n' });
  assert.equal(r.diags.length, 2);
  assert.deepEqual(r.lines, []);
  assert.match(r.diags[0]!, /^keepalived.conf:1:1: error: cannot read '.*dev\/zero': it is not a regular file$/);
  assert.match(r.diags[1]!, /^keepalived.conf:2:1: warning: included file '.*dev\/null' cannot be read \(it is not a regular file\); it is skipped$/);
});

test('control characters and long words are shown escaped and cut in messages', () => {
  const r = run({ 'keepalived.conf': `includem ${'x'.repeat(100)}\u0001.conf\n` });
  assert.match(r.diags[0]!, /includem: 'x{61}\.\.\.' matches no file$/);
  const c = run({ 'keepalived.conf': 'includem a\u0001b.conf\n' });
  assert.equal(c.diags[0], "keepalived.conf:1:1: error: includem: 'a\\x01b.conf' matches no file");
});
