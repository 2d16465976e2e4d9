// Pure: the renames the capture planned lately, to find where a path the target asks for has gone since.
//
// The target names a path it lacks as it was when the failing operation was sent; later renames (of the object or
// a directory above it) may have moved it on the source before the source hears of it. Following every logged rename
// in order may also follow one that happened before that operation: the result is only ever sent again, which is
// harmless where nothing was missing, while not following one would leave the target without the object for good.
import type { PlannedOp } from './types';

const isSameOrUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(dir === '/' ? '/' : dir + '/');

export class RenameLog {
  private entries: Array<{ from: string; to: string }> = [];

  constructor(private readonly max = 10_000) {}

  /** Records a plan's renames in their order (temporary names included: followed in order, they come out right). */
  record(plan: readonly PlannedOp[]): void {
    for (const op of plan) if (op.op === 'rename') this.entries.push({ from: op.from, to: op.path });
    if (this.entries.length > this.max) this.entries = this.entries.slice(-this.max);
  }

  /** Where `path` is after every logged rename that moved it or a directory above it, oldest first. */
  follow(path: string): string {
    let p = path;
    for (const { from, to } of this.entries) if (isSameOrUnder(p, from)) p = to + p.slice(from.length);
    return p;
  }
}
