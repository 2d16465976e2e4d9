import { describe, expect, it } from 'vitest';
import { TreeIndex, fileHashes } from './tree-index';
import type { Observed } from './types';

const obs = (key: string, kind: Observed['kind'], extra: Partial<Observed> = {}): Observed => ({
  key, kind, size: 0, mtimeMs: 1_700_000_000_000.5, ctimeMs: 1_700_000_000_000.5, mode: 0o644, uid: 0, gid: 0, nlink: 1, ...extra,
});

describe('TreeIndex nodes', () => {
  // A million-file index must not give each node its own V8 hidden class: every node has the same fields in the
  // same order whatever happened to it (hashes set and cleared, a symlink target set and dropped).
  it('have one shape whatever their history', () => {
    const t = new TreeIndex();
    t.add('/r/plain', obs('1:1', 'file'));
    t.add('/r/hashed', obs('1:2', 'file'));
    t.setHashes('1:2', fileHashes({ blockSize: 4096, fileSize: 5, digests: Buffer.alloc(16) }, 1));
    t.add('/r/unhashed', obs('1:3', 'file'));
    t.setHashes('1:3', fileHashes({ blockSize: 4096, fileSize: 5, digests: Buffer.alloc(16) }, 1));
    t.setHashes('1:3', undefined);
    t.add('/r/link', obs('1:4', 'symlink', { target: 'plain' }));
    t.setStat(obs('1:4', 'file'));
    const shapes = ['/r/plain', '/r/hashed', '/r/unhashed', '/r/link'].map((p) => Object.keys(t.get(p)!).join(','));
    expect(new Set(shapes).size).toBe(1);
    expect(t.get('/r/unhashed')!.hashes).toBeUndefined();
    expect(t.get('/r/link')!.target).toBeUndefined();
    expect(Object.keys(t.get('/r/hashed')!.hashes!)).toEqual(['blockSize', 'fileSize', 'digests', 'hashedAtMs']);
  });
});

describe('TreeIndex compact storage', () => {
  it('gives back a small block index exactly (kept packed) and a large one as set', () => {
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
    expect(t.get('/r/large')!.hashes).toBe(large);
    t.setHashes('1:1', undefined);
    expect([t.get('/r/small')!.hasHashes, t.get('/r/small')!.hashes]).toEqual([false, undefined]);
    // Digests that do not cover the file size exactly would not decode: such an index is kept as it is, not lost.
    const odd = fileHashes({ blockSize: 4096, fileSize: 100_000, digests: Buffer.alloc(32, 1) }, 9);
    t.setHashes('1:1', odd);
    expect(t.get('/r/small')!.hashes).toBe(odd);
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
});
