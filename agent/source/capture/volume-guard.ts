// Pure: finds the directories of the protected set whose file system changed under the same path. When a volume is
// unmounted (a disk failed, a mount was lost at boot) its mount point reads as an empty directory of the file system
// below: taken as it looks, every file on the volume was deleted, and replication would empty the replica, the one
// copy left. A directory the model has on one device and that now stands on another is held instead: nothing under
// it is planned until the original device is back there.
import { posix } from 'node:path';
import { isSameOrInside } from '../../../shared/paths';
import type { Observation } from './types';
import type { TreeIndex } from './tree-index';

export interface VolumeChange {
  /** The directory whose file system changed (a mount point). */
  path: string;
  /** The device the model has for it, and the one there now. */
  was: string;
  now: string;
  /**
   * The model's whole key of the directory (device, inode, birth time): only that same directory ends the hold. A
   * new disk given the old one's device number (the same slot) has another root directory, born when it was made.
   */
  wasKey: string;
}

/** The device part of an inode key (`dev:ino:btime`). */
export const deviceOf = (key: string): string => key.slice(0, key.indexOf(':'));

/** The device of the directory at `path` now, or null when no directory is there. */
export type DeviceOfDir = (path: string) => string | null;

/**
 * Directories observed on another device than the model has for the same path; for what is observed gone, the
 * nearest directory above it that is still there, if that one changed device (inotify reports an unmount as the
 * volume's directories going away, without a word on the mount point itself); and a directory gone that was on
 * another device than what is above it now: the top of a volume, which cannot be removed while mounted, so it was
 * unmounted (and its mount point removed, as automounters do); and another directory at the top of a volume on the
 * same device number (a new disk in the old one's slot).
 */
export function findVolumeChanges(observations: readonly Observation[], tree: Pick<TreeIndex, 'get'>, lookUp: DeviceOfDir): VolumeChange[] {
  // Each directory looked up once per batch.
  const devices = new Map<string, string | null>();
  const deviceOfDir = (d: string): string | null => {
    if (!devices.has(d)) devices.set(d, lookUp(d));
    return devices.get(d)!;
  };
  const found = new Map<string, VolumeChange>();
  const checked = new Set<string>();
  /** `path`, a directory of the model, is on device `now`: held when that is not the model's device. */
  const compare = (path: string, now: string) => {
    const old = tree.get(path);
    if (old?.kind === 'dir' && deviceOf(old.key) !== now) found.set(path, { path, was: deviceOf(old.key), now, wasKey: old.key });
  };
  /** The device of the nearest directory at or above `dir` that is there now (in the model or not), or null. */
  const deviceAbove = (dir: string): string | null => {
    for (let d = dir; ; d = posix.dirname(d)) {
      const now = deviceOfDir(d);
      if (now !== null || d === '/') return now;
    }
  };
  for (const o of observations) {
    const old = tree.get(o.path);
    if (o.now?.kind === 'dir' && old?.kind === 'dir' && old.key !== o.now.key) {
      const now = deviceOf(o.now.key);
      if (deviceOf(old.key) !== now) {
        found.set(o.path, { path: o.path, was: deviceOf(old.key), now, wasKey: old.key });
      } else if (o.path !== '/') {
        // The same device number but another directory, at the top of a volume (a device of its own, not its
        // parent's): another file system in the old one's slot (a new disk), never the protected one changed in place.
        const parent = deviceOfDir(posix.dirname(o.path));
        if (parent !== null && parent !== now) found.set(o.path, { path: o.path, was: now, now, wasKey: old.key });
      }
    }
    if (o.now !== null) continue;
    if (old?.kind === 'dir' && o.path !== '/') {
      const above = deviceAbove(posix.dirname(o.path));
      if (above !== null && above !== deviceOf(old.key)) found.set(o.path, { path: o.path, was: deviceOf(old.key), now: above, wasKey: old.key });
    }
    // Gone: up to the first directory of the model that is still there, once per directory and batch.
    for (let dir = posix.dirname(o.path); !checked.has(dir); dir = posix.dirname(dir)) {
      checked.add(dir);
      const now = tree.get(dir)?.kind === 'dir' ? deviceOfDir(dir) : null;
      if (now !== null) {
        compare(dir, now);
        break;
      }
      if (dir === '/') break;
    }
  }
  // Only the outermost: a directory held holds everything under it.
  const all = [...found.values()];
  return all.filter((v) => !all.some((o) => o !== v && isSameOrInside(o.path, v.path)));
}
