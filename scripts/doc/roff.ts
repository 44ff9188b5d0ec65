/**
 * Markdown, as the docs in docs/ write it, turned into man(7) roff: headings,
 * paragraphs, lists, fenced code, tables and inline code, bold, emphasis and
 * links. Only what the docs use is handled; anything else is kept as text,
 * escaped, so groff never sees a stray request.
 */

/**
 * Escapes text for roff: backslashes, a leading `.` or `'` that would start a
 * request, and characters beyond ASCII as groff's \[uXXXX] (groff reads its
 * input as Latin-1 unless preconv runs first, which man does and groff alone does not).
 */
export function escapeText(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/[^\t\n -~]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** Text in bold as a command or keyword is written: its hyphens are minus signs, so it can be searched and pasted. */
export function literal(s: string): string {
  return escapeText(s).replace(/-/g, '\\-');
}

/** Joins roff lines: a line that would start with a blank or a control character is protected. */
export function lines(parts: string[]): string {
  return parts.map((l) => (l.startsWith(' ') ? `\\&${l}` : l)).join('\n');
}

/** Inline markdown: `code`, **bold**, *emphasis*, [text](link). */
export function inline(md: string): string {
  let out = '';
  const re = /`([^`]+)`|\*\*(.+?)\*\*|(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (let m = re.exec(md); m; m = re.exec(md)) {
    out += escapeText(md.slice(last, m.index));
    if (m[1] !== undefined) out += `\\fB${literal(m[1])}\\fR`;
    else if (m[2] !== undefined) out += `\\fB${inline(m[2]).replace(/\\fR/g, '\\fB')}\\fR`;
    else if (m[3] !== undefined) out += `\\fI${escapeText(m[3])}\\fR`;
    else out += linkText(m[4]!, m[5]!);
    last = m.index + m[0].length;
  }
  return (out + escapeText(md.slice(last))).replace(/\\fR\\fR/g, '\\fR');
}

/** A link: the text; a web address follows in angle brackets, a link into the docs names the page. */
function linkText(text: string, href: string): string {
  const t = inline(text);
  if (/^https?:/.test(href)) return `${t} <${escapeText(href)}>`;
  const page = /^([\w.-]+\.md)/.exec(href);
  if (!page) return t;
  return text === page[1] ? `docs/${escapeText(page[1]!)}` : `${t} (docs/${escapeText(page[1]!)})`;
}

function tableCells(row: string): string[] {
  // a `|` inside code is written `\|` in the docs
  return row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export interface MdOptions {
  /** `##` headings become .SH (upper case); `###` .SS. With shift 1, `#` is .SH too. */
  shift?: number;
}

/**
 * A markdown document (or part of one) as man(7) body text. A table becomes
 * a list of tagged paragraphs: the first cell is the tag, the others (with
 * their column names after the second) the body.
 */
export function markdownToRoff(md: string, opts: MdOptions = {}): string {
  const shift = opts.shift ?? 0;
  const src = md.replace(/\r/g, '').split('\n');
  const out: string[] = [];
  let para: string[] = [];
  const flush = (): void => {
    if (para.length) out.push('.PP', inline(para.join(' ')));
    para = [];
  };
  for (let i = 0; i < src.length; i++) {
    const line = src[i]!;
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const level = heading[1]!.length + shift;
      const title = heading[2]!.replace(/`/g, '');
      out.push(level <= 2 ? `.SH "${escapeText(title.toUpperCase()).replace(/"/g, '')}"` : `.SS "${escapeText(title).replace(/"/g, '')}"`);
      continue;
    }
    if (/^```/.test(line)) {
      flush();
      const code: string[] = [];
      for (i++; i < src.length && !/^```/.test(src[i]!); i++) code.push(src[i]!);
      out.push('.PP', '.RS 4', '.nf', ...code.map((c) => `\\&${escapeText(c)}`), '.fi', '.RE');
      continue;
    }
    if (/^\|/.test(line) && /^\|[\s|:-]+\|$/.test(src[i + 1] ?? '')) {
      flush();
      const head = tableCells(line);
      i += 2;
      for (; i < src.length && /^\|/.test(src[i]!); i++) {
        const cells = tableCells(src[i]!);
        // the second cell is the paragraph; each further one a line of its own, after its column's name
        const body = cells
          .slice(1)
          .map((c, k) => ({ c, k }))
          .filter(({ c }) => c.trim() !== '' && c.trim() !== '—')
          .map(({ c, k }) => (k === 0 ? inline(c) : `.br\n\\fI${escapeText(capitalize(head[k + 1] ?? ''))}:\\fR ${inline(c)}`));
        out.push('.TP', inline(cells[0] ?? ''), ...body);
      }
      i--;
      continue;
    }
    const item = /^(\s*)(?:[-*]|\d+\.)\s+(.*)$/.exec(line);
    if (item) {
      flush();
      const text = [item[2]!];
      const indent = item[1]!.length;
      for (; i + 1 < src.length && /^\s+\S/.test(src[i + 1]!) && !/^\s*(?:[-*]|\d+\.)\s/.test(src[i + 1]!) && !/^\s*```/.test(src[i + 1]!); i++) {
        text.push(src[i + 1]!.trim());
      }
      out.push(indent > 0 ? '.RS 2' : '', '.IP \\(bu 2', inline(text.join(' ')), indent > 0 ? '.RE' : '');
      continue;
    }
    if (line.trim() === '') {
      flush();
      continue;
    }
    para.push(line.trim());
  }
  flush();
  return lines(out.filter((l) => l !== ''));
}

/** The sections of a markdown document, by `## ` heading; the text before the first is under ''. */
export function markdownSections(md: string): Map<string, string> {
  const sections = new Map<string, string>();
  let name = '';
  let body: string[] = [];
  let inCode = false;
  for (const line of md.split('\n')) {
    if (/^```/.test(line)) inCode = !inCode;
    const h = inCode ? null : /^##\s+(.*)$/.exec(line);
    if (h) {
      sections.set(name, body.join('\n'));
      name = h[1]!.trim();
      body = [];
    } else body.push(line);
  }
  sections.set(name, body.join('\n'));
  return sections;
}
