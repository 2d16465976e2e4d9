// What the hub tells agents about their jobs (desired state) and what agents report back, per job.
import { z } from 'zod';
import { MirrorStatus, ReplicationStatus, TransmitMode, TargetDataState } from '../states';

/**
 * A time in a report, as epoch milliseconds within what a Date can hold. A report with a time outside that (an agent's
 * broken clock, a corrupt report) is refused whole: stored, it would make every view of the job fail to render.
 */
export const EpochMs = z.number().min(0).max(8.64e15);

export const PeerInfo = z.object({
  serverId: z.string(),
  name: z.string(),
  addresses: z.array(z.string()),
  port: z.number(),
  fingerprint: z.string(),
});
export type PeerInfo = z.infer<typeof PeerInfo>;

export const MirrorRequest = z.object({
  id: z.string(),
  action: z.enum(['start', 'pause', 'resume', 'stop']),
  /** The start request this control belongs to (absent on a start: its own id). */
  mirrorId: z.string().optional(),
  mode: z.enum(['all', 'different']).optional(),
  /** Set when the hub forces block checksums (e.g. after an auto-disconnect). */
  blockChecksum: z.boolean().optional(),
});
export type MirrorRequest = z.infer<typeof MirrorRequest>;

export const VerifyOrder = z.object({
  id: z.string(),
  mirrorDifferences: z.boolean(),
  newerOnly: z.boolean(),
  blockChecksum: z.boolean(),
});
export type VerifyOrder = z.infer<typeof VerifyOrder>;

/** The goal state for one job on one agent, sent on every poll (idempotent, like a keeper's goal state). */
export const DesiredJob = z.object({
  jobId: z.string(),
  name: z.string(),
  role: z.enum(['source', 'target']),
  /** running: protect; stopped: do nothing and drop queues. */
  run: z.enum(['running', 'stopped']),
  state: z.string(),
  epoch: z.number().int(),
  spec: z.record(z.string(), z.unknown()),
  sourceName: z.string(),
  peer: PeerInfo,
  /** Short-lived EdDSA JWT scoped to the job and epoch; the source presents it on every stream. */
  jobToken: z.string(),
  mirror: MirrorRequest.nullable(),
  verify: VerifyOrder.nullable(),
  controls: z.record(z.string(), z.unknown()),
});
export type DesiredJob = z.infer<typeof DesiredJob>;

export const JobTokenClaims = z.object({
  job: z.string(),
  epoch: z.number().int(),
  src: z.string(),
  tgt: z.string(),
  exp: z.number(),
});
export type JobTokenClaims = z.infer<typeof JobTokenClaims>;

export const MirrorStats = z.object({
  mirrorId: z.string().nullable(),
  filesTotal: z.number().nullable(),
  bytesTotal: z.number().nullable(),
  filesSent: z.number(),
  bytesSent: z.number(),
  filesSkipped: z.number(),
  bytesSkipped: z.number(),
  /** Bytes of frames before and after compression. */
  wireRawBytes: z.number(),
  wireCompressedBytes: z.number(),
  startedAt: EpochMs.nullable(),
  completedAt: EpochMs.nullable(),
  throughputBps: z.number(),
  orphansFound: z.number(),
  orphansRemoved: z.number(),
});
export type MirrorStats = z.infer<typeof MirrorStats>;

export const VerifyReport = z.object({
  verifyId: z.string(),
  startedAt: EpochMs,
  completedAt: EpochMs.nullable(),
  filesCompared: z.number(),
  identical: z.number(),
  different: z.number(),
  missingOnTarget: z.number(),
  orphansOnTarget: z.number(),
  /** First differing paths (capped). */
  paths: z.array(z.object({ path: z.string(), reason: z.string() })),
  truncated: z.boolean(),
  /** Started by the job's verify schedule on the source, not requested through the hub. */
  scheduled: z.boolean().optional(),
});
export type VerifyReport = z.infer<typeof VerifyReport>;

export const MonitorProbe = z.object({
  at: EpochMs,
  method: z.enum(['network', 'service', 'services']),
  target: z.string(),
  ok: z.boolean(),
});

export const StepResult = z.object({
  step: z.string(),
  ok: z.boolean(),
  skipped: z.boolean().optional(),
  detail: z.string(),
  durationMs: z.number(),
  output: z.string().optional(),
});
export type StepResult = z.infer<typeof StepResult>;

/** Progress of a failover / failback carried out by an agent, step by step. */
export const ActionProgress = z.object({
  id: z.string(),
  kind: z.enum(['failover', 'failback', 'fence']),
  status: z.enum(['running', 'done', 'failed']),
  steps: z.array(StepResult),
  startedAt: EpochMs,
  completedAt: EpochMs.nullable(),
});
export type ActionProgress = z.infer<typeof ActionProgress>;

export const JobBusy = z.enum(['starting', 'updating', 'stopping']);
export type JobBusy = z.infer<typeof JobBusy>;

export const JobReport = z.object({
  jobId: z.string(),
  role: z.enum(['source', 'target']),
  epoch: z.number().int(),
  at: EpochMs,
  mirrorStatus: MirrorStatus.optional(),
  mirror: MirrorStats.optional(),
  /** The mirror request id the agent has acted on, and whether that mirror finished. */
  mirrorRequestId: z.string().nullable().optional(),
  mirrorComplete: z.boolean().optional(),
  /** The source started this mirror itself (auto-reconnect after queue exhaustion, or after a crash). */
  autoMirror: z.boolean().optional(),
  replicationStatus: ReplicationStatus.optional(),
  transmitMode: TransmitMode.optional(),
  targetDataState: TargetDataState.optional(),
  verify: VerifyReport.nullable().optional(),
  connection: z.object({ id: z.string().nullable(), since: EpochMs.nullable(), error: z.string().nullable() }).optional(),
  replication: z.record(z.string(), z.unknown()).optional(),
  warnings: z.array(z.object({ code: z.string(), message: z.string() })).optional(),
  refusedPaths: z.number().optional(),
  /** Source only: the bandwidth limit in force (null: none) and the transmit windows (open, and when that changes). */
  transmit: z.object({ limitBytesPerSec: z.number().nullable(), windowOpen: z.boolean(), windowChangesAt: EpochMs.nullable() }).optional(),
  /** Target only: failover monitor probes of the source, newest last. */
  probes: z.array(MonitorProbe).max(2000).optional(),
  /** Failover / failback progress on this agent. */
  action: ActionProgress.nullable().optional(),
  /** Target only: snapshots of the replica. */
  snapshots: z.array(z.object({ id: z.string(), takenAt: EpochMs, method: z.string(), bytes: z.number(), scheduled: z.boolean() })).max(1000).optional(),
  /** Source only: what the source did itself around a failover/failback (stop/start services, post-failback script). */
  sourceSteps: z.array(StepResult).max(100).optional(),
  /** Source only: this source stopped sending because the job failed over or it was isolated. */
  fenced: z.string().nullable().optional(),
  lastError: z.string().nullable().optional(),
  /**
   * The agent is starting, updating or stopping this job right now (a source's start stats its whole set: some
   * 40 s per million files). Such a report carries nothing else: the job's state is not settled enough to show.
   */
  busy: JobBusy.optional(),
});
export type JobReport = z.infer<typeof JobReport>;
