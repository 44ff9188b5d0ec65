import { test } from 'node:test';
import assert from 'node:assert/strict';
import { block, lines, sub, value, word, type CheckCtx } from '../../core/config/schema';
import { Diagnostics, formatDiagnostic, type Pos } from '../../core/config/diagnostics';
import { KeywordRegistry } from '../../core/config/registry';
import { tokenize, type LexProblem } from '../../core/config/lexer';
import { Line } from '../../core/config/line';
import { buildTree } from '../../core/config/tree';
import * as v from '../../core/config/values';

function ctxFor(diags: Diagnostics, registry = new KeywordRegistry()): CheckCtx & { features: Map<string, string[]>; refs: string[] } {
  const features = new Map<string, string[]>();
  const refs: string[] = [];
  return {
    diags,
    host: { interfaceExists: (n) => n !== 'nope0', fileExists: (p) => !p.includes('missing') },
    slots: registry,
    define: () => undefined,
    refer: (kind, name, pos: Pos) => refs.push(`${kind}:${name}@${pos.line}:${pos.col}`),
    useFeature: (f, k) => features.set(f, [...(features.get(f) ?? []), k]),
    features,
    refs,
  };
}

const inner = block({ auth_type: word(v.oneOf(['PASS', 'AH'])), auth_pass: word(v.str()) });
const schema = block(
  {
    priority: word(v.int({ min: 1, max: 255 })).default(100),
    virtual_router_id: word(v.int({ min: 1, max: 255 })).required(),
    advert_int: word(v.duration({ min: 0.01, max: 255 })).default(1),
    nopreempt: value(v.flag),
    smtp_alert: value(v.optBool),
    interface: word(v.ifname),
    retry: word(v.uint()).alias('nb_get_retry', { deprecated: true }),
    authentication: sub(inner),
    vip: lines(v.withOptions([v.ipPrefix()], { dev: v.ifname, label: v.str(), home: null })),
    notify: value(v.script).feature('notify-script'),
    tag: word(v.str()).repeatable(),
  },
  { feature: 'vrrp', slot: 'real_server' },
);

function parse(text: string, registry?: KeywordRegistry) {
  const toks = text
    .split('\n')
    .map((l, i) => tokenize(Line.fromFile(l, 'f.conf', i + 1), [] as LexProblem[]))
    .filter((t) => t.length);
  const diags = new Diagnostics();
  const stmts = buildTree(toks, diags);
  const ctx = ctxFor(diags, registry);
  const out = schema.parseBlock(stmts[0]!, 'vrrp_instance', ctx, undefined);
  return { out, diags: diags.list.map(formatDiagnostic), ctx };
}

test('a valid block gives a typed, camelCased model with defaults', () => {
  const r = parse('x {\nvirtual_router_id 51\nadvert_int 0.25\nnopreempt\nsmtp_alert off\nvip {\n10.0.0.1/24 dev eth0 home\nfe80::1\n}\ntag a\ntag b\n}');
  assert.deepEqual(r.diags, []);
  assert.notEqual(r.out, v.INVALID);
  const m = r.out as Exclude<ReturnType<typeof schema.parseBlock>, typeof v.INVALID>;
  assert.equal(m.virtualRouterId, 51);
  assert.equal(m.priority, 100);
  assert.equal(m.advertInt, 0.25);
  assert.equal(m.nopreempt, true);
  assert.equal(m.smtpAlert, false);
  assert.deepEqual(m.tag, ['a', 'b']);
  assert.deepEqual(m.vip, [
    { args: [{ family: 4, address: '10.0.0.1', prefix: 24 }], options: { dev: 'eth0', home: true } },
    { args: [{ family: 6, address: 'fe80::1', prefix: undefined }], options: {} },
  ]);
  assert.deepEqual(m.pos, { file: 'f.conf', line: 1, col: 1 });
  assert.deepEqual(r.ctx.features.get('vrrp'), ['virtual_router_id', 'advert_int', 'nopreempt', 'smtp_alert', 'vip', 'tag', 'tag']);
});

