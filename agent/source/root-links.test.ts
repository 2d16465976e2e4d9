import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rootLinkMessage, rootsThatAreLinks } from './root-links';

let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tandem-root-links-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('rootsThatAreLinks', () => {
  it('names each protected root that is a symbolic link, with its target; real directories and missing paths are not', async () => {
    await mkdir(join(dir, 'real'));
    await symlink(join(dir, 'real'), join(dir, 'www'));
    const found = rootsThatAreLinks([join(dir, 'www'), join(dir, 'real'), join(dir, 'missing')]);
    expect(found).toEqual([{ root: join(dir, 'www'), target: join(dir, 'real') }]);
    expect(rootLinkMessage(found[0]!)).toContain(`protect ${join(dir, 'real')} (the link's target)`);
  });

  it('a link above the root is followed as any path is: not reported', async () => {
    await mkdir(join(dir, 'real', 'data'), { recursive: true });
    await symlink(join(dir, 'real'), join(dir, 'srv'));
    expect(rootsThatAreLinks([join(dir, 'srv', 'data')])).toEqual([]);
  });
});
