import { describe, it, expect } from 'vitest';
import { BandwidthEntry, TimeWindow, bandwidthLimitAt, nextChangeAt, transmitWindowOpen, windowCovers, type LocalTime } from './schedule';
import { BandwidthSettings, FilesJobSpec } from './jobs/definition';

const at = (day: number, hhmm: string): LocalTime => ({ day, minute: Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3)) });
const MON = 1, FRI = 5, SAT = 6, SUN = 0;
/** A clock in UTC, so the tests do not depend on the machine's time zone. */
const utc = (ms: number): LocalTime => { const d = new Date(ms); return { day: d.getUTCDay(), minute: d.getUTCHours() * 60 + d.getUTCMinutes() }; };

describe('time windows', () => {
  it('a daytime window covers from its start to just before its end, on its days only', () => {
    const w = TimeWindow.parse({ days: 'weekdays', start: '09:00', end: '17:30' });
    expect(windowCovers(w, at(MON, '09:00'))).toBe(true);
    expect(windowCovers(w, at(MON, '17:29'))).toBe(true);
    expect(windowCovers(w, at(MON, '17:30'))).toBe(false);
    expect(windowCovers(w, at(MON, '08:59'))).toBe(false);
    expect(windowCovers(w, at(SAT, '10:00'))).toBe(false);
  });

  it('an overnight window belongs to the day it starts: Friday 22:00 to 06:00 covers Saturday morning, not Friday morning', () => {
    const w = TimeWindow.parse({ days: 'fri', start: '22:00', end: '06:00' });
    expect(windowCovers(w, at(FRI, '23:00'))).toBe(true);
    expect(windowCovers(w, at(SAT, '05:59'))).toBe(true);
    expect(windowCovers(w, at(SAT, '06:00'))).toBe(false);
    expect(windowCovers(w, at(FRI, '05:00'))).toBe(false);
    expect(windowCovers(w, at(SAT, '23:00'))).toBe(false);
  });

  it('weekends are Saturday and Sunday; Sunday night wraps to Monday', () => {
    const w = TimeWindow.parse({ days: 'weekends', start: '20:00', end: '02:00' });
    expect(windowCovers(w, at(SUN, '21:00'))).toBe(true);
    expect(windowCovers(w, at(MON, '01:00'))).toBe(true);
    expect(windowCovers(w, at(SAT, '01:00'))).toBe(false);
    expect(windowCovers(w, at(SUN, '01:00'))).toBe(true); // Saturday's night
  });

  it('no windows means always open', () => {
    expect(transmitWindowOpen([], at(MON, '03:00'))).toBe(true);
    expect(transmitWindowOpen([TimeWindow.parse({ start: '01:00', end: '02:00' })], at(MON, '03:00'))).toBe(false);
  });

  it('refuses a window whose start equals its end, times that are not HH:MM and unknown days', () => {
    expect(TimeWindow.safeParse({ start: '10:00', end: '10:00' }).success).toBe(false);
    expect(TimeWindow.safeParse({ start: '24:00', end: '10:00' }).success).toBe(false);
    expect(TimeWindow.safeParse({ start: '9:00', end: '10:00' }).success).toBe(false);
    expect(TimeWindow.safeParse({ days: 'holidays', start: '09:00', end: '10:00' }).success).toBe(false);
  });
});

describe('bandwidth limits', () => {
  const schedule = [
    BandwidthEntry.parse({ days: 'weekdays', start: '08:00', end: '18:00', bytesPerSec: 100_000 }),
    BandwidthEntry.parse({ days: 'everyday', start: '12:00', end: '13:00', bytesPerSec: 20_000 }),
  ];
  it('unlimited has no limit; fixed always its limit', () => {
    expect(bandwidthLimitAt({ mode: 'unlimited', schedule }, at(MON, '10:00'))).toBeNull();
    expect(bandwidthLimitAt({ mode: 'fixed', bytesPerSec: 5000, schedule }, at(MON, '10:00'))).toBe(5000);
  });
  it('scheduled: the covering entry, the lowest where entries overlap, no limit outside every entry', () => {
    expect(bandwidthLimitAt({ mode: 'scheduled', schedule }, at(MON, '10:00'))).toBe(100_000);
    expect(bandwidthLimitAt({ mode: 'scheduled', schedule }, at(MON, '12:30'))).toBe(20_000);
    expect(bandwidthLimitAt({ mode: 'scheduled', schedule }, at(SAT, '12:30'))).toBe(20_000);
    expect(bandwidthLimitAt({ mode: 'scheduled', schedule }, at(SAT, '10:00'))).toBeNull();
    expect(bandwidthLimitAt({ mode: 'scheduled', schedule }, at(MON, '19:00'))).toBeNull();
  });
  it('refuses less than 3500 bytes/s, a fixed mode without a limit, a scheduled mode without entries', () => {
    expect(BandwidthEntry.safeParse({ start: '08:00', end: '09:00', bytesPerSec: 3499 }).success).toBe(false);
    expect(BandwidthSettings.safeParse({ mode: 'fixed' }).success).toBe(false);
    expect(BandwidthSettings.safeParse({ mode: 'fixed', bytesPerSec: 3000 }).success).toBe(false);
    expect(BandwidthSettings.safeParse({ mode: 'scheduled' }).success).toBe(false);
    expect(BandwidthSettings.safeParse({ mode: 'fixed', bytesPerSec: 3500, schedule }).success).toBe(true);
    expect(BandwidthSettings.safeParse({ mode: 'fixed', bytesPerSec: 1e300 }).success).toBe(false);
  });
  it('a job without bandwidth or windows gets no limit and no windows', () => {
    const spec = FilesJobSpec.parse({ rules: [{ path: '/data', type: 'include' }] });
    expect(spec.bandwidth).toEqual({ mode: 'unlimited', schedule: [] });
    expect(spec.transmitWindows).toEqual([]);
  });
});

describe('next change', () => {
  const monday0930 = Date.UTC(2026, 11, 7, 9, 30, 15); // Monday 7 December 2026, 09:30:15 UTC
  it('finds the minute a window opens or closes', () => {
    const windows = [TimeWindow.parse({ days: 'mon', start: '22:00', end: '06:00' })];
    const open = (t: LocalTime) => transmitWindowOpen(windows, t);
    expect(nextChangeAt(open, monday0930, utc)).toBe(Date.UTC(2026, 11, 7, 22, 0));
    expect(nextChangeAt(open, Date.UTC(2026, 11, 7, 23, 0), utc)).toBe(Date.UTC(2026, 11, 8, 6, 0));
  });
  it('a window next week is found; what never changes gives null', () => {
    const windows = [TimeWindow.parse({ days: 'sun', start: '01:00', end: '02:00' })];
    expect(nextChangeAt((t) => transmitWindowOpen(windows, t), monday0930, utc)).toBe(Date.UTC(2026, 11, 13, 1, 0));
    expect(nextChangeAt((t) => transmitWindowOpen([], t), monday0930, utc)).toBeNull();
  });
});
