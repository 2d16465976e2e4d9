import { describe, it, expect } from 'vitest';
import { warningEvents, sourceReportEvents, targetReportEvents } from './report-events';
import type { JobReport } from '../../shared/protocol/jobs';

const ctx = { orgId: 'o', jobId: 'j', jobName: 'web', lagThresholdSec: 10 };
const base: JobReport = { jobId: 'j', role: 'source', epoch: 1, at: 0 };
const names = (evs: { event: string }[]) => evs.map((e) => e.event);

describe('report events', () => {
  it('lag crossing the threshold raises above, then below, once each', () => {
    const low = { ...base, replication: { lagMs: 2000 } };
    const high = { ...base, replication: { lagMs: 15_000 } };
    expect(names(sourceReportEvents(low, high, ctx))).toEqual(['job.lag_above_threshold']);
    expect(names(sourceReportEvents(high, high, ctx))).toEqual([]);
    expect(names(sourceReportEvents(high, low, ctx))).toEqual(['job.lag_below_threshold']);
  });
  it('outside the transmit windows the queue grows by design: no lag event until the job sends again and is still behind', () => {
    const low = { ...base, transmitMode: 'active' as const, replication: { lagMs: 2000 } };
    const heldHigh = { ...base, transmitMode: 'scheduled' as const, replication: { lagMs: 3_600_000 } };
    const sendingHigh = { ...base, transmitMode: 'active' as const, replication: { lagMs: 3_600_000 } };
    expect(names(sourceReportEvents(low, heldHigh, ctx))).toEqual([]);
    expect(names(sourceReportEvents(heldHigh, heldHigh, ctx))).toEqual([]);
    expect(names(sourceReportEvents(heldHigh, sendingHigh, ctx))).toEqual(['job.lag_above_threshold']);
    expect(names(sourceReportEvents(heldHigh, low, ctx))).toEqual([]);
  });
  it('an auto-disconnect raises queue exhausted, auto-disconnected and mirror required', () => {
    const before = { ...base, replication: { autoDisconnects: 0 } };
    const after = { ...base, replication: { autoDisconnects: 1, exhaustedReason: 'disk queue full' } };
    expect(names(sourceReportEvents(before, after, ctx))).toEqual(['queue.exhausted', 'queue.auto_disconnected', 'mirror.required']);
  });
  it('a mirror that cannot go on raises blocked once, with the reason, and unblocked when it goes on', () => {
    const reason = 'The mirror cannot go on (retrying): The target cannot write the replica: no space is left on the file system of "/r".';
    const fine = { ...base, warnings: [] };
    const stuck = { ...base, warnings: [{ code: 'mirror_blocked', message: reason }] };
    const raised = sourceReportEvents(fine, stuck, ctx);
    expect(names(raised)).toEqual(['mirror.blocked']);
    expect(raised[0]!.fields).toMatchObject({ jobName: 'web', reason });
    expect(names(sourceReportEvents(stuck, stuck, ctx))).toEqual([]);
    expect(names(sourceReportEvents(stuck, fine, ctx))).toEqual(['mirror.unblocked']);
    expect(names(sourceReportEvents(null, fine, ctx))).toEqual([]);
    // A restore's reports (a mirror the other way) raise the same two, and nothing else of a mirror's.
    expect(names(warningEvents(fine, stuck, 'web'))).toEqual(['mirror.blocked']);
    expect(names(warningEvents(stuck, fine, 'web'))).toEqual(['mirror.unblocked']);
  });
  it('snapshots are new only against an earlier list: not in a first report, nor after the job was still starting', () => {
    const t: JobReport = { ...base, role: 'target' };
    const snap = { id: 's1', takenAt: 1, method: 'copy', bytes: 1, scheduled: false };
    const starting: JobReport = { ...t, busy: 'starting' };
    expect(names(targetReportEvents(null, { ...t, snapshots: [snap] }, ctx))).toEqual([]);
    expect(names(targetReportEvents(starting, { ...t, snapshots: [snap] }, ctx))).toEqual([]);
    expect(names(targetReportEvents({ ...t, snapshots: [] }, { ...t, snapshots: [snap] }, ctx))).toEqual(['snapshot.taken']);
  });
  it('a blocked path on the target raises blocked and then unblocked', () => {
    const t: JobReport = { ...base, role: 'target' };
    const blocked = { ...t, replication: { blocked: { seq: 5, path: '/a', message: 'EACCES' } } };
    expect(names(targetReportEvents(t, blocked, ctx))).toEqual(['replication.blocked']);
    expect(names(targetReportEvents(blocked, blocked, ctx))).toEqual([]);
    expect(names(targetReportEvents(blocked, t, ctx))).toEqual(['replication.unblocked']);
  });
});
