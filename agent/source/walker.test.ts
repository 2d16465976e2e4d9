import { link, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../../shared/protocol/ops';
import { walkProtectedSet } from './walker';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tandem-walker-'));
  dirs.push(root);
  for (const d of ['a', 'b', 'c']) await mkdir(join(root, d));
  await writeFile(join(root, 'a', 'first'), 'shared content');
  await writeFile(join(root, 'a', 'plain'), 'plain');
  await link(join(root, 'a', 'first'), join(root, 'b', 'second'));
  await link(join(root, 'a', 'first'), join(root, 'c', 'third'));
  await writeFile(join(root, 'c', 'solo'), 'solo');
  return root;
}

async function entries(root: string, after: string | null): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  for await (const item of walkProtectedSet([{ path: root, type: 'include', recursive: true }], { after })) {
    if (item.kind === 'entry') out.push(item.entry);
  }
  return out;
}

describe('walkProtectedSet', () => {
  it('walks depth first in name order and names the first name of a file with several', async () => {
    const root = await tree();
    const all = await entries(root, null);
    expect(all.map((e) => e.path.slice(root.length))).toEqual(['', '/a', '/a/first', '/a/plain', '/b', '/b/second', '/c', '/c/solo', '/c/third']);
    expect(all.find((e) => e.path.endsWith('second'))?.linkOf).toBe(join(root, 'a', 'first'));
    expect(all.find((e) => e.path.endsWith('third'))?.linkOf).toBe(join(root, 'a', 'first'));
  });

  it('resumed after a cursor, a later name of a file whose first name was sent before the cursor is still a link to it', async () => {
    const root = await tree();
    const resumed = await entries(root, join(root, 'a', 'plain'));
    expect(resumed.map((e) => e.path.slice(root.length))).toEqual(['/b', '/b/second', '/c', '/c/solo', '/c/third']);
    expect(resumed.find((e) => e.path.endsWith('second'))?.linkOf).toBe(join(root, 'a', 'first'));
    expect(resumed.find((e) => e.path.endsWith('third'))?.linkOf).toBe(join(root, 'a', 'first'));
  });

  it('resumed at a cursor that is itself a further name, a later name links to a name the target has', async () => {
    const root = await tree();
    const resumed = await entries(root, join(root, 'b', 'second'));
    expect(resumed.map((e) => e.path.slice(root.length))).toEqual(['/c', '/c/solo', '/c/third']);
    expect([join(root, 'a', 'first'), join(root, 'b', 'second')]).toContain(resumed.find((e) => e.path.endsWith('third'))?.linkOf);
  });

  it('tells of a name it listed that was gone when it came to it (moved behind the walk), and of nothing else', async () => {
    const root = await tree();
    const vanished: string[] = [];
    const seen: string[] = [];
    const rules = [{ path: root, type: 'include' as const, recursive: true }];
    for await (const item of walkProtectedSet(rules, { onVanished: (p) => vanished.push(p) })) {
      if (item.kind !== 'entry') continue;
      seen.push(item.entry.path.slice(root.length));
      // The root was listed with a, b and c; while the walk is in `a`, `c` moves into `a` (already listed there).
      if (item.entry.path === join(root, 'a', 'plain')) await rename(join(root, 'c'), join(root, 'a', 'c-moved'));
    }
    expect(vanished).toEqual([join(root, 'c')]);
    expect(seen).not.toContain('/c');
    expect(seen).not.toContain('/a/c-moved');
    const quiet: string[] = [];
    for await (const item of walkProtectedSet(rules, { onVanished: (p) => quiet.push(p) })) void item;
    expect(quiet).toEqual([]);
  });
});

describe('walkProtectedSet: a name that is not UTF-8', () => {
  it('is left out, not taken for a file that vanished (the change capture reports it)', async () => {
    const root = await tree();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(Buffer.concat([Buffer.from(`${root}/a/caf`), Buffer.from([0xe9])]), 'latin-1 name');
    const vanished: string[] = [];
    const seen: string[] = [];
    for await (const item of walkProtectedSet([{ path: root, type: 'include', recursive: true }], { onVanished: (p) => vanished.push(p) })) {
      if (item.kind === 'entry') seen.push(item.entry.path);
      else expect(item.names.some((n) => n.includes('\uFFFD'))).toBe(false);
    }
    expect(vanished).toEqual([]);
    expect(seen).toContain(join(root, 'a', 'plain'));
    expect(seen.some((p) => p.includes('\uFFFD'))).toBe(false);
  });
});

describe('walkProtectedSet: a path there but not readable', () => {
  it('is reported and still listed as present (the target must not take its copy for an orphan), and the walk goes on', async () => {
    const root = await tree();
    // A chain of directories deeper than PATH_MAX (4096 bytes): the last one cannot be looked at by its path.
    const { execFileSync } = await import('node:child_process');
    const seg = 'd'.repeat(200);
    execFileSync('bash', ['-c', `cd "$1" && for i in $(seq 1 21); do mkdir ${seg} && cd ${seg}; done`, 'bash', join(root, 'b')]);
    try {
      const unreadable: Array<{ path: string; code?: string }> = [];
      const vanished: string[] = [];
      const names = new Map<string, string[]>();
      const seen: string[] = [];
      const walk = walkProtectedSet([{ path: root, type: 'include', recursive: true }], {
        onVanished: (p) => vanished.push(p),
        onUnreadable: (p, err) => unreadable.push({ path: p, code: (err as NodeJS.ErrnoException).code }),
      });
      for await (const item of walk) {
        if (item.kind === 'entry') seen.push(item.entry.path);
        else names.set(item.path, item.names);
      }
      expect(vanished).toEqual([]);
      expect(unreadable).toHaveLength(1);
      expect(unreadable[0]!.code).toBe('ENAMETOOLONG');
      const parent = unreadable[0]!.path.slice(0, unreadable[0]!.path.lastIndexOf('/'));
      expect(names.get(parent)).toEqual([seg]);
      expect(seen).toContain(join(root, 'c', 'solo')); // what comes after it is still walked
    } finally {
      // Node's rm works by full paths, which this chain outgrows: rm -rf (by descriptors) clears it.
      execFileSync('rm', ['-rf', join(root, 'b', seg)]);
    }
  });
});

describe('walkProtectedSet: a directory that is another one by the time its listing is done', () => {
  it('gives no list of names for it (the target must not delete against it), and reports it gone', async () => {
    const root = await tree();
    const vanished: string[] = [];
    const done: string[] = [];
    for await (const item of walkProtectedSet([{ path: root, type: 'include', recursive: true }], { onVanished: (p) => vanished.push(p) })) {
      if (item.kind === 'entry' && item.entry.path === join(root, 'a', 'first')) {
        // As an unmount does to a mount point: another directory at the same path, holding nothing.
        await rename(join(root, 'a'), join(root, 'a-old'));
        await mkdir(join(root, 'a'));
      }
      if (item.kind === 'dirDone') done.push(item.path);
    }
    expect(done).not.toContain(join(root, 'a'));
    expect(done).toContain(join(root, 'c'));
    expect(vanished).toContain(join(root, 'a'));
  });
});
