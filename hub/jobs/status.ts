// Pure roll-up of what the operator sees for a job: health, activity, the manual's status columns and stats,
// from the hub's lifecycle state and the latest reports of the two agents.
import type { JobReport, MirrorStats } from '../../shared/protocol/jobs';
import type { JobHealth, MirrorStatus, ReplicationStatus, TargetDataState, TransmitMode, JobState } from '../../shared/states';
import { jobActivity, RESTORING_STATES, RUNNING_STATES } from '../../shared/jobs/job-state';


/** A report older than this is not trusted: the agent is probably down. */
export const REPORT_STALE_MS = 60_000;

export interface JobStatusInput {
  state: JobState;
  sourceReport: JobReport | null;
  targetReport: JobReport | null;
  sourceReportAt: number | null;
  targetReportAt: number | null;
  now: number;
  calculateSize: boolean;
  /** While restoring: the report of the reverse job (the target sending the replica back to the source). */
  restoreReport?: JobReport | null;
}



export interface JobStatusView {
  health: JobHealth;
  activity: string;
  mirrorStatus: MirrorStatus;
  replicationStatus: ReplicationStatus;
  transmitMode: TransmitMode;
  targetDataState: TargetDataState;
  stats: Record<string, unknown>;
  warnings: Array<{ code: string; message: string }>;
}

export function rollUpJobStatus(i: JobStatusInput): JobStatusView {
  const fresh = (at: number | null) => at != null && i.now - at <= REPORT_STALE_MS;
  const src = fresh(i.sourceReportAt) ? i.sourceReport : null;
  const tgt = fresh(i.targetReportAt) ? i.targetReport : null;
  const stopped = i.state === 'stopped';
  // Outside the protecting states (failed over, restoring, failing back…) the source does not replicate.
  const replicating = RUNNING_STATES.has(i.state);

  // A restore is a mirror the other way: while it sends, the job's mirror status is the manual's "Restoring".
  const restore = RESTORING_STATES.has(i.state) && i.restoreReport && fresh(i.restoreReport.at) ? i.restoreReport : null;
  const warnings = [...(src?.warnings ?? []), ...(tgt?.warnings ?? []), ...(restore?.warnings ?? [])];
  // A mirror (or restore) that cannot go on (the target out of space, say), or a protected volume gone from under the
  // source, leaves a copy short of data: an error.
  const copyShort = warnings.some((w) => w.code === 'mirror_blocked' || w.code === 'source_volume_changed');
  const mirrorStatus: MirrorStatus = stopped ? 'stopped'
    : restore ? (restore.mirrorStatus === 'in_progress' ? 'restoring' : reportedMirrorStatus(restore))
      : src ? reportedMirrorStatus(src) : 'unknown';
  // The target knows best that an operation cannot be applied: it keeps retrying while the source, idle, reports ready.
  const targetBlocked = !!tgt?.replication?.blocked;
  const replicationStatus: ReplicationStatus = !replicating ? 'stopped' : targetBlocked ? 'failed' : src?.replicationStatus ?? 'unknown';
  const transmitMode: TransmitMode = !replicating ? 'stopped' : i.state === 'paused' ? 'paused' : src?.transmitMode ?? 'unknown';
  const targetDataState: TargetDataState =
    i.state === 'mirror_required' ? 'mirror_required'
      : i.state === 'restore_required' ? 'restore_required'
        : src?.targetDataState ?? tgt?.targetDataState ?? 'unknown';

  let activity = jobActivity(i.state);
  if (i.state === 'mirroring' && src?.mirror) activity += progressSuffix(src.mirror, i.calculateSize);
  if (restore?.mirror && !restore.mirrorComplete) activity += progressSuffix(restore.mirror, i.calculateSize);
  if (src?.lastError && ['starting', 'mirroring', 'protecting', 'paused'].includes(i.state)) activity += ` (${src.lastError})`;
  if (restore?.lastError && !restore.mirrorComplete) activity += ` (${restore.lastError})`;
  const busy = [src?.busy && `source agent ${busyText(src.busy, 'source')}`, tgt?.busy && `target agent ${busyText(tgt.busy, 'target')}`].filter(Boolean);
  if (busy.length && !stopped) activity += ` (${busy.join('; ')})`;
  if (transmitMode === 'scheduled') {
    const opens = src?.transmit?.windowChangesAt;
    activity += ` (outside the transmit windows: changes are queued${opens ? ` until ${new Date(opens).toISOString()}` : ''})`;
  }

  let health: JobHealth = 'healthy';
  if (stopped) health = 'unknown';
  else if (!replicating) health = i.state === 'error' || copyShort ? 'error' : 'warning';
  else if (['error'].includes(i.state) || replicationStatus === 'failed' || transmitMode === 'error' || copyShort) health = 'error';
  else if (!src || !tgt) health = 'warning';
  else if (warnings.length || ['failover_condition_met', 'mirror_required', 'restore_required'].includes(i.state) || (src?.refusedPaths ?? 0) > 0 || (tgt?.refusedPaths ?? 0) > 0) health = 'warning';
  if (replicating && !src) warnings.push({ code: 'source_not_reporting', message: 'The source agent has not reported recently: is it running and can it reach the hub?' });
  if (replicating && !tgt) warnings.push({ code: 'target_not_reporting', message: 'The target agent has not reported recently: is it running and can it reach the hub?' });

  return { health, activity, mirrorStatus, replicationStatus, transmitMode, targetDataState, stats: statsOf(src, tgt, i.calculateSize, i.now), warnings };
}

