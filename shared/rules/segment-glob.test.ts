import { describe, expect, it } from 'vitest';
import { compileSegment, matchPrefixes } from './segment-glob';

const pat = (p: string) => p.split('/').filter(Boolean).map(compileSegment);
const segs = (p: string) => p.split('/').filter(Boolean);

describe('matchPrefixes', () => {
  it('reports the prefix lengths a fixed pattern names', () => {
    expect(matchPrefixes(pat('/a/*/c'), segs('/a/b/c/d'))).toEqual({ namedLengths: [3], canMatchBelow: false });
    expect(matchPrefixes(pat('/a/*/c'), segs('/a/b'))).toEqual({ namedLengths: [], canMatchBelow: true });
    expect(matchPrefixes(pat('/a/*/c'), segs('/x/b'))).toEqual({ namedLengths: [], canMatchBelow: false });
  });

  it('lets ** match zero or more segments and name every matching ancestor', () => {
    expect(matchPrefixes(pat('/a/**/n'), segs('/a/n/x/n/y'))).toEqual({ namedLengths: [2, 4], canMatchBelow: true });
    expect(matchPrefixes(pat('/a/**/n'), segs('/b/n'))).toEqual({ namedLengths: [], canMatchBelow: false });
  });

  it('the empty pattern (rule on /) names the root only', () => {
    expect(matchPrefixes([], segs('/a/b'))).toEqual({ namedLengths: [0], canMatchBelow: false });
  });

  it('supports character classes and braces within a segment', () => {
    expect(matchPrefixes(pat('/log[0-9]'), segs('/log7')).namedLengths).toEqual([1]);
    expect(matchPrefixes(pat('/{a,b}.txt'), segs('/b.txt')).namedLengths).toEqual([1]);
    expect(matchPrefixes(pat('/{a,b}.txt'), segs('/c.txt')).namedLengths).toEqual([]);
  });
});
