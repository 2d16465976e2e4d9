import { describe, expect, it } from 'vitest';
import { AbsolutePathSchema, isCanonicalAbsolutePath, isSameOrInside, normalizeAbsolutePath, outermostPaths, pathSegments, relativeBelow } from './absolute-path';

describe('normalizeAbsolutePath', () => {
  it('collapses slashes, drops . and trailing slashes', () => {
    expect(normalizeAbsolutePath('//a///b/./c/')).toBe('/a/b/c');
    expect(normalizeAbsolutePath('/')).toBe('/');
    expect(normalizeAbsolutePath('///')).toBe('/');
  });

  it('refuses relative paths, .. and NUL with path_invalid', () => {
    for (const bad of ['a/b', '', '/a/../b', '/a/b\0c']) {
      expect(() => normalizeAbsolutePath(bad)).toThrow(expect.objectContaining({ code: 'path_invalid' }));
    }
  });

  it('keeps names that merely contain dots', () => {
    expect(normalizeAbsolutePath('/a/..b/.c/...')).toBe('/a/..b/.c/...');
  });

  it('takes the fast path exactly for paths already in canonical form', () => {
    const spellings = ['/', '/a', '/a/b', '/a b/ü', '/a/..b/.c/...', '/.', '/..', '/./a', '/a/.', '/a/..', '/a/../b',
      '/a/./b', '//a', '/a//b', '/a/', '///', 'a', '', '/a\0b', '/..a', '/a..', '/.a/'];
    for (const p of spellings) {
      let normal: string | null = null;
      try { normal = normalizeAbsolutePath(p); } catch { /* refused: never canonical */ }
      expect([p, isCanonicalAbsolutePath(p)]).toEqual([p, normal === p]);
    }
  });
});

describe('path helpers', () => {
  it('pathSegments of root is empty', () => {
    expect(pathSegments('/')).toEqual([]);
    expect(pathSegments('/a/b')).toEqual(['a', 'b']);
  });

  it('isSameOrInside respects segment boundaries', () => {
    expect(isSameOrInside('/data', '/data/x')).toBe(true);
    expect(isSameOrInside('/data', '/data')).toBe(true);
    expect(isSameOrInside('/data', '/data2/x')).toBe(false);
    expect(isSameOrInside('/', '/anything')).toBe(true);
  });

  it('outermostPaths keeps the paths no other one contains', () => {
    expect(outermostPaths(['/a/b/c', '/a b', '/a', '/a/x', '/b/c', '/b/c/', '/ab'])).toEqual(['/a', '/a b', '/ab', '/b/c']);
    expect(outermostPaths(['/x', '/'])).toEqual(['/']);
    expect(outermostPaths([])).toEqual([]);
  });

  it('relativeBelow gives the remainder or null', () => {
    expect(relativeBelow('/a', '/a/b/c')).toBe('b/c');
    expect(relativeBelow('/a', '/a')).toBe('');
    expect(relativeBelow('/', '/a/b')).toBe('a/b');
    expect(relativeBelow('/a', '/ab')).toBeNull();
  });

  it('AbsolutePathSchema rejects relative, NUL and .. paths', () => {
    expect(AbsolutePathSchema.safeParse('/ok/path').success).toBe(true);
    expect(AbsolutePathSchema.safeParse('rel').success).toBe(false);
    expect(AbsolutePathSchema.safeParse('/a/../b').success).toBe(false);
    expect(AbsolutePathSchema.safeParse('/a\0').success).toBe(false);
  });
});
