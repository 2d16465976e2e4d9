import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManifestRequest } from '../../shared/protocol/data-port';
import type { RuleInput } from '../../shared/rules';
import { answerBlockHashes, answerManifest } from './manifest';
import { ReplicaFs } from './replica-fs';
import { canMountTmpfs, mountTmpfs, unmount } from '../../test/support/mounts';

const SRC = '/srcroot';
let base: string;
let root: string;

beforeEach(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-manifest-'));
  root = path.join(base, 'replica');
  // On the target, beside what the source has (keep/a): a directory the source does not have, holding a file an
  // exclude rule protects (deep inside), one it does not, and a subdirectory with nothing protected.
  for (const f of ['keep/a', 'gone/deep/notes.keep', 'gone/deep/junk.txt', 'gone/plain/x.txt', 'gone/top.txt']) {
    await fs.mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await fs.writeFile(path.join(root, f), f);
  }
});
afterEach(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

const rules: RuleInput[] = [{ path: SRC, type: 'include', recursive: true }, { path: `${SRC}/*.keep`, type: 'exclude', recursive: true }];
const replicaFs = () => new ReplicaFs(rules, { mode: 'custom', entries: [{ source: SRC, target: root }] }, 'src');

const request = (orphans: ManifestRequest['orphans']): ManifestRequest => ({
  mirrorId: 'm1', purpose: 'mirror', mode: 'different', newerOnly: false, blockChecksum: false, orphans,
  entries: [], dirs: [{ path: SRC, names: ['keep'] }],
});

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('orphans inside a directory the source no longer has', () => {
  it('delete removes the orphan directory but keeps the files an exclude rule protects inside it', async () => {
    const res = await answerManifest(replicaFs(), request({ action: 'delete' }));
    expect(res.orphans.found).toBe(1);
    expect(await files(root)).toEqual(['gone/deep/notes.keep', 'keep/a']);
  });

  it('move relocates what is not protected and leaves the protected files where they are', async () => {
    const moveTo = path.join(base, 'moved');
    await answerManifest(replicaFs(), request({ action: 'move', moveTo }));
    expect(await files(root)).toEqual(['gone/deep/notes.keep', 'keep/a']);
    expect(await files(path.join(moveTo, SRC.slice(1)))).toEqual(['gone/deep/junk.txt', 'gone/plain/x.txt', 'gone/top.txt']);
  });

  it('without exclude rules the whole directory goes', async () => {
    const r = new ReplicaFs([{ path: SRC, type: 'include', recursive: true }], { mode: 'custom', entries: [{ source: SRC, target: root }] }, 'src');
    await answerManifest(r, request({ action: 'delete' }));
    expect(await files(root)).toEqual(['keep/a']);
    await expect(fs.access(path.join(root, 'gone'))).rejects.toThrow();
  });
});

describe('a file whose size and time match', () => {
  const entry = async (extra: Record<string, unknown> = {}) => {
    const st = await fs.stat(path.join(root, 'keep/a'));
    return { path: `${SRC}/keep/a`, type: 'file' as const, size: st.size, meta: { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs }, ...extra };
  };
  const ask = async (e: ManifestRequest['entries'][number]) =>
    (await answerManifest(replicaFs(), { ...request({ action: 'keep' }), blockChecksum: true, entries: [e], dirs: [] })).needs[0];

  it('is identical for a difference mirror, even with block checksums', async () => {
    expect(await ask(await entry())).toMatchObject({ action: 'skip', reason: 'identical' });
  });

  it('has its blocks compared when the source lost changes to it (checkContent)', async () => {
    expect(await ask(await entry({ checkContent: true }))).toMatchObject({ action: 'blocks' });
  });
});

describe('a large file needing a block comparison', () => {
  const file = `${SRC}/keep/a`;
  const ask = async (deferHashesFrom?: number) => {
    const st = await fs.stat(path.join(root, 'keep/a'));
    // Another size and time than the target's copy: its blocks are compared.
    const e = { path: file, type: 'file' as const, size: st.size + 10, meta: { mode: 0o644, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs - 5000 } };
    return (await answerManifest(replicaFs(), { ...request({ action: 'keep' }), blockChecksum: true, entries: [e], dirs: [], deferHashesFrom })).needs[0]!;
  };

  it('is answered without its digests when the source asks for that (deferHashesFrom), and they come on their own', async () => {
    const inline = await ask();
    expect(inline).toMatchObject({ action: 'blocks', blockSize: 4096, fileSize: 6, digests: expect.any(String) });
    expect(await ask(1_000_000)).toEqual(inline); // smaller than the threshold: inline as before
    const deferred = await ask(10);
    expect(deferred).toEqual({ action: 'blocks', reason: 'size_or_time', blockSize: 4096, fileSize: 6 });
    expect(await answerBlockHashes(replicaFs(), { path: file, blockSize: 4096 })).toEqual({ fileSize: 6, digests: (inline as { digests: string }).digests });
  });

  it('its digests are refused outside the replica, and nothing there reads as an empty file', async () => {
    await expect(answerBlockHashes(replicaFs(), { path: `${SRC}/../etc/passwd`, blockSize: 4096 })).rejects.toMatchObject({ code: 'path_escape' });
    await expect(answerBlockHashes(replicaFs(), { path: '/etc/passwd', blockSize: 4096 })).rejects.toMatchObject({ code: 'path_outside_set' });
    expect(await answerBlockHashes(replicaFs(), { path: `${SRC}/keep/none`, blockSize: 4096 })).toEqual({ fileSize: 0, digests: '' });
    expect(await answerBlockHashes(replicaFs(), { path: `${SRC}/keep`, blockSize: 4096 })).toEqual({ fileSize: 0, digests: '' });
  });
});

describe.skipIf(!canMountTmpfs)('orphans moved to a folder on another file system', () => {
  it('are copied there with their metadata and removed from the replica (a rename cannot cross file systems)', async () => {
    const moveTo = path.join(base, 'other-fs');
    await fs.mkdir(moveTo);
    expect(mountTmpfs(moveTo, 4)).toBe(true);
    try {
      await fs.chmod(path.join(root, 'gone', 'top.txt'), 0o640);
      await fs.utimes(path.join(root, 'gone', 'top.txt'), 1_500_000_000, 1_500_000_000);
      await fs.symlink('top.txt', path.join(root, 'gone', 'link'));
      const res = await answerManifest(replicaFs(), request({ action: 'move', moveTo }));
      expect(res.orphans.moved).toBe(1);
      expect(await files(root)).toEqual(['gone/deep/notes.keep', 'keep/a']);
      const moved = path.join(moveTo, SRC.slice(1));
      expect(await files(moved)).toEqual(['gone/deep/junk.txt', 'gone/plain/x.txt', 'gone/top.txt']);
      const st = await fs.stat(path.join(moved, 'gone', 'top.txt'));
      expect(st.mode & 0o777).toBe(0o640);
      expect(st.mtimeMs).toBe(1_500_000_000_000);
      expect(await fs.readlink(path.join(moved, 'gone', 'link'))).toBe('top.txt');
      expect(await fs.readFile(path.join(moved, 'gone', 'top.txt'), 'utf8')).toBe('gone/top.txt');
    } finally {
      unmount(moveTo);
    }
  });
});
