import { describe, expect, it } from 'vitest';
import { RenameLog } from './rename-log';
import { TEMP_INFIX } from './plan-ops';

describe('RenameLog', () => {
  it('follows renames of the path and of directories above it, in order', () => {
    const log = new RenameLog();
    log.record([{ op: 'rename', from: '/r/a/f', path: '/r/a/g' }]);
    log.record([{ op: 'rename', from: '/r/a', path: '/r/x/b' }, { op: 'delete', path: '/r/z' }]);
    expect(log.follow('/r/a/f')).toBe('/r/x/b/g');
    expect(log.follow('/r/a/other')).toBe('/r/x/b/other');
    expect(log.follow('/r/ab')).toBe('/r/ab'); // a sibling with a longer name is not under /r/a
    expect(log.follow('/r/none')).toBe('/r/none');
  });

  it('an object parked at a temporary name is followed to where it finally goes', () => {
    const log = new RenameLog();
    const temp = `/r/a${TEMP_INFIX}1`;
    log.record([{ op: 'rename', from: '/r/a', path: temp }, { op: 'rename', from: '/r/b', path: '/r/a' }, { op: 'rename', from: temp, path: '/r/c' }]);
    expect(log.follow('/r/b/f')).toBe('/r/a/f');
    expect(log.follow('/r/a/f')).toBe('/r/c/f');
  });

  it('keeps only the latest renames', () => {
    const log = new RenameLog(2);
    log.record([{ op: 'rename', from: '/r/1', path: '/r/2' }, { op: 'rename', from: '/r/2', path: '/r/3' }, { op: 'rename', from: '/r/3', path: '/r/4' }]);
    expect(log.follow('/r/1')).toBe('/r/1');
    expect(log.follow('/r/2')).toBe('/r/4');
  });
});
