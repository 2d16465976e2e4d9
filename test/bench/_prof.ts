import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { generateTree, sleep } from './common';
import { startHubProcess, http, freePort, tempDir, TANDEM_BIN } from '../support/processes';
import { filesJob } from '../support/cluster';
const work = await fs.mkdtemp('/tmp/tandem-prof-');
await generateTree(path.join(work, 'src'), 2000, 100 * 1024 * 1024);
const hub = await startHubProcess();
const tok = await http('POST', `${hub.url}/v1/agent-tokens`, { name: 'cluster', maxUses: 10 }, hub.adminToken);
const kids: any[] = [];
for (const name of ['alpha', 'beta']) {
  const dataDir = await tempDir('agent-' + name); const port = await freePort();
  const ch = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=/tmp/tprof/${name}`, TANDEM_BIN, 'agent', '--name', name, '--data-dir', dataDir, '--port', String(port), '--listen', '127.0.0.1', '--advertise', '127.0.0.1', '--poll-wait', '5', '--log-level', 'warn', '--token', tok.body.token], { stdio: 'inherit' });
  kids.push(ch);
}
await sleep(8000);
const api = (m: string, p: string, b?: unknown) => http(m, `${hub.url}${p}`, b, hub.adminToken);
const t = Date.now();
const r = await api('POST', '/v1/jobs', filesJob('p', path.join(work, 'src'), path.join(work, 'dst'), { compression: 'off' }));
for (;;) { const j = (await api('GET', `/v1/jobs/${r.body.id}`)).body; if (j.state === 'protecting' && j.mirrorStatus === 'idle') { console.log('secs', (Date.now() - t) / 1000, j.stats.mirrorStartedAt, j.stats.mirrorCompletedAt); break; } await sleep(100); }
for (const k of kids) k.kill('SIGTERM');
await sleep(3000);
await hub.stop('SIGKILL');
await fs.rm(work, { recursive: true });
