import { describe, expect, it } from 'vitest';
import { SnapshotSettingsSchema, type SnapshotSettingsInput } from './failover-settings';
import { dueSnapshot, snapshotsToEvict } from './snapshot-plan';

const t = (iso: string) => Date.parse(iso);
const settings = (input: SnapshotSettingsInput) => SnapshotSettingsSchema.parse(input);
const MIN = 60_000;

describe('dueSnapshot', () => {
  it('is never due when scheduled snapshots are off', () => {
    expect(dueSnapshot(settings({ enabled: false, schedule: { intervalMin: 1 } }), null, t('2025-01-01T00:00:00Z'))).toEqual({ due: false, nextAt: null });
  });

  describe('interval schedule', () => {
    const every60 = settings({ enabled: true, schedule: { intervalMin: 60 } });

    it('begins immediately when no snapshot was taken yet', () => {
      const now = t('2025-01-01T00:00:00Z');
      expect(dueSnapshot(every60, null, now)).toEqual({ due: true, nextAt: now });
    });

    it('falls due exactly one interval after the last snapshot', () => {
      const last = t('2025-01-01T00:00:00Z');
      expect(dueSnapshot(every60, last, last + 60 * MIN - 1000)).toEqual({ due: false, nextAt: last + 60 * MIN });
      expect(dueSnapshot(every60, last, last + 60 * MIN).due).toBe(true);
      expect(dueSnapshot(every60, last, last + 10 * 60 * MIN)).toEqual({ due: true, nextAt: last + 60 * MIN }); // missed ones collapse
    });

    it('waits for "Begin at" when it is in the future', () => {
      const s = settings({ enabled: true, schedule: { intervalMin: 60, beginAt: '2025-01-02T03:00:00Z' } });
      expect(dueSnapshot(s, null, t('2025-01-01T12:00:00Z'))).toEqual({ due: false, nextAt: t('2025-01-02T03:00:00Z') });
      expect(dueSnapshot(s, null, t('2025-01-02T03:00:00Z')).due).toBe(true);
    });
  });

  describe('cron schedule', () => {
    const daily3am = settings({ enabled: true, schedule: { cron: '0 3 * * *' } });

    it('takes a first snapshot at once, then follows the cron', () => {
      expect(dueSnapshot(daily3am, null, t('2025-01-01T12:00:00Z')).due).toBe(true);
      const last = t('2025-01-01T12:00:00Z');
      expect(dueSnapshot(daily3am, last, t('2025-01-02T02:59:59Z'))).toEqual({ due: false, nextAt: t('2025-01-02T03:00:00Z') });
      expect(dueSnapshot(daily3am, last, t('2025-01-02T03:00:00Z')).due).toBe(true);
    });

    it('a snapshot taken at the occurrence is not due again until the next one', () => {
      const last = t('2025-01-02T03:00:00Z');
      expect(dueSnapshot(daily3am, last, t('2025-01-02T03:00:30Z'))).toEqual({ due: false, nextAt: t('2025-01-03T03:00:00Z') });
    });

    it('honours the timezone', () => {
      const berlin = settings({ enabled: true, schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' } });
      expect(dueSnapshot(berlin, t('2025-01-01T12:00:00Z'), t('2025-01-02T00:00:00Z')).nextAt).toBe(t('2025-01-02T02:00:00Z'));
    });
  });
});

describe('snapshotsToEvict', () => {
  const snaps = [
    { id: 'c', takenAt: 3000 },
    { id: 'a', takenAt: 1000 },
    { id: 'e', takenAt: 5000 },
    { id: 'b', takenAt: 2000 },
    { id: 'd', takenAt: 4000 },
  ];

  it('returns the oldest beyond the cap, oldest first', () => {
    expect(snapshotsToEvict(snaps, 3).map((s) => s.id)).toEqual(['a', 'b']);
  });

  it('evicts nothing at or under the cap', () => {
    expect(snapshotsToEvict(snaps, 5)).toEqual([]);
    expect(snapshotsToEvict(snaps, 50)).toEqual([]);
    expect(snapshotsToEvict([], 1)).toEqual([]);
  });

  it('breaks ties on takenAt by id and does not reorder the input', () => {
    const tied = [{ id: 'y', takenAt: 1 }, { id: 'x', takenAt: 1 }, { id: 'z', takenAt: 2 }];
    expect(snapshotsToEvict(tied, 1).map((s) => s.id)).toEqual(['x', 'y']);
    expect(tied.map((s) => s.id)).toEqual(['y', 'x', 'z']);
  });

  it('keeps extra fields of the caller\'s records', () => {
    const withPaths = snaps.map((s) => ({ ...s, path: `/snapshots/${s.id}` }));
    expect(snapshotsToEvict(withPaths, 4)).toEqual([{ id: 'a', takenAt: 1000, path: '/snapshots/a' }]);
  });
});
