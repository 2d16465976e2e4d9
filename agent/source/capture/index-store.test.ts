// The persisted index: journal replay, torn tails and block hashes survive a reload.
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashBlocks } from '../../../shared/delta';
import { IndexStore } from './index-store';
import type { Observed } from './types';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const o = (key: string, kind: Observed['kind'], over: Partial<Observed> = {}): Observed => ({
  key, kind, size: 0, mtimeMs: 1.5, ctimeMs: 2.25, mode: 0o644, uid: 1, gid: 2, nlink: 1, ...over,
});

describe('IndexStore', () => {
  it('reloads the tree and hashes written as journal increments, ignoring a torn last line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-index-'));
    dirs.push(dir);
    const store = new IndexStore(dir);
    const { tree, found } = await store.load();
    expect(found).toBe(false);
    tree.add('/r', o('1:1', 'dir'));
    tree.add('/r/d', o('1:2', 'dir'));
    tree.add('/r/d/f', o('1:3', 'file', { size: 5000 }));
    tree.add('/r/l', o('1:4', 'symlink', { target: 'd/f' }));
    tree.setHashes('1:3', { ...hashBlocks(Buffer.alloc(5000, 1), 4096), hashedAtMs: 42 });
    await store.persist(tree, tree.takeChanges());
    tree.move('/r/d', '/r/e');
    tree.add('/r/e/g', o('1:3', 'file', { size: 5000, nlink: 2 })); // hard link
    tree.removeSubtree('/r/l');
    await store.persist(tree, tree.takeChanges());
    await appendFile(join(dir, 'tree.journal'), '{"p":"/r/torn","k":"1:9"'); // crash mid-write

    const again = await new IndexStore(dir).load();
    expect(again.found).toBe(true);
    expect([...again.tree.entries()].map(([p, n]) => [p, n.key, n.kind]).sort()).toEqual([
      ['/r', '1:1', 'dir'], ['/r/e', '1:2', 'dir'], ['/r/e/f', '1:3', 'file'], ['/r/e/g', '1:3', 'file'],
    ]);
    const f = again.tree.get('/r/e/f')!;
    expect(f.paths).toEqual(['/r/e/f', '/r/e/g']);
    expect(f.hashes).toEqual({ ...hashBlocks(Buffer.alloc(5000, 1), 4096), hashedAtMs: 42 });
    expect(f).toMatchObject({ mtimeMs: 1.5, ctimeMs: 2.25, uid: 1, gid: 2, nlink: 2 });
  });

  it('removes the hash file of a file that lost its block index, also one written before a reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-index-'));
    dirs.push(dir);
    const store = new IndexStore(dir);
    const { tree } = await store.load();
    tree.add('/r', o('1:1', 'dir'));
    tree.add('/r/a', o('1:3', 'file', { size: 10 }));
    tree.add('/r/b', o('1:4', 'file', { size: 10 }));
    tree.setHashes('1:3', { ...hashBlocks(Buffer.alloc(10, 1), 4096), hashedAtMs: 1 });
    tree.setHashes('1:4', { ...hashBlocks(Buffer.alloc(10, 2), 4096), hashedAtMs: 1 });
    await store.persist(tree, tree.takeChanges());
    expect((await readdir(join(dir, 'hashes'))).sort()).toEqual(['1-3', '1-4']);
    tree.setHashes('1:3', undefined);
    await store.persist(tree, tree.takeChanges());
    expect(await readdir(join(dir, 'hashes'))).toEqual(['1-4']);

    const reloaded = new IndexStore(dir);
    const again = await reloaded.load();
    again.tree.setHashes('1:4', undefined);
    await reloaded.persist(again.tree, again.tree.takeChanges());
    expect(await readdir(join(dir, 'hashes'))).toEqual([]);
  });
});
