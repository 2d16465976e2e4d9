import { describe, expect, it } from 'vitest';
import { RETRY_DELAYS_MS, classifyResponse, nextRetryDelay, parseRetryAfter } from './retry';

describe('retry schedule', () => {
  it('grows after every failure and spans more than a day before giving up', () => {
    const delays: number[] = [];
    for (let n = 1; ; n++) {
      const d = nextRetryDelay(n);
      if (d == null) break;
      delays.push(d);
    }
    expect(delays).toEqual(RETRY_DELAYS_MS);
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThan(24 * 3_600_000);
    expect(nextRetryDelay(RETRY_DELAYS_MS.length + 1)).toBeNull();
  });
  it('jitter adds at most 10 % and Retry-After can only lengthen the wait', () => {
    expect(nextRetryDelay(1, { jitter: 0.999 })).toBeLessThanOrEqual(5_500);
    expect(nextRetryDelay(1, { retryAfterMs: 60_000 })).toBe(60_000);
    expect(nextRetryDelay(2, { retryAfterMs: 1_000 })).toBe(300_000);
  });
});

describe('classifyResponse', () => {
  it('2xx delivers, 410 disables, anything else retries (3xx is not followed)', () => {
    expect(classifyResponse(200)).toBe('delivered');
    expect(classifyResponse(204)).toBe('delivered');
    expect(classifyResponse(410)).toBe('disable_endpoint');
    for (const s of [301, 400, 404, 429, 500, 502, 504]) expect(classifyResponse(s)).toBe('retry');
  });
  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 0)).toBe(10_000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
    expect(parseRetryAfter(null, 0)).toBeNull();
  });
});
