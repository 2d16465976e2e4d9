// Status enums named by the manual (chapter 7 job statuses), defined once and used by hub, agent and CLI.
import { z } from 'zod';

export const ServerStatus = z.enum(['online', 'offline']);
export type ServerStatus = z.infer<typeof ServerStatus>;

export const ApiRole = z.enum(['admin', 'monitor', 'issuer']);
export type ApiRole = z.infer<typeof ApiRole>;

export const JobHealth = z.enum(['healthy', 'warning', 'error', 'unknown']);
export type JobHealth = z.infer<typeof JobHealth>;

export const MirrorStatus = z.enum([
  'calculating', 'in_progress', 'waiting', 'idle', 'paused', 'stopped',
  'removing_orphans', 'verifying', 'restoring', 'unknown',
]);
export type MirrorStatus = z.infer<typeof MirrorStatus>;

export const TargetDataState = z.enum([
  'ok', 'mirroring', 'mirror_required', 'restore_required', 'snapshot_reverted', 'busy', 'not_loaded', 'unknown',
]);
export type TargetDataState = z.infer<typeof TargetDataState>;

export const ReplicationStatus = z.enum([
  'replicating', 'ready', 'pending', 'stopped', 'out_of_memory', 'failed', 'unknown',
]);
export type ReplicationStatus = z.infer<typeof ReplicationStatus>;

export const TransmitMode = z.enum(['active', 'paused', 'scheduled', 'stopped', 'error', 'unknown']);
export type TransmitMode = z.infer<typeof TransmitMode>;

export const CommandStatus = z.enum(['pending', 'delivered', 'succeeded', 'failed']);
export type CommandStatus = z.infer<typeof CommandStatus>;

// Files-job lifecycle state held by the hub; transitions live in shared/jobs/job-state.ts.
export const JobState = z.enum([
  'stopped', 'starting', 'mirroring', 'protecting', 'paused',
  'failover_condition_met', 'failing_over', 'failed_over',
  'restoring', 'restored', 'failing_back_after_restore',
  'failing_back', 'restore_required', 'restoring_after_failback',
  'mirror_required', 'reversing', 'error',
]);
export type JobState = z.infer<typeof JobState>;
