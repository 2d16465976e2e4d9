import { describe, it, expect, vi, afterEach } from 'vitest';
import { SharedLimit, TokenBucket, paced, requestBytesFor } from './bandwidth';

afterEach(() => { vi.useRealTimers(); });

describe('token bucket', () => {
  it('lets a quarter second of burst through, then asks to wait exactly for the debt', () => {
    const b = new TokenBucket(10_000, 0);
    expect(b.take(2_500, 1000)).toBe(0); // a second of rest fills at most a quarter second's worth
    expect(b.take(1_000, 1000)).toBe(100);
    expect(b.take(1_000, 1100)).toBe(100);
    expect(b.take(0, 1300)).toBe(0);
  });
  it('a new rate applies to what is taken after it', () => {
    const b = new TokenBucket(10_000, 0);
    expect(b.take(10_000, 0)).toBe(1000);
    b.setRate(100_000, 1000);
    expect(b.take(10_000, 1000)).toBe(100);
  });
});

describe('shared limit', () => {
  it('the lowest limit among the jobs to one address is in force; a job leaving lifts its limit', () => {
    const l = new SharedLimit();
    expect(l.rate()).toBeNull();
    l.set('a', 50_000);
    l.set('b', 20_000);
    expect(l.rate()).toBe(20_000);
    l.set('b', null);
    expect(l.rate()).toBe(50_000);
    l.set('a', null);
    expect(l.rate()).toBeNull();
    expect(l.take(1_000_000)).toBe(0);
  });
});

describe('paced stream', () => {
  it('never sends more than the limit allows (plus a quarter second of burst) at any moment, and loses no byte', async () => {
    vi.useFakeTimers({ now: 0 });
    const limit = new SharedLimit();
    limit.set('job', 40_000);
    const chunks = [Buffer.alloc(100_000, 1), Buffer.alloc(3, 2), Buffer.alloc(60_000, 3)];
    async function* body() { yield* chunks; }
    const seen: Array<{ at: number; bytes: number }> = [];
    const done = (async () => {
      for await (const part of paced(body(), limit)) seen.push({ at: Date.now(), bytes: part.length });
    })();
    await vi.runAllTimersAsync();
    await done;
    let sent = 0;
    for (const s of seen) {
      sent += s.bytes;
      // What has gone by the time a piece leaves: at most the rate times the elapsed time, a burst and one piece.
      expect(sent).toBeLessThanOrEqual(40_000 * (s.at / 1000) + 10_000 + 4_000);
    }
    expect(sent).toBe(160_003);
    expect(seen.at(-1)!.at).toBeGreaterThanOrEqual(((160_003 - 10_000 - 4_000) / 40_000) * 1000);
    expect(Math.max(...seen.map((s) => s.bytes))).toBe(4_000); // a tenth of a second's worth per piece
  });

  it('a limit lifted mid-stream lets the rest go at once', async () => {
    vi.useFakeTimers({ now: 0 });
    const limit = new SharedLimit();
    limit.set('job', 10_000);
    async function* body() { yield Buffer.alloc(50_000); yield Buffer.alloc(50_000); }
    let total = 0;
    const done = (async () => {
      for await (const part of paced(body(), limit)) {
        total += part.length;
        if (total >= 5_000) limit.set('job', null);
      }
    })();
    await vi.runAllTimersAsync();
    await done;
    expect(total).toBe(100_000);
    expect(Date.now()).toBeLessThan(2_000);
  });
});

describe('request size under a limit', () => {
  it('about ten seconds of sending, at least 64 KiB, never more than without a limit', () => {
    expect(requestBytesFor(null, 32 * 1024 * 1024)).toBe(32 * 1024 * 1024);
    expect(requestBytesFor(100_000, 32 * 1024 * 1024)).toBe(1_000_000);
    expect(requestBytesFor(3500, 32 * 1024 * 1024)).toBe(64 * 1024);
    expect(requestBytesFor(1e9, 32 * 1024 * 1024)).toBe(32 * 1024 * 1024);
  });
});
