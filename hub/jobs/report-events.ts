// Pure: which catalog events a new agent report implies, by comparing it with the previous one (edges only,
// so a steady state raises nothing).
import type { JobReport } from '../../shared/protocol/jobs';
import type { RaiseInput } from '../../shared/events/types';

export interface ReportContext {
  orgId: string;
  jobId: string;
  jobName: string;
  lagThresholdSec: number;
}

type Ev = Omit<RaiseInput, 'orgId' | 'jobId'>;

const num = (v: unknown) => (typeof v === 'number' ? v : 0);
const rep = (r: JobReport | null) => (r?.replication ?? {}) as Record<string, unknown>;

export function sourceReportEvents(prev: JobReport | null, next: JobReport, ctx: ReportContext): RaiseInput[] {
  const out: Ev[] = [];
  const jobName = ctx.jobName;
  const p = rep(prev);
  const n = rep(next);
  if (next.mirror?.mirrorId && next.mirror.mirrorId !== prev?.mirror?.mirrorId && next.mirrorStatus !== 'idle') {
    out.push({ event: 'mirror.started', fields: { jobName, mode: next.autoMirror ? 'automatic difference mirror' : 'requested' } });
  }
  if (next.mirrorComplete && !(prev?.mirrorComplete && prev.mirror?.mirrorId === next.mirror?.mirrorId) && next.mirror) {
    const m = next.mirror;
    out.push({ event: 'mirror.completed', fields: { jobName, files: m.filesSent, bytes: m.bytesSent, durationSec: m.startedAt && m.completedAt ? Math.round((m.completedAt - m.startedAt) / 1000) : 0 } });
  }
  if (next.mirrorStatus === 'stopped' && prev?.mirrorStatus && prev.mirrorStatus !== 'stopped' && !next.mirrorComplete) {
    out.push({ event: 'mirror.stopped', fields: { jobName, reason: 'stopped by request' } });
  }
  if (next.verify?.completedAt && next.verify.verifyId !== (prev?.verify?.completedAt ? prev.verify.verifyId : null)) {
    const v = next.verify;
    out.push({ event: 'verify.completed', fields: { jobName, files: v.filesCompared, differences: v.different + v.missingOnTarget, remirrored: false } });
  }
  if (num(n.autoDisconnects) > num(p.autoDisconnects)) {
    out.push({ event: 'queue.exhausted', fields: { jobName, bytes: num(n.diskBytes) + num(n.memoryBytes), action: 'the job auto-disconnects' } });
    out.push({ event: 'queue.auto_disconnected', fields: { jobName, reason: String(n.exhaustedReason ?? '') } });
    out.push({ event: 'mirror.required', fields: { jobName, reason: String(n.exhaustedReason ?? 'queue exhausted') } });
  }
  if (p.exhaustedReason && !n.exhaustedReason) out.push({ event: 'queue.auto_reconnected', fields: { jobName } });
  out.push(...warningEvents(prev, next, jobName));
  // Outside its transmit windows a job queues by design: its lag says nothing until a window opens and it sends.
  const held = (r: JobReport | null) => r?.transmitMode === 'scheduled';
  const lagSec = Math.round(num(n.lagMs) / 1000);
  const prevLagSec = held(prev) ? 0 : Math.round(num(p.lagMs) / 1000);
  if (!held(next)) {
    if (lagSec > ctx.lagThresholdSec && !(prevLagSec > ctx.lagThresholdSec)) {
      out.push({ event: 'job.lag_above_threshold', fields: { jobName, lagSec, thresholdSec: ctx.lagThresholdSec } });
    } else if (lagSec <= ctx.lagThresholdSec && prevLagSec > ctx.lagThresholdSec) {
      out.push({ event: 'job.lag_below_threshold', fields: { jobName, lagSec, thresholdSec: ctx.lagThresholdSec } });
    }
  }
  return out.map((e) => ({ ...e, orgId: ctx.orgId, jobId: ctx.jobId }));
}

/** Source warnings that are problems with an event each way: raised when the warning appears, resolved when it goes. */
const WARNING_EVENTS = {
  // A mirror (or a restore, which is a mirror the other way) that cannot go on.
  mirror_blocked: { raised: 'mirror.blocked', resolved: 'mirror.unblocked' },
  // A volume gone from under the protected set: replication of it held, the target keeps its copy.
  source_volume_changed: { raised: 'replication.volume_changed', resolved: 'replication.volume_back' },
} as const;

/** The events of the source warnings that came or went between two reports (see WARNING_EVENTS). */
export function warningEvents(prev: JobReport | null, next: JobReport, jobName: string): Ev[] {
  const out: Ev[] = [];
  for (const [code, ev] of Object.entries(WARNING_EVENTS)) {
    const find = (r: JobReport | null) => r?.warnings?.find((w) => w.code === code);
    const now = find(next);
    if (now && !find(prev)) out.push({ event: ev.raised, fields: { jobName, reason: now.message } });
    if (!now && prev && find(prev)) out.push({ event: ev.resolved, fields: { jobName } });
  }
  return out;
}

export function targetReportEvents(prev: JobReport | null, next: JobReport, ctx: ReportContext): RaiseInput[] {
  const out: Ev[] = [];
  const pb = rep(prev).blocked as { path: string; message: string; seq: number } | null | undefined;
  const nb = rep(next).blocked as { path: string; message: string; seq: number } | null | undefined;
  if (nb && (!pb || pb.seq !== nb.seq)) out.push({ event: 'replication.blocked', fields: { jobName: ctx.jobName, path: nb.path, reason: nb.message, attempts: 1 } });
  if (pb && (!nb || nb.seq !== pb.seq)) out.push({ event: 'replication.unblocked', fields: { jobName: ctx.jobName, path: pb.path, attempts: 1 } });
  const before = new Set((prev?.snapshots ?? []).map((x) => x.id));
  // Only against a previous list (not a first report, nor a job that was still starting): those are not new.
  if (prev?.snapshots) {
    for (const snap of next.snapshots ?? []) {
      if (!before.has(snap.id)) out.push({ event: 'snapshot.taken', fields: { jobName: ctx.jobName, serverName: '', snapshotId: snap.id, scheduled: snap.scheduled } });
    }
  }
  return out.map((e) => ({ ...e, orgId: ctx.orgId, jobId: ctx.jobId }));
}
