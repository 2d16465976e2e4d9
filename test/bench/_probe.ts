import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob } from '../support/cluster';
import { tempDir } from '../support/processes';
const c = await startCluster();
try {
  for (let k = 0; k < 5; k++) {
  const src = await tempDir('src'); const dst = await tempDir('dst');
  for (let i = 0; i < 50; i++) await fs.writeFile(path.join(src, `f${i}`), Buffer.alloc(100000, i));
  const t0 = Date.now();
  const r = await c.api('POST', '/v1/jobs', filesJob('probe'+k, src, dst, { compression: 'off' }));
  let last = '';
  for (;;) {
    const j = await c.job(r.body.id);
    const s = `${j.state} ${j.mirrorStatus} ${j.targetDataState} ${j.replicationStatus} ${j.stats?.connectionId} ${j.stats?.mirrorStartedAt}`;
    if (s !== last) { console.log(Date.now() - t0, s); last = s; }
    if (j.state === 'protecting' && j.mirrorStatus === 'idle') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  }
} finally { await c.stop(); }
