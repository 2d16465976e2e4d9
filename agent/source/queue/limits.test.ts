import { describe, it, expect } from 'vitest';
import { resolveQueueLimits, roomToReconnect } from './limits';

const MiB = 1024 * 1024;

describe('roomToReconnect (after an auto-disconnect)', () => {
  const withDisk = resolveQueueLimits({ diskFreeMinBytes: 40 * MiB });

  it('waits until free space is above the minimum by a quarter of it, and says what to do', () => {
    const r = roomToReconnect(withDisk, 45 * MiB);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/45 MB free .*once 50 MB is free \(queue\.diskFreeMinMB plus a margin\)/);
    expect(roomToReconnect(withDisk, 50 * MiB)).toEqual({ ok: true });
  });

  it('keeps at least 1 MiB of margin for a tiny minimum, and waits while free space cannot be read', () => {
    const tiny = resolveQueueLimits({ diskFreeMinBytes: 0 });
    expect(roomToReconnect(tiny, MiB - 1).ok).toBe(false);
    expect(roomToReconnect(tiny, MiB).ok).toBe(true);
    const unknown = roomToReconnect(withDisk, null);
    expect(!unknown.ok && unknown.reason).toMatch(/free space unknown/);
  });

  it('without a disk queue the discard freed the memory: room at once', () => {
    expect(roomToReconnect(resolveQueueLimits({ diskMaxBytes: 0 }), 0)).toEqual({ ok: true });
  });
});
