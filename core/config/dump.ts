import { redactUrlSecrets } from '../log/url-secrets';
import type { Token } from './lexer';
import type { Stmt } from './tree';

/** Keywords whose value is a secret: a dump shows them masked. */
const SECRET_KEYWORDS = new Set(['auth_pass', 'smtp_password', 'password', 'secret', 'token', 'header']);
const MASK = '********';

function word(t: Token): string {
  if (t.text.length > 0 && !/[\s"'{}#!\\]/.test(t.text)) return t.text;
  return `"${t.text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The resolved config (includes, parameters, @id lines and sequences
 * applied) as keepalived.conf text, one statement a line, for -d.
 * Secrets are masked: the values of SECRET_KEYWORDS, and in any value the
 * secrets of a URL (a webhook's `?token=`, `user:password@`; url-secrets.ts).
 */
export function dumpTree(stmts: readonly Stmt[], indent = ''): string {
  let out = '';
  for (const s of stmts) {
    const args = SECRET_KEYWORDS.has(s.name.text) ? s.args.map(() => MASK) : s.args.map((a) => word({ ...a, text: redactUrlSecrets(a.text, MASK) }));
    const head = [word(s.name), ...args].join(' ');
    if (s.block) {
      out += `${indent}${head} {\n${dumpTree(s.block, indent + '    ')}${indent}}\n`;
    } else out += `${indent}${head}\n`;
  }
  return out;
}
