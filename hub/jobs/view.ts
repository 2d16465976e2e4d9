// The API view of a job: definition, lifecycle, and the status roll-up.
import type { FilesJobSpec } from '../../shared/jobs/definition';
import type { JobReport } from '../../shared/protocol/jobs';
import type { JobState } from '../../shared/states';
import { legalCommands } from '../../shared/jobs/job-state';
import { iso } from '../routes/time';
import type { JobRow } from './lookup';
import { rollUpJobStatus } from './status';

export function jobView(job: JobRow, now: number, names: { source?: string; target?: string } = {}) {
  const spec = job.spec as unknown as FilesJobSpec;
  const status = rollUpJobStatus({
    state: job.state as JobState,
    sourceReport: job.sourceStatus as JobReport | null,
    targetReport: job.targetStatus as JobReport | null,
    sourceReportAt: job.sourceStatusAt,
    targetReportAt: job.targetStatusAt,
    now,
    calculateSize: spec.mirror?.calculateSize ?? true,
    restoreReport: (job.controls.restoreStatus as JobReport | undefined) ?? null,
  });
  return {
    id: job.id,
    name: job.name,
    type: job.type,
    source: { id: job.sourceServerId, name: names.source ?? null },
    target: { id: job.targetServerId, name: names.target ?? null },
    state: job.state,
    epoch: job.epoch,
    legalCommands: legalCommands(job.state as JobState),
    ...status,
    mirrorRequest: job.mirrorRequest,
    failover: {
      order: job.controls.failover ?? null,
      progress: (job.targetStatus as JobReport | null)?.action ?? null,
      restore: job.controls.restore ?? null,
      restoreStatus: job.controls.restoreStatus ?? null,
      fenced: (job.sourceStatus as JobReport | null)?.fenced ?? null,
      sourceSteps: (job.sourceStatus as JobReport | null)?.sourceSteps ?? [],
      monitor: monitorSummary(job.targetStatus as JobReport | null),
    },
    spec,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
  };
}

/** What the target's failover monitor has seen lately (the hub decides from the full list). */
function monitorSummary(report: JobReport | null) {
  const probes = report?.probes ?? [];
  if (!probes.length) return null;
  const last = probes.at(-1)!;
  let misses = 0;
  for (let i = probes.length - 1; i >= 0 && !probes[i]!.ok; i--) misses++;
  return { lastProbeAt: new Date(last.at).toISOString(), lastOk: last.ok, consecutiveMisses: misses, probes: probes.length };
}
