// When and how fast a source transmits (manual 2.16 and the transmit mode "Scheduled"), with a real hub and two
// agents on 127.0.0.1: transmit windows hold everything on the source until one opens; a bandwidth limit paces it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { execFile } from 'node:child_process';
import { TANDEM_BIN, tempDir, waitFor } from './support/processes';
import { snapshotTree, diffTrees, randomData } from './support/trees';

let c: Cluster;
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => { await c?.stop(); });

/** Runs the tandem CLI against the cluster's hub. */
function tandem(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TANDEM_BIN, '--hub', c.hub.url, '--api-token', c.hub.adminToken, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const protecting = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';

async function identical(src: string, dst: string, timeoutMs = 30_000) {
  await waitFor('target identical to source', async () =>
    diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false })).length === 0, timeoutMs, 100);
}

describe('transmission', () => {
  it('outside its transmit windows the source sends nothing, the mirror included, and says until when; a window opening sends it all', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'before.txt'), 'there before the job');
    // A window three days from now (the agents run in this process's time zone): closed for the whole test.
    const windowDay = (new Date().getDay() + 3) % 7;
    const job = await c.api('POST', '/v1/jobs', filesJob('windows', src, dst, { transmitWindows: [{ days: DAYS[windowDay], start: '00:00', end: '01:00' }] }));
    expect(job.status).toBe(201);
    const held = await c.waitJob('held by the schedule', job.body.id, (j) => j.transmitMode === 'scheduled' && j.mirrorStatus === 'waiting');
    expect(held.activity).toContain('outside the transmit windows');
    const opens = new Date(held.stats.transmitWindowChangesAt);
    expect([opens.getDay(), opens.getHours(), opens.getMinutes()]).toEqual([windowDay, 0, 0]);
    expect(opens.getTime()).toBeGreaterThan(Date.now());

    await fs.writeFile(path.join(src, 'during.txt'), 'written while the window is closed');
    await c.waitJob('change queued', job.body.id, (j) => j.stats.replication?.opsQueued > 0 && j.replicationStatus === 'pending');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await fs.readdir(dst)).toEqual([]);

    // Windows removed: always open.
    expect((await c.api('PATCH', `/v1/jobs/${job.body.id}`, { transmitWindows: [] })).status).toBe(200);
    await identical(src, dst);
    const sending = await c.waitJob('protecting', job.body.id, (j) => protecting(j) && j.transmitMode === 'active');
    expect(sending.stats.transmitWindowOpen).toBe(true);
    expect((await c.api('DELETE', `/v1/jobs/${job.body.id}`)).status).toBe(200);
  });

  it('a fixed limit paces what is sent; set bandwidth applies to every job of the pair and keeps their schedules', async () => {
    const srcA = await tempDir('src');
    const dstA = await tempDir('dst');
    const srcB = await tempDir('src');
    const dstB = await tempDir('dst');
    const schedule = [{ days: 'everyday', start: '00:00', end: '00:01', bytesPerSec: 5000 }];
    const a = await c.api('POST', '/v1/jobs', filesJob('bandwidth-a', srcA, dstA, { bandwidth: { mode: 'scheduled', schedule } }));
    const b = await c.api('POST', '/v1/jobs', filesJob('bandwidth-b', srcB, dstB));
    expect(b.status).toBe(201);
    // The transmission is shared: a job of the same pair with other settings is told so.
    expect(b.body.validation.find((v: any) => v.code === 'bandwidth_differs')?.message).toContain('bandwidth-a');
    await c.waitJob('a protecting', a.body.id, protecting);
    await c.waitJob('b protecting', b.body.id, protecting);

    // Bad requests: a limit under the manual's minimum, an unknown mode, a fixed limit with none given or stored.
    expect((await c.api('POST', `/v1/jobs/${a.body.id}/bandwidth`, { mode: 'fixed', bytesPerSec: 100 })).status).toBe(400);
    expect((await c.api('POST', `/v1/jobs/${a.body.id}/bandwidth`, { mode: 'fast' })).status).toBe(400);
    const noLimit = await c.api('POST', `/v1/jobs/${a.body.id}/bandwidth`, { mode: 'fixed' });
    expect(noLimit.status).toBe(422);
    expect(noLimit.body.error.code).toBe('bandwidth_invalid');

    const set = await c.api('POST', `/v1/jobs/${a.body.id}/bandwidth`, { mode: 'fixed', bytesPerSec: 100_000 });
    expect(set.status).toBe(200);
    expect(set.body.spec.bandwidth).toEqual({ mode: 'fixed', bytesPerSec: 100_000, schedule });
    expect((await c.job(b.body.id)).spec.bandwidth).toEqual({ mode: 'fixed', bytesPerSec: 100_000, schedule: [] });
    await c.waitJob('limit in force', a.body.id, (j) => j.stats.bandwidthLimitBps === 100_000);

    // 600 kB of incompressible data at 100 kB/s cannot arrive in less than about 5.75 s (a quarter second of burst).
    const t0 = Date.now();
    await fs.writeFile(path.join(srcA, 'paced.bin'), randomData(600_000));
    await identical(srcA, dstA, 60_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5_000);

    // Back to the schedule: refused while job b has none (it shares the transmission), then accepted.
    const refused = await c.api('POST', `/v1/jobs/${a.body.id}/bandwidth`, { mode: 'scheduled' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain('bandwidth-b');
    // Job b's schedule covers every minute of the day (a daytime and an overnight entry), a's only 00:00-00:01.
    const allDay = [{ days: 'everyday', start: '00:00', end: '12:00', bytesPerSec: 60_000 }, { days: 'everyday', start: '12:00', end: '00:00', bytesPerSec: 60_000 }];
    expect((await c.api('PATCH', `/v1/jobs/${b.body.id}`, { bandwidth: { schedule: allDay } })).status).toBe(200);
    const back = await c.api('POST', `/v1/jobs/${b.body.id}/bandwidth`, { mode: 'scheduled' });
    expect(back.status).toBe(200);
    expect((await c.job(a.body.id)).spec.bandwidth).toEqual({ mode: 'scheduled', bytesPerSec: 100_000, schedule });
    // The schedule in force, shared by the pair: b's entry (or a's lower one in the first minute of the day).
    await c.waitJob('scheduled limit in force', a.body.id, (j) => j.stats.bandwidthLimitBps === 60_000 || j.stats.bandwidthLimitBps === 5000);
    // The CLI's Set Bandwidth, as an operator types it.
    const cli = await tandem('job', 'bandwidth', 'bandwidth-a', 'unlimited');
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('bandwidth-a');
    expect((await c.job(b.body.id)).spec.bandwidth.mode).toBe('unlimited');
    const bad = await tandem('job', 'bandwidth', 'bandwidth-a', 'fixed', '--bytes-per-sec', '10');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/bytesPerSec|3500/);
    await c.waitJob('no limit', a.body.id, (j) => j.stats.bandwidthLimitBps === null);
    await fs.writeFile(path.join(srcB, 'free.bin'), randomData(100_000));
    await identical(srcB, dstB);
  });
});
