// Failover, restore and failback with a real hub and two agents on 127.0.0.1: the hub decides, the target takes over,
// the old source is fenced, data goes back, roles return; and the cases that must NOT fail over.
import { describe, it, expect, beforeAll, afterAll, afterEach, vi } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { tempDir, waitFor, startHubProcess } from './support/processes';
import { snapshotTree, diffTrees } from './support/trees';

let c: Cluster;
vi.setConfig({ testTimeout: 180_000 });
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => { await c?.stop(); });
// A test that fails after killing an agent must not fail the ones after it for want of that agent.
afterEach(async () => { await c?.ensureRunning(); });

const WINDOW = 4;
const monitor = { mode: 'time', failoverTimeSec: WINDOW, intervalSec: 1, method: 'service' };
const protecting = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';

async function identical(src: string, dst: string) {
  let last: string[] = [];
  await waitFor('trees identical', async () => {
    last = diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false }));
    return last.length === 0;
  }, 30_000).catch((err) => { throw new Error(`${err.message}: ${last.slice(0, 8).join(' | ')}`); });
}

async function markerScript(dir: string, name: string): Promise<{ path: string; marker: string }> {
  const marker = path.join(dir, `${name}.marker`);
  const file = path.join(dir, `${name}.sh`);
  await fs.writeFile(file, `#!/bin/sh\necho "$TANDEM_PHASE $*" >> ${marker}\n`, { mode: 0o755 });
  return { path: file, marker };
}

async function eventTypes(jobId: string): Promise<string[]> {
  const r = await c.api('GET', `/v1/events?job=${jobId}&limit=500`);
  return r.body.items.map((e: any) => e.type);
}

