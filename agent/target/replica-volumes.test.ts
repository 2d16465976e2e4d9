import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceAt, ReplicaVolumes } from './replica-volumes';
import { canMountTmpfs, mountTmpfs, unmount } from '../../test/support/mounts';

let base: string;
beforeEach(async () => { base = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-replica-volumes-')); });
afterEach(async () => { await fs.rm(base, { recursive: true, force: true }); });

describe('deviceAt', () => {
  it('is the device of the directory, or of the nearest one above it that exists', async () => {
    const dev = String((await fs.stat(base)).dev);
    expect(deviceAt(base)).toBe(dev);
    expect(deviceAt(path.join(base, 'not', 'made', 'yet'))).toBe(dev);
  });
});

describe.skipIf(!canMountTmpfs)('ReplicaVolumes', () => {
  it('records the file system at the first check, refuses another one later (also after a restart), until forgotten', async () => {
    const mnt = path.join(base, 'mnt');
    await fs.mkdir(mnt);
    expect(mountTmpfs(mnt, 1)).toBe(true);
    const root = path.join(mnt, 'replica');
    let t = 0;
    const file = path.join(base, 'replica-volumes.json');
    const v = new ReplicaVolumes(file, () => t);
    try {
      await v.check(root); // recorded: the tmpfs
      unmount(mnt); // the replica's volume is gone: the mount point is a directory of the disk below
      await v.check(root); // within the second it was found fine, not looked at again
      t += 2000;
      await expect(v.check(root)).rejects.toMatchObject({ code: 'replica_volume_changed', status: 503, message: expect.stringContaining(`The replica root ${root} is not on the file system it was on`) });
      // An agent restarted without the volume still refuses: the record is on disk.
      await expect(new ReplicaVolumes(file, () => t).check(root)).rejects.toMatchObject({ code: 'replica_volume_changed' });
      // Stopped and started: the replica may live on this file system now.
      await v.forget();
      await v.check(root);
      await new ReplicaVolumes(file, () => t).check(root);
    } finally {
      try { unmount(mnt); } catch { /* already */ }
    }
  });
});

describe('ReplicaVolumes, checks at once', () => {
  it('records every root when many are checked together (operations are applied concurrently)', async () => {
    const file = path.join(base, 'state', 'replica-volumes.json');
    const v = new ReplicaVolumes(file);
    const roots = Array.from({ length: 20 }, (_, i) => path.join(base, `root-${i}`));
    await Promise.all(roots.map((r) => v.check(r)));
    const recorded = JSON.parse(await fs.readFile(file, 'utf8')).devices;
    expect(Object.keys(recorded).sort()).toEqual([...roots].sort());
  });
});
