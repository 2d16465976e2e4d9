// Byte ranges of a file to send or write, kept sorted and merged so a delta becomes few large
// reads and frames instead of many small ones.

export interface ByteRange {
  offset: number;
  length: number;
}

/** Sorts, drops empty ranges and merges overlapping or touching ones. Does not modify the input. */
export function mergeRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const merged: ByteRange[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else {
      merged.push({ offset: r.offset, length: r.length });
    }
  }
  return merged;
}

/** Cuts ranges into pieces of at most maxLength bytes, so each fits in one data frame. */
export function splitRanges(ranges: readonly ByteRange[], maxLength: number): ByteRange[] {
  if (!(maxLength > 0)) throw new RangeError('maxLength must be positive');
  const out: ByteRange[] = [];
  for (const r of ranges) {
    for (let off = 0; off < r.length; off += maxLength) {
      out.push({ offset: r.offset + off, length: Math.min(maxLength, r.length - off) });
    }
  }
  return out;
}

export function totalBytes(ranges: readonly ByteRange[]): number {
  let sum = 0;
  for (const r of ranges) sum += r.length;
  return sum;
}
