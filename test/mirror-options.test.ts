// Mirror options end to end, with a real hub and agents on 127.0.0.1: newerOnly keeps newer target files.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir, waitFor } from './support/processes';
import { snapshotTree, diffTrees } from './support/trees';

let c: Cluster;
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => { await c?.stop(); });

const mirrored = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
const OLD = new Date('2021-03-04T05:06:07Z');
const NEW = new Date('2024-05-06T07:08:09Z');

async function write(root: string, rel: string, content: string, mtime?: Date) {
  await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fs.writeFile(path.join(root, rel), content);
  if (mtime) await fs.utimes(path.join(root, rel), mtime, mtime);
}

async function identical(src: string, dst: string) {
  let last: string[] = [];
  try {
    await waitFor('replica identical to the source', async () => {
      last = diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false }));
      return last.length === 0;
    }, 30_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; differences: ${last.slice(0, 10).join(' | ')}`);
  }
}

describe('mirror.newerOnly', () => {
  /** A source and a target that disagree both ways: one file is newer on the target, one newer on the source. */
  async function disagreeingPair() {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await write(src, 'target-newer.txt', 'source, older', OLD);
    await write(dst, 'target-newer.txt', 'target, edited later on the target', NEW);
    await write(src, 'source-newer.txt', 'source, edited later on the source', NEW);
    await write(dst, 'source-newer.txt', 'target, older', OLD);
    await write(src, 'sub/only-on-source.txt', 'new', OLD);
    return { src, dst };
  }

  it('a difference mirror with newerOnly keeps target files newer than the source\'s and sends those the source has newer', async () => {
    const { src, dst } = await disagreeingPair();
    const job = await c.api('POST', '/v1/jobs', filesJob('newer-only', src, dst, { mirror: { mode: 'different', newerOnly: true } }));
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    expect(job.body.spec.mirror.newerOnly).toBe(true);
    const done = await c.waitJob('mirror', job.body.id, mirrored);
    expect(await fs.readFile(path.join(dst, 'target-newer.txt'), 'utf8')).toBe('target, edited later on the target');
    expect((await fs.stat(path.join(dst, 'target-newer.txt'))).mtime.getTime()).toBe(NEW.getTime());
    expect(await fs.readFile(path.join(dst, 'source-newer.txt'), 'utf8')).toBe('source, edited later on the source');
    expect((await fs.stat(path.join(dst, 'source-newer.txt'))).mtime.getTime()).toBe(NEW.getTime());
    expect(await fs.readFile(path.join(dst, 'sub/only-on-source.txt'), 'utf8')).toBe('new');
    expect(done.stats.filesSkipped).toBeGreaterThanOrEqual(1);
  });

  it('without newerOnly the same mirror overwrites the newer target file (the option is what kept it)', async () => {
    const { src, dst } = await disagreeingPair();
    const job = await c.api('POST', '/v1/jobs', filesJob('newer-only-off', src, dst));
    expect(job.body.spec.mirror.newerOnly).toBe(false);
    await c.waitJob('mirror', job.body.id, mirrored);
    await identical(src, dst);
    expect(await fs.readFile(path.join(dst, 'target-newer.txt'), 'utf8')).toBe('source, older');
  });
});
