// Status roll-up of a queue for the hub and the CLI: pure function over stats and limits.
import { formatBytes, isDiskQueueEnabled, type QueueLimits } from './limits';
import type { JobHealth } from '../../../shared/states';
import type { QueueState, QueueStats } from './types';

export interface QueueHealth {
  health: Extract<JobHealth, 'healthy' | 'warning' | 'error'>;
  state: QueueState;
  /** True when the queue refuses ops: the job must auto-disconnect, discard and remirror. */
  exhausted: boolean;
  memoryPercent: number;
  /**
   * Disk queue use: of `diskMaxBytes` when limited; when unlimited, of the space it could grow into
   * (its size + free space - minimum free), null while free space is unknown; null without a disk queue.
   */
  diskPercent: number | null;
  /** The figure compared with `alertPercent`: disk use when there is a disk queue, memory use otherwise. */
  usedPercent: number;
  /** usedPercent reached `alertPercent` (manual: queue usage alert threshold, default 50%). */
  alert: boolean;
  /** Operator text: the problem's reason, or the usage alert, or null. */
  message: string | null;
}

export function queueHealth(stats: QueueStats, limits: QueueLimits): QueueHealth {
  const memoryPercent = percent(stats.memoryBytes, limits.memoryMaxBytes);
  let diskPercent: number | null = null;
  if (isDiskQueueEnabled(limits)) {
    if (Number.isFinite(limits.diskMaxBytes)) {
      diskPercent = percent(stats.diskBytes, limits.diskMaxBytes);
    } else if (stats.diskFreeBytes !== null) {
      diskPercent = percent(stats.diskBytes, stats.diskBytes + stats.diskFreeBytes - limits.diskFreeMinBytes);
    }
  }
  const usedPercent = isDiskQueueEnabled(limits) ? (diskPercent ?? 0) : memoryPercent;
  const exhausted = stats.state !== 'ok';
  const alert = usedPercent >= limits.alertPercent;

  let message: string | null = null;
  if (stats.problem) {
    message = stats.problem.reason;
  } else if (alert) {
    message = isDiskQueueEnabled(limits)
      ? `disk queue ${usedPercent.toFixed(0)}% used (${formatBytes(stats.diskBytes)}); the target is falling behind`
      : `memory queue ${usedPercent.toFixed(0)}% used (${formatBytes(stats.memoryBytes)}) and there is no disk queue; ` +
        'the job auto-disconnects when it is full';
  }
  return {
    health: exhausted ? 'error' : alert ? 'warning' : 'healthy',
    state: stats.state,
    exhausted,
    memoryPercent,
    diskPercent,
    usedPercent,
    alert,
    message,
  };
}

/** used / capacity as 0-100, 100 when there is no capacity left at all. */
function percent(used: number, capacity: number): number {
  if (capacity <= 0) return used > 0 ? 100 : 0;
  return Math.min(100, (used / capacity) * 100);
}
