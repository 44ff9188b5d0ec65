/**
 * The config fuzzer's engine: a seeded PRNG, mutations of config text,
 * hostile inputs, and the checks every compile result must pass. Used by
 * test/config/fuzz.test.ts through worker threads (fuzz-worker.ts), so that
 * a compile that never returns can be stopped.
 *
 * Every case is a pure function of (seed, case number): a failure reproduces
 * with ALIVED_FUZZ_SEED=<seed> ALIVED_FUZZ_ONLY=<case> node test/run.js fuzz
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompileResult } from '../../core/config/compile';
import type { PreprocessLimits } from '../../core/config/preprocess';

// ---------------------------------------------------------------------------
// PRNG

/** sfc32: small, fast, good enough, and the same on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    // splitmix32 to spread (seed, stream) over the state
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) >>> 0;
    return t >>> 0;
  }

  /** [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** an integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.float() * xs.length)]!;
  }

  /** picks by weight: [[weight, value], ...] */
  weighted<T>(xs: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of xs) total += w;
    let r = this.float() * total;
    for (const [w, v] of xs) {
      r -= w;
      if (r < 0) return v;
    }
    return xs[xs.length - 1]![1];
  }
}

// ---------------------------------------------------------------------------
// the corpus

export interface CorpusFile {
  /** absolute path: relative includes and plugin paths resolve from it */
  file: string;
  text: string;
}

export function loadCorpus(projectRoot: string): CorpusFile[] {
  const out: CorpusFile[] = [];
  const walk = (dir: string, accept: (name: string) => boolean): void => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, accept);
      else if (accept(e.name)) out.push({ file: p, text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(projectRoot, 'examples'), (n) => n.endsWith('.conf'));
  walk(path.join(projectRoot, 'test/fixtures/broken'), (n) => n.endsWith('.conf'));
  walk(path.join(projectRoot, 'test/fixtures/keepalived-samples'), (n) => n.startsWith('keepalived.conf'));
  return out;
}

