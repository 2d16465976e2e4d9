// Whole-tree helpers for snapshots: apparent size, and removal that also works as a non-root owner when the
// copied tree contains read-only directories (cp -a preserves a 0555 directory, which blocks deleting its entries).
import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** Sum of regular-file sizes under dir (apparent size: extents shared by reflink or btrfs count in full). */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length) {
    const current = pending.pop()!;
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) total += (await lstat(full)).size;
    }
  }
  return total;
}

export async function removeTree(target: string): Promise<void> {
  try {
    await rm(target, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    await makeDirsWritable(target);
    await rm(target, { recursive: true, force: true });
  }
}

async function makeDirsWritable(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => null);
  if (!info?.isDirectory()) return;
  await chmod(dir, (info.mode & 0o7777) | 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await makeDirsWritable(path.join(dir, entry.name));
  }
}

/** Removes every entry inside dir, keeping dir itself. */
export async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await removeTree(path.join(dir, name));
}
