import { describe, expect, it } from 'vitest';
import { eventByName } from './catalog';
import { NotifyFilter, filterAccepts } from './filter';

const ev = (n: string) => eventByName(n)!;

describe('notification filters', () => {
  it('an empty filter accepts everything', () => {
    expect(filterAccepts({}, ev('job.started'))).toBe(true);
  });
  it('severities, include and exclude by id or name combine', () => {
    const f = { severities: ['warning', 'error'] as const, exclude: [5002] };
    expect(filterAccepts({ ...f, severities: [...f.severities] }, ev('job.started'))).toBe(false);
    expect(filterAccepts({ ...f, severities: [...f.severities] }, ev('licence.expiring'))).toBe(false);
    expect(filterAccepts({ ...f, severities: [...f.severities] }, ev('licence.expired'))).toBe(true);
    expect(filterAccepts({ include: ['job.failover_condition_met', 5003] }, ev('licence.expired'))).toBe(true);
    expect(filterAccepts({ include: ['job.failover_condition_met'] }, ev('licence.expired'))).toBe(false);
  });
  it('validation refuses unknown events and oversized lists', () => {
    expect(NotifyFilter.safeParse({ include: [99999] }).success).toBe(false);
    expect(NotifyFilter.safeParse({ exclude: Array.from({ length: 101 }, () => 2001) }).success).toBe(false);
    expect(NotifyFilter.safeParse({ severities: ['fatal'] }).success).toBe(false);
    expect(NotifyFilter.safeParse({ include: [3001, 'licence.expiring'], severities: ['error'] }).success).toBe(true);
  });
});
