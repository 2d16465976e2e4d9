import { describe, expect, it } from 'vitest';
import type { RuleInput } from '../rules/schema';
import { findMappingLoops, findOverlappingTargets, findUnmappedRoots, mappedTargetRoots, pathsOverlap } from './overlap';

const rules: RuleInput[] = [
  { path: '/data', type: 'include', recursive: true },
  { path: '/data/replica', type: 'exclude', recursive: true },
];

describe('pathsOverlap', () => {
  it('is true for equal or nested paths, either way round, and false for siblings', () => {
    expect(pathsOverlap('/a', '/a')).toBe(true);
    expect(pathsOverlap('/a', '/a/b')).toBe(true);
    expect(pathsOverlap('/a/b', '/a')).toBe(true);
    expect(pathsOverlap('/a', '/ab')).toBe(false);
  });
});

describe('findMappingLoops (single-server jobs)', () => {
  it('one_to_one onto the same server always loops', () => {
    expect(findMappingLoops(rules, { mode: 'one_to_one' }, 'alpha')).toEqual([{ sourceRoot: '/data', targetPath: '/data' }]);
  });

  it('a target inside the protected set loops', () => {
    const loops = findMappingLoops([{ path: '/data', type: 'include' }], { mode: 'all_to_one', targetRoot: '/data/copies' }, 'alpha');
    expect(loops).toEqual([{ sourceRoot: '/data', targetPath: '/data/copies/alpha/data' }]);
  });

  it('a target inside an excluded folder of the source is fine', () => {
    expect(findMappingLoops(rules, { mode: 'all_to_one', targetRoot: '/data/replica' }, 'alpha')).toEqual([]);
  });

  it('a target that contains a protected root loops', () => {
    const loops = findMappingLoops([{ path: '/srv/app/data', type: 'include' }], { mode: 'custom', entries: [{ source: '/srv/app/data', target: '/srv' }] }, 'a');
    expect(loops).toHaveLength(1);
  });
});

describe('findOverlappingTargets and helpers', () => {
  it('reports every clashing pair between two jobs on one target', () => {
    expect(findOverlappingTargets(['/r/alpha', '/x'], ['/r', '/y', '/x2'])).toEqual([{ a: '/r/alpha', b: '/r' }]);
    expect(findOverlappingTargets(['/r/alpha'], ['/r/beta'])).toEqual([]);
  });

  it('mappedTargetRoots maps each protected root', () => {
    expect(mappedTargetRoots(rules, { mode: 'all_to_one', targetRoot: '/r' }, 'alpha')).toEqual([
      { sourceRoot: '/data', targetPath: '/r/alpha/data' },
    ]);
  });

  it('findUnmappedRoots lists roots no custom entry covers', () => {
    const more: RuleInput[] = [...rules, { path: '/etc', type: 'include' }];
    expect(findUnmappedRoots(more, { mode: 'custom', entries: [{ source: '/data', target: '/t' }] })).toEqual(['/etc']);
    expect(findUnmappedRoots(more, { mode: 'one_to_one' })).toEqual([]);
  });
});
