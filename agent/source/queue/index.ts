// Public face of the replication queue: what the sender and the job runner import.
export { ReplicationQueue, type ReplicationQueueOptions, type ReadOptions, type CloseSummary } from './replication-queue';
export { queueHealth, type QueueHealth } from './health';
export { DEFAULT_QUEUE_LIMITS, QUEUE_SETTING_KEYS, resolveQueueLimits, roomToReconnect, formatBytes, type QueueLimits } from './limits';
export type { StatfsFn } from './free-space';
export type {
  QueueOp, QueuedRecord, QueueState, QueueProblem, QueueProblemCause, EnqueueResult, QueueStats, QueueRecovery,
} from './types';
