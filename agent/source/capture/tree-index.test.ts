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
