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
  const manager = (busySilentMs?: number) => {
    const jobs = new JobManager({ dataDir, serverId: 'srv_a', log, data, onChange: () => {}, hubContactAt: () => Date.now(), busySilentMs });
    cleanup.push(() => jobs.stop());
    return jobs;
  };
  const spec = FilesJobSpec.parse({ rules: [{ path: src, type: 'include' }], pathMapping: { mode: 'custom', entries: [{ source: src, target: '/srv/replica' }] } });
  const desired: DesiredJob = {
    jobId: 'job_1', name: 'j', role: 'source', run: 'running', state: 'mirroring', epoch: 1, spec: spec as never, sourceName: 'alpha',
    // Nothing listens there: the job retries its peer, which does not matter here.
    peer: { serverId: 'srv_b', name: 'beta', addresses: ['127.0.0.1'], port: 1, fingerprint: 'x' }, jobToken: '', mirror: null, verify: null, controls: {},
  };
  return { manager, desired, dataDir };
}

/** A goal as the agent handles one from a poll: noted when it arrives, then applied in turn (see the daemon). */
function received(jobs: JobManager, goal: DesiredJob[]): Promise<void> {
  jobs.noteGoal(goal);
  return jobs.apply({ jobs: goal });
}

describe('JobManager reports', () => {
  const busyOnly = (jobId: string, busy: string, epoch = 1) => ({ jobId, role: 'source', epoch, at: expect.any(Number), busy });

  it('a job being started reports only that it is starting (its change capture stats the set), then its state', async () => {
    const { manager, desired } = await sourceJobSetup();
    const jobs = manager();
    let done = false;
    const applying = received(jobs, [desired]).finally(() => { done = true; });
    const midway: unknown[] = [];
    while (!done) {
      midway.push(...jobs.reports());
      await new Promise((r) => setImmediate(r));
    }
    await applying;
    expect(midway.length).toBeGreaterThan(10); // the start took a while, and reports were asked for during it
    // Nothing of the job's state while it starts (a half-applied one could mislead the hub), but never missing either.
    for (const r of midway) expect(r).toStrictEqual(busyOnly('job_1', 'starting'));
    const after = jobs.reports();
    expect(after.map((r) => [r.jobId, r.busy])).toEqual([['job_1', undefined]]);
    expect(after[0]!.mirrorStatus).toBeDefined();
  });

  it('a new job queued behind another\'s start reports starting at once; one dropped from the goal before its turn does not stay so', async () => {
    const { manager, desired, dataDir } = await sourceJobSetup();
    const jobs = manager();
    const second = { ...desired, jobId: 'job_2', name: 'j2', epoch: 3 };
    const first = received(jobs, [desired]);
    const queued = received(jobs, [desired, second]);
    // job_1 is starting; job_2 waits in the queue behind it, already in hand.
    expect(jobs.reports()).toEqual(expect.arrayContaining([busyOnly('job_1', 'starting'), busyOnly('job_2', 'starting', 3)]));
    await first;
    await queued;
    expect(jobs.reports().map((r) => [r.jobId, r.busy])).toEqual([['job_1', undefined], ['job_2', undefined]]);
    // A goal whose job_3 fails to start: job_4 after it still waits (the goal is applied again later). A goal
    // without either then leaves neither "starting" for ever.
    await fs.writeFile(path.join(dataDir, 'jobs', 'job_3'), 'in the way of the job\'s state directory');
    const failing = received(jobs, [desired, second, { ...desired, jobId: 'job_3' }, { ...desired, jobId: 'job_4' }]);
    await expect(failing).rejects.toThrow();
    expect(jobs.reports().map((r) => [r.jobId, r.busy])).toEqual([['job_1', undefined], ['job_2', undefined], ['job_4', 'starting']]);
    // The same goal again (the agent asks for it after a back-off): job_3 says why its start failed meanwhile.
    jobs.noteGoal([desired, second, { ...desired, jobId: 'job_3' }, { ...desired, jobId: 'job_4' }]);
    const job3 = jobs.reports().find((r) => r.jobId === 'job_3');
    expect(job3).toMatchObject({ busy: 'starting', lastError: expect.stringMatching(/^starting the job failed: .+; retrying$/) });
    await received(jobs, [desired]);
    expect(jobs.reports().map((r) => [r.jobId, r.busy])).toEqual([['job_1', undefined]]);
  });

  it('an older goal applied after a newer one arrived does not undo what the newer one noted', async () => {
    const { manager, desired } = await sourceJobSetup();
    const jobs = manager();
    const second = { ...desired, jobId: 'job_2', name: 'j2' };
    // As in the agent: both goals arrive while the first waits its turn, and are applied in order later.
    jobs.noteGoal([desired]);
    jobs.noteGoal([desired, second]);
    await jobs.apply({ jobs: [desired] });
    expect(jobs.reports().map((r) => [r.jobId, r.busy])).toEqual([['job_1', undefined], ['job_2', 'starting']]);
    await jobs.apply({ jobs: [desired, second] });
    expect(jobs.reports().map((r) => [r.jobId, r.busy])).toEqual([['job_1', undefined], ['job_2', undefined]]);
  });

  it('an update of a running job shows it busy only once it has taken a while; until then nothing (most take ms)', async () => {
    const { manager, desired } = await sourceJobSetup();
    /** Applies `goal` and collects job_1's busy reports meanwhile. */
    const during = async (jobs: JobManager, goal: DesiredJob[]) => {
      let done = false;
      const applying = received(jobs, goal).finally(() => { done = true; });
      const seen: unknown[] = [];
      let samples = 0;
      while (!done) {
        samples++;
        seen.push(...jobs.reports().filter((r) => r.jobId === 'job_1' && r.busy));
        await new Promise((r) => setImmediate(r));
      }
      await applying;
      return { seen, samples };
    };
    const quiet = manager();
    await received(quiet, [desired]);
    const update = await during(quiet, [{ ...desired, epoch: 2 }]);
    expect(update.samples).toBeGreaterThan(10);
    expect(update.seen).toEqual([]);
    await quiet.stop();
    const eager = manager(0);
    await received(eager, [{ ...desired, epoch: 2 }]);
    const slow = await during(eager, [{ ...desired, epoch: 3 }]);
    expect(slow.seen.length).toBeGreaterThan(0);
    for (const r of slow.seen) expect(r).toStrictEqual(busyOnly('job_1', 'updating', 3));
    expect(eager.reports().map((r) => [r.jobId, r.busy, r.epoch])).toEqual([['job_1', undefined, 3]]);
  });

  it('after a restart, restores the saved jobs in the background: start() returns first (the agent polls meanwhile)', async () => {
    const { manager, desired } = await sourceJobSetup();
    const first = manager();
    const second = { ...desired, jobId: 'job_2', name: 'j2' };
    await received(first, [desired, second]);
    await first.stop();
    const jobs = manager();
    let restoredYet = false;
    const { restored } = await jobs.start();
    void restored.then(() => { restoredYet = true; });
    expect(restoredYet).toBe(false);
    // Both in hand from the start, though they start one after the other.
    expect(jobs.reports()).toEqual([busyOnly('job_1', 'starting'), busyOnly('job_2', 'starting')]);
    await restored;
    expect(jobs.reports().map((r) => [r.jobId, r.busy])).toEqual([['job_1', undefined], ['job_2', undefined]]);
  });
});
