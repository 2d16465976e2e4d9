import { describe, expect, it } from 'vitest';
import { nextScheduledVerify } from './verify-schedule';

const at = (iso: string) => Date.parse(iso);

describe('nextScheduledVerify', () => {
  it('is the first occurrence after the last scheduled verify, in the schedule\'s time zone', () => {
    expect(nextScheduledVerify({ cron: '0 2 * * *', timezone: 'UTC' }, at('2026-12-06T01:59:00Z'))).toBe(at('2026-12-06T02:00:00Z'));
    expect(nextScheduledVerify({ cron: '0 2 * * *', timezone: 'UTC' }, at('2026-12-06T02:00:00Z'))).toBe(at('2026-12-07T02:00:00Z'));
    expect(nextScheduledVerify({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }, at('2026-12-06T00:00:00Z'))).toBe(at('2026-12-06T01:00:00Z'));
  });

  it('missed occurrences collapse into one: the next is still the first after the last run', () => {
    const last = at('2026-12-01T02:00:00Z');
    expect(nextScheduledVerify({ cron: '0 2 * * *', timezone: 'UTC' }, last)).toBe(at('2026-12-02T02:00:00Z'));
  });

  it('takes six-field patterns with seconds', () => {
    expect(nextScheduledVerify({ cron: '*/10 * * * * *', timezone: 'UTC' }, at('2026-12-06T00:00:01Z'))).toBe(at('2026-12-06T00:00:10Z'));
  });
});