/** Words that occur in the corpus: keywords and values to put in wrong places. */
export function vocabulary(corpus: readonly CorpusFile[]): string[] {
  const words = new Set<string>();
  for (const c of corpus)
    for (const w of c.text.split(/[\s{}"']+/)) if (w.length > 0 && w.length < 40 && !w.startsWith('!') && !w.startsWith('#')) words.add(w);
  return [...words].sort();
}

// ---------------------------------------------------------------------------
// cases

export interface FuzzCase {
  id: number;
  /** what was done to the text, to read in a failure report */
  what: string;
  /** the root config's path (positions name it; includes resolve from it) */
  file: string;
  /** the root config's text; undefined: read `file` from disk */
  text: string | undefined;
  /** files to write before compiling, relative to a fresh directory, which then replaces `file`'s directory */
  disk?: DiskFiles;
  /** the root file inside `disk` */
  root?: string;
  limits: Partial<PreprocessLimits> | undefined;
  configId: string;
}

/** The limits of mutation cases: small, so 100,000 cases fit in minutes. */
export const SMALL_LIMITS: Partial<PreprocessLimits> = { lines: 20_000, lineLength: 1 << 16, includeDepth: 8, expansionDepth: 32 };

/** a mutation case's text is cut to this after each mutation; dup-line copies at most this much */
const MAX_CASE_CHARS = 2_000_000;

const CONFIG_IDS = ['node1', 'node2', 'lb1', 'lb2', 'high', 'low'];

const CHAR_POOL = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'{}{}{}""\'\'$$$~@#!\\/.:-_,()[]*?=+ \t\n\n\r',
  '\0',
  '\u00e9',
  '\u20ac',
  '\ud83d\ude00',
  '\ufffd',
  '\ud800',
  '\udfff',
  '\u202e',
  '\u00a0',
  '\u2028',
  '\ufeff',
];

const WEIRD_NUMBERS = [
  '99999999999999999999',
  '18446744073709551616',
  '4294967296',
  '4294967295',
  '2147483648',
  '-2147483649',
  '-1',
  '-0',
  '0',
  '1e309',
  '-1e309',
  '1e-400',
  '0x',
  '0xffffffffffffffffff',
  '0x7fffffff',
  '0b101',
  '0o17',
  '1_000',
  'NaN',
  'Infinity',
  '-Infinity',
  '1.5',
  '.5',
  '5.',
  '0.0000001',
  '1,5',
  '+7',
  '--1',
  '٣',
  '１２',
  '1' + '0'.repeat(400),
  '0.' + '0'.repeat(300) + '1',
];

const DIRECTIVES = [
  '~SEQ(N, 1, 5) x $N',
  '~SEQ(N, 1, 1000000) ~SEQ(M, 1, 1000000) y $N $M',
  '~SEQ(A,1,1000000) ~SEQ(B,1,1000000) ~SEQ(C,1,1000000) x $A $B $C',
  '~SEQx(H, 0, 0x10, 0xff) 192.0.2.${H}',
  '~SEQ(N, 5, -1, 1) z',
  '~SEQ(N, 1, 0, 5) z',
  '~SEQ(N',
  '~LST(A, {1,2}, {3,4}) $A',
  '~LST({A,B}, {1,2}, {3}) $A $B',
  '~LST(A) a',
  '~SEQ(N, 1, 3) ~LST(A, x, y) ~SEQ(M, 1, 3) $N$A$M',
  '$X=1',
  '$X=${X}${X}',
  '$X=$X $X',
  '$X=$X',
  '$Y= \\\n$Y \\\n$Y',
  '$Z= \\\nvrrp_instance VI_${N} { \\\n  interface eth0 \\\n}',
  '$Z',
  '${X}',
  '${NOPE}',
  '${_RANDOM}',
  '${_RANDOM 1 99999999999999}',
  '${_PWD}',
  '${_INSTANCE}',
  '${_HASH}${_BANG}',
  '$',
  '${',
  '${}',
  '@node1 priority 200',
  '@^node1 priority 50',
  '@',
  '@lb1',
  'include *.conf',
  'include ./*',
  'include ../*/*.conf',
  'include conf.d/*.conf',
  'include nonexistent.conf',
  'includem nonexistent.conf',
  'includea {a,b}*.conf',
  'includeb {x,y}.conf',
  'include {a,{b,{c,d}}}',
  'include "quoted name.conf"',
  'include',
  'include_check',
  'include_check -match +readable',
  'global_defs {',
  'vrrp_instance',
  'vrrp_instance VI_X {',
  'virtual_server 192.0.2.1 80 {',
  'real_server 192.0.2.2 80 {',
  'plugins { "./no-such.js" }',
  'plugins {',
  '"unterminated',
  "'single",
  '\\',
  '}',
  '{',
  '} }',
  '{ {',
];

type Mutator = (s: string, rng: Rng, ctx: MutationContext) => string;

interface MutationContext {
  corpus: readonly CorpusFile[];
  vocab: readonly string[];
}

function pos(s: string, rng: Rng): number {
  return rng.int(0, s.length);
}

function lineStarts(s: string): number[] {
  const out = [0];
  for (let i = 0; i < s.length; i++) if (s[i] === '\n') out.push(i + 1);
  return out;
}

function randomChars(rng: Rng, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += rng.pick(CHAR_POOL);
  return out;
}

function wordSpans(s: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const re = /[^\s{}]+/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push([m.index, m.index + m[0].length]);
  return out;
}

function replaceSpan(s: string, [a, b]: [number, number], w: string): string {
  return s.slice(0, a) + w + s.slice(b);
}

const MUTATORS: ReadonlyArray<readonly [number, string, Mutator]> = [
  [
    10,
    'flip',
    (s, rng) => {
      if (s.length === 0) return rng.pick(CHAR_POOL);
      const p = rng.int(0, s.length - 1);
      return s.slice(0, p) + rng.pick(CHAR_POOL) + s.slice(p + 1);
    },
  ],
  [
    8,
    'insert',
    (s, rng) => {
      const p = pos(s, rng);
      return s.slice(0, p) + randomChars(rng, rng.int(1, 8)) + s.slice(p);
    },
  ],
  [
    8,
    'delete',
    (s, rng) => {
      const p = pos(s, rng);
      return s.slice(0, p) + s.slice(p + rng.int(1, rng.chance(0.2) ? 400 : 16));
    },
  ],
  [4, 'truncate', (s, rng) => s.slice(0, pos(s, rng))],
  [
    6,
    'delete-brace',
    (s, rng) => {
      const braces = [...s.matchAll(/[{}]/g)].map((m) => m.index!);
      if (braces.length === 0) return s;
      const p = rng.pick(braces);
      return s.slice(0, p) + s.slice(p + 1);
    },
  ],
  [
    6,
    'double-brace',
    (s, rng) => {
      const braces = [...s.matchAll(/[{}]/g)].map((m) => m.index!);
      if (braces.length === 0) return s;
      const p = rng.pick(braces);
      return s.slice(0, p) + s[p]!.repeat(rng.int(2, 4)) + s.slice(p + 1);
    },
  ],
  [
    8,
    'weird-number',
    (s, rng) => {
      const nums = [...s.matchAll(/-?\b\d+(\.\d+)?\b/g)].map((m): [number, number] => [m.index!, m.index! + m[0].length]);
      const spans = nums.length > 0 ? nums : wordSpans(s);
      if (spans.length === 0) return s + rng.pick(WEIRD_NUMBERS);
      return replaceSpan(s, rng.pick(spans), rng.pick(WEIRD_NUMBERS));
    },
  ],
  [
    2,
    'long-word',
    (s, rng) => {
      const spans = wordSpans(s);
      const len = rng.chance(0.1) ? rng.int(60_000, 300_000) : rng.int(256, 5000);
      const w = rng.pick(['x', 'a1', '$', '~', '9', '{', '"', '\\', '@', 'é']).repeat(len).slice(0, len);
      if (spans.length === 0) return s + w;
      return replaceSpan(s, rng.pick(spans), w);
    },
  ],
  [
    5,
    'dup-line',
    (s, rng) => {
      const starts = lineStarts(s);
      const i = rng.int(0, starts.length - 1);
      const line = s.slice(starts[i]!, starts[i + 1] ?? s.length);
      const want = rng.chance(0.05) ? rng.int(100, 3000) : rng.int(1, 3);
      // a long line (after long-word) copied thousands of times would pass the longest string V8 holds
      const n = Math.max(1, Math.min(want, Math.floor(MAX_CASE_CHARS / (line.length + 1))));
      return s.slice(0, starts[i]!) + (line.endsWith('\n') ? line : line + '\n').repeat(n) + s.slice(starts[i]!);
    },
  ],
  [
    3,
    'swap-lines',
    (s, rng) => {
      const lines = s.split('\n');
      const a = rng.int(0, lines.length - 1);
      const b = rng.int(0, lines.length - 1);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join('\n');
    },
  ],
  [
    8,
    'directive',
    (s, rng) => {
      const starts = lineStarts(s);
      const p = rng.pick(starts);
      return s.slice(0, p) + rng.pick(DIRECTIVES) + '\n' + s.slice(p);
    },
  ],
  [2, 'crlf', (s, rng) => (rng.chance(0.5) ? s.replace(/\n/g, '\r\n') : s.replace(/\n/g, () => (rng.chance(0.3) ? '\r\n' : rng.chance(0.1) ? '\r' : '\n')))],
  [
    3,
    'nul',
    (s, rng) => {
      const p = pos(s, rng);
      return s.slice(0, p) + '\0'.repeat(rng.int(1, 4)) + s.slice(p);
    },
  ],
  [
    4,
    'splice',
    (s, rng, ctx) => {
      const other = rng.pick(ctx.corpus).text;
      const os = lineStarts(other);
      const a = rng.int(0, os.length - 1);
      const b = Math.min(os.length - 1, a + rng.int(1, 30));
      const chunk = other.slice(os[a]!, os[b]!);
      const p = rng.pick(lineStarts(s));
      return s.slice(0, p) + chunk + s.slice(p);
    },
  ],
  [
    3,
    'quote',
    (s, rng) => {
      const p = pos(s, rng);
      return s.slice(0, p) + rng.pick(['"', "'", '\\"', '"\\', '""']) + s.slice(p);
    },
  ],
  [
    3,
    'unicode',
    (s, rng) => {
      const p = pos(s, rng);
      return s.slice(0, p) + rng.pick(['é', '€', '😀', '\ufffd', '\ud800', '\udc00', '\u202e', '\u00a0', '\ufeff', 'ı', 'ﬁ', 'Ω', '\u0000']) + s.slice(p);
    },
  ],
  [
    8,
    'word-swap',
    (s, rng, ctx) => {
      const spans = wordSpans(s);
      if (spans.length === 0) return s;
      return replaceSpan(s, rng.pick(spans), rng.pick(ctx.vocab));
    },
  ],
  [
    2,
    'wrap-block',
    (s, rng, ctx) => {
      const starts = lineStarts(s);
      const a = rng.int(0, starts.length - 1);
      const b = Math.min(starts.length - 1, a + rng.int(0, 10));
      return s.slice(0, starts[a]!) + rng.pick(ctx.vocab) + ' {\n' + s.slice(starts[a]!, starts[b]!) + '}\n' + s.slice(starts[b]!);
    },
  ],
  [
    1,
    'deep-nest',
    (s, rng) => {
      const n = rng.int(30, 3000);
      const p = rng.pick(lineStarts(s));
      const open = rng.chance(0.5) ? 'a {\n'.repeat(n) : '{ '.repeat(n);
      const close = rng.chance(0.8) ? '}\n'.repeat(n) : '';
      return s.slice(0, p) + open + close + s.slice(p);
    },
  ],
  [2, 'strip-whitespace', (s, rng) => (rng.chance(0.5) ? s.replace(/[ \t]+/g, '') : s.replace(/\n/g, ' '))],
];

/**
 * Drops include lines that a mutation pointed at an absolute path or at
 * /dev, /proc or /sys: alived reads whatever an include names, and
 * /dev/zero or /proc/self/* never end (a reported bug, not what this fuzzer
 * is after; it would take the test runner down with it).
 */
export function defuse(text: string): string {
  // linear checks only: a mutated line may be 300,000 quotes long
  return text.replace(/^.*include.*$/gm, (line) => {
    const rest = line.slice(line.indexOf('include'));
    return /(^|[\s"'{,])\/(?!etc\/keepalived\/)/.test(rest) || /\b(dev|proc|sys)\b/.test(rest) || rest.includes('../..')
      ? '! include removed by the fuzzer'
      : line;
  });
}

/** Mutates a corpus file; deterministic in (seed, id). */
export function mutationCase(corpus: readonly CorpusFile[], vocab: readonly string[], seed: number, id: number): FuzzCase {
  const rng = new Rng(seed, id);
  const base = rng.pick(corpus);
  let text = base.text;
  const n = Math.min(12, 1 + Math.floor(-Math.log2(1 - rng.float() * 0.9995)));
  const done: string[] = [];
  const ctx: MutationContext = { corpus, vocab };
  for (let k = 0; k < n; k++) {
    const [, name, fn] = rng.weighted(MUTATORS.map((m) => [m[0], m] as const));
    text = fn(text, rng, ctx);
    done.push(name);
    if (text.length > MAX_CASE_CHARS) text = text.slice(0, MAX_CASE_CHARS);
  }
  return {
    id,
    what: `${path.basename(path.dirname(base.file))}/${path.basename(base.file)} + ${done.join(', ')}`,
    file: base.file,
    text: defuse(text),
    limits: SMALL_LIMITS,
    configId: rng.pick(CONFIG_IDS),
  };
}

// ---------------------------------------------------------------------------
// hostile inputs, each made on purpose

const VIP_INSTANCE = 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    192.0.2.1/24\n  }\n}\n';

/** Files to write: text, bytes, or a symbolic link. */
export type DiskFiles = Record<string, string | Buffer | { symlink: string }>;

export function writeDisk(dir: string, files: DiskFiles): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof content === 'object' && !Buffer.isBuffer(content)) fs.symlinkSync(content.symlink, p);
    else fs.writeFileSync(p, content);
  }
}

