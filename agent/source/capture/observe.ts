// The capture's only reads of metadata: one lstat (plus readlink for symlinks) per path, and
// directory listings. Symlinks are never followed. The calls are synchronous: a metadata lookup costs a few
// microseconds, a trip through libuv's thread pool tens (and waits behind any slow call there), and the
// capture makes one per changed path.
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import type { Observed } from './types';
import { splitUtf8Names, type NameListing } from '../dir-names';
import { timeMsOf } from '../walker';

/**
 * Errors that mean "nothing is there (any more)", as opposed to "could not look": removed, its directory gone, or a
 * symlink there now where a file was opened with O_NOFOLLOW (ELOOP).
 */
const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

export const isGone = (err: unknown): boolean => GONE.has((err as NodeJS.ErrnoException)?.code ?? '');

/**
 * The identity of a file system object: device, inode number and birth time. Inode numbers are reused at once (ext4
 * gives a freed number to the next file or directory made, often within the same batch of events), and an object
 * taken for another one loses data: a new directory read as the old one moved, a resend that follows a key to
 * whatever now has that number. The birth time tells them apart; where the file system keeps none it is 0, and the
 * key is as good as device and inode number alone.
 */
export const inodeKey = (st: { dev: bigint; ino: bigint; birthtimeNs: bigint }): string => `${st.dev}:${st.ino}:${st.birthtimeNs}`;

/** The part of `inodeKey` that indexes written before the birth time was in it used as the whole key. */
export const devInoOf = (st: { dev: bigint; ino: bigint }): string => `${st.dev}:${st.ino}`;

/**
 * The state of a path, or null when nothing replicable is there (missing, or a fifo, socket or
 * device). Other errors (EACCES, EIO) are thrown: not being able to look is not a deletion.
 */
export async function observePath(path: string): Promise<Observed | null> {
  let st;
  try {
    st = lstatSync(path, { bigint: true });
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : null;
  if (kind === null) return null;
  const obs: Observed = {
    key: inodeKey(st),
    kind,
    size: kind === 'file' ? Number(st.size) : 0,
    mtimeMs: timeMsOf(st.mtimeNs),
    ctimeMs: timeMsOf(st.ctimeNs),
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    nlink: Number(st.nlink),
  };
  if (kind === 'symlink') {
    try {
      obs.target = readlinkSync(path);
    } catch (err) {
      if (isGone(err) || (err as NodeJS.ErrnoException).code === 'EINVAL') return null; // replaced meanwhile
      throw err;
    }
  }
  return obs;
}

/** Names in a directory (those that are not UTF-8 apart), or null when it is gone or no longer a directory. */
export async function listDir(dir: string): Promise<NameListing | null> {
  try {
    return splitUtf8Names(dir, readdirSync(dir));
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}
