import { describe, expect, it } from 'vitest';
import { eventByName } from '../../shared/events/catalog';
import { boundFields, decideDedup, dedupKey, renderMessage } from './dedup';

const def = (n: string) => eventByName(n)!;

describe('dedup keys', () => {
  it('a resolution shares the dedup key of the problem it closes', () => {
    expect(dedupKey(def('job.lag_below_threshold'), 'job_1', null, {})).toBe(dedupKey(def('job.lag_above_threshold'), 'job_1', null, {}));
    expect(dedupKey(def('job.lag_above_threshold'), 'job_1', null, {})).toBe('job_1:job.lag_above_threshold');
    expect(dedupKey(def('agent.online'), null, 'srv_1', {})).toBe(dedupKey(def('agent.offline'), null, 'srv_1', {}));
  });
  it('dedupBy fields keep different paths apart and long keys stay under 255 characters', () => {
    const a = dedupKey(def('replication.blocked'), 'job_1', null, { path: '/a' });
    const b = dedupKey(def('replication.blocked'), 'job_1', null, { path: '/b' });
    expect(a).not.toBe(b);
    expect(dedupKey(def('replication.unblocked'), 'job_1', null, { path: '/a' })).toBe(a);
    const long = dedupKey(def('replication.blocked'), 'job_1', null, { path: '/x'.repeat(400) });
    expect(long.length).toBeLessThanOrEqual(255);
    expect(long).not.toBe(dedupKey(def('replication.blocked'), 'job_1', null, { path: '/y'.repeat(400) }));
  });
  it('jobs, servers and the org are separate scopes', () => {
    expect(dedupKey(def('job.started'), 'job_1', null, {})).not.toBe(dedupKey(def('job.started'), 'job_2', null, {}));
    expect(dedupKey(def('licence.expiring'), null, null, {})).toBe('org:licence.expiring');
  });
});

describe('decideDedup', () => {
  const latest = { id: 'evt_1', name: 'job.lag_above_threshold', firstAt: 1_000 };
  it('collapses an identical event within the window of the first', () => {
    expect(decideDedup(latest, 'job.lag_above_threshold', 1_000 + 60_000, 300_000)).toEqual({ kind: 'collapse', id: 'evt_1' });
  });
  it('starts a new event after the window', () => {
    expect(decideDedup(latest, 'job.lag_above_threshold', 1_000 + 300_000, 300_000)).toEqual({ kind: 'new' });
  });
  it('never hides a problem that comes back after its resolution', () => {
    const resolved = { id: 'evt_2', name: 'job.lag_below_threshold', firstAt: 2_000 };
    expect(decideDedup(resolved, 'job.lag_above_threshold', 3_000, 300_000)).toEqual({ kind: 'new' });
  });
  it('the first occurrence is new', () => {
    expect(decideDedup(undefined, 'job.started', 0)).toEqual({ kind: 'new' });
  });
});

describe('renderMessage and boundFields', () => {
  it('fills placeholders, falls back to ids and marks missing values', () => {
    expect(renderMessage('Job {jobName} lag {lagSec} s over {thresholdSec}', { lagSec: 90 }, 'job_1', null)).toBe('Job job_1 lag 90 s over ?');
  });
  it('cuts long strings and drops non-JSON values', () => {
    const f = boundFields({ a: 'x'.repeat(5000), b: Number.NaN, c: true, d: { x: 1 } as never });
    expect((f.a as string).length).toBeLessThan(1100);
    expect(f.b).toBeNull();
    expect(f.c).toBe(true);
    expect('d' in f).toBe(false);
  });
});
