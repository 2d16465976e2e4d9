// Whether a replica root can be snapshotted by btrfs (a subvolume root on btrfs), with the file-system probe
// injectable so the choice is testable on hosts without btrfs.
import { stat, statfs } from 'node:fs/promises';

/** statfs f_type of btrfs (linux/magic.h). */
export const BTRFS_SUPER_MAGIC = 0x9123683e;
/** Every btrfs subvolume's top directory has this inode number (BTRFS_FIRST_FREE_OBJECTID). */
export const BTRFS_SUBVOLUME_INO = 256;

export interface FsFacts {
  fsType: number;
  ino: number;
}

export interface BtrfsProbe {
  /** statfs type and inode of a directory. */
  facts(dir: string): Promise<FsFacts>;
}

export const hostProbe: BtrfsProbe = {
  async facts(dir) {
    const [fs, info] = await Promise.all([statfs(dir), stat(dir)]);
    return { fsType: Number(fs.type), ino: Number(info.ino) };
  },
};

export const isBtrfs = (f: FsFacts) => f.fsType === BTRFS_SUPER_MAGIC;
export const isBtrfsSubvolume = (f: FsFacts) => isBtrfs(f) && f.ino === BTRFS_SUBVOLUME_INO;

export type SnapshotMethod = 'btrfs' | 'copy';

/**
 * btrfs when the root is a subvolume and the snapshots directory is on btrfs too (a snapshot lives in the same
 * file system); otherwise a copy. The copy is `cp -a --reflink=auto`: shared extents where the file system
 * supports them (btrfs, XFS with reflink, bcachefs), else a full copy. A hard-link tree is never used: the applier
 * writes ranges in place, which would change the "snapshot" along with the replica.
 */
export function chooseSnapshotMethod(root: FsFacts, snapshotsDir: FsFacts): SnapshotMethod {
  return isBtrfsSubvolume(root) && isBtrfs(snapshotsDir) ? 'btrfs' : 'copy';
}
