import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTree, type Stmt } from '../../core/config/tree';
import { Diagnostics, formatDiagnostic } from '../../core/config/diagnostics';
import { tokenize, type LexProblem } from '../../core/config/lexer';
import { Line } from '../../core/config/line';

function tree(text: string, maxDepth?: number) {
  const lines = text
    .split('\n')
    .map((l, i) => tokenize(Line.fromFile(l, 'f.conf', i + 1), [] as LexProblem[]))
    .filter((t) => t.length);
  const diags = new Diagnostics();
  const stmts = buildTree(lines, diags, { maxDepth });
  return { stmts, diags: diags.list.map(formatDiagnostic) };
}

function show(stmts: Stmt[]): string {
  return stmts.map((s) => [s.name.text, ...s.args.map((a) => a.text)].join(' ') + (s.block ? ` { ${show(s.block)} }` : '')).join('; ');
}

test('block opened on the keyword line, on the next line, and on one line', () => {
  const r = tree('a x {\n  b 1\n}\nc\n{\n  d\n}\ne { f 2 }\ng { h } i\n');
  assert.equal(show(r.stmts), 'a x { b 1 }; c { d }; e { f 2 }; g { h }; i');
  assert.deepEqual(r.diags, []);
});

test('a value block line keeps all its words; the closing brace may share the last line', () => {
  const r = tree('vip {\n10.0.0.1/24 dev eth0 label eth0:1\n10.0.0.2 }\n');
  assert.equal(show(r.stmts), 'vip { 10.0.0.1/24 dev eth0 label eth0:1; 10.0.0.2 }');
});

test('unclosed blocks are reported at their opening brace, innermost first', () => {
  const r = tree('outer {\n  inner {\n    x 1\n');
  assert.deepEqual(r.diags, [
    "f.conf:2:9: error: unclosed block: the '{' of 'inner' has no matching '}'",
    "f.conf:1:7: error: unclosed block: the '{' of 'outer' has no matching '}'",
  ]);
});

test("an extra '}' and a '{' that follows nothing are errors at the brace", () => {
  const r = tree('a 1\n}\nb {\n}\n{\nc\n}\n');
  assert.deepEqual(r.diags, ["f.conf:2:1: error: extra '}': no block is open here", "f.conf:5:1: error: unexpected '{': no keyword before it takes a block"]);
  assert.equal(show(r.stmts), 'a 1; b {  }');
});

test('nesting deeper than the limit is reported once and dropped, braces still match', () => {
  const deep = '{'.repeat(1) + '';
  void deep;
  let text = '';
  for (let i = 0; i < 10; i++) text += `l${i} {\n`;
  text += 'x\n' + '}\n'.repeat(10) + 'after 1\n';
  const r = tree(text, 4);
  assert.deepEqual(r.diags, ['f.conf:5:4: error: blocks nest deeper than 4 levels']);
  assert.match(show(r.stmts), /after 1$/);
});

test('100,000 nested braces neither overflow the stack nor keep the nesting', () => {
  const text = 'a {'.repeat(100_000) + '}'.repeat(100_000);
  const r = tree(text);
  assert.equal(r.diags.length, 1);
  assert.match(r.diags[0]!, /blocks nest deeper than 32 levels/);
});

// the timeout is a hang guard (the quadratic report took 15 s here), not a performance assertion
test('60,000 unclosed blocks are all reported, innermost first', { timeout: 60_000 }, () => {
  const r = tree('a {\n'.repeat(60_000), 100_000);
  assert.equal(r.diags.length, 1000, 'capped by the diagnostics limit');
  assert.equal(r.diags[0], "f.conf:60000:3: error: unclosed block: the '{' of 'a' has no matching '}'");
});
