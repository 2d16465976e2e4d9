import { describe, it, expect } from 'vitest';
import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  it('grows exponentially and never exceeds the cap', () => {
    const p = { baseMs: 100, capMs: 1000 };
    expect(backoffDelay(0, p, () => 1)).toBe(100);
    expect(backoffDelay(2, p, () => 1)).toBe(400);
    expect(backoffDelay(20, p, () => 1)).toBe(1000);
  });
  it('jitters between half and all of the ceiling', () => {
    const p = { baseMs: 100, capMs: 1000 };
    expect(backoffDelay(3, p, () => 0)).toBe(400);
    expect(backoffDelay(3, p, () => 0.5)).toBe(600);
  });
});
