import { describe, expect, it } from 'vitest';
import { assertSafeRelativePath, relativeInsideRoot } from './safe-relative';

describe('relativeInsideRoot', () => {
  it('joins a clean relative path under the root', () => {
    expect(relativeInsideRoot('/replica', 'a/b.txt')).toBe('/replica/a/b.txt');
    expect(relativeInsideRoot('/replica/', 'x')).toBe('/replica/x');
    expect(relativeInsideRoot('/', 'x/y')).toBe('/x/y');
  });

  it.each([
    ['..', 'climbs'],
    ['a/../../etc/passwd', 'climbs in the middle'],
    ['/etc/passwd', 'absolute'],
    ['a//b', 'empty segment'],
    ['a/b/', 'trailing slash'],
    ['./a', 'dot segment'],
    ['a\0b', 'NUL byte'],
    ['', 'empty'],
  ])('rejects %j (%s) with path_escape', (rel) => {
    expect(() => relativeInsideRoot('/replica', rel)).toThrow(expect.objectContaining({ code: 'path_escape' }));
  });

  it('accepts names that only look suspicious', () => {
    expect(assertSafeRelativePath('..hidden/...')).toBe('..hidden/...');
    expect(assertSafeRelativePath('back\\slash')).toBe('back\\slash');
  });
});
