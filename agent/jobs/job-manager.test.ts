// The job manager against a real source job (its change capture over a temp tree): a job's report is not taken while
// the job is being started, since polls now go on meanwhile (PollLoop.enqueue) and a half-applied state could mislead the hub.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FilesJobSpec } from '../../shared/jobs/definition';
import type { DesiredJob } from '../../shared/protocol/jobs';
import { DataServer } from '../data-server';
import { createAgentLogger } from '../log';
import { loadOrCreateTlsIdentity } from '../tls';
import { JobManager } from './job-manager';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function tempDir(name: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `tandem-jm-${name}-`));
  cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function sourceJobSetup() {
  const dataDir = await tempDir('data');
  const src = await tempDir('src');
  for (let d = 0; d < 20; d++) {
    await fs.mkdir(path.join(src, `d${d}`));
    await Promise.all(Array.from({ length: 100 }, (_, f) => fs.writeFile(path.join(src, `d${d}`, `f${f}`), 'x')));
  }
  const log = createAgentLogger('silent');
  const data = new DataServer(await loadOrCreateTlsIdentity(dataDir, 'alpha'), log);
  await data.listen(0, '127.0.0.1');
  cleanup.push(() => data.close());
  const manager = () => {
    const jobs = new JobManager({ dataDir, serverId: 'srv_a', log, data, onChange: () => {}, hubContactAt: () => Date.now() });
    cleanup.push(() => jobs.stop());
    return jobs;
  };
  const spec = FilesJobSpec.parse({ rules: [{ path: src, type: 'include' }], pathMapping: { mode: 'custom', entries: [{ source: src, target: '/srv/replica' }] } });
  const desired: DesiredJob = {
    jobId: 'job_1', name: 'j', role: 'source', run: 'running', state: 'mirroring', epoch: 1, spec: spec as never, sourceName: 'alpha',
    // Nothing listens there: the job retries its peer, which does not matter here.
    peer: { serverId: 'srv_b', name: 'beta', addresses: ['127.0.0.1'], port: 1, fingerprint: 'x' }, jobToken: '', mirror: null, verify: null, controls: {},
  };
  return { manager, desired };
}

describe('JobManager reports', () => {
  it('leaves out a job while it is being started (its change capture stats the set), and reports it once started', async () => {
    const { manager, desired } = await sourceJobSetup();
    const jobs = manager();
    let done = false;
    const applying = jobs.apply({ jobs: [desired] }).finally(() => { done = true; });
    let samples = 0;
    let seenMidway = 0;
    while (!done) {
      samples++;
      if (jobs.reports().some((r) => r.jobId === 'job_1')) seenMidway++;
      await new Promise((r) => setImmediate(r));
    }
    await applying;
    expect(samples).toBeGreaterThan(10); // the start took a while, and reports were asked for during it
    expect(seenMidway).toBe(0);
    expect(jobs.reports().map((r) => r.jobId)).toEqual(['job_1']);
  });

  it('after a restart, restores the saved jobs in the background: start() returns first (the agent polls meanwhile)', async () => {
    const { manager, desired } = await sourceJobSetup();
    const first = manager();
    await first.apply({ jobs: [desired] });
    await first.stop();
    const jobs = manager();
    let restoredYet = false;
    const { restored } = await jobs.start();
    void restored.then(() => { restoredYet = true; });
    expect(restoredYet).toBe(false);
    expect(jobs.reports()).toEqual([]);
    await restored;
    expect(jobs.reports().map((r) => r.jobId)).toEqual(['job_1']);
  });
});
