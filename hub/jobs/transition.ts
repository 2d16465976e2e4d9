// Saves a job's move through the transition table (state, epoch, resume state and any extra fields, in one
// write) and wakes both agents so they hear of it on their next poll.
import { eq } from 'drizzle-orm';
import { applyJobCommand, requireJobCommand, type JobCommand, type JobCommandResult } from '../../shared/jobs/job-state';
import type { JobState } from '../../shared/states';
import { jobs } from '../db/schema';
import type { HubDeps } from '../deps';
import type { JobRow } from './lookup';

export function wakeJobAgents(deps: HubDeps, job: Pick<JobRow, 'sourceServerId' | 'targetServerId'>): void {
  deps.waker.wake(job.sourceServerId);
  deps.waker.wake(job.targetServerId);
}

async function save(deps: HubDeps, job: JobRow, r: Extract<JobCommandResult, { ok: true }>, extra: Partial<JobRow>): Promise<JobRow> {
  const patch: Partial<JobRow> = {
    state: r.next, epoch: r.bumpEpoch ? job.epoch + 1 : job.epoch, updatedAt: deps.clock.now(),
    ...(r.resumeState ? { resumeState: r.resumeState } : {}),
    ...extra,
  };
  await deps.db.update(jobs).set(patch).where(eq(jobs.id, job.id));
  const updated = { ...job, ...patch };
  wakeJobAgents(deps, updated);
  return updated;
}

const resumeOf = (job: JobRow) => ({ resumeState: (job.resumeState ?? undefined) as JobState | undefined });

/** Agent-reported or decided events: applied when the table allows them now, otherwise ignored. */
export async function transitionIfLegal(deps: HubDeps, job: JobRow, command: JobCommand, extra: Partial<JobRow> = {}): Promise<JobRow> {
  const r = applyJobCommand(job.state as JobState, command, resumeOf(job));
  return r.ok ? save(deps, job, r, extra) : job;
}

/** Operator commands: an illegal one throws a 409 carrying the table's reason. */
export async function transitionOrRefuse(deps: HubDeps, job: JobRow, command: JobCommand, extra: Partial<JobRow> = {}): Promise<JobRow> {
  return save(deps, job, requireJobCommand(job.state as JobState, command, resumeOf(job)), extra);
}
