// A protected volume unmounted from under a running job (a failed disk, a mount lost at boot): its mount point reads
// as an empty directory of the file system below. The job must not take that for every file deleted: it holds
// replication of it (health error, `source_volume_changed`, an event), the target keeps its copy, through an agent
// restart too, and once the volume is back what changed on it meanwhile is replicated. Needs root to mount.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir, waitFor, startAgentProcess } from './support/processes';
import { snapshotTree, diffTrees } from './support/trees';
import { canMountLoop, loopVolume, unmount, type LoopVolume } from './support/mounts';

describe.skipIf(!canMountLoop)('a protected volume unmounted from under the job', () => {
  let c: Cluster;
  let volume: LoopVolume | undefined;
  let mounted: string | undefined;
  beforeAll(async () => { c = await startCluster(); });
  afterAll(async () => {
    await c?.stop();
    if (mounted) { try { unmount(mounted); } catch { /* not mounted */ } }
    volume?.detach();
  });

  it('holds replication of it and keeps the replica, then replicates what changed once it is back', async () => {
    // The volume: ext4 on a loop device, mounted at the protected path (it can go and come back as the same device).
    const src = await tempDir('src');
    volume = loopVolume(path.join(await tempDir('images'), 'volume.img'), 32);
    volume.mount(src);
    mounted = src;
    await fs.rm(path.join(src, 'lost+found'), { recursive: true });
    await fs.mkdir(path.join(src, 'sub', 'deeper'), { recursive: true });
    for (let i = 0; i < 5; i++) await fs.writeFile(path.join(src, `f${i}.txt`), `file ${i}`);
    await fs.writeFile(path.join(src, 'sub', 'deeper', 'g.txt'), 'deep');
    const dst = await tempDir('dst');
    const job = await c.api('POST', '/v1/jobs', filesJob('volume', src, dst, { orphans: { action: 'delete' } }));
    expect(job.status).toBe(201);
    const protecting = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
    await c.waitJob('protecting', job.body.id, protecting);
    const replica = await snapshotTree(dst, { dirMtimes: false });
    expect(diffTrees(await snapshotTree(src, { dirMtimes: false }), replica)).toEqual([]);

    unmount(src); // the disk is gone: src is now the empty directory below the mount
    expect(await fs.readdir(src)).toEqual([]);
    const held = await c.waitJob('volume change reported', job.body.id,
      (j) => j.warnings.some((w: any) => w.code === 'source_volume_changed'), 30_000);
    expect(held.health).toBe('error');
    expect(held.warnings.find((w: any) => w.code === 'source_volume_changed').message)
      .toContain(`The file system at ${src} is not the one protected there`);
    const events = async () => (await c.api('GET', `/v1/events?job=${job.body.id}`)).body.items.map((e: any) => e.type);
    await waitFor('replication.volume_changed raised', async () => (await events()).includes('replication.volume_changed'), 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(diffTrees(replica, await snapshotTree(dst, { dirMtimes: false }))).toEqual([]);

    // Mounted back: healthy again, nothing was lost on either side.
    volume!.mount(src);
    await c.waitJob('volume back', job.body.id, (j) => protecting(j) && j.health === 'healthy' && !j.warnings.length, 60_000);
    await waitFor('replication.volume_back raised', async () => (await events()).includes('replication.volume_back'), 10_000);

    // A reboot without the disk, its mount point removed too (as automounters do): the agent finds the protected
    // path gone. It was the top of another volume, which cannot be deleted while mounted: an unmount, not a deletion.
    await c.source.stop('SIGTERM');
    unmount(src);
    await fs.rmdir(src);
    c.source = await startAgentProcess({ name: 'alpha', dataDir: c.source.dataDir, port: c.source.dataPort });
    await c.waitJob('held after the restart', job.body.id,
      (j) => j.warnings.some((w: any) => w.code === 'source_volume_changed') && j.stats.reportedAt && Date.parse(j.stats.reportedAt) > Date.now() - 2000, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(diffTrees(replica, await snapshotTree(dst, { dirMtimes: false }))).toEqual([]);
    await fs.mkdir(src);

    // Changed on the volume while it was away (mounted elsewhere), then mounted back: replicated, healthy again.
    const elsewhere = await tempDir('elsewhere');
    volume.mount(elsewhere);
    await fs.writeFile(path.join(elsewhere, 'while-away.txt'), 'written elsewhere');
    await fs.rm(path.join(elsewhere, 'f0.txt'));
    unmount(elsewhere);
    volume.mount(src);
    await c.waitJob('volume back again', job.body.id, (j) => protecting(j) && j.health === 'healthy' && !j.warnings.length, 60_000);
    let diff: string[] = [];
    await waitFor('replica equal to the volume', async () => {
      diff = diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false }));
      return diff.length === 0;
    }, 30_000).catch((err) => { throw new Error(`${(err as Error).message}: ${diff.slice(0, 5).join(' | ')}`); });
    // Replication works on it again.
    await fs.writeFile(path.join(src, 'after.txt'), 'after');
    await waitFor('a later change replicated', () => fs.readFile(path.join(dst, 'after.txt'), 'utf8').then((t) => t === 'after', () => false), 20_000);
  });
});
