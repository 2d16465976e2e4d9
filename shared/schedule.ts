// Weekly time windows (manual 2.16: daytime and overnight entries on a day, weekdays, weekends or every day) and
// what they decide: the bandwidth limit in force and whether a job may transmit now. Pure: the clock is a parameter.
import { z } from 'zod';

/** The manual's smallest bandwidth limit, fixed or scheduled (bytes per second). */
export const MIN_BYTES_PER_SEC = 3500;
/** A limit in bytes per second: the manual's minimum up to 1 TB/s (beyond that a typo, not a link). */
export const BytesPerSec = z.number().int().min(MIN_BYTES_PER_SEC).max(1e12);

export const WindowDays = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'weekdays', 'weekends', 'everyday']);
export type WindowDays = z.infer<typeof WindowDays>;

const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM, 00:00 to 23:59');

const windowShape = {
  /** The day the window starts on; an overnight window ends the next day. */
  days: WindowDays.default('everyday'),
  /** Start before end: a daytime window. Start after end: an overnight window (18:00 to 06:00 crosses midnight). */
  start: TimeOfDay,
  end: TimeOfDay,
};
const startEndDiffer = (w: { start: string; end: string }) => w.start !== w.end;
const startEndDifferMessage = { message: 'start and end must differ: a daytime window starts before it ends, an overnight window starts after the time it ends the next day', path: ['end'] };

export const TimeWindow = z.strictObject(windowShape).refine(startEndDiffer, startEndDifferMessage);
export type TimeWindow = z.output<typeof TimeWindow>;

export const BandwidthEntry = z.strictObject({ ...windowShape, bytesPerSec: BytesPerSec }).refine(startEndDiffer, startEndDifferMessage);
export type BandwidthEntry = z.output<typeof BandwidthEntry>;

/** A local day of the week (0 Sunday … 6 Saturday) and minute of that day (0 … 1439). */
export interface LocalTime {
  day: number;
  minute: number;
}

/** The agent's local time (the manual sets schedules in the source's own time; TZ decides it on Linux). */
export function localTimeOf(ms: number): LocalTime {
  const d = new Date(ms);
  return { day: d.getDay(), minute: d.getHours() * 60 + d.getMinutes() };
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

function startsOn(days: WindowDays, day: number): boolean {
  if (days === 'everyday') return true;
  if (days === 'weekdays') return day >= 1 && day <= 5;
  if (days === 'weekends') return day === 0 || day === 6;
  return DAY_NAMES[day] === days;
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether the window covers that local minute (an overnight window counts for the day it started on). */
export function windowCovers(w: Pick<TimeWindow, 'days' | 'start' | 'end'>, t: LocalTime): boolean {
  const start = minutesOf(w.start);
  const end = minutesOf(w.end);
  if (start < end) return startsOn(w.days, t.day) && t.minute >= start && t.minute < end;
  const yesterday = (t.day + 6) % 7;
  return (startsOn(w.days, t.day) && t.minute >= start) || (startsOn(w.days, yesterday) && t.minute < end);
}

/**
 * Bandwidth the source may use towards its target (manual 2.16): no limit, a fixed limit, or limits by time window
 * (no limit outside the windows). Switching mode keeps the schedule, so switching back reuses it. Every job from one
 * source to one target shares the transmission, so the lowest limit among them is the one in force.
 */
const BandwidthMode = z.enum(['unlimited', 'fixed', 'scheduled']);

export const BandwidthSettings = z.strictObject({
  mode: BandwidthMode.default('unlimited'),
  bytesPerSec: BytesPerSec.optional(),
  schedule: z.array(BandwidthEntry).max(100).default([]),
})
  .refine((b) => b.mode !== 'fixed' || b.bytesPerSec !== undefined, { message: `bandwidth.bytesPerSec (at least ${MIN_BYTES_PER_SEC}) is required when mode is "fixed"`, path: ['bytesPerSec'] })
  .refine((b) => b.mode !== 'scheduled' || b.schedule.length > 0, { message: 'bandwidth.schedule needs at least one entry when mode is "scheduled" ({days, start, end, bytesPerSec})', path: ['schedule'] });
export type BandwidthSettings = z.output<typeof BandwidthSettings>;

/** The change a "set bandwidth" action makes (manual: Other Job Actions → Set Bandwidth); the schedule is kept. */
export const BandwidthOverride = z.strictObject({
  mode: BandwidthMode,
  bytesPerSec: BytesPerSec.optional(),
});

/**
 * The limit in force (bytes per second), or null for no limit. Scheduled: the entry covering now; outside every
 * entry there is no limit (manual). Where entries overlap the lowest wins: the product never sends more than allowed.
 */
export function bandwidthLimitAt(b: BandwidthSettings, t: LocalTime): number | null {
  if (b.mode === 'unlimited') return null;
  if (b.mode === 'fixed') return b.bytesPerSec ?? null;
  const covering = b.schedule.filter((e) => windowCovers(e, t)).map((e) => e.bytesPerSec);
  return covering.length ? Math.min(...covering) : null;
}

/** No windows: always open. Otherwise open while any window covers the local minute. */
export function transmitWindowOpen(windows: TimeWindow[], t: LocalTime): boolean {
  return windows.length === 0 || windows.some((w) => windowCovers(w, t));
}

/**
 * When `decide` next gives another answer than it gives now, searched minute by minute over a week (every window
 * repeats weekly), or null if it never changes. `clock` turns a time (ms) into local time.
 */
export function nextChangeAt<T>(decide: (t: LocalTime) => T, now: number, clock: (ms: number) => LocalTime = localTimeOf): number | null {
  const current = decide(clock(now));
  const firstMinute = Math.floor(now / 60_000) * 60_000 + 60_000;
  for (let i = 0; i <= 7 * 24 * 60; i++) {
    const at = firstMinute + i * 60_000;
    if (decide(clock(at)) !== current) return at;
  }
  return null;
}
