import * as fs from 'node:fs';
import * as path from 'node:path';
import { bashCompletion } from './bash-completion';
import { keywordTree } from './keyword-tree';
import { alivedConfPage, alivedPage, PROJECT_ROOT } from './man-pages';

/**
 * `npm run man` (after a build): writes man/alived.8 and man/alived.conf.5.
 * `node dist/scripts/doc/write.js [--man DIR] [--completion FILE]` writes the
 * pages into DIR and the bash completion to FILE (scripts/build-deb.sh).
 */

async function main(argv: string[]): Promise<number> {
  let manDir: string | undefined = path.join(PROJECT_ROOT, 'man');
  let completion: string | undefined;
  if (argv.length > 0) manDir = undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if ((a === '--man' || a === '--completion') && v !== undefined) {
      if (a === '--man') manDir = path.resolve(v);
      else completion = path.resolve(v);
      i++;
    } else {
      process.stderr.write('usage: node dist/scripts/doc/write.js [--man DIR] [--completion FILE]\n');
      return 2;
    }
  }
  if (manDir) {
    fs.mkdirSync(manDir, { recursive: true });
    fs.writeFileSync(path.join(manDir, 'alived.8'), alivedPage());
    fs.writeFileSync(path.join(manDir, 'alived.conf.5'), alivedConfPage(await keywordTree()));
    process.stdout.write(`wrote ${path.join(manDir, 'alived.8')} and ${path.join(manDir, 'alived.conf.5')}\n`);
  }
  if (completion) {
    fs.mkdirSync(path.dirname(completion), { recursive: true });
    fs.writeFileSync(completion, await bashCompletion());
    process.stdout.write(`wrote ${completion}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`scripts/doc/write: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