describe('failover, restore, failback', () => {
  it('kill the source → condition met within the window → manual failover with scripts → old source fenced → restore → failback → protection resumes', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const scripts = await tempDir('scripts');
    await fs.chmod(src, 0o775);
    await fs.writeFile(path.join(src, 'data.txt'), 'production data');
    const pre = await markerScript(scripts, 'pre');
    const post = await markerScript(scripts, 'post');
    const postBack = await markerScript(scripts, 'post-failback');
    const created = await c.api('POST', '/v1/jobs', filesJob('failover', src, dst, {
      failoverMonitor: monitor,
      failover: { waitForUser: true, scripts: {
        preFailover: { path: pre.path, args: ['one', 'two words'] }, postFailover: { path: post.path, args: ['done'] },
        postFailback: { path: postBack.path, args: ['back'], runOn: 'source' },
      } },
    }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    await c.waitJob('protecting', id, protecting);
    // The replica is read-only to users while protected (target paths blocked).
    await waitFor('target root blocked', async () => ((await fs.stat(dst)).mode & 0o022) === 0);

    const killedAt = Date.now();
    await c.source.stop('SIGKILL');
    const met = await c.waitJob('failover condition met', id, (j) => j.state === 'failover_condition_met', 30_000);
    const detection = Date.now() - killedAt;
    expect(detection).toBeGreaterThanOrEqual((WINDOW - 1) * 1000);
    expect(detection).toBeLessThan((WINDOW + 6) * 1000);
    expect(met.activity).toBe('Failover Condition Met');
    expect(await eventTypes(id)).toContain('job.failover_condition_met');

    const fo = await c.api('POST', `/v1/jobs/${id}/failover`, { queueAction: 'apply' });
    expect(fo.status, JSON.stringify(fo.body)).toBe(202);
    const failedOver = await c.waitJob('failed over', id, (j) => j.state === 'failed_over', 30_000);
    expect(failedOver.epoch).toBe(2);
    expect(failedOver.failover.progress.status).toBe('done');
    expect(failedOver.failover.progress.steps.map((s: any) => s.step)).toEqual(['queue.apply', 'script.preFailover', 'paths.unblock', 'services.start', 'script.postFailover']);
    expect(await fs.readFile(pre.marker, 'utf8')).toBe('preFailover one two words\n');
    expect(await fs.readFile(post.marker, 'utf8')).toBe('postFailover done\n');
    expect((await fs.stat(dst)).mode & 0o777).toBe(0o775);
    await fs.writeFile(path.join(dst, 'written-on-target.txt'), 'the target served users during the failover');
    expect(await eventTypes(id)).toEqual(expect.arrayContaining(['failover.started', 'failover.completed']));

    // The old source comes back: it learns the job failed over, is fenced, and writes nothing to the target.
    await c.restartSource('SIGKILL');
    await c.waitJob('source reports fenced', id, (j) => !!j.failover.fenced, 30_000);
    await fs.writeFile(path.join(src, 'written-on-old-source.txt'), 'must not reach the target');
    await new Promise((r) => setTimeout(r, 2500));
    await expect(fs.access(path.join(dst, 'written-on-old-source.txt'))).rejects.toThrow();

    // Restore (target → source), then failback.
    const rs = await c.api('POST', `/v1/jobs/${id}/restore`, { restoreData: true });
    expect(rs.status, JSON.stringify(rs.body)).toBe(202);
    await c.waitJob('restored', id, (j) => j.state === 'restored', 60_000);
    expect(await fs.readFile(path.join(src, 'written-on-target.txt'), 'utf8')).toBe('the target served users during the failover');
    const fb = await c.api('POST', `/v1/jobs/${id}/failback`, {});
    expect(fb.status, JSON.stringify(fb.body)).toBe(202);
    const back = await c.waitJob('failed back', id, (j) => j.state === 'mirror_required', 30_000);
    expect(back.failover.progress).toMatchObject({ kind: 'failback', status: 'done' });
    expect(back.epoch).toBe(4);
    // The post-failback script set to run on the source ran there, once.
    await waitFor('post-failback script on the source', async () => (await fs.readFile(postBack.marker, 'utf8').catch(() => '')) === 'postFailback back\n');

    // Stop + start re-protects with the new epoch.
    expect((await c.api('POST', `/v1/jobs/${id}/stop`)).status).toBe(200);
    expect((await c.api('POST', `/v1/jobs/${id}/start`)).status).toBe(200);
    const again = await c.waitJob('protecting again', id, protecting, 60_000);
    expect(again.epoch).toBe(4);
    await identical(src, dst);
    await fs.writeFile(path.join(src, 'after-failback.txt'), 'replicating again');
    await waitFor('replication resumed', async () => (await fs.readFile(path.join(dst, 'after-failback.txt'), 'utf8').catch(() => '')) === 'replicating again');
    expect((await c.api('DELETE', `/v1/jobs/${id}`)).status).toBe(200);
  });

  it('automatic failover with waitForUser false', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const created = await c.api('POST', '/v1/jobs', filesJob('auto', src, dst, { failoverMonitor: monitor, failover: { waitForUser: false } }));
    const id = created.body.id;
    await c.waitJob('protecting', id, protecting);
    await c.source.stop('SIGKILL');
    const j = await c.waitJob('failed over automatically', id, (x) => x.state === 'failed_over', 40_000);
    expect(j.failover.order.automatic).toBe(true);
    await c.restartSource('SIGKILL');
    expect((await c.api('POST', `/v1/jobs/${id}/failback`, {})).status).toBe(202);
    await c.waitJob('restore required', id, (x) => x.state === 'restore_required', 30_000);
    expect((await c.api('DELETE', `/v1/jobs/${id}`)).status).toBe(200);
  });

  it('failback then restore, choosing "do not restore data": mirror required, then stop + start re-protects', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'f.txt'), 'f');
    const created = await c.api('POST', '/v1/jobs', filesJob('fb-first', src, dst, { failoverMonitor: monitor }));
    const id = created.body.id;
    await c.waitJob('protecting', id, protecting);
    // Planned switch-over of a healthy source.
    expect((await c.api('POST', `/v1/jobs/${id}/failover`, {})).status).toBe(202);
    await c.waitJob('failed over', id, (j) => j.state === 'failed_over', 30_000);
    await fs.writeFile(path.join(dst, 'target-only.txt'), 'given up by "do not restore"');
    expect((await c.api('POST', `/v1/jobs/${id}/failback`, {})).status).toBe(202);
    await c.waitJob('restore required', id, (j) => j.state === 'restore_required' && j.activity === 'Restore Required', 30_000);
    const skip = await c.api('POST', `/v1/jobs/${id}/restore`, { restoreData: false });
    expect(skip.body.state).toBe('mirror_required');
    expect(skip.body.targetDataState).toBe('mirror_required');
    await c.api('POST', `/v1/jobs/${id}/stop`);
    await c.api('POST', `/v1/jobs/${id}/start`);
    await c.waitJob('protecting again', id, protecting, 60_000);
    await expect(fs.access(path.join(src, 'target-only.txt'))).rejects.toThrow();
    expect((await c.api('DELETE', `/v1/jobs/${id}`)).status).toBe(200);
  });

  it('reverse after a failover: the target becomes the source and protection continues the other way', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'a.txt'), 'a');
    const created = await c.api('POST', '/v1/jobs', filesJob('reverse', src, dst, { failoverMonitor: monitor }));
    const id = created.body.id;
    await c.waitJob('protecting', id, protecting);
    expect((await c.api('POST', `/v1/jobs/${id}/failover`, {})).status).toBe(202);
    await c.waitJob('failed over', id, (j) => j.state === 'failed_over', 30_000);
    await fs.writeFile(path.join(dst, 'made-on-the-target.txt'), 'goes back to the old source');
    const rev = await c.api('POST', `/v1/jobs/${id}/reverse`, {});
    expect(rev.status, JSON.stringify(rev.body)).toBe(202);
    expect(rev.body).toMatchObject({ source: { name: 'beta' }, target: { name: 'alpha' } });
    await c.waitJob('protecting in reverse', id, protecting, 60_000);
    await identical(dst, src);
    await fs.writeFile(path.join(dst, 'live.txt'), 'replicated beta → alpha');
    await waitFor('reverse replication', async () => (await fs.readFile(path.join(src, 'live.txt'), 'utf8').catch(() => '')) === 'replicated beta → alpha');
    expect((await c.api('DELETE', `/v1/jobs/${id}`)).status).toBe(200);
  });

  it('illegal commands get 409 with the reason', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const created = await c.api('POST', '/v1/jobs', filesJob('illegal', src, dst, { start: false }));
    const fb = await c.api('POST', `/v1/jobs/${created.body.id}/failback`, {});
    expect(fb).toMatchObject({ status: 409, body: { error: { code: 'illegal_job_transition' } } });
    expect(fb.body.error.message).toMatch(/failover/);
    const rs = await c.api('POST', `/v1/jobs/${created.body.id}/restore`, {});
    expect(rs.status).toBe(409);
    await c.api('DELETE', `/v1/jobs/${created.body.id}`);
  });
});

