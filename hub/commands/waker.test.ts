import { describe, it, expect } from 'vitest';
import { createCommandWaker } from './waker';

describe('command waker', () => {
  it('wakes a waiting poll at once and says so', async () => {
    const w = createCommandWaker();
    const p = w.wait('srv', 5000);
    w.wake('srv');
    expect(await p).toBe(true);
  });
  it('a wake with no waiter is kept for the next wait (no lost wake-ups between two waits)', async () => {
    const w = createCommandWaker();
    w.wake('srv');
    const started = Date.now();
    expect(await w.wait('srv', 5000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await w.wait('srv', 50)).toBe(false);
  });
});
