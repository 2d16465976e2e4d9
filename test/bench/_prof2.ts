import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { sleep } from './common';
import { measureLag, seedFiles } from './lag-probe';
import { startHubProcess, http, freePort, tempDir, TANDEM_BIN } from '../support/processes';
import { filesJob } from '../support/cluster';
const work = await fs.mkdtemp('/tmp/tandem-prof-');
const src = path.join(work, 's'), dst = path.join(work, 'd');
await fs.mkdir(src); await fs.mkdir(dst); seedFiles(src, 100);
const hub = await startHubProcess();
const tok = await http('POST', `${hub.url}/v1/agent-tokens`, { name: 'cluster', maxUses: 10 }, hub.adminToken);
const kids: any[] = [];
for (const name of ['alpha', 'beta']) {
  const dataDir = await tempDir('agent-' + name); const port = await freePort();
  kids.push(spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=/tmp/tprof/${name}`, TANDEM_BIN, 'agent', '--name', name, '--data-dir', dataDir, '--port', String(port), '--listen', '127.0.0.1', '--advertise', '127.0.0.1', '--poll-wait', '5', '--log-level', 'warn', '--token', tok.body.token], { stdio: 'inherit' }));
}
await sleep(8000);
const api = (m: string, p: string, b?: unknown) => http(m, `${hub.url}${p}`, b, hub.adminToken);
const r = await api('POST', '/v1/jobs', filesJob('p', src, dst));
for (;;) { const j = (await api('GET', `/v1/jobs/${r.body.id}`)).body; if (j.state === 'protecting' && j.mirrorStatus === 'idle' && j.replicationStatus === 'ready') break; await sleep(100); }
await sleep(1000);
console.log(JSON.stringify(await measureLag(src, dst, { files: 100, rate: 1000, seconds: 10, settleMs: 30000 })));
const j = (await api('GET', `/v1/jobs/${r.body.id}`)).body; console.log(JSON.stringify(j.stats.replication));
for (const k of kids) k.kill('SIGTERM');
await sleep(3000);
await hub.stop('SIGKILL');
await fs.rm(work, { recursive: true });
