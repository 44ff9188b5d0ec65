import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlivedError } from '../errors';
import { processExists as alive } from '../notify/outbox-lock';

/**
 * Writes this process's pid, refusing when another live alived holds the
 * file; a file left by a dead process is taken over.
 */
export function acquirePidFile(file: string): () => void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AlivedError('ALIVED_DAEMON_PID_FILE', `cannot write pid file ${file}: ${(err as Error).message}`);
      }
      const other = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(other) && other > 0 && other !== process.pid && alive(other)) {
        throw new AlivedError('ALIVED_DAEMON_PID_FILE', `another alived (pid ${other}) holds ${file}; stop it or use -p for another pid file`);
      }
      fs.unlinkSync(file);
    }
  }
  throw new AlivedError('ALIVED_DAEMON_PID_FILE', `cannot take pid file ${file}`);
}
