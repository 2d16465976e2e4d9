// When a job's scheduled verify is next due (pure; times in ms since epoch).
import { Cron } from 'croner';

export interface VerifySchedule {
  cron: string;
  timezone: string;
}

/**
 * The first occurrence of the schedule after `since` (the last scheduled verify's start, or when the schedule was
 * first seen, so a new schedule does not fire at once). Occurrences missed while the job was busy or the agent down
 * collapse into one verify. Null when the pattern has no further occurrence.
 */
export function nextScheduledVerify(schedule: VerifySchedule, since: number): number | null {
  const next = new Cron(schedule.cron, { paused: true, timezone: schedule.timezone }).nextRun(new Date(since));
  return next === null ? null : next.getTime();
}
