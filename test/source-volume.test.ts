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

describe.skipIf(!canMountLoop())('volumes unmounted from under a job', () => {
  let c: Cluster;
  const volumes: LoopVolume[] = [];
  const mountPoints: string[] = [];
  beforeAll(async () => { c = await startCluster(); });
  afterAll(async () => {
    await c?.stop();
    for (const m of mountPoints) { try { unmount(m); } catch { /* not mounted */ } }
    for (const v of volumes) v.detach();
  });
  /** An ext4 volume on a loop device, mounted at `at` (it can go and come back as the same device). */
  async function volumeAt(at: string): Promise<LoopVolume> {
    const v = loopVolume(path.join(await tempDir('images'), 'volume.img'), 32);
    volumes.push(v);
    mountPoints.push(at);
    v.mount(at);
    await fs.rm(path.join(at, 'lost+found'), { recursive: true });
    return v;
  }

  it('the source\'s: holds replication of it and keeps the replica, then replicates what changed once it is back', async () => {
    const src = await tempDir('src');
    const volume = await volumeAt(src);
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
    volume.mount(src);
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
    const kept = await snapshotTree(dst, { dirMtimes: false });

    // The disk dies and a new, empty one takes its slot (the same device number): mounted there, it is not the
    // protected volume coming back, and the replica, now the only copy of the data, is kept whole.
    unmount(src);
    await c.waitJob('held again', job.body.id, (j) => j.warnings.some((w: any) => w.code === 'source_volume_changed'), 30_000);
    volume.replaceDisk(path.join(await tempDir('images'), 'new-disk.img'));
    volume.mount(src);
    await fs.rm(path.join(src, 'lost+found'), { recursive: true });
    await new Promise((r) => setTimeout(r, 5000)); // two looks at it at least (every 2 s)
    const stillHeld = await c.job(job.body.id);
    expect(stillHeld.warnings.find((w: any) => w.code === 'source_volume_changed')?.message).toMatch(/If a new volume replaces it, its data is on the target/);
    expect(diffTrees(kept, await snapshotTree(dst, { dirMtimes: false }))).toEqual([]);
    // Also when the agent finds the new disk at its start (a reboot after the swap): the same device number, but not
    // the same file system.
    await c.source.stop('SIGTERM');
    c.source = await startAgentProcess({ name: 'alpha', dataDir: c.source.dataDir, port: c.source.dataPort });
    await c.waitJob('held after the restart with the new disk', job.body.id,
      (j) => j.warnings.some((w: any) => w.code === 'source_volume_changed') && j.stats.reportedAt && Date.parse(j.stats.reportedAt) > Date.now() - 2000, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(diffTrees(kept, await snapshotTree(dst, { dirMtimes: false }))).toEqual([]);
  });

  it('the target\'s: nothing is written on the disk below, the job says so, and it goes on once the volume is back', async () => {
    const src = await tempDir('src');
    await fs.writeFile(path.join(src, 'a.txt'), 'first');
    const dst = await tempDir('replica-disk');
    const volume = await volumeAt(dst);
    const root = path.join(dst, 'replica');
    const job = await c.api('POST', '/v1/jobs', filesJob('replica-volume', src, root));
    expect(job.status).toBe(201);
    const protecting = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
    await c.waitJob('protecting', job.body.id, protecting);

    unmount(dst); // the replica's disk is gone: dst is now a directory of the system disk
    await new Promise((r) => setTimeout(r, 500)); // past the target's last look at it (it looks at most every 100 ms)
    await fs.writeFile(path.join(src, 'b.txt'), 'written while the replica disk is away');
    const blocked = await c.waitJob('the target refuses to write', job.body.id,
      (j) => j.warnings.some((w: any) => w.message.includes('is not on the file system it was on')), 30_000);
    expect(blocked.health).toBe('error');
    expect(await fs.readdir(dst)).toEqual([]); // nothing landed on the disk below

    volume.mount(dst);
    await c.waitJob('going on once it is back', job.body.id, (j) => protecting(j) && j.health === 'healthy' && !j.warnings.length, 60_000);
    await waitFor('the change replicated onto the volume', () => fs.readFile(path.join(root, 'b.txt'), 'utf8').then((t) => t.startsWith('written'), () => false), 30_000);
    expect(diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(root, { dirMtimes: false }))).toEqual([]);
    await c.api('DELETE', `/v1/jobs/${job.body.id}`);
  });
});
