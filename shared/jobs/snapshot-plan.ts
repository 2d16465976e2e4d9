// When the next scheduled snapshot of a replica is due, and which old snapshots to delete (pure; times in ms since epoch).
import { Cron } from 'croner';
import type { SnapshotSettings } from './failover-settings';

export interface SnapshotRef {
  id: string;
  /** ms since epoch */
  takenAt: number;
}

export interface SnapshotDue {
  due: boolean;
  /** When the next snapshot falls due (≤ now when due); null when scheduling is off. */
  nextAt: number | null;
}

/**
 * A job that has never taken a snapshot takes one at once (or at beginAt for an interval schedule);
 * after that each snapshot follows the previous one. Missed occurrences collapse into one snapshot.
 */
export function dueSnapshot(settings: SnapshotSettings, lastTakenAt: number | null, now: number): SnapshotDue {
  const schedule = settings.schedule;
  if (!settings.enabled || !schedule) return { due: false, nextAt: null };

  let nextAt: number | null;
  if ('intervalMin' in schedule) {
    const beginAt = schedule.beginAt === undefined ? null : Date.parse(schedule.beginAt);
    const afterLast = lastTakenAt === null ? now : lastTakenAt + schedule.intervalMin * 60_000;
    nextAt = beginAt === null ? afterLast : Math.max(afterLast, beginAt);
  } else if (lastTakenAt === null) {
    nextAt = now;
  } else {
    const next = new Cron(schedule.cron, { paused: true, timezone: schedule.timezone }).nextRun(new Date(lastTakenAt));
    nextAt = next === null ? null : next.getTime();
  }
  return { due: nextAt !== null && nextAt <= now, nextAt };
}

/** Snapshots beyond the newest `keep`, oldest first (ties broken by id so the answer is stable). */
export function snapshotsToEvict<T extends SnapshotRef>(snapshots: readonly T[], keep: number): T[] {
  const keepCount = Math.max(0, Math.floor(keep));
  const oldestFirst = [...snapshots].sort((a, b) => a.takenAt - b.takenAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return oldestFirst.slice(0, Math.max(0, oldestFirst.length - keepCount));
}
