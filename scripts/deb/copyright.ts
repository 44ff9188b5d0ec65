import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The Debian package's copyright file (machine-readable, DEP-5) for alived
 * and every package bundled under /usr/lib/alived/node_modules, each with the
 * license its package.json declares and the copyright lines of its license
 * file. `node dist/scripts/deb/copyright.js LIBDIR` prints it (build-deb.sh).
 */

const MIT = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`;

const MIT0 = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`;

const ISC = `Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`;

const BSD3 = `Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice,
   this list of conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.
3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from this
   software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE.`;

/** License texts by SPDX id; Apache-2.0 is in every Debian system's common-licenses. */
const TEXTS: Record<string, string> = {
  MIT,
  'MIT-0': MIT0,
  ISC,
  'BSD-3-Clause': BSD3,
  'Apache-2.0': 'On Debian systems, the complete text of the Apache License, Version 2.0\ncan be found in "/usr/share/common-licenses/Apache-2.0".',
};

interface Bundled {
  /** the folder under node_modules: `undici`, `@types/x`, `a/node_modules/b` */
  readonly dir: string;
  readonly license: string;
  readonly copyright: string[];
}

function licenseOf(pkg: { name?: string; license?: unknown; licenses?: Array<{ type?: string }> }): string {
  if (typeof pkg.license === 'string') return pkg.license;
  const t = pkg.licenses?.[0]?.type;
  if (t) return t;
  throw new Error(`${pkg.name ?? 'a package'} declares no license in its package.json`);
}

function copyrightLines(dir: string, name: string): string[] {
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  const lines = file
    ? fs
        .readFileSync(path.join(dir, file), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /^(copyright\b|\(c\)|©)/i.test(l) && !/copyright (notice|holder|owner)/i.test(l) && /\d{4}/.test(l))
        .map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, '').trim())
    : [];
  return lines.length ? [...new Set(lines)] : [`the authors of ${name}`];
}

/** Every package under LIBDIR/node_modules, nested ones too, by folder. */
export function bundledPackages(libDir: string): Bundled[] {
  const out: Bundled[] = [];
  const walk = (nm: string, prefix: string): void => {
    if (!fs.existsSync(nm)) return;
    for (const e of fs.readdirSync(nm).sort()) {
      if (e.startsWith('.')) continue;
      if (e.startsWith('@')) {
        for (const s of fs.readdirSync(path.join(nm, e)).sort()) visit(path.join(nm, e, s), `${prefix}${e}/${s}`);
      } else visit(path.join(nm, e), `${prefix}${e}`);
    }
  };
  const visit = (dir: string, rel: string): void => {
    const pj = path.join(dir, 'package.json');
    if (!fs.existsSync(pj)) return;
    const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
    out.push({ dir: rel, license: licenseOf(pkg), copyright: copyrightLines(dir, pkg.name ?? rel) });
    walk(path.join(dir, 'node_modules'), `${rel}/node_modules/`);
  };
  walk(path.join(libDir, 'node_modules'), '');
  return out;
}

export function copyrightFile(libDir: string, project: { license: string }): string {
  const bundled = bundledPackages(libDir);
  const paragraphs: string[] = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: alived',
      'Comment: alived bundles its Node.js dependencies under /usr/lib/alived/node_modules,',
      ' installed from its package-lock.json; each is listed below with the license',
      ' its package declares.',
    ].join('\n'),
    ['Files: *', 'Copyright: the alived authors', `License: ${project.license}`].join('\n'),
  ];
  for (const b of bundled) {
    paragraphs.push([`Files: usr/lib/alived/node_modules/${b.dir}/*`, `Copyright: ${b.copyright.join('\n           ')}`, `License: ${b.license}`].join('\n'));
  }
  const ids = [...new Set([project.license, ...bundled.map((b) => b.license)])];
  for (const id of ids) {
    const text = TEXTS[id];
    if (!text) throw new Error(`no license text for '${id}': add it to scripts/deb/copyright.ts`);
    paragraphs.push(
      `License: ${id}\n${text
        .split('\n')
        .map((l) => (l.trim() === '' ? ' .' : ` ${l}`))
        .join('\n')}`,
    );
  }
  return paragraphs.join('\n\n') + '\n';
}

if (require.main === module) {
  const libDir = process.argv[2];
  if (!libDir) {
    process.stderr.write('usage: node dist/scripts/deb/copyright.js LIBDIR\n');
    process.exit(2);
  }
  const project = JSON.parse(fs.readFileSync(path.join(libDir, 'package.json'), 'utf8')) as { license: string };
  process.stdout.write(copyrightFile(libDir, project));
}
