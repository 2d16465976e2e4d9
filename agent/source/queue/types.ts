// Shapes shared by the replication queue's parts: the operation a caller enqueues, the record it gets back, and stats.

/**
 * What the caller hands to `enqueue`. The queue never looks inside `kind`, `header` or `payload`, and keeps
 * the header and payload by reference while the op is in memory: the caller must not change them afterwards.
 */
export interface QueueOp {
  kind: string;
  /** Any JSON-serialisable object (not an array); stored as JSON on disk, returned as given or parsed. */
  header: object;
  payload?: Uint8Array;
}

/** An operation as read back from the queue, with the sequence number it was given. */
export interface QueuedRecord {
  seq: number;
  kind: string;
  header: Record<string, unknown>;
  payload?: Buffer;
  /** ms timestamp of the enqueue (survives restarts for ops on disk). */
  enqueuedAt: number;
}

/** `ok`, or a condition that requires the caller to auto-disconnect, `discardAll()` and remirror. */
export type QueueState = 'ok' | 'exhausted' | 'broken';

/**
 * Why the queue stopped accepting operations.
 * exhausted: memory_full (no disk queue), disk_limit (diskMaxBytes), disk_free (diskFreeMinBytes).
 * broken: io_error (queue files unreadable/unwritable), ops_lost (crash, torn or corrupt queue files).
 */
export type QueueProblemCause = 'memory_full' | 'disk_limit' | 'disk_free' | 'io_error' | 'ops_lost';

export interface QueueProblem {
  state: Exclude<QueueState, 'ok'>;
  cause: QueueProblemCause;
  /** One sentence for an operator: what happened and what to change. */
  reason: string;
  /** ms timestamp when the queue entered this state. */
  since: number;
}

export type EnqueueResult = { ok: true; seq: number } | { ok: false; problem: QueueProblem };

export interface QueueStats {
  memoryOps: number;
  memoryBytes: number;
  /** Unacknowledged operations held in segment files. */
  diskOps: number;
  /** Bytes of segment files on disk (space actually used, including acked records in partly-acked segments). */
  diskBytes: number;
  /** ms timestamp of the enqueue of the oldest unacknowledged op, null when nothing is unacknowledged. */
  oldestUnackedAt: number | null;
  lastSeq: number;
  ackedSeq: number;
  state: QueueState;
  problem: QueueProblem | null;
  /** Free bytes in the queue directory's file system at the last check, null if never checked. */
  diskFreeBytes: number | null;
}

/** What `open` found on disk. */
export interface QueueRecovery {
  /** False when the previous process did not `close()` the queue (crash, kill -9, power loss). */
  cleanShutdown: boolean;
  /** Unacknowledged operations found in segment files. */
  recoveredOps: number;
  /** Bytes cut from segment files because of a torn or corrupt record. */
  truncatedBytes: number;
  /** First missing sequence range, if any unacknowledged op could not be recovered. */
  lostSeqs: { from: number; to: number } | null;
}
