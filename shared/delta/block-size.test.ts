import { describe, expect, it } from 'vitest';
import { chooseBlockSize, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from './block-size';

describe('chooseBlockSize', () => {
  it('uses 4 KiB for small files, including empty ones', () => {
    expect(chooseBlockSize(0)).toBe(MIN_BLOCK_SIZE);
    expect(chooseBlockSize(100)).toBe(4096);
    expect(chooseBlockSize(16 * 1024 * 1024)).toBe(4096);
  });

  it('grows with sqrt(size) as a power of two', () => {
    expect(chooseBlockSize(16 * 1024 * 1024 + 1)).toBe(8192);
    expect(chooseBlockSize(1024 ** 3)).toBe(32 * 1024);
  });

  it('never exceeds 1 MiB', () => {
    expect(chooseBlockSize(1024 ** 4)).toBe(MAX_BLOCK_SIZE);
    expect(chooseBlockSize(1024 ** 5)).toBe(MAX_BLOCK_SIZE);
  });

  it('always returns a power of two within bounds', () => {
    for (let s = 1; s < 2 ** 45; s *= 3) {
      const b = chooseBlockSize(s);
      expect(Number.isInteger(Math.log2(b))).toBe(true);
      expect(b).toBeGreaterThanOrEqual(MIN_BLOCK_SIZE);
      expect(b).toBeLessThanOrEqual(MAX_BLOCK_SIZE);
    }
  });
});
