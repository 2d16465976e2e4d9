// One run of the seeded random writer against a real cluster: a tree of seed files is mirrored while the writer
// works on it (optionally killing an agent half way), then the trees must end identical. Used by the replication
// tests and by the opt-in fuzz runs (test/random-writer-fuzz.test.ts).
import fs from 'node:fs/promises';
import path from 'node:path';
import { filesJob, type Cluster } from './cluster';
import { tempDir, waitFor } from './processes';
import { snapshotTree, diffTrees, randomData } from './trees';
import { randomWriter, withoutSoloLinks } from './random-writer';

export interface RandomRunOptions {
  /** Seed directories and files in each: the tree the mirror copies while the writer runs. */
  dirs: number;
  files: number;
  ops: number;
  /** SIGKILL this agent when the writer is half way, and start it again once the writer is done. */
  kill?: 'source' | 'target';
}

const protecting = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
const caughtUp = (j: any) => protecting(j) && j.stats.replication?.opsQueued === 0;

/** Resolves with the writer's operation counts; throws with the differences and the last operations otherwise. */
export async function randomWriterDuringMirror(c: Cluster, seed: number, o: RandomRunOptions): Promise<Record<string, number>> {
  const src = await tempDir('src');
  const dst = await tempDir('dst');
  const outside = await tempDir('outside');
  for (let d = 0; d < o.dirs; d++) {
    await fs.mkdir(path.join(src, `p${d}`));
    for (let f = 0; f < o.files; f++) await fs.writeFile(path.join(src, `p${d}`, `s${f}`), randomData(1000 + ((d * 30 + f) * 997) % 60000));
  }
  const log: string[] = [];
  const job = await c.api('POST', '/v1/jobs', filesJob(`random-${seed}-${o.dirs * o.files}-${o.kill ?? 'nokill'}-${Date.now()}`, src, dst));
  if (job.status !== 201) throw new Error(`job create failed: ${JSON.stringify(job.body)}`);
  await c.waitJob('mirror running', job.body.id, (j) => j.mirrorStatus === 'in_progress' || j.state === 'protecting');
  let killed: Promise<void> | null = null;
  const counts = await randomWriter({
    root: src, outside, ops: o.ops, seed, log: (l) => {
      log.push(l);
      if (o.kill && log.length === Math.floor(o.ops / 2)) killed = (o.kill === 'source' ? c.source : c.target).stop('SIGKILL');
    },
  });
  if (killed) {
    await killed;
    await c.ensureRunning();
  }
  await c.waitJob('replication caught up', job.body.id, caughtUp, 120_000);
  let last: string[] = [];
  try {
    await waitFor('target identical to source', async () => {
      last = diffTrees(withoutSoloLinks(await snapshotTree(src, { dirMtimes: false })), withoutSoloLinks(await snapshotTree(dst, { dirMtimes: false })));
      return last.length === 0;
    }, 20_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; differences: ${last.slice(0, 10).join(' | ')}; last operations: ${log.slice(-30).join('; ')}`);
  }
  await c.api('DELETE', `/v1/jobs/${job.body.id}`);
  // Each run leaves about 200 MB of trees; a fuzz run of hundreds of seeds would fill the disk. A failed run keeps
  // them for a look.
  await Promise.all([src, dst, outside].map((d) => fs.rm(d, { recursive: true, force: true })));
  return counts;
}
