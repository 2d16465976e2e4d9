import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TreeIndex, fileHashes } from './tree-index';
import type { Observed } from './types';

const obs = (key: string, kind: Observed['kind'], extra: Partial<Observed> = {}): Observed => ({
  key, kind, size: 0, mtimeMs: 1_700_000_000_000.5, ctimeMs: 1_700_000_000_000.5, mode: 0o644, uid: 0, gid: 0, nlink: 1, ...extra,
});

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('TreeIndex model', () => {
  it('moves a subtree with every descendant and its parent links, and not its lookalike neighbours', () => {
    const t = new TreeIndex();
    t.add('/r', obs('1:1', 'dir'));
    t.add('/r/a', obs('1:2', 'dir'));
    t.add('/r/a/x', obs('1:3', 'file'));
    t.add('/r/a/sub', obs('1:4', 'dir'));
    t.add('/r/a/sub/y', obs('1:5', 'file'));
    t.add('/r/a-b', obs('1:6', 'file')); // sorts between /r/a and /r/a/ in bytes
    t.add('/r/a0', obs('1:7', 'file'));
    t.add('/r/ä', obs('1:8', 'dir'));
    t.add('/r/ä/😀', obs('1:9', 'file'));
    t.move('/r/a', '/r/😀b');
    expect(t.subtreePaths('/r/😀b')).toEqual(['/r/😀b', '/r/😀b/sub', '/r/😀b/sub/y', '/r/😀b/x']);
    expect(t.childPaths('/r/😀b/sub')).toEqual(['/r/😀b/sub/y']);
    expect(t.childPaths('/r').sort()).toEqual(['/r/a-b', '/r/a0', '/r/ä', '/r/😀b']);
    expect(t.dirPathOf('1:4')).toBe('/r/😀b/sub');
    // A multi-byte prefix: substr counts characters.
    t.move('/r/ä', '/r/e');
    expect(t.get('/r/e/😀')?.key).toBe('1:9');
    expect(t.childPaths('/r/e')).toEqual(['/r/e/😀']);
    expect(() => t.move('/r/e', '/r/e/inner')).toThrow(/into itself/);
    expect(() => t.move('/r/e', '/r/a0')).toThrow(/occupied/);
    expect(() => t.add('/r/a0', obs('1:10', 'file'))).toThrow(/already occupied/);
    expect(t.size).toBe(9);
  });

  it('removes a subtree, keeps an inode that still has a name outside it, and reports the directories that left', () => {
    const t = new TreeIndex();
    t.add('/r', obs('1:1', 'dir'));
    t.add('/r/d', obs('1:2', 'dir'));
    t.add('/r/d/e', obs('1:3', 'dir'));
    t.add('/r/d/e/f', obs('1:4', 'file', { nlink: 2 }));
    t.add('/r/g', obs('1:4', 'file', { nlink: 2 }));
    t.add('/r/dd', obs('1:5', 'file'));
    t.takeRemovedDirs();
    t.removeSubtree('/r/d');
    expect(t.takeRemovedDirs().sort()).toEqual(['1:2', '1:3']);
    expect(t.takeRemovedDirs()).toEqual([]);
    expect([...t.entries()].map(([p]) => p)).toEqual(['/r', '/r/dd', '/r/g']);
    expect(t.node('1:4')?.paths).toEqual(['/r/g']);
    expect(t.node('1:2')).toBeUndefined();
    expect(t.size).toBe(3);
    t.removeSubtree('/r/nothing');
    expect(t.size).toBe(3);
  });

  it('gives back block hashes as set, partial ones too, and forgets them with the inode', () => {
    const t = new TreeIndex();
    t.add('/r/small', obs('1:1', 'file'));
    t.add('/r/large', obs('1:2', 'file'));
    const small = fileHashes({ blockSize: 4096, fileSize: 10_000, digests: Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 37) % 256)) }, 1_700_000_000_123.25);
    const large = fileHashes({ blockSize: 65536, fileSize: 100 * 65536, digests: Buffer.alloc(100 * 16, 7) }, 5);
    expect(t.get('/r/small')!.hasHashes).toBe(false);
    t.setHashes('1:1', small);
    t.setHashes('1:2', large);
    expect(t.get('/r/small')!.hasHashes).toBe(true);
    expect(t.get('/r/small')!.hashes).toEqual(small);
    t.commit(); // from the cache into the database
    expect(t.get('/r/small')!.hashes).toEqual(small);
    expect(t.get('/r/large')!.hashes).toEqual(large);
    expect(t.countUnhashedFiles()).toBe(0);
    t.setHashes('1:1', undefined);
    expect([t.get('/r/small')!.hasHashes, t.get('/r/small')!.hashes]).toEqual([false, undefined]);
    expect(t.unhashedFiles('', 10)).toEqual(['1:1']);
    // Digests that do not cover the file size exactly (a growing file's partial index) are kept as they are.
    const odd = fileHashes({ blockSize: 4096, fileSize: 100_000, digests: Buffer.alloc(32, 1) }, 9);
    t.setHashes('1:1', odd);
    t.commit();
    expect(t.get('/r/small')!.hashes).toEqual(odd);
    // The inode goes, its hashes with it: the same key arriving again is a new file without an index.
    t.removeName('/r/large');
    t.add('/r/again', obs('1:2', 'file'));
    expect(t.get('/r/again')!.hashes).toBeUndefined();
    expect(t.unhashedFiles('', 10)).toEqual(['1:2']);
  });

  it('keeps every name of a hard-linked file as links come and go', () => {
    const t = new TreeIndex();
    t.add('/r/a', obs('1:9', 'file', { nlink: 3 }));
    t.add('/r/b', obs('1:9', 'file', { nlink: 3 }));
    t.add('/r/c', obs('1:9', 'file', { nlink: 3 }));
    expect(t.pathsOf('1:9')).toEqual(['/r/a', '/r/b', '/r/c']);
    t.removeName('/r/b');
    t.move('/r/c', '/r/d');
    expect(t.pathsOf('1:9')).toEqual(['/r/a', '/r/d']);
    t.removeName('/r/a');
    expect(t.get('/r/d')!.paths).toEqual(['/r/d']);
    t.removeName('/r/d');
    expect(t.node('1:9')).toBeUndefined();
  });

  it('reads its entries a page at a time, so the model can change while they are walked', () => {
    const t = new TreeIndex();
    for (let i = 0; i < 2500; i++) t.add(`/r/f${String(i).padStart(5, '0')}`, obs(`1:${i}`, 'file'));
    const seen: string[] = [];
    for (const [path] of t.entries()) {
      seen.push(path);
      if (path === '/r/f00010') t.removeSubtree('/r/f02000'); // ahead of the walk: not reached
    }
    expect(seen.length).toBe(2499);
    expect(seen).not.toContain('/r/f02000');
  });
});