test('every error of a block is reported, each at its word', () => {
  const r = parse(
    [
      'x {',
      'priority 300',
      'advert_int 1.1234567',
      'prioirty 5',
      'nopreempt yes',
      'smtp_alert maybe',
      'interface nope0',
      'vip {',
      '10.0.0.1/33',
      '10.0.0.2 dev',
      '10.0.0.3 colour red',
      '}',
      'authentication {',
      'auth_type SHA',
      '}',
      'notify "/etc/missing.sh arg"',
      'tag',
      '}',
    ].join('\n'),
  );
  assert.equal(r.out, v.INVALID);
  assert.deepEqual(r.diags, [
    'f.conf:2:10: error: 300 is out of range: expected 1..255',
    "f.conf:3:12: error: '1.1234567' is not a time in seconds (e.g. 3 or 0.5, at most 6 decimals)",
    "f.conf:4:1: error: unknown keyword 'prioirty' in vrrp_instance (did you mean 'priority'?)",
    "f.conf:5:11: warning: 'nopreempt' takes no value; 'yes' is ignored and 'nopreempt' is on, as in keepalived",
    "f.conf:6:12: error: 'maybe' is not a boolean: expected on, off, true, false, yes or no",
    "f.conf:7:11: warning: interface 'nope0' does not exist on this host",
    "f.conf:9:1: error: '/33' in '10.0.0.1/33' is not a prefix length 0..32",
    "f.conf:10:10: error: option 'dev' needs a value: dev <INTERFACE>",
    "f.conf:11:10: error: unknown option 'colour' for 'vip'; expected <IP>[/<LEN>] [dev <INTERFACE>] [label <STRING>] [home]",
    "f.conf:14:11: error: 'SHA' is not one of PASS, AH",
    "f.conf:16:8: warning: script '/etc/missing.sh' does not exist on this host",
    "f.conf:17:1: error: 'tag' needs a value: tag <STRING>",
    "f.conf:1:1: error: 'x' lacks required 'virtual_router_id'",
  ]);
});

test('a repeated single keyword warns and the later value counts; a deprecated alias draws a note', () => {
  const r = parse('x {\nvirtual_router_id 1\npriority 10\npriority 20\nnb_get_retry 3\n}');
  assert.deepEqual(r.diags, [
    "f.conf:4:1: warning: 'priority' is already set in this vrrp_instance (at line 3); this later value counts, as in keepalived",
    "f.conf:5:1: note: 'nb_get_retry' is the old spelling of 'retry'; accepted",
  ]);
  const m = r.out as { priority: number; retry: number };
  assert.equal(m.priority, 20);
  assert.equal(m.retry, 3);
});

test('blocks where none is taken, and none where one is needed', () => {
  const r = parse('x {\nvirtual_router_id 1 {\n}\nauthentication PASS\nvip 10.0.0.1\n}');
  assert.deepEqual(r.diags, [
    "f.conf:2:21: error: 'virtual_router_id' takes no { } block",
    "f.conf:4:1: error: 'authentication PASS' needs a { } block",
    "f.conf:5:1: error: 'vip' needs a { } block: vip { <IP>[/<LEN>] [dev <INTERFACE>] [label <STRING>] [home] ... }",
  ]);
});

test('keywords registered into the block slot by plugins are parsed and collected as extensions', () => {
  const registry = new KeywordRegistry();
  registry.register('real_server', 'TCP_CHECK', sub(block({ connect_timeout: word(v.duration()) })).repeatable(), 'check-tcp');
  const r = parse('x {\nvirtual_router_id 1\nTCP_CHECK {\nconnect_timeout 3\n}\nTCP_CHEK {\n}\n}', registry);
  assert.deepEqual(r.diags, ["f.conf:6:1: error: unknown keyword 'TCP_CHEK' in vrrp_instance (did you mean 'TCP_CHECK'?)"]);
  assert.throws(
    () => registry.register('real_server', 'TCP_CHECK', sub(block({})), 'other'),
    (e: Error & { code?: string }) => e.code === 'ALIVED_PLUGIN_DUPLICATE' && /already registered by plugin 'check-tcp'/.test(e.message),
  );
});

test('nearest() suggests likely typos and nothing for unrelated words', () => {
  assert.equal(v.nearest('virtual_router', ['virtual_router_id', 'priority']), 'virtual_router_id');
  assert.equal(v.nearest('advret_int', ['advert_int', 'priority']), 'advert_int');
  assert.equal(v.nearest('zzz', ['advert_int', 'priority']), undefined);
});

test('script lines split like keepalived: quoted command with arguments, user and group', () => {
  const diags = new Diagnostics();
  const ctx = ctxFor(diags);
  const toks = tokenize(Line.fromFile('"/bin/echo a\\tb \'c d\'" nobody nogroup', 'f', 1), []);
  const s = v.script.parse(toks, { file: 'f', line: 1, col: 1 }, 'notify', ctx);
  assert.deepEqual(s, {
    command: "/bin/echo a\\tb 'c d'",
    argv: ['/bin/echo', 'a\tb', 'c d'],
    user: 'nobody',
    group: 'nogroup',
    pos: { file: 'f', line: 1, col: 1 },
  });
});

test('every diagnostic stays readable: blobs cut, control characters escaped, length capped', () => {
  const diags = new Diagnostics();
  const pos = { file: 'f.conf', line: 1, col: 1 };
  diags.error('ALIVED_CONFIG_BAD_VALUE', pos, `unexpected '${'9'.repeat(10_000)}' and 'short'`);
  diags.error('ALIVED_CONFIG_BAD_VALUE', pos, `bad 'a\u0000b'`);
  diags.error('ALIVED_CONFIG_BAD_VALUE', pos, 'word '.repeat(1000));
  assert.equal(diags.list[0]!.message, `unexpected ${"'" + '9'.repeat(156)}... and 'short'`);
  assert.equal(diags.list[1]!.message, "bad 'a\\x00b'");
  assert.equal(diags.list[2]!.message.length, 600);
});
