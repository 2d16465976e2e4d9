import { describe, expect, it } from 'vitest';
import { renderJob } from './jobs';

const job = (replication: Record<string, unknown>) => ({
  id: 'j1', name: 'docs', state: 'protecting', health: 'healthy', activity: 'Protecting', mirrorStatus: 'idle',
  replicationStatus: 'ready', transmitMode: 'active', targetDataState: 'ok', epoch: 1,
  source: { name: 'prod' }, target: { name: 'standby' },
  stats: { filesSent: 3, filesSkipped: 0, filesRemaining: 0, bytesSent: 0, wireCompressedBytes: 0, replication },
  warnings: [],
});

describe('tandem job show', () => {
  it('shows what the change capture watches and how much of the block index is left', () => {
    const capture = { watchedDirs: 12, unwatchedDirs: 0, trackedPaths: 5000, filesAwaitingIndex: 1200 };
    expect(renderJob(job({ opsQueued: 0, capture }))).toContain('capture: watching 12 directories, tracking 5000 paths; building the block index: 1200 files left');
    const done = renderJob(job({ opsQueued: 0, capture: { ...capture, unwatchedDirs: 2, filesAwaitingIndex: 0 } }));
    expect(done).toContain('watching 12 directories (2 unwatched, rescanned), tracking 5000 paths; block index complete');
  });

  it('says nothing about the capture when the source has not reported it', () => {
    expect(renderJob(job({ opsQueued: 0, capture: null }))).not.toContain('capture:');
  });

  it('shows the bandwidth limit in force and, outside the transmit windows, until when it waits', () => {
    const base = job({ opsQueued: 0 });
    expect(renderJob(base)).not.toContain('bandwidth');
    const limited = { ...base, stats: { ...base.stats, bandwidthLimitBps: 100000, transmitWindowOpen: true } };
    expect(renderJob(limited)).toContain('bandwidth limited to 100000 bytes/s');
    const held = { ...base, transmitMode: 'scheduled', stats: { ...base.stats, bandwidthLimitBps: null, transmitWindowOpen: false, transmitWindowChangesAt: '2026-12-07T22:00:00.000Z' } };
    expect(renderJob(held)).toContain('bandwidth unlimited   outside the transmit windows until 2026-12-07T22:00:00.000Z');
    expect(renderJob(held)).toContain('transmit scheduled');
  });
});
