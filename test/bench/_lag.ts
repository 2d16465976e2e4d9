import fs from 'node:fs/promises';
import path from 'node:path';
import { measureLag, seedFiles } from './lag-probe';
import { startWarmCluster, stopCluster, createJob, waitJob, caughtUp, filesJob } from './tandem';
const work = await fs.mkdtemp('/tmp/tandem-lagx-');
const src = path.join(work, 's'), dst = path.join(work, 'd');
await fs.mkdir(src); await fs.mkdir(dst); seedFiles(src, 100);
const c = await startWarmCluster(work);
const id = await createJob(c, filesJob('x', src, dst, process.env.BATCH ? { replication: { batchMs: Number(process.env.BATCH) } } : {}));
await waitJob(c, 'ready', id, (j) => caughtUp(j) && j.replicationStatus === 'ready', 60000);
for (const rate of [10, 100, 1000]) {
  const r = await measureLag(src, dst, { files: 100, rate, seconds: 5, settleMs: 30000 });
  console.log(rate, JSON.stringify(r));
}
await stopCluster(c); await fs.rm(work, { recursive: true });
