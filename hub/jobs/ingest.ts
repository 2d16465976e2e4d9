// Takes the per-job status agents report on their polls, stores it, and moves the job's lifecycle on
// (mirror started / complete) through the transition table.
import { eq } from 'drizzle-orm';
import { JobReport } from '../../shared/protocol/jobs';
import { applyJobCommand, type JobCommand } from '../../shared/jobs/job-state';
import type { JobState } from '../../shared/states';
import { jobs } from '../db/schema';
import type { HubDeps } from '../deps';
import type { JobRow } from './lookup';
import { sourceReportEvents, targetReportEvents } from './report-events';
import type { FilesJobSpec } from '../../shared/jobs/definition';

/** Applies an agent-reported event if the table allows it now; agent events that no longer apply are ignored. */
export async function transitionIfLegal(deps: HubDeps, job: JobRow, command: JobCommand): Promise<JobRow> {
  const r = applyJobCommand(job.state as JobState, command, { resumeState: (job.resumeState ?? undefined) as JobState | undefined });
  if (!r.ok) return job;
  const patch = {
    state: r.next, epoch: r.bumpEpoch ? job.epoch + 1 : job.epoch, updatedAt: deps.clock.now(),
    ...(r.resumeState ? { resumeState: r.resumeState } : {}),
  };
  await deps.db.update(jobs).set(patch).where(eq(jobs.id, job.id));
  return { ...job, ...patch };
}

export async function ingestJobReports(deps: HubDeps, serverId: string, raw: unknown[]): Promise<void> {
  for (const item of raw) {
    const parsed = JobReport.safeParse(item);
    if (!parsed.success) {
      deps.log.warn({ serverId }, 'ignoring malformed job report');
      continue;
    }
    const report = parsed.data;
    const [job] = await deps.db.select().from(jobs).where(eq(jobs.id, report.jobId));
    const expectedServer = report.role === 'source' ? job?.sourceServerId : job?.targetServerId;
    if (!job || expectedServer !== serverId) continue; // not this agent's job (any more)
    const now = deps.clock.now();
    const ctx = { orgId: job.orgId, jobId: job.id, jobName: job.name, lagThresholdSec: (job.spec as unknown as FilesJobSpec).replication?.lagThresholdSec ?? 60 };
    if (report.role === 'source') {
      await deps.db.update(jobs).set({ sourceStatus: report, sourceStatusAt: now }).where(eq(jobs.id, job.id));
      for (const e of sourceReportEvents(job.sourceStatus as JobReport | null, report, ctx)) deps.events.raise(e);
      await advanceFromSourceReport(deps, job, report);
    } else {
      await deps.db.update(jobs).set({ targetStatus: report, targetStatusAt: now }).where(eq(jobs.id, job.id));
      for (const e of targetReportEvents(job.targetStatus as JobReport | null, report, ctx)) deps.events.raise(e);
    }
  }
}

async function advanceFromSourceReport(deps: HubDeps, job: JobRow, report: JobReport): Promise<void> {
  if (report.epoch !== job.epoch) return;
  let req = job.mirrorRequest as { id?: string; mirrorId?: string } | null;
  let current = job;
  const prevAuto = Number(((job.sourceStatus as JobReport | null)?.replication as Record<string, unknown> | undefined)?.autoDisconnects ?? 0);
  const nowAuto = Number((report.replication as Record<string, unknown> | undefined)?.autoDisconnects ?? 0);
  if (nowAuto > prevAuto) current = await transitionIfLegal(deps, current, 'queue_exhausted');
  if (report.autoMirror && report.mirrorRequestId && report.mirrorRequestId !== (req?.mirrorId ?? req?.id)) {
    // The source started a difference mirror on its own (auto-reconnect, or after a crash): adopt it.
    const adopted = { id: report.mirrorRequestId, action: 'start', mode: 'different', blockChecksum: true, mirrorId: report.mirrorRequestId };
    await deps.db.update(jobs).set({ mirrorRequest: adopted }).where(eq(jobs.id, job.id));
    current = { ...current, mirrorRequest: adopted };
    req = adopted;
  }
  const mirrorId = req?.mirrorId ?? req?.id;
  if (mirrorId && report.mirrorRequestId === mirrorId) {
    if (report.mirrorComplete) {
      if (current.state === 'starting') current = await transitionIfLegal(deps, current, 'mirror_started');
      current = await transitionIfLegal(deps, current, 'mirror_complete');
    } else if (report.mirrorStatus === 'in_progress' || report.mirrorStatus === 'calculating' || report.mirrorStatus === 'removing_orphans') {
      current = await transitionIfLegal(deps, current, 'mirror_started');
    }
  }
  const verifyReq = job.verifyRequest as { id?: string } | null;
  if (report.verify && verifyReq?.id === report.verify.verifyId) {
    await deps.db.update(jobs).set({ verifyReport: report.verify }).where(eq(jobs.id, job.id));
  }
}
