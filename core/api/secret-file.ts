import * as fs from 'node:fs';
import { readFileSafeSync, systemErrorText } from '../fs/safe-file';

/** the shortest bearer token alived takes */
export const MIN_TOKEN_LENGTH = 16;

/**
 * A file that holds a secret (the API's token_file, tls_key) read as it
 * must be: a regular file (never through a symlink, never a FIFO), that
 * users other than its owner and group cannot read. Gives the content, or
 * why the file is refused (without the content).
 */
export function readSecretFile(file: string, maxBytes = 64 * 1024): { text: string } | { problem: string } {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    return { problem: `cannot read ${file}: ${systemErrorText(err)}` };
  }
  if (!st.isFile()) return { problem: `${file} is not a regular file` };
  if (st.mode & 0o007) return { problem: `${file} is readable by other users (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}); chmod o-rwx it` };
  try {
    return { text: readFileSafeSync(file, { maxBytes }) };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** The bearer token in a token_file: its first line, trimmed, at least MIN_TOKEN_LENGTH characters. */
export function readTokenFile(file: string): { token: string } | { problem: string } {
  const r = readSecretFile(file, 4096);
  if ('problem' in r) return r;
  const token = (r.text.split('\n')[0] ?? '').trim();
  if (token.length < MIN_TOKEN_LENGTH) return { problem: `the first line of ${file} is not a token of at least ${MIN_TOKEN_LENGTH} characters` };
  if (/\s/.test(token)) return { problem: `the token in ${file} holds a blank` };
  return { token };
}
