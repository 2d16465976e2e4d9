import { describe, it, expect } from 'vitest';
import { rollUpJobStatus } from './status';
import type { JobReport } from '../../shared/protocol/jobs';

const now = 1_000_000;
const mirror = { mirrorId: 'm', filesTotal: 10, bytesTotal: 1000, filesSent: 4, bytesSent: 400, filesSkipped: 1, bytesSkipped: 100, wireRawBytes: 400, wireCompressedBytes: 200, startedAt: now - 10_000, completedAt: null, throughputBps: 50, orphansFound: 0, orphansRemoved: 0 };
const src: JobReport = { jobId: 'j', role: 'source', epoch: 1, at: now, mirrorStatus: 'in_progress', mirror, targetDataState: 'mirroring' };
const tgt: JobReport = { jobId: 'j', role: 'target', epoch: 1, at: now };

describe('rollUpJobStatus', () => {
  it('while a restore sends the replica back, the mirror status is restoring, with its progress', () => {
    const reverse: JobReport = { ...src, jobId: 'j~restore', mirror: { ...mirror, bytesSent: 250, bytesSkipped: 0 } };
    const base = { sourceReport: null, targetReport: tgt, sourceReportAt: null, targetReportAt: now, now, calculateSize: true };
    const v = rollUpJobStatus({ ...base, state: 'restoring', restoreReport: reverse });
    expect(v).toMatchObject({ mirrorStatus: 'restoring', activity: 'Restoring 25%' });
    // Before it connects it waits; once the restore is done the job moves on and the restore report no longer counts.
    expect(rollUpJobStatus({ ...base, state: 'restoring', restoreReport: { ...reverse, mirrorStatus: 'waiting' } }).mirrorStatus).toBe('waiting');
    expect(rollUpJobStatus({ ...base, state: 'restored', restoreReport: reverse }).mirrorStatus).toBe('unknown');
  });
  it('a restore that cannot go on makes the job an error, with its warning and its reason in the activity', () => {
    const why = 'The target cannot write the replica: no space is left on the file system of "/srv/data".';
    const stuck: JobReport = {
      ...src, jobId: 'j~restore', mirror: { ...mirror, bytesSent: 250, bytesSkipped: 0 }, lastError: why,
      warnings: [{ code: 'mirror_blocked', message: `The mirror cannot go on (retrying): ${why}` }],
    };
    const v = rollUpJobStatus({ sourceReport: null, targetReport: tgt, sourceReportAt: null, targetReportAt: now, now, calculateSize: true, state: 'restoring', restoreReport: stuck });
    expect(v.health).toBe('error');
    expect(v.activity).toBe(`Restoring 25% (${why})`);
    expect(v.warnings.map((w) => w.code)).toContain('mirror_blocked');
  });

  it('a mirroring job shows percent, remaining and ETA from the source report', () => {
    const v = rollUpJobStatus({ state: 'mirroring', sourceReport: src, targetReport: tgt, sourceReportAt: now, targetReportAt: now, now, calculateSize: true });
    expect(v).toMatchObject({ health: 'healthy', mirrorStatus: 'in_progress', targetDataState: 'mirroring', activity: 'Mirroring 50%' });
    expect(v.stats).toMatchObject({ percentComplete: 50, bytesRemaining: 500, filesRemaining: 5, etaSec: 10 });
  });
  it('the ETA follows the pace of what is done, bytes found identical included', () => {
    const skipping = { ...mirror, bytesSent: 10, bytesSkipped: 490, throughputBps: 1 };
    const v = rollUpJobStatus({ state: 'mirroring', sourceReport: { ...src, mirror: skipping }, targetReport: tgt, sourceReportAt: now, targetReportAt: now, now, calculateSize: true });
    expect(v.stats.etaSec).toBe(10);
  });
  it('percent is only shown when the size was calculated', () => {
    const v = rollUpJobStatus({ state: 'mirroring', sourceReport: src, targetReport: tgt, sourceReportAt: now, targetReportAt: now, now, calculateSize: false });
    expect(v.stats.percentComplete).toBeNull();
    expect(v.activity).toBe('Mirroring');
  });
  it('stale reports make the job a warning with the agent named', () => {
    const v = rollUpJobStatus({ state: 'protecting', sourceReport: src, targetReport: tgt, sourceReportAt: now - 120_000, targetReportAt: now, now, calculateSize: true });
    expect(v.health).toBe('warning');
    expect(v.mirrorStatus).toBe('unknown');
    expect(v.warnings.map((w) => w.code)).toContain('source_not_reporting');
  });
  it('agents busy with the job (starting, updating) are shown in its activity; a starting source is calculating', () => {
    const starting: JobReport = { jobId: 'j', role: 'source', epoch: 1, at: now, busy: 'starting' };
    const v = rollUpJobStatus({ state: 'starting', sourceReport: starting, targetReport: { ...tgt, busy: 'starting' }, sourceReportAt: now, targetReportAt: now, now, calculateSize: true });
    expect(v).toMatchObject({ health: 'healthy', mirrorStatus: 'calculating', warnings: [] });
    expect(v.activity).toBe('Starting (source agent starting the job: reading the protected set; target agent starting the job)');
    const updating = rollUpJobStatus({ state: 'mirroring', sourceReport: { ...src, busy: 'updating' }, targetReport: tgt, sourceReportAt: now, targetReportAt: now, now, calculateSize: true });
    expect(updating).toMatchObject({ mirrorStatus: 'in_progress', activity: 'Mirroring 50% (source agent applying a change to the job)' });
    expect(rollUpJobStatus({ state: 'stopped', sourceReport: { ...src, busy: 'stopping' }, targetReport: tgt, sourceReportAt: now, targetReportAt: now, now, calculateSize: true }).activity).not.toContain('agent');
  });
  it('a stopped job reads stopped whatever old reports say', () => {
    const v = rollUpJobStatus({ state: 'stopped', sourceReport: src, targetReport: tgt, sourceReportAt: now, targetReportAt: now, now, calculateSize: true });
    expect(v).toMatchObject({ mirrorStatus: 'stopped', replicationStatus: 'stopped', transmitMode: 'stopped', health: 'unknown' });
  });
  it('an operation the target cannot apply makes replication failed, though the idle source reports ready', () => {
    const ready: JobReport = { ...src, mirrorStatus: 'idle', targetDataState: 'ok', replicationStatus: 'ready', transmitMode: 'active' };
    const blocked: JobReport = { ...tgt, replication: { blocked: { seq: 7, path: '/data/locked', code: 'EPERM', message: 'write on "/data/locked" failed: EPERM', since: now } } };
    const v = rollUpJobStatus({ state: 'protecting', sourceReport: ready, targetReport: blocked, sourceReportAt: now, targetReportAt: now, now, calculateSize: false });
    expect(v).toMatchObject({ replicationStatus: 'failed', health: 'error' });
    const unblocked = rollUpJobStatus({ state: 'protecting', sourceReport: ready, targetReport: { ...tgt, replication: { blocked: null } }, sourceReportAt: now, targetReportAt: now, now, calculateSize: false });
    expect(unblocked.replicationStatus).toBe('ready');
  });
  it('a mirror that cannot go on makes the job an error, other warnings a warning', () => {
    const at = { sourceReportAt: now, targetReportAt: now, now, calculateSize: true, targetReport: tgt };
    const blocked = rollUpJobStatus({ ...at, state: 'mirroring', sourceReport: { ...src, warnings: [{ code: 'mirror_blocked', message: 'The mirror cannot go on (retrying): no space' }] } });
    expect(blocked.health).toBe('error');
    expect(blocked.warnings).toEqual([{ code: 'mirror_blocked', message: 'The mirror cannot go on (retrying): no space' }]);
    const other = rollUpJobStatus({ ...at, state: 'mirroring', sourceReport: { ...src, warnings: [{ code: 'peer_cert_mismatch', message: 'x' }] } });
    expect(other.health).toBe('warning');
  });
  it('outside its transmit windows a job is healthy, transmit mode scheduled, and says until when changes are queued', () => {
    const opens = Date.UTC(2026, 11, 7, 22, 0);
    const held: JobReport = { ...src, mirrorStatus: 'idle', targetDataState: 'ok', replicationStatus: 'pending', transmitMode: 'scheduled', transmit: { limitBytesPerSec: 50_000, windowOpen: false, windowChangesAt: opens } };
    const v = rollUpJobStatus({ state: 'protecting', sourceReport: held, targetReport: tgt, sourceReportAt: now, targetReportAt: now, now, calculateSize: false });
    expect(v).toMatchObject({ health: 'healthy', transmitMode: 'scheduled', replicationStatus: 'pending' });
    expect(v.activity).toBe('Protecting (outside the transmit windows: changes are queued until 2026-12-07T22:00:00.000Z)');
    expect(v.stats).toMatchObject({ bandwidthLimitBps: 50_000, transmitWindowOpen: false, transmitWindowChangesAt: '2026-12-07T22:00:00.000Z' });
  });
});
