// The persisted index: journal replay, torn tails and block hashes survive a reload.
import { appendFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
    const big = 40 * 4096; // 40 blocks: too many digests to keep inline
    tree.add('/r', o('1:1', 'dir'));
    tree.add('/r/a', o('1:3', 'file', { size: big }));
    tree.add('/r/b', o('1:4', 'file', { size: big }));
    tree.setHashes('1:3', { ...hashBlocks(Buffer.alloc(big, 1), 4096), hashedAtMs: 1 });
    tree.setHashes('1:4', { ...hashBlocks(Buffer.alloc(big, 2), 4096), hashedAtMs: 1 });
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

  it('reads an index written before hashes went inline (a hash file for every file)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-index-'));
    dirs.push(dir);
    const h = { ...hashBlocks(Buffer.alloc(5000, 3), 4096), hashedAtMs: 9 };
    // The on-disk format of that version: NDJSON lines without "h", and hashes/<dev>-<ino> = 'TBH1', blockSize u32,
    // fileSize f64, hashedAtMs f64, digests.
    const header = Buffer.alloc(24);
    header.write('TBH1', 0, 'latin1');
    header.writeUInt32LE(h.blockSize, 4);
    header.writeDoubleLE(h.fileSize, 8);
    header.writeDoubleLE(h.hashedAtMs, 16);
    await mkdir(join(dir, 'hashes'), { recursive: true });
    await writeFile(join(dir, 'hashes', '1-3'), Buffer.concat([header, h.digests]));
    await writeFile(join(dir, 'tree.journal'), [
      { p: '/r', k: '1:1', t: 'dir', s: 0, m: 1, c: 1, o: 0o755, u: 0, g: 0, n: 2 },
      { p: '/r/s', k: '1:3', t: 'file', s: 5000, m: 1.5, c: 2.25, o: 0o644, u: 1, g: 2, n: 1 },
    ].map((l) => JSON.stringify(l) + '\n').join(''));
    const store = new IndexStore(dir);
    const { tree, found } = await store.load();
    expect(found).toBe(true);
    expect(tree.get('/r/s')!.hashes).toEqual(h);
    // The next change of its hashes moves them inline and removes the old file.
    tree.setHashes('1:3', { ...h, hashedAtMs: 10 });
    await store.persist(tree, tree.takeChanges());
    expect(await readdir(join(dir, 'hashes'))).toEqual([]);
    expect((await new IndexStore(dir).load()).tree.get('/r/s')!.hashes).toEqual({ ...h, hashedAtMs: 10 });
  });

  it('keeps a small file\'s hashes in its index line, not in a hash file, and follows it between the two', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-index-'));
    dirs.push(dir);
    const store = new IndexStore(dir);
    const { tree } = await store.load();
    const small = { ...hashBlocks(Buffer.alloc(5000, 1), 4096), hashedAtMs: 7 };
    const large = { ...hashBlocks(Buffer.alloc(40 * 4096, 2), 4096), hashedAtMs: 8 };
    tree.add('/r', o('1:1', 'dir'));
    tree.add('/r/s', o('1:3', 'file', { size: 5000 }));
    tree.add('/r/t', o('1:5', 'file', { size: 5000 }));
    tree.setHashes('1:3', small);
    tree.setHashes('1:5', small);
    await store.persist(tree, tree.takeChanges());
    expect(await readdir(join(dir, 'hashes'))).toEqual([]);
    let again = (await new IndexStore(dir).load()).tree;
    expect(again.get('/r/s')!.hashes).toEqual(small);

    // Grows past the inline limit: a hash file; shrinks again: inline, and the hash file goes.
    tree.setStat(o('1:3', 'file', { size: 40 * 4096 }));
    tree.setHashes('1:3', large);
    tree.setHashes('1:5', undefined);
    await store.persist(tree, tree.takeChanges());
    expect(await readdir(join(dir, 'hashes'))).toEqual(['1-3']);
    again = (await new IndexStore(dir).load()).tree;
    expect(again.get('/r/s')!.hashes).toEqual(large);
    expect(again.get('/r/t')!.hashes).toBeUndefined();

    const store2 = new IndexStore(dir);
    const t2 = (await store2.load()).tree;
    t2.setStat(o('1:3', 'file', { size: 5000 }));
    t2.setHashes('1:3', small);
    await store2.persist(t2, t2.takeChanges());
    expect(await readdir(join(dir, 'hashes'))).toEqual([]);
    expect((await new IndexStore(dir).load()).tree.get('/r/s')!.hashes).toEqual(small);
  });
});
