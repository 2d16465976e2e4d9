import { describe, it, expect, afterEach } from 'vitest';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { observePath } from './observe';

const dirs: string[] = [];
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }); });

describe('observePath keys', () => {
  it('a file or directory given the inode number of one just removed has another key (the birth time differs)', async () => {
    const base = await mkdtemp(join(tmpdir(), 'tandem-observe-'));
    dirs.push(base);
    let reused = 0;
    for (let i = 0; i < 20; i++) {
      await writeFile(join(base, 'a'), 'a');
      await mkdir(join(base, 'd'));
      const file = (await observePath(join(base, 'a')))!;
      const dir = (await observePath(join(base, 'd')))!;
      await unlink(join(base, 'a'));
      await rm(join(base, 'd'), { recursive: true });
      await writeFile(join(base, 'b'), 'b');
      await mkdir(join(base, 'e'));
      const newFile = (await observePath(join(base, 'b')))!;
      const newDir = (await observePath(join(base, 'e')))!;
      const ino = (key: string) => key.split(':').slice(0, 2).join(':');
      if (ino(newFile.key) === ino(file.key) || ino(newDir.key) === ino(dir.key)) reused++;
      expect(newFile.key).not.toBe(file.key);
      expect(newDir.key).not.toBe(dir.key);
      await unlink(join(base, 'b'));
      await rm(join(base, 'e'), { recursive: true });
    }
    // Where the file system reuses numbers at once (ext4), the birth time is what told them apart.
    if (reused === 0) console.warn('no inode number was reused here: the keys differed anyway');
  });

  it('keeps a key across a rename and for every name of a hard link', async () => {
    const base = await mkdtemp(join(tmpdir(), 'tandem-observe-'));
    dirs.push(base);
    await writeFile(join(base, 'x'), 'x');
    const before = (await observePath(join(base, 'x')))!.key;
    const { rename, link } = await import('node:fs/promises');
    await rename(join(base, 'x'), join(base, 'y'));
    await link(join(base, 'y'), join(base, 'z'));
    expect((await observePath(join(base, 'y')))!.key).toBe(before);
    expect((await observePath(join(base, 'z')))!.key).toBe(before);
  });
});