describe('TreeIndex on disk', () => {
  it('carries on after SQLite rolled its transaction back by itself (a full disk): the model is the last commit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-tree-'));
    dirs.push(dir);
    const t = new TreeIndex(join(dir, 'tree.db'));
    t.add('/r', obs('1:1', 'dir'));
    t.commit();
    t.add('/r/lost', obs('1:2', 'file'));
    t.setHashes('1:2', fileHashes({ blockSize: 4096, fileSize: 0, digests: Buffer.alloc(0) }, 1));
    (t as unknown as { db: { exec(sql: string): void } }).db.exec('ROLLBACK'); // what SQLITE_FULL does
    t.commit();
    expect([t.size, t.has('/r/lost'), t.node('1:2')]).toEqual([1, false, undefined]);
    t.add('/r/next', obs('1:3', 'file'));
    t.close();
    const again = new TreeIndex(join(dir, 'tree.db'));
    expect([...again.entries()].map(([p]) => p)).toEqual(['/r', '/r/next']);
    again.close();
  });

  it('keeps what was committed, and only that, across a reopen (a crash loses uncommitted changes)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-tree-'));
    dirs.push(dir);
    const file = join(dir, 'tree.db');
    const t = new TreeIndex(file);
    t.add('/r', obs('1:1', 'dir'));
    t.add('/r/f', obs('1:2', 'file', { size: 5 }));
    t.setHashes('1:2', fileHashes({ blockSize: 4096, fileSize: 5, digests: Buffer.alloc(16, 3) }, 77));
    t.commit();
    t.add('/r/uncommitted', obs('1:3', 'file'));
    // A second connection sees the last commit, as a restarted agent would after a crash.
    const other = new TreeIndex(file);
    expect([...other.entries()].map(([p]) => p)).toEqual(['/r', '/r/f']);
    expect(other.get('/r/f')!.hashes).toEqual(fileHashes({ blockSize: 4096, fileSize: 5, digests: Buffer.alloc(16, 3) }, 77));
    expect(other.size).toBe(2);
    other.close();
    t.close();
    const again = new TreeIndex(file);
    expect(again.size).toBe(3);
    again.close();
  });
});
