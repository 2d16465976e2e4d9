// Takes the per-job status agents report on their polls, stores it, and moves the job's lifecycle on
// (mirror started / complete) through the transition table.
import { eq } from 'drizzle-orm';
import { JobReport } from '../../shared/protocol/jobs';
import { jobs } from '../db/schema';
import type { HubDeps } from '../deps';
import type { JobRow } from './lookup';
import { transitionIfLegal } from './transition';
import { warningEvents, sourceReportEvents, targetReportEvents } from './report-events';
import { RESTORE_SUFFIX } from './desired';
import type { FilesJobSpec } from '../../shared/jobs/definition';
import { zodMessage } from '../middleware/errors';

export async function ingestJobReports(deps: HubDeps, serverId: string, raw: Record<string, unknown>[]): Promise<void> {
  for (const item of raw) {
    const parsed = JobReport.safeParse(item);
    if (!parsed.success) {
      deps.log.warn({ serverId, jobId: item.jobId, issues: zodMessage(parsed.error) }, 'ignoring malformed job report');
      continue;
    }
    const report = parsed.data;
    if (report.jobId.endsWith(RESTORE_SUFFIX)) {
      await ingestRestoreReport(deps, serverId, report);
      continue;
    }
    const [job] = await deps.db.select().from(jobs).where(eq(jobs.id, report.jobId));
    const expectedServer = report.role === 'source' ? job?.sourceServerId : job?.targetServerId;
    if (!job || expectedServer !== serverId) continue; // not this agent's job (any more)
    const now = deps.clock.now();
    if (report.busy) {
      await ingestBusyReport(deps, job, report, now);
      continue;
    }
    const ctx = { orgId: job.orgId, jobId: job.id, jobName: job.name, lagThresholdSec: (job.spec as unknown as FilesJobSpec).replication?.lagThresholdSec ?? 60 };
    if (report.role === 'source') {
      await deps.db.update(jobs).set({ sourceStatus: report, sourceStatusAt: now }).where(eq(jobs.id, job.id));
      for (const e of sourceReportEvents(job.sourceStatus as JobReport | null, report, ctx)) deps.events.raise(e);
      await advanceFromSourceReport(deps, job, report);
    } else {
      await deps.db.update(jobs).set({ targetStatus: report, targetStatusAt: now }).where(eq(jobs.id, job.id));
      for (const e of targetReportEvents(job.targetStatus as JobReport | null, report, ctx)) deps.events.raise(e);
    }
    if (report.action) await advanceFromAction(deps, job, report.role === 'source' ? (job.sourceStatus as JobReport | null) : (job.targetStatus as JobReport | null), report);
  }
}

/**
 * The agent is starting, updating or stopping the job: it is in hand, so the last report stays (marked busy, fresh)
 * instead of going stale. Nothing moves on and no event is raised: the next full report is compared with the last one.
 */
async function ingestBusyReport(deps: HubDeps, job: JobRow, report: JobReport, now: number): Promise<void> {
  const kept = keptWhileBusy((report.role === 'source' ? job.sourceStatus : job.targetStatus) as JobReport | null, report);
  const set = report.role === 'source' ? { sourceStatus: kept, sourceStatusAt: now } : { targetStatus: kept, targetStatusAt: now };
  await deps.db.update(jobs).set(set).where(eq(jobs.id, job.id));
}

/** What is stored for a busy report: the last full report marked busy (and the reason of a failed start), else it. */
function keptWhileBusy(prev: JobReport | null | undefined, report: JobReport): JobReport {
  return prev ? { ...prev, at: report.at, busy: report.busy, ...(report.lastError ? { lastError: report.lastError } : {}) } : report;
}

