// Tandem-side helpers for the benchmarks: a cluster with a warmed-up data path, finer-grained job waits,
// and the wall-clock time between two job conditions.
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from '../support/cluster';
import { sleep, note } from './common';

export { filesJob, type Cluster };

export const mirrored = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
export const caughtUp = (j: any) => mirrored(j) && j.stats?.replication?.opsQueued === 0;

/**
 * Polls a job every `everyMs` (finer than the tests' 250 ms, so a figure is not rounded up by the poll)
 * until `pred` holds; returns the job and the time it was first seen (ms, Date.now()).
 */
export async function waitJob(c: Cluster, what: string, id: string, pred: (j: any) => boolean, timeoutMs: number, everyMs = 100): Promise<{ job: any; at: number }> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = await c.job(id);
    if (pred(last)) return { job: last, at: Date.now() };
    await sleep(everyMs);
  }
  const brief = last && { state: last.state, activity: last.activity, mirrorStatus: last.mirrorStatus, targetDataState: last.targetDataState, replicationStatus: last.replicationStatus, warnings: last.warnings, stats: last.stats };
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; job: ${JSON.stringify(brief).slice(0, 1500)}`);
}

export async function createJob(c: Cluster, body: unknown): Promise<string> {
  const r = await c.api('POST', '/v1/jobs', body);
  if (r.status !== 201) throw new Error(`job create failed (${r.status}): ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/**
 * Starts the hub and two agents, then runs one tiny job to completion and deletes it: the first job after
 * start-up waits for the agents' first long poll (several seconds), which is start-up cost, not mirror speed.
 */
export async function startWarmCluster(workDir: string): Promise<Cluster> {
  const c = await startCluster();
  const src = path.join(workDir, 'warmup-src');
  const dst = path.join(workDir, 'warmup-dst');
  await fs.mkdir(src, { recursive: true });
  await fs.mkdir(dst, { recursive: true });
  await fs.writeFile(path.join(src, 'hello.txt'), 'warm-up');
  const t0 = Date.now();
  const id = await createJob(c, filesJob('bench-warmup', src, dst));
  await waitJob(c, 'warm-up mirror', id, mirrored, 60_000);
  note(`cluster warm-up job mirrored in ${Date.now() - t0} ms`);
  await deleteJob(c, id);
  return c;
}

export async function deleteJob(c: Cluster, id: string): Promise<void> {
  const r = await c.api('DELETE', `/v1/jobs/${id}`);
  if (r.status !== 200) note(`job ${id} delete returned ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
}

export const isoMs = (s: string | null | undefined): number => (s ? Date.parse(s) : NaN);

/** Stops the hub and agents and removes their data directories (the agents keep block-hash indexes there). */
export async function stopCluster(c: Cluster): Promise<void> {
  await c.stop();
  await Promise.all([c.hub.dataDir, c.source.dataDir, c.target.dataDir].map((d) => fs.rm(d, { recursive: true, force: true })));
}
