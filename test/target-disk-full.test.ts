// The target's replica on a real file system that fills up during the mirror (a small tmpfs): the job says so
// (health error, a warning naming the replica and what to do, a `mirror.blocked` event, progress that does not claim
// data the target lacks), keeps retrying, and once there is room goes on to an exact copy with nothing lost.
// Mounting needs root (CAP_SYS_ADMIN); without it the file is skipped.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir, waitFor } from './support/processes';
import { snapshotTree, diffTrees, randomData } from './support/trees';
import { canMountTmpfs, mountTmpfs, resizeTmpfs, unmount } from './support/mounts';

const MiB = 1024 * 1024;

describe.skipIf(!canMountTmpfs)('the target runs out of space during a mirror', () => {
  let c: Cluster;
  let mnt: string;
  beforeAll(async () => {
    c = await startCluster();
    mnt = await tempDir('replica-fs');
    expect(mountTmpfs(mnt, 8)).toBe(true);
  });
  afterAll(async () => {
    await c?.stop();
    if (mnt) unmount(mnt);
  });

  it('is reported as a blocked mirror naming the replica, retried, and ends exact once there is room', async () => {
    const src = await tempDir('src');
    for (let i = 0; i < 12; i++) await fs.writeFile(path.join(src, `f${String(i).padStart(2, '0')}.bin`), randomData(MiB));
    const dst = path.join(mnt, 'replica');
    const job = await c.api('POST', '/v1/jobs', filesJob('target-full', src, dst));
    expect(job.status).toBe(201);

    const blocked = await c.waitJob('mirror blocked on the full replica', job.body.id,
      (j) => j.warnings.some((w: any) => w.code === 'mirror_blocked'), 60_000);
    expect(blocked.health).toBe('error');
    const warning = blocked.warnings.find((w: any) => w.code === 'mirror_blocked');
    expect(warning.message).toContain('The mirror cannot go on (retrying): The target cannot write the replica: no space is left');
    expect(warning.message).toContain(`"${dst}"`);
    expect(warning.message).toMatch(/Free space there or grow the volume/);
    // A batch that failed is not counted as sent: the target holds less than the 12 MiB.
    expect(blocked.stats.bytesSent).toBeLessThan(12 * MiB);
    expect(blocked.stats.percentComplete).toBeLessThan(100);
    expect(blocked.targetDataState).toBe('mirroring');
    const events = async () => (await c.api('GET', `/v1/events?job=${job.body.id}`)).body.items.map((e: any) => e.type);
    await waitFor('mirror.blocked raised', async () => (await events()).includes('mirror.blocked'), 10_000);

    // Still blocked a few retries later, and never shown as more than what went through.
    await new Promise((r) => setTimeout(r, 3000));
    const later = await c.job(job.body.id);
    expect(later.warnings.some((w: any) => w.code === 'mirror_blocked')).toBe(true);
    expect(later.stats.bytesSent).toBeLessThan(12 * MiB);

    resizeTmpfs(mnt, 64);
    await c.waitJob('mirror done once there is room', job.body.id,
      (j) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok' && j.health === 'healthy', 90_000);
    expect(diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false }))).toEqual([]);
    await waitFor('mirror.unblocked raised', async () => (await events()).includes('mirror.unblocked'), 10_000);
    // Files a failed attempt did land are found identical by the next one (skipped): each counted once.
    const done = await c.job(job.body.id);
    expect(done.stats.filesSent + done.stats.filesSkipped).toBe(12);
    expect(done.stats.bytesSent + done.stats.bytesSkipped).toBe(12 * MiB);
    expect(done.stats.percentComplete).toBe(100);
  });
});
