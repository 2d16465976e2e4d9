import { chmod, mkdir, mkdtemp, open, readdir, readFile, readlink, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFakeBin, type FakeBin } from '../../failover/testing/fake-bin';
import { BTRFS_SUBVOLUME_INO, BTRFS_SUPER_MAGIC, chooseSnapshotMethod, type BtrfsProbe } from './btrfs';
import {
  deleteAllSnapshots, deleteSnapshot, INDEX_FILE, listSnapshots, readSnapshotIndex, revertToSnapshot, takeSnapshot,
} from './snapshot-store';

const EXT4 = 0xef53;

/** path → "file:<mode>:<content>" | "dir:<mode>" | "link:<target>", for byte-for-byte tree comparison. */
async function readTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      const info = await lstat(full);
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) out[rel] = `link:${await readlink(full)}`;
      else if (info.isDirectory()) { out[rel] = `dir:${mode}`; await walk(full); }
      else out[rel] = `file:${mode}:${await readFile(full, 'utf8')}`;
    }
  };
  await walk(root);
  return out;
}

let dir: string;
let root: string;
let snaps: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tandem-snap-'));
  root = path.join(dir, 'replica');
  snaps = path.join(dir, 'snapshots');
  await mkdir(path.join(root, 'docs', 'locked'), { recursive: true });
  await writeFile(path.join(root, 'docs', 'a.txt'), 'alpha');
  await writeFile(path.join(root, 'big.bin'), Buffer.alloc(10_000, 7));
  await writeFile(path.join(root, 'docs', 'locked', 'x'), 'x');
  await chmod(path.join(root, 'docs', 'locked'), 0o555);
  await symlink('docs/a.txt', path.join(root, 'link'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('chooseSnapshotMethod', () => {
  const subvol = { fsType: BTRFS_SUPER_MAGIC, ino: BTRFS_SUBVOLUME_INO };
  it('uses btrfs only for a subvolume root with the snapshots on btrfs', () => {
    expect(chooseSnapshotMethod(subvol, { fsType: BTRFS_SUPER_MAGIC, ino: 9000 })).toBe('btrfs');
    expect(chooseSnapshotMethod({ fsType: BTRFS_SUPER_MAGIC, ino: 300 }, subvol)).toBe('copy'); // a plain directory on btrfs
    expect(chooseSnapshotMethod(subvol, { fsType: EXT4, ino: 2 })).toBe('copy');
    expect(chooseSnapshotMethod({ fsType: EXT4, ino: BTRFS_SUBVOLUME_INO }, { fsType: EXT4, ino: 2 })).toBe('copy');
  });
});

describe('takeSnapshot (copy)', () => {
  it('copies the replica with modes and links, and records it in the index', async () => {
    const r = await takeSnapshot(root, snaps, 's1', { scheduled: true, now: () => 1_700_000_000_000 });
    expect(r).toMatchObject({ step: 'snapshot.take', ok: true });
    expect(r.detail).toContain('as a copy (cp --reflink=auto), 10006 bytes of files');
    expect(r.snapshot).toEqual({ id: 's1', takenAt: 1_700_000_000_000, method: 'copy', bytes: 10_006, scheduled: true, path: path.join(snaps, 's1') });
    expect(await readTree(path.join(snaps, 's1'))).toEqual(await readTree(root));
    expect((await stat(snaps)).mode & 0o777).toBe(0o700);
    expect((await readSnapshotIndex(snaps)).snapshots).toEqual([{ id: 's1', takenAt: 1_700_000_000_000, method: 'copy', bytes: 10_006, scheduled: true }]);
  });

  it('is a real point in time: changing a replica file in place does not change the snapshot', async () => {
    await takeSnapshot(root, snaps, 's1');
    // The applier writes ranges in place; a hard-link "snapshot" would see this change.
    const handle = await open(path.join(root, 'docs', 'a.txt'), 'r+');
    await handle.write('ALPHA', 0);
    await handle.close();
    expect(await readFile(path.join(snaps, 's1', 'docs', 'a.txt'), 'utf8')).toBe('alpha');
    expect((await stat(path.join(snaps, 's1', 'docs', 'a.txt'))).ino).not.toBe((await stat(path.join(root, 'docs', 'a.txt'))).ino);
  });

  it('refuses a duplicate or invalid id and a snapshots directory inside the replica', async () => {
    await takeSnapshot(root, snaps, 's1');
    expect((await takeSnapshot(root, snaps, 's1')).detail).toContain('already exists');
    expect((await takeSnapshot(root, snaps, '../evil')).ok).toBe(false);
    expect((await takeSnapshot(root, snaps, INDEX_FILE)).ok).toBe(false);
    const inside = await takeSnapshot(root, path.join(root, '.snaps'), 's2');
    expect(inside.ok).toBe(false);
    expect(inside.detail).toContain('inside the replica root');
  });

  it('fails clearly for a missing replica root', async () => {
    const r = await takeSnapshot(path.join(dir, 'nope'), snaps, 's1');
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('cannot be read');
  });

  it('reports a failed copy and leaves nothing half-made behind', async () => {
    const bin = await createFakeBin();
    try {
      await bin.add('cp', 'echo "cp: error writing: No space left on device" >&2; /bin/mkdir -p "$5"; exit 1');
      const r = await takeSnapshot(root, snaps, 's1', { runCommand: bin.runner() });
      expect(r.ok).toBe(false);
      expect(r.detail).toContain('No space left on device');
      expect(await readdir(snaps)).toEqual([]);
      expect(await listSnapshots(snaps)).toEqual([]);
    } finally {
      await bin.cleanup();
    }
  });
});

describe('takeSnapshot / deleteSnapshot (btrfs, with a fake btrfs command)', () => {
  let bin: FakeBin;
  const btrfsEverywhere: BtrfsProbe = { facts: async () => ({ fsType: BTRFS_SUPER_MAGIC, ino: BTRFS_SUBVOLUME_INO }) };
  beforeEach(async () => {
    bin = await createFakeBin();
    // "subvolume snapshot -r SRC DEST" / "subvolume delete PATH", done with cp/rm so the test runs on any file system.
    await bin.add('btrfs', [
      'if [ "$2" = snapshot ]; then /bin/cp -a "$4" "$5"; exit $?; fi',
      'if [ "$2" = delete ]; then /bin/rm -rf "$3"; exit $?; fi',
      'exit 1',
    ].join('\n'));
  });
  afterEach(() => bin.cleanup());

  it('uses a read-only btrfs snapshot for a subvolume root and btrfs subvolume delete to remove it', async () => {
    const r = await takeSnapshot(root, snaps, 's1', { probe: btrfsEverywhere, runCommand: bin.runner('/usr/bin:/bin') });
    expect(r.ok).toBe(true);
    expect(r.snapshot?.method).toBe('btrfs');
    expect(r.detail).toContain('read-only btrfs snapshot');
    const realRoot = await (await import('node:fs/promises')).realpath(root);
    expect(await bin.calls()).toEqual([`btrfs subvolume snapshot -r ${realRoot} ${path.join(snaps, 's1')}`]);

    const d = await deleteSnapshot(snaps, 's1', { probe: btrfsEverywhere, runCommand: bin.runner('/usr/bin:/bin') });
    expect(d.ok).toBe(true);
    expect((await bin.calls())[1]).toBe(`btrfs subvolume delete ${path.join(snaps, 's1')}`);
    expect(await listSnapshots(snaps)).toEqual([]);
  });

  it('falls back to a copy when btrfs-progs is missing, and says so', async () => {
    const noBtrfs = await createFakeBin();
    try {
      const r = await takeSnapshot(root, snaps, 's1', { probe: btrfsEverywhere, runCommand: noBtrfs.runner('/usr/bin:/bin') });
      expect(r.ok).toBe(true);
      expect(r.snapshot?.method).toBe('copy');
      expect(r.detail).toContain('btrfs-progs is not installed, so a copy was made');
      expect(await readTree(path.join(snaps, 's1'))).toEqual(await readTree(root));
    } finally {
      await noBtrfs.cleanup();
    }
  });

  it('reports a btrfs snapshot that cannot be deleted (non-root) and keeps it listed', async () => {
    await takeSnapshot(root, snaps, 's1', { probe: btrfsEverywhere, runCommand: bin.runner('/usr/bin:/bin') });
    await bin.add('btrfs', 'echo "ERROR: Could not destroy subvolume: Operation not permitted" >&2; exit 1');
    const d = await deleteSnapshot(snaps, 's1', { runCommand: bin.runner('/usr/bin:/bin') });
    expect(d.ok).toBe(false);
    expect(d.detail).toContain('needs root or the user_subvol_rm_allowed mount option');
    expect((await listSnapshots(snaps)).map((s) => s.id)).toEqual(['s1']);
  });
});

describe('listSnapshots / deleteSnapshot / deleteAllSnapshots', () => {
  it('lists oldest first and forgets snapshots whose directory vanished', async () => {
    await takeSnapshot(root, snaps, 'late', { now: () => 2000 });
    await takeSnapshot(root, snaps, 'early', { now: () => 1000 });
    expect((await listSnapshots(snaps)).map((s) => s.id)).toEqual(['early', 'late']);
    await rm(path.join(snaps, 'early'), { recursive: true, force: true });
    expect((await listSnapshots(snaps)).map((s) => s.id)).toEqual(['late']);
    expect(await listSnapshots(path.join(dir, 'never-used'))).toEqual([]);
  });

  it('deletes one snapshot, including read-only directories inside it', async () => {
    await takeSnapshot(root, snaps, 's1');
    await takeSnapshot(root, snaps, 's2');
    const d = await deleteSnapshot(snaps, 's1');
    expect(d).toMatchObject({ step: 'snapshot.delete', ok: true, detail: 'Deleted snapshot s1.' });
    expect((await listSnapshots(snaps)).map((s) => s.id)).toEqual(['s2']);
    expect(await readdir(snaps)).not.toContain('s1');
    const unknown = await deleteSnapshot(snaps, 'nope');
    expect(unknown.ok).toBe(false);
    expect(unknown.detail).toContain('There is no snapshot nope');
  });

  it('deleteAll removes every snapshot, leftovers of an interrupted copy, the index and the directory', async () => {
    await takeSnapshot(root, snaps, 's1');
    await takeSnapshot(root, snaps, 's2');
    await mkdir(path.join(snaps, '.partial-s3', 'sub'), { recursive: true });
    const r = await deleteAllSnapshots(snaps);
    expect(r).toMatchObject({ step: 'snapshot.deleteAll', ok: true, detail: 'Deleted 2 snapshot(s): s1, s2.' });
    await expect(stat(snaps)).rejects.toThrow();
    expect(await deleteAllSnapshots(snaps)).toMatchObject({ ok: true, skipped: true });
  });

  it('deleteAll still works when the index is corrupt', async () => {
    await takeSnapshot(root, snaps, 's1');
    await writeFile(path.join(snaps, INDEX_FILE), '{broken');
    await expect(listSnapshots(snaps)).rejects.toThrow(/snapshot index .* is unreadable/);
    expect((await deleteAllSnapshots(snaps)).ok).toBe(true);
    await expect(stat(snaps)).rejects.toThrow();
  });
});

describe('revertToSnapshot', () => {
  it('never goes through a replica root that is a symlink: what the link points to is neither copied nor emptied', async () => {
    const s = (await takeSnapshot(root, snaps, 's1')).snapshot!;
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(path.join(elsewhere, 'precious.txt'), 'keep me');
    // The source's protected path became a symlink, and so did the replica root.
    await rm(root, { recursive: true, force: true });
    await symlink(elsewhere, root);
    const revert = await revertToSnapshot(root, s);
    expect(revert).toMatchObject({ ok: false, detail: expect.stringContaining('is a symlink') });
    expect(await readdir(elsewhere)).toEqual(['precious.txt']);
    const take = await takeSnapshot(root, snaps, 's2');
    expect(take).toMatchObject({ ok: false, detail: expect.stringContaining('is a symlink') });
    expect((await listSnapshots(snaps)).map((x) => x.id)).toEqual(['s1']);
  });

  it('rolls the replica back to the snapshot exactly, keeping the root directory mode', async () => {
    const s = (await takeSnapshot(root, snaps, 's1')).snapshot!;
    const before = await readTree(root);
    await writeFile(path.join(root, 'docs', 'a.txt'), 'changed after failover');
    await writeFile(path.join(root, 'new.txt'), 'new');
    await rm(path.join(root, 'big.bin'));
    await chmod(root, 0o750);

    const r = await revertToSnapshot(root, s);
    expect(r).toMatchObject({ step: 'snapshot.revert', ok: true });
    expect(r.detail).toContain('snapshot_reverted');
    expect(await readTree(root)).toEqual(before);
    expect((await stat(root)).mode & 0o7777).toBe(0o750);
    // The snapshot itself is untouched and can be used again.
    expect(await readTree(s.path)).toEqual(before);
  });

  it('changes nothing when the snapshot is missing or the paths overlap', async () => {
    await writeFile(path.join(root, 'keep.txt'), 'k');
    const missing = await revertToSnapshot(root, { id: 'gone', path: path.join(snaps, 'gone') });
    expect(missing.ok).toBe(false);
    expect(missing.detail).toContain('nothing was changed');
    const nested = await revertToSnapshot(root, { id: 'docs', path: path.join(root, 'docs') });
    expect(nested.ok).toBe(false);
    expect(await readFile(path.join(root, 'keep.txt'), 'utf8')).toBe('k');
  });
});