describe('no failover when the source is alive', () => {
  it('a network partition between the agents only (the source still polls the hub): no failover', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    // The monitor probes an address where the source does not answer: every probe misses.
    const created = await c.api('POST', '/v1/jobs', filesJob('partition', src, dst, { failoverMonitor: { ...monitor, addresses: ['127.0.0.2'] }, failover: { waitForUser: false } }));
    const id = created.body.id;
    await c.waitJob('protecting', id, protecting);
    await c.waitJob('monitor misses', id, (j) => (j.failover.monitor?.consecutiveMisses ?? 0) >= WINDOW + 2, 30_000);
    const j = await c.job(id);
    expect(j.state).toBe('protecting');
    expect(await eventTypes(id)).not.toContain('job.failover_condition_met');
    await c.api('DELETE', `/v1/jobs/${id}`);
  });

  it('the hub going down while the source is healthy never causes a failover', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    const created = await c.api('POST', '/v1/jobs', filesJob('hub-outage', src, dst, { failoverMonitor: monitor, failover: { waitForUser: false } }));
    const id = created.body.id;
    await c.waitJob('protecting', id, protecting);
    await c.hub.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, (WINDOW + 3) * 1000));
    c.hub = await startHubProcess({ dataDir: c.hub.dataDir, port: c.hub.port });
    await new Promise((r) => setTimeout(r, (WINDOW + 3) * 1000));
    const j = await c.job(id);
    expect(j.state).toBe('protecting');
    expect(await eventTypes(id)).not.toContain('job.failover_condition_met');
    await c.api('DELETE', `/v1/jobs/${id}`);
  });
});

describe('snapshots', () => {
  it('scheduled and manual snapshots, list, delete, eviction at the cap, and stop deletes them', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'a.txt'), 'v1');
    const created = await c.api('POST', '/v1/jobs', filesJob('snap', src, dst, { snapshots: { enabled: true, schedule: { intervalMin: 60 }, keep: 2 } }));
    const id = created.body.id;
    await c.waitJob('protecting', id, protecting);
    const list = async () => (await c.api('GET', `/v1/jobs/${id}/snapshots`)).body.items as any[];
    await waitFor('scheduled snapshot', async () => (await list()).some((s) => s.scheduled), 30_000);
    const follow = async (r: { body: any }) => waitFor('command done', async () => {
      const cmd = await c.api('GET', `/v1/commands/${r.body.command.id}`);
      return cmd.body.status !== 'pending' && cmd.body.status !== 'delivered' && cmd.body;
    });
    const first = await follow(await c.api('POST', `/v1/jobs/${id}/snapshots`));
    expect(first.status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 1100));
    const second = await follow(await c.api('POST', `/v1/jobs/${id}/snapshots`));
    expect(second.status).toBe('succeeded');
    const items = await waitFor('two snapshots (cap)', async () => { const l = await list(); return l.length === 2 && l; });
    expect(items.some((s: any) => s.scheduled)).toBe(false); // the oldest (scheduled) one was evicted
    const snapDir = path.join(c.target.dataDir, 'jobs', id, 'snapshots');
    expect((await fs.readdir(snapDir)).filter((n) => !n.endsWith('.json')).length).toBeGreaterThanOrEqual(2);
    const del = await follow(await c.api('DELETE', `/v1/jobs/${id}/snapshots/${items[0].id}`));
    expect(del.status).toBe('succeeded');
    await waitFor('one left', async () => (await list()).length === 1);
    expect((await c.api('POST', `/v1/jobs/${id}/stop`)).status).toBe(200);
    await waitFor('stop deletes the snapshots', async () => (await list()).length === 0, 30_000);
    await c.api('DELETE', `/v1/jobs/${id}`);
  });
});
