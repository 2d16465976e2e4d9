// The capture's only reads of metadata: one lstat (plus readlink for symlinks) per path, and
// directory listings. Symlinks are never followed. The calls are synchronous: a metadata lookup costs a few
// microseconds, a trip through libuv's thread pool tens (and waits behind any slow call there), and the
// capture makes one per changed path.
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import type { Observed } from './types';

/** Errors that mean "nothing is there (any more)", as opposed to "could not look". */
const GONE = new Set(['ENOENT', 'ENOTDIR']);

export const isGone = (err: unknown): boolean => GONE.has((err as NodeJS.ErrnoException)?.code ?? '');

const toMs = (ns: bigint): number => Number(ns / 1000n) / 1000;

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
    key: `${st.dev}:${st.ino}`,
    kind,
    size: kind === 'file' ? Number(st.size) : 0,
    mtimeMs: toMs(st.mtimeNs),
    ctimeMs: toMs(st.ctimeNs),
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

/** Names in a directory, or null when it is gone or no longer a directory. */
export async function listDir(dir: string): Promise<string[] | null> {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}
