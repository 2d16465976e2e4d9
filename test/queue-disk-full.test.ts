// The source's disk queue on a real, nearly full file system (a small tmpfs holding the source agent's data dir):
// the job auto-disconnects, waits while there is no room, and reconnects with a difference mirror once space returns.
// Mounting needs root (CAP_SYS_ADMIN); without it the file is skipped, and the unit tests of `roomToReconnect` remain.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir, waitFor, startAgentProcess } from './support/processes';
import { snapshotTree, diffTrees, randomData } from './support/trees';
import { canMountTmpfs, mountTmpfs, unmount } from './support/mounts';

const MiB = 1024 * 1024;

describe.skipIf(!canMountTmpfs)('disk queue on a full file system', () => {
  let c: Cluster;
  let mnt: string;
  beforeAll(async () => {
    c = await startCluster();
    mnt = await tempDir('queue-fs');
    expect(mountTmpfs(mnt, 48)).toBe(true);
    // The same source agent (identity, certificates), its data dir moved onto the small file system.
    const moved = path.join(mnt, 'agent');
    await c.source.stop('SIGTERM');
    await fs.cp(c.source.dataDir, moved, { recursive: true });
    c.source = await startAgentProcess({ name: 'alpha', dataDir: moved, port: c.source.dataPort });
  });
  afterAll(async () => {
    await c?.stop();
    if (mnt) unmount(mnt);
  });

  it('auto-disconnects when free space reaches the minimum, waits (no remirror loop) until space returns, then mirrors the difference', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'before.bin'), randomData(64 * 1024));
    // Every op spills to disk, which must keep 8 MB free: reconnecting needs 10 MB (the minimum plus a quarter).
    expect((await c.api('PATCH', '/v1/servers/alpha', { settings: { queue: { memoryMaxMB: 0, diskFreeMinMB: 8 } } })).status).toBe(200);
    const job = await c.api('POST', '/v1/jobs', filesJob('queue-fs', src, dst));
    expect(job.status).toBe(201);
    const protecting = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
    await c.waitJob('protecting, with the limits in force', job.body.id,
      (j) => protecting(j) && j.stats.replication?.limits?.memoryMaxBytes === 0 && j.stats.replication.limits.diskFreeMinBytes === 8 * MiB);

    // Something else fills the volume: 4 MB stay free, below the 8 MB minimum.
    const ballast = path.join(mnt, 'ballast');
    const { bavail, bsize } = statfsSync(mnt);
    await fs.writeFile(ballast, Buffer.alloc(bavail * bsize - 4 * MiB, 1));
    // The queue reads free space at most once a second (unless it nears the minimum by its own writes).
    await new Promise((r) => setTimeout(r, 1500));
    await fs.writeFile(path.join(src, 'during.bin'), randomData(256 * 1024));

    const waiting = await c.waitJob('waiting for free space', job.body.id,
      (j) => j.warnings.some((w: any) => w.code === 'queue_waiting_for_space'), 30_000);
    expect(waiting.warnings.find((w: any) => w.code === 'queue_waiting_for_space').message).toMatch(/waiting for free space.*queue\.diskFreeMinMB/);
    expect(waiting.activity).toMatch(/waiting for free space/);
    const events = (await c.api('GET', `/v1/events?job=${job.body.id}`)).body.items.map((e: any) => e.type);
    expect(events).toEqual(expect.arrayContaining(['queue.exhausted', 'queue.auto_disconnected', 'mirror.required']));

    // While there is no room nothing is remirrored (it would exhaust the queue again, in a loop).
    await new Promise((r) => setTimeout(r, 4000));
    const held = await c.job(job.body.id);
    expect(held.targetDataState, JSON.stringify({ ...held, stats: undefined, definition: undefined })).toBe('mirror_required');
    expect(held.stats.replication.autoDisconnects).toBe(1);
    expect(await fs.lstat(path.join(dst, 'during.bin')).then(() => true, () => false)).toBe(false);

    await fs.rm(ballast);
    await c.waitJob('automatic mirror done', job.body.id,
      (j) => protecting(j) && String(j.mirrorRequest?.id).startsWith('auto') && !j.warnings.some((w: any) => w.code === 'queue_waiting_for_space'), 60_000);
    let diff: string[] = [];
    await waitFor('target identical to source', async () => {
      diff = diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false }));
      return diff.length === 0;
    }, 20_000).catch((err) => { throw new Error(`${(err as Error).message}: ${diff.slice(0, 5).join(' | ')}`); });
    // Replication works again after the reconnect.
    await fs.writeFile(path.join(src, 'after.bin'), randomData(32 * 1024));
    await waitFor('a later change replicated', () => fs.lstat(path.join(dst, 'after.bin')).then(() => true, () => false), 20_000);
  });
});