export interface HostileCase {
  what: string;
  text?: string;
  disk?: DiskFiles;
  /** the root file inside `disk` (default keepalived.conf) */
  root?: string;
  /** undefined: the compiler's defaults */
  limits?: Partial<PreprocessLimits>;
}

export function hostileCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  const both = (what: string, text: string): void => {
    cases.push({ what: `${what} (small limits)`, text, limits: SMALL_LIMITS });
    cases.push({ what: `${what} (default limits)`, text });
  };
  // deep nesting
  both('10,000 nested blocks, one per line', 'a {\n'.repeat(10_000) + '}\n'.repeat(10_000));
  both('10,000 nested blocks on one line', 'a { '.repeat(10_000) + '} '.repeat(10_000));
  both('10,000 unclosed blocks', 'vrrp_instance VI_1 {\n' + 'virtual_ipaddress {\n'.repeat(10_000));
  both('10,000 lone {', '{'.repeat(10_000));
  both('10,000 lone }', '}\n'.repeat(10_000));
  both('10,000 nested blocks inside an instance', 'vrrp_instance VI_1 {\n' + 'track_script {\n'.repeat(10_000) + '}\n'.repeat(10_001));
  // numbers
  for (const n of WEIRD_NUMBERS) {
    cases.push({
      what: `number ${n.slice(0, 30)} everywhere`,
      text: `global_defs {\n  vrrp_garp_interval ${n}\n  smtp_connect_timeout ${n}\n  max_auto_priority ${n}\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id ${n}\n  priority ${n}\n  advert_int ${n}\n  preempt_delay ${n}\n  virtual_ipaddress {\n    192.0.2.1/${n}\n  }\n  track_interface {\n    eth1 weight ${n}\n  }\n}\nvirtual_server 192.0.2.1 ${n} {\n  delay_loop ${n}\n  quorum ${n}\n  persistence_timeout ${n}\n  real_server 192.0.2.2 ${n} {\n    weight ${n}\n    TCP_CHECK {\n      connect_timeout ${n}\n      connect_port ${n}\n    }\n    HTTP_GET {\n      url {\n        path /\n        status_code ${n}\n      }\n    }\n  }\n}\n`,
      limits: SMALL_LIMITS,
    });
  }
  // long words and lines
  both('a 1 MiB keyword', 'x'.repeat(1 << 20) + '\n');
  both('a 4 MiB value', 'global_defs {\n  router_id ' + 'y'.repeat(1 << 22) + '\n}\n');
  both('a 1 MiB quoted string', 'vrrp_script s {\n  script "' + 'z '.repeat(1 << 19) + '"\n}\n');
  both('100,000 words on one line', 'global_defs {\n  router_id' + ' w'.repeat(100_000) + '\n}\n');
  both('100,000 dollars', '$'.repeat(100_000) + '\n');
  both('a 512 KiB definition used three times', '$A=' + 'z'.repeat(1 << 19) + '\n$B=${A}${A}${A}\nq $B\n');
  // sequence and list bombs, with small limits and with the default limit of
  // 200,000 lines (500,000 took 8-12 s for some; found here, lowered in core)
  both('~SEQ 1,000,000 nested three deep', '~SEQ(A,1,1000000) ~SEQ(B,1,1000000) ~SEQ(C,1,1000000) x $A $B $C\n');
  both(
    'three ~SEQ make 16,777,216 real_server blocks',
    'virtual_server 192.0.2.1 80 {\n~SEQ(A,0,255) ~SEQ(B,0,255) ~SEQ(C,0,255) real_server 10.$A.$B.$C 80 { TCP_CHECK { connect_timeout 3 } }\n}\n',
  );
  both(
    '~SEQ 1,000,000 nested three deep in a block',
    VIP_INSTANCE.replace('192.0.2.1/24', '~SEQ(A,1,1000000) ~SEQ(B,1,1000000) ~SEQ(C,1,1000000) 192.0.2.1/24'),
  );
  both(
    '~LST of 5,000 x 5,000',
    '~LST(A,' + Array.from({ length: 5000 }, (_, i) => i).join(',') + ') ~LST(B,' + Array.from({ length: 5000 }, (_, i) => i).join(',') + ') x $A $B\n',
  );
  both('~SEQ nested 50 deep', Array.from({ length: 50 }, (_, i) => `~SEQ(V${i}, 1, 2) `).join('') + 'x\n');
  both('a definition of 10,000 lines used 1,000 times', '$M= \\\n' + 'a \\\n'.repeat(10_000) + 'b\n' + '$M\n'.repeat(1000));
  both('~SEQ with a 99999999999-line count', '~SEQ(N, 1, 99999999999) x\n');
  both('~SEQ with a huge hex range', '~SEQx(H, 0, 1, 0xffffffffffff) x $H\n');
  both('~SEQ over a multi-line definition, 100,000 times', '$M= \\\nx $N \\\ny $N\n~SEQ(N, 1, 100000) $M\n');
  // self-referring definitions
  both('$A=$A$A', '$A=$A$A\nx $A\n');
  both('$A=${A}${A}', '$A=${A}${A}\nx $A\n');
  both('$A=x then $A=${A}${A} 40 times', '$A=x\n' + '$A=${A}${A}\n'.repeat(40) + 'y $A\n');
  both('$A and $B refer to each other', '$A=${B}\n$B=${A}\nx $A\n');
  both('a multi-line definition that uses itself', '$M= \\\n$M \\\nx\n$M\n');
  both('a multi-line definition that uses itself twice per line', '$M= \\\n${M} \\\n${M} \\\n${M}\n$M\n');
  both('a multi-line definition that never ends', '$M= \\\n' + 'a \\\n'.repeat(50_000));
  // bytes
  both('NUL bytes everywhere', VIP_INSTANCE.replace(/ /g, '\0'));
  both('only NUL bytes', '\0'.repeat(100_000));
  both('CRLF line ends', VIP_INSTANCE.replace(/\n/g, '\r\n'));
  both('CR only line ends', VIP_INSTANCE.replace(/\n/g, '\r'));
  both('lone surrogates and BOM', '\ufeff' + VIP_INSTANCE.replace(/VI_1/g, '\ud800VI\udfff'));
  both('an empty config', '');
  both('only comments', '! x\n# y\n'.repeat(1000));
  both('backslash at the end of the file', 'global_defs {\n  router_id x \\');
  both('an open quote at the end of the file', 'global_defs {\n  router_id "x');
  // include cycles and includes, on disk
  cases.push({ what: 'a root that includes itself', disk: { 'keepalived.conf': 'include keepalived.conf\n' + VIP_INSTANCE } });
  cases.push({
    what: 'a root that includes *.conf of its own directory',
    disk: { 'keepalived.conf': 'include *.conf\n' + VIP_INSTANCE, 'a.conf': 'include *.conf\n' },
  });
  cases.push({ what: 'a -> b -> a', disk: { 'keepalived.conf': 'include a.conf\n', 'a.conf': 'include b.conf\n', 'b.conf': 'include a.conf\n' } });
  cases.push({ what: 'conf.d/* includes the root', disk: { 'keepalived.conf': 'includea conf.d/*.conf\n', 'conf.d/x.conf': 'include ../keepalived.conf\n' } });
  cases.push({
    what: 'includes through a symlink loop',
    disk: { 'keepalived.conf': 'include loop/loop/loop/loop/*.conf\ninclude loop/*/*/*/*/x.conf\n', loop: { symlink: '.' }, 'x.conf': 'x\n' },
  });
  cases.push({
    what: 'includes 40 deep',
    disk: Object.fromEntries(Array.from({ length: 41 }, (_, i) => [i === 0 ? 'keepalived.conf' : `f${i}.conf`, `include f${i + 1}.conf\nx${i}\n`])),
  });
  cases.push({ what: 'include of a directory', disk: { 'keepalived.conf': 'includer conf.d\ninclude .\n', 'conf.d/x.conf': 'x\n' } });
  cases.push({ what: 'include of /dev/null', disk: { 'keepalived.conf': 'includea /dev/null\n' } });
  cases.push({
    what: 'invalid UTF-8',
    disk: {
      'keepalived.conf': Buffer.from([
        0x76, 0x72, 0x72, 0x70, 0xff, 0xfe, 0x20, 0x7b, 0x0a, 0xc3, 0x28, 0x0a, 0xe2, 0x82, 0x0a, 0xf0, 0x9f, 0x98, 0x0a, 0x7d, 0x0a, 0xed, 0xa0, 0x80, 0x0a,
      ]),
    },
  });
  cases.push({
    what: 'an included file with invalid UTF-8 and NULs',
    disk: { 'keepalived.conf': 'include x.conf\n', 'x.conf': Buffer.from([0xff, 0x00, 0x7b, 0x0a, 0x80, 0x7d, 0x0a, 0x00, 0x00]) },
  });
  cases.push({ what: 'a UTF-16 config', disk: { 'keepalived.conf': Buffer.from('\ufeff' + VIP_INSTANCE, 'utf16le') } });
  cases.push({ what: 'a missing root file', disk: {}, root: 'missing.conf' });
  cases.push({ what: 'a root that is a directory', disk: { 'dir/x.conf': 'x\n' }, root: 'dir' });
  cases.push({ what: 'brace expansion of 20 groups', text: 'include ' + '{a,b}'.repeat(20) + '\n' });
  cases.push({ what: 'brace expansion of 5,000 alternatives', text: 'include {' + 'a,'.repeat(5000) + 'b}\n' });
  cases.push({ what: 'brace groups nested 10,000 deep', text: 'include ' + '{a,'.repeat(10_000) + 'b' + '}'.repeat(10_000) + '\n' });
  cases.push({ what: 'an unclosed brace group in an include', text: 'include {a,b\n' });
  // found by this fuzzer, fixed in core/config: fan-out of includes, glob ranges, quadratic unclosed blocks
  cases.push({
    what: 'include fan-out: each of 32 files includes the next twice (2^32 reads, no cycle, no output line)',
    disk: Object.fromEntries(
      Array.from({ length: 33 }, (_, i) => [i === 0 ? 'keepalived.conf' : `f${i}.conf`, `include f${i + 1}.conf\ninclude f${i + 1}.conf\n`]),
    ),
  });
  cases.push({
    what: 'include fan-out through a glob: 10 files that each include *.conf (10! include paths)',
    disk: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [i === 0 ? 'keepalived.conf' : `g${i}.conf`, 'include *.conf\n'])),
  });
  cases.push({ what: 'an include glob with an inverted range [z-a]', text: 'include [z-a].conf\ninclude [9-0]*.conf\n' });
  both("60,000 lone '{' on one line", '{'.repeat(60_000) + '\n');
  both('60,000 unclosed nested blocks', 'a {\n'.repeat(60_000));
  cases.push({
    what: 'include globs with [, [!], [\\] and [^]',
    text: 'include x[\\].conf\ninclude [!a].conf\ninclude [^a].conf\ninclude [.conf\ninclude a]b[.conf\n',
  });
  return cases;
}

