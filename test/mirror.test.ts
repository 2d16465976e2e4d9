// Files jobs and the mirror with a real hub and two agents on 127.0.0.1: exact copies, deltas, orphans, rules, resume.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir } from './support/processes';
import { snapshotTree, diffTrees, randomData } from './support/trees';

let c: Cluster;
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => { await c?.stop(); });

const mirrored = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';

async function buildRichTree(root: string) {
  await fs.mkdir(path.join(root, 'nested/deeper/deepest'), { recursive: true });
  await fs.mkdir(path.join(root, 'empty-dir'));
  await fs.writeFile(path.join(root, 'empty.txt'), '');
  await fs.writeFile(path.join(root, 'nested/deeper/deepest/leaf.txt'), 'leaf\n');
  await fs.writeFile(path.join(root, 'file with spaces.txt'), 'spaces');
  await fs.writeFile(path.join(root, 'naïve-日本語-файл.txt'), 'unicode ✓');
  await fs.writeFile(path.join(root, 'big.bin'), randomData(50 * 1024 * 1024));
  await fs.writeFile(path.join(root, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o750 });
  await fs.writeFile(path.join(root, 'secret.txt'), 'secret', { mode: 0o600 });
  await fs.symlink('nested/deeper/deepest/leaf.txt', path.join(root, 'link-inside'));
  await fs.symlink('/etc/hostname', path.join(root, 'link-outside'));
  await fs.writeFile(path.join(root, 'hard-a.txt'), 'hard link content');
  await fs.link(path.join(root, 'hard-a.txt'), path.join(root, 'nested/hard-b.txt'));
  const old = new Date('2020-01-02T03:04:05.678Z');
  await fs.utimes(path.join(root, 'secret.txt'), old, old);
  await fs.utimes(path.join(root, 'nested'), old, old);
}

describe('files job: mirror', () => {
  it('creates a job, mirrors a rich tree and ends byte-for-byte identical with metadata', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await buildRichTree(src);
    const created = await c.api('POST', '/v1/jobs', filesJob('rich', src, dst));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const job = await c.waitJob('mirror complete', created.body.id, mirrored);
    expect(job.health).toBe('healthy');
    expect(job.stats.filesTotal).toBeGreaterThanOrEqual(9);
    expect(job.stats.percentComplete).toBe(100);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
    const b = await fs.lstat(path.join(dst, 'nested/hard-b.txt'));
    const a = await fs.lstat(path.join(dst, 'hard-a.txt'));
    expect(b.ino).toBe(a.ino);
    expect(await fs.readlink(path.join(dst, 'link-outside'))).toBe('/etc/hostname');
  });

  it('a difference mirror after changing 1% of a large file sends about 1% of it', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const size = 64 * 1024 * 1024;
    await fs.writeFile(path.join(src, 'large.bin'), randomData(size));
    const created = await c.api('POST', '/v1/jobs', filesJob('delta', src, dst));
    await c.waitJob('first mirror', created.body.id, mirrored);
    // Change 1% of the blocks: 20 scattered 32 KiB regions of a 64 MiB file.
    const fh = await fs.open(path.join(src, 'large.bin'), 'r+');
    for (let i = 0; i < 20; i++) await fh.write(randomData(32 * 1024), 0, 32 * 1024, i * 3 * 1024 * 1024 + 4096);
    await fh.close();
    const remirror = await c.api('POST', `/v1/jobs/${created.body.id}/mirror`, { action: 'start', mode: 'different' });
    expect(remirror.status).toBe(200);
    const mirrorId = remirror.body.mirrorRequest.id;
    const job = await c.waitJob('difference mirror', created.body.id, (j) => mirrored(j) && j.spec && j.mirrorRequest.id === mirrorId && j.stats.mirrorCompletedAt && j.stats.bytesSkipped > 0);
    const changed = 20 * 32 * 1024;
    expect(job.stats.bytesSent).toBeGreaterThanOrEqual(changed);
    expect(job.stats.bytesSent).toBeLessThan(changed * 3);
    expect(diffTrees(await snapshotTree(src), await snapshotTree(dst))).toEqual([]);
  });
});