function busyText(busy: NonNullable<JobReport['busy']>, role: 'source' | 'target'): string {
  if (busy === 'starting') return role === 'source' ? 'starting the job: reading the protected set' : 'starting the job';
  return busy === 'updating' ? 'applying a change to the job' : 'stopping the job';
}

/** What a report says of the mirror; a job still starting has no mirror yet but is preparing one. */
function reportedMirrorStatus(r: JobReport): MirrorStatus {
  return r.mirrorStatus ?? (r.busy === 'starting' ? 'calculating' : 'unknown');
}

function progressSuffix(m: MirrorStats, calculateSize: boolean): string {
  if (!calculateSize || !m.bytesTotal) return '';
  const done = m.bytesSent + m.bytesSkipped;
  return ` ${Math.min(100, Math.floor((done / m.bytesTotal) * 100))}%`;
}

function statsOf(src: JobReport | null, tgt: JobReport | null, calculateSize: boolean, now: number): Record<string, unknown> {
  const m = src?.mirror;
  const done = m ? m.bytesSent + m.bytesSkipped : 0;
  const remaining = m?.bytesTotal != null ? Math.max(0, m.bytesTotal - done) : null;
  const filesRemaining = m?.filesTotal != null ? Math.max(0, m.filesTotal - m.filesSent - m.filesSkipped) : null;
  // From the pace so far of what is done (sent or found identical): a block-checksum mirror skips most bytes, and
  // the bytes-sent throughput alone would make its estimate far too long.
  const elapsedMs = m?.startedAt ? now - m.startedAt : 0;
  const eta = remaining != null && m && done > 0 && elapsedMs > 0 && !m.completedAt ? Math.round((remaining * elapsedMs) / done / 1000) : null;
  const rep = (src?.replication ?? {}) as Record<string, unknown>;
  return {
    bytesTotal: m?.bytesTotal ?? null,
    bytesSent: m?.bytesSent ?? 0,
    bytesSkipped: m?.bytesSkipped ?? 0,
    bytesRemaining: remaining,
    filesTotal: m?.filesTotal ?? null,
    filesSent: m?.filesSent ?? 0,
    filesSkipped: m?.filesSkipped ?? 0,
    filesRemaining,
    percentComplete: calculateSize && m?.bytesTotal ? Math.min(100, Math.round((done / m.bytesTotal) * 1000) / 10) : null,
    wireRawBytes: (m?.wireRawBytes ?? 0) + Number(rep.wireRawBytes ?? 0),
    wireCompressedBytes: (m?.wireCompressedBytes ?? 0) + Number(rep.wireCompressedBytes ?? 0),
    throughputBps: m?.throughputBps ?? 0,
    etaSec: eta,
    orphansFound: m?.orphansFound ?? 0,
    orphansRemoved: m?.orphansRemoved ?? 0,
    mirrorStartedAt: m?.startedAt ? new Date(m.startedAt).toISOString() : null,
    mirrorCompletedAt: m?.completedAt ? new Date(m.completedAt).toISOString() : null,
    /** The bandwidth limit in force (bytes/s; null: no limit) and the transmit windows' state. */
    bandwidthLimitBps: src?.transmit?.limitBytesPerSec ?? null,
    transmitWindowOpen: src?.transmit?.windowOpen ?? null,
    transmitWindowChangesAt: src?.transmit?.windowChangesAt ? new Date(src.transmit.windowChangesAt).toISOString() : null,
    connectionId: src?.connection?.id ?? null,
    connectedSince: src?.connection?.since ? new Date(src.connection.since).toISOString() : null,
    refusedPaths: tgt?.refusedPaths ?? 0,
    replication: rep,
    /** Received and held on the target, not applied yet (target paused, or an operation blocking). */
    targetQueue: tgt?.replication ? { ops: Number(tgt.replication.queuedOps ?? 0), bytes: Number(tgt.replication.queueDiskBytes ?? 0) } : null,
    reportedAt: src ? new Date(src.at).toISOString() : null,
    ageSec: src ? Math.round((now - src.at) / 1000) : null,
  };
}
