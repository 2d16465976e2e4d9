import { describe, expect, it } from 'vitest';
import { protectedRoots } from './protected-roots';

describe('protectedRoots', () => {
  it('returns the literal prefix of each include, folding nested roots into their ancestor', () => {
    expect(
      protectedRoots([
        { path: '/data', type: 'include', recursive: true },
        { path: '/data/sub', type: 'include', recursive: true },
        { path: '/srv/*/www', type: 'include', recursive: true },
        { path: '/data-b/*.txt', type: 'include', recursive: false },
        { path: '/etc', type: 'exclude', recursive: true },
      ]),
    ).toEqual(['/data', '/data-b', '/srv']);
  });

  it('keeps single-file roots and normalises spelling', () => {
    expect(protectedRoots([{ path: '/etc/hosts/', type: 'include', recursive: false }])).toEqual(['/etc/hosts']);
  });

  it('a pattern starting with a wildcard makes / the root', () => {
    expect(protectedRoots([{ path: '/**/x', type: 'include', recursive: true }, { path: '/a', type: 'include', recursive: true }])).toEqual(['/']);
  });

  it('exclude-only rule sets have no roots', () => {
    expect(protectedRoots([{ path: '/a', type: 'exclude', recursive: true }])).toEqual([]);
  });
});
