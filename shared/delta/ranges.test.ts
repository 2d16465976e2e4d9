import { describe, expect, it } from 'vitest';
import { mergeRanges, splitRanges, totalBytes } from './ranges';

describe('mergeRanges', () => {
  it('sorts, merges overlapping and touching ranges, drops empty ones', () => {
    expect(
      mergeRanges([
        { offset: 100, length: 10 },
        { offset: 0, length: 10 },
        { offset: 10, length: 5 },
        { offset: 50, length: 0 },
        { offset: 105, length: 20 },
        { offset: 200, length: 1 },
      ]),
    ).toEqual([
      { offset: 0, length: 15 },
      { offset: 100, length: 25 },
      { offset: 200, length: 1 },
    ]);
  });

  it('keeps a range swallowed by a bigger one', () => {
    expect(mergeRanges([{ offset: 0, length: 100 }, { offset: 10, length: 5 }])).toEqual([{ offset: 0, length: 100 }]);
  });

  it('does not modify its input', () => {
    const input = [{ offset: 0, length: 10 }, { offset: 5, length: 10 }];
    mergeRanges(input);
    expect(input[0]).toEqual({ offset: 0, length: 10 });
  });
});

describe('splitRanges', () => {
  it('cuts ranges into pieces no longer than the limit, covering the same bytes', () => {
    const split = splitRanges([{ offset: 10, length: 25 }], 10);
    expect(split).toEqual([
      { offset: 10, length: 10 },
      { offset: 20, length: 10 },
      { offset: 30, length: 5 },
    ]);
    expect(totalBytes(split)).toBe(25);
  });
});