async function advanceFromSourceReport(deps: HubDeps, job: JobRow, report: JobReport): Promise<void> {
  if (report.epoch !== job.epoch) return;
  let req = job.mirrorRequest as { id?: string; mirrorId?: string; requestedAt?: number } | null;
  let current = job;
  const prevAuto = Number(((job.sourceStatus as JobReport | null)?.replication as Record<string, unknown> | undefined)?.autoDisconnects ?? 0);
  const nowAuto = Number((report.replication as Record<string, unknown> | undefined)?.autoDisconnects ?? 0);
  if (nowAuto > prevAuto) current = await transitionIfLegal(deps, current, 'queue_exhausted');
  const autoRunning = report.autoMirror && !report.mirrorComplete && report.mirrorStatus !== 'stopped';
  const autoIsNewer = (report.mirror?.startedAt ?? Date.now()) > (req?.requestedAt ?? 0);
  if (autoRunning && autoIsNewer && report.mirrorRequestId && report.mirrorRequestId !== (req?.mirrorId ?? req?.id)) {
    // The source started a difference mirror on its own (auto-reconnect, or after a crash): adopt it.
    const adopted = { id: report.mirrorRequestId, action: 'start', mode: 'different', blockChecksum: true, mirrorId: report.mirrorRequestId, requestedAt: report.mirror?.startedAt ?? deps.clock.now() };
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
  const verifyReq = job.verifyRequest as { id?: string; requestedAt?: number } | null;
  if (report.verify && verifyReq?.id === report.verify.verifyId) {
    await deps.db.update(jobs).set({ verifyReport: report.verify }).where(eq(jobs.id, job.id));
  } else if (report.verify?.scheduled && report.verify.startedAt > (verifyReq?.requestedAt ?? 0)) {
    // A verify the job's schedule started on the source: it becomes the job's current verify (the source already
    // counts this id as handled, so it is not started twice).
    const spec = job.spec as { verify?: { mirrorDifferences?: boolean; newerOnly?: boolean; blockChecksum?: boolean } };
    const adopted = {
      id: report.verify.verifyId, scheduled: true, requestedAt: report.verify.startedAt,
      mirrorDifferences: !!spec.verify?.mirrorDifferences, newerOnly: !!spec.verify?.newerOnly, blockChecksum: !!spec.verify?.blockChecksum,
    };
    await deps.db.update(jobs).set({ verifyRequest: adopted, verifyReport: report.verify }).where(eq(jobs.id, job.id));
  }
}

/** A restore runs as a reverse job on the target; its completion moves the job to Restored (or on to Mirror Required). */
async function ingestRestoreReport(deps: HubDeps, serverId: string, report: JobReport): Promise<void> {
  const jobId = report.jobId.slice(0, -RESTORE_SUFFIX.length);
  const [job] = await deps.db.select().from(jobs).where(eq(jobs.id, jobId));
  if (!job || report.role !== 'source' || job.targetServerId !== serverId || report.epoch !== job.epoch) return;
  const restore = job.controls.restore as { id: string } | undefined;
  // Busy (the reverse job starting): the last restore report stays, as for the job's own reports.
  const kept = report.busy ? keptWhileBusy(job.controls.restoreStatus as JobReport | undefined, report) : report;
  await deps.db.update(jobs).set({ controls: { ...job.controls, restoreStatus: kept } }).where(eq(jobs.id, job.id));
  if (report.busy) return;
  for (const e of warningEvents((job.controls.restoreStatus as JobReport | undefined) ?? null, report, job.name)) {
    deps.events.raise({ ...e, orgId: job.orgId, jobId: job.id });
  }
  if (restore && report.mirrorRequestId === restore.id && report.mirrorComplete) {
    const next = await transitionIfLegal(deps, job, 'restore_done');
    if (next.state !== job.state) {
      deps.events.raise({ event: 'restore.completed', orgId: job.orgId, jobId: job.id, fields: { jobName: job.name, files: report.mirror?.filesSent ?? 0, bytes: report.mirror?.bytesSent ?? 0 } });
    }
  }
}

/** Failover / failback progress reported by the agent carrying it out: events per step, then the outcome. */
async function advanceFromAction(deps: HubDeps, job: JobRow, prev: JobReport | null, report: JobReport): Promise<void> {
  const a = report.action!;
  const order = job.controls[a.kind] as { id: string } | undefined;
  if (!order || order.id !== a.id) return;
  const seen = prev?.action?.id === a.id ? prev.action.steps.length : 0;
  const base = { orgId: job.orgId, jobId: job.id };
  if (a.kind === 'failover' || a.kind === 'failback') {
    for (const step of a.steps.slice(seen)) {
      if (a.kind === 'failover') {
        deps.events.raise({ ...base, event: step.ok ? 'failover.step_completed' : 'failover.step_failed', fields: { jobName: job.name, step: step.step, error: step.detail } });
      }
    }
  }
  if (a.status === 'running') return;
  const ok = a.status === 'done';
  const command = a.kind === 'failover' ? (ok ? 'failover_done' : 'failover_failed') : a.kind === 'failback' ? (ok ? 'failback_done' : 'failback_failed') : null;
  if (!command) return;
  const next = await transitionIfLegal(deps, job, command);
  if (next.state === job.state) return;
  const failedStep = a.steps.find((s) => !s.ok && !s.skipped);
  if (a.kind === 'failover') {
    deps.events.raise(ok
      ? { ...base, event: 'failover.completed', fields: { jobName: job.name, targetName: job.targetServerId } }
      : { ...base, event: 'failover.failed', fields: { jobName: job.name, error: failedStep?.detail ?? 'unknown', step: failedStep?.step ?? '' } });
  } else {
    deps.events.raise(ok
      ? { ...base, event: 'failback.completed', fields: { jobName: job.name, sourceName: job.sourceServerId } }
      : { ...base, event: 'failback.failed', fields: { jobName: job.name, error: failedStep?.detail ?? 'unknown', step: failedStep?.step ?? '' } });
  }
}
