// Unit tests of the mirror/replication race check: renames that move what a running mirror has not sent yet.
import { describe, expect, it } from 'vitest';
import { movesAheadOfMirror, notYetMirrored } from './mirror-race';
import { TEMP_INFIX } from './plan-ops';
import type { PlannedOp } from './types';

const rename = (from: string, path: string): PlannedOp => ({ op: 'rename', from, path });

describe('notYetMirrored', () => {
  it('is true after the cursor in walk order, for the cursor and its ancestors, and before the first batch', () => {
    expect(notYetMirrored('/r/z', '/r/m/x')).toBe(true);
    expect(notYetMirrored('/r/m', '/r/m/x')).toBe(true); // a directory the walk is inside
    expect(notYetMirrored('/r/m/x', '/r/m/x')).toBe(true);
    expect(notYetMirrored('/r/any', null)).toBe(true);
  });
  it('is false for what the walk has passed', () => {
    expect(notYetMirrored('/r/a', '/r/m/x')).toBe(false);
    expect(notYetMirrored('/r/a/deep/file', '/r/m')).toBe(false);
    expect(notYetMirrored('/r/m/a', '/r/m/x')).toBe(false);
  });
});

describe('movesAheadOfMirror', () => {
  it('names the destination of a move from a place the mirror has not reached', () => {
    const plan: PlannedOp[] = [rename('/r/z/dir', '/r/a/dir'), rename('/r/b/f', '/r/c/f')];
    expect(movesAheadOfMirror(plan, '/r/m')).toEqual(['/r/a/dir']);
  });
  it('follows an object parked at a temporary name to where it finally goes', () => {
    const temp = `/r/z${TEMP_INFIX}1`;
    const plan: PlannedOp[] = [rename('/r/z', temp), rename('/r/y', '/r/z'), rename(temp, '/r/a')];
    expect(movesAheadOfMirror(plan, '/r/m')).toEqual(['/r/z', '/r/a']);
  });
  it('ignores everything but renames and hard links', () => {
    expect(movesAheadOfMirror([{ op: 'delete', path: '/r/z' }, { op: 'mkdir', path: '/r/a', meta: { mode: 0o755, uid: 0, gid: 0, mtimeMs: 0 } }], '/r/m')).toEqual([]);
  });
  it('names a new link, where the mirror has passed, to a name it has not reached', () => {
    const plan: PlannedOp[] = [
      { op: 'hardlink', path: '/r/a/link', existing: '/r/z/file' }, // the target has no /r/z/file yet
      { op: 'hardlink', path: '/r/b/link', existing: '/r/c/file' }, // both passed: the target can link
      { op: 'hardlink', path: '/r/y/link', existing: '/r/z/file' }, // both ahead: the mirror brings both
    ];
    expect(movesAheadOfMirror(plan, '/r/m')).toEqual(['/r/a/link']);
  });
});
