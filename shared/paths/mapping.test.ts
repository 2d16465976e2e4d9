import { describe, expect, it } from 'vitest';
import { PathMappingSchema, mapSourcePath, unmapTargetPath, type PathMapping } from './mapping';

describe('mapSourcePath', () => {
  it('one_to_one keeps the path', () => {
    expect(mapSourcePath('/srv/data/x', { mode: 'one_to_one' }, 'alpha')).toBe('/srv/data/x');
  });

  it('all_to_one nests under <targetRoot>/<sourceName>, like D:\\alpha\\C in the manual', () => {
    const m: PathMapping = { mode: 'all_to_one', targetRoot: '/replicas' };
    expect(mapSourcePath('/srv/data/x', m, 'alpha')).toBe('/replicas/alpha/srv/data/x');
    expect(mapSourcePath('/', m, 'alpha')).toBe('/replicas/alpha');
    expect(mapSourcePath('/x', { ...m, sourceName: 'renamed' }, 'alpha')).toBe('/replicas/renamed/x');
  });

  it('all_to_one refuses a source name that is not a single segment', () => {
    expect(() => mapSourcePath('/x', { mode: 'all_to_one', targetRoot: '/r' }, '../etc')).toThrow(
      expect.objectContaining({ code: 'path_mapping_invalid' }),
    );
  });

  it('custom uses the longest matching source prefix on segment boundaries', () => {
    const m: PathMapping = {
      mode: 'custom',
      entries: [
        { source: '/srv', target: '/backup/srv' },
        { source: '/srv/db', target: '/fast/db' },
      ],
    };
    expect(mapSourcePath('/srv/db/table', m, 'a')).toBe('/fast/db/table');
    expect(mapSourcePath('/srv/dbx', m, 'a')).toBe('/backup/srv/dbx');
    expect(mapSourcePath('/srv', m, 'a')).toBe('/backup/srv');
    expect(() => mapSourcePath('/etc/x', m, 'a')).toThrow(expect.objectContaining({ code: 'path_unmapped' }));
  });

  it('unmapTargetPath inverts every mode and returns null outside the mapping', () => {
    const custom: PathMapping = { mode: 'custom', entries: [{ source: '/srv', target: '/backup/srv' }] };
    const all: PathMapping = { mode: 'all_to_one', targetRoot: '/replicas' };
    for (const [m, src] of [[custom, '/srv/a/b'], [all, '/srv/a/b'], [{ mode: 'one_to_one' }, '/a']] as const) {
      expect(unmapTargetPath(mapSourcePath(src, m, 'alpha'), m, 'alpha')).toBe(src);
    }
    expect(unmapTargetPath('/replicas/beta/x', all, 'alpha')).toBeNull();
    expect(unmapTargetPath('/elsewhere', custom, 'alpha')).toBeNull();
  });

  it('PathMappingSchema validates each mode', () => {
    expect(PathMappingSchema.safeParse({ mode: 'one_to_one' }).success).toBe(true);
    expect(PathMappingSchema.safeParse({ mode: 'all_to_one', targetRoot: 'relative' }).success).toBe(false);
    expect(PathMappingSchema.safeParse({ mode: 'custom', entries: [] }).success).toBe(false);
    expect(PathMappingSchema.safeParse({ mode: 'mirror' }).success).toBe(false);
  });
});
