// The persisted index: what counts as found, a baseline cut short, an unreadable file, and the import of the
// format earlier versions wrote.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashBlocks } from '../../../shared/delta';
import { HASH_HEADER_BYTES, HASH_MAGIC, fileHashes, type FileHashes } from './hash-codec';
import { IndexStore } from './index-store';
import type { Observed } from './types';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-index-'));
  dirs.push(dir);
  return dir;
}

/** A hash file as earlier versions wrote it: 'TBH1', blockSize u32, fileSize f64, hashedAtMs f64, digests. */
function oldHashFile(h: FileHashes): Buffer {
  const header = Buffer.alloc(HASH_HEADER_BYTES);
  header.write(HASH_MAGIC, 0, 'latin1');
  header.writeUInt32LE(h.blockSize, 4);
  header.writeDoubleLE(h.fileSize, 8);
  header.writeDoubleLE(h.hashedAtMs, 16);
  return Buffer.concat([header, h.digests]);
}

const o = (key: string, kind: Observed['kind'], over: Partial<Observed> = {}): Observed => ({
  key, kind, size: 0, mtimeMs: 1.5, ctimeMs: 2.25, mode: 0o644, uid: 1, gid: 2, nlink: 1, ...over,
});

describe('IndexStore', () => {
  it('finds an index only once a baseline was completely recorded in it', async () => {
    const dir = await tempDir();
    const store = new IndexStore(dir);
    const first = await store.load();
    expect(first.found).toBe(false);
    first.tree.add('/r', o('1:1', 'dir'));
    store.persist(first.tree); // a slice of a baseline, then the agent dies
    first.tree.close();

    const cut = await new IndexStore(dir).load();
    expect(cut.found).toBe(false);
    expect(cut.tree.size).toBe(0); // the partial baseline is not trusted
    cut.tree.add('/r', o('1:1', 'dir'));
    cut.tree.add('/r/f', o('1:2', 'file', { size: 5000 }));
    cut.tree.setHashes('1:2', fileHashes(hashBlocks(Buffer.alloc(5000, 1), 4096), 42));
    store.markComplete(cut.tree);
    cut.tree.move('/r/f', '/r/g');
    store.persist(cut.tree);
    cut.tree.add('/r/after', o('1:3', 'file'));
    cut.tree.close();

    const again = await new IndexStore(dir).load();
    expect(again.found).toBe(true);
    expect([...again.tree.entries()].map(([p, n]) => [p, n.key])).toEqual([['/r', '1:1'], ['/r/after', '1:3'], ['/r/g', '1:2']]);
    expect(again.tree.get('/r/g')!.hashes).toEqual(fileHashes(hashBlocks(Buffer.alloc(5000, 1), 4096), 42));
    again.tree.close();

    const fresh = await new IndexStore(dir).load({ fresh: true });
    expect([fresh.found, fresh.tree.size]).toEqual([false, 0]);
    fresh.tree.close();
  });

  it('rebuilds an index it cannot read and says so', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'tree.db'), 'this is not a database, it was overwritten'.repeat(200));
    const loaded = await new IndexStore(dir).load();
    expect(loaded.found).toBe(false);
    expect(loaded.unreadable).toMatch(/not a database/);
    loaded.tree.add('/r', o('1:1', 'dir'));
    expect(loaded.tree.size).toBe(1);
    loaded.tree.close();
  });

  it('imports the index an earlier version wrote (snapshot, journal with a torn tail, hash files) and removes it', async () => {
    const dir = await tempDir();
    const small = fileHashes(hashBlocks(Buffer.alloc(5000, 3), 4096), 9);
    const large = fileHashes(hashBlocks(Buffer.alloc(40 * 4096, 4), 4096), 10);
    await mkdir(join(dir, 'hashes'), { recursive: true });
    await writeFile(join(dir, 'hashes', '1-4'), oldHashFile(large));
    const line = (l: object) => JSON.stringify(l) + '\n';
    await writeFile(join(dir, 'tree.snapshot'), [
      line({ v: 1, format: 'tandem-capture-index' }),
      line({ p: '/r', k: '1:1', t: 'dir', s: 0, m: 1, c: 1, o: 0o755, u: 0, g: 0, n: 2 }),
      line({ p: '/r/d', k: '1:2', t: 'dir', s: 0, m: 1, c: 1, o: 0o755, u: 0, g: 0, n: 2 }),
      line({ p: '/r/d/s', k: '1:3', t: 'file', s: 5000, m: 1.5, c: 2.25, o: 0o644, u: 1, g: 2, n: 1, h: [4096, 5000, 9, small.digests.toString('base64')] }),
      line({ p: '/r/big', k: '1:4', t: 'file', s: 40 * 4096, m: 1, c: 1, o: 0o644, u: 0, g: 0, n: 1 }),
      line({ p: '/r/l', k: '1:5', t: 'symlink', s: 3, m: 1, c: 1, o: 0o777, u: 0, g: 0, n: 1, l: 'd/s' }),
    ].join(''));
    await writeFile(join(dir, 'tree.journal'), [
      line({ p: '/r/l', x: true }),
      line({ p: '/r/d/t', k: '1:3', t: 'file', s: 5000, m: 1.5, c: 3, o: 0o644, u: 1, g: 2, n: 2, h: [4096, 5000, 9, small.digests.toString('base64')] }),
      '{"p":"/r/torn","k":"1:9"', // crash mid-write
    ].join(''));

    const store = new IndexStore(dir);
    const { tree, found } = await store.load();
    expect(found).toBe(true);
    expect([...tree.entries()].map(([p, n]) => [p, n.key, n.kind])).toEqual([
      ['/r', '1:1', 'dir'], ['/r/big', '1:4', 'file'], ['/r/d', '1:2', 'dir'], ['/r/d/s', '1:3', 'file'], ['/r/d/t', '1:3', 'file'],
    ]);
    expect(tree.get('/r/d/s')).toMatchObject({ paths: ['/r/d/s', '/r/d/t'], nlink: 2, ctimeMs: 3, uid: 1, gid: 2 });
    expect(tree.get('/r/d/s')!.hashes).toEqual(small);
    expect(tree.get('/r/big')!.hashes).toEqual(large);
    expect((await readdir(dir)).filter((n) => !n.startsWith('tree.db'))).toEqual([]);
    tree.close();
    const reopened = await new IndexStore(dir).load();
    expect(reopened.found).toBe(true); // from the database now
    reopened.tree.close();
  });
});
