// Queue limits (manual ch. 5 "Double-Take queue": memory, disk queue size, minimum free space) and operator messages.
import type { QueueProblem, QueueProblemCause } from './types';

const MiB = 1024 * 1024;

export interface QueueLimits {
  /** Memory buffer for queued ops; beyond it ops spill to disk. */
  memoryMaxBytes: number;
  /** Disk queue cap. `Infinity` = unlimited (grows while free space allows), `0` = no disk queue. */
  diskMaxBytes: number;
  /** Space always left free in the queue directory's file system. */
  diskFreeMinBytes: number;
  /** Target segment file size; an op larger than this gets a segment of its own. */
  segmentBytes: number;
  /** Percent of the queue in use that raises a warning in `queueHealth` (manual default 50). */
  alertPercent: number;
}

export const DEFAULT_QUEUE_LIMITS: Readonly<QueueLimits> = Object.freeze({
  memoryMaxBytes: 1024 * MiB,
  diskMaxBytes: Infinity,
  diskFreeMinBytes: 50 * MiB,
  segmentBytes: 16 * MiB,
  alertPercent: 50,
});

/** The configuration keys an operator changes; named in messages so they can act on them. */
export const QUEUE_SETTING_KEYS = {
  memoryMax: 'queue.memoryMaxMB',
  diskMax: 'queue.diskMaxMB',
  diskFreeMin: 'queue.diskFreeMinMB',
} as const;

export function resolveQueueLimits(partial: Partial<QueueLimits> = {}): QueueLimits {
  const limits = { ...DEFAULT_QUEUE_LIMITS, ...partial };
  const nonNegative = (name: keyof QueueLimits, allowInfinity = false) => {
    const v = limits[name];
    if (!(v >= 0) || (!allowInfinity && !Number.isFinite(v))) {
      throw new RangeError(`queue limit ${name} must be a non-negative${allowInfinity ? '' : ' finite'} number, got ${v}`);
    }
  };
  nonNegative('memoryMaxBytes');
  nonNegative('diskMaxBytes', true);
  nonNegative('diskFreeMinBytes');
  nonNegative('segmentBytes');
  nonNegative('alertPercent');
  if (limits.segmentBytes < 1) throw new RangeError('queue limit segmentBytes must be at least 1');
  return limits;
}

export function isDiskQueueEnabled(limits: QueueLimits): boolean {
  return limits.diskMaxBytes > 0;
}

/**
 * After an auto-disconnect the queue is empty again, and the job reconnects (and remirrors) only once the queue has
 * room to take changes: with a disk queue, free space must be back above the minimum by a margin (a quarter of the
 * minimum, at least 1 MiB). Reconnecting sooner, the first changes after the mirror would exhaust the queue at once
 * and start another full difference mirror, in a loop. Without a disk queue the discard freed the memory: room is back.
 */
export function roomToReconnect(limits: QueueLimits, freeBytes: number | null): { ok: true } | { ok: false; reason: string } {
  if (!isDiskQueueEnabled(limits)) return { ok: true };
  const needed = limits.diskFreeMinBytes + Math.max(limits.diskFreeMinBytes / 4, MiB);
  if (freeBytes !== null && freeBytes >= needed) return { ok: true };
  const free = freeBytes === null ? 'free space unknown' : `${formatBytes(freeBytes)} free`;
  return {
    ok: false,
    reason: `waiting for free space before reconnecting: ${free} in the queue's file system, the job reconnects and ` +
      `runs a difference mirror once ${formatBytes(needed)} is free (${QUEUE_SETTING_KEYS.diskFreeMin} plus a margin); free space there or lower that setting`,
  };
}

/** "512 MB", "1.5 GB", "4 KB", "300 bytes": whole units where possible, for messages. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unlimited';
  const units: Array<[number, string]> = [[1024 * 1024 * 1024, 'GB'], [MiB, 'MB'], [1024, 'KB']];
  for (const [size, unit] of units) {
    if (bytes >= size) {
      const n = bytes / size;
      return `${Number.isInteger(n) ? n : n.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} bytes`;
}

interface ProblemContext {
  limits: QueueLimits;
  dir: string;
  freeBytes?: number;
  detail?: string;
}

/** Builds the problem (and its operator message) for a cause. */
export function describeProblem(cause: QueueProblemCause, ctx: ProblemContext, now: number): QueueProblem {
  const { limits, dir } = ctx;
  const k = QUEUE_SETTING_KEYS;
  switch (cause) {
    case 'memory_full':
      return {
        state: 'exhausted', cause, since: now,
        reason: `memory queue full: ${formatBytes(limits.memoryMaxBytes)} limit reached and the disk queue is disabled; ` +
          `raise ${k.memoryMax} or enable the disk queue (${k.diskMax})`,
      };
    case 'disk_limit':
      return {
        state: 'exhausted', cause, since: now,
        reason: `disk queue full: ${formatBytes(limits.diskMaxBytes)} limit reached; raise ${k.diskMax} or free space in ${dir}`,
      };
    case 'disk_free':
      return {
        state: 'exhausted', cause, since: now,
        reason: `disk queue stopped: ${formatBytes(ctx.freeBytes ?? 0)} free in ${dir}, the minimum to keep free is ` +
          `${formatBytes(limits.diskFreeMinBytes)} (${k.diskFreeMin}); free space there or move the queue to a larger volume`,
      };
    case 'io_error':
      return {
        state: 'broken', cause, since: now,
        reason: `disk queue in ${dir} cannot be read or written (${ctx.detail ?? 'unknown error'}); ` +
          'check the volume and permissions, the job needs a remirror',
      };
    case 'ops_lost':
      return {
        state: 'broken', cause, since: now,
        reason: `queued operations were lost (${ctx.detail ?? 'unknown cause'}); the job needs a remirror`,
      };
  }
}
