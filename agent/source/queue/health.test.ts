import { describe, expect, it } from 'vitest';
import { queueHealth } from './health';
import { resolveQueueLimits } from './limits';
import type { QueueStats } from './types';

const MiB = 1024 * 1024;
const base: QueueStats = {
  memoryOps: 0, memoryBytes: 0, diskOps: 0, diskBytes: 0, oldestUnackedAt: null,
  lastSeq: 0, ackedSeq: 0, state: 'ok', problem: null, diskFreeBytes: null,
};

describe('queueHealth', () => {
  it('is healthy when the disk queue is under the alert threshold', () => {
    const h = queueHealth({ ...base, diskBytes: 100 * MiB }, resolveQueueLimits({ diskMaxBytes: 512 * MiB }));
    expect(h).toMatchObject({ health: 'healthy', exhausted: false, alert: false, message: null });
    expect(h.diskPercent).toBeCloseTo(19.53, 1);
  });

  it('warns at the alert threshold of a limited disk queue (manual default 50%)', () => {
    const h = queueHealth({ ...base, diskBytes: 256 * MiB }, resolveQueueLimits({ diskMaxBytes: 512 * MiB }));
    expect(h).toMatchObject({ health: 'warning', alert: true, diskPercent: 50 });
    expect(h.message).toContain('disk queue 50% used');
  });

  it('measures an unlimited disk queue against the space it can still grow into', () => {
    const limits = resolveQueueLimits({ diskFreeMinBytes: 50 * MiB });
    const h = queueHealth({ ...base, diskBytes: 100 * MiB, diskFreeBytes: 350 * MiB }, limits);
    expect(h.diskPercent).toBe(25); // 100 of (100 + 350 - 50)
    expect(queueHealth(base, limits).diskPercent).toBeNull();
  });

  it('uses memory when the disk queue is disabled', () => {
    const h = queueHealth({ ...base, memoryBytes: 600 * MiB }, resolveQueueLimits({ diskMaxBytes: 0 }));
    expect(h).toMatchObject({ diskPercent: null, alert: true, health: 'warning' });
    expect(h.usedPercent).toBeCloseTo(58.6, 1);
  });

  it('reports an exhausted queue as an error with its reason', () => {
    const reason = 'disk queue full: 512 MB limit reached; raise queue.diskMaxMB or free space in /var/lib/tandem';
    const h = queueHealth(
      { ...base, state: 'exhausted', problem: { state: 'exhausted', cause: 'disk_limit', reason, since: 1 } },
      resolveQueueLimits({ diskMaxBytes: 512 * MiB }),
    );
    expect(h).toMatchObject({ health: 'error', exhausted: true, message: reason });
  });
});
