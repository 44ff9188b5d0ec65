import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { AlivedError } from '../errors';
import { fileKind, systemErrorText } from '../fs/safe-file';
import { resolveGroup } from '../script/user';

/**
 * The API's unix socket, made where no other user can interfere: its
 * directory is created 0755 when missing and refused when it is a symbolic
 * link or another user can write to it (or to a directory above it, unless
 * sticky); a symbolic link or a file at the socket's path is never followed
 * nor removed; a socket there is removed only when nothing answers on it (a
 * daemon that died), and a live one is refused, since two daemons on one
 * socket would answer for each other.
 */

const selfUid = (): number => process.geteuid?.() ?? 0;

function refuse(file: string, why: string): AlivedError {
  return new AlivedError('ALIVED_API_LISTEN', `the HTTP API cannot listen on unix socket ${file}: ${why}`);
}

function writableByOthers(st: fs.Stats): boolean {
  return (st.mode & 0o022) !== 0;
}

/** The socket's directory: made when missing, then held to being a real directory only root (or this user) can write. */
function checkDirectory(file: string): void {
  const dir = path.dirname(file);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw refuse(file, `cannot examine ${dir}: ${systemErrorText(err)}`);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      fs.chmodSync(dir, 0o755);
      st = fs.lstatSync(dir);
    } catch (err2) {
      throw refuse(file, `cannot create ${dir}: ${systemErrorText(err2)}`);
    }
  }
  if (st.isSymbolicLink()) throw refuse(file, `its directory ${dir} is a symbolic link (never followed)`);
  if (!st.isDirectory()) throw refuse(file, `${dir} is a ${fileKind(st)}, not a directory`);
  if (st.uid !== 0 && st.uid !== selfUid()) throw refuse(file, `its directory ${dir} belongs to uid ${st.uid}, who could replace the socket`);
  if (writableByOthers(st)) {
    throw refuse(
      file,
      `its directory ${dir} is writable by other users (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}), who could plant or replace the socket`,
    );
  }
  // above it: a directory another user may write without the sticky bit lets them rename ours away
  for (let up = path.dirname(dir); ; up = path.dirname(up)) {
    let a: fs.Stats;
    try {
      a = fs.statSync(up);
    } catch {
      break;
    }
    if (writableByOthers(a) && !(a.mode & 0o1000)) throw refuse(file, `${up}, above it, is writable by other users and not sticky`);
    if (up === path.dirname(up)) break;
  }
}

/** Whether something accepts connections on the socket at `file`: true, false (refused: a stale socket), or an error text. */
function probe(file: string, timeoutMs = 1000): Promise<true | false | string> {
  return new Promise((resolve) => {
    const s = net.connect({ path: file });
    const done = (v: true | false | string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? false : systemErrorText(err)));
  });
}

/** Clears the way for a socket at `file`: checks its directory, removes a stale socket, refuses anything else. */
export async function prepareSocketPath(file: string): Promise<void> {
  checkDirectory(file);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw refuse(file, `cannot examine it: ${systemErrorText(err)}`);
  }
  if (st.isSymbolicLink()) throw refuse(file, 'a symbolic link is there (never followed nor removed); remove it if it is not yours');
  if (!st.isSocket()) throw refuse(file, `a ${fileKind(st)} is there, not a socket (left as it is); remove it if it is not needed`);
  const live = await probe(file);
  if (live === true) {
    throw refuse(file, 'another alived answers on it; a second daemon on this host needs its own socket: start it with --instance NAME or --state-dir DIR');
  }
  if (typeof live === 'string') throw refuse(file, `cannot tell whether a daemon answers on it: ${live}`);
  try {
    // stale: the daemon that made it is gone; unlink(2) removes the entry, never what a link points to
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw refuse(file, `cannot remove the stale socket: ${systemErrorText(err)}`);
  }
}

/** sun_path's room: 108 bytes with the terminating NUL */
const MAX_SOCKET_PATH = 107;

/**
 * Listens on `file` with `server`; the socket is never open to others, even
 * for an instant, before it gets `mode`. It is bound in a directory of its
 * own (mkdtemp: 0700) beside `file`, given its group and mode there, then
 * hard-linked to `file`: link(2) fails rather than replace whatever came to
 * be at `file` since it was checked. (Binding under a strict umask would do
 * as well, but the API runs in a worker thread, where the umask cannot be
 * set.)
 */
export async function listenOnSocket(server: net.Server, file: string, mode: number, group: string | null): Promise<{ ino: number }> {
  await prepareSocketPath(file);
  let privateDir: string;
  try {
    privateDir = fs.mkdtempSync(path.join(path.dirname(file), '.'));
  } catch (err) {
    throw refuse(file, `cannot make a private directory beside it to bind it in: ${systemErrorText(err)}`);
  }
  const bound = path.join(privateDir, 's');
  try {
    if (Buffer.byteLength(bound) > MAX_SOCKET_PATH) {
      throw refuse(file, `its directory's path is too long to bind the socket in a private directory there first (at most ${MAX_SOCKET_PATH - 10} bytes)`);
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(refuse(file, systemErrorText(err)));
      server.once('error', onError);
      server.listen(bound, () => {
        server.off('error', onError);
        resolve();
      });
    });
    try {
      await setSocketAccess(bound, mode, group, file);
      fs.linkSync(bound, file);
    } catch (err) {
      // closing the server removes the socket it bound (libuv unlinks its path)
      server.close();
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw refuse(file, 'a file came to be at its path while the socket was made (left as it is)');
      throw err instanceof AlivedError ? err : refuse(file, systemErrorText(err));
    }
  } finally {
    fs.rmSync(privateDir, { recursive: true, force: true });
  }
  return { ino: fs.lstatSync(file).ino };
}

/** Gives the socket its group (chown) and mode; a reload that changes only these keeps the socket. */
export async function setSocketAccess(file: string, mode: number, group: string | null, name = file): Promise<void> {
  let gid = -1;
  if (group !== null) {
    const g = await resolveGroup(group);
    if (typeof g === 'string') throw refuse(name, `socket_group: ${g}`);
    gid = g;
  }
  try {
    // the group first: the mode may open the socket to it
    if (gid !== -1) fs.lchownSync(file, -1, gid);
    fs.chmodSync(file, mode);
  } catch (err) {
    throw refuse(name, `cannot set its mode or group: ${systemErrorText(err)}`);
  }
}

/** Removes the socket this server made (the same inode), and nothing that took its place. */
export function removeSocket(file: string, ino: number): void {
  try {
    const st = fs.lstatSync(file);
    if (st.isSocket() && st.ino === ino) fs.unlinkSync(file);
  } catch {
    // gone already
  }
}