// ---------------------------------------------------------------------------
// checks

export interface CaseStats {
  maxMessageLength: number;
}

/**
 * What must hold for any input: a result with a verdict, and every diagnostic
 * at a real position of a file the compiler read, with a message meant for a
 * person. Returns the problems found (empty when the result is sound).
 */
export function checkResult(r: CompileResult, input: { file: string; text: string | undefined }, stats?: CaseStats): string[] {
  const problems: string[] = [];
  if (typeof r !== 'object' || r === null) return ['compileConfig resolved to no object'];
  if (typeof r.ok !== 'boolean') problems.push(`ok is ${typeof r.ok}, not a boolean`);
  if (!Array.isArray(r.diagnostics)) return [...problems, 'diagnostics is not an array'];
  if (typeof r.errorCount !== 'number' || r.ok !== (r.errorCount === 0)) problems.push(`ok ${r.ok} with errorCount ${r.errorCount}`);
  if (r.ok && r.model === undefined) problems.push('ok but no model');
  if (!r.ok && r.model !== undefined) problems.push('errors but a model');
  if (!r.ok && !r.diagnostics.some((d) => d.severity === 'error' || d.code === 'ALIVED_CONFIG_EXPANSION_LIMIT')) problems.push('not ok, yet no error is shown');
  const files = new Set([path.resolve(input.file), ...(r.files ?? []).map((f) => path.resolve(f))]);
  const rootLines = input.text?.split('\n');
  // a message may quote the config; a word is made up only when no file read has it
  // (as the lexer reads it: quotes and backslashes join words, so N"aN is NaN)
  const unquoted = (t: string): string => t.replace(/["'\\]/g, '');
  const echoes = (s: string): boolean =>
    input.text === undefined ||
    unquoted(input.text).includes(s) ||
    [...files].some((f) => {
      try {
        return f !== path.resolve(input.file) && unquoted(fs.readFileSync(f, 'utf8')).includes(s);
      } catch {
        return false;
      }
    });
  // messages name files (include cycles, duplicates); a file name is not a word the compiler made up
  // messages name files absolutely or relative to the root config's directory
  const rootDir = path.dirname(path.resolve(input.file));
  const readFiles = [...files, ...[...files].map((f) => path.relative(rootDir, f))].filter(Boolean).sort((a, b) => b.length - a.length);
  const ownWords = (m: string): string => readFiles.reduce((acc, f) => acc.split(f).join(''), m);
  for (const d of r.diagnostics.slice(0, 200)) {
    const where = `${d?.pos?.file}:${d?.pos?.line}:${d?.pos?.col}: ${d?.severity}: ${String(d?.message).slice(0, 200)}`;
    if (!['error', 'warning', 'note'].includes(d.severity)) problems.push(`bad severity: ${where}`);
    if (typeof d.code !== 'string' || !/^ALIVED_[A-Z0-9_]+$/.test(d.code)) problems.push(`bad code ${String(d.code)}: ${where}`);
    if (typeof d.message !== 'string' || d.message.trim().length === 0) {
      problems.push(`empty message: ${where}`);
      continue;
    }
    stats && (stats.maxMessageLength = Math.max(stats.maxMessageLength, d.message.length));
    if (/\n\s+at |^\s+at \S+ \(/m.test(d.message) || d.message.includes('    at ')) problems.push(`stack trace in message: ${where}`);
    const own = ownWords(d.message);
    if (/\bundefined\b/.test(own) && !echoes('undefined')) problems.push(`'undefined' in message: ${where}`);
    if (own.includes('[object Object]')) problems.push(`'[object Object]' in message: ${where}`);
    if (/\bNaN\b/.test(own) && !echoes('NaN')) problems.push(`'NaN' in message: ${where}`);
    const p = d.pos;
    if (!p || typeof p.file !== 'string' || !Number.isInteger(p.line) || !Number.isInteger(p.col) || p.line < 1 || p.col < 1) {
      problems.push(`bad position: ${where}`);
      continue;
    }
    if (!files.has(path.resolve(p.file))) problems.push(`position in a file the compiler did not read: ${where}`);
    if (rootLines && path.resolve(p.file) === path.resolve(input.file)) {
      if (p.line > rootLines.length) problems.push(`line past the end of the file (${rootLines.length} lines): ${where}`);
      else if (p.col > rootLines[p.line - 1]!.length + 1)
        problems.push(`column past the end of line ${p.line} (${rootLines[p.line - 1]!.length} characters): ${where}`);
    }
  }
  return problems;
}
