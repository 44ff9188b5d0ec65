import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../helpers/config';

/**
 * One error family: every class under core/ and plugins/ whose chain of base
 * classes reaches Error descends from AlivedError (core/errors.ts), so `code`
 * is a registry code everywhere. The chains are resolved by the TypeScript
 * type checker, through imports and re-exports (core/sdk.ts), aliases and
 * generic bases, as the compiler resolves them.
 */

interface ErrorClass {
  /** path relative to the root given */
  file: string;
  name: string;
  /** the chain of base classes, nearest first, up to Error */
  chain: string[];
  /** AlivedError is in the chain (or it is AlivedError itself) */
  alived: boolean;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...tsFiles(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The ECMAScript Error (lib.*.d.ts), as opposed to a class of the same name in the project. */
function isLibError(symbol: ts.Symbol, program: ts.Program): boolean {
  return symbol.name === 'Error' && (symbol.declarations ?? []).some((d) => program.isSourceFileDefaultLibrary(d.getSourceFile()));
}

function isAlived(symbol: ts.Symbol, errorsFile: string): boolean {
  return (
    symbol.name === 'AlivedError' &&
    (symbol.declarations ?? []).some((d) => ts.isClassDeclaration(d) && path.resolve(d.getSourceFile().fileName) === errorsFile)
  );
}

/**
 * Every class declared in `files` whose bases reach Error, and whether
 * AlivedError (declared in `errorsFile`) is on the way.
 */
function errorClasses(root: string, files: string[], errorsFile: string): ErrorClass[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    typeRoots: [path.join(PROJECT_ROOT, 'node_modules', '@types')],
    esModuleInterop: true,
    skipLibCheck: true,
    resolveJsonModule: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const out: ErrorClass[] = [];
  const wanted = new Set(files.map((f) => path.resolve(f)));
  for (const sf of program.getSourceFiles()) {
    if (!wanted.has(path.resolve(sf.fileName))) continue;
    const visit = (node: ts.Node): void => {
      if ((ts.isClassDeclaration(node) || ts.isClassExpression(node)) && node.heritageClauses?.some((h) => h.token === ts.SyntaxKind.ExtendsKeyword)) {
        // a class declaration's node has the instance type; a class expression's has the constructor's
        const at = checker.getTypeAtLocation(node);
        const own = at.getConstructSignatures()[0]?.getReturnType() ?? at;
        const chain: string[] = [];
        let alived = own.symbol !== undefined && isAlived(own.symbol, errorsFile);
        let reachesError = false;
        let type: ts.Type | undefined = own;
        // follows the first base at each step: a class extends one class; an interface on the way (TypeError) extends Error
        for (let depth = 0; type && depth < 50; depth++) {
          const target: ts.Type = (type as ts.TypeReference).target ?? type;
          if (!(target.flags & ts.TypeFlags.Object) || !((target as ts.ObjectType).objectFlags & ts.ObjectFlags.ClassOrInterface)) break;
          const base: ts.Type | undefined = checker.getBaseTypes(target as ts.InterfaceType)[0];
          const sym = base?.symbol;
          if (!base || !sym) break;
          chain.push(sym.name);
          if (isAlived(sym, errorsFile)) alived = true;
          if (isLibError(sym, program)) {
            reachesError = true;
            break;
          }
          type = base;
        }
        if (reachesError) {
          const name = node.name?.text ?? '(anonymous class)';
          out.push({ file: path.relative(root, sf.fileName), name, chain, alived });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

/** what the rule rejects: an error class without AlivedError on its way to Error */
const strays = (classes: ErrorClass[]): string[] =>
  classes.filter((c) => !c.alived).map((c) => `${c.file}: ${c.name} extends ${c.chain.join(' < ')}, not AlivedError`);

test('the check follows bases through imports, re-exports, aliases, generics and built-in errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-family-'));
  try {
    const write = (name: string, text: string): string => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    };
    const errors = write('errors.ts', 'export class AlivedError extends Error {}\n');
    const files = [
      errors,
      write('sdk.ts', "export { AlivedError } from './errors';\nexport * from './errors';\n"),
      write(
        'good.ts',
        [
          "import { AlivedError as Base } from './sdk';",
          'export class Direct extends Base {}',
          'export class Grandchild extends Direct {}',
          'export class Generic<T> extends Base { value?: T }',
          'export class OfGeneric extends Generic<number> {}',
          'export class NotAnError extends Map<string, number> {}',
          'export const Expr = class Named extends Base {};',
        ].join('\n'),
      ),
      write(
        'bad.ts',
        [
          "import { Direct } from './good';",
          'export class Plain extends Error {}',
          'export class OfPlain extends Plain {}',
          'export class Typed extends TypeError {}',
          'const E = Error;',
          'export class Aliased extends E {}',
          'export class Fine extends Direct {}',
        ].join('\n'),
      ),
    ];
    const classes = errorClasses(dir, files, errors);
    assert.deepEqual(classes.map((c) => c.name).sort(), [
      'Aliased',
      'AlivedError',
      'Direct',
      'Fine',
      'Generic',
      'Grandchild',
      'Named',
      'OfGeneric',
      'OfPlain',
      'Plain',
      'Typed',
    ]);
    assert.deepEqual(strays(classes).sort(), [
      'bad.ts: Aliased extends Error, not AlivedError',
      'bad.ts: OfPlain extends Plain < Error, not AlivedError',
      'bad.ts: Plain extends Error, not AlivedError',
      'bad.ts: Typed extends TypeError < Error, not AlivedError',
    ]);
    assert.deepEqual(classes.find((c) => c.name === 'Fine')!.chain, ['Direct', 'AlivedError', 'Error']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every error class under core/ and plugins/ descends from AlivedError (extends Error only in core/errors.ts)', () => {
  const files = [...tsFiles(path.join(PROJECT_ROOT, 'core')), ...tsFiles(path.join(PROJECT_ROOT, 'plugins'))];
  const errorsFile = path.join(PROJECT_ROOT, 'core', 'errors.ts');
  const classes = errorClasses(PROJECT_ROOT, files, errorsFile);
  // the check sees the family: AlivedError and classes known to extend it
  for (const name of ['AlivedError', 'FileError', 'LabError', 'ProbeFailed'])
    assert.ok(
      classes.some((c) => c.name === name && c.alived),
      `${name} is found`,
    );
  assert.deepEqual(strays(classes), [], `error classes outside the family:\n${strays(classes).join('\n')}`);
});
