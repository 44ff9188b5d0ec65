import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../helpers/config';

/**
 * docs/status.md lists every field of the status document and of a timeline
 * event, as paths (`daemon.version`, `vrrp.instances[].vips[].present`):
 * this test walks the types in core/status/types.ts with the TypeScript
 * checker and wants the same list, so the doc cannot fall behind the type.
 */

const TYPES = path.join(PROJECT_ROOT, 'core/status/types.ts');
const DOC = path.join(PROJECT_ROOT, 'docs/status.md');

/** leaf-or-object field paths of a type: objects are walked, arrays get `[]`, a Cause is a leaf (documented once) */
function fieldPaths(checker: ts.TypeChecker, type: ts.Type, prefix: string, out: string[], depth = 0): void {
  if (depth > 8) return;
  for (const prop of checker.getPropertiesOfType(type)) {
    const decl = prop.valueDeclaration ?? prop.declarations?.[0];
    if (!decl) continue;
    const name = `${prefix}${prop.name}`;
    out.push(name);
    let t = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(prop, decl));
    let suffix = '';
    if (checker.isArrayType(t)) {
      t = checker.getNonNullableType((t as ts.TypeReference).typeArguments![0]!);
      suffix = '[]';
    }
    const named = t.aliasSymbol?.name ?? t.getSymbol()?.name;
    if (named === 'Cause') continue;
    // object types of the document (not strings, numbers, unions of literals, Records)
    const objects = t.isUnion() ? t.types.filter((x) => x.flags & ts.TypeFlags.Object) : t.flags & ts.TypeFlags.Object ? [t] : [];
    if (objects.length === 1 && checker.getPropertiesOfType(objects[0]!).length > 0 && !checker.getIndexInfosOfType(objects[0]!).length) {
      fieldPaths(checker, objects[0]!, `${name}${suffix}.`, out, depth + 1);
    }
  }
}

function typePaths(typeName: string): string[] {
  const program = ts.createProgram([TYPES], { strict: true, target: ts.ScriptTarget.ES2022, types: [] });
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(TYPES)!;
  const decl = sf.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === typeName);
  assert.ok(decl, `${typeName} is declared in core/status/types.ts`);
  const out: string[] = [];
  fieldPaths(checker, checker.getTypeAtLocation(decl!), '', out);
  return out;
}

/** the paths in the doc's table under a heading: rows `| \`path\` | ... |` */
function docPaths(heading: string): string[] {
  const text = fs.readFileSync(DOC, 'utf8');
  const at = text.indexOf(`\n## ${heading}\n`);
  assert.ok(at >= 0, `docs/status.md has a section "## ${heading}"`);
  const end = text.indexOf('\n## ', at + 4);
  const section = text.slice(at, end < 0 ? undefined : end);
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

for (const [type, heading] of [
  ['StatusDocument', 'The status document'],
  ['TimelineEvent', 'Timeline events'],
  ['Cause', 'Causes'],
] as const) {
  test(`docs/status.md lists every field of ${type}, and only those`, () => {
    const want = typePaths(type);
    const have = docPaths(heading);
    const missing = want.filter((p) => !have.includes(p));
    const extra = have.filter((p) => !want.includes(p));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `docs/status.md "## ${heading}" against ${type}`);
  });
}
