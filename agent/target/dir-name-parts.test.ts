import { describe, expect, it } from 'vitest';
import { DirNameParts } from './dir-name-parts';

describe('DirNameParts', () => {
  it('joins the held parts of a directory with its final part, once', () => {
    const p = new DirNameParts();
    p.hold('m', '/d', ['a', 'b']);
    p.hold('m', '/d', ['c']);
    p.hold('m', '/e', ['x']);
    expect(p.complete('m', '/d', ['z'])).toEqual(['a', 'b', 'c', 'z']);
    expect(p.complete('m', '/d', ['only'])).toEqual(['only']);
    expect(p.complete('m', '/e', [])).toEqual(['x']);
  });

  it('a new mirror drops what an earlier one left half sent', () => {
    const p = new DirNameParts();
    p.hold('m1', '/d', ['stale']);
    expect(p.complete('m2', '/d', ['fresh'])).toEqual(['fresh']);
  });

  it('refuses to hold more than its limit of names (a source cannot make the target hold without bound)', () => {
    const p = new DirNameParts(3);
    p.hold('m', '/d', ['a', 'b']);
    expect(() => p.hold('m', '/d', ['c', 'd'])).toThrow(expect.objectContaining({ code: 'payload_too_large', status: 413 }));
    expect(p.complete('m', '/d', ['e'])).toEqual(['a', 'b', 'e']);
    p.hold('m', '/f', ['1', '2', '3']); // room again once a directory is complete
  });
});
