// Pure: which renames, planned while a mirror runs, move something the mirror has not sent yet.
//
// The mirror walks the tree in depth-first order; the capture's model assumes the target will have everything the
// walk reaches. An object renamed from a place the walk has not reached (or a directory it is inside) to a place it
// has already passed would never arrive: the walk finds its old path gone, and the rename on the target moves
// nothing (or a directory the mirror had only begun). Such destinations are sent again whole after the rename.
import type { PlannedOp } from './types';
import { TEMP_INFIX } from './plan-ops';
import { isSameOrInside } from '../../../shared/paths';
import { dfsCompare } from '../walker';

/**
 * Whether the mirror may not have sent all of `path` yet: `cursor` is the last path the target acknowledged (null:
 * nothing yet). Conservative: the cursor itself and its ancestors count as not yet sent.
 */
export function notYetMirrored(path: string, cursor: string | null): boolean {
  return cursor === null || isSameOrInside(path, cursor) || dfsCompare(path, cursor) > 0;
}

/**
 * Destinations of the plan's renames whose origin the running mirror (at `cursor`) may not have sent, and new hard
 * links, in a place the mirror has passed, to a name it may not have sent (the target has nothing to link to yet, and
 * the mirror will not come back for the link).
 */
export function movesAheadOfMirror(plan: readonly PlannedOp[], cursor: string | null): string[] {
  const origin = new Map<string, string>(); // temporary name → where the object was before it was parked
  const out: string[] = [];
  for (const op of plan) {
    if (op.op === 'hardlink') {
      const existing = origin.get(op.existing) ?? op.existing;
      if (notYetMirrored(existing, cursor) && !notYetMirrored(op.path, cursor)) out.push(op.path);
      continue;
    }
    if (op.op !== 'rename') continue;
    const from = origin.get(op.from) ?? op.from;
    if (op.path.includes(TEMP_INFIX)) { origin.set(op.path, from); continue; }
    if (notYetMirrored(from, cursor)) out.push(op.path);
  }
  return out;
}
